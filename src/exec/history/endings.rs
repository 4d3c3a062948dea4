//! How a run ends on each of its hosts, as far as the deployment knows it: what
//! the plan found (nothing applied yet), what the apply did, and at the end why
//! the rest stopped (interrupted, declined, a host locked). What the hosts'
//! histories get with the release of their locks, and what the hooks after the run
//! are told ([`Ended`]). Kept apart from the transaction so that
//! `exec/deployment.rs` only says when each of these happens.

use std::collections::HashMap;

use super::{Ending, Outcome, Writer};
use crate::exec::hosts::{HostRun, Hosts};
use crate::exec::prediction::{Counts, Prediction};
use crate::exec::schedule::Applied;
use crate::model::HostId;
use crate::problem::{Kind, Problems};

/// How a deployment ended, for what runs after it (the controller's hooks).
#[derive(Clone, Debug)]
pub struct Ended {
    pub run: String,
    /// Each targeted host and how the run ended there (`None`: a deployment that
    /// only looked).
    pub hosts: Vec<(String, Option<Outcome>)>,
    /// The plan's counts, when the plan was made.
    pub counts: Option<Counts>,
    /// The apply began (after the confirmation).
    pub applied: bool,
    /// What the apply did, when it ran.
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// See the module's documentation.
#[derive(Debug, Default)]
pub(crate) struct Endings {
    hosts: HashMap<HostId, Ending>,
    /// Why nothing was applied, when the deployment decided so itself.
    not_applied: Option<String>,
    counts: Option<Counts>,
    began: bool,
    applied: (usize, usize, usize),
}

impl Endings {
    /// The plan was made: each host planned, nothing applied yet.
    pub(crate) fn planned(&mut self, prediction: &Prediction) {
        self.counts = Some(prediction.counts());
        for h in &prediction.hosts {
            let mut e = Ending::not_applied(Outcome::NotApplied, None);
            e.changes = h.planned.len();
            e.unchanged = h.unchanged;
            self.hosts.insert(h.host, e);
        }
    }

    /// Nothing to apply (a partial apply that changes nothing): done, on every host.
    pub(crate) fn nothing_to_apply(&mut self) {
        for e in self.hosts.values_mut() {
            e.result = Outcome::Ok;
        }
    }

    /// The deployment stops before applying, for `why` (declined).
    pub(crate) fn not_applied(&mut self, why: &str) {
        self.not_applied = Some(why.to_string());
    }

    /// The apply begins.
    pub(crate) fn began(&mut self) {
        self.began = true;
    }

    /// The apply is over: a host was interrupted when a step was stopped by
    /// Ctrl-C there, failed when a step failed or was skipped, or a problem names
    /// it; otherwise it is done.
    pub(crate) fn applied(&mut self, hosts: &Hosts, applied: &Applied) {
        self.applied = (applied.changed, applied.failed, applied.skipped);
        for h in hosts.iter() {
            if let Some(e) = h.settled() {
                self.hosts.insert(h.id, e.clone());
                continue;
            }
            let t = applied.per_host.get(&h.id).cloned().unwrap_or_default();
            let mine = || {
                applied
                    .problems
                    .iter()
                    .filter(|p| p.host.as_deref() == Some(h.name.as_str()))
            };
            let troubled = mine().next().is_some();
            let interrupted = mine().any(|p| p.kind == Kind::Interrupted);
            let e = self
                .hosts
                .entry(h.id)
                .or_insert_with(|| Ending::not_applied(Outcome::NotApplied, None));
            e.result = if interrupted {
                Outcome::Interrupted
            } else if t.failed + t.skipped > 0 || troubled {
                Outcome::Failed
            } else {
                Outcome::Ok
            };
            e.changed = t.changed;
            e.failed = t.failed;
            e.skipped = t.skipped;
            e.changed_steps = t.changed_steps;
            e.failed_steps = t.failed_steps;
        }
    }

    /// The deployment is over with `result`: what the apply settled stays; every
    /// other host was interrupted, or had nothing applied and why.
    pub(crate) fn settle(&mut self, hosts: &Hosts, result: Result<(), &Problems>) {
        let why = match result {
            // Ctrl-C before the apply (at the question, say): nothing was applied,
            // and the history says so — a rollback's "current entry" skips it.
            Err(ps) if ps.kind() == Kind::Interrupted && !self.began => Some((
                Outcome::NotApplied,
                Some("interrupted before anything was applied".to_string()),
            )),
            Err(ps) if ps.kind() == Kind::Interrupted => Some((Outcome::Interrupted, None)),
            Err(ps) => Some((
                Outcome::NotApplied,
                Some(self.not_applied.clone().unwrap_or_else(|| why_not_applied(ps))),
            )),
            Ok(()) => self.not_applied.clone().map(|n| (Outcome::NotApplied, Some(n))),
        };
        for h in hosts.iter() {
            if let Some(e) = h.settled() {
                // Let go in its wave: its entry ended then, and so did the run there.
                self.hosts.insert(h.id, e.clone());
                continue;
            }
            let e = self
                .hosts
                .entry(h.id)
                .or_insert_with(|| Ending::not_applied(Outcome::NotApplied, None));
            if let (Some((outcome, note)), Outcome::NotApplied) = (&why, e.result) {
                e.result = *outcome;
                e.note.clone_from(note);
            }
        }
    }

    /// The lines that end each host's entry, for the unlock (`service`'s lock
    /// directory is the run's own there). Nothing for a host whose entry was not
    /// begun, or was ended already (a host let go in its wave whose unlock failed
    /// after the end line).
    pub(crate) fn end_lines<'a>(&'a self, writer: &'a Writer, service: &'a str) -> impl Fn(&HostRun) -> String + 'a {
        move |h: &HostRun| {
            let Some(probed) = h.history().filter(|p| p.begun && !p.ended) else {
                return String::new();
            };
            let ending = h
                .settled()
                .or_else(|| self.hosts.get(&h.id))
                .cloned()
                .unwrap_or_else(|| Ending::not_applied(Outcome::NotApplied, None));
            writer.end_lines(&probed, &ending, true, &crate::exec::lock::lock_dir(service))
        }
    }

    /// How the run ended, for the front end (`applies`: the deployment took locks).
    pub(crate) fn ended(&self, run: &str, hosts: &Hosts, applies: bool) -> Ended {
        Ended {
            run: run.to_string(),
            hosts: hosts
                .iter()
                .map(|h| {
                    let outcome = self.hosts.get(&h.id).filter(|_| applies).map(|e| e.result);
                    (h.name.clone(), outcome)
                })
                .collect(),
            counts: self.counts,
            applied: self.began,
            changed: self.applied.0,
            failed: self.applied.1,
            skipped: self.applied.2,
        }
    }
}

/// Why a deployment stopped before applying, for the hosts' histories: the kind of
/// problem only — its text may hold what a host said, and histories hold no secret.
fn why_not_applied(ps: &Problems) -> String {
    match ps.kind() {
        Kind::Locked => "a host was locked by another deploy, or its lock could not be taken".into(),
        Kind::Connect => "a host could not be reached".into(),
        Kind::Step => "the plan could not be applied (something in the way, or a failed check)".into(),
        Kind::Usage => "refused (see the command's error)".into(),
        _ => format!(
            "stopped before applying ({})",
            ps.0.first().map_or("a problem", |p| p.code())
        ),
    }
}
