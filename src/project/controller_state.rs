//! What ordo keeps about a project on the machine that runs it (the controller), per
//! environment: `$XDG_STATE_HOME/ordo/projects/<name>-<hash>/<environment>/` (else
//! `~/.local/state/ordo/…`), where `<name>` is the project directory's name and
//! `<hash>` a short hash of its absolute path — two checkouts of one repository keep
//! apart records.
//!
//! These records are a convenience, never the truth about hosts: each host keeps its
//! own record of what ordo did there (`exec::state`). The controller's help where a
//! host cannot: which hosts an earlier deploy reached (a host whose declaration was
//! deleted has no address left in the scripts), which hosts failed last time. A record
//! that is missing or does not parse reads as absent — losing this directory loses
//! hints, not deployments.
//!
//! Files are JSON, written whole (a private temporary file renamed over the old one),
//! in directories only the user can read. Two runs of ordo that write one record at
//! the same time: the later rename wins.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Project;
use crate::problem::{Kind, Problem};

/// The records of one project's environment on this machine.
#[derive(Clone, Debug)]
pub struct ControllerState {
    dir: PathBuf,
}

impl ControllerState {
    /// The records of environment `env` of `project` (nothing is created yet).
    pub fn new(project: &Project, env: &str) -> ControllerState {
        ControllerState::under(&state_home(), &project.root, env)
    }

    /// As [`ControllerState::new`], below `base` instead of the user's state
    /// directory.
    pub fn under(base: &Path, root: &Path, env: &str) -> ControllerState {
        let name: String = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let hash = crate::sys::short_hash(root.as_os_str().as_encoded_bytes());
        let env: String = env
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        ControllerState {
            dir: base.join("projects").join(format!("{name}-{hash}")).join(env),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The record `name` (`name.json`), or `None` when there is none or it does
    /// not parse (a record is a hint; see the module's docs).
    pub fn read<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        let bytes = std::fs::read(self.path(name)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes the record `name` whole: a private temporary file, renamed over the old.
    pub fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<(), Problem> {
        let target = self.path(name);
        let failed = |e: std::io::Error| {
            Problem::new(
                Kind::Project,
                format!("cannot write ordo's record {}: {e}", target.display()),
            )
            .help("ordo keeps what it learned about this environment there (see docs/hosts.md); make the directory writable, or set XDG_STATE_HOME to one that is")
        };
        create_private_dirs(&self.dir).map_err(failed)?;
        let bytes = serde_json::to_vec_pretty(value).expect("records serialise");
        let mut tmp = tempfile_in(&self.dir).map_err(failed)?;
        let done = tmp
            .1
            .write_all(&bytes)
            .and_then(|()| tmp.1.sync_all())
            .and_then(|()| std::fs::rename(&tmp.0, &target));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp.0);
            return Err(failed(e));
        }
        Ok(())
    }

    /// Removes the record `name`; a record that is not there is fine.
    pub fn remove(&self, name: &str) -> Result<(), Problem> {
        match std::fs::remove_file(self.path(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Problem::new(
                Kind::Project,
                format!("cannot remove ordo's record {}: {e}", self.path(name).display()),
            )),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }
}

/// `$XDG_STATE_HOME/ordo`, else `~/.local/state/ordo` (else the temporary directory).
pub fn state_home() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("ordo")
}

fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// A new file only the user can read, next to the record it will replace.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    for attempt in 0u32.. {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(".tmp-{}-{nanos}-{attempt}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {}
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Seen {
        hosts: Vec<String>,
    }

    #[test]
    fn records_round_trip_privately_and_a_broken_one_reads_as_absent() {
        let base = tempfile::tempdir().unwrap();
        let s = ControllerState::under(base.path(), Path::new("/srv/my project"), "prod/../x");
        assert!(s.dir().starts_with(base.path().join("projects")));
        assert!(s.dir().ends_with("prod_.._x"), "{}", s.dir().display());
        assert_eq!(s.read::<Seen>("hosts"), None);
        let seen = Seen {
            hosts: vec!["web1".into()],
        };
        s.write("hosts", &seen).unwrap();
        assert_eq!(s.read::<Seen>("hosts"), Some(seen));
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&s.dir().join("hosts.json")), 0o600);
        assert_eq!(mode(s.dir()), 0o700);
        std::fs::write(s.dir().join("hosts.json"), "{not json").unwrap();
        assert_eq!(s.read::<Seen>("hosts"), None);
        s.remove("hosts").unwrap();
        s.remove("hosts").unwrap();
        // Nothing temporary is left behind.
        assert_eq!(std::fs::read_dir(s.dir()).unwrap().count(), 0);
    }

    #[test]
    fn two_checkouts_of_one_repository_keep_apart_records() {
        let base = Path::new("/state");
        let a = ControllerState::under(base, Path::new("/home/a/shop"), "prod");
        let b = ControllerState::under(base, Path::new("/home/b/shop"), "prod");
        assert_ne!(a.dir(), b.dir());
        assert!(a.dir().to_string_lossy().contains("/shop-"));
    }
}
