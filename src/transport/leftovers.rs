//! What a run that died without cleaning up (SIGKILL, a power cut) left on this
//! machine, removed by the next run that reaches a host: the ssh control directory
//! `ordo-<pid>-<hex>` (the master's socket directory and log in it) and the empty
//! working directories `ordo-cwd-<pid>-…` of local scripts, in the temporary
//! directory. Only directories of this user, of a process that no longer exists,
//! and — for a control directory — without a master still listening (a killed
//! run's master ends by itself seconds later, see `ssh/hold.rs`; the run after
//! that removes its directory).

use std::path::{Path, PathBuf};
use std::sync::Once;

use rustix::process::{Pid, test_kill_process};

/// Cleans the temporary directories once per process; cheap (one `readdir`).
pub(crate) fn clean_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut bases = vec![std::env::temp_dir(), PathBuf::from("/tmp")];
        bases.dedup();
        for base in bases {
            clean(&base);
        }
    });
}

/// Removes the leftovers of dead runs in `base`; returns what it removed.
pub(crate) fn clean(base: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(leftover) = name.to_str().and_then(parse) else {
            continue;
        };
        let path = entry.path();
        // A real directory of ours, not a link someone put there.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me || alive(leftover.pid) {
            continue;
        }
        if leftover.control && master_answers(&path) {
            continue;
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

struct Leftover {
    pid: i32,
    /// An ssh control directory (else a local script's working directory).
    control: bool,
}

/// `ordo-<pid>-<12 hex>` (control directory) or `ordo-cwd-<pid>-<rest>`.
fn parse(name: &str) -> Option<Leftover> {
    let rest = name.strip_prefix("ordo-")?;
    let (control, rest) = match rest.strip_prefix("cwd-") {
        Some(rest) => (false, rest),
        None => (true, rest),
    };
    let (pid, tail) = rest.split_once('-')?;
    let pid: i32 = pid.parse().ok().filter(|&p| p > 1)?;
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let shaped = if control {
        tail.len() == 12 && hex(tail)
    } else {
        tail.split('-').all(hex)
    };
    shaped.then_some(Leftover { pid, control })
}

/// Whether process `pid` exists (one we may not signal exists too).
fn alive(pid: i32) -> bool {
    let Some(pid) = Pid::from_raw(pid) else {
        return false;
    };
    !matches!(test_kill_process(pid), Err(rustix::io::Errno::SRCH))
}

/// Whether a master still listens on a socket in the control directory. Asked of
/// the kernel's table of Unix sockets, not by connecting: a master counts every
/// connection as a client, and each one would restart its `ControlPersist` timer —
/// runs starting every few seconds would keep a dead run's master alive for ever.
/// Without the table (no `/proc`), the directory is kept.
fn master_answers(dir: &Path) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else {
        return true;
    };
    let listening = listening_paths(&table);
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| listening.contains(e.path().join("master").as_os_str().to_string_lossy().as_ref()))
}

/// The paths of listening sockets in `/proc/net/unix` (`Num RefCount Protocol Flags
/// Type St Inode Path`; a listening socket has `__SO_ACCEPTCON`, 0x10000, in its flags).
fn listening_paths(table: &str) -> std::collections::HashSet<&str> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.splitn(8, ' ').filter(|f| !f.is_empty());
            let flags = fields.nth(3)?;
            let path = line.rsplit_once(' ')?.1;
            let flags = u32::from_str_radix(flags, 16).ok()?;
            (flags & 0x0001_0000 != 0 && path.starts_with('/')).then_some(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_is_found_in_the_kernels_table_without_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("master");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let table = std::fs::read_to_string("/proc/net/unix").unwrap();
        assert!(listening_paths(&table).contains(sock.to_str().unwrap()));
        // The directory holding `<sub>/master` answers while the socket listens …
        let control = tempfile::tempdir().unwrap();
        std::fs::create_dir(control.path().join(".ssh-connectionX")).unwrap();
        let sock = control.path().join(".ssh-connectionX/master");
        let l2 = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(master_answers(control.path()));
        // … and not once it is closed (the file stays, nothing listens).
        drop(l2);
        assert!(!master_answers(control.path()));
        drop(listener);
    }

    #[test]
    fn names_of_leftovers() {
        assert!(parse("ordo-4242-0123456789ab").is_some_and(|l| l.control && l.pid == 4242));
        assert!(parse("ordo-cwd-4242-1a2b-0").is_some_and(|l| !l.control && l.pid == 4242));
        for other in [
            "ordo-test123",
            "ordo-4242-xyz",
            "ordo-1-0123456789ab",
            "ordo-4242-0123",
            "ordo-sshdAbc",
            "tmp.x",
        ] {
            assert!(parse(other).is_none(), "{other}");
        }
    }

    #[test]
    fn only_dead_runs_directories_of_ours_are_removed() {
        let base = tempfile::tempdir().unwrap();
        // A pid that is surely free: past the kernel's limit.
        let dead = 4_194_305;
        let me = std::process::id();
        let make = |name: &str| {
            let dir = base.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            std::fs::create_dir(dir.join(".ssh-connectionAbc123")).unwrap();
            std::fs::write(dir.join(".ssh-connectionAbc123/log"), "x").unwrap();
            dir
        };
        let control = make(&format!("ordo-{dead}-0123456789ab"));
        let cwd = make(&format!("ordo-cwd-{dead}-1f-0"));
        let live = make(&format!("ordo-{me}-0123456789ab"));
        let other = make("ordo-test-unrelated");
        let target = make("elsewhere");
        std::os::unix::fs::symlink(&target, base.path().join(format!("ordo-{dead}-aaaaaaaaaaaa"))).unwrap();
        let mut removed = clean(base.path());
        removed.sort();
        let mut expected = vec![control, cwd];
        expected.sort();
        assert_eq!(removed, expected);
        assert!(live.exists() && other.exists() && target.exists());
    }
}
