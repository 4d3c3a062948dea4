//! How the REPL shows a line's value to people: scalars as they are, maps as
//! `key: value` lines, lists as `- item` lines, nested values indented — short
//! lists of scalars on one line. Machines get the value as JSON instead.

use serde_json::Value;

pub(crate) fn human(value: &Value) -> String {
    let mut out = String::new();
    block(value, 0, &mut out);
    if out.is_empty() {
        out.push_str(&inline(value));
    }
    out
}

/// A value on one line: strings as they are at the top, quoted inside lists.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "()".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|v| match v {
                    Value::String(s) => format!("{s:?}"),
                    other => inline(other),
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) if map.is_empty() => "#{}".into(),
        other => other.to_string(),
    }
}

/// Whether a value fits on the line of its key.
fn is_short(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.len() <= 8 && items.iter().all(|v| !v.is_array() && !v.is_object()),
        Value::Object(map) => map.is_empty(),
        Value::String(s) => !s.contains('\n'),
        _ => true,
    }
}

fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            // What names an entry comes first (JSON maps are sorted by key).
            let first = ["name", "host"];
            let ordered = first
                .iter()
                .filter_map(|k| map.get_key_value(*k))
                .chain(map.iter().filter(|(k, _)| !first.contains(&k.as_str())));
            for (k, v) in ordered {
                if is_short(v) {
                    out.push_str(&format!("{pad}{k}: {}\n", inline(v)));
                } else if let Value::String(s) = v {
                    out.push_str(&format!("{pad}{k}: |\n"));
                    for line in s.lines() {
                        out.push_str(&format!("{pad}  {line}\n"));
                    }
                } else {
                    out.push_str(&format!("{pad}{k}:\n"));
                    block(v, indent + 2, out);
                }
            }
        }
        Value::Array(items) if !(items.is_empty() || indent == 0 && is_short(value)) => {
            for v in items {
                let mut inner = String::new();
                block(v, indent + 2, &mut inner);
                if inner.is_empty() {
                    out.push_str(&format!("{pad}- {}\n", inline(v)));
                } else {
                    // The first line of the item goes after the dash.
                    let trimmed = inner.trim_start_matches(' ');
                    out.push_str(&format!("{pad}- {trimmed}"));
                }
            }
        }
        _ if indent > 0 => out.push_str(&format!("{pad}{}\n", inline(value))),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_maps_lists_and_scalars() {
        assert_eq!(human(&serde_json::json!(42)), "42");
        assert_eq!(human(&serde_json::json!("a b")), "a b");
        assert_eq!(human(&serde_json::json!(["a", "b"])), "[\"a\", \"b\"]");
        let v = serde_json::json!([
            { "name": "web1", "roles": ["web"], "data": { "zone": "a" } },
            { "name": "db1", "roles": [] }
        ]);
        assert_eq!(
            human(&v),
            "- name: web1\n  data:\n    zone: \"a\"\n  roles: [\"web\"]\n- name: db1\n  roles: []\n"
                .replace("\"a\"", "a")
        );
        assert_eq!(human(&serde_json::json!({ "out": "x\ny" })), "out: |\n  x\n  y\n");
    }
}
