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
        if let Some((r, s)) = prev {
            if r == root {
                edges.push(Edge { from: s, to: step.id, reason: EdgeReason::Sequence });
            }
        }
        prev = Some((root, step.id));
        for &t in &step.triggers {
            if t != step.id {
                edges.push(Edge { from: t, to: step.id, reason: EdgeReason::Trigger });
            }
        }
    }
    for (i, link) in model.links.iter().enumerate() {
        if let (Some((_, last)), Some((first, _))) = (span[link.before], span[link.after]) {
            edges.push(Edge { from: last, to: first, reason: EdgeReason::Link { link: i } });
        }
    }
    edges
}
