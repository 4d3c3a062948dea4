//! The scripts of a host's apply: a batch of changes (what ordo is about to
//! create first, the pending markers of what the changes trigger, the changes) and
//! the final records — the list of what ordo created, the deployed version, the
//! release of the lock — that travel with the last batch or in a script of their
//! own. A retired host records nothing: its last lines remove ordo's state
//! directory, lock included.

use std::collections::HashSet;
use std::fmt::Write;

use super::host::{HostApply, Markers};
use crate::exec::RunStep;
use crate::exec::history::{Ending, Outcome};
use crate::exec::lock;
use crate::exec::prediction::PlannedStep;
use crate::exec::state::{Owned, owned_file, state_dir};
use crate::model::HostPath;
use crate::primitive::Change;
use crate::problem::{Kind, Problem};
use crate::shell::apply::ApplyScript;
use crate::shell::{quote_always, word};

/// Whether the last script confirmed the record (and says why not otherwise).
pub(super) fn record_confirmed(h: &HostApply, extra: &[(String, String)], problems: &mut Vec<Problem>) -> bool {
    if extra.iter().any(|(t, r)| t == "state" && r == "ok") {
        return true;
    }
    if extra.iter().any(|(t, _)| t == "state") {
        let service = &h.catalog.model.service;
        let problem = if h.retired() {
            Problem::new(
                Kind::Step,
                format!("host `{}`: ordo's records there could not be removed", h.run.name),
            )
            .help(format!(
                "the teardown is not complete: look at ~/.ordo/{service} on the host (permissions?), then deploy again"
            ))
        } else {
            Problem::new(
                Kind::Step,
                format!("host `{}`: the deployed version could not be recorded", h.run.name),
            )
            .help(format!(
                "ordo writes ~/.ordo/{service}/state.json on the host: is the disk full?"
            ))
        };
        problems.push(problem.on_host(&h.run.name));
        return true;
    }
    false
}

/// The script of one batch: what ordo is about to create (so it is known even if
/// the deploy dies half-way), the pending markers of the steps these changes
/// trigger, the changes, and for the last batch the final records.
pub(super) fn batch_script(
    h: &HostApply,
    batch: &[PlannedStep],
    markers: &Markers,
    last: bool,
    privileged: bool,
) -> String {
    let catalog = &h.catalog;
    let model = &h.catalog.model;
    let mut s = ApplyScript::new();
    let creating: String = batch
        .iter()
        .filter(|p| p.planned.change == Change::Create)
        .filter_map(|p| catalog.owned_entry(p.step))
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
            catalog.number(batch[0].step)
        ));
    }
    for p in batch {
        for w in markers.get(&p.step).map_or(&[][..], Vec::as_slice) {
            s.mark(catalog.number(p.step), w);
        }
    }
    for p in batch {
        let marker = catalog.marker(p.step);
        let ctx = h.ctx(p.step, marker.as_ref());
        if let Some(m) = catalog.action(p.step).managed() {
            s.no_links(
                ctx.id,
                crate::exec::probe::parents_below(&m.path, catalog.managed_root(p.step, &m.path)),
            );
        }
        catalog.action(p.step).apply(&ctx, &p.planned, &h.plan.facts, &mut s);
        s.step();
    }
    if last {
        finish_lines(h, &mut s, false);
    }
    s.finish()
}

/// The end of this run's history entry on a host whose every planned change is
/// made (a script reaches its final lines only then). `now`: the script has no
/// changes before these lines.
fn history_end(h: &HostApply, now: bool) -> String {
    let (Some(writer), Some(probed)) = (&h.finish.history, h.run.history()) else {
        return String::new();
    };
    if !probed.begun {
        return String::new();
    }
    let steps: Vec<String> = h.plan.planned.iter().map(|p| h.catalog.path(p.step)).collect();
    let ending = Ending {
        result: Outcome::Ok,
        note: None,
        changes: steps.len(),
        unchanged: h.plan.unchanged,
        changed: steps.len(),
        failed: 0,
        skipped: 0,
        changed_steps: steps,
        failed_steps: Vec::new(),
    };
    writer.end_lines(&probed, &ending, now, &lock::lock_dir(&h.catalog.model.service))
}

/// The end of a host's last script: the list of what ordo created (what it had
/// created and still declares, plus what this deploy created), the deployed
/// version, the end of the history entry and the release of the lock. `now`: the
/// script does nothing else (see [`history_end`]).
pub(super) fn finish_lines(h: &HostApply, s: &mut ApplyScript, now: bool) {
    let model = &h.catalog.model;
    let Some(record) = &h.finish.record else {
        // A partial apply leaves the records alone; only the lock goes.
        let mut lines = String::from("echo 'state ok'\n");
        if h.run.may_hold_lock() {
            lines.push_str(&lock::unlock_lines(
                &model.service,
                &h.finish.token,
                &history_end(h, now),
            ));
        }
        s.line(lines.trim_end());
        return;
    };
    if h.retired() {
        // Nothing is recorded on a retired host: its records go, the lock last.
        debug_assert!(h.run.holds_lock(), "a teardown runs under its lock");
        s.line(lock::teardown_lines(&model.service, &h.finish.token).trim_end());
        return;
    }
    let created: HashSet<RunStep> = h
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
        let s = RunStep::Declared(step.id);
        let Some(entry) = h.catalog.owned_entry(s) else {
            continue;
        };
        let before = recorded.contains(&entry.path);
        if (before || created.contains(&s)) && listed.insert(entry.path.clone()) {
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
        lines.push_str(&lock::unlock_lines(
            &model.service,
            &h.finish.token,
            &history_end(h, now),
        ));
    }
    s.line(lines.trim_end());
}

/// Writes the pending markers of what `batch` triggers in a script of the login
/// user's (before a privileged batch, which must not create them as root).
pub(super) async fn write_markers(h: &HostApply, batch: &[PlannedStep], markers: &Markers) -> Result<(), Problem> {
    let mut script = ApplyScript::new();
    let mut any = false;
    for p in batch {
        for w in markers.get(&p.step).map_or(&[][..], Vec::as_slice) {
            script.mark(h.catalog.number(p.step), w);
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
