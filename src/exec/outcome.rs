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
    /// The run goes on without these hosts (recorded once the run is decided).
    pub(super) fn skipped(&mut self, skipped: &[Skipped]) {
        for s in skipped {
            let why = s
                .problem
                .cause
                .clone()
                .unwrap_or_else(|| first_line(&s.problem.message));
            self.results.insert(s.host, Some(format!("skipped: {why}")));
        }
    }

    /// The plan phase stopped the run (or conflicts did): hosts with a problem
    /// failed, the others were not deployed.
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
            let totals = applied.per_host.get(&r.id).cloned().unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::exec::schedule::Totals;
    use crate::exec::{Settings, Skip, connect};
    use crate::ids::Id;
    use crate::model::TransportSpec;
    use crate::problem::Kind;
    use crate::transport::{CancelToken, SshOptions};

    async fn hosts(names: &[&str], home: &std::path::Path) -> Hosts {
        let mut model = crate::plan::tests::model(names, &[], &[], &[]);
        for (i, h) in model.hosts.iter_mut().enumerate() {
            h.transport = TransportSpec::Local {
                home: home.join(i.to_string()),
            };
        }
        let settings = Settings {
            ssh: SshOptions::default_for(std::path::Path::new("/nonexistent")),
            jobs: 2,
            timeout: Duration::from_secs(60),
            cancel: CancelToken::new(),
            masters: 4,
            skip: Skip::Never,
        };
        let ids: Vec<HostId> = (0..names.len()).map(HostId::new).collect();
        connect(&model, &ids, &settings).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn every_host_is_done_or_says_why_not() {
        let home = tempfile::tempdir().unwrap();
        let hosts = hosts(&["a", "b", "c", "d"], home.path()).await;
        let mut outcome = Outcome::default();
        // Planned, skipping d, then declined: nothing to record.
        outcome.skipped(&[Skipped {
            host: HostId::new(3),
            name: "d".into(),
            problem: Problem::new(Kind::Unreachable, "cannot reach host `d`").cause("connection refused"),
        }]);
        assert_eq!(outcome.per_host(&hosts, &Ok(())), None);
        // Applied: a's steps are fine, b failed, c's lock could not be released.
        let mut applied = Applied::default();
        applied.per_host.insert(
            HostId::new(1),
            Totals {
                changed: 1,
                failed: 1,
                skipped: 2,
                ..Totals::default()
            },
        );
        let problems = [Problem::new(Kind::Step, "host `c`: the deploy lock could not be released\nmore").on_host("c")];
        outcome.applied(&hosts, &applied, &problems);
        let got = outcome.per_host(&hosts, &Ok(())).unwrap();
        let want: Vec<(String, Option<String>)> = vec![
            ("a".into(), None),
            ("b".into(), Some("1 step failed, 2 steps skipped".into())),
            (
                "c".into(),
                Some("host `c`: the deploy lock could not be released".into()),
            ),
            ("d".into(), Some("skipped: connection refused".into())),
        ];
        assert_eq!(got, want);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_run_that_stopped_names_the_hosts_it_never_got_to() {
        let home = tempfile::tempdir().unwrap();
        let hosts = hosts(&["a", "b"], home.path()).await;
        let mut outcome = Outcome::default();
        let stop = Problems(vec![Problem::new(Kind::Locked, "host `b` is locked by x").on_host("b")]);
        outcome.stopped(&hosts, &stop);
        let got = outcome.per_host(&hosts, &Err::<(), _>(stop)).unwrap();
        assert_eq!(
            got,
            vec![
                (
                    "a".to_string(),
                    Some("not deployed: the run stopped (host `b` is locked by x)".to_string())
                ),
                ("b".to_string(), Some("host `b` is locked by x".to_string())),
            ]
        );
        // An interruption before anything was decided still counts every host.
        let fresh = Outcome::default();
        let interrupted = Problems(vec![Problem::new(Kind::Interrupted, "interrupted")]);
        let got = fresh.per_host(&hosts, &Err::<(), _>(interrupted)).unwrap();
        assert!(
            got.iter()
                .all(|(_, why)| why.as_deref() == Some("not deployed: the run was interrupted"))
        );
    }
}
