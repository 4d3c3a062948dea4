//! `hook`: a command a rolling update runs on another host before or after one of
//! its batches (take the batch's backends out of the balancer, put them back). The
//! plan runs it exactly when its batch changes something; it gets the batch in
//! its environment: `ORDO_BATCH` (1-based), `ORDO_BATCHES`, `ORDO_HOSTS` and
//! `ORDO_ADDRESSES` (space-separated).

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

    fn verify(&self, step: &StepCtx<'_>, _facts: &Facts) -> Result<Option<Planned>, String> {
        Ok(step.trigger.map(Planned::run))
    }

    fn apply(&self, step: &StepCtx<'_>, planned: &Planned, facts: &Facts, script: &mut ApplyScript) {
        self.command.apply(step, planned, facts, script);
    }
}
