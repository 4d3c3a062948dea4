//! One writer at a time per environment: `ordo secrets edit` (and set, rekey, …)
//! holds `secrets/.<env>.lock` so that a second editor, or a deploy reading the
//! secrets, does not interleave with it. The lock is an advisory `flock` on that
//! file: the kernel releases it when the holder exits, however it exits, so a crash
//! never leaves a stale lock behind. The file records who holds it, for the message
//! the next one gets; it is removed on release.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::problem::{Kind, Problem};

/// Held while alive; released (and the file removed) on drop.
pub struct SecretsLock {
    path: PathBuf,
    _file: File,
}

impl SecretsLock {
    /// Takes the lock of `env`'s secrets in the project at `project_root`, or fails at
    /// once (kind `Locked`) naming the holder. `purpose` ("editing", "deploying")
    /// tells the holder's activity to whoever is refused.
    pub fn acquire(project_root: &Path, env: &str, purpose: &str) -> Result<SecretsLock, Problem> {
        let dir = project_root.join("secrets");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Problem::new(Kind::Secrets, format!("cannot create {}: {e}", dir.display())))?;
        // A lock file left by a killed process must not make the working tree look
        // dirty (deploys refuse dirty trees): ignore it, once, if nobody did.
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            let _ = std::fs::write(
                &ignore,
                "# Written by ordo: lock and temporary files of `ordo secrets`.\n.*.lock\n.*.tmp-*\n",
            );
        }
        let path = dir.join(format!(".{env}.lock"));
        let io_error = |e: std::io::Error| Problem::new(Kind::Secrets, format!("cannot lock {}: {e}", path.display()));
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_error)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    return Err(refused(env, &holder));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
            }
            // A holder removes the file before releasing it; if that happened between
            // our open and our lock, we locked a file nobody else will see. Retry.
            let ours = file.metadata().map_err(io_error)?;
            match std::fs::metadata(&path) {
                Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => {}
                _ => continue,
            }
            let record = format!(
                "operator={}\npid={}\npurpose={purpose}\nsince={}\n",
                crate::sys::operator(),
                std::process::id(),
                crate::sys::now_rfc3339()
            );
            file.set_len(0).map_err(io_error)?;
            file.rewind().map_err(io_error)?;
            file.write_all(record.as_bytes()).map_err(io_error)?;
            return Ok(SecretsLock { path, _file: file });
        }
    }
}

impl Drop for SecretsLock {
    fn drop(&mut self) {
        // Removed while still locked (see `acquire`); closing the file releases it.
        let _ = std::fs::remove_file(&self.path);
    }
}

fn refused(env: &str, holder: &str) -> Problem {
    let field = |k: &str| {
        holder
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or("?")
            .to_string()
    };
    let who = if holder.trim().is_empty() {
        "another ordo process".to_string()
    } else {
        format!(
            "{} ({} since {}, pid {})",
            field("operator"),
            field("purpose"),
            field("since"),
            field("pid")
        )
    };
    Problem::new(Kind::Locked, format!("the secrets of `{env}` are in use by {who}"))
        .help("wait until that finishes and try again; the lock is released when that process exits, however it exits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_is_refused_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretsLock::acquire(dir.path(), "prod", "editing").unwrap();
        let e = SecretsLock::acquire(dir.path(), "prod", "deploying").err().unwrap();
        assert_eq!(e.kind, Kind::Locked);
        assert!(
            e.message.contains("in use by") && e.message.contains("editing since"),
            "{}",
            e.message
        );
        // Another environment is independent.
        let _other = SecretsLock::acquire(dir.path(), "staging", "editing").unwrap();
        drop(first);
        assert!(!dir.path().join("secrets/.prod.lock").exists());
        let ignore = std::fs::read_to_string(dir.path().join("secrets/.gitignore")).unwrap();
        assert!(ignore.contains("\n.*.lock\n"), "{ignore}");
        let _again = SecretsLock::acquire(dir.path(), "prod", "deploying").unwrap();
    }
}
