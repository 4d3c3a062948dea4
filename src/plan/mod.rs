//! Stage 3: flatten the model into a DAG of steps and order it. Edges: declaration
//! order inside a component, provide→require and explicit `after`/`before` between
//! components (across hosts), and `on_change` triggers. The order is a deterministic
//! topological sort (ties broken by declaration order); a cycle is an error naming
//! every step on it with its script line. Pure: no I/O.

mod dot;
mod order;

use serde::Serialize;

pub use dot::to_dot;

use crate::model::Model;
use crate::problem::Problem;

#[derive(Debug, Serialize)]
pub struct Plan {
    /// All step ids in execution order.
    pub order: Vec<usize>,
    /// For each host, its step ids in execution order.
    pub per_host: Vec<Vec<usize>>,
    /// For each step, the steps that must finish before it.
    pub preds: Vec<Vec<usize>>,
    pub edges: Vec<Edge>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub reason: EdgeReason,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EdgeReason {
    /// Declared one after the other in the same component.
    Sequence,
    /// From `model.links[i]` (provide/require, after/before).
    Link { link: usize },
    /// The later step runs when the earlier one changed (`on_change`).
    Trigger,
}

impl Plan {
    pub fn build(model: &Model) -> Result<Plan, Problem> {
        let edges = edges(model);
        let mut preds: Vec<Vec<usize>> = vec![Vec::new(); model.steps.len()];
        for e in &edges {
            preds[e.to].push(e.from);
        }
        for p in &mut preds {
            p.sort_unstable();
            p.dedup();
        }
        let order = order::toposort(model, &edges)?;
        let mut per_host = vec![Vec::new(); model.hosts.len()];
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

/// The root component (placement) a component belongs to.
pub(crate) fn root_of(model: &Model, mut component: usize) -> usize {
    while let Some(p) = model.components[component].parent {
        component = p;
    }
    component
}

fn edges(model: &Model) -> Vec<Edge> {
    let mut edges = Vec::new();
    // First and last step of each root component.
    let mut span: Vec<Option<(usize, usize)>> = vec![None; model.components.len()];
    let mut prev: Option<(usize, usize)> = None; // (root, step)
    for step in &model.steps {
        let root = root_of(model, step.component);
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
    for (i, link) in model.links.iter().enumerate() {
        if let (Some((_, last)), Some((first, _))) = (span[link.before], span[link.after]) {
            edges.push(Edge {
                from: last,
                to: first,
                reason: EdgeReason::Link { link: i },
            });
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    //! The planner is pure: these tests build models by hand, no scripts, no hosts.

    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{Action, Component, Host, HostPath, Link, LinkReason, Step, TransportSpec};

    fn model(hosts: &[&str], components: &[(&str, usize)], steps: &[(usize, &str)], links: &[(usize, usize)]) -> Model {
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
                })
                .collect(),
            components: components
                .iter()
                .map(|(name, host)| Component {
                    name: (*name).into(),
                    host: *host,
                    parent: None,
                    root: HostPath::new("~/d").unwrap(),
                    attributes: BTreeMap::new(),
                    span: None,
                })
                .collect(),
            steps: steps
                .iter()
                .enumerate()
                .map(|(id, (component, name))| Step {
                    id,
                    host: components[*component].1,
                    component: *component,
                    action: Action::Directory {
                        name: (*name).into(),
                        path: HostPath::new("~/d").unwrap().join(name),
                        mode: None,
                    },
                    triggers: vec![],
                    span: None,
                })
                .collect(),
            links: links
                .iter()
                .map(|(before, after)| Link {
                    before: *before,
                    after: *after,
                    reason: LinkReason::Provides { key: "k".into() },
                    span: None,
                })
                .collect(),
        }
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
        assert_eq!(plan.order, vec![0, 1, 2, 3]);
        assert_eq!(plan.per_host, vec![vec![0, 2], vec![1, 3]]);
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
        assert_eq!(plan.order, vec![2, 3, 0, 1]);
        assert_eq!(plan.preds[0], vec![3]);
    }

    #[test]
    fn a_cycle_names_every_step_on_it() {
        let m = model(
            &["a", "b"],
            &[("x", 0), ("y", 1)],
            &[(0, "x1"), (1, "y1")],
            &[(0, 1), (1, 0)],
        );
        let err = Plan::build(&m).unwrap_err();
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
        let steps: Vec<(usize, &str)> = (0..50).map(|i| (i % 5, "s")).collect();
        let comps = [("a", 0), ("b", 1), ("c", 0), ("d", 1), ("e", 0)];
        let m = model(&["h0", "h1"], &comps, &steps, &[(4, 0), (3, 1)]);
        let first = Plan::build(&m).unwrap().order;
        for _ in 0..5 {
            assert_eq!(Plan::build(&m).unwrap().order, first);
        }
    }
}
