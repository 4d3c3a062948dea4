//! The plan phase on hosts: one probe per host (taking the deploy lock in the same
//! round trip for a deploy), verify in Rust, and one event per step with its
//! verdict. The lock of a host is known to be ours as soon as its probe says so,
//! whatever fails afterwards, so it is always released.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::hosts::{HostRun, Hosts, host_io};
use super::lock::{self, LockInfo, LockStatus};
use super::probe::{self, HostProbe};
use super::state::{HostState, Owned};
use super::verify::verify_host;
use super::{Catalog, Extra, fan_out, tail};
use crate::model::{HostId, Model, StepId};
use crate::plan::Plan;
use crate::primitive::Planned;
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Activity, Event, Level, Reporter};
use crate::shell::probe::Facts;

/// A step that will change, and how.
#[derive(Clone, Debug)]
pub struct PlannedStep {
    pub step: StepId,
    pub planned: Planned,
}

/// The verified plan of one host.
pub struct HostPlan {
    pub host: HostId,
    pub planned: Vec<PlannedStep>,
    pub state: Option<HostState>,
    pub facts: Facts,
    pub owned: Vec<Owned>,
}

/// The verified plan: what will change on each targeted host.
pub struct Prediction {
    pub hosts: Vec<HostPlan>,
    pub catalog: Arc<Catalog>,
    pub unchanged: usize,
}

impl Prediction {
    pub fn change_count(&self) -> usize {
        self.hosts.iter().map(|h| h.planned.len()).sum()
    }

    pub fn conflicts(&self) -> Vec<&PlannedStep> {
        self.hosts
            .iter()
            .flat_map(|h| &h.planned)
            .filter(|p| p.planned.change.is_conflict())
            .collect()
    }
}

/// How a deploy treats the hosts' locks and recorded states (`ordo plan` takes no lock).
#[derive(Clone)]
pub struct Locking {
    pub info: LockInfo,
    pub break_lock: bool,
    /// Deploy onto hosts that another environment deployed last.
    pub switch_environment: bool,
}

struct HostVerdict {
    plan: HostPlan,
    extra: Vec<Extra>,
    notices: Vec<String>,
}

/// Probes every targeted host (bounded by `--jobs`), taking its deploy lock when
/// `locking` is given, and verifies. A host locked by someone else stops the run
/// before anything changes; every problem of every host is reported, in host order.
pub async fn predict(
    model: &Arc<Model>,
    plan: &Arc<Plan>,
    hosts: &Hosts,
    reporter: &Arc<dyn Reporter>,
    locking: Option<&Locking>,
) -> Result<Prediction, Problems> {
    let timeout = hosts.settings.timeout;
    let runs: Vec<Arc<HostRun>> = hosts.iter().cloned().collect();
    let results = fan_out(
        runs,
        hosts.settings.jobs,
        |r| format!("host `{}`", r.name),
        |r: Arc<HostRun>| {
            let (model, plan, reporter, locking) = (model.clone(), plan.clone(), reporter.clone(), locking.cloned());
            async move {
                reporter.event(&Event::Progress {
                    host: r.name.clone(),
                    activity: Activity::Probing,
                });
                let result = predict_host(&model, &plan, &r, locking.as_ref(), timeout).await;
                reporter.event(&Event::Progress {
                    host: r.name.clone(),
                    activity: Activity::Done,
                });
                Ok(result)
            }
        },
    )
    .await;
    let mut problems = Vec::new();
    let mut verdicts = Vec::new();
    for r in results {
        match r {
            Ok(Ok(v)) => verdicts.push(v),
            Ok(Err(ps)) => problems.extend(ps.0),
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    // Removal steps are numbered after the model's steps, host by host.
    let mut extra = Vec::new();
    let mut next = model.steps.len();
    for v in &mut verdicts {
        let mut renamed: HashMap<StepId, StepId> = HashMap::new();
        for e in &mut v.extra {
            let new = <StepId as crate::model::Id>::new(next);
            next += 1;
            renamed.insert(e.id, new);
            e.id = new;
        }
        for p in &mut v.plan.planned {
            if let Some(&new) = renamed.get(&p.step) {
                p.step = new;
            }
        }
        extra.append(&mut v.extra);
    }
    plan_hooks(model, plan, &mut verdicts)?;
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
    let catalog = Arc::new(Catalog {
        model: model.clone(),
        extra,
    });
    let mut unchanged = 0;
    for v in &verdicts {
        let name = &model.hosts[v.plan.host].name;
        for n in &v.notices {
            reporter.event(&Event::Notice {
                host: Some(name.clone()),
                level: Level::Info,
                text: n.clone(),
                span: None,
            });
        }
        let planned: HashMap<StepId, &Planned> = v.plan.planned.iter().map(|p| (p.step, &p.planned)).collect();
        let order = plan.per_host[v.plan.host].iter().copied();
        let removals = v
            .plan
            .planned
            .iter()
            .map(|p| p.step)
            .filter(|s| catalog.extra(*s).is_some());
        for s in order.chain(removals) {
            let p = planned.get(&s);
            if p.is_none() {
                unchanged += 1;
            }
            reporter.event(&Event::Planned {
                host: name.clone(),
                step: s,
                path: catalog.path(s),
                change: p.map(|p| p.change.clone()),
                detail: p.and_then(|p| p.detail.clone()),
                diff: p.and_then(|p| p.diff.clone()),
                span: catalog.span(s).cloned(),
                privileged: catalog.action(s).sudo(),
            });
        }
    }
    Ok(Prediction {
        hosts: verdicts.into_iter().map(|v| v.plan).collect(),
        catalog,
        unchanged,
    })
}

/// The hooks of a rolling update run exactly for the batches that change
/// something: decided here, once every host's verdict is known, and placed in the
/// hook host's plan in plan order.
fn plan_hooks(model: &Model, plan: &Plan, verdicts: &mut [HostVerdict]) -> Result<(), Problems> {
    if model.rollings.is_empty() {
        return Ok(());
    }
    // The root instances with a planned change (model steps; removals are not).
    let changed_roots: std::collections::HashSet<crate::model::ComponentId> = verdicts
        .iter()
        .flat_map(|v| v.plan.planned.iter().map(|p| p.step))
        .filter(|s| s.index() < model.steps.len())
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
            for hook in r.before[k].iter().chain(r.after[k].iter()) {
                let host = model.steps[*hook].host;
                let Some(v) = verdicts.iter_mut().find(|v| v.plan.host == host) else {
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
                // A pending `after` hook (planned by its verify) runs once, for the batch.
                match v.plan.planned.iter_mut().find(|p| p.step == *hook) {
                    Some(p) => p.planned = planned,
                    None => v.plan.planned.push(PlannedStep { step: *hook, planned }),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    for v in verdicts.iter_mut() {
        let position: HashMap<StepId, usize> = plan.per_host[v.plan.host]
            .iter()
            .enumerate()
            .map(|(i, &s)| (s, i))
            .collect();
        // Removals (not in the plan's order) stay last.
        v.plan
            .planned
            .sort_by_key(|p| position.get(&p.step).copied().unwrap_or(usize::MAX));
    }
    Ok(())
}

async fn predict_host(
    model: &Arc<Model>,
    plan: &Plan,
    r: &Arc<HostRun>,
    locking: Option<&Locking>,
    timeout: Duration,
) -> Result<HostVerdict, Problems> {
    let mut notices = Vec::new();
    let mut probe = probe_once(model, plan, r, locking, timeout).await?;
    if let (Some(l), LockStatus::Held(holder)) = (locking, &probe.lock) {
        let who = holder.as_ref().map_or_else(
            || "another deploy (no details recorded)".to_string(),
            LockInfo::describe,
        );
        let alive = holder.as_ref().and_then(LockInfo::alive_here);
        if !l.break_lock {
            let p = Problem::new(Kind::Locked, format!("host `{}` is locked by {who}", r.name)).on_host(&r.name);
            return Err(match alive {
                Some(false) => p.help(
                    "the lock is stale: that process no longer runs on this machine; run again with --break-lock to remove it",
                ),
                _ => p.help(
                    "wait for that deploy to finish; if it died, run again with --break-lock (this removes its lock, nothing else)",
                ),
            }
            .into());
        }
        if alive == Some(true) {
            return Err(Problem::new(
                Kind::Locked,
                format!(
                    "host `{}` is locked by {who}, which is still running on this machine",
                    r.name
                ),
            )
            .on_host(&r.name)
            .help("--break-lock only removes the locks of deploys that died; wait for this one, or stop it first")
            .into());
        }
        let out = r
            .conn
            .exec(lock::break_script(&model.service))
            .await
            .map_err(|p| p.on_host(&r.name))?;
        let lines: Vec<(String, String)> = out
            .stdout
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let (_, broke) = lock::status(&lines);
        let old = broke
            .flatten()
            .map_or_else(|| "(no details recorded)".to_string(), |i| i.describe());
        notices.push(format!("broke the lock on {} held by {old}", r.name));
        probe = probe_once(model, plan, r, locking, timeout).await?;
    }
    match (&probe.lock, locking) {
        (LockStatus::Held(holder), Some(_)) => {
            let who = holder
                .as_ref()
                .map_or_else(|| "another deploy".to_string(), LockInfo::describe);
            return Err(
                Problem::new(Kind::Locked, format!("host `{}` is locked by {who}", r.name))
                    .on_host(&r.name)
                    .help("another deploy took the lock right after it was broken; wait for it to finish")
                    .into(),
            );
        }
        (LockStatus::Held(holder), None) => {
            let who = holder
                .as_ref()
                .map_or_else(|| "another deploy".to_string(), LockInfo::describe);
            notices.push(format!("note: {} is being deployed right now by {who}", r.name));
        }
        (LockStatus::Failed(why), _) => {
            return Err(Problem::new(
                Kind::Locked,
                format!("host `{}`: the deploy lock could not be taken, so nothing was changed", r.name),
            )
            .on_host(&r.name)
            .help(format!(
                "ordo keeps its lock and state in ~/.ordo/{} on the host, which must be writable (disk full? permissions?); the host said: {why}",
                model.service
            ))
            .into());
        }
        _ => {}
    }
    if let (Some(l), Some(state)) = (locking, &probe.state)
        && !l.switch_environment
        && state.service == model.service
        && state.environment != model.environment
    {
        return Err(Problem::new(
            Kind::Usage,
            format!(
                "host `{}` runs environment `{}` of service `{}` (deployed {} by {}); this is environment `{}`",
                r.name, state.environment, state.service, state.deployed_at, state.deployed_by, model.environment
            ),
        )
        .on_host(&r.name)
        .help("check that the environment names the right hosts; to move the host to this environment on purpose, run again with --switch-environment")
        .into());
    }
    // Custom verifies run user code that may run commands: on a blocking thread.
    let order = plan.per_host[r.id].clone();
    let customs: Vec<StepId> = order
        .iter()
        .copied()
        .filter(|&s| model.steps[s].action.controller().is_some())
        .collect();
    let mut verdicts: HashMap<StepId, bool> = HashMap::new();
    if !customs.is_empty() {
        let io = host_io(r);
        let m = model.clone();
        let results = tokio::task::spawn_blocking(move || {
            customs
                .into_iter()
                .map(|s| {
                    let step = m.steps[s].action.controller().expect("a custom step");
                    (s, step.verify(io.clone()))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| Problem::new(Kind::Step, format!("host `{}`: internal error in verify: {e}", r.name)))?;
        let catalog = Catalog {
            model: model.clone(),
            extra: Vec::new(),
        };
        let mut problems = Vec::new();
        for (s, result) in results {
            match result {
                Ok(ok) => {
                    verdicts.insert(s, ok);
                }
                Err(p) => problems.push(
                    catalog
                        .problem(s, &format!("failed in its verify: {}", p.message), None)
                        .related(p),
                ),
            }
        }
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
    }
    let verified = verify_host(model, r.id, &order, &probe, &verdicts, model.steps.len(), timeout);
    if !verified.problems.is_empty() {
        return Err(Problems(verified.problems));
    }
    Ok(HostVerdict {
        plan: HostPlan {
            host: r.id,
            planned: verified.planned,
            state: probe.state,
            facts: probe.facts,
            owned: probe.owned,
        },
        extra: verified.extra,
        notices,
    })
}

/// One probe round trip. The lock flag is set as soon as the probe is sent (and
/// confirmed or cleared by its answer), so an interruption never loses a lock.
async fn probe_once(
    model: &Model,
    plan: &Plan,
    r: &HostRun,
    locking: Option<&Locking>,
    timeout: Duration,
) -> Result<HostProbe, Problems> {
    let script = probe::script(model, plan, r.id, locking.map(|l| &l.info), timeout);
    if locking.is_some() {
        r.lock_sent();
    }
    let out = r.exec(script).await?;
    let (lock, parsed) = probe::parse(model, &out.stdout);
    match lock {
        LockStatus::Acquired => r.lock_taken(),
        LockStatus::Held(_) | LockStatus::Failed(_) if locking.is_some() => r.lock_not_ours(),
        _ => {}
    }
    if out.code != 0 {
        return Err(Problem::new(
            Kind::Step,
            format!("host `{}`: probing failed (exit {})", r.name, out.code),
        )
        .on_host(&r.name)
        .help(format!("the host's shell said: {}", tail(&out.stderr)))
        .into());
    }
    parsed.map_err(|e| {
        Problem::new(Kind::Step, format!("host `{}`: {}", r.name, e.0))
            .on_host(&r.name)
            .help(e.1.unwrap_or_else(|| {
                "nothing was changed; check the host (permissions, a full disk), then run again".into()
            }))
            .into()
    })
}

/// What a host has deployed, and who deploys it right now.
#[derive(Clone, Debug, Default)]
pub struct HostStatus {
    pub state: Option<HostState>,
    pub lock: Option<LockInfo>,
}

/// Reads the recorded state and lock of every targeted host (one round trip each).
pub async fn read_states(model: &Arc<Model>, hosts: &Hosts) -> Vec<(HostId, Result<HostStatus, Problem>)> {
    let empty = Arc::new(Plan {
        order: Vec::new(),
        per_host: crate::model::IdVec::filled(model.hosts.len(), Vec::new()),
        preds: crate::model::IdVec::new(),
        edges: Vec::new(),
    });
    let timeout = hosts.settings.timeout;
    let runs: Vec<Arc<HostRun>> = hosts.iter().cloned().collect();
    let ids = hosts.ids();
    let results = fan_out(
        runs,
        hosts.settings.jobs,
        |r| format!("host `{}`", r.name),
        |r: Arc<HostRun>| {
            let (model, empty) = (model.clone(), empty.clone());
            async move {
                let p = probe_once(&model, &empty, &r, None, timeout)
                    .await
                    .map_err(|mut ps| ps.0.remove(0))?;
                Ok(HostStatus {
                    state: p.state,
                    lock: match p.lock {
                        LockStatus::Held(info) => info,
                        _ => None,
                    },
                })
            }
        },
    )
    .await;
    ids.into_iter().zip(results).collect()
}
