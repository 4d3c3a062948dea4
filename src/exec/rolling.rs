//! Rolling updates in the plan phase: which hooks run (those of the batches that
//! change something, decided once every host's verdict is known) and the event
//! that announces each rollout. The apply phase's side — batches starting and
//! passing, the failure budget — is `schedule/rollout.rs`.

use std::collections::{HashMap, HashSet};

use super::catalog::RunStep;
use super::prediction::{HostPlan, PlannedStep};
use crate::model::{ComponentId, Model, StepId};
use crate::plan::Plan;
use crate::primitive::Planned;
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Event, Reporter};

/// The hooks of a rolling update run exactly for the batches that change
/// something: placed in the hook host's plan, in plan order (removals stay last).
pub(super) fn plan_hooks(model: &Model, plan: &Plan, hosts: &mut [HostPlan]) -> Result<(), Problems> {
    if model.rollings.is_empty() {
        return Ok(());
    }
    // The root instances with a planned change (declared steps; removals are not).
    let changed_roots: HashSet<ComponentId> = hosts
        .iter()
        .flat_map(|h| h.planned.iter().filter_map(|p| p.step.declared()))
        .map(|s| model.root_of(model.steps[s].component))
        .collect();
    let mut problems = Vec::new();
    for r in &model.rollings {
        for (k, batch) in r.batches.iter().enumerate() {
            let changing: Vec<&str> = batch
                .iter()
                .filter(|c| changed_roots.contains(c))
                .map(|&c| model.hosts[model.components[c].host].name.as_str())
                .collect();
            if changing.is_empty() {
                continue;
            }
            for &hook in r.before[k].iter().chain(r.after[k].iter()) {
                let host = model.steps[hook].host;
                let Some(h) = hosts.iter_mut().find(|h| h.host == host) else {
                    problems.push(
                        Problem::new(
                            Kind::Usage,
                            format!(
                                "the rolling update of `{}` runs its hooks on host `{}`, which this deploy does not reach",
                                r.component, model.hosts[host].name
                            ),
                        )
                        .help(format!("add `{}` to --hosts", model.hosts[host].name)),
                    );
                    continue;
                };
                let planned = Planned::run(format!(
                    "batch {} of {}: {} change",
                    k + 1,
                    r.batches.len(),
                    changing.join(", ")
                ));
                let step = RunStep::Declared(hook);
                // A pending `after` hook (planned by its verify) runs once, for the batch.
                match h.planned.iter_mut().find(|p| p.step == step) {
                    Some(p) => p.planned = planned,
                    None => h.planned.push(PlannedStep { step, planned }),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    for h in hosts.iter_mut() {
        let position: HashMap<StepId, usize> = plan.per_host[h.host].iter().enumerate().map(|(i, &s)| (s, i)).collect();
        h.planned.sort_by_key(|p| {
            p.step
                .declared()
                .and_then(|s| position.get(&s).copied())
                .unwrap_or(usize::MAX)
        });
    }
    Ok(())
}

/// One event per rolling update: its batches, budget and hooks.
pub(super) fn report(model: &Model, reporter: &dyn Reporter) {
    for r in &model.rollings {
        let hook = |h: &[Option<StepId>]| {
            h.iter().flatten().next().map(|&s| {
                let step = &model.steps[s];
                format!("on {}", model.hosts[step.host].name)
            })
        };
        reporter.event(&Event::Rolling {
            component: r.component.clone(),
            batches: r
                .batches
                .iter()
                .map(|b| {
                    b.iter()
                        .map(|&c| model.hosts[model.components[c].host].name.clone())
                        .collect()
                })
                .collect(),
            max_failures: r.max_failures,
            before: hook(&r.before),
            after: hook(&r.after),
        });
    }
}
