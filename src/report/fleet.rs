//! The live view of a fleet: when a run has more hosts than the terminal has
//! lines, a line per host would scroll away faster than anyone can read it. The
//! view becomes two lines instead — how many hosts are queued, connecting,
//! probing, waiting, applying, done and failed, and the slowest few hosts with what
//! they are doing and for how long ([`Fleet`]; drawn by `live.rs`). The lines of
//! the plan and the results above it, and the JSON stream, are the same as for a
//! few hosts.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{Activity, Event, StepStatus};
use crate::text::plural;

/// How many of the slowest hosts the view names.
const SLOWEST: usize = 3;

/// What every host of a run is doing, from the events.
pub(super) struct Fleet {
    total: usize,
    /// The hosts heard of, with their activity and since when.
    hosts: HashMap<String, (Activity, Instant)>,
    /// Hosts with a failed step, or left out as unreachable.
    failed: HashSet<String>,
}

impl Fleet {
    pub(super) fn new(total: usize) -> Fleet {
        Fleet {
            total,
            hosts: HashMap::new(),
            failed: HashSet::new(),
        }
    }

    pub(super) fn event(&mut self, event: &Event, now: Instant) {
        match event {
            Event::Progress { host, activity } => {
                let same = self.hosts.get(host).is_some_and(|(a, _)| a == activity);
                if !same {
                    self.hosts.insert(host.clone(), (activity.clone(), now));
                }
            }
            Event::HostDone { host, failed, .. } => {
                if *failed > 0 {
                    self.failed.insert(host.clone());
                }
                self.hosts.insert(host.clone(), (Activity::Done, now));
            }
            Event::Step {
                host,
                status: StepStatus::Failed,
                ..
            } => {
                self.failed.insert(host.clone());
            }
            Event::HostsSkipped { hosts } => {
                for h in hosts {
                    self.failed.insert(h.host.clone());
                    self.hosts.insert(h.host.clone(), (Activity::Done, now));
                }
            }
            _ => {}
        }
    }

    /// "200 hosts: 120 queued · 2 connecting · 30 probing · 48 done · 1 failed".
    pub(super) fn counts(&self) -> String {
        let mut n = [0usize; 5];
        for (activity, _) in self.hosts.values() {
            let i = match activity {
                Activity::Connecting => 0,
                Activity::Probing => 1,
                Activity::Waiting { .. } => 2,
                Activity::Applying { .. } => 3,
                Activity::Done => 4,
            };
            n[i] += 1;
        }
        let queued = self.total.saturating_sub(self.hosts.len());
        let parts: Vec<String> = [
            (queued, "queued"),
            (n[0], "connecting"),
            (n[1], "probing"),
            (n[2], "waiting"),
            (n[3], "applying"),
            (n[4], "done"),
            (self.failed.len(), "failed"),
        ]
        .iter()
        .filter(|(k, _)| *k > 0)
        .map(|(k, what)| format!("{k} {what}"))
        .collect();
        format!("{}: {}", plural(self.total, "host"), parts.join(" · "))
    }

    /// "slowest: web013 applying etc/app.conf 12 s, web047 probing 9 s", or
    /// empty when no host is busy.
    pub(super) fn slowest(&self, now: Instant) -> String {
        let mut busy: Vec<(&String, &Activity, Duration)> = self
            .hosts
            .iter()
            .filter(|(_, (a, _))| *a != Activity::Done)
            .map(|(h, (a, since))| (h, a, now.saturating_duration_since(*since)))
            .collect();
        if busy.is_empty() {
            return String::new();
        }
        busy.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(b.0)));
        let named: Vec<String> = busy
            .iter()
            .take(SLOWEST)
            .map(|(h, a, d)| format!("{h} {a} {} s", d.as_secs()))
            .collect();
        format!("slowest: {}", named.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Id;

    fn progress(host: &str, activity: Activity) -> Event {
        Event::Progress {
            host: host.into(),
            activity,
        }
    }

    #[test]
    fn counts_hosts_by_what_they_do_and_names_the_slowest() {
        let t0 = Instant::now();
        let mut f = Fleet::new(200);
        f.event(&progress("web1", Activity::Probing), t0);
        f.event(&progress("web2", Activity::Connecting), t0 + Duration::from_secs(2));
        f.event(
            &progress(
                "web3",
                Activity::Applying {
                    step: "etc/app.conf".into(),
                },
            ),
            t0 + Duration::from_secs(1),
        );
        f.event(&progress("web4", Activity::Done), t0);
        // The same activity again keeps its start.
        f.event(&progress("web1", Activity::Probing), t0 + Duration::from_secs(5));
        f.event(
            &Event::Step {
                host: "web4".into(),
                step: crate::model::StepId::new(0),
                path: "x".into(),
                status: StepStatus::Failed,
                span: None,
                duration_ms: 0,
                error: None,
            },
            t0,
        );
        assert_eq!(
            f.counts(),
            "200 hosts: 196 queued · 1 connecting · 1 probing · 1 applying · 1 done · 1 failed"
        );
        assert_eq!(
            f.slowest(t0 + Duration::from_secs(12)),
            "slowest: web1 probing 12 s, web3 applying etc/app.conf 11 s, web2 connecting 10 s"
        );
        assert_eq!(Fleet::new(3).slowest(t0), "");
    }
}
