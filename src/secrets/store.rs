//! The secrets of one environment on disk: where each file lives, what it holds
//! (names without any key), decrypting, and writing back — every write atomic, a
//! value that did not change keeping its ciphertext so that `git diff` stays quiet.
//! Callers that write hold the environment's [`SecretsLock`].

use std::io::Write;
use std::path::{Path, PathBuf};

use super::format::ValuesFile;
use super::identity::Identities;
use super::lock::SecretsLock;
use super::recipients::RecipientsFile;
use super::{SecretBytes, Secrets, check_name, is_valid_name};
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem};

/// The secrets of one environment of a project.
pub struct SecretStore {
    root: PathBuf,
    env: String,
}

/// The names of an environment's secrets, read without decrypting anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub env: String,
    /// Values of `secrets/<env>.secrets`, in file order.
    pub values: Vec<String>,
    /// Files `secrets/<env>/<name>.age`, sorted.
    pub files: Vec<String>,
}

impl Names {
    pub fn contains(&self, name: &str) -> bool {
        self.values.iter().chain(&self.files).any(|n| n == name)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.files.is_empty()
    }

    /// Help for a name that is not there: a likely typo, what exists, how to add it.
    pub fn unknown_help(&self, name: &str) -> String {
        let all: Vec<&str> = self.values.iter().chain(&self.files).map(String::as_str).collect();
        format!(
            "{}secrets of `{}`: {}; add it with `ordo secrets set {} {name}` (the value is read from stdin)",
            did_you_mean(name, all.iter().copied()),
            self.env,
            list_or_none(&all),
            self.env
        )
    }
}

/// What a write did, for the message to the user.
#[derive(Debug, Default)]
pub struct Written {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// Whether any file was rewritten at all.
    pub wrote: bool,
}

impl SecretStore {
    /// The store of `env` in the project at `project_root`. Nothing is read yet, and
    /// nothing needs to exist.
    pub fn open(project_root: &Path, env: &str) -> Result<SecretStore, Problem> {
        check_name(env, "environment")?;
        Ok(SecretStore {
            root: project_root.to_path_buf(),
            env: env.to_string(),
        })
    }

    pub fn env(&self) -> &str {
        &self.env
    }

    /// `secrets/<env>.secrets`
    pub fn values_path(&self) -> PathBuf {
        self.root.join("secrets").join(format!("{}.secrets", self.env))
    }

    /// `secrets/<env>.recipients`
    pub fn recipients_path(&self) -> PathBuf {
        self.root.join("secrets").join(format!("{}.recipients", self.env))
    }

    /// `secrets/<env>/`, the secret files.
    pub fn files_dir(&self) -> PathBuf {
        self.root.join("secrets").join(&self.env)
    }

    /// `secrets/<env>/<name>.age`
    pub fn file_path(&self, name: &str) -> PathBuf {
        self.files_dir().join(format!("{name}.age"))
    }

    /// A path relative to the project, for messages.
    pub fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }

    /// Whether the environment has any secrets stored.
    pub fn exists(&self) -> bool {
        self.values_path().is_file() || self.files_dir().is_dir()
    }

    /// Takes the environment's lock (see [`SecretsLock`]).
    pub fn lock(&self, purpose: &str) -> Result<SecretsLock, Problem> {
        SecretsLock::acquire(&self.root, &self.env, purpose)
    }

    /// Names of values and files. Needs no key: `ordo check` validates `secret(..)`
    /// names with it. A missing store has no names.
    pub fn names(&self) -> Result<Names, Problem> {
        let values = self
            .values_file()?
            .map(|f| f.names().map(str::to_string).collect())
            .unwrap_or_default();
        let mut files: Vec<String> = std::fs::read_dir(self.files_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().strip_suffix(".age")?.to_string();
                is_valid_name(&name).then_some(name)
            })
            .collect();
        files.sort();
        Ok(Names {
            env: self.env.clone(),
            values,
            files,
        })
    }

    pub fn recipients(&self) -> Result<RecipientsFile, Problem> {
        RecipientsFile::load(&self.recipients_path(), &self.rel(&self.recipients_path()), &self.env)
    }

    pub(crate) fn values_file(&self) -> Result<Option<ValuesFile>, Problem> {
        let path = self.values_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => ValuesFile::parse(&text, &self.rel(&path)).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Problem::new(
                Kind::Secrets,
                format!("cannot read {}: {e}", self.rel(&path)),
            )),
        }
    }

    /// Whether everything stored is encrypted to the keys the recipients file lists
    /// now. False after the recipients file was changed by hand (or by a merge).
    pub fn is_current(&self, recipients: &RecipientsFile) -> Result<bool, Problem> {
        Ok(match self.values_file()? {
            Some(f) => f.stamp.as_deref() == Some(recipients.stamp().as_str()),
            None => !self.files_dir().is_dir(),
        })
    }

    /// An error saying how to create the store, when it does not exist.
    pub fn require_exists(&self) -> Result<(), Problem> {
        if !self.exists() {
            return Err(Problem::new(
                Kind::Secrets,
                format!("the environment `{}` has no secrets: {} does not exist", self.env, self.rel(&self.values_path())),
            )
            .help(format!(
                "create the first one with `ordo secrets set {} NAME` (the value is read from stdin); see docs/secrets.md",
                self.env
            )));
        }
        Ok(())
    }

    /// Decrypts every value and file. A store that does not exist is an error that
    /// says how to create it.
    pub fn decrypt_all(&self, ids: &Identities) -> Result<Secrets, Problem> {
        self.require_exists()?;
        let files = self
            .names()?
            .files
            .into_iter()
            .map(|n| {
                let v = self.decrypt_file(ids, &n)?;
                Ok((n, v))
            })
            .collect::<Result<_, Problem>>()?;
        Ok(Secrets {
            values: self.decrypt_values(ids)?,
            files,
        })
    }

    /// The values, decrypted, in file order (none when there is no values file).
    pub fn decrypt_values(&self, ids: &Identities) -> Result<Vec<(String, SecretBytes)>, Problem> {
        let Some(file) = self.values_file()? else {
            return Ok(Vec::new());
        };
        let origin = self.rel(&self.values_path());
        file.entries
            .iter()
            .map(|(name, b64)| {
                let what = format!("`{name}` in {origin}");
                let ct = base64_decode(b64).ok_or_else(|| {
                    Problem::new(
                        Kind::Secrets,
                        format!("cannot decrypt {what}: the value is not valid base64"),
                    )
                    .help(format!("restore the file from git (`git checkout -- {origin}`)"))
                })?;
                let plain = ids.decrypt(&ct).map_err(|e| self.decrypt_problem(&what, ids, &e))?;
                Ok((name.clone(), plain))
            })
            .collect()
    }

    /// One value, decrypted.
    pub fn decrypt_value(&self, ids: &Identities, name: &str) -> Result<SecretBytes, Problem> {
        let names = self.names()?;
        let file = self.values_file()?.unwrap_or_default();
        let Some(b64) = file.get(name) else {
            return Err(
                Problem::new(Kind::Secrets, format!("`{}` has no secret value `{name}`", self.env))
                    .help(names.unknown_help(name)),
            );
        };
        let origin = self.rel(&self.values_path());
        let what = format!("`{name}` in {origin}");
        let ct = base64_decode(b64).ok_or_else(|| {
            Problem::new(
                Kind::Secrets,
                format!("cannot decrypt {what}: the value is not valid base64"),
            )
            .help(format!("restore the file from git (`git checkout -- {origin}`)"))
        })?;
        ids.decrypt(&ct).map_err(|e| self.decrypt_problem(&what, ids, &e))
    }

    /// One secret file, decrypted.
    pub fn decrypt_file(&self, ids: &Identities, name: &str) -> Result<SecretBytes, Problem> {
        let path = self.file_path(name);
        let ct = std::fs::read(&path)
            .map_err(|e| Problem::new(Kind::Secrets, format!("cannot read {}: {e}", self.rel(&path))))?;
        ids.decrypt(&ct)
            .map_err(|e| self.decrypt_problem(&self.rel(&path), ids, &e))
    }

    fn decrypt_problem(&self, what: &str, ids: &Identities, e: &age::DecryptError) -> Problem {
        let recipients = self
            .recipients()
            .map(|r| list_or_none(&r.describe()))
            .unwrap_or_else(|p| p.message);
        match e {
            age::DecryptError::NoMatchingKeys => Problem::new(
                Kind::Secrets,
                format!("cannot decrypt {what}: none of your keys is one of its recipients"),
            )
            .help(format!(
                "keys tried, in this order:\n{}\nrecipients of `{env}`: {recipients}\nask one of them to run `ordo secrets recipients add {env} <your public key>`, or point ORDO_AGE_IDENTITY / ORDO_AGE_KEY at a key that is a recipient",
                ids.tried_list(),
                env = self.env
            )),
            other => Problem::new(Kind::Secrets, format!("cannot decrypt {what}: {other}"))
                .help("the file may be damaged: compare it with git (`git diff`, `git checkout -- <file>`)"),
        }
    }

    /// Replaces the values with `new` (the edited list; its order is kept). A value
    /// equal to its entry in `old` (the decrypted current values) keeps its
    /// ciphertext; others are encrypted to `recipients`. Nothing is written when the
    /// result is byte-identical. Expects everything to be encrypted to `recipients`
    /// already (`is_current`; else `rekey` first).
    pub fn save_values(
        &self,
        old: &[(String, SecretBytes)],
        new: &[(String, SecretBytes)],
        recipients: &RecipientsFile,
    ) -> Result<Written, Problem> {
        let files = self.names()?.files;
        if let Some((n, _)) = new.iter().find(|(n, _)| files.contains(n)) {
            return Err(Problem::new(
                Kind::Secrets,
                format!(
                    "`{n}` is already the name of a secret file ({})",
                    self.rel(&self.file_path(n))
                ),
            )
            .help("values and files share one set of names; choose another name"));
        }
        let current = self.values_file()?.unwrap_or_default();
        let mut written = Written::default();
        let mut next = ValuesFile {
            stamp: Some(recipients.stamp()),
            entries: Vec::new(),
        };
        for (name, value) in new {
            let before = old.iter().find(|(n, _)| n == name).map(|(_, v)| v);
            let kept = match (before, current.get(name)) {
                (Some(b), Some(ct)) if b == value => Some(ct.to_string()),
                _ => None,
            };
            let ct = match kept {
                Some(ct) => ct,
                None => {
                    if before.is_some() {
                        written.changed.push(name.clone());
                    } else {
                        written.added.push(name.clone());
                    }
                    base64_encode(&seal(recipients, value.expose(), false)?)
                }
            };
            next.entries.push((name.clone(), ct));
        }
        written.removed = old
            .iter()
            .filter(|(n, _)| !new.iter().any(|(m, _)| m == n))
            .map(|(n, _)| n.clone())
            .collect();
        written.wrote = write_if_changed(&self.values_path(), next.render(&self.env).as_bytes())?;
        Ok(written)
    }

    /// Sets one value, encrypted to the current recipients; the others keep their
    /// ciphertext. With `ids`, an unchanged value is detected and nothing written.
    /// Needs no key otherwise: anyone listed can add a value they cannot read.
    pub fn set_value(&self, name: &str, value: &SecretBytes, ids: Option<&Identities>) -> Result<Written, Problem> {
        check_name(name, "secret")?;
        if self.file_path(name).exists() {
            return Err(
                Problem::new(Kind::Secrets, format!("`{name}` is a secret file of `{}`", self.env))
                    .help(format!("set it with `ordo secrets set {} --file {name}`", self.env)),
            );
        }
        let recipients = self.non_empty_recipients()?;
        let mut file = match self.values_file()? {
            Some(f) => f,
            None => ValuesFile {
                stamp: (!self.files_dir().is_dir()).then(|| recipients.stamp()),
                entries: Vec::new(),
            },
        };
        let mut written = Written::default();
        match file.entries.iter_mut().find(|(n, _)| n == name) {
            Some((_, ct)) => {
                if let (Some(ids), Some(old)) = (ids, base64_decode(ct))
                    && ids.decrypt(&old).is_ok_and(|v| &v == value)
                {
                    return Ok(written);
                }
                *ct = base64_encode(&seal(&recipients, value.expose(), false)?);
                written.changed.push(name.to_string());
            }
            None => {
                let ct = base64_encode(&seal(&recipients, value.expose(), false)?);
                file.entries.push((name.to_string(), ct));
                written.added.push(name.to_string());
            }
        }
        written.wrote = write_if_changed(&self.values_path(), file.render(&self.env).as_bytes())?;
        Ok(written)
    }

    /// Sets one secret file, like [`SecretStore::set_value`].
    pub fn set_file(&self, name: &str, content: &SecretBytes, ids: Option<&Identities>) -> Result<Written, Problem> {
        check_name(name, "secret file")?;
        if self.values_file()?.is_some_and(|f| f.get(name).is_some()) {
            return Err(
                Problem::new(Kind::Secrets, format!("`{name}` is a secret value of `{}`", self.env))
                    .help("values and files share one set of names; choose another name"),
            );
        }
        let recipients = self.non_empty_recipients()?;
        let path = self.file_path(name);
        let mut written = Written::default();
        if path.exists() {
            if let Some(ids) = ids
                && self.decrypt_file(ids, name).is_ok_and(|v| &v == content)
            {
                return Ok(written);
            }
            written.changed.push(name.to_string());
        } else {
            written.added.push(name.to_string());
        }
        // A new store gets its stamp now, so that later writes know what it was
        // encrypted to.
        if !self.exists() {
            let stamped = ValuesFile {
                stamp: Some(recipients.stamp()),
                entries: Vec::new(),
            };
            write_if_changed(&self.values_path(), stamped.render(&self.env).as_bytes())?;
        }
        written.wrote = write_if_changed(&path, &seal(&recipients, content.expose(), true)?)?;
        Ok(written)
    }

    /// Removes one value or file.
    pub fn remove(&self, name: &str) -> Result<Written, Problem> {
        let path = self.file_path(name);
        let mut written = Written::default();
        if path.exists() {
            std::fs::remove_file(&path)
                .map_err(|e| Problem::new(Kind::Secrets, format!("cannot remove {}: {e}", self.rel(&path))))?;
            let _ = std::fs::remove_dir(self.files_dir());
            written.removed.push(name.to_string());
            written.wrote = true;
            return Ok(written);
        }
        let names = self.names()?;
        let Some(mut file) = self.values_file()?.filter(|f| f.get(name).is_some()) else {
            return Err(
                Problem::new(Kind::Secrets, format!("`{}` has no secret `{name}`", self.env))
                    .help(names.unknown_help(name)),
            );
        };
        file.entries.retain(|(n, _)| n != name);
        written.wrote = write_if_changed(&self.values_path(), file.render(&self.env).as_bytes())?;
        written.removed.push(name.to_string());
        Ok(written)
    }

    /// Decrypts everything and encrypts it again to `recipients`, which are then
    /// written to the recipients file. Nothing is written unless everything could be
    /// decrypted first. Returns how many values and files were re-encrypted.
    pub fn reencrypt(&self, ids: Option<&Identities>, recipients: &RecipientsFile) -> Result<usize, Problem> {
        if recipients.is_empty() {
            return Err(self.no_recipients(recipients));
        }
        let secrets = if self.exists() {
            match ids {
                Some(ids) => self.decrypt_all(ids)?,
                None => self.decrypt_all(&Identities::discover()?)?,
            }
        } else {
            Secrets::default()
        };
        // The recipients first: should a later write fail, the stale stamp says that
        // a rekey is still due.
        write_if_changed(&self.recipients_path(), recipients.render().as_bytes())?;
        for (name, content) in secrets.files() {
            write_if_changed(&self.file_path(name), &seal(recipients, content.expose(), true)?)?;
        }
        if self.exists() {
            let mut next = ValuesFile {
                stamp: Some(recipients.stamp()),
                entries: Vec::new(),
            };
            for (name, value) in secrets.values() {
                next.entries.push((
                    name.to_string(),
                    base64_encode(&seal(recipients, value.expose(), false)?),
                ));
            }
            write_if_changed(&self.values_path(), next.render(&self.env).as_bytes())?;
        }
        Ok(secrets.len())
    }

    /// The recipients, which must list at least one key.
    pub fn non_empty_recipients(&self) -> Result<RecipientsFile, Problem> {
        let r = self.recipients()?;
        if r.is_empty() {
            return Err(self.no_recipients(&r));
        }
        Ok(r)
    }

    fn no_recipients(&self, r: &RecipientsFile) -> Problem {
        Problem::new(
            Kind::Secrets,
            format!(
                "{} lists no key: nobody could decrypt the secrets of `{}`",
                r.origin, self.env
            ),
        )
        .help(format!(
            "add one with `ordo secrets recipients add {} <public key>`",
            self.env
        ))
    }
}

/// Encrypts `plain` to every recipient: binary for values (base64-encoded by the
/// caller), ASCII armour for secret files.
fn seal(recipients: &RecipientsFile, plain: &[u8], armor: bool) -> Result<Vec<u8>, Problem> {
    let failed = |e: &dyn std::fmt::Display| {
        Problem::new(
            Kind::Secrets,
            format!("cannot encrypt to the keys in {}: {e}", recipients.origin),
        )
        .help(format!("check {}: one public key per line", recipients.origin))
    };
    if recipients.is_empty() {
        return Err(
            Problem::new(Kind::Secrets, format!("{} lists no key", recipients.origin))
                .help("add one with `ordo secrets recipients add ENV <public key>`"),
        );
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.keys.iter().map(|k| k.as_age())).map_err(|e| failed(&e))?;
    let mut out = Vec::with_capacity(plain.len() + 512);
    if armor {
        let armored =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).map_err(|e| failed(&e))?;
        let mut w = encryptor.wrap_output(armored).map_err(|e| failed(&e))?;
        w.write_all(plain).map_err(|e| failed(&e))?;
        w.finish().and_then(|a| a.finish()).map_err(|e| failed(&e))?;
    } else {
        let mut w = encryptor.wrap_output(&mut out).map_err(|e| failed(&e))?;
        w.write_all(plain).map_err(|e| failed(&e))?;
        w.finish().map_err(|e| failed(&e))?;
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically (a temporary file in the same directory, then
/// a rename), unless the file already holds exactly these bytes. Returns whether it
/// wrote.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool, Problem> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let failed = |e: std::io::Error| Problem::new(Kind::Secrets, format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(failed)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(e));
    }
    Ok(true)
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}
