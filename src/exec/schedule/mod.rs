//! The apply phase: every host applies its changes in plan order, in parallel with
//! the others, waiting only where a change depends on one on another host
//! ([`board`]). A host's consecutive changes travel in one script ([`host_apply`];
//! what one host's apply holds, [`host`];
//! the scripts in [`script`]; custom steps run on the controller, [`custom`]); what
//! a failure does to the rest is the [`policy`]'s decision. At most `--jobs`
//! scripts run at once; a host that waits for another holds no slot, so a small
//! `--jobs` cannot deadlock a plan with cross-host edges.

mod board;
mod custom;
mod gate;
mod host;
mod host_apply;
mod policy;
mod rollout;
mod script;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::Semaphore;

use self::board::Board;
use super::history::Writer;
use super::hosts::Hosts;
use super::prediction::Prediction;
use super::state::HostState;
use super::{Catalog, RunStep, fan_out};
use crate::model::{HostId, IdVec, StepId};
use crate::plan::Plan;
use crate::problem::Problem;
use crate::report::{Event, Reporter, StepStatus};

/// What the last script of a host also does: record the deployed version and
/// release the lock (saving a round trip each).
pub struct Finish {
    /// `None` for a partial apply (one component or step, from the REPL): the
    /// host's records stay those of its last deploy — `state.json` and the list of
    /// what ordo created are not rewritten; what the apply creates is appended to
    /// that list as every batch does.
    pub record: Option<HostState>,
    /// The lock token of this run.
    pub token: String,
    /// The run's deploy history: a host's last script also ends its entry.
    pub history: Option<Arc<Writer>>,
}

/// Totals of one host, with the steps that changed and failed (for the history).
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub changed_steps: Vec<String>,
    pub failed_steps: Vec<String>,
    /// The host confirmed its final records — for a retired host, that its
    /// teardown is complete — and nothing failed there.
    pub recorded: bool,
}

/// Totals of an apply.
#[derive(Default, Debug)]
pub struct Applied {
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub problems: Vec<Problem>,
    /// Every host of the apply (one already up to date with zero counts).
    pub per_host: HashMap<HostId, Totals>,
}

/// Applies the prediction. Returns what happened; failures are in `problems`.
pub(super) async fn apply(
    plan: &Arc<Plan>,
    prediction: Prediction,
    hosts: &Hosts,
    reporter: Arc<dyn Reporter>,
    finish: Arc<Finish>,
) -> Applied {
    let catalog: Arc<Catalog> = prediction.catalog.clone();
    let model = catalog.model.clone();
    let planned: HashSet<RunStep> = prediction
        .hosts
        .iter()
        .flat_map(|h| h.planned.iter().map(|p| p.step))
        .collect();
    // The model's steps that change, by id.
    let mut changed = vec![false; model.steps.len()];
    for s in planned.iter().filter_map(|s| s.declared()) {
        changed[s.index()] = true;
    }
    // Nearest changed ancestors of each declared step, through unchanged steps.
    let mut near: IdVec<StepId, Vec<StepId>> = IdVec::filled(model.steps.len(), Vec::new());
    for &s in &plan.order {
        let mut set: Vec<StepId> = Vec::new();
        for &p in &plan.preds[s] {
            if changed[p.index()] {
                set.push(p);
            } else {
                set.extend_from_slice(&near[p]);
            }
        }
        set.sort_unstable();
        set.dedup();
        near[s] = set;
    }
    let board = Arc::new(Board::new(catalog.clone(), planned.iter().copied()));
    let rollout = Arc::new(rollout::Rollout::new(&catalog, &planned, reporter.clone()));
    let near = Arc::new(near);
    for h in &prediction.hosts {
        let host = &model.hosts[h.host].name;
        for &s in plan.per_host[h.host].iter().filter(|s| !changed[s.index()]) {
            reporter.event(&step_event(
                &catalog,
                host,
                RunStep::Declared(s),
                StepStatus::Unchanged,
                0,
                None,
            ));
        }
    }
    let permits = Arc::new(Semaphore::new(hosts.settings.jobs.max(1)));
    let mut work = Vec::new();
    let mut total = Applied::default();
    for h in prediction.hosts {
        // A retired host's last script always runs: it removes the lock and the
        // state directory the probe took it in.
        let retired = finish.record.is_some() && model.hosts[h.host].retired;
        let needs_record =
            !h.planned.is_empty() || retired || super::settle::needs_record(finish.record.as_ref(), h.state.as_ref());
        if !needs_record {
            // Up to date: its records are those of this version already.
            total.per_host.insert(
                h.host,
                Totals {
                    recorded: finish.record.is_some(),
                    ..Totals::default()
                },
            );
            continue;
        }
        let Some(run) = hosts.get(h.host).cloned() else {
            continue;
        };
        work.push(host::HostApply {
            catalog: catalog.clone(),
            plan: h,
            run,
            board: board.clone(),
            near: near.clone(),
            reporter: reporter.clone(),
            finish: finish.clone(),
            permits: permits.clone(),
            timeout: hosts.settings.timeout,
            state: super::state::state_dir(&model.service),
            rollout: rollout.clone(),
            gate: gate::Role::Free,
        });
    }
    // A fleet's hosts whose masters are still open go first (`permits` are handed
    // out in this order), and each gives its master back when it is done: the
    // hosts whose masters were closed during the plan phase then open theirs
    // without closing one that is still needed.
    work.sort_by_key(|w| w.run.closed());
    let open = work.iter().filter(|w| w.run.releasable() && !w.run.closed()).count();
    if work.iter().any(|w| w.run.closed()) && open > 0 {
        let gate = gate::Gate::new(open);
        for w in &mut work {
            if w.run.closed() {
                w.gate = gate::Role::Waits(gate.clone());
            } else if w.run.releasable() {
                w.gate = gate::Role::opens(&gate);
            }
        }
    }
    // Every host task runs at once (a waiting host holds no slot); `permits` bounds
    // the scripts that run.
    let ids: Vec<HostId> = work.iter().map(|w| w.plan.host).collect();
    let results = fan_out(
        work,
        usize::MAX,
        |w| format!("host `{}`", w.run.name),
        |w| async move {
            let run = w.run.clone();
            let done = host_apply::run(w).await;
            // Its lock is released unless something failed (then `unlock` reopens).
            if !run.may_hold_lock() {
                run.release().await;
            }
            Ok(done)
        },
    )
    .await;
    for (host, r) in ids.into_iter().zip(results) {
        match r {
            Ok((totals, problems)) => {
                total.changed += totals.changed;
                total.failed += totals.failed;
                total.skipped += totals.skipped;
                total.problems.extend(problems);
                total.per_host.insert(host, totals);
            }
            Err(p) => total.problems.push(p),
        }
    }
    total
}

pub(super) fn step_event(
    catalog: &Catalog,
    host: &str,
    s: RunStep,
    status: StepStatus,
    ms: u64,
    error: Option<String>,
) -> Event {
    Event::Step {
        host: host.to_string(),
        step: catalog.number(s),
        path: catalog.path(s),
        status,
        span: catalog.span(s).cloned(),
        duration_ms: ms,
        error,
    }
}

/// One `host_done` event per targeted host (but those `skipped`, never reached),
/// with its totals and round trips; call after the locks are released so the
/// counts are complete.
pub(super) fn report_hosts(hosts: &Hosts, applied: &Applied, reporter: &dyn Reporter, skipped: &[String]) {
    for r in hosts.iter().filter(|r| !skipped.contains(&r.name)) {
        let t = applied.per_host.get(&r.id).cloned().unwrap_or_default();
        reporter.event(&Event::HostDone {
            host: r.name.clone(),
            changed: t.changed,
            failed: t.failed,
            skipped: t.skipped,
            round_trips: r.conn.round_trips(),
        });
    }
}
