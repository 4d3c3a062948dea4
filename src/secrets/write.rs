//! Writing an environment's secrets: setting, editing, removing, re-encrypting. Every
//! file is replaced atomically, and a value that did not change keeps its ciphertext
//! so that `git diff` shows only real changes. Callers hold the environment's
//! [`SecretsLock`](super::SecretsLock).

use std::io::Write;
use std::path::Path;

use super::format::ValuesFile;
use super::identity::Identities;
use super::recipients::RecipientsFile;
use super::store::{SecretStore, Written, base64_decode, base64_encode};
use super::{SecretBytes, Secrets, check_name};
use crate::problem::{Kind, Problem};

impl SecretStore {
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
        written.wrote = write_if_changed(&self.values_path(), next.render(self.env()).as_bytes())?;
        Ok(written)
    }

    /// Sets one value, encrypted to the current recipients; the others keep their
    /// ciphertext. With `ids`, an unchanged value is detected and nothing written.
    /// Needs no key otherwise: anyone listed can add a value they cannot read.
    pub fn set_value(&self, name: &str, value: &SecretBytes, ids: Option<&Identities>) -> Result<Written, Problem> {
        check_name(name, "secret")?;
        if self.file_path(name).exists() {
            return Err(
                Problem::new(Kind::Secrets, format!("`{name}` is a secret file of `{}`", self.env()))
                    .help(format!("set it with `ordo secrets set {} --file {name}`", self.env())),
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
        written.wrote = write_if_changed(&self.values_path(), file.render(self.env()).as_bytes())?;
        Ok(written)
    }

    /// Sets one secret file, like [`SecretStore::set_value`].
    pub fn set_file(&self, name: &str, content: &SecretBytes, ids: Option<&Identities>) -> Result<Written, Problem> {
        check_name(name, "secret file")?;
        if self.values_file()?.is_some_and(|f| f.get(name).is_some()) {
            return Err(
                Problem::new(Kind::Secrets, format!("`{name}` is a secret value of `{}`", self.env()))
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
            write_if_changed(&self.values_path(), stamped.render(self.env()).as_bytes())?;
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
                Problem::new(Kind::Secrets, format!("`{}` has no secret `{name}`", self.env()))
                    .help(names.unknown_help(name)),
            );
        };
        file.entries.retain(|(n, _)| n != name);
        written.wrote = write_if_changed(&self.values_path(), file.render(self.env()).as_bytes())?;
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
            write_if_changed(&self.values_path(), next.render(self.env()).as_bytes())?;
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
                r.origin,
                self.env()
            ),
        )
        .help(format!(
            "add one with `ordo secrets recipients add {} <public key>`",
            self.env()
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
