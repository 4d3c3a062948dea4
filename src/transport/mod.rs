//! How scripts reach a host. Everything ordo does on a host is a POSIX shell script
//! sent on the standard input of `sh -s` (never in argv, so file contents and
//! secrets do not show up in process lists), with `$HOME` set to the service user's
//! home. One call is one round trip. Every script is bounded ([`ExecOptions`]: a
//! timeout, output limits, cancellation) and stops with its connection: the
//! prelude (`prelude.rs`) in front of it reports its process group and watches
//! its parent.

mod error;
mod leftovers;
mod local;
mod options;
mod output;
mod prelude;
mod ssh;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub use error::{ExecError, Stopped};
pub use local::Local;
pub use options::{CancelToken, ExecOptions, LineSink, OutputPolicy, Stream};
pub use output::RunOutput;
pub use ssh::Ssh;

use crate::problem::Problem;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Transport: Send + Sync {
    /// Makes the host usable (connects, checks the home directory).
    fn connect(&self) -> BoxFuture<'_, Result<(), Problem>>;
    /// Runs `script` with `sh -s` on the host (behind the prelude); a non-zero
    /// exit is not an error here. Dropping the future stops the script.
    fn exec<'a>(&'a self, script: String, options: &'a ExecOptions) -> BoxFuture<'a, Result<RunOutput, ExecError>>;
    /// Releases the connection.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// A transport that counts its round trips, for reports and benchmarks.
pub struct Connection {
    inner: Box<dyn Transport>,
    pub host: String,
    trips: AtomicUsize,
}

impl Connection {
    pub fn new(inner: Box<dyn Transport>, host: &str) -> Self {
        Connection {
            inner,
            host: host.to_string(),
            trips: AtomicUsize::new(0),
        }
    }

    pub fn round_trips(&self) -> usize {
        self.trips.load(Ordering::Relaxed)
    }

    pub async fn connect(&self) -> Result<(), Problem> {
        self.inner.connect().await
    }

    /// Runs `script` with the default options: no timeout, all of the output (up to
    /// 256 MiB per stream), as the login user.
    pub async fn exec(&self, script: String) -> Result<RunOutput, Problem> {
        Ok(self.exec_with(script, &ExecOptions::default()).await?)
    }

    pub async fn exec_with(&self, script: String, options: &ExecOptions) -> Result<RunOutput, ExecError> {
        if options.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            return Err(ExecError::Cancelled {
                host: self.host.clone(),
                stopped: Stopped::All,
            });
        }
        self.trips.fetch_add(1, Ordering::Relaxed);
        self.inner.exec(script, options).await
    }

    pub async fn close(&self) {
        self.inner.close().await;
    }
}

/// How ssh hosts are reached during one run; shared by every ssh host.
#[derive(Clone, Debug)]
pub struct SshOptions {
    /// Trust the key of a host seen for the first time (`accept-new`) instead of
    /// refusing it; a key that changed is refused either way.
    pub accept_new_host_keys: bool,
    /// The project's `ssh_config` (`ssh -F`), which replaces `~/.ssh/config`.
    pub config_file: Option<PathBuf>,
    /// Where the master connections' control sockets live. Created (mode 0700) on
    /// the first connect and removed when the last ssh host is dropped.
    pub control_dir: PathBuf,
    pub connect_timeout: Duration,
}

impl SshOptions {
    /// The options for a project: its `ssh_config` if it has one, strict host keys,
    /// and a fresh control directory for this process. The directory is only named
    /// here, so runs that reach no ssh host leave nothing behind.
    pub fn default_for(project_root: &Path) -> SshOptions {
        let config = project_root.join("ssh_config");
        SshOptions {
            accept_new_host_keys: false,
            config_file: config.is_file().then_some(config),
            control_dir: ssh::fresh_control_dir(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}
