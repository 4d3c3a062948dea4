//! The hosts where the last deploy of an environment did not finish — a step
//! failed or was skipped, the host could not be reached or was skipped as
//! unreachable, or the run stopped before it got there — kept on the controller
//! (`failed.json` in [`ControllerState`]) so that `ordo deploy ENV --hosts @failed`
//! deploys exactly those again. Each deploy updates the hosts it targeted: a host
//! it finished leaves the record, one it did not finish enters it with the reason;
//! hosts it did not target keep their entries. A hint, like every controller
//! record: the hosts themselves record what was deployed on them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::controller_state::ControllerState;
use crate::problem::Problem;

/// The record's name in the controller state.
const RECORD: &str = "failed";

/// The word `--hosts` takes for the hosts of this record.
pub const SELECTOR: &str = "@failed";

/// Hosts the last deploys did not finish, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedHosts {
    /// When a deploy last updated the record (RFC 3339).
    pub updated: String,
    pub hosts: BTreeMap<String, FailedHost>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedHost {
    /// Why the deploy did not finish there.
    pub reason: String,
    /// When (RFC 3339).
    pub at: String,
}

impl FailedHosts {
    /// The record, or `None` when no deploy of this environment wrote one here.
    pub fn read(state: &ControllerState) -> Option<FailedHosts> {
        state.read(RECORD)
    }

    /// Updates the record with one deploy's results: `None` for a host it
    /// finished, else why not.
    pub fn update(state: &ControllerState, results: &[(String, Option<String>)], now: &str) -> Result<(), Problem> {
        let mut record = FailedHosts::read(state).unwrap_or_default();
        for (host, result) in results {
            match result {
                None => {
                    record.hosts.remove(host);
                }
                Some(reason) => {
                    record.hosts.insert(
                        host.clone(),
                        FailedHost {
                            reason: reason.clone(),
                            at: now.to_string(),
                        },
                    );
                }
            }
        }
        record.updated = now.to_string();
        state.write(RECORD, &record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deploy_updates_only_the_hosts_it_targeted() {
        let base = tempfile::tempdir().unwrap();
        let state = ControllerState::under(base.path(), std::path::Path::new("/srv/shop"), "prod");
        assert_eq!(FailedHosts::read(&state), None);
        let results = [
            ("web1".to_string(), None),
            ("web2".to_string(), Some("connection refused".to_string())),
            ("web3".to_string(), Some("1 step failed, 0 steps skipped".to_string())),
        ];
        FailedHosts::update(&state, &results, "t1").unwrap();
        let record = FailedHosts::read(&state).unwrap();
        assert_eq!(record.hosts.keys().collect::<Vec<_>>(), ["web2", "web3"]);
        // A rerun of web2 alone that finishes: web3 stays.
        FailedHosts::update(&state, &[("web2".to_string(), None)], "t2").unwrap();
        let record = FailedHosts::read(&state).unwrap();
        assert_eq!(record.hosts.keys().collect::<Vec<_>>(), ["web3"]);
        assert_eq!(record.hosts["web3"].at, "t1");
        assert_eq!(record.updated, "t2");
    }
}
