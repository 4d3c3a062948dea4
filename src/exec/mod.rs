//! Stage 4: run the plan on hosts. Connect to every targeted host first and stop if
//! one is unreachable; probe each host in one round trip (taking its deploy lock in
//! the same trip); verify in Rust, generically over the primitives; report the
//! changes; then (for deploy) apply them in plan order, hosts in parallel wherever
//! the plan's edges allow, batching consecutive changes of a host into one script.
//! At the end each host records the deployed fingerprint and what ordo created.
//!
//! | file | what |
//! |---|---|
//! | `hosts.rs` | one [`HostRun`] per targeted host; connect, unlock, the custom-step bridge |
//! | `limits.rs` | [`fan_out`]: every phase over many hosts, bounded by `--jobs` |
//! | `lock.rs` | the deploy lock: taken in the probe, stale detection, release |
//! | `probe.rs` | the probe script of a host and what it found |
//! | `verify.rs` | verify of one host: triggers, pending markers, paths in the way, removals |
//! | `predict.rs` | the plan phase over all hosts, its events |
//! | `schedule/` | the apply phase: cross-host waits, batches, the failure policy |
//! | `state.rs` | what ordo keeps on a host |

mod hosts;
mod limits;
pub mod lock;
mod predict;
mod probe;
mod schedule;
pub mod state;
mod verify;

use std::sync::Arc;

pub use hosts::{HostRun, Hosts, Settings, connect, transport_for, unlock};
pub use limits::fan_out;
pub use lock::{LockInfo, LockStatus};
pub use predict::{HostPlan, Locking, PlannedStep, Prediction, predict, read_states};
pub use schedule::{Applied, Finish, apply, report_hosts};
pub use state::HostState;

use crate::model::{HostId, Model, StepId};
use crate::primitive::Action;
use crate::problem::{Kind, Problem};
use crate::source::Span;
use crate::text::visible;

/// The last lines of a command's output, made safe to print (the cut marked for
/// the redactor).
pub(crate) fn tail(text: &str) -> String {
    visible(&crate::text::last_lines(text, 10), true)
}

/// A step ordo adds on its own: the removal of a path it created and no step
/// declares any more. Numbered after the model's steps.
#[derive(Debug)]
pub struct Extra {
    pub id: StepId,
    pub host: HostId,
    pub action: Action,
    /// The component that created the path.
    pub component: String,
}

/// Every step of a run — the model's and the extra ones — by id.
pub struct Catalog {
    pub model: Arc<Model>,
    pub extra: Vec<Extra>,
}

impl Catalog {
    fn extra(&self, id: StepId) -> Option<&Extra> {
        id.index()
            .checked_sub(self.model.steps.len())
            .and_then(|i| self.extra.get(i))
    }

    pub fn action(&self, id: StepId) -> &Action {
        match self.extra(id) {
            Some(e) => &e.action,
            None => &self.model.steps[id].action,
        }
    }

    pub fn host(&self, id: StepId) -> HostId {
        self.extra(id).map_or_else(|| self.model.steps[id].host, |e| e.host)
    }

    /// `host:component kind name`.
    pub fn path(&self, id: StepId) -> String {
        match self.extra(id) {
            Some(e) => format!("{}:{} {}", self.model.hosts[e.host].name, e.component, e.action.label()),
            None => self.model.step_path(id),
        }
    }

    /// Where the component of a model step is declared.
    pub fn component_span(&self, id: StepId) -> Option<&Span> {
        match self.extra(id) {
            Some(_) => None,
            None => self.model.components[self.model.steps[id].component].declared.as_ref(),
        }
    }

    pub fn span(&self, id: StepId) -> Option<&Span> {
        match self.extra(id) {
            Some(_) => None,
            None => self.model.steps[id].span.as_ref(),
        }
    }

    /// Number of ids (model steps and extra ones).
    pub fn len(&self) -> usize {
        self.model.steps.len() + self.extra.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An error on a host's step, pointing at the script line that declared it.
    pub(crate) fn problem(&self, s: StepId, what: &str, output: Option<&str>) -> Problem {
        let host = &self.model.hosts[self.host(s)].name;
        let p = Problem::new(Kind::Step, format!("{} {what}", self.path(s)))
            .at(self.span(s), format!("step declared here, failed on host {host}"))
            .in_context(self.component_span(s), "in this component, through a library it calls")
            .on_host(host);
        match output.map(str::trim).filter(|o| !o.is_empty()) {
            Some(o) => p.help(format!("output (last lines):\n{}", tail(o))),
            None => p.help(
                "fix the cause on the host or in the script and deploy again; steps already applied stay applied",
            ),
        }
    }
}
