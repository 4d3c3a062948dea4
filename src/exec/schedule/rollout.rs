//! Rolling updates while they run: which batch each step belongs to, when a batch
//! starts and when it is through (every change of its hosts done, health checks
//! included, and its hooks), and the failure budget. The plan's batch edges already
//! make each batch wait for the one before; this decides whether a batch may go
//! on when hosts of an earlier one failed (no more than `max_failures` of them),
//! and reports batches as events.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::exec::{Catalog, RunStep};
use crate::model::{ComponentId, HostId, StepId};
use crate::problem::{Kind, Problem};
use crate::report::{BatchStatus, Event, Reporter};

struct Batch {
    hosts: Vec<String>,
    /// Planned steps of the batch not finished yet.
    pending: HashSet<StepId>,
    started: bool,
    failed: bool,
}

struct Group {
    component: String,
    max_failures: usize,
    batches: Vec<Batch>,
    failed_hosts: HashSet<HostId>,
    /// The rollout stopped (reported once).
    stopped: bool,
}

pub(super) struct Rollout {
    /// Step → (group, batch).
    member: HashMap<StepId, (usize, usize)>,
    /// `before` hooks: they run ahead of their batch (often in one script with the
    /// previous batch's `after` hook), so they do not start it.
    before_hooks: HashSet<StepId>,
    /// Every hook: its host is not one the rollout updates, so its failure counts
    /// for no host.
    hooks: HashSet<StepId>,
    groups: Mutex<Vec<Group>>,
    reporter: Arc<dyn Reporter>,
    start: Instant,
}

/// How a step of a rollout ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    Done,
    Failed,
    Skipped,
}

/// What a step that waited on failed steps may do.
pub(super) enum Verdict {
    /// Go on: the failures are within the rollout's budget.
    Tolerated,
    /// Stop, with this reason; `problem` says why the rollout stopped (once).
    Stop {
        reason: String,
        problem: Option<Box<Problem>>,
    },
}

impl Rollout {
    pub(super) fn new(catalog: &Catalog, planned: &HashSet<RunStep>, reporter: Arc<dyn Reporter>) -> Rollout {
        let model = &catalog.model;
        let mut member = HashMap::new();
        let mut groups = Vec::new();
        let before_hooks = model
            .rollings
            .iter()
            .flat_map(|r| r.before.iter().flatten().copied())
            .collect();
        let hooks = model
            .rollings
            .iter()
            .flat_map(|r| r.before.iter().chain(r.after.iter()).flatten().copied())
            .collect();
        // The steps of each root instance, found once for every batch of every rollout.
        let mut by_root: HashMap<ComponentId, Vec<StepId>> = HashMap::new();
        if !model.rollings.is_empty() {
            for s in model.steps.iter() {
                by_root.entry(model.root_of(s.component)).or_default().push(s.id);
            }
        }
        for (g, r) in model.rollings.iter().enumerate() {
            let mut batches = Vec::new();
            for (k, instances) in r.batches.iter().enumerate() {
                let mut steps: Vec<StepId> = instances
                    .iter()
                    .flat_map(|c| by_root.get(c).into_iter().flatten().copied())
                    .collect();
                steps.extend(r.before[k].iter().chain(r.after[k].iter()));
                for &s in &steps {
                    member.insert(s, (g, k));
                }
                batches.push(Batch {
                    hosts: instances
                        .iter()
                        .map(|&c| model.hosts[model.components[c].host].name.clone())
                        .collect(),
                    pending: steps
                        .into_iter()
                        .filter(|&s| planned.contains(&RunStep::Declared(s)))
                        .collect(),
                    started: false,
                    failed: false,
                });
            }
            groups.push(Group {
                component: r.component.clone(),
                max_failures: r.max_failures,
                batches,
                failed_hosts: HashSet::new(),
                stopped: false,
            });
        }
        Rollout {
            member,
            before_hooks,
            hooks,
            groups: Mutex::new(groups),
            reporter,
            start: Instant::now(),
        }
    }

    fn event(&self, g: &Group, k: usize, status: BatchStatus, error: Option<String>) {
        self.reporter.event(&Event::Batch {
            component: g.component.clone(),
            batch: k + 1,
            batches: g.batches.len(),
            hosts: g.batches[k].hosts.clone(),
            status,
            elapsed_ms: self.start.elapsed().as_millis() as u64,
            error,
        });
    }

    /// `s` starts applying: its batch starts, if it had not.
    pub(super) fn started(&self, s: RunStep) {
        // Removals belong to no batch.
        let Some(s) = s.declared() else { return };
        if self.before_hooks.contains(&s) {
            return;
        }
        let Some(&(g, k)) = self.member.get(&s) else { return };
        let mut groups = self.groups.lock().expect("rollout");
        if !groups[g].batches[k].started {
            groups[g].batches[k].started = true;
            self.event(&groups[g], k, BatchStatus::Started, None);
        }
    }

    /// `s` is through: done, `Failed` (its host counts against the budget) or
    /// `Skipped`.
    pub(super) fn finished(&self, s: RunStep, host: HostId, how: Ended) {
        let Some(s) = s.declared() else { return };
        let Some(&(g, k)) = self.member.get(&s) else { return };
        let mut groups = self.groups.lock().expect("rollout");
        let group = &mut groups[g];
        if how == Ended::Failed && !self.hooks.contains(&s) {
            group.failed_hosts.insert(host);
        }
        if how != Ended::Done {
            group.batches[k].failed = true;
        }
        let batch = &mut group.batches[k];
        if batch.pending.remove(&s) && batch.pending.is_empty() && batch.started {
            let status = if batch.failed {
                BatchStatus::Failed
            } else {
                BatchStatus::Passed
            };
            self.event(&groups[g], k, status, None);
        }
    }

    /// `s` waited for `failed` steps: may it go on?
    pub(super) fn judge(&self, catalog: &Catalog, s: RunStep, failed: &[RunStep]) -> Verdict {
        let first = failed[0];
        let plain = || Verdict::Stop {
            reason: format!("{} failed", catalog.path(first)),
            problem: None,
        };
        let Some(&(g, k)) = s.declared().and_then(|s| self.member.get(&s)) else {
            return plain();
        };
        // A removal is in no batch, so never in an earlier one.
        let Some(failed) = failed.iter().map(|d| d.declared()).collect::<Option<Vec<StepId>>>() else {
            return plain();
        };
        let earlier = |d: &StepId| matches!(self.member.get(d), Some(&(dg, dk)) if dg == g && dk <= k);
        if !failed.iter().all(earlier) {
            return plain();
        }
        let mut groups = self.groups.lock().expect("rollout");
        let group = &mut groups[g];
        // A hook that did not run stops the rollout whatever the budget: a batch
        // whose backends were not taken out must not restart, and with one put
        // back too few, draining the next could leave none serving.
        if let Some(&hook) = failed.iter().find(|d| self.hooks.contains(d)) {
            let hook = RunStep::Declared(hook);
            let reason = format!(
                "rolling `{}` stopped: {} did not run",
                group.component,
                catalog.path(hook)
            );
            let problem = (!group.stopped).then(|| {
                group.stopped = true;
                Box::new(
                    Problem::new(Kind::Step, reason.clone())
                        .on_host(&catalog.model.hosts[catalog.host(hook)].name)
                        .help(
                            "the batches after it were not touched; fix the hook (or its host) and deploy again — \
                             a batch left drained is put back by the next deploy",
                        ),
                )
            });
            return Verdict::Stop { reason, problem };
        }
        // The failed steps' hosts count even if their own tasks have not said so yet.
        for d in failed.iter().filter(|d| !self.hooks.contains(d)) {
            group.failed_hosts.insert(catalog.host(RunStep::Declared(*d)));
        }
        if group.failed_hosts.len() <= group.max_failures {
            return Verdict::Tolerated;
        }
        let model = &catalog.model;
        let mut failed_names: Vec<&str> = group
            .failed_hosts
            .iter()
            .map(|h| model.hosts[*h].name.as_str())
            .collect();
        failed_names.sort_unstable();
        let last = (0..group.batches.len())
            .filter(|&b| group.batches[b].failed)
            .max()
            .unwrap_or(0);
        let left: Vec<String> = group.batches[last + 1..]
            .iter()
            .flat_map(|b| b.hosts.iter().cloned())
            .collect();
        let reason = format!(
            "rolling `{}` stopped after batch {} of {}: {} failed (max_failures {})",
            group.component,
            last + 1,
            group.batches.len(),
            failed_names.join(", "),
            group.max_failures
        );
        let problem = (!group.stopped).then(|| {
            group.stopped = true;
            Box::new(Problem::new(Kind::Step, reason.clone())
                .on_host(failed_names[0])
                .help(if left.is_empty() {
                    "fix the failed hosts and deploy again".to_string()
                } else {
                    let (what, were) = if left.len() == 1 { ("it", "was") } else { ("they", "were") };
                    format!(
                        "{} kept what {what} ran before and {were} not touched; fix the failed hosts and deploy again",
                        left.join(", ")
                    )
                }))
        });
        Verdict::Stop { reason, problem }
    }
}
