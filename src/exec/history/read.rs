//! A host's history read back: its entries in file order, and what does not add
//! up — a file that is gone, a line ordo did not write, an end line whose chain
//! breaks (an entry removed or changed), a `history.last` that is not the file's
//! last end line (the file replaced or cut), fewer entries than trimming keeps, a
//! run this machine began there that the host no longer has. What does not add up
//! is said, never repaired: the entries shown are the lines that are there.

use std::collections::HashMap;

use super::entry::{Begin, End, KEEP, Line, hash};
use super::{Remembered, RunKind};

/// One run on one host: its begin line, its end line, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntry {
    /// `None` when the file starts after it (trimmed).
    pub begin: Option<Begin>,
    /// `None`: no end recorded — the run was killed, or lost the host.
    pub end: Option<End>,
}

impl HostEntry {
    pub fn run(&self) -> &str {
        match (&self.begin, &self.end) {
            (Some(b), _) => &b.run,
            (None, Some(e)) => &e.run,
            (None, None) => "",
        }
    }
}

/// A host's history as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostHistory {
    /// Oldest first, as in the file.
    pub entries: Vec<HostEntry>,
    /// What does not add up, for people.
    pub findings: Vec<String>,
    /// The host keeps no history (never deployed, or by an ordo without one).
    pub none: bool,
}

impl HostHistory {
    /// The newest entry.
    pub fn newest(&self) -> Option<&HostEntry> {
        self.entries.last()
    }
}

/// Reads a host's history file (`None`: there is none) against `history.last`
/// and what this machine remembers having begun there.
pub fn read_lines(file: Option<&[u8]>, last: Option<&str>, remembered: Option<&Remembered>) -> HostHistory {
    let mut h = HostHistory::default();
    let Some(file) = file else {
        if let Some(last) = last {
            let seq = match Line::parse(last) {
                Some(Line::End(e)) => format!("entry {}", e.seq),
                _ => "an entry".to_string(),
            };
            h.findings.push(format!(
                "the history file is gone, but history.last still names {seq}: the history was lost"
            ));
        } else if let Some(r) = remembered {
            h.findings.push(format!(
                "this machine began run {} here at {}, and the host has no history of it: the history was lost",
                short(&r.run),
                r.at
            ));
        } else {
            h.none = true;
        }
        return h;
    };
    let text = String::from_utf8_lossy(file);
    let mut by_run: HashMap<String, usize> = HashMap::new();
    let mut begin_hashes: HashMap<String, String> = HashMap::new();
    // The previous end line: its text and sequence number.
    let mut previous: Option<(String, u64)> = None;
    let mut first_seq = None;
    let mut ends = 0usize;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.is_empty() {
            continue;
        }
        match Line::parse(line) {
            None => h
                .findings
                .push(format!("line {n} is not an entry ordo wrote: the history was edited")),
            Some(Line::Begin(b)) => {
                if by_run.contains_key(&b.run) {
                    h.findings.push(format!(
                        "line {n}: run {} begins twice: the history was edited",
                        short(&b.run)
                    ));
                    continue;
                }
                by_run.insert(b.run.clone(), h.entries.len());
                begin_hashes.insert(b.run.clone(), hash(line));
                h.entries.push(HostEntry {
                    begin: Some(b),
                    end: None,
                });
            }
            Some(Line::End(e)) => {
                ends += 1;
                first_seq.get_or_insert(e.seq);
                match &previous {
                    Some((prev_text, prev_seq))
                        if e.prev.as_deref() != Some(hash(prev_text).as_str()) || e.seq != prev_seq + 1 =>
                    {
                        h.findings.push(if e.prev.is_none() && e.seq == 1 {
                            format!("line {n}: the entries start again at 1 (history.last was lost or removed)")
                        } else {
                            format!(
                                "line {n}: entry {} does not follow entry {prev_seq}: entries were removed or changed",
                                e.seq
                            )
                        });
                    }
                    None if e.seq == 1 && e.prev.is_some() => h.findings.push(format!(
                        "line {n}: entry 1 follows an entry that is not there: the history was edited"
                    )),
                    _ => {}
                }
                match by_run.get(&e.run).copied() {
                    Some(at) if h.entries[at].end.is_none() => {
                        if begin_hashes.get(&e.run) != Some(&e.begin) {
                            h.findings
                                .push(format!("line {n}: the begin line of entry {} was changed", e.seq));
                        }
                        h.entries[at].end = Some(e.clone());
                    }
                    Some(_) => h.findings.push(format!(
                        "line {n}: run {} ends twice: the history was edited",
                        short(&e.run)
                    )),
                    None => {
                        by_run.insert(e.run.clone(), h.entries.len());
                        h.entries.push(HostEntry {
                            begin: None,
                            end: Some(e.clone()),
                        });
                    }
                }
                previous = Some((line.to_string(), e.seq));
            }
        }
    }
    // Trimming keeps at least KEEP entries; fewer, with older ones gone, were cut.
    if let Some(first) = first_seq
        && first > 1
        && (ends as u64) < KEEP
    {
        h.findings.push(format!(
            "entries 1 to {} are missing (ordo keeps the last {KEEP}): the history was cut",
            first - 1
        ));
    }
    // Entries whose begin line is gone are only allowed before the first kept
    // begin line (trimmed); later ones had their begin removed.
    let first_begin = h.entries.iter().position(|e| e.begin.is_some());
    for (i, e) in h.entries.iter().enumerate() {
        if e.begin.is_none() && first_begin.is_some_and(|f| i > f) {
            let seq = e.end.as_ref().map_or(0, |e| e.seq);
            h.findings
                .push(format!("entry {seq} has no begin line: the history was edited"));
        }
    }
    match (last, &previous) {
        (Some(last), Some((text, _))) if last != text => h
            .findings
            .push("history.last is not the file's last entry: the file was replaced or cut".to_string()),
        (Some(_), None) => h
            .findings
            .push("history.last names an entry the file does not have: the file was replaced or cut".to_string()),
        (None, Some((_, seq))) => h.findings.push(format!(
            "history.last is gone (the file's last entry is {seq}): the history was edited"
        )),
        _ => {}
    }
    if let Some(r) = remembered
        && !by_run.contains_key(&r.run)
    {
        // Older than everything kept: trimmed, not lost.
        let oldest = h.entries.iter().find_map(|e| e.begin.as_ref().map(|b| b.at.as_str()));
        let trimmed = first_seq.is_some_and(|f| f > 1) && oldest.is_some_and(|o| r.at.as_str() < o);
        if !trimmed {
            h.findings.push(format!(
                "this machine began run {} here at {}, and the host's history does not have it: the history was lost or edited",
                short(&r.run),
                r.at
            ));
        }
    }
    h
}

/// The first 8 characters of a run id, as `ordo log` shows it.
pub fn short(run: &str) -> &str {
    run.char_indices().nth(8).map_or(run, |(i, _)| &run[..i])
}

/// Whether an entry deployed a whole revision (a deploy or rollback, not a REPL apply).
pub(crate) fn deploys(b: &Begin) -> bool {
    b.kind != RunKind::Apply
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::entry::{Outcome, RunKind, VERSION};
    use super::*;

    fn begin(run: &str, at: &str) -> String {
        Line::Begin(Begin {
            v: VERSION,
            run: run.into(),
            kind: RunKind::Deploy,
            environment: "prod".into(),
            by: "a@b".into(),
            at: at.into(),
            ordo: "0".into(),
            commit: None,
            dirty: false,
            rev: None,
            rollback_to: None,
            what: None,
            set: Vec::new(),
            libraries: BTreeMap::new(),
            fingerprint: "f".into(),
            hosts: 1,
            targets: vec!["t1".into()],
            environment_hosts: 1,
        })
        .text()
    }

    fn end(run: &str, seq: u64, prev: Option<&str>, begin_line: &str) -> String {
        Line::End(End {
            v: VERSION,
            run: run.into(),
            seq,
            prev: prev.map(hash),
            begin: hash(begin_line),
            result: Outcome::Ok,
            note: None,
            changes: 0,
            unchanged: 0,
            changed: 0,
            failed: 0,
            skipped: 0,
            changed_steps: Vec::new(),
            failed_steps: Vec::new(),
            unreachable: Vec::new(),
            duration_ms: Some(1),
        })
        .text()
    }

    /// Three runs, the second killed before its end.
    fn three() -> (Vec<String>, String) {
        let b1 = begin("r1", "2024-01-01T00:00:01Z");
        let e1 = end("r1", 1, None, &b1);
        let b2 = begin("r2", "2024-01-01T00:00:02Z");
        let b3 = begin("r3", "2024-01-01T00:00:03Z");
        let e3 = end("r3", 2, Some(&e1), &b3);
        (vec![b1, e1, b2, b3, e3.clone()], e3)
    }

    fn file(lines: &[String]) -> Vec<u8> {
        lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes()
    }

    #[test]
    fn a_history_ordo_wrote_reads_without_findings() {
        let (lines, last) = three();
        let h = read_lines(Some(&file(&lines)), Some(&last), None);
        assert_eq!(h.findings, Vec::<String>::new());
        let runs: Vec<&str> = h.entries.iter().map(HostEntry::run).collect();
        assert_eq!(runs, ["r1", "r2", "r3"]);
        assert!(h.entries[1].end.is_none(), "the killed run has no end");
    }

    #[test]
    fn edits_removals_and_losses_are_found() {
        let (lines, last) = three();
        // A changed begin line.
        let mut edited = lines.clone();
        edited[3] = edited[3].replace("a@b", "x@y");
        let h = read_lines(Some(&file(&edited)), Some(&last), None);
        assert_eq!(h.findings, ["line 5: the begin line of entry 2 was changed"]);
        // A removed entry.
        let removed = vec![lines[2].clone(), lines[3].clone(), lines[4].clone()];
        let h = read_lines(Some(&file(&removed)), Some(&last), None);
        assert_eq!(
            h.findings,
            ["entries 1 to 1 are missing (ordo keeps the last 200): the history was cut"]
        );
        // A line that is not ordo's.
        let mut junk = lines.clone();
        junk.insert(1, "hello".into());
        let h = read_lines(Some(&file(&junk)), Some(&last), None);
        assert_eq!(
            h.findings,
            ["line 2 is not an entry ordo wrote: the history was edited"]
        );
        // The file cut after entry 1: history.last disagrees.
        let h = read_lines(Some(&file(&lines[..2])), Some(&last), None);
        assert_eq!(
            h.findings,
            ["history.last is not the file's last entry: the file was replaced or cut"]
        );
        // The file gone.
        let h = read_lines(None, Some(&last), None);
        assert_eq!(
            h.findings,
            ["the history file is gone, but history.last still names entry 2: the history was lost"]
        );
        // Everything gone, but this machine remembers a run.
        let r = Remembered {
            run: "r3".into(),
            at: "2024-01-01T00:00:03Z".into(),
        };
        let h = read_lines(None, None, Some(&r));
        assert!(
            h.findings[0].starts_with("this machine began run r3 here"),
            "{:?}",
            h.findings
        );
        let h = read_lines(Some(&file(&lines)), Some(&last), Some(&r));
        assert!(h.findings.is_empty());
    }
}
