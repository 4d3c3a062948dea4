//! The result of evaluating a project's scripts: plain Rust data, no Rhai. Hosts,
//! component instances (a component placed on a host, and its sub-components), the
//! steps they declared (each a [`Primitive`](crate::primitive::Primitive)), and the
//! ordering links between components. Everything keeps the [`Span`] of the script
//! call that created it.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::host_path::{HostPath, shell_quote};
pub use crate::ids::{ComponentId, HostId, Id, IdVec, LinkId, StepId};
pub use crate::primitive::{Action, CustomStep, HostIo};
pub use crate::sys::sha256_hex;
pub use crate::transport::RunOutput;

use crate::source::Span;

#[derive(Debug)]
pub struct Model {
    pub environment: String,
    pub service: String,
    pub hosts: IdVec<HostId, Host>,
    pub components: IdVec<ComponentId, Component>,
    pub steps: IdVec<StepId, Step>,
    pub links: IdVec<LinkId, Link>,
    /// Ordering edges between single steps (a `once` step and the instances that
    /// skip it).
    pub step_links: Vec<StepLink>,
    /// Components restarted in batches (`env.rolling(..)`).
    pub rollings: Vec<Rolling>,
}

impl Model {
    pub fn host_steps(&self, host: HostId) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.host == host)
    }

    /// `host:component`, the breadcrumb of a component instance.
    pub fn component_path(&self, component: ComponentId) -> String {
        let c = &self.components[component];
        format!("{}:{}", self.hosts[c.host].name, c.name)
    }

    /// `host:component kind name`, the breadcrumb of a step.
    pub fn step_path(&self, step: StepId) -> String {
        let s = &self.steps[step];
        format!("{} {}", self.component_path(s.component), s.action.label())
    }

    /// The root component (placement) a component belongs to.
    pub fn root_of(&self, mut component: ComponentId) -> ComponentId {
        while let Some(p) = self.components[component].parent {
            component = p;
        }
        component
    }
}

/// How ordo reaches a host.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TransportSpec {
    /// Commands run on this machine, as the current user, with `HOME` set to `home`
    /// so that several "hosts" can live side by side in separate directories.
    Local { home: std::path::PathBuf },
    /// Commands run over SSH as `user` on `address`.
    Ssh {
        address: String,
        port: Option<u16>,
        user: Option<String>,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct Host {
    pub name: String,
    pub transport: TransportSpec,
    pub address: String,
    pub user: String,
    pub roles: Vec<String>,
    pub data: serde_json::Value,
    pub span: Option<Span>,
    /// Where its components go (`~/deployment/<service>`): what ordo created below
    /// it is removed when no step declares it any more, on a retired host too.
    pub root: HostPath,
    /// `.retire()`: nothing runs here; a deploy tears down what ordo created.
    pub retired: bool,
    /// Where it was retired.
    pub retire_span: Option<Span>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Component {
    /// `app`, or `app/venv` for a sub-component.
    pub name: String,
    pub host: HostId,
    pub parent: Option<ComponentId>,
    /// The component's root directory on its host; relative step paths resolve here.
    pub root: HostPath,
    /// Attribute values as read by configure (defaults and overrides applied).
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub span: Option<Span>,
    /// Where its code is declared (`s.component(..)`, or the sub-component's call).
    pub declared: Option<Span>,
}

#[derive(Debug)]
pub struct Step {
    pub id: StepId,
    pub host: HostId,
    pub component: ComponentId,
    pub action: Action,
    /// Steps whose change makes this one run (`on_change`, `restart_on`,
    /// `reload_on`, `purge_on`).
    pub triggers: Vec<StepId>,
    /// Those of `triggers` that only ask for a reload (`reload_on`): when only
    /// these changed, a program reloads instead of restarting.
    pub reloads: Vec<StepId>,
    pub span: Option<Span>,
}

/// An ordering edge between two component instances, with the reason it exists.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    pub before: ComponentId,
    pub after: ComponentId,
    pub reason: LinkReason,
    pub span: Option<Span>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LinkReason {
    /// `after` requires a key that `before` provides.
    Provides { key: String },
    /// An explicit `c.after(..)` or `c.before(..)`.
    Explicit,
}

/// An ordering edge between two steps, possibly on different hosts.
#[derive(Clone, Debug, Serialize)]
pub struct StepLink {
    pub before: StepId,
    pub after: StepId,
    pub reason: StepLinkReason,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepLinkReason {
    /// `before` runs on one host only (`once`); the instance on another host
    /// continues after it, from the step it would have run at that point.
    Once,
}

/// A component whose instances are updated in batches: each batch waits for the
/// previous one (its health checks included), with hook steps on another host
/// before and after each batch.
#[derive(Clone, Debug, Serialize)]
pub struct Rolling {
    pub component: String,
    /// The root instances of the component, batch by batch, in placement order.
    pub batches: Vec<Vec<ComponentId>>,
    /// How many hosts may fail before the rollout stops.
    pub max_failures: usize,
    /// The `before` hook step of each batch, if any.
    pub before: Vec<Option<StepId>>,
    /// The `after` hook step of each batch, if any.
    pub after: Vec<Option<StepId>>,
    pub span: Option<Span>,
}

/// The batches of `n` instances for a batch size of `size` hosts, or `percent` of
/// them (rounded up, at least one).
pub fn batch_size(n: usize, size: Option<usize>, percent: Option<usize>) -> usize {
    let k = match (size, percent) {
        (Some(s), _) => s,
        (None, Some(p)) => (n * p).div_ceil(100),
        (None, None) => 1,
    };
    k.clamp(1, n.max(1))
}
