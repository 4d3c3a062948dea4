//! How one script runs: how long it may take, how much of its output ordo keeps,
//! who sees its lines as they arrive, whether it runs as root, and how a run is
//! cancelled. The controller stays bounded whatever a host prints or however long
//! it hangs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// What ordo keeps of one output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputPolicy {
    /// Everything is needed (ordo's own probe and apply output). More than
    /// `max_bytes` is an error, and the script is stopped.
    Whole { max_bytes: u64 },
    /// Only the end matters (a user's command): keep the last `keep_bytes`, count
    /// what was dropped before them. A text that lost its start begins with
    /// [`CUT`](crate::text::CUT), for the redactor.
    Tail { keep_bytes: u64 },
}

impl OutputPolicy {
    /// The limit of [`ExecOptions::default`]: far above what a probe of thousands of
    /// files prints, far below what would hurt the controller.
    pub const WHOLE_DEFAULT: OutputPolicy = OutputPolicy::Whole {
        max_bytes: 256 * 1024 * 1024,
    };
}

/// One of a script's two output streams, each kept under its own [`OutputPolicy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Why a script was stopped before it finished: it went past one of its bounds
/// (the timeout, the cancel token, a [`OutputPolicy::Whole`] limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    TimedOut,
    Cancelled,
    TooMuchOutput(Stream, u64),
}

/// Receives each line of output as it arrives (without its `\n`; a line longer
/// than 64 KiB arrives in pieces). Called on the task that reads the stream, so it
/// must return quickly: hand the line to a channel, do not wait on anything.
pub type LineSink = Arc<dyn Fn(Stream, &str) + Send + Sync>;

/// Options for [`Connection::exec_with`](super::Connection::exec_with).
#[derive(Clone)]
pub struct ExecOptions {
    /// Counted from the moment the script starts on the host (not while it waits
    /// for a free channel). When it passes, the script and every process it
    /// started are stopped (SIGTERM, then SIGKILL after 2 s).
    pub timeout: Option<Duration>,
    pub stdout: OutputPolicy,
    pub stderr: OutputPolicy,
    pub on_line: Option<LineSink>,
    /// Run the script as root through `sudo -n` (never a password prompt). A local
    /// ordo that already runs as root needs no sudo.
    pub privileged: bool,
    /// Stops the script (like a timeout) when cancelled, also while it waits for a
    /// channel.
    pub cancel: Option<CancelToken>,
}

impl Default for ExecOptions {
    /// No timeout, whole output up to 256 MiB per stream, as the user.
    fn default() -> Self {
        ExecOptions {
            timeout: None,
            stdout: OutputPolicy::WHOLE_DEFAULT,
            stderr: OutputPolicy::WHOLE_DEFAULT,
            on_line: None,
            privileged: false,
            cancel: None,
        }
    }
}

impl ExecOptions {
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The same policy for stdout and stderr.
    #[must_use]
    pub fn output(mut self, policy: OutputPolicy) -> Self {
        self.stdout = policy;
        self.stderr = policy;
        self
    }

    #[must_use]
    pub fn on_line(mut self, sink: impl Fn(Stream, &str) + Send + Sync + 'static) -> Self {
        self.on_line = Some(Arc::new(sink));
        self
    }

    #[must_use]
    pub fn privileged(mut self, privileged: bool) -> Self {
        self.privileged = privileged;
        self
    }

    #[must_use]
    pub fn cancel(mut self, token: &CancelToken) -> Self {
        self.cancel = Some(token.clone());
        self
    }
}

impl fmt::Debug for ExecOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecOptions")
            .field("timeout", &self.timeout)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("on_line", &self.on_line.as_ref().map(|_| "Fn"))
            .field("privileged", &self.privileged)
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// Cancels every script that was given a clone of it, at once and for good (one
/// per run, triggered on SIGINT/SIGTERM/SIGHUP). Cheap to clone.
#[derive(Clone)]
pub struct CancelToken {
    sender: Arc<watch::Sender<bool>>,
}

impl CancelToken {
    pub fn new() -> Self {
        CancelToken {
            sender: Arc::new(watch::Sender::new(false)),
        }
    }

    pub fn cancel(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once [`cancel`](Self::cancel) was called (at once if it already was).
    pub async fn cancelled(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so waiting cannot fail.
        let _ = receiver.wait_for(|cancelled| *cancelled).await;
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CancelToken(cancelled: {})", self.is_cancelled())
    }
}
