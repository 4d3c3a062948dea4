//! Rolling updates in the plan: each batch of a component's instances waits for
//! the batch before it. With hooks, the `before` hook of a batch runs first, then
//! the batch's instances, then its `after` hook, then the next batch's `before`
//! hook; without hooks, every instance of a batch waits for every instance of the
//! batch before it. A batch's health gate is the instances' own: a program's
//! change ends only when its health check passes.

use super::{Edge, EdgeReason};
use crate::model::{ComponentId, IdVec, Rolling, StepId};

/// The edges of one rolling policy; `span[c]` is the first and last step of root
/// component `c` (None: no steps).
pub(super) fn edges(r: &Rolling, span: &IdVec<ComponentId, Option<(StepId, StepId)>>) -> Vec<Edge> {
    let mut out = Vec::new();
    let edge = |from: StepId, to: StepId, batch: usize| Edge {
        from,
        to,
        reason: EdgeReason::Batch {
            component: r.component.clone(),
            batch,
        },
    };
    // What the next batch waits for: the previous batch's `after` hook, or its
    // instances' last steps.
    let mut previous: Vec<StepId> = Vec::new();
    for (k, batch) in r.batches.iter().enumerate() {
        let n = k + 1;
        let firsts: Vec<StepId> = batch.iter().filter_map(|&c| span[c].map(|(f, _)| f)).collect();
        let lasts: Vec<StepId> = batch.iter().filter_map(|&c| span[c].map(|(_, l)| l)).collect();
        match r.before.get(k).copied().flatten() {
            Some(hook) => {
                out.extend(previous.iter().map(|&p| edge(p, hook, n)));
                out.extend(firsts.iter().map(|&f| edge(hook, f, n)));
            }
            None => {
                for &p in &previous {
                    out.extend(firsts.iter().map(|&f| edge(p, f, n)));
                }
            }
        }
        previous = match r.after.get(k).copied().flatten() {
            Some(hook) => {
                out.extend(lasts.iter().map(|&l| edge(l, hook, n)));
                vec![hook]
            }
            None => lasts,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Id;

    #[test]
    fn batch_sizes_round_up() {
        use crate::model::batch_size;
        assert_eq!(batch_size(3, Some(1), None), 1);
        assert_eq!(batch_size(3, None, Some(50)), 2);
        assert_eq!(batch_size(10, None, Some(25)), 3);
        assert_eq!(batch_size(2, Some(5), None), 2);
        assert_eq!(batch_size(4, None, Some(1)), 1);
    }

    #[test]
    fn hooks_chain_the_batches() {
        // Three instances (components 0..3, two steps each), hooks on steps 6..12.
        let mut span: IdVec<ComponentId, Option<(StepId, StepId)>> = IdVec::filled(3, None);
        for c in 0..3 {
            span[ComponentId::new(c)] = Some((StepId::new(2 * c), StepId::new(2 * c + 1)));
        }
        let r = Rolling {
            component: "app".into(),
            batches: (0..3).map(|c| vec![ComponentId::new(c)]).collect(),
            max_failures: 0,
            before: (0..3).map(|k| Some(StepId::new(6 + 2 * k))).collect(),
            after: (0..3).map(|k| Some(StepId::new(7 + 2 * k))).collect(),
            span: None,
        };
        let pairs: Vec<(usize, usize)> = edges(&r, &span)
            .iter()
            .map(|e| (e.from.index(), e.to.index()))
            .collect();
        assert_eq!(
            pairs,
            vec![(6, 0), (1, 7), (7, 8), (8, 2), (3, 9), (9, 10), (10, 4), (5, 11)]
        );
    }
}
