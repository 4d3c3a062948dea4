//! [`HostApply`]: what one host's apply holds — its plan, its connection, the
//! board of cross-host waits, the reporter, the script permits, its rollout — and
//! what the parts of the apply (`host_apply.rs`, `script.rs`, `custom.rs`) share: a
//! step's context, the pending markers to write, running a script.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::Finish;
use super::board::Board;
use super::gate::Role;
use super::rollout::Rollout;
use crate::exec::hosts::HostRun;
use crate::exec::prediction::HostPlan;
use crate::exec::state::{pending_marker, reload_marker};
use crate::exec::{Catalog, RunStep};
use crate::model::{HostPath, IdVec, RunOutput, StepId};
use crate::primitive::StepCtx;
use crate::problem::Problem;
use crate::report::{Activity, Event, Reporter};

/// One host's apply.
pub(super) struct HostApply {
    pub(super) catalog: Arc<Catalog>,
    pub(super) plan: HostPlan,
    pub(super) run: Arc<HostRun>,
    pub(super) board: Arc<Board>,
    /// The nearest changed steps each declared step depends on.
    pub(super) near: Arc<IdVec<StepId, Vec<StepId>>>,
    pub(super) reporter: Arc<dyn Reporter>,
    pub(super) finish: Arc<Finish>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) timeout: Duration,
    /// The service's state directory on the host.
    pub(super) state: HostPath,
    pub(super) rollout: Arc<Rollout>,
    /// Its place in a fleet's start order (`gate.rs`).
    pub(super) gate: Role,
}

impl HostApply {
    /// Changed steps on other hosts that `s` waits for (a removal waits for none).
    pub(super) fn other_host_deps(&self, s: RunStep) -> Vec<RunStep> {
        let Some(s) = s.declared() else { return Vec::new() };
        self.near[s]
            .iter()
            .map(|&d| RunStep::Declared(d))
            .filter(|&d| self.catalog.host(d) != self.plan.host)
            .collect()
    }

    pub(super) fn progress(&self, activity: Activity) {
        self.reporter.event(&Event::Progress {
            host: self.run.name.clone(),
            activity,
        });
    }

    pub(super) fn ctx<'a>(&'a self, s: RunStep, marker: Option<&'a HostPath>) -> StepCtx<'a> {
        StepCtx {
            id: self.catalog.number(s),
            root: self.catalog.root(s),
            trigger: None,
            reload_only: false,
            marker,
            timeout: self.timeout,
            state: &self.state,
        }
    }

    pub(super) async fn exec(&self, script: String) -> Result<RunOutput, Problem> {
        self.gate.turn().await;
        let _permit = self.permits.acquire().await.expect("never closed");
        self.gate.passed();
        self.run.exec(script).await
    }

    /// The host is retired: its last script tears down instead of recording.
    pub(super) fn retired(&self) -> bool {
        self.catalog.model.hosts[self.plan.host].retired
    }

    /// A script of privileged steps, as root through `sudo -n`.
    pub(super) async fn exec_privileged(&self, script: String) -> Result<RunOutput, Problem> {
        self.gate.turn().await;
        let _permit = self.permits.acquire().await.expect("never closed");
        self.gate.passed();
        self.run.exec_privileged(script).await
    }
}

/// Pending markers to write before a step changes, by the step they are for: the
/// markers of the planned steps it triggers.
pub(super) type Markers = HashMap<RunStep, Vec<HostPath>>;

pub(super) fn markers(h: &HostApply) -> Markers {
    let model = &h.catalog.model;
    let planned: HashSet<RunStep> = h.plan.planned.iter().map(|p| p.step).collect();
    let mut markers: Markers = HashMap::new();
    for s in h.plan.planned.iter().filter_map(|p| p.step.declared()) {
        let step = &model.steps[s];
        for &t in &step.triggers {
            if planned.contains(&RunStep::Declared(t)) && crate::exec::probe::watches(model, s) {
                let marker = if step.reloads.contains(&t) {
                    reload_marker(model, s)
                } else {
                    pending_marker(model, s)
                };
                markers.entry(RunStep::Declared(t)).or_default().push(marker);
            }
        }
    }
    markers
}
