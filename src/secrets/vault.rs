//! Secrets inside script values. `secret("db_password")` does not give a script the
//! plaintext: it gives a *token* — `<U+E000>secret:db_password<U+E001>`, two
//! characters of Unicode's private use area around the name — that survives
//! everything a script does with text: interpolation, `+`, templates, maps handed
//! to other components through provide/require. Where a step is built (`c.add(..)`),
//! the [`Vault`] finds the tokens in the step's content or command, swaps in the
//! plaintext (decrypted once per run, on the controller only) and marks the step
//! as holding secrets; everywhere else a token prints as `[secret:db_password]`.
//!
//! So a secret reaches only hosts with a step that uses it, and the plaintext never
//! appears where only its token was (plans, diffs, errors, the model). `ordo check`
//! validates names without any key (names are in clear in the secrets file).

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use super::redact::Redactor;
use super::token::{TOKEN_CLOSE, TOKEN_OPEN, has_token, show_tokens};
use super::{Identities, Names, SecretBytes, SecretStore, Secrets};
use crate::problem::{Kind, Problem};

/// Content with its secrets revealed.
#[derive(Clone, Debug)]
pub struct Revealed {
    /// The plaintext (or, when the run decrypts nothing, the content with its tokens).
    pub bytes: Vec<u8>,
    /// What may be shown: the content with each secret as `[secret:name]`.
    pub masked: String,
    /// Whether any secret was in it.
    pub secret: bool,
}

/// The secrets of one environment, as a run may use them.
pub struct Vault {
    store: SecretStore,
    /// Whether this run needs plaintext (plan, deploy) or only names (check).
    decrypt: bool,
    names: OnceLock<Result<Names, Problem>>,
    plain: Mutex<Option<Arc<Secrets>>>,
    redactor: Redactor,
}

impl Vault {
    /// The vault of `env`. Decryption (when `decrypt`) happens on first use, and
    /// every value decrypted is added to `redactor` before anything can print it.
    pub fn new(root: &Path, env: &str, decrypt: bool, redactor: Redactor) -> Result<Vault, Problem> {
        Ok(Vault {
            store: SecretStore::open(root, env)?,
            decrypt,
            names: OnceLock::new(),
            plain: Mutex::new(None),
            redactor,
        })
    }

    pub fn env(&self) -> &str {
        self.store.env()
    }

    /// The names of the environment's secrets (no key needed).
    pub fn names(&self) -> Result<&Names, Problem> {
        self.names
            .get_or_init(|| self.store.names())
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether `name` is a secret (a value, or with `file` a secret file) of the
    /// environment; the error names the file and says how to add it.
    pub fn check(&self, name: &str, file: bool) -> Result<(), Problem> {
        super::check_name(name, "a secret")?;
        let names = self.names()?;
        let list = if file { &names.files } else { &names.values };
        if list.iter().any(|n| n == name) {
            return Ok(());
        }
        let (what, path) = if file {
            ("secret file", self.store.rel(&self.store.files_dir()))
        } else {
            ("secret", self.store.rel(&self.store.values_path()))
        };
        Err(Problem::new(
            Kind::Secrets,
            format!("no {what} `{name}` in {path} (environment `{}`)", self.env()),
        )
        .help(if file {
            format!("add it with `ordo secrets set {} --file {name} < the-file`", self.env())
        } else {
            names.unknown_help(name)
        }))
    }

    /// `content` with the plaintext of every secret token in it.
    pub fn reveal(&self, content: &[u8]) -> Result<Revealed, Problem> {
        let Ok(text) = std::str::from_utf8(content) else {
            return Ok(Revealed {
                bytes: content.to_vec(),
                masked: String::new(),
                secret: false,
            });
        };
        if !has_token(text) {
            return Ok(Revealed {
                bytes: content.to_vec(),
                masked: text.to_string(),
                secret: false,
            });
        }
        let mut bytes = Vec::with_capacity(content.len());
        let mut rest = text;
        while let Some(open) = rest.find(TOKEN_OPEN) {
            let (before, after) = rest.split_at(open);
            if before.contains(TOKEN_CLOSE) {
                return Err(broken());
            }
            bytes.extend_from_slice(before.as_bytes());
            let after = &after[TOKEN_OPEN.len_utf8()..];
            let close = after.find(TOKEN_CLOSE).ok_or_else(broken)?;
            let inner = &after[..close];
            let (file, quoted, name) = match inner.split_once(':') {
                Some(("secret", n)) => (false, false, n),
                Some(("secret-file", n)) => (true, false, n),
                Some(("secret-sh", n)) => (false, true, n),
                Some(("secret-file-sh", n)) => (true, true, n),
                _ => return Err(broken()),
            };
            if self.decrypt {
                let plain = self.plaintext()?;
                let value = if file { plain.file(name) } else { plain.value(name) };
                let value = value.ok_or_else(|| self.check(name, file).err().unwrap_or_else(broken))?;
                if quoted {
                    let text = String::from_utf8_lossy(value.expose());
                    bytes.extend_from_slice(format!("'{}'", text.replace('\'', "'\\''")).as_bytes());
                } else {
                    bytes.extend_from_slice(value.expose());
                }
            } else {
                bytes.extend_from_slice(format!("{TOKEN_OPEN}{inner}{TOKEN_CLOSE}").as_bytes());
            }
            rest = &after[close + TOKEN_CLOSE.len_utf8()..];
        }
        if rest.contains(TOKEN_CLOSE) {
            return Err(broken());
        }
        bytes.extend_from_slice(rest.as_bytes());
        Ok(Revealed {
            bytes,
            masked: show_tokens(text),
            secret: true,
        })
    }

    /// The decrypted secrets, once per run; their values join the redactor first.
    /// Decrypting waits for no one: an edit in progress (`ordo secrets edit` holds
    /// the lock) is an error that says who edits.
    fn plaintext(&self) -> Result<Arc<Secrets>, Problem> {
        let mut plain = self.plain.lock().expect("vault poisoned");
        if let Some(p) = &*plain {
            return Ok(p.clone());
        }
        let ids = Identities::discover()?;
        let _lock = self.store.lock("deploying")?;
        let secrets = Arc::new(decrypt_masked(&self.store, &ids, &self.redactor)?);
        *plain = Some(secrets.clone());
        Ok(secrets)
    }
}

/// Decrypts the environment's secrets and teaches `redactor` everything output
/// must not show (docs/secrets.md, "What output masks"): the private keys, every
/// value and file, and their earlier values in git (`history.rs`) — these still
/// sit on hosts until the next deploy.
pub fn decrypt_masked(store: &SecretStore, ids: &Identities, redactor: &Redactor) -> Result<Secrets, Problem> {
    redactor.add(ids.key_material());
    let secrets = store.decrypt_all(ids)?;
    redactor.add(secrets.all().map(SecretBytes::expose));
    redactor.add(store.earlier_values(ids).iter().map(SecretBytes::expose));
    Ok(secrets)
}

fn broken() -> Problem {
    Problem::new(
        Kind::Script,
        "a secret was cut or changed by text operations (slicing, a template filter, case changes) and cannot be used",
    )
    .help(
        "use the value of secret(\"…\") as it is: interpolate it, concatenate it, pass it to templates; \
         if a host needs another form of it (base64, say), store that form as its own secret",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::token::token;

    #[test]
    fn without_decrypting_tokens_stay_and_are_masked_for_display() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::new(dir.path(), "prod", false, Redactor::default()).unwrap();
        let text = format!("password = {}\n", token("db", false));
        let r = v.reveal(text.as_bytes()).unwrap();
        assert!(r.secret);
        assert_eq!(r.masked, "password = [secret:db]\n");
        assert_eq!(r.bytes, text.as_bytes());
        assert!(!v.reveal(b"plain").unwrap().secret);
    }

    #[test]
    fn a_cut_token_is_an_error_not_a_leak() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::new(dir.path(), "prod", false, Redactor::default()).unwrap();
        let t = token("db", false);
        let cut: String = t.chars().take(4).collect();
        assert!(v.reveal(cut.as_bytes()).is_err());
        assert!(
            v.reveal(t.to_uppercase().replace("SECRET", "secrex").as_bytes())
                .is_err()
        );
    }
}
