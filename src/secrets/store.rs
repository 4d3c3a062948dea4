//! The secrets of one environment on disk: where each file lives, what it holds
//! (names, without any key) and decrypting it. Writing is in `write.rs`.

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

    /// The project's root directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
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
}

pub(super) fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}
