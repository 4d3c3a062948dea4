//! What configure builds and assemble reads: everything one root component
//! instance (a component placed on a host) declared in one configure run — its
//! components, steps, provides and ordering — before it becomes part of the
//! [`Model`](crate::model::Model). The Rhai surface (`api/component.rs`, the `c`
//! of `fn app(c)`) writes it; `eval/` reads it; neither needs the other.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rhai::Dynamic;

use crate::model::{Action, HostPath};
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem};
use crate::script::errors::{RhaiResult, fail};
use crate::source::Span;

static SERIAL: AtomicU64 = AtomicU64::new(1);

/// Everything one root component instance (a component placed on a host) declared in
/// one configure run, sub-components included.
pub(crate) struct RootBuild {
    pub(crate) serial: u64,
    pub(crate) root: usize,
    pub(crate) host: usize,
    pub(crate) host_info: Dynamic,
    pub(crate) service: String,
    pub(crate) environment: String,
    pub(crate) components: Vec<CompBuild>,
    pub(crate) steps: Vec<StepBuild>,
    pub(crate) provides: BTreeMap<String, Vec<(serde_json::Value, Dynamic, Option<Span>)>>,
    /// (component name, this instance runs after it?, span)
    pub(crate) order: Vec<(String, bool, Option<Span>)>,
}

pub(crate) struct CompBuild {
    pub(crate) name: String,
    pub(crate) parent: Option<usize>,
    pub(crate) dir: HostPath,
    pub(crate) span: Option<Span>,
    /// Where its code is declared: `s.component(..)` for a root, the call for a
    /// sub-component.
    pub(crate) declared: Option<Span>,
    /// Values given from outside: overrides for a root, the map for a sub-component.
    pub(crate) given: BTreeMap<String, Given>,
    pub(crate) attributes: BTreeMap<String, Dynamic>,
}

pub(crate) struct StepBuild {
    pub(crate) comp: usize,
    pub(crate) action: Action,
    pub(crate) on_change: Vec<StepRef>,
    pub(crate) reload_on: Vec<StepRef>,
    pub(crate) once: Option<Once>,
    pub(crate) span: Option<Span>,
}

/// The `c` of `fn app(c)`: a component of one root build.
#[derive(Clone)]
pub(crate) struct ComponentCtx {
    pub(crate) build: Arc<Mutex<RootBuild>>,
    pub(crate) comp: usize,
}

impl ComponentCtx {
    pub(crate) fn new_root(build: RootBuild) -> Self {
        ComponentCtx {
            build: Arc::new(Mutex::new(build)),
            comp: 0,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, RootBuild> {
        self.build.lock().expect("component build poisoned")
    }
}

impl RootBuild {
    pub(crate) fn new(
        root: usize,
        host: usize,
        host_info: Dynamic,
        service: &str,
        environment: &str,
        comp: CompBuild,
    ) -> Self {
        RootBuild {
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            root,
            host,
            host_info,
            service: service.into(),
            environment: environment.into(),
            components: vec![comp],
            steps: Vec::new(),
            provides: BTreeMap::new(),
            order: Vec::new(),
        }
    }
}

/// What `c.add(..)` and `c.component(..)` return: a handle for `on_change` and for
/// reading the resulting path.
#[derive(Clone, Debug)]
pub(crate) struct StepRef {
    pub(crate) serial: u64,
    pub(crate) target: RefTarget,
    pub(crate) path: Option<String>,
    pub(crate) name: String,
    /// What else the step exposes (`venv.bin`, `venv.python`): see `Primitive::exports`.
    pub(crate) exports: Vec<(&'static str, String)>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum RefTarget {
    Step(usize),
    Component(usize),
}

/// Which instance of a component runs a `once` step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Once {
    /// The first host (in placement order) that runs the component.
    First,
    /// The first such host with this role.
    Role(String),
}

/// One attribute's value given from outside a component, with the values of lower
/// sources it overrides.
#[derive(Clone, Debug)]
pub(crate) struct Given {
    pub(crate) value: Dynamic,
    /// Where it was set (a script line, or a line of `<command line>`).
    pub(crate) span: Option<Span>,
    /// The text after `=` of a `--set`: a string attribute takes it as written, so
    /// `--set app.version=1.10` is `"1.10"`, not the float 1.1.
    pub(crate) raw: Option<String>,
    /// Values of lower sources, nearest first: not used, but checked all the same.
    pub(crate) overridden: Vec<Given>,
}

impl Given {
    pub(crate) fn new(value: Dynamic, span: Option<Span>) -> Self {
        Given {
            value,
            span,
            raw: None,
            overridden: Vec::new(),
        }
    }

    /// Sets `key` in `values` to `self`, above whatever was there.
    pub(crate) fn over(mut self, values: &mut BTreeMap<String, Given>, key: &str) {
        if let Some(mut lower) = values.remove(key) {
            self.overridden = std::mem::take(&mut lower.overridden);
            self.overridden.insert(0, lower);
        }
        values.insert(key.to_string(), self);
    }
}

/// An override or sub-component option that configure never read is a typo or a
/// leftover: both are errors, reported at the place that set it.
pub(crate) fn check_unknown_attributes(comp: &CompBuild) -> RhaiResult<()> {
    let mut unknown = comp.given.iter().filter(|(k, _)| !comp.attributes.contains_key(*k));
    let Some((key, given)) = unknown.next() else {
        return Ok(());
    };
    let known: Vec<&str> = comp.attributes.keys().map(String::as_str).collect();
    Err(fail(
        Problem::new(
            Kind::Model,
            format!("unknown attribute `{key}` for component `{}`", comp.name),
        )
        .at(given.span.as_ref(), "set here")
        .at(comp.span.as_ref(), "component configured here")
        .help(format!(
            "{}attributes of `{}`: {}",
            did_you_mean(key, known.iter().copied()),
            comp.name,
            list_or_none(&known)
        )),
    ))
}
