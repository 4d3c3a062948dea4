//! Masking secret values in text: the one mechanism every output passes through
//! (`report::Redacting` wraps the reporter with it; `app` renders problems through
//! it). It knows every plaintext decrypted during the run, in the forms a command is
//! likely to echo it (as is, base64, URL-encoded), and the tokens that stand for
//! secrets inside script values.

use std::sync::{Arc, RwLock};

use base64::Engine;

use super::vault::{TOKEN_CLOSE, TOKEN_OPEN};

/// What a masked value is replaced with.
pub const MASK: &str = "[redacted]";

/// Known secret values. Clones share them: values added after a reporter was built
/// are masked by it too.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    needles: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    /// A redactor for these values.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(values: I) -> Self {
        let r = Redactor::default();
        r.add(values);
        r
    }

    /// Masks these values too, from now on. Values shorter than 3 bytes are not
    /// masked inside text (they would mask everything); keep secrets longer.
    pub fn add<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(&self, values: I) {
        let mut needles = self.needles.write().expect("redactor poisoned");
        for v in values {
            let v = v.as_ref();
            if v.is_empty() {
                continue;
            }
            let b64 = base64::engine::general_purpose::STANDARD.encode(v);
            let forms = [
                String::from_utf8_lossy(v).into_owned(),
                b64.trim_end_matches('=').to_string(),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v),
                url_encode(v),
            ];
            for f in forms {
                if f.len() >= 3 && !needles.contains(&f) {
                    needles.push(f);
                }
            }
        }
        // Longest first, so a value inside a longer form is not masked half-way.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.needles.read().expect("redactor poisoned").is_empty()
    }

    /// `text` with every known value masked and every secret token shown as
    /// `[secret:name]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = if text.contains(TOKEN_OPEN) {
            show_tokens(text)
        } else {
            text.to_string()
        };
        for n in self.needles.read().expect("redactor poisoned").iter() {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), MASK);
            }
        }
        out
    }
}

/// Tokens (`<U+E000>secret:name<U+E001>`) as `[secret:name]`.
pub fn show_tokens(text: &str) -> String {
    text.replace(TOKEN_OPEN, "[").replace(TOKEN_CLOSE, "]")
}

fn url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_values_in_every_form_and_shows_tokens() {
        let r = Redactor::new(["s3cr3t/pw"]);
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t/pw");
        let text = format!("a s3cr3t/pw b {b64} c s3cr3t%2Fpw d \u{e000}secret:db\u{e001}");
        let out = r.redact(&text);
        assert!(
            !out.contains("s3cr3t") && !out.contains(b64.trim_end_matches('=')),
            "{out}"
        );
        assert_eq!(out.matches(MASK).count(), 3, "{out}");
        assert!(out.ends_with("d [secret:db]"), "{out}");
        let later = r.clone();
        r.add(["hunter2"]);
        assert_eq!(later.redact("hunter2"), MASK, "clones share what is added later");
    }
}
