//! `shell_quote(value)`: the one safe way to put a value into a command line.
//! Commands are shell text; a provided address or an attribute with a `'` in it,
//! pasted into `run: ...`, would otherwise run code on the host.

use rhai::{Dynamic, Engine};

use super::document;

/// POSIX single quotes around any text; a `'` inside becomes `'\''`. Always quotes,
/// so the result is one word even when empty.
/// A secret in `text` stays a secret, revealed as its own quoted word on the host.
pub(crate) fn quote(text: &str) -> String {
    crate::secrets::shell_quote(text)
}

pub(super) fn register(engine: &mut Engine) {
    document(
        engine,
        "shell_quote",
        &["value: string", "string"],
        "`value` as one word of a POSIX shell command line, in single quotes: safe for any text, the empty string included.\n\
         Use it wherever a command is built from a value: run: `printf '%s\\n' ${shell_quote(url)} > url.txt`",
        |s: &str| quote(s),
    );
    document(
        engine,
        "shell_quote",
        &["value: any", "string"],
        "A number, boolean or other value as one quoted shell word (its text form).",
        |v: Dynamic| quote(&v.to_string()),
    );
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_everything_as_one_word() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", quote("x'; echo pwned; '")))
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "x'; echo pwned; '");
    }
}
