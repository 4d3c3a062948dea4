//! A watchdog that ends this run's ssh masters when ordo is gone, however it
//! ended. A master with a command still running does not end by itself when ordo
//! dies: the command's channel stays open (sshd keeps a session without a
//! terminal open while its process lives), so `ControlPersist` never counts it
//! idle (`hold.rs`), and the command runs on under a connection nobody reads.
//!
//! The watchdog is one `sh` per run, started with the first master, in a process
//! group of its own (Ctrl-C and a closed terminal do not reach it) and with
//! nothing of ordo's output. It blocks reading a pipe whose other end only ordo
//! holds (close-on-exec, so no other child keeps it open): when ordo ends — after
//! `close`, on a panic, or by SIGKILL — the read returns, and it asks every master
//! still listening in this run's control directories to exit (`ssh -O exit`,
//! over the socket: only that master can answer) and removes the directories.
//! Ended masters drop their connections; sshd ends the sessions, and the
//! prelude's watchdog on each host stops what still ran there. After a normal
//! run the masters are closed already, and the watchdog just exits.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;

/// `$1` the directory holding control directories, `$2` ordo's pid.
const SCRIPT: &str = r#"read -r _ 2>/dev/null
for s in "$1"/ordo-"$2"-*/.ssh-connection*/master; do
  [ -S "$s" ] && ssh -F /dev/null -o BatchMode=yes -S "$s" -O exit ordo-master >/dev/null 2>&1
done
rm -rf -- "$1"/ordo-"$2"-*
"#;

/// The pipe's end ordo holds until it exits, once a watchdog runs.
static WATCHED: Mutex<Option<ChildStdin>> = Mutex::new(None);

/// Starts the watchdog for control directories in `base` (once per process).
/// Without one (no `sh`), a killed run's idle masters still end by themselves
/// and the next run removes the directories; busy ones live until their
/// command ends.
pub(super) fn ensure_watchdog(base: &Path) {
    let mut watched = WATCHED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if watched.is_some() {
        return;
    }
    let child = Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("sh")
        .arg(base)
        .arg(std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    if let Ok(mut child) = child {
        *watched = child.stdin.take();
        // Reaped by nobody while ordo runs (it does not end before ordo), and by
        // init after.
        std::mem::forget(child);
    }
}
