//! Completion of every step, shared by the host tasks of an apply: a step may start
//! when the changed steps it depends on (on other hosts) are done.

use std::sync::Mutex;

use tokio::sync::Notify;

use crate::model::StepId;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Waiting,
    Done,
    Failed,
}

pub(super) struct Board {
    status: Mutex<Vec<Status>>,
    notify: Notify,
}

impl Board {
    /// `changed[i]`: step `i` has something to do (the others count as done).
    pub(super) fn new(changed: &[bool]) -> Self {
        Board {
            status: Mutex::new(
                changed
                    .iter()
                    .map(|&c| if c { Status::Waiting } else { Status::Done })
                    .collect(),
            ),
            notify: Notify::new(),
        }
    }

    pub(super) fn set(&self, s: StepId, st: Status) {
        self.status.lock().expect("board")[s.index()] = st;
        self.notify.notify_waiters();
    }

    /// Waits until none of `deps` is still waiting; the ones that failed.
    pub(super) async fn settled(&self, deps: &[StepId]) -> Vec<StepId> {
        loop {
            let notified = self.notify.notified();
            {
                let status = self.status.lock().expect("board");
                if deps.iter().all(|d| status[d.index()] != Status::Waiting) {
                    return deps
                        .iter()
                        .copied()
                        .filter(|d| status[d.index()] == Status::Failed)
                        .collect();
                }
            }
            notified.await;
        }
    }

    pub(super) fn ready(&self, deps: &[StepId]) -> bool {
        let status = self.status.lock().expect("board");
        deps.iter().all(|d| status[d.index()] == Status::Done)
    }
}
