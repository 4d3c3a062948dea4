//! The ssh transport. Each host gets one OpenSSH master connection for the whole
//! run, and every script travels over it through the ControlMaster protocol
//! (`openssh` native mux). Scripts then cost a round trip each, with no new
//! handshake and no local process per command. The system `ssh` does the
//! connecting, so `ssh_config`, agents, `known_hosts` and jump hosts behave
//! exactly as they do for `ssh` itself. The price is that its failures reach us as
//! log text, which [`Failure::classify`] turns into messages that name the host
//! and say what to do.

use std::io;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use openssh::{Child, ControlPersist, KnownHosts, Session, SessionBuilder, Stdio};
use tokio::sync::Semaphore;

mod control_dir;
mod failure;
mod hold;
mod stop;
mod watchdog;

use super::error::{ExecError, Stopped, sudo_refusal};
use super::options::ExecOptions;
use super::output::{Overflow, RunOutput, converse, drive};
use super::{BoxFuture, SshOptions, Transport, prelude};
use crate::problem::{Kind, Problem};

use control_dir::ensure_control_dir;
pub(crate) use control_dir::fresh_control_dir;
use failure::{Failure, describe};
use hold::{Hold, PERSIST_IDLE_SECS};
use stop::{Remote, stop_remote};

/// sshd's `MaxSessions` defaults to 10 channels per connection; past that, new
/// commands fail instead of waiting. Staying below it leaves room for an extra
/// channel, such as sftp, on the same master.
const MAX_COMMANDS: usize = 8;

/// Channels that stop scripts, on top of `MAX_COMMANDS` (still below 10).
const STOP_CHANNELS: usize = 1;

/// sshd closes finished sessions a moment after the client saw them end, so
/// under load it may still count them against MaxSessions and refuse a new
/// one. Nothing ran yet: try again a few times before calling it a failure.
const SESSION_RETRIES: [Duration; 4] = [
    Duration::from_millis(20),
    Duration::from_millis(60),
    Duration::from_millis(150),
    Duration::from_millis(400),
];

/// Pauses before the 2nd and 3rd connection attempts. Only failures that a
/// restarting sshd or a busy network cause are retried (see `Failure::transient`).
const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(600)];

/// Lets ssh notice a host that went silent (`ServerAliveCountMax` 3 → 45 s)
/// instead of hanging on it forever.
const SERVER_ALIVE: Duration = Duration::from_secs(15);

pub struct Ssh {
    name: String,
    destination: String,
    port: Option<u16>,
    user: Option<String>,
    options: SshOptions,
    /// Shared with running commands (each holds a clone), so the master outlives
    /// them even when `close` runs early.
    session: Mutex<Option<Arc<Session>>>,
    /// Keeps the master alive while ordo lives, and only that long (`hold.rs`).
    hold: Mutex<Option<Hold>>,
    slots: Semaphore,
    /// Channels for stopping timed-out or cancelled scripts, apart from `slots`:
    /// those may all be taken by the very scripts to stop.
    stop_slots: Arc<Semaphore>,
}

impl Ssh {
    pub(crate) fn new(
        name: &str,
        destination: &str,
        port: Option<u16>,
        user: Option<&str>,
        options: SshOptions,
    ) -> Self {
        Ssh {
            name: name.to_string(),
            destination: destination.to_string(),
            port,
            user: user.map(ToString::to_string),
            options,
            session: Mutex::new(None),
            hold: Mutex::new(None),
            slots: Semaphore::new(MAX_COMMANDS),
            stop_slots: Arc::new(Semaphore::new(STOP_CHANNELS)),
        }
    }

    fn builder(&self) -> SessionBuilder {
        let mut b = SessionBuilder::default();
        b.known_hosts_check(if self.options.accept_new_host_keys {
            KnownHosts::Add
        } else {
            KnownHosts::Strict
        })
        .control_directory(&self.options.control_dir)
        .connect_timeout(self.options.connect_timeout)
        .server_alive_interval(SERVER_ALIVE)
        .control_persist(ControlPersist::IdleFor(
            NonZeroUsize::new(PERSIST_IDLE_SECS).expect("non-zero"),
        ));
        if let Some(config) = &self.options.config_file {
            b.config_file(config);
        }
        if let Some(user) = &self.user {
            b.user(user.clone());
        }
        if let Some(port) = self.port {
            b.port(port);
        }
        b
    }

    async fn open(&self) -> Result<(), Problem> {
        super::leftovers::clean_once();
        if let Some(base) = self.options.control_dir.parent() {
            watchdog::ensure_watchdog(base);
        }
        ensure_control_dir(&self.options.control_dir).map_err(|e| {
            Problem::new(
                Kind::Connect,
                format!("host `{}`: cannot create the ssh control directory {}: {e}", self.name, self.options.control_dir.display()),
            )
            .help("ordo keeps its ssh control sockets in a fresh directory under /tmp (or $TMPDIR); make sure it is writable")
        })?;
        let builder = self.builder();
        let mut delays = RETRY_DELAYS.iter();
        loop {
            let failure = match builder.connect_mux(&self.destination).await {
                Ok(session) => {
                    let hold = Hold::connect(session.control_socket()).map_err(|e| {
                        Problem::new(
                            Kind::Connect,
                            format!(
                                "host `{}`: cannot hold the ssh master's control connection: {e}",
                                self.name
                            ),
                        )
                        .help("the master ssh process ended right after it started; `ssh -v` to the host may say why")
                    });
                    *self.session.lock().expect("session lock") = Some(Arc::new(session));
                    *self.hold.lock().expect("hold lock") = Some(hold?);
                    return Ok(());
                }
                // Another host's master closing before the run ends (a fleet's
                // waves, decision 64) removes the shared directory when it was
                // the last one in it: make it again and retry.
                Err(e)
                    if !self.options.control_dir.is_dir() && ensure_control_dir(&self.options.control_dir).is_ok() =>
                {
                    if delays.next().is_some() {
                        continue;
                    }
                    Failure::from_error(&e)
                }
                Err(e) => Failure::from_error(&e),
            };
            match delays.next() {
                Some(delay) if failure.transient() => tokio::time::sleep(*delay).await,
                _ => return Err(self.problem(failure)),
            }
        }
    }

    async fn run(&self, script: String, options: &ExecOptions) -> Result<RunOutput, ExecError> {
        let session = self.session.lock().expect("session lock").clone().ok_or_else(|| {
            Problem::new(
                Kind::Connect,
                format!(
                    "host `{}`: a script was sent before connecting (a bug in ordo)",
                    self.name
                ),
            )
        })?;
        let _slot = tokio::select! {
            slot = self.slots.acquire() => slot.expect("the semaphore is never closed"),
            () = cancelled(options) => {
                return Err(ExecError::Cancelled { host: self.name.clone(), stopped: Stopped::All });
            }
        };
        let mut child = spawn(&session, remote_command(options.privileged))
            .await
            .map_err(|(lost, e)| ExecError::Failed(self.exec_problem(lost, &e)))?;
        let reported = Arc::new(OnceLock::new());
        // Stops the script if this future is dropped half-way.
        let mut guard = Remote {
            session: Arc::clone(&session),
            pgid: Arc::clone(&reported),
            privileged: options.privileged,
            stop_slots: Arc::clone(&self.stop_slots),
            armed: true,
        };
        let (stdin, stdout, stderr) = (child.stdin().take(), child.stdout().take(), child.stderr().take());
        let prelude = prelude::prelude(options.privileged);
        let overflow = Overflow::default();
        let (prelude, script, found, over) = (&prelude, &script, &*reported, &overflow);
        let work = async move {
            let streams = converse(
                [prelude.as_bytes(), script.as_bytes()],
                stdin,
                stdout,
                stderr,
                options,
                found,
                over,
            )
            .await?;
            // After the streams: openssh's `wait` cuts them off when it returns.
            Ok((streams, child.wait().await))
        };
        let (stop_session, stop_slots, guard_ref) = (Arc::clone(&session), &self.stop_slots, &mut guard);
        let reported_ref = &*reported;
        let stop = move || async move {
            let stopped = match reported_ref.get() {
                Some(&pgid) => stop_remote(stop_session, pgid, options.privileged, stop_slots).await,
                None => Stopped::Unsure("it had not reported its process group yet".into()),
            };
            // Only now: dropped half-way, the guard stops it again.
            guard_ref.armed = false;
            stopped
        };
        let result = drive(work, options, &overflow, stop).await;
        let ((out, err), status) = match result {
            Ok(done) => done,
            Err((stop, stopped)) => return Err(ExecError::from_stop(&self.name, stop, options, stopped)),
        };
        guard.armed = false;
        let code = match status {
            Ok(status) => status.code().unwrap_or(-1),
            // openssh turns exit status 127 into an error; for `sh -s` it is just the
            // script's status ("command not found"), like any other.
            Err(openssh::Error::Remote(e)) if e.kind() == io::ErrorKind::NotFound => 127,
            Err(e) => {
                let lost = lost(&session).await;
                if lost || !matches!(e, openssh::Error::RemoteProcessTerminated) {
                    return Err(ExecError::Failed(self.exec_problem(lost, &e)));
                }
                // The connection is fine, so a signal killed the shell: report it
                // like the local transport does, as a failed script.
                -1
            }
        };
        if options.privileged
            && reported.get().is_none()
            && code != 0
            && let Some(said) = sudo_refusal(&err.text)
        {
            return Err(ExecError::SudoRefused {
                host: self.name.clone(),
                user: self.login_user(&session).await,
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

    /// Who we log in as, for the sudoers line of a help text.
    async fn login_user(&self, session: &Arc<Session>) -> String {
        if let Some(user) = &self.user {
            return user.clone();
        }
        let out = Session::to_command(Arc::clone(session), "id").arg("-un").output().await;
        match out {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
            _ => "<login user>".into(),
        }
    }

    fn exec_problem(&self, lost: bool, error: &openssh::Error) -> Problem {
        if lost {
            return Problem::new(Kind::Connect, format!("lost the connection to host `{}`", self.name)).help(
                "the host went down or rebooted, or the network dropped; the script may have stopped \
                 half-way. Check the host, then deploy again: steps that are already done are skipped",
            );
        }
        Problem::new(
            Kind::Connect,
            format!(
                "host `{}`: running a script over ssh failed: {}",
                self.name,
                describe(error)
            ),
        )
        .help("the connection is still up; the ssh log on the host (journalctl -u ssh) may say more")
    }
}

impl Transport for Ssh {
    fn connect(&self) -> BoxFuture<'_, Result<(), Problem>> {
        Box::pin(self.open())
    }

    fn exec<'a>(&'a self, script: String, options: &'a ExecOptions) -> BoxFuture<'a, Result<RunOutput, ExecError>> {
        Box::pin(self.run(script, options))
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let session = self.session.lock().expect("session lock").take();
            // With commands still holding a clone, the last of them drops the
            // session, and `Session`'s own `Drop` stops the master then.
            if let Some(Ok(session)) = session.map(Arc::try_unwrap) {
                let _ = session.close().await;
            }
            // Running commands keep the master alive until they end; without them
            // it exits now (closed) or seconds later.
            drop(self.hold.lock().expect("hold lock").take());
            let _ = std::fs::remove_dir(&self.options.control_dir);
        })
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        // `Session`'s `Drop` asks the master to exit and removes its socket
        // directory; do that first, so the shared control directory can go when
        // this was the last host using it (`remove_dir` fails while others are).
        drop(self.session.lock().map(|mut s| s.take()));
        drop(self.hold.lock().map(|mut h| h.take()));
        let _ = std::fs::remove_dir(&self.options.control_dir);
    }
}

/// The command sshd hands to the login shell. `exec`: the script's shell is then
/// sshd's own child, which sshd made a session (and process group) leader, so
/// the group is exactly the script's, and when sshd goes away the watchdog sees
/// its parent gone.
fn remote_command(privileged: bool) -> &'static [&'static str] {
    if privileged {
        // Logged in as root, there is nothing to gain: root needs no sudo, and a
        // host without sudo must not fail what the probe found possible.
        &[
            "exec",
            "sh",
            "-c",
            "if [ \"$(id -u)\" = 0 ]; then exec /bin/sh -s; else exec sudo -n /bin/sh -s; fi",
        ]
    } else {
        &["exec", "sh", "-s"]
    }
}

async fn cancelled(options: &ExecOptions) {
    match &options.cancel {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Opens a channel running `words`, with all three streams piped. `Err` says
/// whether the master is gone, with the last error.
async fn spawn(session: &Arc<Session>, words: &[&str]) -> Result<Child<Arc<Session>>, (bool, openssh::Error)> {
    let mut command = Session::to_command(Arc::clone(session), words[0]);
    command
        .args(&words[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut attempt = 0;
    loop {
        match command.spawn().await {
            Ok(child) => return Ok(child),
            Err(e) => {
                let lost = lost(session).await;
                if lost || attempt >= SESSION_RETRIES.len() {
                    return Err((lost, e));
                }
                tokio::time::sleep(SESSION_RETRIES[attempt]).await;
                attempt += 1;
            }
        }
    }
}

/// Whether the master connection is gone. The multiplex protocol cannot tell
/// a killed process from a dropped connection, so ask the master itself.
async fn lost(session: &Session) -> bool {
    // The master may need a moment to notice that its TCP connection is gone.
    tokio::time::sleep(Duration::from_millis(100)).await;
    session.check().await.is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(timeout: Duration) -> SshOptions {
        SshOptions {
            accept_new_host_keys: false,
            config_file: None,
            control_dir: fresh_control_dir(),
            connect_timeout: timeout,
        }
    }

    #[tokio::test]
    async fn refused_connection_is_retried_then_named() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ssh = Ssh::new("web1", "127.0.0.1", Some(port), None, options(Duration::from_secs(2)));
        let started = std::time::Instant::now();
        let err = ssh.open().await.unwrap_err();
        assert!(
            err.message.contains("host `web1`") && err.message.contains(&format!("127.0.0.1 port {port} refused")),
            "{}",
            err.message
        );
        // Two pauses (200 + 600 ms) show that it tried three times.
        assert!(
            started.elapsed() >= Duration::from_millis(800),
            "{:?}",
            started.elapsed()
        );
        assert!(
            ssh.exec("true".into(), &ExecOptions::default()).await.is_err(),
            "exec before a successful connect"
        );
        drop(ssh);
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        // Accepts TCP but never says hello: ssh's ConnectTimeout covers the banner.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let ssh = Ssh::new("db", "127.0.0.1", Some(port), None, options(Duration::from_secs(1)));
        let err = ssh.open().await.unwrap_err();
        assert!(
            err.message.contains("host `db`") && err.message.contains("timed out"),
            "{}",
            err.message
        );
        drop(listener);
    }

    #[tokio::test]
    async fn unresolvable_name_is_named() {
        let ssh = Ssh::new("ghost", "ghost.invalid", None, None, options(Duration::from_secs(2)));
        let err = ssh.open().await.unwrap_err();
        assert!(
            err.message.contains("host `ghost`: could not resolve `ghost.invalid`"),
            "{}",
            err.message
        );
    }
}
