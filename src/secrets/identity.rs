//! The private keys ("identities") ordo decrypts with, found in a fixed, documented
//! order so that a failure can say exactly what was tried:
//!
//! 1. `ORDO_AGE_IDENTITY` — the path of a key file (age or unencrypted SSH);
//! 2. `ORDO_AGE_KEY` — the key itself (`AGE-SECRET-KEY-1…`), for CI;
//! 3. `$XDG_CONFIG_HOME/ordo/age.key` (default `~/.config/ordo/age.key`), where
//!    `ordo secrets keygen -o` puts one;
//! 4. `$XDG_CONFIG_HOME/age/keys.txt`, the file age users commonly keep;
//! 5. `~/.ssh/id_ed25519` and `~/.ssh/id_rsa`, when not protected by a passphrase.
//!
//! All that load are tried together. A variable that is set but unusable is an error
//! at once (it was asked for explicitly); a default file that is missing or unusable
//! is only noted. A key file that others may read is used, with a warning (ssh
//! refuses such a file; ordo says so instead, once per file and run).
//!
//! The variables are read as they were when ordo started (`key_env.rs`): by now
//! they are gone from the environment.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::SecretBytes;
use super::recipients::short_key;
use crate::problem::{Kind, Problem};

struct Loaded {
    public: String,
    identity: Box<dyn age::Identity + Send + Sync>,
}

/// The identities found on this machine, and a record of every place looked at.
pub struct Identities {
    loaded: Vec<Loaded>,
    /// (where, what happened) for every source, in order.
    tried: Vec<(String, String)>,
    /// The private keys' text, for the redactor.
    material: Vec<Zeroizing<String>>,
    /// Key files others may read, as warnings for the user.
    warnings: Vec<String>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities").field("tried", &self.tried).finish()
    }
}

type Parsed = Vec<(String, Box<dyn age::Identity + Send + Sync>)>;

impl Identities {
    /// Looks in the documented order (module docs). Fails when nothing usable was
    /// found, naming every place it looked.
    /// Key files that others may read are used, and said on stderr (once per file
    /// and run), as ssh would.
    pub fn discover() -> Result<Identities, Problem> {
        let ids = Self::discover_with(&|k| super::key_env::key_variable(k))?;
        warn_once(&ids.warnings);
        Ok(ids)
    }

    pub(crate) fn discover_with(env: &dyn Fn(&str) -> Option<OsString>) -> Result<Identities, Problem> {
        let mut ids = Identities {
            loaded: Vec::new(),
            tried: Vec::new(),
            material: Vec::new(),
            warnings: Vec::new(),
        };
        let set = |k: &str| env(k).filter(|v| !v.is_empty());

        match set("ORDO_AGE_IDENTITY") {
            None => ids.tried.push(("ORDO_AGE_IDENTITY".into(), "not set".into())),
            Some(path) => {
                let path = PathBuf::from(path);
                let origin = format!("ORDO_AGE_IDENTITY={}", path.display());
                let text = read_key_file(&path).map_err(|e| {
                    Problem::new(Kind::Secrets, format!("{origin}: cannot read the key: {e}"))
                        .help("point ORDO_AGE_IDENTITY at a private key file (age or unencrypted SSH), or unset it")
                })?;
                let parsed = parse_identities(&text, &path.display().to_string())
                    .map_err(|why| Problem::new(Kind::Secrets, format!("{origin}: {why}")))?;
                ids.check_private(&path);
                ids.material.extend(super::key_env::secret_lines(&text));
                ids.add(origin, parsed);
            }
        }
        match set("ORDO_AGE_KEY") {
            None => ids.tried.push(("ORDO_AGE_KEY".into(), "not set".into())),
            Some(text) => {
                let text = Zeroizing::new(text.to_string_lossy().into_owned());
                let parsed = parse_identities(&text, "ORDO_AGE_KEY").map_err(|why| {
                    Problem::new(Kind::Secrets, format!("ORDO_AGE_KEY: {why}"))
                        .help("ORDO_AGE_KEY holds the private key itself: the `AGE-SECRET-KEY-1…` line that `ordo secrets keygen` prints")
                })?;
                ids.material.extend(super::key_env::secret_lines(&text));
                ids.add("ORDO_AGE_KEY".into(), parsed);
            }
        }
        let home = set("HOME").map(PathBuf::from);
        let config = set("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".config")));
        let mut defaults = Vec::new();
        if let Some(c) = &config {
            defaults.push(c.join("ordo/age.key"));
            defaults.push(c.join("age/keys.txt"));
        }
        if let Some(h) = &home {
            defaults.push(h.join(".ssh/id_ed25519"));
            defaults.push(h.join(".ssh/id_rsa"));
        } else {
            ids.tried.push((
                "~/.config/ordo/age.key, ~/.ssh/id_ed25519, …".into(),
                "HOME is not set".into(),
            ));
        }
        for path in defaults {
            let origin = path.display().to_string();
            match read_key_file(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => ids.tried.push((origin, "not found".into())),
                Err(e) => ids.tried.push((origin, format!("cannot read: {e}"))),
                Ok(text) => match parse_identities(&text, &origin) {
                    Ok(parsed) => {
                        ids.check_private(&path);
                        ids.material.extend(super::key_env::secret_lines(&text));
                        ids.add(origin, parsed);
                    }
                    Err(why) => ids.tried.push((origin, why)),
                },
            }
        }
        if ids.loaded.is_empty() {
            return Err(Problem::new(Kind::Secrets, "no private key found to decrypt the secrets with").help(format!(
                "looked at, in this order:\n{}\nmake a key with `ordo secrets keygen -o ~/.config/ordo/age.key` and ask someone who can read the secrets to run `ordo secrets recipients add ENV <your public key>`; in CI set ORDO_AGE_KEY",
                ids.tried_list()
            )));
        }
        Ok(ids)
    }

    /// Identities from one key text (ORDO_AGE_KEY's form), for callers that have the
    /// key in hand.
    pub fn from_key_text(text: &str, origin: &str) -> Result<Identities, Problem> {
        let parsed =
            parse_identities(text, origin).map_err(|why| Problem::new(Kind::Secrets, format!("{origin}: {why}")))?;
        let mut ids = Identities {
            loaded: Vec::new(),
            tried: Vec::new(),
            material: super::key_env::secret_lines(text),
            warnings: Vec::new(),
        };
        ids.add(origin.to_string(), parsed);
        Ok(ids)
    }

    /// The private keys as text (key lines; an SSH key whole): what output must
    /// never show, like the secrets they open.
    pub fn key_material(&self) -> impl Iterator<Item = &str> {
        self.material.iter().map(|m| m.as_str())
    }

    /// Warnings about the key files used (others may read them).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A key file that others may read (or write) is noted, as ssh's "UNPROTECTED
    /// PRIVATE KEY FILE" would: anyone with that access can decrypt the secrets.
    fn check_private(&mut self, path: &std::path::Path) {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            self.warnings.push(format!(
                "the private key file {} is accessible by others (mode {mode:04o}): anyone who can read it can decrypt the secrets; make it private with `chmod 600 {}`",
                path.display(),
                shell_word(&path.display().to_string())
            ));
        }
    }

    fn add(&mut self, origin: String, parsed: Parsed) {
        let publics: Vec<String> = parsed.iter().map(|(p, _)| short_key(p)).collect();
        self.tried.push((origin, publics.join(", ")));
        self.loaded
            .extend(parsed.into_iter().map(|(public, identity)| Loaded { public, identity }));
    }

    /// Every place looked at, one per line: `  - where: what happened` (for loaded keys,
    /// their public key).
    pub fn tried_list(&self) -> String {
        self.tried
            .iter()
            .map(|(w, o)| format!("  - {w}: {o}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The public keys of the loaded identities (`age1…`, `ssh-ed25519 AAAA…`).
    pub fn public_keys(&self) -> impl Iterator<Item = &str> {
        self.loaded.iter().map(|l| l.public.as_str())
    }

    /// Decrypts one age file, binary or ASCII-armoured.
    pub(crate) fn decrypt(&self, ciphertext: &[u8]) -> Result<SecretBytes, age::DecryptError> {
        let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(ciphertext))?;
        let mut reader = decryptor.decrypt(self.loaded.iter().map(|l| l.identity.as_ref() as &dyn age::Identity))?;
        // Sized up front so reading does not leave reallocated, unzeroised copies.
        let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
        reader.read_to_end(&mut out)?;
        Ok(SecretBytes(out))
    }
}

/// `text` as one shell word, for a command the user can paste.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Writes each warning to stderr once per run: identities are discovered by
/// every command that decrypts, from contexts without a reporter (`ordo secrets`).
fn warn_once(warnings: &[String]) {
    use std::io::Write;
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for w in warnings {
        if !said.contains(w) {
            let _ = writeln!(std::io::stderr(), "warning: {w}");
            said.push(w.clone());
        }
    }
}

fn read_key_file(path: &std::path::Path) -> std::io::Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(std::fs::read(path)?);
    std::str::from_utf8(&bytes)
        .map(|s| Zeroizing::new(s.to_string()))
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not a text file"))
}

/// The identities in a key text: age identity lines, or one SSH private key. The
/// error says why none can be used, never quoting the text.
fn parse_identities(text: &str, origin: &str) -> Result<Parsed, String> {
    if text.contains("-----BEGIN") {
        return parse_ssh(text, origin).map(|one| vec![one]);
    }
    let mut out: Parsed = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = age::x25519::Identity::from_str(line)
            .map_err(|_| format!("line {} is not an age private key (`AGE-SECRET-KEY-1…`)", i + 1))?;
        out.push((id.to_public().to_string(), Box::new(id)));
    }
    if out.is_empty() {
        return Err("holds no private key".into());
    }
    Ok(out)
}

fn parse_ssh(text: &str, origin: &str) -> Result<(String, Box<dyn age::Identity + Send + Sync>), String> {
    use age::ssh::{Identity, UnsupportedKey};
    let id = Identity::from_buffer(text.as_bytes(), Some(origin.to_string()))
        .map_err(|_| "not a private key ordo can read (age: `AGE-SECRET-KEY-1…`; SSH: ed25519 or RSA)".to_string())?;
    match id {
        Identity::Unencrypted(key) => {
            let public = age::ssh::Recipient::try_from(Identity::Unencrypted(key.clone()))
                .map(|r| r.to_string())
                .map_err(|_| "an SSH key of a type age cannot use".to_string())?;
            Ok((public, Box::new(Identity::Unencrypted(key))))
        }
        Identity::Encrypted(_) => Err(
            "protected by a passphrase, which ordo does not ask for; use an age key (`ordo secrets keygen`), or a copy of the key without passphrase in ORDO_AGE_IDENTITY".into(),
        ),
        Identity::Unsupported(UnsupportedKey::EncryptedPem) => {
            Err("an encrypted PEM key, which ordo cannot use; use an age key (`ordo secrets keygen`)".into())
        }
        Identity::Unsupported(UnsupportedKey::EncryptedSsh(cipher)) => {
            Err(format!("encrypted with `{cipher}`, which ordo cannot decrypt"))
        }
        Identity::Unsupported(UnsupportedKey::Hardware(t)) => {
            Err(format!("a hardware security key (`{t}`), which ordo cannot use"))
        }
        Identity::Unsupported(UnsupportedKey::Type(t)) => {
            Err(format!("an SSH key of type `{t}`; age supports ssh-ed25519 and ssh-rsa"))
        }
    }
}

/// A new age identity: the private key line (`AGE-SECRET-KEY-1…`) and its public
/// key (`age1…`).
pub fn generate_identity() -> (Zeroizing<String>, String) {
    let id = age::x25519::Identity::generate();
    let secret = Zeroizing::new(id.to_string().expose_secret().to_string());
    (secret, id.to_public().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).map(OsString::from)
    }

    #[test]
    fn nothing_found_names_every_place() {
        let e = Identities::discover_with(&env(&[("HOME", "/nonexistent-home")]))
            .err()
            .unwrap();
        let help = e.help.unwrap();
        for place in [
            "ORDO_AGE_IDENTITY: not set",
            "ORDO_AGE_KEY: not set",
            "/nonexistent-home/.config/ordo/age.key: not found",
            "/nonexistent-home/.config/age/keys.txt: not found",
            "/nonexistent-home/.ssh/id_ed25519: not found",
            "/nonexistent-home/.ssh/id_rsa: not found",
        ] {
            assert!(help.contains(place), "{place} missing in:\n{help}");
        }
    }

    #[test]
    fn key_from_the_environment_decrypts() {
        let (secret, public) = generate_identity();
        let ids = Identities::discover_with(&env(&[("ORDO_AGE_KEY", &secret), ("HOME", "/nonexistent-home")])).unwrap();
        assert_eq!(ids.public_keys().collect::<Vec<_>>(), vec![public.as_str()]);
        let r: age::x25519::Recipient = public.parse().unwrap();
        let ct = age::encrypt(&r, b"hello").unwrap();
        assert_eq!(ids.decrypt(&ct).unwrap().expose(), b"hello");
    }

    #[test]
    fn a_broken_explicit_key_is_an_error_that_does_not_quote_it() {
        let e = Identities::discover_with(&env(&[("ORDO_AGE_KEY", "AGE-SECRET-KEY-1NOTAKEY")]))
            .err()
            .unwrap();
        assert!(
            e.message.starts_with("ORDO_AGE_KEY: line 1 is not an age private key"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("NOTAKEY"));
        let e = Identities::discover_with(&env(&[("ORDO_AGE_IDENTITY", "/nonexistent/key")]))
            .err()
            .unwrap();
        assert!(
            e.message
                .starts_with("ORDO_AGE_IDENTITY=/nonexistent/key: cannot read the key"),
            "{}",
            e.message
        );
    }
}
