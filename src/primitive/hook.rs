//! `hook`: a command a rolling update runs on another host before or after one of
//! its batches (take the batch's backends out of the balancer, put them back). The
//! plan runs it exactly when its batch changes something; it gets the batch in
//! its environment: `ORDO_BATCH` (1-based), `ORDO_BATCHES`, `ORDO_HOSTS` and
//! `ORDO_ADDRESSES` (space-separated). An `after` hook watches its batch's `before`
//! hook: its pending marker is written before the `before` hook runs and removed
//! when it ran, so a batch left drained by a deploy that stopped in between is put
//! back by the next deploy.

use super::command::Command;
use super::{Planned, Primitive, StepCtx};
use crate::shell::apply::ApplyScript;
use crate::shell::probe::Facts;

#[derive(Debug)]
pub struct Hook {
    /// `app batch 1 before`: what the plan shows after `hook`.
    pub label: String,
    pub command: Command,
}

impl Primitive for Hook {
    fn kind(&self) -> &'static str {
        "hook"
    }

    fn name(&self) -> &str {
        &self.label
    }

    /// A hook is planned by its batch (see `exec::predict::plan_hooks`); on its own
    /// only an `after` hook whose `before` hook ran in a deploy that stopped before
    /// it (its pending marker is there).
    fn verify(&self, step: &StepCtx<'_>, _facts: &Facts) -> Result<Option<Planned>, String> {
        Ok(step.trigger.map(|_| {
            Planned::run(
                "pending: an earlier deploy may have taken this batch out and stopped before this hook".to_string(),
            )
        }))
    }

    fn reacts_to_changes(&self) -> bool {
        true
    }

    fn apply(&self, step: &StepCtx<'_>, planned: &Planned, facts: &Facts, script: &mut ApplyScript) {
        self.command.apply(step, planned, facts, script);
    }
}
