//! `--set component.attribute=value` and `--set-file vars.toml`: attribute values
//! from the command line. A value is read as a TOML value (`8081`, `true`, `1.5`,
//! `"1.10"`, `["a", "b"]`), and as a plain string when it is not one (`--set
//! web.title=Hello`); the attribute's default then decides whether it is accepted,
//! exactly as for an override in an environment script — and an attribute whose
//! default is a string takes a `--set` value as written. Both win over every value
//! the scripts give, and `--set` over `--set-file` (decision 39).

use std::collections::HashMap;
use std::path::Path;

use crate::problem::{Kind, Problem};
use crate::script::{SetOrigin, SetValue};
use crate::text::visible;

/// Reads every `--set` and `--set-file`, in that order. The same attribute set
/// twice by `--set` is an error: one of the two values would be dropped.
pub fn parse(sets: &[String], files: &[std::path::PathBuf]) -> Result<Vec<SetValue>, Problem> {
    let mut out: Vec<SetValue> = Vec::new();
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for s in sets {
        let value = one(s)?;
        let key = (value.component.clone(), value.attribute.clone());
        if let Some(first) = seen.insert(key, s.clone()) {
            return Err(Problem::new(
                Kind::Usage,
                format!(
                    "`{}.{}` is set twice: --set {first} and --set {s}",
                    value.component, value.attribute
                ),
            )
            .help("give each attribute one --set"));
        }
        out.push(value);
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
        origin: SetOrigin::Flag { raw: raw.into() },
    })
}

fn file(path: &Path) -> Result<Vec<SetValue>, Problem> {
    let fail = |why: String| {
        Problem::new(Kind::Usage, format!("--set-file {}: {why}", path.display()))
            .help("a TOML file with one table per component: [app]\\nport = 8081")
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    // Where, never what: a file that is not TOML may be anything (`--set-file
    // /etc/shadow`), and its lines have no business in a terminal or a CI log.
    let table: toml::Table = toml::from_str(&text).map_err(|e| fail(position(&text, &e)))?;
    let mut out = Vec::new();
    for (component, values) in table {
        let toml::Value::Table(values) = values else {
            return Err(fail(format!(
                "`{}` is not a table of attributes",
                visible(&component, false)
            )));
        };
        for (attribute, value) in values {
            out.push(SetValue {
                text: visible(&format!("{component}.{attribute}={value}"), false),
                component: component.clone(),
                attribute,
                value: json(value),
                origin: SetOrigin::File(path.to_path_buf()),
            });
        }
    }
    Ok(out)
}

/// "not TOML (line 3, column 7)": the position of a parse error, none of the text.
fn position(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("not TOML (line {line}, column {column})")
        }
        None => "not TOML".to_string(),
    }
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
                "web.release=1.10".into(),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(v[0].value, serde_json::json!(8081));
        assert_eq!(v[1].value, serde_json::json!("Hello there"));
        assert_eq!(v[2].value, serde_json::json!("1.10"));
        assert_eq!(v[3].value, serde_json::json!(1.1));
        assert_eq!(v[3].raw(), Some("1.10"));
        assert!(parse(&["port=1".into()], &[]).is_err());
    }

    #[test]
    fn one_attribute_set_twice_on_the_command_line_is_an_error() {
        let e = parse(&["app.port=1".into(), "app.port=2".into()], &[]).unwrap_err();
        assert_eq!(
            e.message,
            "`app.port` is set twice: --set app.port=1 and --set app.port=2"
        );
    }

    #[test]
    fn a_set_file_that_is_not_toml_is_reported_by_position_without_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shadow");
        std::fs::write(&path, "root:$6$salt$secrethash:19000:0:99999:7:::\n").unwrap();
        let e = parse(&[], &[path]).unwrap_err();
        assert!(e.message.ends_with(": not TOML (line 1, column 43)"), "{}", e.message);
        let shown = format!("{} {}", e.message, e.help.unwrap_or_default());
        assert!(!shown.contains("secrethash") && !shown.contains("root:"), "{shown}");
    }
}
