//! What a deploy did on each targeted host: done, or why not — a step failed or
//! was skipped, the host could not be reached, or the run stopped before it got
//! there. The command line keeps the hosts that are not done on the controller,
//! and `--hosts @failed` deploys them again (`project/failed_hosts.rs`).

use std::collections::HashMap;

use super::hosts::Hosts;
use super::reach::Skipped;
use super::schedule::Applied;
use crate::model::HostId;
use crate::problem::{Problem, Problems};
use crate::text::plural;

/// Each targeted host's result, as far as the run got.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// `None`: done; `Some(why)`: not done.
    results: HashMap<HostId, Option<String>>,
    /// Whether the run got to a point where its result is worth recording: the
    /// hosts were probed (or could not be), not a deploy declined at the prompt.
    decided: bool,
}

impl Outcome {
    /// The run went on without these hosts.
    pub(super) fn skipped(&mut self, skipped: &[Skipped]) {
        self.decided = true;
        for s in skipped {
            let why = s
                .problem
                .cause
                .clone()
                .unwrap_or_else(|| first_line(&s.problem.message));
            self.results.insert(s.host, Some(format!("skipped: {why}")));
        }
    }

    /// The plan phase stopped the run: hosts with a problem failed, the others
    /// were not deployed.
    pub(super) fn stopped(&mut self, hosts: &Hosts, problems: &Problems) {
        self.decided = true;
        for r in hosts.iter() {
            if let Some(p) = problems.0.iter().find(|p| p.host.as_deref() == Some(&r.name)) {
                self.results.insert(r.id, Some(first_line(&p.message)));
            }
        }
    }

    /// The apply ran: a host is done when none of its steps failed or was
    /// skipped and nothing went wrong on it.
    pub(super) fn applied(&mut self, hosts: &Hosts, applied: &Applied, problems: &[Problem]) {
        self.decided = true;
        for r in hosts.iter() {
            if self.results.contains_key(&r.id) {
                continue;
            }
            let totals = applied.per_host.get(&r.id).copied().unwrap_or_default();
            let why = problems
                .iter()
                .find(|p| p.host.as_deref() == Some(&r.name))
                .map(|p| first_line(&p.message))
                .or_else(|| {
                    (totals.failed + totals.skipped > 0).then(|| {
                        format!(
                            "{} failed, {} skipped",
                            plural(totals.failed, "step"),
                            plural(totals.skipped, "step")
                        )
                    })
                });
            self.results.insert(r.id, why);
        }
    }

    /// Every targeted host by name with `None` when it is done, or why not; `None`
    /// when there is nothing to record (the deploy was declined, or the run ended
    /// before any host was worked on). Hosts without a result of their own were
    /// not deployed because of `result` (an interruption, another host's problem).
    pub(super) fn per_host<T>(
        &self,
        hosts: &Hosts,
        result: &Result<T, Problems>,
    ) -> Option<Vec<(String, Option<String>)>> {
        let interrupted = result
            .as_ref()
            .err()
            .is_some_and(|ps| ps.kind() == crate::problem::Kind::Interrupted);
        if !self.decided && !interrupted {
            return None;
        }
        let why = match result {
            Err(_) if interrupted => "not deployed: the run was interrupted".to_string(),
            Err(ps) => match ps.0.iter().find(|p| p.host.is_some()) {
                Some(p) => format!("not deployed: the run stopped ({})", first_line(&p.message)),
                None => format!(
                    "not deployed: {}",
                    ps.0.first().map_or(String::new(), |p| first_line(&p.message))
                ),
            },
            Ok(_) => "not deployed".to_string(),
        };
        Some(
            hosts
                .iter()
                .map(|r| {
                    let result = match self.results.get(&r.id) {
                        Some(result) => result.clone(),
                        None => Some(why.clone()),
                    };
                    (r.name.clone(), result)
                })
                .collect(),
        )
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
