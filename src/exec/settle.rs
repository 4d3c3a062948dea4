//! A host let go in its probe wave. A deploy keeps every host's lock from its
//! probe until its changes are applied, and a run keeps its connections until the
//! end. A host that has nothing to do needs neither: when its own plan changes
//! nothing, it needs no new record, and no other host can add work to it (the
//! only work added after every host is probed is a rolling update's hooks), its
//! lock is released and its master closed right after its verify. A fleet's no-op
//! deploy then holds a master only while a host is being probed — one login per
//! host, as few masters as `--jobs` — instead of all of them until the end
//! (decision 64).
//!
//! That changes nothing another host relies on: a host's lock is released when
//! its own last script ran, whatever the others still do; this host's last script
//! is its unlock. It ends the host's deploy-history entry there, as every unlock
//! does (decision 58): `ok`, nothing changed — what the run found and did on
//! that host, whatever the others still do. `ordo plan` takes no lock and applies
//! nothing, so every host is let go once verified.

use std::collections::HashSet;

use super::history::{Ending, Outcome};
use super::hosts::HostRun;
use super::lock;
use super::lock::Locking;
use super::state::HostState;
use crate::model::{HostId, Model};

/// What decides whether a host is let go in its wave.
pub(super) struct Settle {
    /// The deploy's locks (`None`: a plan, which takes none).
    pub(super) locking: Option<Locking>,
    /// What each host records at the end (`None`: nothing is recorded).
    pub(super) record: Option<HostState>,
    /// Hosts that run a rolling update's hooks: whether they do is known only
    /// once every host is probed.
    hooks: HashSet<HostId>,
    /// Retired hosts: a deploy's last script on one removes its lock and state
    /// directory, which must run even when nothing else is planned there.
    retired: HashSet<HostId>,
}

impl Settle {
    pub(super) fn new(model: &Model, locking: Option<Locking>, record: Option<HostState>) -> Self {
        let hooks = model
            .rollings
            .iter()
            .flat_map(|r| r.before.iter().chain(&r.after))
            .flatten()
            .map(|&s| model.steps[s].host)
            .collect();
        let retired = model
            .hosts
            .enumerate()
            .filter(|(_, h)| h.retired)
            .map(|(id, _)| id)
            .collect();
        Settle {
            locking,
            record,
            hooks,
            retired,
        }
    }

    /// Whether a host whose verify found `changes` (declared steps and removals)
    /// and the record `state` is done after its probe.
    pub(super) fn done(&self, host: HostId, changes: usize, state: Option<&HostState>) -> bool {
        if self.locking.is_none() {
            return true;
        }
        let retiring = self.record.is_some() && self.retired.contains(&host);
        changes == 0 && !needs_record(self.record.as_ref(), state) && !self.hooks.contains(&host) && !retiring
    }
}

/// Whether a host whose record is `state` must record `record` at the end.
pub(super) fn needs_record(record: Option<&HostState>, state: Option<&HostState>) -> bool {
    record.is_some_and(|r| state.is_none_or(|s| s.fingerprint != r.fingerprint))
}

/// Lets a host go: ends its history entry (`unchanged` steps, nothing changed),
/// releases its lock (a deploy's) and closes its master. An unlock that fails
/// leaves the lock flagged as held: the end of the run tries again (with the same
/// ending, unless the end line was written already) and reports it. `false`: the
/// history did not take the end line (the caller says so).
pub(super) async fn let_go(model: &Model, r: &HostRun, locking: Option<&Locking>, unchanged: usize) -> bool {
    let mut recorded = true;
    if let Some(l) = locking
        && r.may_hold_lock()
    {
        let mut ending = Ending::not_applied(Outcome::Ok, None);
        ending.unchanged = unchanged;
        let end = match (&l.history, r.history()) {
            (Some(w), Some(p)) if p.begun => w.end_lines(&p, &ending, true, &lock::lock_dir(&model.service)),
            _ => String::new(),
        };
        r.settle(ending);
        let script = lock::unlock_script(&model.service, &l.info.token, &end);
        recorded = !matches!(super::hosts::unlock_one(r, script, &model.service).await, Ok(false));
    }
    r.release().await;
    recorded
}
