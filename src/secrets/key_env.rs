//! The two variables that hold or point at a private key — `ORDO_AGE_KEY` (the key
//! itself: the documented CI setup) and `ORDO_AGE_IDENTITY` (the path of a key
//! file) — are read once, when ordo starts, and then taken out of ordo's own
//! environment by `main.rs`, before any thread or child process exists. So nothing
//! ordo starts inherits the key: commands, guards and custom steps on `local`
//! hosts and the daemons they start, the editor, git, and the ssh masters (whose
//! environment the openssh crate cannot clear). Identity discovery reads the
//! values kept here instead of the environment.
//!
//! The private key is a secret like any other: [`key_material`] is what the
//! redactor masks from the start of the run.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::sync::OnceLock;

use zeroize::Zeroizing;

pub use crate::sys::KEY_VARIABLES;

/// The variables' values when ordo started (`None`: not set).
struct Kept {
    identity: Option<OsString>,
    key: Option<Zeroizing<Vec<u8>>>,
}

static KEPT: OnceLock<Kept> = OnceLock::new();

/// Reads `ORDO_AGE_IDENTITY` and `ORDO_AGE_KEY` and keeps their values for the
/// run. The first thing `main` does, before it removes both from the environment;
/// later calls change nothing.
pub fn keep_key_variables() {
    KEPT.get_or_init(|| Kept {
        identity: std::env::var_os(KEY_VARIABLES[0]),
        key: std::env::var_os(KEY_VARIABLES[1]).map(|v| Zeroizing::new(v.into_vec())),
    });
}

/// The value `name` had when ordo started, for identity discovery. Where the
/// variables were never kept (the library used without `main`), the environment's.
pub(crate) fn key_variable(name: &str) -> Option<OsString> {
    let Some(kept) = KEPT.get() else {
        return std::env::var_os(name);
    };
    if name == KEY_VARIABLES[0] {
        kept.identity.clone()
    } else if name == KEY_VARIABLES[1] {
        kept.key.as_ref().map(|k| OsString::from_vec(k.to_vec()))
    } else {
        std::env::var_os(name)
    }
}

/// The private keys the two variables give, as the redactor must know them: the
/// key lines of `ORDO_AGE_KEY` and of the file `ORDO_AGE_IDENTITY` names (an SSH
/// key file whole). An unreadable file gives nothing here; using it is an error
/// that identity discovery reports.
pub fn key_material() -> Vec<Zeroizing<String>> {
    let mut out = Vec::new();
    if let Some(key) = key_variable(KEY_VARIABLES[1]) {
        out.extend(secret_lines(&String::from_utf8_lossy(&key.into_vec())));
    }
    if let Some(path) = key_variable(KEY_VARIABLES[0]).filter(|p| !p.is_empty())
        && let Ok(bytes) = std::fs::read(&path).map(Zeroizing::new)
    {
        out.extend(secret_lines(&String::from_utf8_lossy(&bytes)));
    }
    out
}

/// What of a key text is secret: an SSH private key as a whole, and every line
/// that is not a comment (age key files hold `# public key: …` comments).
pub(crate) fn secret_lines(text: &str) -> Vec<Zeroizing<String>> {
    let mut out = Vec::new();
    if text.contains("-----BEGIN") {
        out.push(Zeroizing::new(text.trim().to_string()));
        // Its base64 body, line by line: the part that is the key.
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
                .map(|l| Zeroizing::new(l.to_string())),
        );
        return out;
    }
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(Zeroizing::new(line.to_string()));
        // Bech32 is case-insensitive: `age-secret-key-1…` is the same key.
        out.push(Zeroizing::new(line.to_lowercase()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_not_secret_key_lines_are() {
        let lines = secret_lines("# created: now\n# public key: age1abc\nAGE-SECRET-KEY-1XYZ\n");
        let lines: Vec<&str> = lines.iter().map(|l| l.as_str()).collect();
        assert_eq!(lines, ["AGE-SECRET-KEY-1XYZ", "age-secret-key-1xyz"]);
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
        let lines = secret_lines(pem);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].as_str(), pem.trim());
        assert_eq!(lines[1].as_str(), "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ");
    }
}
