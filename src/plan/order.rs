//! Deterministic topological order and cycle reports.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Edge, EdgeReason};
use crate::model::{IdVec, LinkReason, Model, StepId};
use crate::problem::{Kind, Problem};

/// Kahn's algorithm with a min-heap on step ids, so independent steps keep their
/// declaration order and the same model always gives the same plan.
pub(super) fn toposort(model: &Model, edges: &[Edge]) -> Result<Vec<StepId>, Problem> {
    let n = model.steps.len();
    let mut succ: IdVec<StepId, Vec<StepId>> = IdVec::filled(n, Vec::new());
    let mut indeg: IdVec<StepId, usize> = IdVec::filled(n, 0);
    for e in edges {
        succ[e.from].push(e.to);
        indeg[e.to] += 1;
    }
    let mut ready: BinaryHeap<Reverse<StepId>> = model.steps.ids().filter(|&s| indeg[s] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(s)) = ready.pop() {
        order.push(s);
        for &t in &succ[s] {
            indeg[t] -= 1;
            if indeg[t] == 0 {
                ready.push(Reverse(t));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    Err(cycle_problem(model, edges, &indeg))
}

/// Finds one cycle among the steps left over and describes it, edge by edge.
fn cycle_problem(model: &Model, edges: &[Edge], indeg: &IdVec<StepId, usize>) -> Problem {
    let left = |s: StepId| indeg[s] > 0;
    let mut pred_edge: IdVec<StepId, Option<usize>> = IdVec::filled(model.steps.len(), None);
    for (i, e) in edges.iter().enumerate() {
        if left(e.from) && left(e.to) && pred_edge[e.to].is_none_or(|p| edges[p].from > e.from) {
            pred_edge[e.to] = Some(i);
        }
    }
    // Walk backwards from the first stuck step until a step repeats.
    let start = model.steps.ids().find(|&s| left(s)).expect("a stuck step");
    let mut seen: IdVec<StepId, usize> = IdVec::filled(model.steps.len(), usize::MAX);
    let mut path: Vec<usize> = Vec::new(); // edge indices, walking backwards
    let mut s = start;
    while seen[s] == usize::MAX {
        seen[s] = path.len();
        let e = pred_edge[s].expect("a stuck step has a stuck predecessor");
        path.push(e);
        s = edges[e].from;
    }
    let mut cycle: Vec<usize> = path[seen[s]..].to_vec();
    cycle.reverse();
    // Start the report at the lowest step id for a stable text.
    let first = (0..cycle.len()).min_by_key(|&i| edges[cycle[i]].from).unwrap_or(0);
    cycle.rotate_left(first);

    let mut hosts: Vec<&str> = cycle
        .iter()
        .map(|&e| model.hosts[model.steps[edges[e].from].host].name.as_str())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let mut problem = Problem::new(
        Kind::Plan,
        format!(
            "dependency cycle: {} steps on {} {} must each run before the next",
            cycle.len(),
            if hosts.len() == 1 { "host" } else { "hosts" },
            hosts.join(", ")
        ),
    );
    let mut lines = Vec::new();
    for (i, &e) in cycle.iter().enumerate() {
        let edge = &edges[e];
        let why = reason(model, edge);
        lines.push(format!(
            "{}. {} → before {} ({why})",
            i + 1,
            model.step_path(edge.from),
            model.step_path(edge.to)
        ));
        problem = problem.at(
            model.steps[edge.from].span.as_ref(),
            format!("{}. {}", i + 1, model.step_path(edge.from)),
        );
        if let EdgeReason::Link { link } = edge.reason {
            problem = problem.at(model.links[link].span.as_ref(), why);
        }
    }
    problem.help(format!(
        "{}\nbreak the cycle: drop one of these requires/after/before, or move the step that needs the value into another component",
        lines.join("\n")
    ))
}

fn reason(model: &Model, edge: &Edge) -> String {
    match &edge.reason {
        EdgeReason::Sequence => "declared before it in the same component".into(),
        EdgeReason::Trigger => "it runs when this one changes (on_change)".into(),
        EdgeReason::Once => "it runs once, for every instance of its component".into(),
        EdgeReason::Batch { component, batch } => {
            format!("batch {batch} of the rolling update of `{component}` waits for the batch before it")
        }
        EdgeReason::Link { link } => {
            let l = &model.links[*link];
            match &l.reason {
                LinkReason::Provides { key } => format!(
                    "{} requires `{key}` provided by {}",
                    model.component_path(l.after),
                    model.component_path(l.before)
                ),
                LinkReason::Explicit => format!(
                    "{} is ordered after {}",
                    model.component_path(l.after),
                    model.component_path(l.before)
                ),
            }
        }
    }
}
