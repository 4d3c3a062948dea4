//! The apply of one host: its planned changes in order, consecutive ones batched
//! into one script (one round trip) as long as nothing they need from other hosts is
//! missing; custom steps run on the controller between scripts. The last script also
//! rewrites the list of what ordo created, records the deployed version and releases
//! the lock.
//!
//! [`run`] loops over three parts: [`next_batch`] (what may run now: waits for other
//! hosts, the failure budget of a rollout, how far a batch reaches), [`run_batch`]
//! (one script, as the login user or as root, or one custom step) and [`record`]
//! (the final records and the lock, when the last script did not carry them).

use std::collections::HashMap;
use std::time::Instant;

use super::board::Status;
use super::custom::custom;
use super::host::{HostApply, Markers, markers};
use super::policy::{Policy, Stop};
use super::rollout::{Ended, Verdict};
use super::script::{batch_script, finish_lines, record_confirmed, write_markers};
use super::{Totals, step_event};
use crate::exec::lock;
use crate::exec::prediction::PlannedStep;
use crate::exec::{RunStep, tail};
use crate::model::{RunOutput, StepId};
use crate::primitive::Change;
use crate::problem::{Kind, Problem};
use crate::report::{Activity, Event, StepStatus};
use crate::shell::apply::{ApplyScript, Outcome, Report, parse};

/// What a host's apply has done so far.
#[derive(Default)]
struct Tally {
    totals: Totals,
    problems: Vec<Problem>,
    /// Why the rest of the host's steps are skipped.
    stopped: Option<Stop>,
    /// The final records went with the last script.
    recorded: bool,
}

impl Tally {
    /// `s` ended: its event, its rollout and the board (which releases the steps
    /// waiting for it). `batch_first`: the rollout hears of it before the step's
    /// event is reported (a step skipped because the host stopped, a custom step
    /// that failed).
    fn ended(&mut self, h: &HostApply, s: RunStep, how: Ended, ms: u64, error: Option<String>, batch_first: bool) {
        let (status, board) = match how {
            Ended::Done => (StepStatus::Changed, Status::Done),
            Ended::Failed => (StepStatus::Failed, Status::Failed),
            Ended::Skipped => (StepStatus::Skipped, Status::Failed),
        };
        let event = step_event(&h.catalog, &h.run.name, s, status, ms, error);
        if !batch_first {
            h.reporter.event(&event);
        }
        h.rollout.finished(s, h.plan.host, how);
        h.board.set(s, board);
        if batch_first {
            h.reporter.event(&event);
        }
        match how {
            Ended::Done => {
                self.totals.changed += 1;
                self.totals.changed_steps.push(h.catalog.path(s));
            }
            Ended::Failed => {
                self.totals.failed += 1;
                self.totals.failed_steps.push(h.catalog.path(s));
            }
            Ended::Skipped => self.totals.skipped += 1,
        }
    }

    /// `s` failed with `problem`: the host stops.
    fn failed(&mut self, h: &HostApply, s: RunStep, problem: Problem) {
        self.problems.push(problem);
        self.stopped = Some(Policy.on_failure(&h.catalog.path(s)));
    }
}

/// Applies one host's plan. Returns its totals and problems.
pub(super) async fn run(h: HostApply) -> (Totals, Vec<Problem>) {
    let markers = markers(&h);
    let mut tally = Tally::default();
    let mut i = 0;
    while i < h.plan.planned.len() {
        i = match next_batch(&h, i, &mut tally).await {
            Next::Again => i,
            Next::Skipped => i + 1,
            Next::Run { end } => run_batch(&h, i, end, &markers, &mut tally).await,
        };
    }
    if tally.stopped.is_none() && !tally.recorded {
        tally.recorded = record(&h, &mut tally.problems).await;
    }
    h.gate.passed();
    h.progress(Activity::Done);
    // Confirmed by the host, and nothing failed on the way.
    tally.totals.recorded = tally.recorded && tally.problems.is_empty();
    (tally.totals, tally.problems)
}

/// What may happen at the step a host is at.
enum Next {
    /// It was skipped (the host has stopped).
    Skipped,
    /// The host stopped (a step it waited for failed): look at it again.
    Again,
    /// Run the steps up to `end` (exclusive): one script, or one custom step.
    Run { end: usize },
}

/// Waits until the changes on other hosts that step `i` needs are through, and
/// decides how far the batch that starts there reaches: while the next changes
/// need nothing from other hosts that is not done yet, and run with the same
/// privilege. A custom step runs alone.
async fn next_batch(h: &HostApply, i: usize, tally: &mut Tally) -> Next {
    let planned = &h.plan.planned;
    let first = planned[i].step;
    if let Some(stop) = &tally.stopped {
        let reason = stop.reason().to_string();
        tally.ended(h, first, Ended::Skipped, 0, Some(reason), true);
        return Next::Skipped;
    }
    let deps = h.other_host_deps(first);
    if !h.board.ready(&deps) {
        // Never wait for another host while closed hosts wait for this one.
        h.gate.passed();
        h.progress(Activity::Waiting {
            on: h.catalog.path(deps[0]),
        });
    }
    let failed = h.board.settled(&deps).await;
    if !failed.is_empty() {
        match h.rollout.judge(&h.catalog, first, &failed) {
            Verdict::Tolerated => {}
            Verdict::Stop { reason, problem } => {
                tally.problems.extend(problem.map(|p| *p));
                tally.stopped = Some(Stop::Upstream(reason));
                return Next::Again;
            }
        }
    }
    let action = |s: RunStep| h.catalog.action(s);
    if action(first).controller().is_some() {
        return Next::Run { end: i + 1 };
    }
    let privileged = action(first).privileged();
    let mut end = i + 1;
    while end < planned.len()
        && action(planned[end].step).controller().is_none()
        && action(planned[end].step).privileged() == privileged
        && h.board.ready(&h.other_host_deps(planned[end].step))
    {
        end += 1;
    }
    Next::Run { end }
}

/// Runs the steps `i..end` — one custom step on the controller, or one script (as
/// root for privileged steps) — and tallies each step's outcome. Returns `end`.
async fn run_batch(h: &HostApply, i: usize, end: usize, markers: &Markers, tally: &mut Tally) -> usize {
    let planned = &h.plan.planned;
    let first = planned[i].step;
    let started = Instant::now();
    h.progress(Activity::Applying {
        step: h.catalog.path(first),
    });
    if h.catalog.action(first).controller().is_some() {
        h.gate.turn().await;
        h.gate.passed();
        h.rollout.started(first);
        let triggers = markers.get(&first).map_or(&[][..], Vec::as_slice);
        let ms = || started.elapsed().as_millis() as u64;
        match custom(h, first, triggers, &planned[..i]).await {
            Ok(()) => tally.ended(h, first, Ended::Done, ms(), None, false),
            Err(p) => {
                tally.ended(h, first, Ended::Failed, ms(), Some(p.message.clone()), true);
                tally.failed(h, first, p);
            }
        }
        return end;
    }
    let batch = &planned[i..end];
    for p in batch {
        h.rollout.started(p.step);
    }
    let privileged = h.catalog.action(first).privileged();
    let last = end == planned.len() && !privileged;
    let outcome = if privileged {
        // ordo's own records stay the login user's: markers go first in a script
        // of the user's own, and the final record in a script after.
        match write_markers(h, batch, markers).await {
            Ok(()) => {
                h.exec_privileged(batch_script(h, batch, &HashMap::new(), false, true))
                    .await
            }
            Err(p) => Err(p),
        }
    } else {
        h.exec(batch_script(h, batch, markers, last, false)).await
    };
    let ms = started.elapsed().as_millis() as u64;
    let report = match &outcome {
        Ok(out) => parse(&out.stdout),
        Err(_) => Report::default(),
    };
    let stdout = outcome.as_ref().map_or("", |o| o.stdout.as_str());
    if lock::released(stdout) {
        h.run.lock_released();
    }
    unrecorded(h, stdout);
    for (n, text) in &report.outputs {
        h.reporter.event(&Event::StepOutput {
            host: h.run.name.clone(),
            step: *n,
            path: h
                .catalog
                .step(*n)
                .map_or_else(|| format!("step {n}"), |s| h.catalog.path(s)),
            text: crate::text::visible(text, true),
        });
    }
    tally_batch(h, batch, &outcome, &report, ms, tally);
    if last && tally.stopped.is_none() {
        tally.recorded = record_confirmed(h, &report.extra, &mut tally.problems);
    }
    end
}

/// Each step of a script that ran: done, failed, skipped (the script stopped at a
/// failure before it) or interrupted (the script ended without a word about it).
fn tally_batch(
    h: &HostApply,
    batch: &[PlannedStep],
    outcome: &Result<RunOutput, Problem>,
    report: &Report,
    ms: u64,
    tally: &mut Tally,
) {
    let by_step: HashMap<StepId, &Outcome> = report.steps.iter().map(|(n, o)| (*n, o)).collect();
    let of = |p: &PlannedStep| by_step.get(&h.catalog.number(p.step)).copied();
    // A step of this script that failed: the script stopped there, and the steps
    // it did not reach are skipped, not interrupted.
    let failed_here = batch
        .iter()
        .find(|p| matches!(of(p), Some(Outcome::Failed { .. })))
        .map(|p| Policy.on_failure(&h.catalog.path(p.step)));
    for p in batch {
        match of(p) {
            Some(outcome @ (Outcome::Ok | Outcome::Kept)) => {
                let note = matches!(outcome, Outcome::Kept).then(|| "kept: the directory is not empty".to_string());
                tally.ended(h, p.step, Ended::Done, ms, note, false);
            }
            Some(Outcome::Failed { code, output }) => {
                let (what, short) = match p.planned.change {
                    Change::Run { .. } => (format!("failed with exit code {code}"), format!("exit code {code}")),
                    _ => ("could not be applied".to_string(), "could not be applied".to_string()),
                };
                tally.ended(h, p.step, Ended::Failed, ms, Some(short), false);
                tally.failed(h, p.step, h.catalog.problem(p.step, &what, Some(output)));
            }
            None if tally.stopped.is_some() || failed_here.is_some() => {
                let reason = tally
                    .stopped
                    .as_ref()
                    .or(failed_here.as_ref())
                    .map(|s| s.reason().to_string());
                tally.ended(h, p.step, Ended::Skipped, 0, reason, false);
            }
            None => {
                // The script ended without a word about this step: the
                // connection or the shell died under it.
                let why = match outcome {
                    Err(e) => e.message.clone(),
                    Ok(out) => format!("the host's shell stopped (exit {}): {}", out.code, tail(&out.stderr)),
                };
                tally.ended(h, p.step, Ended::Failed, ms, Some(why.clone()), false);
                let mut problem = h.catalog.problem(p.step, &format!("was interrupted: {why}"), None);
                if let Err(e) = outcome {
                    problem.kind = e.kind;
                    // The transport knows what to do (the sudoers line of a
                    // refused sudo, …) better than a generic step failure.
                    if e.help.is_some() {
                        problem.help.clone_from(&e.help);
                    }
                }
                tally.failed(h, p.step, problem);
            }
        }
    }
}

/// Says so when a host's history did not take the end of this run's entry (the
/// deploy itself went on: its changes are made).
fn unrecorded(h: &HostApply, stdout: &str) {
    if stdout.lines().any(|l| l == "history fail") {
        h.reporter.event(&Event::Notice {
            host: Some(h.run.name.clone()),
            level: crate::report::Level::Warning,
            text: format!(
                "{}: the end of this deploy could not be written to the host's history (~/.ordo/{}/history): is the disk full?",
                h.run.name, h.catalog.model.service
            ),
            span: None,
        });
    }
}

/// The final records and the release of the lock, in a script of their own: the
/// host ended with a custom step or a privileged batch, or had nothing to change.
/// Returns whether the host confirmed them.
async fn record(h: &HostApply, problems: &mut Vec<Problem>) -> bool {
    let mut s = ApplyScript::new();
    finish_lines(h, &mut s, true);
    match h.exec(s.finish()).await {
        Ok(out) => {
            if lock::released(&out.stdout) {
                h.run.lock_released();
            }
            unrecorded(h, &out.stdout);
            let report = parse(&out.stdout);
            if record_confirmed(h, &report.extra, problems) {
                return true;
            }
            problems.push(
                Problem::new(
                    Kind::Step,
                    format!("host `{}`: recording the deployed version failed", h.run.name),
                )
                .on_host(&h.run.name)
                .help(format!("the host said: {}", tail(&out.stderr))),
            );
            false
        }
        Err(p) => {
            problems.push(p);
            false
        }
    }
}
