//! The result of evaluating a project's scripts: plain Rust data, no Rhai. Hosts,
//! component instances (a component placed on a host, and its sub-components), the
//! steps they declared, and the ordering links between components. Everything keeps
//! the [`Span`] of the script call that created it.

mod action;
mod host_path;

use std::collections::BTreeMap;

use serde::Serialize;

pub use action::{Action, CustomStep, HostIo, RunOutput, sha256_hex};
pub use host_path::{HostPath, shell_quote};

use crate::source::Span;

#[derive(Debug, Serialize)]
pub struct Model {
    pub environment: String,
    pub service: String,
    pub hosts: Vec<Host>,
    pub components: Vec<Component>,
    pub steps: Vec<Step>,
    pub links: Vec<Link>,
}

impl Model {
    pub fn host_steps(&self, host: usize) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.host == host)
    }

    /// `host:component`, the breadcrumb of a component instance.
    pub fn component_path(&self, component: usize) -> String {
        let c = &self.components[component];
        format!("{}:{}", self.hosts[c.host].name, c.name)
    }

    /// `host:component/step`, the breadcrumb of a step.
    pub fn step_path(&self, step: usize) -> String {
        let s = &self.steps[step];
        format!("{} {}", self.component_path(s.component), s.action.label())
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
}

#[derive(Clone, Debug, Serialize)]
pub struct Component {
    /// `app`, or `app/venv` for a sub-component.
    pub name: String,
    pub host: usize,
    pub parent: Option<usize>,
    /// The component's root directory on its host; relative step paths resolve here.
    pub root: HostPath,
    /// Attribute values as read by configure (defaults and overrides applied).
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub span: Option<Span>,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub id: usize,
    pub host: usize,
    pub component: usize,
    pub action: Action,
    /// Steps whose change makes this one run (`on_change`).
    pub triggers: Vec<usize>,
    pub span: Option<Span>,
}

/// An ordering edge between two component instances, with the reason it exists.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    pub before: usize,
    pub after: usize,
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
