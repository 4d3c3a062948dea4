//! Why a script did not run to its end, typed so that the executor can tell a
//! timeout from Ctrl-C from a refused sudo, and turned into a [`Problem`] (what,
//! which host, what to do) wherever it reaches the user.

use std::fmt;
use std::time::Duration;

use super::options::{ExecOptions, Stop, Stream};
use crate::problem::{Kind, Problem};

/// Whether the processes of a stopped script are known to be gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The script's process group got SIGTERM, then SIGKILL after the grace.
    All,
    /// Stopping it failed (for instance the connection is gone): some of its
    /// processes may still run on the host.
    Unsure(String),
}

#[derive(Clone, Debug)]
pub enum ExecError {
    /// The timeout passed before the script ended.
    TimedOut {
        host: String,
        after: Duration,
        stopped: Stopped,
    },
    /// The run's [`CancelToken`](super::CancelToken) was cancelled.
    Cancelled { host: String, stopped: Stopped },
    /// A stream under [`OutputPolicy::Whole`](super::OutputPolicy::Whole) went
    /// over its limit.
    TooMuchOutput {
        host: String,
        stream: Stream,
        limit: u64,
        stopped: Stopped,
    },
    /// `sudo -n` did not start the privileged script: it wants a password, the
    /// user may not run it, or there is no sudo. `said` is sudo's (or the
    /// shell's) own line.
    SudoRefused { host: String, user: String, said: String },
    /// The transport failed: cannot start the shell, lost connection, …
    Failed(Problem),
}

impl ExecError {
    pub fn problem(&self) -> Problem {
        match self {
            ExecError::TimedOut { host, after, stopped } => Problem::new(
                Kind::Step,
                format!(
                    "host `{host}`: the script did not finish within {}; {}",
                    seconds(*after),
                    stopped_text(stopped)
                ),
            )
            .help("if it needs longer, raise its timeout; otherwise look at what it waits for on the host"),
            ExecError::Cancelled { host, stopped } => Problem::new(
                Kind::Interrupted,
                format!("host `{host}`: cancelled; {}", stopped_text(stopped)),
            )
            .help("steps that finished before stay done; run again to finish the rest"),
            ExecError::TooMuchOutput {
                host,
                stream,
                limit,
                stopped,
            } => Problem::new(
                Kind::Step,
                format!(
                    "host `{host}` sent more than {} of output on {} for one script; {}",
                    bytes(*limit),
                    stream.name(),
                    stopped_text(stopped)
                ),
            )
            .help(
                "ordo keeps all of the output of its own scripts; something on the host prints far more \
                 than expected (a command writing in a loop, a huge file sent to stdout?)",
            ),
            ExecError::SudoRefused { host, user, said } => {
                let missing = said.contains("not found") || said.contains("not installed");
                let message = format!(
                    "host `{host}`: cannot run a privileged script: `sudo -n` {} ({said})",
                    if missing {
                        "is not available"
                    } else {
                        "refused to run it"
                    }
                );
                let rule = format!("{user} ALL=(root) NOPASSWD: /bin/sh -s");
                let help = if missing {
                    format!(
                        "install sudo on the host and allow `{user}` to run ordo's shell as root: \
                         `visudo -f /etc/sudoers.d/ordo`, with the line `{rule}`"
                    )
                } else {
                    format!(
                        "ordo never types passwords: allow `{user}` to run ordo's shell as root without one, \
                         with `visudo -f /etc/sudoers.d/ordo` on the host and the line `{rule}` \
                         (this is root access for `{user}`: give it only to a deployment user){}",
                        if said.contains("tty") {
                            format!(", and `Defaults:{user} !requiretty`")
                        } else {
                            String::new()
                        }
                    )
                };
                Problem::new(Kind::Connect, message).help(help)
            }
            ExecError::Failed(problem) => problem.clone(),
        }
    }

    pub(super) fn from_stop(host: &str, stop: Stop, options: &ExecOptions, stopped: Stopped) -> ExecError {
        let host = host.to_string();
        match stop {
            Stop::TimedOut => ExecError::TimedOut {
                host,
                after: options.timeout.unwrap_or_default(),
                stopped,
            },
            Stop::Cancelled => ExecError::Cancelled { host, stopped },
            Stop::TooMuchOutput(stream, limit) => ExecError::TooMuchOutput {
                host,
                stream,
                limit,
                stopped,
            },
        }
    }

    /// The host the error is about.
    pub fn host(&self) -> Option<&str> {
        match self {
            ExecError::TimedOut { host, .. }
            | ExecError::Cancelled { host, .. }
            | ExecError::TooMuchOutput { host, .. }
            | ExecError::SudoRefused { host, .. } => Some(host),
            ExecError::Failed(_) => None,
        }
    }
}

/// sudo's own complaint, when sudo (not the script) failed: "sudo: a password is
/// required", "sh: 1: exec: sudo: not found", ….
pub(super) fn sudo_refusal(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("sudo:") || l.contains("sudo: not found") || l.contains("sudo: command not found"))
        .map(ToString::to_string)
}

fn stopped_text(stopped: &Stopped) -> String {
    match stopped {
        Stopped::All => "ordo stopped it and every process it started".into(),
        Stopped::Unsure(why) => format!("ordo could not stop it ({why}): its processes may still run on the host"),
    }
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

impl From<ExecError> for Problem {
    fn from(error: ExecError) -> Problem {
        match error {
            ExecError::Failed(problem) => problem,
            other => other.problem(),
        }
    }
}

impl From<Problem> for ExecError {
    fn from(problem: Problem) -> ExecError {
        ExecError::Failed(problem)
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem().message)
    }
}

impl std::error::Error for ExecError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_host_and_the_limit() {
        let e = ExecError::TooMuchOutput {
            host: "web1".into(),
            stream: Stream::Stdout,
            limit: 256 * 1024 * 1024,
            stopped: Stopped::All,
        };
        assert_eq!(
            e.problem().message,
            "host `web1` sent more than 256 MiB of output on stdout for one script; \
             ordo stopped it and every process it started"
        );
        let e = ExecError::TimedOut {
            host: "db".into(),
            after: Duration::from_millis(1500),
            stopped: Stopped::Unsure("lost the connection".into()),
        };
        assert!(
            e.to_string().starts_with(
                "host `db`: the script did not finish within 1.5 s; ordo could not stop it (lost the connection)"
            ),
            "{e}"
        );
        let e = ExecError::SudoRefused {
            host: "lb".into(),
            user: "deploy".into(),
            said: "sudo: a password is required".into(),
        };
        let p = Problem::from(e);
        assert!(p.message.contains("host `lb`") && p.message.contains("sudo: a password is required"));
        assert!(p.help.unwrap().contains("deploy ALL=(root) NOPASSWD: /bin/sh -s"));
    }
}
