//! Where the master connections' control sockets live: one private, short-named
//! directory per ordo process, shared by every ssh host of the run.

use std::io;
use std::path::{Path, PathBuf};

/// A new, unguessable control directory name for this process. Kept short:
/// the socket ends up at `<dir>/.ssh-connectionXXXXXX/master`, ssh binds it under a
/// name 17 bytes longer still, and `sun_path` holds only 104–108 bytes.
pub(crate) fn fresh_control_dir() -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() <= 40 {
        base
    } else {
        PathBuf::from("/tmp")
    };
    base.join(format!(
        "ordo-{}-{:012x}",
        std::process::id(),
        h.finish() & 0xffff_ffff_ffff
    ))
}

/// Creates the control directory, private to us. Every ssh host of the run shares
/// it, so "already exists" is normal, but only as a real directory nobody else
/// can enter: the sockets in it give a shell on the hosts.
pub(crate) fn ensure_control_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir)?;
            if meta.is_dir() && meta.permissions().mode() & 0o077 == 0 {
                Ok(())
            } else {
                Err(io::Error::other("it exists and is not a private directory"))
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_dir_fits_a_socket_path() {
        let dir = fresh_control_dir();
        // + "/.ssh-connectionXXXXXX/master" + ssh's temporary 17-byte suffix
        assert!(dir.as_os_str().len() + 30 + 17 < 104, "{}", dir.display());
        assert_ne!(dir, fresh_control_dir());
    }
}
