//! What `ordo status`, `ordo log` and `ordo rollback` share: every targeted host's
//! record, lock and deploy history read in one round trip each, each history
//! checked (against `history.last` and what this machine remembers having begun
//! there) with what does not add up reported, and the histories merged into one
//! timeline (`exec::history::Timeline`).

use std::collections::HashMap;
use std::sync::Arc;

/// The result of a run that holds a host's lock right now.
const IN_PROGRESS: &str = "in progress";

use crate::exec::history::{self, HostHistory, Memory, Merged, Timeline};
use crate::exec::{self, HostStatus};
use crate::model::{HostId, Model};
use crate::problem::{Problem, Problems};
use crate::report::{Event, LogEntry, LogHost};
use crate::text::visible;
use crate::workspace::Workspace;

/// The hosts as read.
pub(crate) struct Read {
    /// Each host that answered: its id, its record and lock, its history.
    pub(crate) hosts: Vec<(HostId, HostStatus, HostHistory)>,
    pub(crate) timeline: Timeline,
    /// Hosts that could not be read.
    pub(crate) problems: Vec<Problem>,
}

/// Connects to `targets` and reads them; each history that does not add up is
/// reported (`history_problem`), once.
pub(crate) async fn read(ws: &Workspace, model: &Arc<Model>, targets: &[HostId]) -> Result<Read, Problems> {
    let hosts = ws.connect(model, targets).await?;
    let states = exec::read_states(model, &hosts, true).await;
    hosts.close().await;
    let memory: Memory = ws
        .controller_state(&model.environment)
        .read(history::MEMORY)
        .unwrap_or_default();
    let mut read = Read {
        hosts: Vec::new(),
        timeline: Timeline::default(),
        problems: Vec::new(),
    };
    for (h, status) in states {
        let status = match status {
            Ok(s) => s,
            Err(p) => {
                read.problems.push(p);
                continue;
            }
        };
        let name = &model.hosts[h].name;
        let history = history::read_lines(
            status.history.as_deref(),
            status.history_last.as_deref(),
            memory.hosts.get(name),
        );
        for finding in &history.findings {
            ws.reporter.event(&Event::HistoryProblem {
                host: name.clone(),
                text: visible(finding, false),
            });
        }
        read.hosts.push((h, status, history));
    }
    let named: Vec<(String, &HostHistory)> = read
        .hosts
        .iter()
        .map(|(h, _, history)| (model.hosts[*h].name.clone(), history))
        .collect();
    // Every host read: those still in the environment are the ones a run can miss.
    let present: Option<Vec<String>> = (targets.len() == model.hosts.len()).then(|| {
        model
            .hosts
            .iter()
            .filter(|h| !h.retired)
            .map(|h| h.name.clone())
            .collect()
    });
    read.timeline = Timeline::merge(&named, present.as_deref());
    Ok(read)
}

impl Read {
    /// The run that holds each host's lock right now, by host name (not a lock
    /// whose holder ran here and is gone: that run is over).
    pub(crate) fn running(&self, model: &Model) -> HashMap<String, String> {
        self.hosts
            .iter()
            .filter_map(|(h, s, _)| {
                let lock = s.lock.as_ref().filter(|l| l.alive_here() != Some(false))?;
                Some((model.hosts[*h].name.clone(), lock.token.clone()))
            })
            .collect()
    }
}

/// A run as `log_entry` shows it; `running`: the run holding each host's lock
/// (a run without an end there is in progress, not unfinished). Everything in it
/// came from hosts: made visible.
pub(crate) fn entry(m: &Merged, running: &HashMap<String, String>) -> LogEntry {
    let shown = |t: &str| visible(t, false);
    let b = &m.begin;
    let in_progress = |host: &str| running.get(host).is_some_and(|r| r == &b.run);
    let result = match m.result() {
        Some(r) => r.word().to_string(),
        None if m.hosts.iter().any(|h| h.end.is_none() && in_progress(&h.host)) => IN_PROGRESS.to_string(),
        None => "unfinished".to_string(),
    };
    // The hosts it went on without, as the hosts it reached recorded them.
    let mut unreachable: Vec<String> = m
        .hosts
        .iter()
        .filter_map(|h| h.end.as_ref())
        .flat_map(|e| e.unreachable.iter().map(|u| shown(u)))
        .collect();
    unreachable.sort();
    unreachable.dedup();
    let mut disagreements = Vec::new();
    for d in &m.disagreements {
        disagreements.push(match d {
            history::Disagreement::Results => {
                let mut by: Vec<String> = Vec::new();
                for h in &m.hosts {
                    let r = h.end.as_ref().map_or("no end recorded", |e| e.result.word());
                    by.push(format!("{r} on {}", h.host));
                }
                by.join(", ")
            }
            history::Disagreement::Missing { reached, targeted } => {
                let mut text = format!("reached {reached} of the {targeted} hosts it targeted");
                let missing = targeted.saturating_sub(*reached);
                if !unreachable.is_empty() {
                    // Past the names a line keeps, the rest are counted.
                    let more = missing.saturating_sub(unreachable.len());
                    let and_more = if more > 0 && unreachable.len() >= history::STEPS {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    text.push_str(&format!(
                        " (went on without {}{and_more}: unreachable, --skip-unreachable)",
                        unreachable.join(", ")
                    ));
                }
                text
            }
            history::Disagreement::Begins => "the hosts record it differently (a history was edited)".to_string(),
        });
    }
    let ends = m.hosts.iter().filter_map(|h| h.end.as_ref());
    LogEntry {
        run: shown(&b.run),
        kind: b.kind.word().to_string(),
        at: shown(&b.at),
        by: shown(&b.by),
        environment: shown(&b.environment),
        commit: b.commit.as_deref().map(shown),
        dirty: b.dirty,
        rev: b.rev.as_deref().map(shown),
        rollback_to: b.rollback_to.as_deref().map(shown),
        what: b.what.as_deref().map(shown),
        set: b.set.iter().map(|s| shown(&s.text)).collect(),
        fingerprint: shown(&b.fingerprint),
        result,
        targeted: b.hosts,
        unreachable,
        disagreements,
        planned: ends.clone().map(|e| e.changes).sum(),
        changed: ends.clone().map(|e| e.changed).sum(),
        failed: ends.clone().map(|e| e.failed).sum(),
        duration_ms: ends.filter_map(|e| e.duration_ms).max(),
        hosts: m
            .hosts
            .iter()
            .map(|h| LogHost {
                host: h.host.clone(),
                result: match &h.end {
                    Some(e) => Some(e.result.word().to_string()),
                    None if in_progress(&h.host) => Some(IN_PROGRESS.to_string()),
                    None => None,
                },
                seq: h.end.as_ref().map(|e| e.seq),
                changed: h.end.as_ref().map_or(0, |e| e.changed),
                failed: h.end.as_ref().map_or(0, |e| e.failed),
                changed_steps: h
                    .end
                    .as_ref()
                    .map(|e| e.changed_steps.iter().map(|s| shown(s)).collect())
                    .unwrap_or_default(),
                failed_steps: h
                    .end
                    .as_ref()
                    .map(|e| e.failed_steps.iter().map(|s| shown(s)).collect())
                    .unwrap_or_default(),
                note: h.end.as_ref().and_then(|e| e.note.as_deref()).map(shown),
                duration_ms: h.end.as_ref().and_then(|e| e.duration_ms),
            })
            .collect(),
    }
}
