//! Completion of every step, shared by the host tasks of an apply: a step may start
//! when the changed steps it depends on (on other hosts) are done.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::exec::{Catalog, RunStep};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Waiting,
    Done,
    Failed,
}

pub(super) struct Board {
    catalog: Arc<Catalog>,
    /// By [`Catalog::slot`].
    status: Mutex<Vec<Status>>,
    notify: Notify,
}

impl Board {
    /// The steps in `changed` have something to do (the others count as done).
    pub(super) fn new(catalog: Arc<Catalog>, changed: impl Iterator<Item = RunStep>) -> Self {
        let mut status = vec![Status::Done; catalog.len()];
        for s in changed {
            status[catalog.slot(s)] = Status::Waiting;
        }
        Board {
            catalog,
            status: Mutex::new(status),
            notify: Notify::new(),
        }
    }

    pub(super) fn set(&self, s: RunStep, st: Status) {
        self.status.lock().expect("board")[self.catalog.slot(s)] = st;
        self.notify.notify_waiters();
    }

    /// Waits until none of `deps` is still waiting; the ones that failed.
    pub(super) async fn settled(&self, deps: &[RunStep]) -> Vec<RunStep> {
        loop {
            let notified = self.notify.notified();
            {
                let status = self.status.lock().expect("board");
                let of = |d: &RunStep| status[self.catalog.slot(*d)];
                if deps.iter().all(|d| of(d) != Status::Waiting) {
                    return deps.iter().copied().filter(|d| of(d) == Status::Failed).collect();
                }
            }
            notified.await;
        }
    }

    pub(super) fn ready(&self, deps: &[RunStep]) -> bool {
        let status = self.status.lock().expect("board");
        deps.iter().all(|d| status[self.catalog.slot(*d)] == Status::Done)
    }
}
