//! Verify of one host, in plan order, generic over the primitives: which steps a
//! change triggers (`on_change`, and pending markers left by an earlier deploy),
//! paths whose parent directory is a symlink or a file (a conflict: ordo does not
//! write through them), each primitive's own verify, and the removal of what ordo
//! created and no step declares any more — on a retired host, all of it, and then
//! ordo's records there (decision 56).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::catalog::{Catalog, RemovalStep, RunStep};
use super::probe::{HostProbe, parents_below, watches};
use crate::ids::RemovalId;
use crate::model::{HostId, Id, Model, StepId};
use crate::primitive::access;
use crate::primitive::records::Records;
use crate::primitive::removal::Removal;
use crate::primitive::{ManagedKind, Planned, StepCtx};
use crate::problem::{Kind, Problem};
use crate::shell::probe::{PathKind, StepFact};

/// What verify found on one host.
pub(super) struct Verified {
    /// The declared steps that change, in plan order.
    pub(super) planned: Vec<(StepId, Planned)>,
    /// The removals, deepest path first; the run numbers them.
    pub(super) removals: Vec<(RemovalStep, Planned)>,
    pub(super) problems: Vec<Problem>,
}

/// Verifies `order` (the host's steps in plan order) against the probe.
/// `custom` holds the verdicts of steps verified on the controller (true = up to
/// date).
pub(super) fn verify_host(
    model: &Arc<Model>,
    host: HostId,
    order: &[StepId],
    probe: &HostProbe,
    custom: &HashMap<StepId, bool>,
    timeout: Duration,
) -> Verified {
    let facts = &probe.facts;
    let state = super::state::state_dir(&model.service);
    let retired = model.hosts[host].retired;
    let mut out = Verified {
        planned: Vec::new(),
        removals: Vec::new(),
        problems: Vec::new(),
    };
    // Steps that will change (conflicts excluded): what `on_change` watchers react to.
    let mut changed: HashSet<StepId> = HashSet::new();
    let catalog = Catalog::declared(model.clone());
    let catalog_problem = |s: StepId, what: &str| catalog.problem(RunStep::Declared(s), what, None);
    // Why steps cannot go ahead: (what happens, why) and the steps.
    let mut failed: Vec<((&str, String), Vec<StepId>)> = Vec::new();
    let mut access = access::Guard::default();
    for &s in order {
        let step = &model.steps[s];
        let root = &model.components[step.component].root;
        // A change it watches, or a marker an interrupted deploy left: it runs.
        // Reload triggers ask for less than the others; any other one wins.
        let (trigger, reload_only) = if step.action.reacts_to_changes() {
            let fired: Vec<StepId> = step.triggers.iter().copied().filter(|t| changed.contains(t)).collect();
            let full = fired.iter().find(|t| !step.reloads.contains(t));
            let pending = watches(model, s) && facts.step(s, "pending") == Some(&StepFact::Exists);
            let pending_reload = watches(model, s) && facts.step(s, "pending-reload") == Some(&StepFact::Exists);
            match (full, fired.first()) {
                (Some(&t), _) => (Some(format!("{} changed", model.steps[t].action.label())), false),
                (None, _) if pending => (
                    Some("a change it watches was applied, but it has not run since".to_string()),
                    false,
                ),
                (None, Some(&t)) => (Some(format!("{} changed", model.steps[t].action.label())), true),
                (None, None) if pending_reload => (
                    Some("a change it reloads on was applied, but it has not reloaded since".to_string()),
                    true,
                ),
                (None, None) if custom.get(&s) == Some(&false) => {
                    (Some("verify says the host is not up to date".to_string()), false)
                }
                (None, None) => (None, false),
            }
        } else {
            (None, false)
        };
        let ctx = StepCtx {
            id: s,
            root,
            trigger: trigger.as_deref(),
            reload_only,
            marker: None,
            timeout,
            state: &state,
        };
        let verdict = match in_the_way(probe, step.action.managed().map(|m| m.path), root) {
            Some(conflict) => Ok(Some(conflict)),
            None => step
                .action
                .verify(&ctx, facts)
                .map_err(|why| ("cannot be verified", why))
                .and_then(|p| {
                    access
                        .check(step.action.as_ref(), root, p, facts)
                        .map_err(|why| ("would fail", why))
                }),
        };
        match verdict {
            Ok(Some(planned)) => {
                if !planned.change.is_conflict() {
                    changed.insert(s);
                }
                out.planned.push((s, planned));
            }
            Ok(None) => {}
            // A failed verify stops every host before any change (a missing
            // prerequisite, sudo that would prompt, a host short of resources…).
            Err(why) => match failed.iter_mut().find(|(w, _)| *w == why) {
                Some((_, steps)) => steps.push(s),
                None => failed.push((why, vec![s])),
            },
        }
    }
    // Steps that cannot be verified for the same reason (every `sudo: true` step of
    // a host where sudo would prompt) are one problem, each step labelled.
    for ((what, why), steps) in failed {
        let problem = match steps.as_slice() {
            [s] => catalog_problem(*s, &format!("{what}: {why}")),
            [first, rest @ ..] => rest.iter().fold(
                Problem::new(
                    Kind::Step,
                    format!(
                        "{} steps on host `{}` {what}: {why}",
                        steps.len(),
                        model.hosts[host].name
                    ),
                )
                .at(model.steps[*first].span.as_ref(), model.steps[*first].action.label())
                .on_host(&model.hosts[host].name),
                |p, s| p.at(model.steps[*s].span.as_ref(), model.steps[*s].action.label()),
            ),
            [] => continue,
        };
        out.problems.push(
            problem.help("nothing was changed on any host: fix this on the host or in the script, then deploy again"),
        );
    }
    // What ordo created here and no step declares any more; deepest paths first, so
    // files go before the directories that hold them.
    let declared: HashSet<String> = order
        .iter()
        .filter_map(|&s| model.steps[s].action.managed())
        .map(|m| m.path.as_str().to_string())
        .collect();
    // A release set owns what lies below its `releases` and its `current` link
    // (decision 62): an entry there is never "no longer declared".
    let sets: Vec<crate::model::HostPath> = order
        .iter()
        .filter_map(|&s| model.steps[s].action.managed())
        .filter(|m| m.kind == crate::primitive::ManagedKind::Releases)
        .map(|m| m.path)
        .collect();
    let mut gone: Vec<&super::state::Owned> = probe
        .owned
        .iter()
        .filter(|o| !declared.contains(o.path.as_str()))
        .filter(|o| !sets.iter().any(|r| crate::primitive::release_set::covers(r, &o.path)))
        .collect();
    // Programs stop and cron blocks leave first, so nothing runs in what goes after.
    let first = |k: ManagedKind| match k {
        ManagedKind::Program => 0,
        ManagedKind::Cron => 1,
        _ => 2,
    };
    gone.sort_by(|a, b| {
        first(a.kind)
            .cmp(&first(b.kind))
            .then(b.path.as_str().len().cmp(&a.path.as_str().len()))
            .then(a.path.cmp(&b.path))
    });
    for o in gone {
        let removal = Removal {
            kind: o.kind,
            path: o.path.clone(),
            name: o.name.clone(),
            component: o.component.clone(),
        };
        let ctx = StepCtx {
            id: Catalog::removal_number(model, RemovalId::new(out.removals.len())),
            root: &o.path,
            trigger: None,
            reload_only: false,
            marker: None,
            timeout,
            state: &state,
        };
        if let Ok(Some(planned)) = crate::primitive::Primitive::verify(&removal, &ctx, facts) {
            let planned = if retired {
                planned.detail("host retired")
            } else {
                planned
            };
            let step = RemovalStep {
                host,
                action: Arc::new(removal),
                component: o.component.clone(),
            };
            out.removals.push((step, planned));
        }
    }
    // A retired host's records go last, once everything they stand for is gone.
    if retired {
        let root = &model.hosts[host].root;
        let records = Records {
            path: state.clone(),
            found: probe.left.clone(),
            // Never the home, nor a directory outside it.
            root: root.as_str().starts_with("~/").then(|| root.clone()),
        };
        let ctx = StepCtx {
            id: Catalog::removal_number(model, RemovalId::new(out.removals.len())),
            root: &state,
            trigger: None,
            reload_only: false,
            marker: None,
            timeout,
            state: &state,
        };
        if let Ok(Some(planned)) = crate::primitive::Primitive::verify(&records, &ctx, facts) {
            let step = RemovalStep {
                host,
                action: Arc::new(records),
                component: RECORDS_COMPONENT.to_string(),
            };
            out.removals.push((step, planned));
        }
    }
    out
}

/// The component a retired host's records step names in breadcrumbs
/// (`lb:ordo records ~/.ordo/shop`): ordo's own.
const RECORDS_COMPONENT: &str = "ordo";

/// A conflict when a directory between the root and the path is a symlink or not
/// a directory.
fn in_the_way(
    probe: &HostProbe,
    path: Option<crate::model::HostPath>,
    root: &crate::model::HostPath,
) -> Option<Planned> {
    let path = path?;
    for parent in parents_below(&path, root).iter().rev() {
        let what = match probe.facts.path(parent).kind {
            PathKind::Link => "is a symlink (ordo does not write through symlinks)",
            PathKind::File | PathKind::Other => "is not a directory",
            PathKind::Dir | PathKind::Absent => continue,
        };
        return Some(Planned::conflict(format!("{parent} {what}")));
    }
    None
}
