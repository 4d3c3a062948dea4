//! `ordo status`, `ordo log`, `ordo rollback`: the recorded state, the lock and
//! (asked for) the deploy history of each targeted host, read by the probe alone
//! (no step is verified, no lock is taken).

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
    /// The deploy history file (`None`: there is none), when it was asked for.
    pub history: Option<Vec<u8>>,
    /// Its last end line (`history.last`), when there is one.
    pub history_last: Option<String>,
}

/// Reads the recorded state and lock of every targeted host, and with
/// `read_history` its deploy history (one round trip each).
pub async fn read_states(
    model: &Arc<Model>,
    hosts: &Hosts,
    read_history: bool,
) -> Vec<(HostId, Result<HostStatus, Problem>)> {
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
                let p = probe_once(&model, &empty, &r, None, read_history, timeout)
                    .await
                    .map_err(|mut ps| ps.0.remove(0))?;
                let history = |what: &str| {
                    p.facts.extra.iter().find_map(|(t, rest)| {
                        let (w, rest) = rest.split_once(' ').unwrap_or((rest.as_str(), ""));
                        (t == "history" && w == what && !rest.is_empty()).then(|| rest.to_string())
                    })
                };
                Ok(HostStatus {
                    history: history("file").and_then(|b| crate::shell::decode(&b)),
                    history_last: history("last"),
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
