//! How scripts reach a host. Everything ordo does on a host is a POSIX shell script
//! sent on the standard input of `sh -s` (never in argv, so file contents and
//! secrets do not show up in process lists), with `$HOME` set to the service user's
//! home. One call is one round trip.

mod local;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use local::Local;

use crate::model::{Host, RunOutput, Transport as TransportSpec};
use crate::problem::{Kind, Problem};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Transport: Send + Sync {
    /// Makes the host usable (connects, checks the home directory).
    fn connect(&self) -> BoxFuture<'_, Result<(), Problem>>;
    /// Runs `script` with `sh -s` on the host; a non-zero exit is not an error here.
    fn exec(&self, script: String) -> BoxFuture<'_, Result<RunOutput, Problem>>;
    /// Releases the connection.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// A transport that counts its round trips, for reports and benchmarks.
pub struct Counted {
    inner: Box<dyn Transport>,
    pub host: String,
    trips: AtomicUsize,
}

impl Counted {
    pub fn round_trips(&self) -> usize {
        self.trips.load(Ordering::Relaxed)
    }

    pub async fn connect(&self) -> Result<(), Problem> {
        self.inner.connect().await
    }

    pub async fn exec(&self, script: String) -> Result<RunOutput, Problem> {
        self.trips.fetch_add(1, Ordering::Relaxed);
        self.inner.exec(script).await
    }

    pub async fn close(&self) {
        self.inner.close().await;
    }
}

/// Opens the transport a host's model asks for.
pub fn for_host(host: &Host) -> Result<Arc<Counted>, Problem> {
    let inner: Box<dyn Transport> = match &host.transport {
        TransportSpec::Local { home } => Box::new(Local::new(&host.name, home.clone())),
        TransportSpec::Ssh { .. } => {
            return Err(Problem::new(
                Kind::Connect,
                format!("host `{}` uses the ssh transport, which this build of ordo cannot use yet", host.name),
            )
            .at(host.span.as_ref(), "declared here")
            .help("use transport: \"local\" for hosts on this machine"));
        }
    };
    Ok(Arc::new(Counted { inner, host: host.name.clone(), trips: AtomicUsize::new(0) }))
}
