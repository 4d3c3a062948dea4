//! The apply of one host: its planned changes in order, consecutive ones batched
//! into one script (one round trip) as long as nothing they need from other hosts is
//! missing; custom steps run on the controller between scripts. The last script also
//! rewrites the list of what ordo created, records the deployed version and releases
//! the lock.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::board::{Board, Status};
use super::policy::{Policy, Stop};
use super::rollout::{Ended, Rollout, Verdict};
use super::{Finish, Totals, step_event};
use crate::exec::hosts::{HostRun, host_io};
use crate::exec::lock;
use crate::exec::predict::{HostPlan, PlannedStep};
use crate::exec::state::{Owned, owned_file, pending_marker, reload_marker, state_dir};
use crate::exec::{Catalog, tail};
use crate::model::HostPath;
use crate::model::{IdVec, StepId};
use crate::primitive::{Change, StepCtx};
use crate::problem::{Kind, Problem};
use crate::report::{Activity, Event, Reporter, StepStatus};
use crate::shell::apply::{ApplyScript, Outcome, parse};
use crate::shell::{quote_always, word};

pub(super) struct HostApply {
    pub(super) catalog: Arc<Catalog>,
    pub(super) plan: HostPlan,
    pub(super) run: Arc<HostRun>,
    pub(super) board: Arc<Board>,
    pub(super) near: Arc<IdVec<StepId, Vec<StepId>>>,
    pub(super) reporter: Arc<dyn Reporter>,
    pub(super) finish: Arc<Finish>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) timeout: Duration,
    pub(super) home: crate::model::HostPath,
    /// The service's state directory on the host.
    pub(super) state: crate::model::HostPath,
    pub(super) rollout: Arc<Rollout>,
}

impl HostApply {
    /// Changed steps on other hosts that `s` waits for.
    fn other_host_deps(&self, s: StepId) -> Vec<StepId> {
        let model = &self.catalog.model;
        if s.index() >= model.steps.len() {
            return Vec::new();
        }
        self.near[s]
            .iter()
            .copied()
            .filter(|&d| self.catalog.host(d) != self.plan.host)
            .collect()
    }

    fn event(&self, s: StepId, status: StepStatus, ms: u64, error: Option<String>) {
        self.reporter
            .event(&step_event(&self.catalog, &self.run.name, s, status, ms, error));
    }

    fn progress(&self, activity: Activity) {
        self.reporter.event(&Event::Progress {
            host: self.run.name.clone(),
            activity,
        });
    }

    fn ctx<'a>(&'a self, s: StepId, marker: Option<&'a crate::model::HostPath>) -> StepCtx<'a> {
        let model = &self.catalog.model;
        let root = if s.index() < model.steps.len() {
            &model.components[model.steps[s].component].root
        } else {
            // Removals have no component: the home stands in for a root.
            &self.home
        };
        StepCtx {
            id: s,
            root,
            trigger: None,
            reload_only: false,
            marker,
            timeout: self.timeout,
            state: &self.state,
        }
    }

    /// The root below which `s` manages `path`: its component's, or for a removal
    /// the root of this host's component that holds the path.
    fn root_of(&self, s: StepId, path: &crate::model::HostPath) -> &crate::model::HostPath {
        let model = &self.catalog.model;
        if s.index() < model.steps.len() {
            return &model.components[model.steps[s].component].root;
        }
        model
            .components
            .iter()
            .filter(|c| c.host == self.plan.host && path.is_below(&c.root))
            .map(|c| &c.root)
            .max_by_key(|r| r.as_str().len())
            .unwrap_or(&self.home)
    }

    /// The pending marker of `s`, when other steps trigger it.
    fn own_marker(&self, s: StepId) -> Option<crate::model::HostPath> {
        let model = &self.catalog.model;
        (s.index() < model.steps.len() && crate::exec::probe::watches(model, s)).then(|| pending_marker(model, s))
    }

    async fn exec(&self, script: String) -> Result<crate::model::RunOutput, Problem> {
        let _permit = self.permits.acquire().await.expect("never closed");
        self.run.exec(script).await
    }

    /// A script of privileged steps, as root through `sudo -n`.
    async fn exec_privileged(&self, script: String) -> Result<crate::model::RunOutput, Problem> {
        let _permit = self.permits.acquire().await.expect("never closed");
        self.run.exec_privileged(script).await
    }
}

/// Applies one host's plan. Returns its totals and problems.
pub(super) async fn run(h: HostApply) -> (Totals, Vec<Problem>) {
    let policy = Policy;
    let model = h.catalog.model.clone();
    let planned = &h.plan.planned;
    let mut totals = Totals::default();
    let mut problems = Vec::new();
    // Pending markers to write before a step changes: the steps it triggers.
    let planned_steps: HashSet<StepId> = planned.iter().map(|p| p.step).collect();
    let mut markers_for: HashMap<StepId, Vec<HostPath>> = HashMap::new();
    for p in planned {
        if p.step.index() >= model.steps.len() {
            continue;
        }
        let step = &model.steps[p.step];
        for &t in &step.triggers {
            if planned_steps.contains(&t) && crate::exec::probe::watches(&model, p.step) {
                let marker = if step.reloads.contains(&t) {
                    reload_marker(&model, p.step)
                } else {
                    pending_marker(&model, p.step)
                };
                markers_for.entry(t).or_default().push(marker);
            }
        }
    }
    let mut i = 0;
    let mut stopped: Option<Stop> = None;
    let mut recorded = false;
    while i < planned.len() {
        if let Some(stop) = &stopped {
            h.rollout.finished(planned[i].step, h.plan.host, Ended::Skipped);
            h.board.set(planned[i].step, Status::Failed);
            h.event(planned[i].step, StepStatus::Skipped, 0, Some(stop.reason().to_string()));
            totals.skipped += 1;
            i += 1;
            continue;
        }
        let first = planned[i].step;
        let deps = h.other_host_deps(first);
        if !h.board.ready(&deps) {
            h.progress(Activity::Waiting {
                on: h.catalog.path(deps[0]),
            });
        }
        let failed = h.board.settled(&deps).await;
        if !failed.is_empty() {
            match h.rollout.judge(&h.catalog, first, &failed) {
                Verdict::Tolerated => {}
                Verdict::Stop { reason, problem } => {
                    problems.extend(problem.map(|p| *p));
                    stopped = Some(Stop::Upstream(reason));
                    continue;
                }
            }
        }
        let started = Instant::now();
        h.progress(Activity::Applying {
            step: h.catalog.path(first),
        });
        if h.catalog.action(first).controller().is_some() {
            h.rollout.started(first);
            let triggers = markers_for.get(&first).map_or(&[][..], Vec::as_slice);
            match custom(&h, first, triggers, &planned[..i]).await {
                Ok(()) => {
                    h.event(first, StepStatus::Changed, started.elapsed().as_millis() as u64, None);
                    h.rollout.finished(first, h.plan.host, Ended::Done);
                    h.board.set(first, Status::Done);
                    totals.changed += 1;
                }
                Err(p) => {
                    h.rollout.finished(first, h.plan.host, Ended::Failed);
                    h.board.set(first, Status::Failed);
                    h.event(
                        first,
                        StepStatus::Failed,
                        started.elapsed().as_millis() as u64,
                        Some(p.message.clone()),
                    );
                    totals.failed += 1;
                    problems.push(p);
                    stopped = Some(policy.on_failure(&h.catalog.path(first)));
                }
            }
            i += 1;
            continue;
        }
        // Extend the batch while the next changes need nothing from other hosts
        // that is not done yet, and run with the same privilege.
        let privileged = h.catalog.action(first).privileged();
        let mut end = i + 1;
        while end < planned.len()
            && h.catalog.action(planned[end].step).controller().is_none()
            && h.catalog.action(planned[end].step).privileged() == privileged
            && h.board.ready(&h.other_host_deps(planned[end].step))
        {
            end += 1;
        }
        let batch = &planned[i..end];
        for p in batch {
            h.rollout.started(p.step);
        }
        let last = end == planned.len() && !privileged;
        let outcome = if privileged {
            // ordo's own records stay the login user's: markers go first in a script
            // of the user's own, and the final record in a script after.
            match write_markers(&h, batch, &markers_for).await {
                Ok(()) => {
                    h.exec_privileged(batch_script(&h, batch, &HashMap::new(), false, true))
                        .await
                }
                Err(p) => Err(p),
            }
        } else {
            h.exec(batch_script(&h, batch, &markers_for, last, false)).await
        };
        let ms = started.elapsed().as_millis() as u64;
        let report = match &outcome {
            Ok(out) => parse(&out.stdout),
            Err(_) => Default::default(),
        };
        if lock::released(outcome.as_ref().map_or("", |o| o.stdout.as_str())) {
            h.run.lock_released();
        }
        for (s, text) in &report.outputs {
            h.reporter.event(&Event::StepOutput {
                host: h.run.name.clone(),
                step: *s,
                path: h.catalog.path(*s),
                text: crate::text::visible(text, true),
            });
        }
        let by_step: HashMap<StepId, &Outcome> = report.steps.iter().map(|(s, o)| (*s, o)).collect();
        // A step of this script that failed: the script stopped there, and the steps
        // it did not reach are skipped, not interrupted.
        let failed_here = batch
            .iter()
            .find(|p| matches!(by_step.get(&p.step), Some(Outcome::Failed { .. })))
            .map(|p| policy.on_failure(&h.catalog.path(p.step)));
        for p in batch {
            match by_step.get(&p.step) {
                Some(outcome @ (Outcome::Ok | Outcome::Kept)) => {
                    let note = matches!(outcome, Outcome::Kept).then(|| "kept: the directory is not empty".to_string());
                    h.event(p.step, StepStatus::Changed, ms, note);
                    h.rollout.finished(p.step, h.plan.host, Ended::Done);
                    h.board.set(p.step, Status::Done);
                    totals.changed += 1;
                }
                Some(Outcome::Failed { code, output }) => {
                    let (what, short) = match p.planned.change {
                        Change::Run { .. } => (format!("failed with exit code {code}"), format!("exit code {code}")),
                        _ => ("could not be applied".to_string(), "could not be applied".to_string()),
                    };
                    h.event(p.step, StepStatus::Failed, ms, Some(short));
                    h.rollout.finished(p.step, h.plan.host, Ended::Failed);
                    h.board.set(p.step, Status::Failed);
                    totals.failed += 1;
                    problems.push(h.catalog.problem(p.step, &what, Some(output)));
                    stopped = Some(policy.on_failure(&h.catalog.path(p.step)));
                }
                None if stopped.is_some() || failed_here.is_some() => {
                    let reason = stopped
                        .as_ref()
                        .or(failed_here.as_ref())
                        .map(|s| s.reason().to_string());
                    h.event(p.step, StepStatus::Skipped, 0, reason);
                    h.rollout.finished(p.step, h.plan.host, Ended::Skipped);
                    h.board.set(p.step, Status::Failed);
                    totals.skipped += 1;
                }
                None => {
                    // The script ended without a word about this step: the
                    // connection or the shell died under it.
                    let why = match &outcome {
                        Err(e) => e.message.clone(),
                        Ok(out) => format!("the host's shell stopped (exit {}): {}", out.code, tail(&out.stderr)),
                    };
                    h.event(p.step, StepStatus::Failed, ms, Some(why.clone()));
                    h.rollout.finished(p.step, h.plan.host, Ended::Failed);
                    h.board.set(p.step, Status::Failed);
                    totals.failed += 1;
                    let mut problem = h.catalog.problem(p.step, &format!("was interrupted: {why}"), None);
                    if let Err(e) = &outcome {
                        problem.kind = e.kind;
                        // The transport knows what to do (the sudoers line of a
                        // refused sudo, …) better than a generic step failure.
                        if e.help.is_some() {
                            problem.help.clone_from(&e.help);
                        }
                    }
                    problems.push(problem);
                    stopped = Some(policy.on_failure(&h.catalog.path(p.step)));
                }
            }
        }
        if last && stopped.is_none() {
            recorded = record_confirmed(&h, &report.extra, &mut problems);
        }
        i = end;
    }
    if stopped.is_none() && !recorded {
        // The record travels with the last batch; when the host ended with a custom
        // step or had nothing to change, it goes in a script of its own.
        let mut s = ApplyScript::new();
        finish_lines(&h, &mut s);
        match h.exec(s.finish()).await {
            Ok(out) => {
                if lock::released(&out.stdout) {
                    h.run.lock_released();
                }
                let report = parse(&out.stdout);
                if !record_confirmed(&h, &report.extra, &mut problems) {
                    problems.push(
                        Problem::new(
                            Kind::Step,
                            format!("host `{}`: recording the deployed version failed", h.run.name),
                        )
                        .on_host(&h.run.name)
                        .help(format!("the host said: {}", tail(&out.stderr))),
                    );
                }
            }
            Err(p) => problems.push(p),
        }
    }
    h.progress(Activity::Done);
    (totals, problems)
}

/// Whether the last script confirmed the record (and says why not otherwise).
fn record_confirmed(h: &HostApply, extra: &[(String, String)], problems: &mut Vec<Problem>) -> bool {
    if extra.iter().any(|(t, r)| t == "state" && r == "ok") {
        return true;
    }
    if extra.iter().any(|(t, _)| t == "state") {
        problems.push(
            Problem::new(
                Kind::Step,
                format!("host `{}`: the deployed version could not be recorded", h.run.name),
            )
            .on_host(&h.run.name)
            .help(format!(
                "ordo writes ~/.ordo/{}/state.json on the host: is the disk full?",
                h.catalog.model.service
            )),
        );
        return true;
    }
    false
}

/// The script of one batch: what ordo is about to create (so it is known even if
/// the deploy dies half-way), the pending markers of the steps these changes
/// trigger, the changes, and for the last batch the final records.
fn batch_script(
    h: &HostApply,
    batch: &[PlannedStep],
    markers_for: &HashMap<StepId, Vec<HostPath>>,
    last: bool,
    privileged: bool,
) -> String {
    let model = &h.catalog.model;
    let mut s = ApplyScript::new();
    let creating: String = batch
        .iter()
        .filter(|p| p.planned.change == Change::Create)
        .filter_map(|p| owned_entry(h, p.step))
        .map(|o| o.line())
        .collect();
    // Root must not create files in ordo's state directory (the login user could
    // not read them): a privileged batch's creations are recorded by the final
    // record only.
    if !creating.is_empty() && !privileged {
        let dir = word(&state_dir(&model.service));
        s.line(&format!(
            "{{ [ -d {dir} ] || mkdir -p -- {dir}; }} && printf '%s' {} >> {} || fail {} 1",
            quote_always(&creating),
            word(&owned_file(&model.service)),
            batch[0].step
        ));
    }
    for p in batch {
        for w in markers_for.get(&p.step).map_or(&[][..], Vec::as_slice) {
            s.mark(p.step, w);
        }
    }
    for p in batch {
        let marker = h.own_marker(p.step);
        let ctx = h.ctx(p.step, marker.as_ref());
        if let Some(m) = h.catalog.action(p.step).managed() {
            s.no_links(
                p.step,
                crate::exec::probe::parents_below(&m.path, h.root_of(p.step, &m.path)),
            );
        }
        h.catalog.action(p.step).apply(&ctx, &p.planned, &h.plan.facts, &mut s);
        s.step();
    }
    if last {
        finish_lines(h, &mut s);
    }
    s.finish()
}

/// The entry a step's path gets in the list of what ordo created.
fn owned_entry(h: &HostApply, s: StepId) -> Option<Owned> {
    let model = &h.catalog.model;
    if s.index() >= model.steps.len() {
        return None;
    }
    let step = &model.steps[s];
    let managed = step.action.managed()?;
    Some(Owned {
        kind: managed.kind,
        path: managed.path,
        component: model.components[step.component].name.clone(),
        name: step.action.name().to_string(),
    })
}

/// The end of a host's last script: the list of what ordo created (what it had
/// created and still declares, plus what this deploy created), the deployed version
/// and the release of the lock.
fn finish_lines(h: &HostApply, s: &mut ApplyScript) {
    let model = &h.catalog.model;
    let Some(record) = &h.finish.record else {
        // A partial apply leaves the records alone; only the lock goes.
        let mut lines = String::from("echo 'state ok'\n");
        if h.run.may_hold_lock() {
            lines.push_str(&lock::unlock_lines(&model.service, &h.finish.token));
        }
        s.line(lines.trim_end());
        return;
    };
    let created: HashSet<StepId> = h
        .plan
        .planned
        .iter()
        .filter(|p| p.planned.change == Change::Create)
        .map(|p| p.step)
        .collect();
    let recorded: HashSet<&HostPath> = h.plan.owned.iter().map(|o| &o.path).collect();
    let mut listed: HashSet<HostPath> = HashSet::new();
    let mut owned: Vec<Owned> = Vec::new();
    for step in model.host_steps(h.plan.host) {
        let Some(entry) = owned_entry(h, step.id) else { continue };
        let before = recorded.contains(&entry.path);
        if (before || created.contains(&step.id)) && listed.insert(entry.path.clone()) {
            owned.push(entry);
        }
    }
    let text: String = owned.iter().map(Owned::line).collect();
    let dir = word(&state_dir(&model.service));
    let json = serde_json::to_string_pretty(record).expect("state serialises");
    // A deploy's records are written under the lock it took in the probe (nothing
    // is applied without it): the lock directory is this run's own (its `mkdir`
    // took the lock), so both records are written there under fixed names and
    // renamed into place by one `mv`. Were it gone, the writes fail: `state fail`.
    debug_assert!(h.run.holds_lock(), "a deploy's records are written under its lock");
    let l = word(&lock::lock_dir(&model.service));
    let fail = "|| { echo 'state fail'; exit 1; }";
    let mut lines = format!(
        "set -- {l}/state.json; printf '%s' {} > \"$1\" {fail}\n",
        quote_always(&json)
    );
    // The list is written only when it changes (or a removal kept something): a
    // deploy that changes a value leaves it as it was.
    let owned = format!(
        "t={l}/owned; printf '%s' {} > \"$t\" && {{ [ ! -f \"$T/keep\" ] || cat \"$T/keep\" >> \"$t\"; }} && set -- \"$@\" \"$t\" {fail}",
        quote_always(&text)
    );
    if created.is_empty() && h.plan.facts.owned.as_deref() == Some(text.as_bytes()) {
        let _ = writeln!(lines, "if [ -f \"$T/keep\" ]; then {owned}; fi");
    } else {
        let _ = writeln!(lines, "{owned}");
    }
    let _ = writeln!(lines, "mv -f -t {dir} -- \"$@\" {fail}\necho 'state ok'");
    if h.run.may_hold_lock() {
        lines.push_str(&lock::unlock_lines(&model.service, &h.finish.token));
    }
    s.line(lines.trim_end());
}

/// Writes the pending markers of what `batch` triggers in a script of the login
/// user's (before a privileged batch, which must not create them as root).
async fn write_markers(
    h: &HostApply,
    batch: &[PlannedStep],
    markers_for: &HashMap<StepId, Vec<HostPath>>,
) -> Result<(), Problem> {
    let mut script = ApplyScript::new();
    let mut any = false;
    for p in batch {
        for w in markers_for.get(&p.step).map_or(&[][..], Vec::as_slice) {
            script.mark(p.step, w);
            any = true;
        }
    }
    if !any {
        return Ok(());
    }
    let out = h.exec(script.finish()).await?;
    if out.code != 0 {
        return Err(h
            .catalog
            .problem(batch[0].step, "could not record what it triggers", Some(&out.stdout)));
    }
    Ok(())
}

/// A custom step: markers of what it triggers and its root (its commands run
/// there; on a first deploy no step `before` it may have created it), its update
/// on a blocking thread, verify again, then its own marker removed.
async fn custom(h: &HostApply, s: StepId, triggers: &[HostPath], before: &[PlannedStep]) -> Result<(), Problem> {
    let model = &h.catalog.model;
    let root = &model.components[model.steps[s].component].root;
    let made_below = |p: &PlannedStep| {
        p.planned.change != Change::Remove
            && h.catalog
                .action(p.step)
                .managed()
                .is_some_and(|m| m.path == *root || m.path.is_below(root))
    };
    let root_missing =
        h.plan.facts.path(root).kind == crate::shell::probe::PathKind::Absent && !before.iter().any(made_below);
    if !triggers.is_empty() || root_missing {
        let mut script = ApplyScript::new();
        for w in triggers {
            script.mark(s, w);
        }
        if root_missing {
            script.line(&format!("pd {s} {}", word(root)));
        }
        let out = h.exec(script.finish()).await?;
        if out.code != 0 {
            return Err(h
                .catalog
                .problem(s, "could not prepare its root and what it triggers", Some(&out.stdout)));
        }
    }
    let step = model.steps[s].action.controller().expect("a custom step");
    let io = host_io(&h.run);
    let m = model.clone();
    let _permit = h.permits.acquire().await.expect("never closed");
    let result = tokio::task::spawn_blocking(move || {
        let step = m.steps[s].action.controller().expect("a custom step");
        step.update(io.clone())?;
        step.verify(io)
    })
    .await
    .map_err(|e| Problem::new(Kind::Step, format!("internal error in update: {e}")))?;
    drop(_permit);
    let _ = step;
    match result {
        Err(p) => return Err(h.catalog.problem(s, "failed in its update", None).related(p)),
        Ok(false) => {
            return Err(h
                .catalog
                .problem(s, "update did not bring the host to the verified state", None)
                .help("its verify still returns false after update ran: fix update (or verify) so they agree"));
        }
        Ok(true) => {}
    }
    if let Some(marker) = h.own_marker(s) {
        let mut script = ApplyScript::new();
        script.line(&format!("rm -f -- {}", word(&marker)));
        let out = h.exec(script.finish()).await?;
        if out.code != 0 {
            return Err(h
                .catalog
                .problem(s, "ran, but its pending marker could not be removed", Some(&out.stderr)));
        }
    }
    Ok(())
}
