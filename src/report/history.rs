//! How the deploy history reads for people: a line of `ordo log`, a host's current
//! entry in `ordo status`, the revision in a plan's header (`--rev`, a rollback).
//! Everything here was read from hosts or typed by someone: the commands made it
//! visible (control characters escaped) before it became an event.

use super::{LogEntry, Revision};

/// The first 12 characters (a commit recorded on a host may be any text).
pub(super) fn short_commit(commit: &str) -> &str {
    commit.char_indices().nth(12).map_or(commit, |(i, _)| &commit[..i])
}

/// The first 8 characters of a run id.
pub(super) fn short_run(run: &str) -> &str {
    run.char_indices().nth(8).map_or(run, |(i, _)| &run[..i])
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// ` at v1 (commit 0123456789ab)` and what a header must say about it.
pub(super) fn revision(r: &Revision) -> String {
    let mut s = match &r.entry {
        Some(e) => format!(" to entry {} (commit {})", short_run(e), short_commit(&r.commit)),
        None => format!(" at {} (commit {})", r.rev, short_commit(&r.commit)),
    };
    if !r.on_branch {
        s.push_str(&format!(", not on the current branch {}", r.branch));
    }
    s
}

/// `commit 0123456789ab-dirty (--rev v1)`, or `no commit`.
fn what(e: &LogEntry) -> String {
    let mut s = match &e.commit {
        Some(c) => format!("commit {}{}", short_commit(c), if e.dirty { "-dirty" } else { "" }),
        None => "no commit".to_string(),
    };
    if let Some(r) = &e.rev {
        s.push_str(&format!(" (--rev {r})"));
    }
    if let Some(to) = &e.rollback_to {
        s.push_str(&format!(" (back to {})", short_run(to)));
    }
    if let Some(w) = &e.what {
        s.push_str(&format!(" ({w})"));
    }
    for v in &e.set {
        s.push_str(&format!(" --set {v}"));
    }
    s
}

/// One line of `ordo log`: `!` in front where the hosts disagree.
pub(super) fn log_line(e: &LogEntry) -> String {
    let mark = if e.disagreements.is_empty() { ' ' } else { '!' };
    let hosts: Vec<&str> = e.hosts.iter().map(|h| h.host.as_str()).collect();
    // What an interrupted or unfinished run changed is not known: what it planned is.
    let counts = match e.result.as_str() {
        "interrupted" => format!("{} planned", e.planned),
        "in progress" => "holds the lock now".to_string(),
        "unfinished" => "no end recorded: ordo was killed, or lost the host".to_string(),
        _ if e.changed == 0 && e.failed == 0 => "nothing changed".to_string(),
        _ if e.failed > 0 => format!("{} changed, {} failed", e.changed, e.failed),
        _ => format!("{} changed", e.changed),
    };
    let duration = e.duration_ms.map(|d| format!(" in {}", seconds(d))).unwrap_or_default();
    let mut line = format!(
        "{mark} {}  {}  {:<8} {}  by {}: {} on {} ({counts}){duration}",
        short_run(&e.run),
        e.at,
        e.kind,
        what(e),
        e.by,
        e.result,
        hosts.join(", "),
    );
    if !e.disagreements.is_empty() {
        line.push_str(&format!(" — hosts disagree: {}", e.disagreements.join("; ")));
    }
    line.push('\n');
    line
}

/// A host's current entry in `ordo status`.
pub(super) fn current_line(e: &LogEntry, host: &str) -> String {
    let mine = e.hosts.iter().find(|h| h.host == host);
    let result = match mine.and_then(|h| h.result.as_deref()) {
        None => "no end recorded (ordo was killed, or lost the host)".to_string(),
        Some(r) => {
            let note = mine
                .and_then(|h| h.note.as_deref())
                .map(|n| format!(": {n}"))
                .unwrap_or_default();
            let changed = mine.map_or(0, |h| h.changed);
            match r {
                "ok" if changed == 0 => "ok, nothing changed".to_string(),
                "ok" => format!("ok, {changed} changed"),
                _ => format!("{r}{note}"),
            }
        }
    };
    format!(
        "  current entry {}: {} by {} at {}, {}: {result}\n",
        short_run(&e.run),
        e.kind,
        e.by,
        e.at,
        what(e),
    )
}

/// `hosts differ: …; they last agreed N deploys ago (entry X)`.
pub(super) fn differ(versions: usize, diverged: Option<usize>, since: Option<&str>) -> String {
    let mut s = if versions > 1 {
        format!("hosts differ: {versions} versions deployed")
    } else {
        "hosts differ: their last deploys did not end alike".to_string()
    };
    match (diverged, since) {
        (Some(0), _) => {}
        (Some(n), Some(run)) => s.push_str(&format!(
            "; they last agreed {n} {} ago (entry {})",
            if n == 1 { "deploy" } else { "deploys" },
            short_run(run)
        )),
        (None, _) => s.push_str("; no deploy in their kept histories succeeded on all of them"),
        _ => {}
    }
    s.push('\n');
    s
}
