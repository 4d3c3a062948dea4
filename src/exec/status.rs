//! `ordo status`: the recorded state and the lock of each targeted host, read by the
//! probe alone (no step is verified, no lock is taken).

use std::sync::Arc;

use super::fan_out;
use super::hosts::{HostRun, Hosts};
use super::lock::{LockInfo, LockStatus};
use super::predict::probe_once;
use super::state::HostState;
use crate::model::{HostId, Model};
use crate::plan::Plan;
use crate::problem::Problem;

/// What a host has deployed, and who deploys it right now.
#[derive(Clone, Debug, Default)]
pub struct HostStatus {
    pub state: Option<HostState>,
    pub lock: Option<LockInfo>,
}

/// Reads the recorded state and lock of every targeted host (one round trip each).
pub async fn read_states(model: &Arc<Model>, hosts: &Hosts) -> Vec<(HostId, Result<HostStatus, Problem>)> {
    let empty = Arc::new(Plan {
        order: Vec::new(),
        per_host: crate::model::IdVec::filled(model.hosts.len(), Vec::new()),
        preds: crate::model::IdVec::new(),
        edges: Vec::new(),
    });
    let timeout = hosts.settings.timeout;
    let runs: Vec<Arc<HostRun>> = hosts.iter().cloned().collect();
    let ids = hosts.ids();
    let results = fan_out(
        runs,
        hosts.settings.jobs,
        |r| format!("host `{}`", r.name),
        |r: Arc<HostRun>| {
            let (model, empty) = (model.clone(), empty.clone());
            async move {
                let p = probe_once(&model, &empty, &r, None, timeout)
                    .await
                    .map_err(|mut ps| ps.0.remove(0))?;
                Ok(HostStatus {
                    state: p.state,
                    lock: match p.lock {
                        LockStatus::Held(info) => info,
                        _ => None,
                    },
                })
            }
        },
    )
    .await;
    ids.into_iter().zip(results).collect()
}
