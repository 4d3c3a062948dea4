//! A custom step (`step(..)`) in the apply phase: its verify and update are Rhai
//! code that runs on the controller, between the host's scripts.

use super::host::HostApply;
use crate::exec::RunStep;
use crate::exec::hosts::host_io;
use crate::exec::prediction::PlannedStep;
use crate::model::HostPath;
use crate::primitive::Change;
use crate::problem::{Kind, Problem};
use crate::shell::apply::ApplyScript;
use crate::shell::word;

/// A custom step: markers of what it triggers and its root (its commands run
/// there; on a first deploy no step `before` it may have created it), its update
/// on a blocking thread, verify again, then its own marker removed.
pub(super) async fn custom(
    h: &HostApply,
    step: RunStep,
    triggers: &[HostPath],
    before: &[PlannedStep],
) -> Result<(), Problem> {
    let catalog = &h.catalog;
    let model = &catalog.model;
    let (Some(s), Some(_)) = (step.declared(), catalog.action(step).controller()) else {
        return Err(catalog.problem(step, "is not a custom step (a bug in ordo)", None));
    };
    let root = catalog.root(step);
    let number = catalog.number(step);
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
            script.mark(number, w);
        }
        if root_missing {
            script.line(&format!("pd {number} {}", word(root)));
        }
        let out = h.exec(script.finish()).await?;
        if out.code != 0 {
            return Err(catalog.problem(
                step,
                "could not prepare its root and what it triggers",
                Some(&out.stdout),
            ));
        }
    }
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
    match result {
        Err(p) => return Err(catalog.problem(step, "failed in its update", None).related(p)),
        Ok(false) => {
            return Err(catalog
                .problem(step, "update did not bring the host to the verified state", None)
                .help("its verify still returns false after update ran: fix update (or verify) so they agree"));
        }
        Ok(true) => {}
    }
    if let Some(marker) = catalog.marker(step) {
        let mut script = ApplyScript::new();
        script.line(&format!("rm -f -- {}", word(&marker)));
        let out = h.exec(script.finish()).await?;
        if out.code != 0 {
            return Err(catalog.problem(
                step,
                "ran, but its pending marker could not be removed",
                Some(&out.stderr),
            ));
        }
    }
    Ok(())
}
