//! The plan phase on hosts: one probe per host (taking the deploy lock in the same
//! round trip for a deploy), verify in Rust, and one event per step with its
//! verdict. The lock of a host is known to be ours as soon as its probe says so,
//! whatever fails afterwards, so it is always released.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::catalog::{Catalog, Keep, RemovalStep, RunStep};
use super::history;
use super::hosts::{HostRun, Hosts, host_io};
use super::lock::{self, LockInfo, LockStatus, Locking};
use super::prediction::{HostPlan, PlannedStep, Prediction};
use super::probe::{self, HostProbe};
use super::reach::{self, Skipped};
use super::settle::{self, Settle};
use super::verify::verify_host;
use super::{fan_out, rolling, tail};
use crate::model::{IdVec, Model, StepId};
use crate::plan::Plan;
use crate::primitive::Planned;
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Activity, Event, Level, Reporter, SkippedHost};
use crate::shell::probe::Facts;
use crate::text::plural;

struct HostVerdict {
    /// The declared steps that change.
    plan: HostPlan,
    removals: Vec<(RemovalStep, Planned)>,
    notices: Vec<String>,
}

/// Probes every targeted host (bounded by `--jobs`, in waves), taking its deploy
/// lock when the settle policy's `locking` is given, and verifies. A host with
/// nothing to do is let go in its wave (`settle.rs`). A host locked by someone
/// else stops the run before anything changes, and so does an unreachable one
/// unless `--skip-unreachable` allows going on without it (`reach.rs`); every
/// problem of every host is reported, in host order. Only the steps `keep`
/// accepts are reported and kept in the prediction.
pub(super) async fn predict(
    model: &Arc<Model>,
    plan: &Arc<Plan>,
    hosts: &Hosts,
    reporter: &Arc<dyn Reporter>,
    settle: Arc<Settle>,
    keep: &Keep,
) -> Result<Prediction, Problems> {
    let timeout = hosts.settings.timeout;
    let runs: Vec<Arc<HostRun>> = hosts.iter().cloned().collect();
    let results = fan_out(
        runs.clone(),
        hosts.settings.jobs,
        |r| format!("host `{}`", r.name),
        |r: Arc<HostRun>| {
            let (model, plan, reporter, settle) = (model.clone(), plan.clone(), reporter.clone(), settle.clone());
            async move {
                if let Some(p) = r.unreached() {
                    return Ok(Err(p.clone().into()));
                }
                // A fleet's host connects in its wave; the lease keeps its master
                // open until the host is verified.
                let mut held = None;
                if r.closed() {
                    reporter.event(&Event::Progress {
                        host: r.name.clone(),
                        activity: Activity::Connecting,
                    });
                    match r.open().await {
                        Ok(lease) => held = lease,
                        Err(p) => {
                            reporter.event(&Event::Progress {
                                host: r.name.clone(),
                                activity: Activity::Done,
                            });
                            return Ok(Err(p.into()));
                        }
                    }
                }
                reporter.event(&Event::Progress {
                    host: r.name.clone(),
                    activity: Activity::Probing,
                });
                let mut result = predict_host(&model, &plan, &r, settle.locking.as_ref(), timeout).await;
                drop(held);
                if let Ok(v) = &mut result
                    && r.releasable()
                    && settle.done(r.id, v.plan.planned.len() + v.removals.len(), v.plan.state.as_ref())
                {
                    let unchanged = plan.per_host[r.id].len();
                    if !settle::let_go(&model, &r, settle.locking.as_ref(), unchanged).await {
                        reporter.event(&history::unrecorded(&r.name, &model.service));
                    }
                    // Nothing applies to it: what the probe found is not needed.
                    v.plan.facts = Facts::default();
                    v.plan.owned = Vec::new();
                }
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
    let mut unreachable = Vec::new();
    for (run, r) in runs.iter().zip(results) {
        match r {
            Ok(Ok(v)) => verdicts.push(v),
            // Its connection could not be opened: perhaps one to go on without.
            Ok(Err(ps)) if ps.0.len() == 1 && reach::unreachable(&ps.0[0]) => unreachable.push(Skipped {
                host: run.id,
                name: run.name.clone(),
                problem: ps.0.into_iter().next().expect("one problem"),
            }),
            Ok(Err(ps)) => problems.extend(ps.0),
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        problems.extend(unreachable.into_iter().map(|s| s.problem));
        return Err(Problems(problems));
    }
    let skipped = reach::allow(model, plan, runs.len(), unreachable, hosts.settings.skip)?;
    if !skipped.is_empty() {
        reporter.event(&Event::HostsSkipped {
            hosts: skipped
                .iter()
                .map(|s| SkippedHost {
                    host: s.name.clone(),
                    cause: s.problem.cause.clone(),
                    message: s.problem.message.clone(),
                })
                .collect(),
        });
    }
    // The run's removals, host by host, after each host's declared steps.
    let mut removals = IdVec::new();
    let mut plans = Vec::new();
    let mut notices = Vec::new();
    for v in verdicts {
        let mut plan = v.plan;
        for (step, planned) in v.removals {
            let step = RunStep::Removal(removals.push(step));
            plan.planned.push(PlannedStep { step, planned });
        }
        plans.push(plan);
        notices.push(v.notices);
    }
    rolling::plan_hooks(model, plan, &mut plans)?;
    rolling::report(model, &**reporter);
    let catalog = Arc::new(Catalog::new(model.clone(), removals));
    let mut unchanged = 0;
    for (h, notices) in plans.iter_mut().zip(notices) {
        h.planned.retain(|p| keep(&catalog, p.step));
        h.unchanged = report_host(&**reporter, plan, &catalog, h, notices, keep);
        unchanged += h.unchanged;
    }
    Ok(Prediction {
        hosts: plans,
        catalog,
        unchanged,
        skipped,
    })
}

/// Reports a host's notices and one `planned` event per step it covers, in plan
/// order (removals last); returns how many of them stay as they are.
fn report_host(
    reporter: &dyn Reporter,
    plan: &Plan,
    catalog: &Catalog,
    h: &HostPlan,
    notices: Vec<String>,
    keep: &Keep,
) -> usize {
    let host = &catalog.model.hosts[h.host];
    let name = &host.name;
    if host.retired {
        // The header of a retired host's teardown (decision 56).
        let kept = h.planned.iter().filter(|p| keep(catalog, p.step)).count();
        reporter.event(&Event::Notice {
            host: Some(name.clone()),
            level: Level::Info,
            text: if kept == 0 {
                format!("retiring {name}: nothing left to stop or remove")
            } else {
                format!("retiring {name}: {} to stop/remove", plural(kept, "step"))
            },
            span: host.retire_span.clone(),
        });
    }
    for n in notices {
        reporter.event(&Event::Notice {
            host: Some(name.clone()),
            level: Level::Info,
            text: n,
            span: None,
        });
    }
    let planned: HashMap<RunStep, &Planned> = h.planned.iter().map(|p| (p.step, &p.planned)).collect();
    let order = plan.per_host[h.host].iter().map(|&s| RunStep::Declared(s));
    let removals = h.planned.iter().map(|p| p.step).filter(|s| !s.is_declared());
    let mut unchanged = 0;
    for s in order.chain(removals).filter(|&s| keep(catalog, s)) {
        let p = planned.get(&s);
        if p.is_none() {
            unchanged += 1;
        }
        reporter.event(&Event::Planned {
            host: name.clone(),
            step: catalog.number(s),
            path: catalog.path(s),
            change: p.map(|p| p.change.clone()),
            detail: p.and_then(|p| p.detail.clone()),
            diff: p.and_then(|p| p.diff.clone()),
            span: catalog.span(s).cloned(),
            privileged: catalog.action(s).sudo(),
        });
    }
    unchanged
}

async fn predict_host(
    model: &Arc<Model>,
    plan: &Plan,
    r: &Arc<HostRun>,
    locking: Option<&Locking>,
    timeout: Duration,
) -> Result<HostVerdict, Problems> {
    let mut notices = Vec::new();
    let mut probe = probe_once(model, plan, r, locking, false, timeout).await?;
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
        probe = probe_once(model, plan, r, locking, false, timeout).await?;
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
        let catalog = Catalog::declared(model.clone());
        let mut problems = Vec::new();
        for (s, result) in results {
            match result {
                Ok(ok) => {
                    verdicts.insert(s, ok);
                }
                Err(p) => problems.push(
                    catalog
                        .problem(
                            RunStep::Declared(s),
                            &format!("failed in its verify: {}", p.message),
                            None,
                        )
                        .related(p),
                ),
            }
        }
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
    }
    let verified = verify_host(model, r.id, &order, &probe, &verdicts, timeout);
    let undeclared: Vec<String> = probe
        .outside
        .iter()
        .filter(|p| {
            !order
                .iter()
                .any(|&s| model.steps[s].action.managed().is_some_and(|m| &m.path == *p))
        })
        .map(|p| crate::text::visible(p.as_str(), false))
        .collect();
    if !undeclared.is_empty() {
        notices.push(format!(
            "{}: ordo's list of what it created there names paths outside the service's roots, which no step declares; they are left as they are (remove them by hand if they are ordo's): {}",
            r.name,
            shortened(&undeclared)
        ));
    }
    if !verified.problems.is_empty() {
        return Err(Problems(verified.problems));
    }
    Ok(HostVerdict {
        plan: HostPlan {
            host: r.id,
            planned: verified
                .planned
                .into_iter()
                .map(|(s, planned)| PlannedStep {
                    step: RunStep::Declared(s),
                    planned,
                })
                .collect(),
            state: probe.state,
            facts: probe.facts,
            owned: probe.owned,
            unchanged: 0,
        },
        removals: verified.removals,
        notices,
    })
}

/// At most ten, then how many more.
fn shortened(items: &[String]) -> String {
    match items.len() {
        0..=10 => items.join(", "),
        n => format!("{} and {} more", items[..10].join(", "), n - 10),
    }
}

/// One probe round trip. The lock flag is set as soon as the probe is sent (and
/// confirmed or cleared by its answer), so an interruption never loses a lock.
/// A deploy's probe also begins the host's history entry once it holds the lock;
/// `read_history` sends the whole history back (`ordo status`, `ordo log`).
pub(super) async fn probe_once(
    model: &Model,
    plan: &Plan,
    r: &HostRun,
    locking: Option<&Locking>,
    read_history: bool,
    timeout: Duration,
) -> Result<HostProbe, Problems> {
    // A retired host gets no entry: its teardown removes the history (an entry
    // begun there would be one more thing to tear down, every deploy).
    let writer = locking
        .and_then(|l| l.history.as_ref())
        .filter(|_| !model.hosts[r.id].retired);
    let history = match (writer, read_history) {
        (Some(w), _) => w.probe_lines(),
        (None, true) => history::read_lines_script(&model.service),
        (None, false) => String::new(),
    };
    let script = probe::script(model, plan, r.id, locking.map(|l| &l.info), &history, timeout);
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
    if let (Some(w), LockStatus::Acquired) = (writer, &lock) {
        let lines: Vec<(String, String)> = out
            .stdout
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(t, _)| *t == "history")
            .map(|(t, rest)| (t.to_string(), rest.to_string()))
            .collect();
        let (probed, failed) = history::Probed::parse(&lines, w.elapsed_ms());
        r.set_history(probed);
        if let Some(why) = failed {
            return Err(Problem::new(
                Kind::Locked,
                format!("host `{}`: the deploy history could not be written, so nothing was changed", r.name),
            )
            .on_host(&r.name)
            .help(format!(
                "ordo keeps its history in ~/.ordo/{}/history on the host, which must be writable (disk full? permissions?); the host said: {why}",
                model.service
            ))
            .into());
        }
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
