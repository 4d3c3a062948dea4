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
/// Any listening socket bound inside the directory counts: OpenSSH binds its
/// control socket as `master.<random>` and links it to `master` afterwards, and
/// the table keeps the name it was bound with (looking for `…/master` found no
/// live master ever, and a killed run's directory was removed under a master
/// still running its command — so its watchdog could no longer end it). Without
/// the table (no `/proc`), the directory is kept.
fn master_answers(dir: &Path) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else {
        return true;
    };
    listening_paths(&table).iter().any(|p| Path::new(p).starts_with(dir))
}

/// The paths of listening sockets in `/proc/net/unix`: `Num: RefCount Protocol
/// Flags Type St Inode Path`, the inode padded to five columns and the path after
/// one space, verbatim (spaces included); a listening socket has
/// `__SO_ACCEPTCON`, 0x10000, in its flags.
fn listening_paths(table: &str) -> Vec<&str> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut rest = line;
            let mut fields = [""; 7];
            for f in &mut fields {
                rest = rest.trim_start_matches(' ');
                let end = rest.find(' ').unwrap_or(rest.len());
                *f = &rest[..end];
                rest = &rest[end..];
            }
            let path = rest.strip_prefix(' ')?;
            let flags = u32::from_str_radix(fields[3], 16).ok()?;
            (flags & 0x0001_0000 != 0 && path.starts_with('/')).then_some(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_is_found_in_the_kernels_table_without_connecting() {
        // A directory with a space, as a TMPDIR may have.
        let dir = tempfile::Builder::new().prefix("ordo test ").tempdir().unwrap();
        let sock = dir.path().join("a socket");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let table = std::fs::read_to_string("/proc/net/unix").unwrap();
        assert!(listening_paths(&table).contains(&sock.to_str().unwrap()));
        drop(listener);
    }

    #[test]
    fn a_master_bound_the_way_openssh_binds_it_answers_until_it_closes() {
        // OpenSSH binds `master.<random>`, listens, links it to `master` and
        // removes the temporary name: the kernel's table keeps the bound name.
        let control = tempfile::tempdir().unwrap();
        let sub = control.path().join(".ssh-connectionX");
        std::fs::create_dir(&sub).unwrap();
        let bound = sub.join("master.vHSAgrDzL9MdtYGx");
        let master = std::os::unix::net::UnixListener::bind(&bound).unwrap();
        std::fs::hard_link(&bound, sub.join("master")).unwrap();
        std::fs::remove_file(&bound).unwrap();
        assert!(master_answers(control.path()));
        // A directory beside it whose name starts the same is not it.
        let beside = std::path::PathBuf::from(format!("{}x", control.path().display()));
        assert!(!master_answers(&beside));
        // Not once it is closed (the file stays, nothing listens).
        drop(master);
        assert!(!master_answers(control.path()));
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
