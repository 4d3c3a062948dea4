//! The two text formats of secret values: the stored one (`secrets/<env>.secrets`,
//! names in clear, one encrypted value per line, so `git diff` shows which value
//! changed and nothing else) and the plaintext one the editor sees (`name = value`).

use zeroize::Zeroizing;

use super::{SecretBytes, is_valid_name};
use crate::problem::{Kind, Problem};

/// `secrets/<env>.secrets`, parsed: the recipients stamp and `name = <base64 of an
/// age file>` entries in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ValuesFile {
    /// Short hash of the recipients every entry (and every secret file) is encrypted
    /// to; another hash means the recipients changed since and a rekey is due.
    pub stamp: Option<String>,
    pub entries: Vec<(String, String)>,
}

const STAMP: &str = "@recipients ";

impl ValuesFile {
    /// Parses the stored file; `origin` (`secrets/prod.secrets`) names it in errors.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<ValuesFile, Problem> {
        let mut out = ValuesFile::default();
        for (i, line) in text.lines().enumerate() {
            let at = format!("{origin}:{}", i + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(stamp) = line.strip_prefix(STAMP) {
                out.stamp = Some(stamp.trim().to_string());
                continue;
            }
            let broken = |what: &str| {
                Problem::new(Kind::Secrets, format!("{at}: {what}")).help(format!(
                    "ordo writes this file; restore it (`git checkout -- {origin}`) or fix the line by hand: `name = <base64 of an age file>`"
                ))
            };
            let Some((name, value)) = line.split_once('=') else {
                return Err(broken("not a `name = <encrypted value>` line"));
            };
            let (name, value) = (name.trim(), value.trim());
            if !is_valid_name(name) {
                return Err(broken(&format!("`{name}` is not a valid secret name")));
            }
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)) {
                return Err(broken(&format!("the value of `{name}` is not base64")));
            }
            if out.entries.iter().any(|(n, _)| n == name) {
                return Err(broken(&format!("`{name}` appears twice")));
            }
            out.entries.push((name.to_string(), value.to_string()));
        }
        Ok(out)
    }

    pub(crate) fn render(&self, env: &str) -> String {
        let mut out = format!(
            "# Secrets of the environment `{env}`, written by `ordo secrets` (docs/secrets.md).\n\
             # Names are in clear; each value is encrypted with age to the keys in {env}.recipients.\n\
             # Change them with `ordo secrets edit {env}` or `ordo secrets set {env} NAME`.\n"
        );
        if let Some(stamp) = &self.stamp {
            out.push_str(STAMP);
            out.push_str(stamp);
            out.push('\n');
        }
        for (name, value) in &self.entries {
            out.push_str(name);
            out.push_str(" = ");
            out.push_str(value);
            out.push('\n');
        }
        out
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }
}

/// The plaintext the editor sees (and `ordo secrets show` prints): a short header of
/// comments, then `name = value` lines. A value that would not survive that form
/// (spaces at either end, a leading `"`, control characters, empty) is written as a
/// JSON string. Values are UTF-8 text; binary content belongs in a secret file.
pub(crate) fn render_plain(env: &str, values: &[(String, SecretBytes)], header: bool) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    if header {
        out.push_str(&format!(
            "# Secrets of `{env}`: one `name = value` per line; names use letters, digits, `_`, `.`, `-`.\n\
             # A value with spaces at either end, a line break or a leading `\"` is a JSON string:\n\
             #   key = \"line one\\nline two\"\n\
             # Delete a line to delete the secret. Comments are not kept.\n\
             # Secret files: `ordo secrets edit {env} FILE`.\n"
        ));
    }
    for (name, value) in values {
        out.push_str(name);
        out.push_str(" = ");
        let text = String::from_utf8_lossy(value.expose());
        if needs_quotes(&text) {
            let quoted = Zeroizing::new(serde_json::to_string(text.as_ref()).unwrap_or_default());
            out.push_str(&quoted);
        } else {
            out.push_str(&text);
        }
        if let std::borrow::Cow::Owned(s) = text {
            drop(Zeroizing::new(s));
        }
        out.push('\n');
    }
    out
}

fn needs_quotes(text: &str) -> bool {
    text.is_empty() || text.starts_with('"') || text.trim() != text || text.chars().any(char::is_control)
}

/// Parses the edited plaintext. Errors name the line and the secret but never quote
/// the value.
pub(crate) fn parse_plain(text: &str, origin: &str) -> Result<Vec<(String, SecretBytes)>, Problem> {
    let mut out: Vec<(String, SecretBytes)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = format!("{origin}:{}", i + 1);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let broken = |what: String| {
            Problem::new(Kind::Secrets, format!("{at}: {what}"))
                .help("write `name = value`, or `name = \"value\"` with JSON escapes for spaces at either end and line breaks")
        };
        let Some((name, value)) = trimmed.split_once('=') else {
            return Err(broken("not a `name = value` line".into()));
        };
        let name = name.trim();
        if !is_valid_name(name) {
            return Err(broken(format!(
                "`{name}` is not a valid secret name (letters, digits, `_`, `.`, `-`; not starting with `.` or `-`)"
            )));
        }
        let value = value.trim();
        let bytes = if value.starts_with('"') {
            match serde_json::from_str::<String>(value) {
                Ok(s) => s.into_bytes(),
                Err(e) => {
                    return Err(broken(format!(
                        "the quoted value of `{name}` is not a valid JSON string (column {})",
                        e.column()
                    )));
                }
            }
        } else {
            value.as_bytes().to_vec()
        };
        if out.iter().any(|(n, _)| n == name) {
            return Err(broken(format!("`{name}` appears twice")));
        }
        out.push((name.to_string(), SecretBytes::new(bytes)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(s: &str) -> SecretBytes {
        SecretBytes::new(s.as_bytes().to_vec())
    }

    #[test]
    fn stored_file_round_trips() {
        let f = ValuesFile {
            stamp: Some("0123456789abcdef".into()),
            entries: vec![
                ("db_password".into(), "YWdl+/==".into()),
                ("tls.key".into(), "QUJD".into()),
            ],
        };
        let text = f.render("prod");
        assert!(
            text.contains("\n@recipients 0123456789abcdef\ndb_password = YWdl+/==\ntls.key = QUJD\n"),
            "{text}"
        );
        assert_eq!(ValuesFile::parse(&text, "secrets/prod.secrets").unwrap(), f);
    }

    #[test]
    fn one_value_is_one_line() {
        // The property that keeps `git diff` quiet: changing one entry changes one line.
        let mut f = ValuesFile {
            stamp: Some("s".into()),
            entries: vec![("a".into(), "QQ==".into()), ("b".into(), "Qg==".into())],
        };
        let before = f.render("e");
        f.entries[1].1 = "Qw==".into();
        let after = f.render("e");
        let changed: Vec<_> = before.lines().zip(after.lines()).filter(|(x, y)| x != y).collect();
        assert_eq!(changed, vec![("b = Qg==", "b = Qw==")]);
    }

    #[test]
    fn stored_file_errors_name_the_line() {
        for (text, what) in [
            ("a = QQ==\nnonsense\n", ":2: not a `name = <encrypted value>` line"),
            ("bad name = QQ==\n", ":1: `bad name` is not a valid secret name"),
            ("a = not base64!\n", ":1: the value of `a` is not base64"),
            ("a = QQ==\na = Qg==\n", ":2: `a` appears twice"),
        ] {
            let e = ValuesFile::parse(text, "secrets/p.secrets").unwrap_err();
            assert_eq!(e.message, format!("secrets/p.secrets{what}"));
        }
    }

    #[test]
    fn plain_round_trips_awkward_values() {
        let values = vec![
            ("plain".to_string(), sb("hunter2 with = and # inside")),
            ("spaces".to_string(), sb("  padded  ")),
            ("lines".to_string(), sb("one\ntwo\n")),
            ("quote".to_string(), sb("\"starts with a quote")),
            ("empty".to_string(), sb("")),
            ("unicode".to_string(), sb("pässwörd")),
        ];
        let text = render_plain("prod", &values, true);
        assert!(text.contains("\nplain = hunter2 with = and # inside\n"), "{}", *text);
        assert!(text.contains("\nlines = \"one\\ntwo\\n\"\n"), "{}", *text);
        assert!(text.contains("\nempty = \"\"\n"), "{}", *text);
        let parsed = parse_plain(&text, "edit").unwrap();
        assert_eq!(parsed, values);
    }

    #[test]
    fn plain_errors_never_quote_the_value() {
        let e = parse_plain("# c\nok = 1\ntoken = \"s3cr3t\\q\"\n", "edit").unwrap_err();
        assert!(
            e.message.starts_with("edit:3: the quoted value of `token`"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("s3cr3t"));
        let e = parse_plain("token s3cr3t\n", "edit").unwrap_err();
        assert_eq!(e.message, "edit:1: not a `name = value` line");
        let e = parse_plain("a = 1\na = 2\n", "edit").unwrap_err();
        assert_eq!(e.message, "edit:2: `a` appears twice");
        let e = parse_plain("my key = 1\n", "edit").unwrap_err();
        assert!(e.message.starts_with("edit:1: `my key` is not a valid secret name"));
    }
}
