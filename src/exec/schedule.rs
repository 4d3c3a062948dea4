//! The apply phase: every host applies its changes in plan order, in parallel with
//! the others, waiting only where a change depends on one on another host. A host
//! stops at its first failure; what depends on it elsewhere is skipped.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use super::apply as script;
use super::change::Planned;
use super::hosts::{Hosts, host_io};
use super::predict::Prediction;
use super::state::{HostState, LockInfo};
use super::{step_problem, tail};
use crate::model::{Action, Model};
use crate::plan::Plan;
use crate::problem::{Kind, Problem};
use crate::report::{Event, Reporter, StepStatus};
use crate::transport::Connection;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Done,
    Failed,
}

/// Completion of every step, shared by the host tasks: a step may start when the
/// changed steps it depends on (on other hosts) are done.
struct Board {
    status: Mutex<Vec<Status>>,
    notify: Notify,
}

impl Board {
    fn set(&self, s: usize, st: Status) {
        self.status.lock().expect("board")[s] = st;
        self.notify.notify_waiters();
    }

    /// Waits until all of `deps` are done; `Err(dep)` when one failed.
    async fn wait(&self, deps: &[usize]) -> Result<(), usize> {
        loop {
            let notified = self.notify.notified();
            {
                let status = self.status.lock().expect("board");
                if let Some(&f) = deps.iter().find(|&&d| status[d] == Status::Failed) {
                    return Err(f);
                }
                if deps.iter().all(|&d| status[d] == Status::Done) {
                    return Ok(());
                }
            }
            notified.await;
        }
    }

    fn ready(&self, deps: &[usize]) -> bool {
        let status = self.status.lock().expect("board");
        deps.iter().all(|&d| status[d] == Status::Done)
    }
}

/// Totals of an apply.
#[derive(Default, Debug)]
pub struct Applied {
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub problems: Vec<Problem>,
    /// (host, changed, failed, skipped) of each host that had something to do.
    pub per_host: Vec<(usize, usize, usize, usize)>,
}

/// Applies the prediction. Returns what happened; failures are in `problems`.
pub async fn apply(
    model: &Arc<Model>,
    plan: &Arc<Plan>,
    prediction: Prediction,
    hosts: &Hosts,
    reporter: Arc<dyn Reporter>,
    record: &HostState,
    lock: &LockInfo,
) -> Applied {
    let n = model.steps.len();
    let mut changed = vec![false; n];
    for p in prediction.changes.iter().flatten() {
        changed[p.step] = true;
    }
    // Nearest changed ancestors of each step, through unchanged steps.
    let mut near: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &s in &plan.order {
        let mut set: Vec<usize> = Vec::new();
        for &p in &plan.preds[s] {
            if changed[p] {
                set.push(p);
            } else {
                set.extend_from_slice(&near[p]);
            }
        }
        set.sort_unstable();
        set.dedup();
        near[s] = set;
    }
    let board = Arc::new(Board {
        status: Mutex::new(
            (0..n)
                .map(|s| if changed[s] { Status::Waiting } else { Status::Done })
                .collect(),
        ),
        notify: Notify::new(),
    });
    let near = Arc::new(near);
    for (h, _) in hosts.targeted() {
        for &s in plan.per_host[h].iter().filter(|&&s| !changed[s]) {
            reporter.event(&Event::Step {
                host: model.hosts[h].name.clone(),
                step: s,
                path: model.step_path(s),
                status: StepStatus::Unchanged,
                span: model.steps[s].span.as_ref().map(ToString::to_string),
                duration_ms: 0,
                error: None,
            });
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (h, t) in hosts.targeted() {
        let planned = prediction.changes[h].clone();
        let needs_record = !planned.is_empty()
            || prediction.states[h]
                .as_ref()
                .is_none_or(|s| s.fingerprint != record.fingerprint);
        if !needs_record {
            continue;
        }
        let (model, board, near, t, reporter) =
            (model.clone(), board.clone(), near.clone(), t.clone(), reporter.clone());
        let finish = Finish {
            record: record.clone(),
            lock: lock.clone(),
            locked: hosts.locked[h].clone(),
        };
        tasks.spawn(async move { apply_host(&model, h, planned, &board, &near, &t, &*reporter, &finish).await });
    }
    let mut total = Applied::default();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(a) => {
                total.changed += a.changed;
                total.failed += a.failed;
                total.skipped += a.skipped;
                total.problems.extend(a.problems);
                total.per_host.extend(a.per_host);
            }
            Err(e) => total
                .problems
                .push(Problem::new(Kind::Step, format!("internal error while applying: {e}"))),
        }
    }
    total
}

/// What the last script of a host also does: record the deployed version and
/// release the lock (saving a round trip each).
struct Finish {
    record: HostState,
    lock: LockInfo,
    locked: Arc<AtomicBool>,
}

impl Finish {
    fn script(&self, model: &Model) -> String {
        let mut s = String::new();
        if self.locked.load(Ordering::SeqCst) {
            s.push_str(&script::unlock_script(&model.service, &self.lock));
        }
        s
    }

    fn observe(&self, stdout: &str) {
        if stdout.lines().any(|l| l == "unlock ok") {
            self.locked.store(false, Ordering::SeqCst);
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_host(
    model: &Arc<Model>,
    h: usize,
    planned: Vec<Planned>,
    board: &Board,
    near: &[Vec<usize>],
    t: &Arc<Connection>,
    reporter: &dyn Reporter,
    finish: &Finish,
) -> Applied {
    let record = &finish.record;
    let mut result = Applied::default();
    let host = model.hosts[h].name.clone();
    let other_host =
        |deps: &[usize]| -> Vec<usize> { deps.iter().copied().filter(|&d| model.steps[d].host != h).collect() };
    // Which pending markers to write before a step: commands it triggers.
    let mut markers_for: HashMap<usize, Vec<usize>> = HashMap::new();
    let planned_steps: HashSet<usize> = planned.iter().map(|p| p.step).collect();
    for p in &planned {
        for &trig in &model.steps[p.step].triggers {
            if planned_steps.contains(&trig) {
                markers_for.entry(trig).or_default().push(p.step);
            }
        }
    }
    let event = |s: usize, status: StepStatus, ms: u64, error: Option<String>| Event::Step {
        host: host.clone(),
        step: s,
        path: model.step_path(s),
        status,
        span: model.steps[s].span.as_ref().map(ToString::to_string),
        duration_ms: ms,
        error,
    };
    let mut i = 0;
    let mut stopped: Option<String> = None;
    let mut done_recording = false;
    while i < planned.len() {
        if let Some(reason) = &stopped {
            board.set(planned[i].step, Status::Failed);
            reporter.event(&event(planned[i].step, StepStatus::Skipped, 0, Some(reason.clone())));
            result.skipped += 1;
            i += 1;
            continue;
        }
        let first = planned[i].step;
        let deps = other_host(&near[first]);
        if !board.ready(&deps) {
            reporter.event(&Event::Progress {
                host: host.clone(),
                activity: format!("waiting for {}", model.step_path(deps[0])),
            });
        }
        if let Err(dep) = board.wait(&deps).await {
            stopped = Some(format!("{} failed", model.step_path(dep)));
            continue;
        }
        let started = Instant::now();
        reporter.event(&Event::Progress {
            host: host.clone(),
            activity: format!("applying {}", model.step_path(first)),
        });
        if let Action::Custom { step, .. } = &model.steps[first].action {
            let io = host_io(model, h, t);
            let step = step.clone();
            let r = tokio::task::spawn_blocking(move || step.update(io)).await;
            let ms = started.elapsed().as_millis() as u64;
            match r {
                Ok(Ok(())) => {
                    board.set(first, Status::Done);
                    reporter.event(&event(first, StepStatus::Changed, ms, None));
                    result.changed += 1;
                }
                Ok(Err(p)) => {
                    board.set(first, Status::Failed);
                    reporter.event(&event(first, StepStatus::Failed, ms, Some(p.message.clone())));
                    result.failed += 1;
                    result
                        .problems
                        .push(step_problem(model, first, "failed in its update".into(), None).related(p));
                    stopped = Some(format!("{} failed", model.step_path(first)));
                }
                Err(e) => {
                    board.set(first, Status::Failed);
                    result.failed += 1;
                    result
                        .problems
                        .push(Problem::new(Kind::Step, format!("internal error in update: {e}")));
                    stopped = Some("internal error".into());
                }
            }
            i += 1;
            continue;
        }
        // Extend the batch while the next changes need nothing from other hosts
        // that is not done yet.
        let mut end = i + 1;
        while end < planned.len()
            && !matches!(model.steps[planned[end].step].action, Action::Custom { .. })
            && board.ready(&other_host(&near[planned[end].step]))
        {
            end += 1;
        }
        let batch: Vec<&Planned> = planned[i..end].iter().collect();
        let markers: Vec<Vec<usize>> = batch
            .iter()
            .map(|p| markers_for.get(&p.step).cloned().unwrap_or_default())
            .collect();
        let last = end == planned.len();
        let mut script = script::script(model, &batch, &markers, last.then_some(record));
        if last {
            script.push_str(&finish.script(model));
        }
        let outcome = t.exec(script).await;
        if let Ok(out) = &outcome {
            finish.observe(&out.stdout);
        }
        let ms = started.elapsed().as_millis() as u64;
        let (results, recorded) = match &outcome {
            Ok(out) => script::parse(&out.stdout),
            Err(_) => (Vec::new(), false),
        };
        let by_step: HashMap<usize, &script::Outcome> = results.iter().map(|(s, o)| (*s, o)).collect();
        for p in &batch {
            match by_step.get(&p.step) {
                Some(script::Outcome::Ok) => {
                    board.set(p.step, Status::Done);
                    reporter.event(&event(p.step, StepStatus::Changed, ms, None));
                    result.changed += 1;
                }
                Some(script::Outcome::Failed { code, output }) => {
                    board.set(p.step, Status::Failed);
                    let what = match &model.steps[p.step].action {
                        Action::Command { .. } => format!("failed with exit code {code}"),
                        _ => "could not be applied".to_string(),
                    };
                    reporter.event(&event(p.step, StepStatus::Failed, ms, Some(what.clone())));
                    result.failed += 1;
                    result.problems.push(step_problem(model, p.step, what, Some(output)));
                    stopped = Some(format!("{} failed", model.step_path(p.step)));
                }
                None if stopped.is_some() => {
                    board.set(p.step, Status::Failed);
                    reporter.event(&event(p.step, StepStatus::Skipped, 0, stopped.clone()));
                    result.skipped += 1;
                }
                None => {
                    // The script ended without a word about this step: the
                    // connection or the shell died under it.
                    board.set(p.step, Status::Failed);
                    let why = match &outcome {
                        Err(e) => e.message.clone(),
                        Ok(out) => format!("the host's shell stopped (exit {}): {}", out.code, tail(&out.stderr)),
                    };
                    reporter.event(&event(p.step, StepStatus::Failed, ms, Some(why.clone())));
                    result.failed += 1;
                    result
                        .problems
                        .push(step_problem(model, p.step, format!("was interrupted: {why}"), None));
                    stopped = Some(format!("{} was interrupted", model.step_path(p.step)));
                }
            }
        }
        if last && stopped.is_none() && !recorded {
            result.problems.push(Problem::new(
                Kind::Step,
                format!("host `{host}`: the deployed version could not be recorded"),
            ));
        }
        done_recording |= last && recorded;
        i = end;
    }
    if stopped.is_none() && !done_recording {
        // The fingerprint travels with the last batch; when the host ended with a
        // custom step or had nothing to change, it goes in a script of its own.
        let script = script::script(model, &[], &[], Some(record)) + finish.script(model).as_str();
        match t.exec(script).await {
            Ok(out) if script::parse(&out.stdout).1 => finish.observe(&out.stdout),
            Ok(out) => result.problems.push(Problem::new(
                Kind::Step,
                format!(
                    "host `{host}`: recording the deployed version failed: {}",
                    tail(&out.stderr)
                ),
            )),
            Err(p) => result.problems.push(p),
        }
    }
    reporter.event(&Event::Progress {
        host,
        activity: "done".into(),
    });
    result.per_host.push((h, result.changed, result.failed, result.skipped));
    result
}

/// One `host_done` event per targeted host, with its totals and round trips; call
/// after the locks are released so the counts are complete.
pub fn report_hosts(model: &Model, hosts: &Hosts, applied: &Applied, reporter: &dyn Reporter) {
    for (h, t) in hosts.targeted() {
        let (changed, failed, skipped) = applied
            .per_host
            .iter()
            .find(|p| p.0 == h)
            .map_or((0, 0, 0), |p| (p.1, p.2, p.3));
        reporter.event(&Event::HostDone {
            host: model.hosts[h].name.clone(),
            changed,
            failed,
            skipped,
            round_trips: t.round_trips(),
        });
    }
}
