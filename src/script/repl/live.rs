//! What REPL lines can do with live hosts, as plain Rust: the [`Live`] trait that
//! the REPL implements on top of the executor and installs into an
//! [`Interpreter`](crate::script::Interpreter). Scripts reach it through the
//! functions of this folder (`host("web1").run(..)`, `facts`, `plan`, `check`, `apply`…);
//! without a REPL those functions say that they need one. Rhai is synchronous, so
//! every method blocks: the implementation bridges to the async executor.

use std::sync::Arc;

use serde::Serialize;

use crate::model::Model;
use crate::problem::Problem;
use crate::script::clock::waiting;

/// Live hosts and the loaded environment, for REPL lines. Methods that do
/// something on hosts (`run`, `plan`, `check`, `apply`) report what they do
/// through the REPL's reporter as they go and return a summary; the others return
/// data for the line to use or show.
pub trait Live: Send + Sync {
    /// Every host of the environment: name, transport, address, roles, components.
    fn hosts(&self) -> Result<serde_json::Value, Problem>;
    /// Every component of the service and the hosts it is placed on.
    fn components(&self) -> Result<serde_json::Value, Problem>;
    /// The attributes of `component` as configure read them: on `host`, or per
    /// host when `None`.
    fn attrs(&self, component: &str, host: Option<&str>) -> Result<serde_json::Value, Problem>;
    /// The hosts a name, glob (`web*`) or role names, in host order; none is an error.
    fn select(&self, pattern: &str) -> Result<Vec<String>, Problem>;
    /// Runs `command` with `sh` in the service user's home on `hosts`, in parallel.
    fn run(&self, hosts: &[String], command: &str) -> Result<Vec<CommandResult>, Problem>;
    /// What one probe round trip finds out about `host`.
    fn facts(&self, host: &str) -> Result<serde_json::Value, Problem>;
    /// What a deploy would change (read-only, no lock): everything, or one
    /// component, on every host or one.
    fn plan(&self, component: Option<&str>, host: Option<&str>) -> Result<Summary, Problem>;
    /// What `trial` (a model holding one ad-hoc component on `host`) would change
    /// there, without applying it.
    fn check(&self, trial: Arc<Model>, host: &str) -> Result<Summary, Problem>;
    /// Applies exactly one component (on its hosts, or on `host`) or one ad-hoc
    /// trial, with the deploy lock and a confirmation.
    fn apply(&self, target: Target, host: Option<&str>) -> Result<Summary, Problem>;
}

/// What `apply` applies.
pub enum Target {
    /// A component of the service, by name.
    Component(String),
    /// An ad-hoc step or component built in the REPL, placed on the one host given.
    Trial(Arc<Model>),
}

/// A command's result on one host.
#[derive(Clone, Debug, Serialize)]
pub struct CommandResult {
    pub host: String,
    /// `None` when the command did not run (`error` says why).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub error: Option<String>,
}

/// The totals of a plan, check or apply.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub changes: usize,
    pub unchanged: usize,
    pub conflicts: usize,
    pub hosts: usize,
    /// What an apply changed (`None` for a plan or check, or an apply not
    /// confirmed).
    pub applied: Option<usize>,
}

/// A [`Live`] whose every call is a wait (`clock.rs`): the time a line spends on
/// hosts, or waiting for the user's answer, does not count against its limit.
pub(crate) struct Waiting(pub(crate) Arc<dyn Live>);

impl Live for Waiting {
    fn hosts(&self) -> Result<serde_json::Value, Problem> {
        waiting(|| self.0.hosts())
    }
    fn components(&self) -> Result<serde_json::Value, Problem> {
        waiting(|| self.0.components())
    }
    fn attrs(&self, component: &str, host: Option<&str>) -> Result<serde_json::Value, Problem> {
        waiting(|| self.0.attrs(component, host))
    }
    fn select(&self, pattern: &str) -> Result<Vec<String>, Problem> {
        waiting(|| self.0.select(pattern))
    }
    fn run(&self, hosts: &[String], command: &str) -> Result<Vec<CommandResult>, Problem> {
        waiting(|| self.0.run(hosts, command))
    }
    fn facts(&self, host: &str) -> Result<serde_json::Value, Problem> {
        waiting(|| self.0.facts(host))
    }
    fn plan(&self, component: Option<&str>, host: Option<&str>) -> Result<Summary, Problem> {
        waiting(|| self.0.plan(component, host))
    }
    fn check(&self, trial: Arc<Model>, host: &str) -> Result<Summary, Problem> {
        waiting(|| self.0.check(trial, host))
    }
    fn apply(&self, target: Target, host: Option<&str>) -> Result<Summary, Problem> {
        waiting(|| self.0.apply(target, host))
    }
}
