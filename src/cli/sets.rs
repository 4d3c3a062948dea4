//! `--set component.attribute=value` and `--set-file vars.toml`: attribute values
//! from the command line. A value is read as a TOML value (`8081`, `true`, `1.5`,
//! `"1.10"`, `["a", "b"]`), and as a plain string when it is not one (`--set
//! web.title=Hello`); the attribute's default then decides whether it is accepted,
//! exactly as for an override in an environment script.

use std::path::Path;

use crate::problem::{Kind, Problem};
use crate::script::SetValue;

/// Reads every `--set` and `--set-file`, in that order.
pub fn parse(sets: &[String], files: &[std::path::PathBuf]) -> Result<Vec<SetValue>, Problem> {
    let mut out = Vec::new();
    for s in sets {
        out.push(one(s)?);
    }
    for f in files {
        out.extend(file(f)?);
    }
    Ok(out)
}

fn one(text: &str) -> Result<SetValue, Problem> {
    let usage = || {
        Problem::new(Kind::Usage, format!("--set {text}: expected component.attribute=value"))
            .help("for example --set app.port=8081 or --set 'web.title=\"Hello\"'")
    };
    let (key, raw) = text.split_once('=').ok_or_else(usage)?;
    let (component, attribute) = key.split_once('.').ok_or_else(usage)?;
    if component.is_empty() || attribute.is_empty() {
        return Err(usage());
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => json(t.remove("v").unwrap_or(toml::Value::String(raw.into()))),
        Err(_) => serde_json::Value::String(raw.to_string()),
    };
    Ok(SetValue {
        component: component.into(),
        attribute: attribute.into(),
        value,
        text: text.into(),
    })
}

fn file(path: &Path) -> Result<Vec<SetValue>, Problem> {
    let fail = |why: String| {
        Problem::new(Kind::Usage, format!("--set-file {}: {why}", path.display()))
            .help("a TOML file with one table per component: [app]\\nport = 8081")
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::new();
    for (component, values) in table {
        let toml::Value::Table(values) = values else {
            return Err(fail(format!("`{component}` is not a table of attributes")));
        };
        for (attribute, value) in values {
            out.push(SetValue {
                text: format!("{component}.{attribute}={value}"),
                component: component.clone(),
                attribute,
                value: json(value),
            });
        }
    }
    Ok(out)
}

fn json(v: toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s),
        toml::Value::Integer(i) => serde_json::Value::from(i),
        toml::Value::Float(f) => serde_json::Value::from(f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(json).collect()),
        toml::Value::Table(t) => serde_json::Value::Object(t.into_iter().map(|(k, v)| (k, json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_toml_or_strings() {
        let v = parse(
            &[
                "app.port=8081".into(),
                "web.title=Hello there".into(),
                "web.version=\"1.10\"".into(),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(v[0].value, serde_json::json!(8081));
        assert_eq!(v[1].value, serde_json::json!("Hello there"));
        assert_eq!(v[2].value, serde_json::json!("1.10"));
        assert!(parse(&["port=1".into()], &[]).is_err());
    }
}
