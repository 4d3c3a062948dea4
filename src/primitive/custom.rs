//! Custom steps (`step(name, #{ verify, update })`): verify and update written by the
//! user (in Rhai, behind [`CustomStep`]) and run on the controller, where they may run
//! commands on the host through [`HostIo`]. They cost a round trip per command and are
//! not batched. After `update`, ordo runs `verify` again: an update that does not
//! bring the host to the verified state fails the step.

use std::fmt;
use std::sync::Arc;

use super::{Doc, OptionDoc, Planned, Primitive, StepCtx};
use crate::problem::Problem;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::Facts;
use crate::transport::RunOutput;

/// What a custom step's code may do with its host: run commands (synchronously; the
/// executor calls custom steps on blocking threads).
pub trait HostIo: Send + Sync {
    fn host_name(&self) -> &str;
    fn run(&self, command: &str) -> Result<RunOutput, Problem>;
}

/// A step whose verify and update are written by the user (in Rhai).
pub trait CustomStep: Send + Sync + fmt::Debug {
    /// `Ok(true)` when the host is already right and update need not run.
    fn verify(&self, host: Arc<dyn HostIo>) -> Result<bool, Problem>;
    fn update(&self, host: Arc<dyn HostIo>) -> Result<(), Problem>;
}

#[derive(Debug)]
pub struct Custom {
    pub name: String,
    pub step: Arc<dyn CustomStep>,
}

impl Primitive for Custom {
    fn kind(&self) -> &'static str {
        "step"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn reacts_to_changes(&self) -> bool {
        true
    }

    /// Its verify runs on the controller; the executor asks [`Custom::controller`]
    /// and passes the verdict as "not up to date" through the trigger.
    fn verify(&self, step: &StepCtx<'_>, _facts: &Facts) -> Result<Option<Planned>, String> {
        Ok(step.trigger.map(Planned::run))
    }

    fn apply(&self, _step: &StepCtx<'_>, _planned: &Planned, _facts: &Facts, _script: &mut ApplyScript) {
        unreachable!("custom steps run on the controller")
    }

    fn controller(&self) -> Option<&dyn CustomStep> {
        Some(&*self.step)
    }
}

pub const DOC: Doc = Doc {
    name: "step",
    signatures: &["step(name, #{ verify, update, on_change })"],
    summary: "A step written in Rhai: `verify` is a function `|host| …` returning true when the host is \
              already right; `update` makes it right. Both may run commands with `host.run(cmd)` (which \
              throws when the command fails; `host.try_run(cmd)` returns its result instead), in the \
              component's root. After `update`, verify runs again and must return true.",
    options: &[
        OptionDoc {
            name: "verify",
            kind: "function |host|",
            text: "true when the host is already right",
        },
        OptionDoc {
            name: "update",
            kind: "function |host|",
            text: "makes the host right",
        },
        OptionDoc {
            name: "on_change",
            kind: "step or array of steps",
            text: "also run update after any of these steps changed",
        },
    ],
    example: "c.add(step(\"remember\", #{ verify: |host| host.try_run(\"test -f x\").ok, update: |host| host.run(\"touch x\") }));",
};

/// `step` in [`KINDS`](super::KINDS): it owns no path.
pub const KIND: super::Kind = super::Kind { doc: &DOC, owns: None };

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_path::HostPath;
    use crate::primitive::testing::{ctx, facts};

    #[derive(Debug)]
    struct Never;

    impl CustomStep for Never {
        fn verify(&self, _: Arc<dyn HostIo>) -> Result<bool, Problem> {
            unreachable!()
        }
        fn update(&self, _: Arc<dyn HostIo>) -> Result<(), Problem> {
            unreachable!()
        }
    }

    #[test]
    fn runs_only_when_triggered_or_verify_said_so() {
        let root = HostPath::new("~/d").unwrap();
        let c = Custom {
            name: "x".into(),
            step: Arc::new(Never),
        };
        let f = facts(&[], &[], "");
        assert_eq!(c.verify(&ctx(&root, None), &f).unwrap(), None);
        let p = c
            .verify(&ctx(&root, Some("verify says the host is not up to date")), &f)
            .unwrap()
            .unwrap();
        assert_eq!(p.detail.as_deref(), Some("verify says the host is not up to date"));
        assert!(c.controller().is_some() && c.reacts_to_changes());
    }
}
