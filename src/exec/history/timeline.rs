//! The hosts' histories as one timeline: an entry per run (the lock token is the
//! same on every host a run reaches), newest first, with each host's end — and a
//! [`Disagreement`] where the hosts tell different stories. Pure: the hosts were
//! read before. What a rollback goes back to, and how long ago hosts diverged, are
//! questions to this timeline.

use std::collections::HashMap;

use super::entry::{Begin, End, Outcome};
use super::read::{HostHistory, deploys};

/// One host's part in a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostResult {
    pub host: String,
    /// `None`: no end recorded (killed, or the host was lost mid-run).
    pub end: Option<End>,
}

/// Where the hosts of one run disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disagreement {
    /// It ended differently on different hosts.
    Results,
    /// It reached fewer hosts than it targeted — of those still in the
    /// environment: a host deleted or retired since is not missed.
    Missing { reached: usize, targeted: usize },
    /// The hosts' begin lines for it differ (a history was edited).
    Begins,
}

/// A run, as the hosts remember it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    pub begin: Begin,
    /// In the order the hosts were given.
    pub hosts: Vec<HostResult>,
    pub disagreements: Vec<Disagreement>,
}

impl Merged {
    pub fn run(&self) -> &str {
        &self.begin.run
    }

    /// The run's result over the hosts it reached: the worst of theirs, `None`
    /// when some host has no end.
    pub fn result(&self) -> Option<Outcome> {
        let mut worst = Outcome::Ok;
        for h in &self.hosts {
            let r = h.end.as_ref()?.result;
            worst = match (worst, r) {
                (Outcome::Failed, _) | (_, Outcome::Failed) => Outcome::Failed,
                (Outcome::Interrupted, _) | (_, Outcome::Interrupted) => Outcome::Interrupted,
                (Outcome::NotApplied, _) | (_, Outcome::NotApplied) => Outcome::NotApplied,
                _ => Outcome::Ok,
            };
        }
        Some(worst)
    }

    /// Whether it succeeded on every one of `hosts`.
    pub fn ok_on(&self, hosts: &[String]) -> bool {
        hosts.iter().all(|name| {
            self.hosts
                .iter()
                .any(|h| &h.host == name && h.end.as_ref().is_some_and(|e| e.result == Outcome::Ok))
        })
    }

    /// It deployed the whole environment as it then was — every host it targeted,
    /// which were all the environment's — and succeeded on each (each that is
    /// still in the environment: see [`Timeline::merge`]).
    pub fn complete(&self) -> bool {
        let b = &self.begin;
        b.hosts == b.environment_hosts
            && !self.hosts.is_empty()
            && !self
                .disagreements
                .iter()
                .any(|d| matches!(d, Disagreement::Missing { .. }))
            && self
                .hosts
                .iter()
                .all(|h| h.end.as_ref().is_some_and(|e| e.result == Outcome::Ok))
    }

    /// It ended on every host it reached without applying anything there.
    pub fn applied_nothing(&self) -> bool {
        self.hosts
            .iter()
            .all(|h| h.end.as_ref().is_some_and(|e| e.result == Outcome::NotApplied))
    }

    /// The hosts it succeeded on.
    pub fn ok_hosts(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|h| h.end.as_ref().is_some_and(|e| e.result == Outcome::Ok))
            .map(|h| h.host.as_str())
            .collect()
    }
}

/// The runs in the order they happened, oldest first, as indices into `entries`:
/// every host's file is an order of the runs it saw (older first), and the runs
/// are put in one order that agrees with all of them (Kahn's algorithm); among runs
/// no file orders, the earlier start goes first (then the order they were met in).
fn chronological(hosts: &[(String, &HostHistory)], index: &HashMap<String, usize>, entries: &[Merged]) -> Vec<usize> {
    let n = entries.len();
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut before = vec![0usize; n];
    for (_, history) in hosts {
        let runs: Vec<usize> = history
            .entries
            .iter()
            .filter_map(|e| e.begin.as_ref().and_then(|b| index.get(&b.run).copied()))
            .collect();
        for w in runs.windows(2) {
            if w[0] != w[1] && !after[w[0]].contains(&w[1]) {
                after[w[0]].push(w[1]);
                before[w[1]] += 1;
            }
        }
    }
    let key = |i: usize| (entries[i].begin.at.clone(), i);
    let mut ready: std::collections::BTreeSet<(String, usize)> = (0..n).filter(|&i| before[i] == 0).map(key).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(first) = ready.pop_first() {
        let i = first.1;
        order.push(i);
        for &j in &after[i] {
            before[j] -= 1;
            if before[j] == 0 {
                ready.insert(key(j));
            }
        }
    }
    // Files that order two runs both ways (edited) leave a cycle: its runs by start.
    let mut rest: Vec<usize> = (0..n).filter(|i| !order.contains(i)).collect();
    rest.sort_by_key(|&i| key(i));
    order.extend(rest);
    order
}

/// Runs, newest first.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub entries: Vec<Merged>,
}

impl Timeline {
    /// Merges the hosts' histories. A run whose begin line no host kept (trimmed)
    /// is left out: nothing is invented. `present`: when every host of the
    /// environment was read (not `--hosts`), the names of those still in it
    /// (declared, not retired); a run that reached fewer of them than it targeted
    /// is then a disagreement ([`Disagreement::Missing`]) — a host that left the
    /// environment since took its history with it, which is no disagreement.
    pub fn merge(hosts: &[(String, &HostHistory)], present: Option<&[String]>) -> Timeline {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut entries: Vec<Merged> = Vec::new();
        for (name, history) in hosts {
            for e in &history.entries {
                let Some(b) = &e.begin else { continue };
                let result = HostResult {
                    host: name.clone(),
                    end: e.end.clone(),
                };
                match index.get(&b.run) {
                    Some(&i) => {
                        let m = &mut entries[i];
                        if &m.begin != b && !m.disagreements.contains(&Disagreement::Begins) {
                            m.disagreements.push(Disagreement::Begins);
                        }
                        m.hosts.push(result);
                    }
                    None => {
                        index.insert(b.run.clone(), entries.len());
                        entries.push(Merged {
                            begin: b.clone(),
                            hosts: vec![result],
                            disagreements: Vec::new(),
                        });
                    }
                }
            }
        }
        for m in &mut entries {
            let results: Vec<Option<Outcome>> = m.hosts.iter().map(|h| h.end.as_ref().map(|e| e.result)).collect();
            if results.windows(2).any(|w| w[0] != w[1]) {
                m.disagreements.push(Disagreement::Results);
            }
            let Some(present) = present else { continue };
            let (reached, targeted) = if m.begin.targets.is_empty() {
                // A begin line without names: by count.
                (m.hosts.len(), m.begin.hosts)
            } else {
                let targeted: Vec<&String> = m.begin.targets.iter().filter(|t| present.contains(t)).collect();
                let reached = m.hosts.iter().filter(|h| targeted.contains(&&h.host)).count();
                (reached, targeted.len())
            };
            if reached < targeted {
                m.disagreements.push(Disagreement::Missing { reached, targeted });
            }
        }
        let order = chronological(hosts, &index, &entries);
        let mut slots: Vec<Option<Merged>> = entries.into_iter().map(Some).collect();
        Timeline {
            entries: order.into_iter().rev().filter_map(|i| slots[i].take()).collect(),
        }
    }

    /// The entry whose run id starts with `prefix` (at least four characters):
    /// `Ok(None)` when none does, an error listing them when several do.
    pub fn find(&self, prefix: &str) -> Result<Option<&Merged>, Vec<&Merged>> {
        if prefix.len() < 4 {
            return Ok(None);
        }
        let found: Vec<&Merged> = self.entries.iter().filter(|m| m.run().starts_with(prefix)).collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(Some(found[0])),
            _ => Err(found),
        }
    }

    /// What a rollback goes back to: the newest entry before the current one —
    /// the newest that may have changed something: runs that applied nothing on
    /// any host (declined, refused, interrupted at the question, a host locked)
    /// change no story, as in `ordo status` — that deployed a whole revision,
    /// from a clean tree, to every host of the environment (as it then was) and
    /// succeeded on each ([`Merged::complete`]) — skipping those that deployed
    /// what the current entry did when the current entry succeeded everywhere
    /// (going back to them changes nothing). `Err` with the candidates (entries
    /// that succeeded somewhere) when there is none.
    pub fn rollback_target(&self) -> Result<&Merged, Vec<&Merged>> {
        let Some(at) = self.entries.iter().position(|m| !m.applied_nothing()) else {
            return Err(Vec::new());
        };
        let current = &self.entries[at];
        let current_ok = current.complete();
        let eligible = |m: &&Merged| deploys(&m.begin) && !m.begin.dirty;
        let found = self.entries[at + 1..]
            .iter()
            .filter(eligible)
            .filter(|m| !(current_ok && m.begin.fingerprint == current.begin.fingerprint))
            .find(|m| m.complete());
        match found {
            Some(m) => Ok(m),
            None => Err(self.entries[at + 1..]
                .iter()
                .filter(eligible)
                .filter(|m| !m.ok_hosts().is_empty())
                .take(10)
                .collect()),
        }
    }

    /// How many entries ago `hosts` last agreed: the index of the newest entry
    /// that succeeded on all of them (`Some(0)`: the newest did), `None` when no
    /// kept entry did.
    pub fn agreed(&self, hosts: &[String]) -> Option<usize> {
        self.entries.iter().position(|m| m.ok_on(hosts))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::entry::{RunKind, VERSION};
    use super::super::read::HostEntry;
    use super::*;

    fn entry(run: &str, at: &str, fingerprint: &str, result: Option<Outcome>) -> HostEntry {
        HostEntry {
            begin: Some(Begin {
                v: VERSION,
                run: run.into(),
                kind: RunKind::Deploy,
                environment: "prod".into(),
                by: "a@b".into(),
                at: at.into(),
                ordo: "0".into(),
                commit: Some(format!("commit-{fingerprint}")),
                dirty: false,
                rev: None,
                rollback_to: None,
                what: None,
                set: Vec::new(),
                libraries: BTreeMap::new(),
                fingerprint: fingerprint.into(),
                hosts: 2,
                targets: present(),
                environment_hosts: 2,
            }),
            end: result.map(|result| End {
                v: VERSION,
                run: run.into(),
                seq: 1,
                prev: None,
                begin: String::new(),
                result,
                note: None,
                changes: 0,
                unchanged: 0,
                changed: 0,
                failed: 0,
                skipped: 0,
                changed_steps: Vec::new(),
                failed_steps: Vec::new(),
                unreachable: Vec::new(),
                duration_ms: None,
            }),
        }
    }

    /// The environment's hosts.
    fn present() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    fn history(entries: Vec<HostEntry>) -> HostHistory {
        HostHistory {
            entries,
            ..HostHistory::default()
        }
    }

    const OK: Option<Outcome> = Some(Outcome::Ok);
    const FAILED: Option<Outcome> = Some(Outcome::Failed);

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn runs_merge_across_hosts_newest_first_with_their_disagreements() {
        let a = history(vec![entry("r1", "1", "f1", OK), entry("r2", "2", "f2", OK)]);
        let b = history(vec![entry("r1", "1", "f1", OK), entry("r2", "2", "f2", FAILED)]);
        let t = Timeline::merge(&[("a".into(), &a), ("b".into(), &b)], Some(&present()));
        let runs: Vec<&str> = t.entries.iter().map(Merged::run).collect();
        assert_eq!(runs, ["r2", "r1"]);
        assert_eq!(t.entries[0].disagreements, [Disagreement::Results]);
        assert_eq!(t.entries[0].result(), Some(Outcome::Failed));
        assert!(t.entries[1].disagreements.is_empty());
        assert_eq!(t.agreed(&names()), Some(1));
        // The failed run's previous successful entry is r1.
        assert_eq!(t.rollback_target().unwrap().run(), "r1");
    }

    #[test]
    fn a_rollback_skips_what_changes_nothing_and_refuses_when_hosts_disagree() {
        let a = history(vec![
            entry("r1", "1", "f1", OK),
            entry("r2", "2", "f2", OK),
            entry("r3", "3", "f2", OK),
        ]);
        let t = Timeline::merge(&[("a".into(), &a), ("b".into(), &a)], Some(&present()));
        assert_eq!(t.rollback_target().unwrap().run(), "r1", "r2 deployed what r3 did");
        // r1 failed on b: no entry succeeded everywhere; r1 is a candidate.
        let b = history(vec![
            entry("r1", "1", "f1", FAILED),
            entry("r2", "2", "f2", OK),
            entry("r3", "3", "f2", OK),
        ]);
        let t = Timeline::merge(&[("a".into(), &a), ("b".into(), &b)], Some(&present()));
        let candidates: Vec<&str> = t.rollback_target().unwrap_err().iter().map(|m| m.run()).collect();
        assert_eq!(candidates, ["r2", "r1"]);
        assert_eq!(t.find("r3").unwrap(), None, "too short a prefix");
    }

    /// A run that applied nothing (a declined rollback, say) is not the current
    /// entry: going back from after it goes back from the entry before it.
    #[test]
    fn a_run_that_applied_nothing_is_not_the_current_entry() {
        let a = history(vec![
            entry("r1", "1", "f1", OK),
            entry("r2", "2", "f2", OK),
            entry("r3", "3", "f1", Some(Outcome::NotApplied)),
        ]);
        let t = Timeline::merge(&[("a".into(), &a), ("b".into(), &a)], Some(&present()));
        assert_eq!(t.rollback_target().unwrap().run(), "r1", "r2 is what is deployed");
        let only = history(vec![entry("r1", "1", "f1", Some(Outcome::NotApplied))]);
        let t = Timeline::merge(&[("a".into(), &only), ("b".into(), &only)], Some(&present()));
        assert!(t.rollback_target().unwrap_err().is_empty(), "nothing was ever deployed");
    }

    #[test]
    fn a_host_added_since_does_not_disqualify_an_entry_but_a_partial_deploy_is_no_target() {
        let of = |run: &str, at: &str, fp: &str, (hosts, env): (usize, usize)| {
            let mut e = entry(run, at, fp, OK);
            let b = e.begin.as_mut().unwrap();
            b.hosts = hosts;
            b.targets.truncate(hosts);
            b.environment_hosts = env;
            e
        };
        // r1: the environment had one host; r2 deployed only a (`--hosts`); r3 both.
        let a = history(vec![
            of("r1", "1", "f1", (1, 1)),
            of("r2", "2", "f2", (1, 2)),
            of("r3", "3", "f3", (2, 2)),
        ]);
        let b = history(vec![of("r3", "3", "f3", (2, 2))]);
        let t = Timeline::merge(&[("a".into(), &a), ("b".into(), &b)], Some(&present()));
        assert!(!t.entries[1].complete(), "r2 deployed part of the environment");
        assert_eq!(t.rollback_target().unwrap().run(), "r1");
    }

    #[test]
    fn runs_of_the_same_second_follow_the_order_each_host_saw_them_in() {
        // r1 only on a, r2 only on b, then r3 on both, all in one second.
        let a = history(vec![entry("r1", "1", "f1", OK), entry("r3", "1", "f3", OK)]);
        let b = history(vec![entry("r2", "1", "f2", OK), entry("r3", "1", "f3", OK)]);
        let t = Timeline::merge(&[("a".into(), &a), ("b".into(), &b)], Some(&present()));
        let runs: Vec<&str> = t.entries.iter().map(Merged::run).collect();
        assert_eq!(runs, ["r3", "r2", "r1"]);
    }

    #[test]
    fn a_host_that_left_the_environment_is_not_missed_but_a_lost_history_is() {
        // r1 and r2 deployed a and b; b has left the environment since (deleted,
        // or retired and torn down: its history went with it).
        let a = history(vec![entry("r1", "1", "f1", OK), entry("r2", "2", "f2", OK)]);
        let t = Timeline::merge(&[("a".into(), &a)], Some(&["a".to_string()]));
        assert_eq!(t.entries[1].disagreements, []);
        assert_eq!(t.rollback_target().unwrap().run(), "r1");
        // b is still in the environment, its history is gone: both runs missed it.
        let t = Timeline::merge(&[("a".into(), &a)], Some(&present()));
        assert_eq!(
            t.entries[1].disagreements,
            [Disagreement::Missing {
                reached: 1,
                targeted: 2
            }]
        );
        assert!(t.rollback_target().is_err(), "no entry is known to have succeeded on b");
        // Reading only a (`--hosts`): nothing is said to be missing.
        let t = Timeline::merge(&[("a".into(), &a)], None);
        assert_eq!(t.entries[1].disagreements, []);
    }
}
