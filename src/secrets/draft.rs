//! The plaintext of an edit on disk: a file of mode 0600 in a directory of mode 0700
//! of its own, under `$XDG_RUNTIME_DIR` (a per-user tmpfs on most systems) or else
//! the system temp directory. Removed when done — or kept, and its place told, when
//! the edit could not be saved, so that no edit is ever lost.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use zeroize::Zeroizing;

use crate::problem::{Kind, Problem};

pub struct Draft {
    dir: PathBuf,
    path: PathBuf,
    kept: bool,
}

impl Draft {
    /// Writes `content` to a new private file called `file_name` (keeping the name
    /// lets the editor pick its syntax highlighting).
    pub fn create(file_name: &str, content: &[u8]) -> Result<Draft, Problem> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let failed = |e: std::io::Error| {
            Problem::new(
                Kind::Secrets,
                format!("cannot create a private file for the edit in {}: {e}", base.display()),
            )
        };
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut attempt = 0;
        let dir = loop {
            let dir = base.join(format!("ordo-secrets-{}-{stamp:x}{attempt}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => return Err(failed(e)),
            }
        };
        let draft = Draft {
            path: dir.join(file_name),
            dir,
            kept: false,
        };
        std::fs::set_permissions(&draft.dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&draft.path)
            .map_err(failed)?;
        std::io::Write::write_all(&mut f, content).map_err(failed)?;
        Ok(draft)
    }

    /// Opens an existing file as the draft (`ordo secrets edit --from`): it is
    /// removed after a successful save, like a draft ordo made.
    pub fn adopt(path: &Path) -> Result<Draft, Problem> {
        let path = path.canonicalize().map_err(|e| {
            Problem::new(Kind::Secrets, format!("--from {}: {e}", path.display()))
                .help("pass the file that a failed `ordo secrets edit` kept")
        })?;
        Ok(Draft {
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            path,
            kept: true,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn read(&self) -> Result<Zeroizing<Vec<u8>>, Problem> {
        std::fs::read(&self.path).map(Zeroizing::new).map_err(|e| {
            Problem::new(
                Kind::Secrets,
                format!("cannot read the edited file {}: {e}", self.path.display()),
            )
        })
    }

    /// Runs `$EDITOR` (else `vi`) on the draft, through `sh` so that an editor with
    /// arguments (`code --wait`) works. The editor failing means: change nothing.
    pub fn edit(&self) -> Result<(), Problem> {
        let editor = std::env::var("EDITOR")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "vi".into());
        // A Ctrl-C meant for the editor must not kill ordo and leave the plaintext
        // behind: while the editor runs, ordo ignores the terminal's signals.
        let _ignored = ignore_terminal_signals();
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$@\""))
            .arg(&editor)
            .arg(&self.path)
            .env_remove(super::KEY_VARIABLES[0])
            .env_remove(super::KEY_VARIABLES[1])
            .status()
            .map_err(|e| Problem::new(Kind::Secrets, format!("cannot start the editor `{editor}`: {e}")))?;
        if !status.success() {
            return Err(Problem::new(
                Kind::Secrets,
                format!("the editor `{editor}` exited with {status}; nothing was saved"),
            )
            .help("set EDITOR to the editor to use; an editor that exits with an error aborts the edit"));
        }
        Ok(())
    }

    /// Keeps the file (on failure) and returns where it is.
    pub fn keep(mut self) -> PathBuf {
        self.kept = true;
        self.path.clone()
    }

    /// Removes the file even if it was adopted or kept, with its directory when that
    /// was one of ours and is now empty.
    pub fn discard(mut self) {
        let _ = std::fs::remove_file(&self.path);
        if self
            .dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("ordo-secrets-"))
        {
            let _ = std::fs::remove_dir(&self.dir);
        }
        self.kept = true;
    }
}

impl Drop for Draft {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Installs (process-wide, for the rest of the run) handlers for SIGINT, SIGTERM and
/// SIGHUP when a tokio runtime is at hand; returns the streams to keep them alive.
fn ignore_terminal_signals() -> Vec<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    if tokio::runtime::Handle::try_current().is_err() {
        return Vec::new();
    }
    [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()]
        .into_iter()
        .filter_map(|k| signal(k).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_removed_unless_kept() {
        let d = Draft::create("prod.txt", b"x = 1\n").unwrap();
        let path = d.path().to_path_buf();
        let dir = path.parent().unwrap().to_path_buf();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        drop(d);
        assert!(!path.exists() && !dir.exists());

        let d = Draft::create("prod.txt", b"x = 1\n").unwrap();
        let kept = d.keep();
        assert_eq!(std::fs::read(&kept).unwrap(), b"x = 1\n");
        Draft::adopt(&kept).unwrap().discard();
        assert!(!kept.exists() && !kept.parent().unwrap().exists());
    }
}
