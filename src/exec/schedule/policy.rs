//! What a failure does to the rest of an apply: a failed step stops its host (the
//! rest of its steps are skipped) and every step on another host that depends on
//! it is skipped; independent hosts finish. The one exception is a rolling update
//! (`rollout.rs`): a later batch goes on while no more than `max_failures` hosts
//! of earlier batches failed.

/// Why the rest of a host's steps are skipped.
#[derive(Clone, Debug)]
pub(super) enum Stop {
    /// A step of this host failed.
    Failed(String),
    /// A step on another host that these depend on failed.
    Upstream(String),
}

impl Stop {
    pub(super) fn reason(&self) -> &str {
        match self {
            Stop::Failed(r) | Stop::Upstream(r) => r,
        }
    }
}

/// The policy of a run.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Policy;

impl Policy {
    /// A step of this host failed: the host stops.
    pub(super) fn on_failure(self, breadcrumb: &str) -> Stop {
        Stop::Failed(format!("{breadcrumb} failed"))
    }
}
