//! Stage 4: run the plan on hosts. Connect to every targeted host first and stop if
//! one is unreachable; probe each host in one round trip; verify in Rust; report the
//! changes; then (for deploy) apply them in plan order, hosts in parallel wherever
//! the plan's edges allow, batching consecutive changes of a host into one script.
//! At the end each host records the deployed fingerprint.

mod apply;
mod change;
mod probe;
mod shell;
pub mod state;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

pub use change::{Change, Planned};
pub use state::{HostState, LockInfo};

use probe::{LockRequest, LockStatus};

use crate::model::{Action, HostIo, Model, RunOutput};
use crate::plan::Plan;
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Event, Reporter, StepStatus};
use crate::transport::{self, Counted};

/// Hosts connected for one run; index = host index, `None` = not targeted.
pub struct Hosts {
    pub transports: Vec<Option<Arc<Counted>>>,
    /// Hosts whose deploy lock this run holds.
    locked: Vec<Arc<AtomicBool>>,
}

impl Hosts {
    pub fn targeted(&self) -> impl Iterator<Item = (usize, &Arc<Counted>)> {
        self.transports
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (i, t)))
    }

    pub async fn close(&self) {
        for (_, t) in self.targeted() {
            t.close().await;
        }
    }
}

/// How many hosts are connected at the same time.
const MAX_PARALLEL_CONNECTS: usize = 32;

/// Connects to every selected host in parallel; any failure stops the run before a
/// single change is made, naming every host that failed.
pub async fn connect(model: &Model, selected: &[bool], ssh: &transport::SshOptions) -> Result<Hosts, Problems> {
    let mut transports: Vec<Option<Arc<Counted>>> = vec![None; model.hosts.len()];
    let mut problems = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    // Bounded: hundreds of simultaneous SSH handshakes trip sshd's MaxStartups on
    // jump hosts and swamp the controller's CPU.
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_PARALLEL_CONNECTS));
    for (i, host) in model.hosts.iter().enumerate() {
        if !selected[i] {
            continue;
        }
        match transport::for_host(host, ssh) {
            Ok(t) => {
                transports[i] = Some(t.clone());
                let handshakes = handshakes.clone();
                tasks.spawn(async move {
                    let _permit = handshakes.acquire_owned().await;
                    (i, t.connect().await)
                });
            }
            Err(p) => problems.push(p),
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((_, Err(p))) = done {
            problems.push(p);
        }
    }
    if problems.is_empty() {
        let locked = (0..model.hosts.len())
            .map(|_| Arc::new(AtomicBool::new(false)))
            .collect();
        Ok(Hosts { transports, locked })
    } else {
        Err(Problems(problems))
    }
}

/// Releases every deploy lock this run still holds (one round trip per host, in
/// parallel). Called at the end of every deploy, whatever happened.
pub async fn unlock(model: &Model, hosts: &Hosts, lock: &LockInfo) {
    let mut tasks = tokio::task::JoinSet::new();
    for (h, t) in hosts.targeted() {
        if hosts.locked[h].swap(false, Ordering::SeqCst) {
            let (t, script) = (t.clone(), apply::unlock_script(&model.service, lock));
            tasks.spawn(async move { t.exec(script).await });
        }
    }
    while tasks.join_next().await.is_some() {}
}

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

/// Runs commands for custom steps from a blocking thread.
struct BlockingHost {
    name: String,
    transport: Arc<Counted>,
    handle: tokio::runtime::Handle,
}

impl HostIo for BlockingHost {
    fn host_name(&self) -> &str {
        &self.name
    }

    fn run(&self, command: &str) -> Result<RunOutput, Problem> {
        self.handle.block_on(self.transport.exec(command.to_string()))
    }
}

fn host_io(model: &Model, host: usize, t: &Arc<Counted>) -> Arc<dyn HostIo> {
    Arc::new(BlockingHost {
        name: model.hosts[host].name.clone(),
        transport: t.clone(),
        handle: tokio::runtime::Handle::current(),
    })
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
    t: &Arc<Counted>,
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

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// An error on a host's step, pointing at the script line that declared it.
fn step_problem(model: &Model, s: usize, what: String, output: Option<&str>) -> Problem {
    let step = &model.steps[s];
    let host = &model.hosts[step.host].name;
    let mut p = Problem::new(Kind::Step, format!("{} {what}", model.step_path(s)))
        .at(step.span.as_ref(), format!("step declared here, failed on host {host}"));
    p = match output.map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) => p.help(format!("output (last lines):\n{}", tail(o))),
        None => {
            p.help("fix the cause on the host or in the script and deploy again; steps already applied stay applied")
        }
    };
    p
}

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
            s.push_str(&apply::unlock_script(&model.service, &self.lock));
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
    t: &Arc<Counted>,
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
    for p in &planned {
        for &trig in &model.steps[p.step].triggers {
            if planned.iter().any(|q| q.step == trig) {
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
        let mut script = apply::script(model, &batch, &markers, last.then_some(record));
        if last {
            script.push_str(&finish.script(model));
        }
        let outcome = t.exec(script).await;
        if let Ok(out) = &outcome {
            finish.observe(&out.stdout);
        }
        let ms = started.elapsed().as_millis() as u64;
        let (results, recorded) = match &outcome {
            Ok(out) => apply::parse(&out.stdout),
            Err(_) => (Vec::new(), false),
        };
        let by_step: HashMap<usize, &apply::Outcome> = results.iter().map(|(s, o)| (*s, o)).collect();
        for p in &batch {
            match by_step.get(&p.step) {
                Some(apply::Outcome::Ok) => {
                    board.set(p.step, Status::Done);
                    reporter.event(&event(p.step, StepStatus::Changed, ms, None));
                    result.changed += 1;
                }
                Some(apply::Outcome::Failed { code, output }) => {
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
        let script = apply::script(model, &[], &[], Some(record)) + finish.script(model).as_str();
        match t.exec(script).await {
            Ok(out) if apply::parse(&out.stdout).1 => finish.observe(&out.stdout),
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
