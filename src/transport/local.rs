//! The local transport: `sh -s` on this machine as the current user, with `HOME`
//! pointing at the host's home directory, so several "hosts" can live side by side
//! in separate directories (how multi-host plans are tested without SSH).
//!
//! Each script gets a process group of its own, so that a timeout, a cancel or a
//! dropped future stops it together with everything it started.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
use tokio::process::Command;

use super::error::sudo_refusal;
use super::error::{ExecError, Stopped};
use super::options::ExecOptions;
use super::output::{Overflow, RunOutput, converse, drive};
use super::{BoxFuture, Transport, prelude};
use crate::problem::{Kind, Problem};

pub struct Local {
    name: String,
    home: PathBuf,
}

impl Local {
    pub fn new(name: &str, home: PathBuf) -> Self {
        Local {
            name: name.to_string(),
            home,
        }
    }

    async fn run(&self, script: String, options: &ExecOptions) -> Result<RunOutput, ExecError> {
        // Root needs no sudo, and may not have it.
        let sudo = options.privileged && !rustix::process::geteuid().is_root();
        let mut command = if sudo {
            let mut c = Command::new("sudo");
            c.args(["-n", "/bin/sh", "-s"]);
            c
        } else {
            let mut c = Command::new("sh");
            c.arg("-s");
            c
        };
        // A host never deployed has no home yet: its scripts start in an empty
        // directory of their own, never in `/`, where a relative path in a user's
        // command would reach this machine's real files.
        let scratch = if self.home.is_dir() {
            None
        } else {
            Some(Scratch::new().map_err(|e| {
                ExecError::Failed(Problem::new(
                    Kind::Connect,
                    format!("host `{}`: cannot create a working directory: {e}", self.name),
                ))
            })?)
        };
        command
            .current_dir(scratch.as_ref().map_or(self.home.as_path(), |s| s.0.as_path()))
            .env("HOME", &self.home)
            // `main` took them out of ordo's environment; a library user may not have.
            .env_remove(crate::sys::KEY_VARIABLES[0])
            .env_remove(crate::sys::KEY_VARIABLES[1])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) if sudo && e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ExecError::SudoRefused {
                    host: self.name.clone(),
                    user: crate::sys::current_user(),
                    said: "sudo: not found".into(),
                });
            }
            Err(e) => {
                return Err(ExecError::Failed(Problem::new(
                    Kind::Connect,
                    format!("host `{}`: cannot start sh: {e}", self.name),
                )));
            }
        };
        // The shell leads its own group: the group's id is its pid.
        let mut group = Group {
            pgid: child.id().and_then(|id| i32::try_from(id).ok()).and_then(Pid::from_raw),
            sudo,
            armed: true,
        };
        let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let prelude = prelude::prelude(options.privileged);
        let reported = OnceLock::new();
        let overflow = Overflow::default();
        let work = async {
            let streams = converse(
                [prelude.as_bytes(), script.as_bytes()],
                stdin,
                stdout,
                stderr,
                options,
                &reported,
                &overflow,
            )
            .await;
            // Reaped even when stopped: a zombie shell would keep its group alive.
            let status = child.wait().await;
            Ok((streams?, status))
        };
        let result = drive(work, options, &overflow, || group.stop()).await;
        let ((out, err), status) = match result {
            Ok(done) => done,
            Err((stop, stopped)) => return Err(ExecError::from_stop(&self.name, stop, options, stopped)),
        };
        // Whatever is left in the group now was started on purpose (a daemon).
        group.armed = false;
        let status = status.map_err(|e| {
            ExecError::Failed(Problem::new(
                Kind::Connect,
                format!("host `{}`: sh failed: {e}", self.name),
            ))
        })?;
        let code = status.code().unwrap_or(-1);
        if options.privileged
            && reported.get().is_none()
            && code != 0
            && let Some(said) = sudo_refusal(&err.text)
        {
            return Err(ExecError::SudoRefused {
                host: self.name.clone(),
                user: crate::sys::current_user(),
                said,
            });
        }
        Ok(RunOutput {
            code,
            stdout: out.text,
            stderr: err.text,
            stdout_dropped: out.dropped,
            stderr_dropped: err.dropped,
        })
    }
}

impl Transport for Local {
    /// Nothing to connect. The home directory is created by the first apply that
    /// writes into it (every write does `mkdir -p`), so `ordo plan` leaves no trace.
    fn connect(&self) -> BoxFuture<'_, Result<(), Problem>> {
        Box::pin(async { Ok(()) })
    }

    fn exec<'a>(&'a self, script: String, options: &'a ExecOptions) -> BoxFuture<'a, Result<RunOutput, ExecError>> {
        Box::pin(self.run(script, options))
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// An empty private directory (0700) under the system's temporary directory,
/// removed with what a script left in it when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        super::leftovers::clean_once();
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("ordo-cwd-{}-{nanos:x}-{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Scratch(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The process group of a running script. Stops it when dropped while armed: a
/// caller that gives up on the future must not leave the script running.
struct Group {
    pgid: Option<Pid>,
    /// The script runs as root under sudo, out of reach of our signals.
    sudo: bool,
    armed: bool,
}

impl Group {
    /// SIGTERM to the group, the grace for it to end, SIGKILL to what is left. The
    /// caller keeps reaping the shell meanwhile.
    async fn stop(&mut self) -> Stopped {
        let stopped = self.stop_group().await;
        // Only now: dropped half-way, `Drop` stops it again.
        self.armed = false;
        stopped
    }

    async fn stop_group(&self) -> Stopped {
        let Some(pgid) = self.pgid else {
            return Stopped::Unsure("the shell's process id is unknown".into());
        };
        if self.sudo {
            let pgid = pgid.as_raw_pid().unsigned_abs();
            return tokio::task::spawn_blocking(move || stop_with_sudo(pgid))
                .await
                .unwrap_or_else(|e| Stopped::Unsure(e.to_string()));
        }
        let _ = kill_process_group(pgid, Signal::TERM);
        if gone_within(pgid, Duration::from_secs(prelude::GRACE_SECS.into())).await {
            return Stopped::All;
        }
        let stopped = kill_rest(pgid);
        // SIGKILL takes a moment to land; the caller may look right away.
        gone_within(pgid, Duration::from_secs(1)).await;
        stopped
    }
}

async fn gone_within(pgid: Pid, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if !has_live_member(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let (Some(pgid), true) = (self.pgid, self.armed) else {
            return;
        };
        let sudo = self.sudo;
        // No runtime to wait on in a destructor: a thread waits out the grace.
        std::thread::spawn(move || {
            if sudo {
                stop_with_sudo(pgid.as_raw_pid().unsigned_abs());
                return;
            }
            let _ = kill_process_group(pgid, Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(prelude::GRACE_SECS.into());
            while Instant::now() < deadline && has_live_member(pgid) {
                std::thread::sleep(Duration::from_millis(50));
            }
            kill_rest(pgid);
        });
    }
}

/// Whether a process of group `pgid` is still alive. Zombies do not count: the
/// script's orphans wait for init to reap them, which on many machines takes its
/// time, and the kernel's `kill(-pgid, 0)` answers for them as for live
/// processes. Where `/proc` cannot tell, the kernel's answer.
/// `prelude::stop_script`'s `up` is the same on a host.
fn has_live_member(pgid: Pid) -> bool {
    if test_kill_process_group(pgid).is_err() {
        return false;
    }
    let group = pgid.as_raw_pid().to_string();
    // Whether the process whose `stat` this is is a live member.
    let live = |stat: &str| {
        let mut fields = stat.rsplit_once(") ").map_or("", |(_, rest)| rest).split(' ');
        let (state, _parent, pgrp) = (fields.next(), fields.next(), fields.next());
        pgrp == Some(group.as_str()) && state != Some("Z")
    };
    // The leader first: while it runs, that is the answer, without reading the
    // whole process table.
    if std::fs::read_to_string(format!("/proc/{group}/stat")).is_ok_and(|s| live(&s)) {
        return true;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    let mut seen = false;
    for entry in dir.flatten() {
        if !entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        seen = true;
        if live(&stat) {
            return true;
        }
    }
    // No process read at all: `/proc` is not what it seems, trust the kernel.
    !seen
}

fn kill_rest(pgid: Pid) -> Stopped {
    match kill_process_group(pgid, Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Stopped::All,
        Err(e) => Stopped::Unsure(format!("SIGKILL to its process group failed: {e}")),
    }
}

/// Root's processes need root to stop them: the same `sudo -n /bin/sh -s` that
/// started the script, running the stop script.
fn stop_with_sudo(pgid: u32) -> Stopped {
    use std::io::Write;
    let child = std::process::Command::new("sudo")
        .args(["-n", "/bin/sh", "-s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return Stopped::Unsure(format!("cannot start sudo: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(prelude::stop_script(pgid).as_bytes());
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => Stopped::All,
        Ok(out) => Stopped::Unsure(format!(
            "sudo refused to stop it: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Stopped::Unsure(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
