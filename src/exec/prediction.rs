//! What the plan phase found: per targeted host, the steps that will change and
//! how, with the host's recorded state, facts and what ordo created there. The
//! plan phase (`predict.rs`) and rolling updates' hooks (`rolling.rs`) write it; the
//! apply phase (`schedule/`) and the front ends read it.

use std::sync::Arc;

use super::catalog::{Catalog, RunStep};
use super::reach::Skipped;
use super::state::{HostState, Owned};
use crate::model::HostId;
use crate::primitive::Planned;
use crate::shell::probe::Facts;

/// A step that will change, and how.
#[derive(Clone, Debug)]
pub struct PlannedStep {
    pub step: RunStep,
    pub planned: Planned,
}

/// The verified plan of one host.
pub struct HostPlan {
    pub host: HostId,
    pub planned: Vec<PlannedStep>,
    pub state: Option<HostState>,
    pub facts: Facts,
    pub owned: Vec<Owned>,
    /// The covered steps that stay as they are.
    pub unchanged: usize,
}

/// The verified plan: what will change on each targeted host (only the steps the
/// deployment covers).
pub struct Prediction {
    pub hosts: Vec<HostPlan>,
    pub catalog: Arc<Catalog>,
    pub unchanged: usize,
    /// The hosts the run goes on without (`--skip-unreachable`), in host order.
    pub skipped: Vec<Skipped>,
}

impl Prediction {
    pub fn change_count(&self) -> usize {
        self.hosts.iter().map(|h| h.planned.len()).sum()
    }

    pub fn conflicts(&self) -> Vec<&PlannedStep> {
        self.hosts
            .iter()
            .flat_map(|h| &h.planned)
            .filter(|p| p.planned.change.is_conflict())
            .collect()
    }

    /// The hosts with something to change.
    pub fn changed_hosts(&self) -> usize {
        self.hosts.iter().filter(|h| !h.planned.is_empty()).count()
    }

    /// What the plan phase found (the `plan_done` event).
    pub fn counts(&self) -> Counts {
        let conflicts = self.conflicts().len();
        Counts {
            changes: self.change_count() - conflicts,
            unchanged: self.unchanged,
            conflicts,
            hosts: self.hosts.len(),
        }
    }
}

/// The steps that change (conflicts not included), stay as they are and are in
/// the way, on how many hosts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub changes: usize,
    pub unchanged: usize,
    pub conflicts: usize,
    pub hosts: usize,
}
