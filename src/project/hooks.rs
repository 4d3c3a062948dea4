//! The controller's hooks, as `ordo.rhai` declares them (`project(#{ hooks: … })`):
//! commands that run on the machine that runs ordo before a deploy's first change,
//! after it ends, and when it fails (decision 61). Plain data; `command/hooks.rs`
//! runs them.

use std::time::Duration;

use crate::source::Span;

/// When a hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPoint {
    /// After the confirmation, before any change; a failure stops the deploy.
    BeforeDeploy,
    /// After the deploy ended, whatever its result.
    AfterDeploy,
    /// After a deploy that did not succeed (before the `after_deploy` hooks).
    OnFailure,
}

impl HookPoint {
    pub fn word(self) -> &'static str {
        match self {
            HookPoint::BeforeDeploy => "before_deploy",
            HookPoint::AfterDeploy => "after_deploy",
            HookPoint::OnFailure => "on_failure",
        }
    }

    pub const ALL: [HookPoint; 3] = [HookPoint::BeforeDeploy, HookPoint::AfterDeploy, HookPoint::OnFailure];
}

/// One command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// Run with `sh -c` in the project's directory.
    pub run: String,
    /// Only for these environments (all when empty).
    pub environments: Vec<String>,
    /// Secrets of the environment it gets, each as `ORDO_SECRET_<NAME>`: the only
    /// way a hook sees a decrypted value.
    pub secrets: Vec<String>,
    /// How long it may run (`--timeout` when absent).
    pub timeout: Option<Duration>,
    /// Where `ordo.rhai` declares it.
    pub span: Option<Span>,
}

/// Every hook of the project, in declaration order per point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hooks {
    pub before_deploy: Vec<Hook>,
    pub after_deploy: Vec<Hook>,
    pub on_failure: Vec<Hook>,
}

impl Hooks {
    /// The hooks of `point` that run for `environment`.
    pub fn at(&self, point: HookPoint, environment: &str) -> Vec<&Hook> {
        let all = match point {
            HookPoint::BeforeDeploy => &self.before_deploy,
            HookPoint::AfterDeploy => &self.after_deploy,
            HookPoint::OnFailure => &self.on_failure,
        };
        all.iter()
            .filter(|h| h.environments.is_empty() || h.environments.iter().any(|e| e == environment))
            .collect()
    }

    pub fn list_mut(&mut self, point: HookPoint) -> &mut Vec<Hook> {
        match point {
            HookPoint::BeforeDeploy => &mut self.before_deploy,
            HookPoint::AfterDeploy => &mut self.after_deploy,
            HookPoint::OnFailure => &mut self.on_failure,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.before_deploy.is_empty() && self.after_deploy.is_empty() && self.on_failure.is_empty()
    }
}
