//! Stage 3: flatten the model into a DAG of steps and order it. Edges: declaration
//! order inside a component, provide→require and explicit `after`/`before` between
//! components (across hosts), and `on_change` triggers. The order is a deterministic
//! topological sort (ties broken by declaration order); a cycle is an error naming
//! every step on it with its script line. Two steps managing one path on a host are
//! an error too ([`conflicts`]). Pure: no I/O.

mod conflicts;
mod dot;
mod order;
mod rolling;

use serde::Serialize;

pub use dot::to_dot;

use crate::model::{HostId, IdVec, LinkId, Model, StepId};
use crate::problem::Problems;

#[derive(Debug)]
pub struct Plan {
    /// All steps in execution order.
    pub order: Vec<StepId>,
    /// For each host, its steps in execution order.
    pub per_host: IdVec<HostId, Vec<StepId>>,
    /// For each step, the steps that must finish before it.
    pub preds: IdVec<StepId, Vec<StepId>>,
    pub edges: Vec<Edge>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Edge {
    pub from: StepId,
    pub to: StepId,
    pub reason: EdgeReason,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EdgeReason {
    /// Declared one after the other in the same component.
    Sequence,
    /// From a model link (provide/require, after/before).
    Link { link: LinkId },
    /// The later step runs when the earlier one changed (`on_change`).
    Trigger,
    /// The earlier step runs once for all instances of its component (`once`).
    Once,
    /// A rolling update: batch `batch` (1-based) of `component` waits for the one
    /// before it (and its hooks).
    Batch { component: String, batch: usize },
}

impl Plan {
    pub fn build(model: &Model) -> Result<Plan, Problems> {
        conflicts::check(model)?;
        let edges = edges(model);
        let mut preds: IdVec<StepId, Vec<StepId>> = IdVec::filled(model.steps.len(), Vec::new());
        for e in &edges {
            preds[e.to].push(e.from);
        }
        for p in preds.iter_mut() {
            p.sort_unstable();
            p.dedup();
        }
        let order = order::toposort(model, &edges)?;
        let mut per_host: IdVec<HostId, Vec<StepId>> = IdVec::filled(model.hosts.len(), Vec::new());
        for &s in &order {
            per_host[model.steps[s].host].push(s);
        }
        Ok(Plan {
            order,
            per_host,
            preds,
            edges,
        })
    }

    /// Number of hosts with at least one step.
    pub fn busy_hosts(&self) -> usize {
        self.per_host.iter().filter(|h| !h.is_empty()).count()
    }
}

fn edges(model: &Model) -> Vec<Edge> {
    use crate::model::ComponentId;
    let mut edges = Vec::new();
    // First and last step of each root component.
    let mut span: IdVec<ComponentId, Option<(StepId, StepId)>> = IdVec::filled(model.components.len(), None);
    let mut prev: Option<(ComponentId, StepId)> = None;
    for step in &model.steps {
        let root = model.root_of(step.component);
        match &mut span[root] {
            Some((_, last)) => *last = step.id,
            slot @ None => *slot = Some((step.id, step.id)),
        }
        if let Some((_, s)) = prev.filter(|(r, _)| *r == root) {
            edges.push(Edge {
                from: s,
                to: step.id,
                reason: EdgeReason::Sequence,
            });
        }
        prev = Some((root, step.id));
        for &t in &step.triggers {
            if t != step.id {
                edges.push(Edge {
                    from: t,
                    to: step.id,
                    reason: EdgeReason::Trigger,
                });
            }
        }
    }
    for (id, link) in model.links.enumerate() {
        if let (Some((_, last)), Some((first, _))) = (span[link.before], span[link.after]) {
            edges.push(Edge {
                from: last,
                to: first,
                reason: EdgeReason::Link { link: id },
            });
        }
    }
    for l in &model.step_links {
        edges.push(Edge {
            from: l.before,
            to: l.after,
            reason: EdgeReason::Once,
        });
    }
    for r in &model.rollings {
        edges.extend(rolling::edges(r, &span));
    }
    edges
}

#[cfg(test)]
pub(crate) mod tests {
    //! The planner is pure: these tests build models by hand, no scripts, no hosts.

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::model::{Component, ComponentId, Host, HostPath, Id, Link, LinkReason, Step, TransportSpec};
    use crate::primitive::directory::Directory;

    /// A model of `hosts`, components (name, host), steps (component, directory
    /// name) and links (before, after) between components.
    pub(crate) fn model(
        hosts: &[&str],
        components: &[(&str, usize)],
        steps: &[(usize, &str)],
        links: &[(usize, usize)],
    ) -> Model {
        Model {
            environment: "test".into(),
            service: "s".into(),
            hosts: hosts
                .iter()
                .map(|h| Host {
                    name: (*h).into(),
                    transport: TransportSpec::Local { home: "/tmp".into() },
                    address: "localhost".into(),
                    user: "u".into(),
                    roles: vec![],
                    data: serde_json::Value::Null,
                    span: None,
                    root: HostPath::new("~/d").unwrap(),
                    retired: false,
                    retire_span: None,
                })
                .collect(),
            components: components
                .iter()
                .map(|(name, host)| Component {
                    name: (*name).into(),
                    host: HostId::new(*host),
                    parent: None,
                    root: HostPath::new("~/d").unwrap(),
                    attributes: BTreeMap::new(),
                    span: None,
                    declared: None,
                })
                .collect(),
            steps: steps
                .iter()
                .enumerate()
                .map(|(id, (component, name))| Step {
                    id: StepId::new(id),
                    host: HostId::new(components[*component].1),
                    component: ComponentId::new(*component),
                    action: Arc::new(Directory {
                        name: (*name).into(),
                        path: HostPath::new("~/d").unwrap().join(&format!("{component}/{name}")),
                        mode: None,
                        owner: None,
                        sudo: false,
                    }),
                    triggers: vec![],
                    reloads: vec![],
                    span: None,
                })
                .collect(),
            links: links
                .iter()
                .map(|(before, after)| Link {
                    before: ComponentId::new(*before),
                    after: ComponentId::new(*after),
                    reason: LinkReason::Provides { key: "k".into() },
                    span: None,
                })
                .collect(),
            step_links: vec![],
            rollings: vec![],
        }
    }

    fn ids(v: &[usize]) -> Vec<StepId> {
        v.iter().map(|&i| StepId::new(i)).collect()
    }

    #[test]
    fn independent_steps_keep_declaration_order() {
        let m = model(
            &["a", "b"],
            &[("x", 0), ("y", 1)],
            &[(0, "x1"), (1, "y1"), (0, "x2"), (1, "y2")],
            &[],
        );
        let plan = Plan::build(&m).unwrap();
        assert_eq!(plan.order, ids(&[0, 1, 2, 3]));
        assert_eq!(plan.per_host.as_slice(), &[ids(&[0, 2]), ids(&[1, 3])]);
    }

    #[test]
    fn provider_component_runs_first_across_hosts() {
        // y (host b) provides what x (host a) requires: all of y before x.
        let m = model(
            &["a", "b"],
            &[("x", 0), ("y", 1)],
            &[(0, "x1"), (0, "x2"), (1, "y1"), (1, "y2")],
            &[(1, 0)],
        );
        let plan = Plan::build(&m).unwrap();
        assert_eq!(plan.order, ids(&[2, 3, 0, 1]));
        assert_eq!(plan.preds[StepId::new(0)], ids(&[3]));
    }

    #[test]
    fn a_cycle_names_every_step_on_it() {
        let m = model(
            &["a", "b"],
            &[("x", 0), ("y", 1)],
            &[(0, "x1"), (1, "y1")],
            &[(0, 1), (1, 0)],
        );
        let err = Plan::build(&m).unwrap_err().0.remove(0);
        assert!(
            err.message.starts_with("dependency cycle: 2 steps on hosts a, b"),
            "{}",
            err.message
        );
        let help = err.help.unwrap();
        assert!(help.contains("1. a:x directory x1 → before b:y directory y1"), "{help}");
        assert!(help.contains("2. b:y directory y1 → before a:x directory x1"), "{help}");
    }

    #[test]
    fn the_same_model_always_gives_the_same_order() {
        let steps: Vec<(usize, String)> = (0..50).map(|i| (i % 5, format!("s{i}"))).collect();
        let steps: Vec<(usize, &str)> = steps.iter().map(|(c, n)| (*c, n.as_str())).collect();
        let comps = [("a", 0), ("b", 1), ("c", 0), ("d", 1), ("e", 0)];
        let m = model(&["h0", "h1"], &comps, &steps, &[(4, 0), (3, 1)]);
        let first = Plan::build(&m).unwrap().order;
        for _ in 0..5 {
            assert_eq!(Plan::build(&m).unwrap().order, first);
        }
    }
}
