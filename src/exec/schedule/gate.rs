//! The order in which a fleet's apply starts. Hosts whose masters are still open
//! after the plan phase go first; the hosts whose masters were closed wait at this
//! gate until each of the first has taken its first script slot, started waiting
//! for another host, or finished. Their masters then open in the slots the first
//! free as they finish, instead of closing a master that is still needed (one more
//! login for that host). Spawning the open hosts first is not enough: the runtime
//! polls the last task spawned first.
//!
//! Nothing waits on a closed host before passing the gate, so it cannot deadlock:
//! an open host passes before it waits for another host's step.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

pub(super) struct Gate {
    /// Open hosts that have not passed yet.
    left: AtomicUsize,
    opened: Notify,
}

impl Gate {
    pub(super) fn new(open: usize) -> Arc<Gate> {
        Arc::new(Gate {
            left: AtomicUsize::new(open),
            opened: Notify::new(),
        })
    }
}

/// A host's part at the gate.
pub(super) enum Role {
    /// No gate (every master open, or none of this run's to close).
    Free,
    /// An open host: the others wait until it passed.
    Opens { gate: Arc<Gate>, passed: AtomicBool },
    /// A closed host: waits until every open host passed.
    Waits(Arc<Gate>),
}

impl Role {
    pub(super) fn opens(gate: &Arc<Gate>) -> Role {
        Role::Opens {
            gate: gate.clone(),
            passed: AtomicBool::new(false),
        }
    }

    /// Waits for this host's turn (only a closed host ever waits).
    pub(super) async fn turn(&self) {
        let Role::Waits(gate) = self else { return };
        loop {
            let opened = gate.opened.notified();
            if gate.left.load(Ordering::SeqCst) == 0 {
                return;
            }
            opened.await;
        }
    }

    /// This open host is under way (once; later calls do nothing).
    pub(super) fn passed(&self) {
        if let Role::Opens { gate, passed } = self
            && !passed.swap(true, Ordering::SeqCst)
            && gate.left.fetch_sub(1, Ordering::SeqCst) == 1
        {
            gate.opened.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn closed_hosts_wait_until_every_open_host_passed() {
        let gate = Gate::new(2);
        let (a, b) = (Role::opens(&gate), Role::opens(&gate));
        let closed = Arc::new(Role::Waits(gate.clone()));
        let c = closed.clone();
        let waiting = tokio::spawn(async move { c.turn().await });
        a.passed();
        a.passed();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "one open host has not passed");
        b.passed();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        // Later turns do not wait; free hosts never do.
        closed.turn().await;
        Role::Free.turn().await;
    }
}
