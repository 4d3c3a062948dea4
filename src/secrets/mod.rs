//! Secrets of an environment — passwords, API tokens, TLS and SSH keys — kept in the
//! deployment repository, encrypted with age to the team's public keys, and decrypted
//! only on the machine that runs ordo.
//!
//! Layout in a project (see docs/secrets.md):
//!
//! | path | what |
//! |---|---|
//! | `secrets/<env>.recipients` | who can decrypt: one public key per line (`age1…`, `ssh-ed25519`, `ssh-rsa`), `#` comments name the owner |
//! | `secrets/<env>.secrets` | `name = <base64 of an age file>` lines: names in clear, each value encrypted on its own, so a changed value changes one line |
//! | `secrets/<env>/<name>.age` | secret files (certificates, keys), one ASCII-armoured age file each |
//! | `secrets/.<env>.lock` | present while someone edits (or deploys) the secrets of `<env>` |
//!
//! The API other layers use: [`SecretStore`] (names without any key, decryption with
//! [`Identities`]), [`Secrets`] (the decrypted values, zeroised on drop, never printed
//! by `Debug`), and [`SecretsLock`] (one writer or deploy at a time).

mod draft;
mod format;
mod history;
mod identity;
mod key_env;
mod lock;
mod recipients;
mod redact;
mod store;
mod token;
mod vault;
mod write;

pub use draft::Draft;
pub use history::MAX_COMMITS;
pub use identity::{Identities, generate_identity};
pub use key_env::{KEY_VARIABLES, keep_key_variables, key_material};
pub use lock::SecretsLock;
pub use recipients::{RecipientsFile, Removed};
pub use redact::{MASK, Redactor};
pub use store::{Names, SecretStore, Written};
pub use token::{TOKEN_CLOSE, TOKEN_OPEN, has_token, shell_quote, show_tokens, token};
pub use vault::{Revealed, Vault, decrypt_masked};

pub(crate) use format::{parse_plain, render_plain};

use std::fmt;

use zeroize::Zeroizing;

use crate::problem::{Kind, Problem};

/// Bytes of one decrypted secret. Zeroised when dropped; `Debug` shows only the
/// length, and there is no `Display`: printing a secret takes an explicit
/// [`SecretBytes::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(bytes))
    }

    /// The plaintext. Every call site is a place where a secret leaves ordo's care.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes>)", self.0.len())
    }
}

/// The decrypted secrets of one environment: named values (`secrets/<env>.secrets`)
/// and named files (`secrets/<env>/<name>.age`), each in the order of the store.
#[derive(Clone, Default)]
pub struct Secrets {
    pub(crate) values: Vec<(String, SecretBytes)>,
    pub(crate) files: Vec<(String, SecretBytes)>,
}

impl Secrets {
    /// A value by name.
    pub fn value(&self, name: &str) -> Option<&SecretBytes> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// A secret file's content by name.
    pub fn file(&self, name: &str) -> Option<&SecretBytes> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// A value, or else a file, by name (the two share one namespace).
    pub fn get(&self, name: &str) -> Option<&SecretBytes> {
        self.value(name).or_else(|| self.file(name))
    }

    pub fn values(&self) -> impl Iterator<Item = (&str, &SecretBytes)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v))
    }

    pub fn files(&self) -> impl Iterator<Item = (&str, &SecretBytes)> {
        self.files.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Every plaintext, values and files: what output redaction must hide.
    pub fn all(&self) -> impl Iterator<Item = &SecretBytes> {
        self.values.iter().chain(&self.files).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.values.len() + self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("values", &self.values.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field("files", &self.files.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .finish()
    }
}

/// Whether `name` may name a secret, a secret file or an environment:
/// `[A-Za-z0-9_.-]+`, not starting with `.` or `-` (no hidden files, no `..`, nothing
/// that reads as a command-line option).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// [`is_valid_name`] as an error: `what` says what the name is for.
pub fn check_name(name: &str, what: &str) -> Result<(), Problem> {
    if is_valid_name(name) {
        return Ok(());
    }
    Err(
        Problem::new(Kind::Secrets, format!("`{name}` is not a valid {what} name"))
            .help("names use letters, digits, `_`, `.` and `-`, and do not start with `.` or `-`"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["db_password", "tls.key", "API-TOKEN", "a", "x1.2-3_"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", ".hidden", "-flag", "a b", "a/b", "ä", "a=b", "x\n"] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_values() {
        let s = Secrets {
            values: vec![("token".into(), SecretBytes::new(b"hunter2".to_vec()))],
            files: vec![("tls.key".into(), SecretBytes::new(b"-----BEGIN".to_vec()))],
        };
        let shown = format!("{s:?} {:?}", s.value("token"));
        assert!(!shown.contains("hunter2") && !shown.contains("BEGIN"), "{shown}");
        assert!(shown.contains("token") && shown.contains("7 bytes"), "{shown}");
    }
}
