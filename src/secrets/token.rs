//! The token a script holds instead of a secret (`secret("db_password")`):
//! `<U+E000>secret:db_password<U+E001>`, two characters of Unicode's private use
//! area around the name, so it survives everything a script does with text. This
//! is the token's format — writing, finding and showing one — which both the
//! [`Vault`](super::Vault) (that reveals tokens) and the
//! [`Redactor`](super::Redactor) (that shows them as `[secret:name]`) read.

pub const TOKEN_OPEN: char = '\u{E000}';
pub const TOKEN_CLOSE: char = '\u{E001}';

/// The token a script holds for a secret value (or, with `file`, a secret file).
pub fn token(name: &str, file: bool) -> String {
    let kind = if file { "secret-file" } else { "secret" };
    format!("{TOKEN_OPEN}{kind}:{name}{TOKEN_CLOSE}")
}

/// `text` as one POSIX shell word, its secrets included: the literal parts quoted
/// as usual, each token turned into one that reveals as the *quoted* plaintext (a
/// secret with a `'` in it stays one word). What `shell_quote(..)` does.
pub fn shell_quote(text: &str) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    if !has_token(text) {
        return quote(text);
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find(TOKEN_OPEN) {
        let (before, after) = rest.split_at(open);
        if !before.is_empty() {
            out.push_str(&quote(before));
        }
        let Some(close) = after.find(TOKEN_CLOSE) else {
            out.push_str(&quote(after));
            return out;
        };
        let inner = &after[TOKEN_OPEN.len_utf8()..close];
        out.push(TOKEN_OPEN);
        out.push_str(&inner.replacen(':', "-sh:", 1));
        out.push(TOKEN_CLOSE);
        rest = &after[close + TOKEN_CLOSE.len_utf8()..];
    }
    if !rest.is_empty() {
        out.push_str(&quote(rest));
    }
    out
}

/// Whether `text` holds a token (or what is left of one).
pub fn has_token(text: &str) -> bool {
    text.contains([TOKEN_OPEN, TOKEN_CLOSE])
}

/// Tokens (`<U+E000>secret:name<U+E001>`) as `[secret:name]`.
pub fn show_tokens(text: &str) -> String {
    text.replace(TOKEN_OPEN, "[").replace(TOKEN_CLOSE, "]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_secrets_one_word() {
        let t = token("pw", false);
        let q = shell_quote(&format!("a b{t}c"));
        assert_eq!(q, format!("'a b'{TOKEN_OPEN}secret-sh:pw{TOKEN_CLOSE}'c'"));
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
