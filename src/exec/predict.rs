//! The plan phase on hosts: one probe per host (taking the deploy lock in the same
//! round trip for a deploy), verify in Rust, report every step's verdict.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::change::{self, Change, Planned};
use super::hosts::{Hosts, host_io};
use super::probe::{self, LockRequest, LockStatus};
use super::state::{HostState, LockInfo};
use super::{step_problem, tail};
use crate::model::{Action, Model};
use crate::plan::Plan;
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Event, Reporter};
use crate::transport::Connection;

/// The verified plan: what will change on each host.
pub struct Prediction {
    pub changes: Vec<Vec<Planned>>,
    pub states: Vec<Option<HostState>>,
    pub unchanged: usize,
    /// Locks removed with `--break-lock`: host name and the holder's info.
    pub broken_locks: Vec<(String, Option<LockInfo>)>,
    /// Deploys running right now (seen by `ordo plan`, which takes no lock).
    pub busy: Vec<(String, Option<LockInfo>)>,
}

impl Prediction {
    pub fn change_count(&self) -> usize {
        self.changes.iter().map(Vec::len).sum()
    }

    pub fn conflicts(&self) -> Vec<&Planned> {
        self.changes
            .iter()
            .flatten()
            .filter(|p| matches!(p.change, Change::Conflict { .. }))
            .collect()
    }
}

/// What a host has deployed, and who deploys it right now.
#[derive(Clone, Debug, Default)]
pub struct HostStatus {
    pub state: Option<HostState>,
    pub lock: Option<LockInfo>,
}

/// Reads the recorded state and lock of every targeted host (one round trip each).
pub async fn read_states(model: &Model, hosts: &Hosts) -> Result<Vec<HostStatus>, Problems> {
    let mut states = vec![HostStatus::default(); model.hosts.len()];
    let mut problems = Vec::new();
    for (h, t) in hosts.targeted() {
        match t.exec(probe::script(model, &[], &[], None)).await {
            Ok(out) => match probe::parse(model, &[], &out.stdout) {
                Ok(p) => {
                    states[h] = HostStatus {
                        state: p.state,
                        lock: match p.lock {
                            LockStatus::Held(info) => info,
                            _ => None,
                        },
                    }
                }
                Err(e) => problems.push(Problem::new(Kind::Step, format!("host `{}`: {e}", model.hosts[h].name))),
            },
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(states)
    } else {
        Err(Problems(problems))
    }
}

/// How a deploy takes the hosts' locks (`ordo plan` takes none).
#[derive(Clone)]
pub struct Locking {
    pub info: LockInfo,
    pub break_lock: bool,
}

/// Probes every targeted host (one round trip each, in parallel), taking its deploy
/// lock in the same round trip when `locking` is given, and verifies. A host locked
/// by someone else stops the run before anything changes.
pub async fn predict(
    model: &Arc<Model>,
    plan: &Arc<Plan>,
    hosts: &Hosts,
    reporter: &dyn Reporter,
    locking: Option<&Locking>,
) -> Result<Prediction, Problems> {
    let mut tasks = tokio::task::JoinSet::new();
    for (h, t) in hosts.targeted() {
        reporter.event(&Event::Progress {
            host: model.hosts[h].name.clone(),
            activity: "probing".into(),
        });
        let (model, plan, t) = (model.clone(), plan.clone(), t.clone());
        let request = locking.map(|l| LockRequest {
            info: l.info.clone(),
            break_lock: l.break_lock,
        });
        tasks.spawn(async move { (h, predict_host(&model, &plan, h, &t, request.as_ref()).await) });
    }
    let mut changes: Vec<Vec<Planned>> = (0..model.hosts.len()).map(|_| Vec::new()).collect();
    let mut states = vec![None; model.hosts.len()];
    let mut problems = Vec::new();
    let mut unchanged = 0;
    let mut broken_locks = Vec::new();
    let mut busy = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((h, Ok(HostPrediction { planned, state, lock }))) => {
                let name = model.hosts[h].name.clone();
                reporter.event(&Event::Progress {
                    host: name.clone(),
                    activity: "done".into(),
                });
                match lock {
                    LockStatus::Acquired => hosts.locked[h].store(true, Ordering::SeqCst),
                    LockStatus::Broke(old) => {
                        hosts.locked[h].store(true, Ordering::SeqCst);
                        broken_locks.push((name, old));
                    }
                    LockStatus::Held(holder) if locking.is_some() => {
                        let who = holder.as_ref().map_or_else(
                            || "another deploy (no details recorded)".to_string(),
                            LockInfo::describe,
                        );
                        problems.push(
                            Problem::new(Kind::Locked, format!("host `{name}` is locked by {who}"))
                                .help("wait for that deploy to finish; if it died, run again with --break-lock (this removes its lock, nothing else)"),
                        );
                        continue;
                    }
                    LockStatus::Held(holder) => busy.push((name, holder)),
                    LockStatus::Free => {}
                }
                unchanged += plan.per_host[h].len() - planned.len();
                changes[h] = planned;
                states[h] = state;
            }
            Ok((_, Err(p))) => problems.push(p),
            Err(e) => problems.push(Problem::new(Kind::Step, format!("internal error while probing: {e}"))),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    for (h, _) in hosts.targeted() {
        let planned: HashMap<usize, &Planned> = changes[h].iter().map(|p| (p.step, p)).collect();
        for &s in &plan.per_host[h] {
            let step = &model.steps[s];
            let p = planned.get(&s);
            reporter.event(&Event::Planned {
                host: model.hosts[h].name.clone(),
                step: s,
                path: model.step_path(s),
                change: p.map_or("none", |p| p.change.word()).to_string(),
                detail: p.and_then(|p| match &p.change {
                    Change::Run { reason } => Some(reason.clone()),
                    Change::Mode { from, to } => Some(format!("mode {from} → {to}")),
                    Change::Conflict { message } => Some(message.clone()),
                    _ => None,
                }),
                diff: p.and_then(|p| p.diff.clone()),
                span: step.span.as_ref().map(ToString::to_string),
            });
        }
    }
    Ok(Prediction {
        changes,
        states,
        unchanged,
        broken_locks,
        busy,
    })
}

struct HostPrediction {
    planned: Vec<Planned>,
    state: Option<HostState>,
    lock: LockStatus,
}

async fn predict_host(
    model: &Arc<Model>,
    plan: &Plan,
    h: usize,
    t: &Arc<Connection>,
    lock: Option<&LockRequest>,
) -> Result<HostPrediction, Problem> {
    let order = &plan.per_host[h];
    let watched: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&s| !model.steps[s].triggers.is_empty())
        .collect();
    let out = t.exec(probe::script(model, order, &watched, lock)).await?;
    if out.code != 0 {
        return Err(Problem::new(
            Kind::Step,
            format!("host `{}`: probing failed (exit {})", model.hosts[h].name, out.code),
        )
        .help(format!("the host's shell said: {}", tail(&out.stderr))));
    }
    let probe = probe::parse(model, order, &out.stdout)
        .map_err(|e| Problem::new(Kind::Step, format!("host `{}`: {e}", model.hosts[h].name)))?;
    if lock.is_some() && matches!(probe.lock, LockStatus::Held(_)) {
        return Ok(HostPrediction {
            planned: Vec::new(),
            state: probe.state,
            lock: probe.lock,
        });
    }
    // Custom verifies run user code that may run commands: on a blocking thread.
    let customs: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&s| matches!(model.steps[s].action, Action::Custom { .. }))
        .collect();
    let mut verdicts: HashMap<usize, bool> = HashMap::new();
    if !customs.is_empty() {
        let io = host_io(model, h, t);
        let m = model.clone();
        let results = tokio::task::spawn_blocking(move || {
            customs
                .into_iter()
                .map(|s| match &m.steps[s].action {
                    Action::Custom { step, .. } => (s, step.verify(io.clone())),
                    _ => unreachable!(),
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| Problem::new(Kind::Step, format!("internal error in verify: {e}")))?;
        for (s, r) in results {
            let ok = r.map_err(|p| step_problem(model, s, p.message.clone(), None).related(p))?;
            verdicts.insert(s, ok);
        }
    }
    let planned = change::verify(model, order, &probe, &|s| verdicts.get(&s).copied().unwrap_or(true));
    Ok(HostPrediction {
        planned,
        state: probe.state,
        lock: probe.lock,
    })
}
