//! Every step of a run, each with one explicit identity: [`RunStep`] is either a step
//! the model declares or a removal the executor adds (what ordo created on a host
//! and no step declares any more). The [`Catalog`] answers every per-step question
//! — its action, host, breadcrumb, script line, root, pending marker, entry in the
//! list of what ordo created — so no other part of the executor tells the two
//! apart by arithmetic on ids.
//!
//! A removal belongs to a host, not to a component of the model: its host may have
//! no declared step at all (a host whose last component moved away, and later a
//! retired host that is torn down).
//!
//! Scripts and events still name a step by one number ([`Catalog::number`]): a
//! declared step by its model id, a removal after all of the model's steps. That
//! numbering lives here and nowhere else.

use std::sync::Arc;

use super::probe::watches;
use super::state::{Owned, pending_marker};
use super::tail;
use crate::model::{HostId, HostPath, Id, IdVec, Model, StepId};
use crate::primitive::Action;
use crate::problem::{Kind, Problem};
use crate::source::Span;

pub use crate::ids::RemovalId;

/// One step of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunStep {
    /// A step of the model.
    Declared(StepId),
    /// The removal of what ordo created and no step declares any more.
    Removal(RemovalId),
}

impl RunStep {
    /// The model's step, for a declared one.
    pub fn declared(self) -> Option<StepId> {
        match self {
            RunStep::Declared(s) => Some(s),
            RunStep::Removal(_) => None,
        }
    }

    pub fn is_declared(self) -> bool {
        matches!(self, RunStep::Declared(_))
    }
}

/// Which steps a deployment covers — shows, counts and applies: every step for a
/// deploy; one component's, or those of an ad-hoc trial, in the REPL.
pub type Keep = dyn Fn(&Catalog, RunStep) -> bool + Send + Sync;

/// A step ordo adds on its own: the removal of a path it created on `host` and no
/// step declares any more.
#[derive(Debug)]
pub struct RemovalStep {
    pub host: HostId,
    pub action: Action,
    /// The component that created the path (`app`, or `app/venv` for a
    /// sub-component), as the host's list of what ordo created says.
    pub component: String,
}

/// Every step of a run — the model's and the removals — by [`RunStep`].
pub struct Catalog {
    pub model: Arc<Model>,
    removals: IdVec<RemovalId, RemovalStep>,
    /// The root of a removal's script line: the home (it has no component).
    home: HostPath,
}

impl Catalog {
    pub fn new(model: Arc<Model>, removals: IdVec<RemovalId, RemovalStep>) -> Catalog {
        Catalog {
            model,
            removals,
            home: HostPath::new("~").expect("the home directory"),
        }
    }

    /// The model's steps only (verify, before the removals are known).
    pub fn declared(model: Arc<Model>) -> Catalog {
        Catalog::new(model, IdVec::new())
    }

    pub fn removal(&self, r: RemovalId) -> &RemovalStep {
        &self.removals[r]
    }

    pub fn action(&self, s: RunStep) -> &Action {
        match s {
            RunStep::Declared(s) => &self.model.steps[s].action,
            RunStep::Removal(r) => &self.removals[r].action,
        }
    }

    pub fn host(&self, s: RunStep) -> HostId {
        match s {
            RunStep::Declared(s) => self.model.steps[s].host,
            RunStep::Removal(r) => self.removals[r].host,
        }
    }

    /// `host:component kind name`.
    pub fn path(&self, s: RunStep) -> String {
        match s {
            RunStep::Declared(s) => self.model.step_path(s),
            RunStep::Removal(r) => {
                let e = &self.removals[r];
                format!("{}:{} {}", self.model.hosts[e.host].name, e.component, e.action.label())
            }
        }
    }

    /// The placed component a step belongs to (for a sub-component's step, the
    /// component it is part of).
    pub fn placed_component(&self, s: RunStep) -> &str {
        match s {
            RunStep::Declared(s) => {
                let model = &self.model;
                &model.components[model.root_of(model.steps[s].component)].name
            }
            RunStep::Removal(r) => {
                let component = &self.removals[r].component;
                component.split('/').next().unwrap_or(component)
            }
        }
    }

    /// Where the component of a declared step is declared.
    pub fn component_span(&self, s: RunStep) -> Option<&Span> {
        let s = s.declared()?;
        self.model.components[self.model.steps[s].component].declared.as_ref()
    }

    /// The script line that declared a step.
    pub fn span(&self, s: RunStep) -> Option<&Span> {
        self.model.steps[s.declared()?].span.as_ref()
    }

    /// The directory a step works in: its component's root; for a removal, which
    /// has no component, the home.
    pub fn root(&self, s: RunStep) -> &HostPath {
        match s {
            RunStep::Declared(s) => &self.model.components[self.model.steps[s].component].root,
            RunStep::Removal(_) => &self.home,
        }
    }

    /// The root below which `s` manages `path`: its component's; for a removal, the
    /// deepest root of a component on its host that holds the path, or the home.
    pub fn managed_root(&self, s: RunStep, path: &HostPath) -> &HostPath {
        let RunStep::Removal(r) = s else {
            return self.root(s);
        };
        let host = self.removals[r].host;
        self.model
            .components
            .iter()
            .filter(|c| c.host == host && path.is_below(&c.root))
            .map(|c| &c.root)
            .max_by_key(|r| r.as_str().len())
            .unwrap_or(&self.home)
    }

    /// The pending marker of a step that other steps trigger.
    pub fn marker(&self, s: RunStep) -> Option<HostPath> {
        let s = s.declared()?;
        watches(&self.model, s).then(|| pending_marker(&self.model, s))
    }

    /// The entry a declared step's path gets in the list of what ordo created
    /// (a removal's path leaves the list instead).
    pub fn owned_entry(&self, s: RunStep) -> Option<Owned> {
        let step = &self.model.steps[s.declared()?];
        let managed = step.action.managed()?;
        Some(Owned {
            kind: managed.kind,
            path: managed.path,
            component: self.model.components[step.component].name.clone(),
            name: step.action.name().to_string(),
        })
    }

    /// The number that names a step in scripts and events: a declared step's id,
    /// a removal's after every step of the model.
    pub fn number(&self, s: RunStep) -> StepId {
        match s {
            RunStep::Declared(s) => s,
            RunStep::Removal(r) => Catalog::removal_number(&self.model, r),
        }
    }

    /// The number of removal `r` of a run of `model`. Verify numbers the removals
    /// of each host from zero before the run's are known: their verify does not
    /// read it.
    pub(super) fn removal_number(model: &Model, r: RemovalId) -> StepId {
        StepId::new(model.steps.len() + r.index())
    }

    /// The step a script or event calls `number`.
    pub fn step(&self, number: StepId) -> Option<RunStep> {
        let n = number.index();
        if n < self.model.steps.len() {
            return Some(RunStep::Declared(number));
        }
        let r = RemovalId::new(n - self.model.steps.len());
        self.removals.get(r).is_some().then_some(RunStep::Removal(r))
    }

    /// Every step of the run, the model's first; `slot` is the position of a step
    /// in this order.
    pub fn len(&self) -> usize {
        self.model.steps.len() + self.removals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A step's position among [`Catalog::len`] (for tables of every step).
    pub fn slot(&self, s: RunStep) -> usize {
        self.number(s).index()
    }

    /// An error on a host's step, pointing at the script line that declared it.
    pub(crate) fn problem(&self, s: RunStep, what: &str, output: Option<&str>) -> Problem {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::primitive::ManagedKind;
    use crate::primitive::removal::Removal;

    /// Hosts a (two steps of `app`) and b (no step); removals: one on b (a host
    /// without declared steps) below a root of a, one on a below `app`'s root.
    fn catalog() -> Catalog {
        let model = Arc::new(crate::plan::tests::model(
            &["a", "b"],
            &[("app", 0)],
            &[(0, "x"), (0, "y")],
            &[],
        ));
        let removal = |host: usize, path: &str, component: &str| RemovalStep {
            host: HostId::new(host),
            action: Arc::new(Removal {
                kind: ManagedKind::File,
                path: HostPath::new(path).unwrap(),
                name: "old".into(),
                component: component.into(),
            }),
            component: component.into(),
        };
        let removals = vec![removal(1, "~/gone/old", "web/conf"), removal(0, "~/d/old", "app")];
        Catalog::new(model, removals.into())
    }

    #[test]
    fn numbers_name_declared_steps_by_id_and_removals_after_the_model() {
        let c = catalog();
        let (x, r0, r1) = (
            RunStep::Declared(StepId::new(1)),
            RunStep::Removal(RemovalId::new(0)),
            RunStep::Removal(RemovalId::new(1)),
        );
        assert_eq!(
            (c.len(), c.number(x).index(), c.number(r0).index(), c.number(r1).index()),
            (4, 1, 2, 3)
        );
        for s in [x, r0, r1] {
            assert_eq!(c.step(c.number(s)), Some(s), "{s:?} round-trips");
            assert_eq!(c.slot(s), c.number(s).index());
        }
        assert_eq!(c.step(StepId::new(4)), None, "no step has that number");
    }

    #[test]
    fn a_removal_answers_every_per_step_question_without_the_model_steps() {
        let c = catalog();
        let r = RunStep::Removal(RemovalId::new(0));
        assert!(!r.is_declared());
        assert_eq!(c.host(r), HostId::new(1), "host b has no declared step");
        assert_eq!(c.path(r), "b:web/conf file old");
        assert_eq!(c.placed_component(r), "web");
        assert_eq!((c.span(r), c.component_span(r)), (None, None));
        assert_eq!(c.root(r).as_str(), "~", "no component: the home");
        assert_eq!(c.marker(r), None);
        assert_eq!(c.owned_entry(r), None);
        let path = HostPath::new("~/d/sub/old").unwrap();
        assert_eq!(c.managed_root(r, &path).as_str(), "~", "a's root is not b's");
        let on_a = RunStep::Removal(RemovalId::new(1));
        assert_eq!(c.managed_root(on_a, &path).as_str(), "~/d");
        let p = c.problem(r, "failed", None);
        assert_eq!(
            (p.message.as_str(), p.host.as_deref()),
            ("b:web/conf file old failed", Some("b"))
        );
    }

    #[test]
    fn a_declared_step_answers_from_the_model() {
        let c = catalog();
        let s = RunStep::Declared(StepId::new(0));
        assert_eq!(s.declared(), Some(StepId::new(0)));
        assert_eq!(
            (c.host(s), c.path(s)),
            (HostId::new(0), "a:app directory x".to_string())
        );
        assert_eq!((c.placed_component(s), c.root(s).as_str()), ("app", "~/d"));
        assert_eq!(c.managed_root(s, &HostPath::new("~/d/0/x").unwrap()).as_str(), "~/d");
        assert_eq!(c.marker(s), None, "nothing triggers it");
        let owned = c.owned_entry(s).unwrap();
        assert_eq!((owned.path.as_str(), owned.component.as_str()), ("~/d/0/x", "app"));
    }
}
