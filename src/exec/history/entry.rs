//! The lines of a host's deploy history (`~/.ordo/<service>/history`): one JSON
//! object per line, two lines per deploy. The [`Begin`] line is written in the
//! probe's round trip, right after the deploy lock is taken; the [`End`] line in
//! the script that releases the lock. A deploy killed in between leaves its
//! `begin` line alone, which readers show as "no end recorded".
//!
//! End lines are chained: each carries the short hash of the end line before it
//! (`prev`) and of its own begin line (`begin`), and a sequence number one higher
//! than the previous end's (decision 58).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The history format; a reader skips nothing it does not understand, it reports it.
pub const VERSION: u32 = 1;

/// How many entries a host keeps at least (the file is trimmed to its last lines
/// now and then, see `Writer::end_lines`).
pub const KEEP: u64 = 200;

/// What kind of run wrote an entry.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// `ordo deploy`.
    Deploy,
    /// `ordo rollback`: an ordinary deploy of an earlier entry's revision.
    Rollback,
    /// The REPL's `apply` of some steps (the host's version record stays).
    Apply,
}

impl RunKind {
    pub fn word(self) -> &'static str {
        match self {
            RunKind::Deploy => "deploy",
            RunKind::Rollback => "rollback",
            RunKind::Apply => "apply",
        }
    }
}

/// One `--set` or `--set-file` value as the history keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SetRecord {
    /// `component.attribute=value`, the value masked when `masked`.
    pub text: String,
    /// From a `--set-file` (below `--set` in the order of values).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub file: bool,
    /// The value is not kept: it replaced a secret, or equals one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
}

/// The first line of an entry: who deploys what, written when the lock is taken.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Begin {
    pub v: u32,
    /// The run's id: its lock token, the same on every host it reaches.
    pub run: String,
    pub kind: RunKind,
    pub environment: String,
    /// `user@machine` of whoever ran ordo.
    pub by: String,
    /// When the run started (RFC 3339, the controller's clock).
    pub at: String,
    pub ordo: String,
    /// The deployment repository's commit, when it is a git repository.
    #[serde(default)]
    pub commit: Option<String>,
    /// Deployed with uncommitted changes among its inputs (`--allow-dirty`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dirty: bool,
    /// `--rev REV` as typed (the commit above is what it named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    /// A rollback: the run whose revision it deploys again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_to: Option<String>,
    /// A REPL apply: what it applied (a component, a trial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<SetRecord>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub libraries: BTreeMap<String, String>,
    /// The evaluation's fingerprint (the same on every host).
    pub fingerprint: String,
    /// How many hosts the run targets.
    pub hosts: usize,
    /// Their names: a host that has left the environment since (deleted, or
    /// retired and torn down) is not missed by `ordo log` or a rollback.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// How many hosts the environment had: a run that targets fewer (`--hosts`, a
    /// REPL `apply`) deployed part of it.
    #[serde(default)]
    pub environment_hosts: usize,
}

/// How a run ended on one host.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every planned change was applied (none, for a deploy that found nothing to change).
    Ok,
    /// A step failed, or the host stopped before its last change.
    Failed,
    /// Ctrl-C (SIGINT, SIGTERM, SIGHUP) while the run held the host.
    Interrupted,
    /// Stopped before anything was applied (see `note`).
    NotApplied,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
            Outcome::NotApplied => "not applied",
        }
    }
}

/// The second line of an entry: how the run ended on this host.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct End {
    pub v: u32,
    pub run: String,
    /// 1 + the previous end line's.
    pub seq: u64,
    /// Short hash of the previous end line; `None` for the first.
    #[serde(default)]
    pub prev: Option<String>,
    /// Short hash of this run's begin line.
    pub begin: String,
    pub result: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The plan's counts on this host.
    pub changes: usize,
    pub unchanged: usize,
    /// What the apply did on this host.
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// The first steps that changed and failed (names; see [`STEPS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_steps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_steps: Vec<String>,
    /// The hosts the run went on without because they could not be reached
    /// (`--skip-unreachable`; names, see [`STEPS`]): they have no entry of it, and
    /// `ordo log` names them from here. Empty in a line written before the plan
    /// had reached every host (a fleet's host let go in its wave).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
    /// From the run's start until this line was written (the last field: the
    /// host may fill it in, see `Writer::end_lines`).
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// How many step names an end line keeps of each kind.
pub const STEPS: usize = 20;

/// One line of the file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Line {
    Begin(Begin),
    End(End),
}

impl Line {
    /// The line's text (no newline).
    pub fn text(&self) -> String {
        serde_json::to_string(self).expect("history lines serialise")
    }

    pub fn parse(text: &str) -> Option<Line> {
        serde_json::from_str(text).ok()
    }
}

/// The short hash of a line's text, as `prev` and `begin` carry it.
pub fn hash(text: &str) -> String {
    crate::sys::short_hash(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_carry_their_tag() {
        let b = Line::Begin(Begin {
            v: VERSION,
            run: "r1".into(),
            kind: RunKind::Deploy,
            environment: "prod".into(),
            by: "a@b".into(),
            at: "2024-01-01T00:00:00Z".into(),
            ordo: "0.1.0".into(),
            commit: Some("c".into()),
            dirty: false,
            rev: None,
            rollback_to: None,
            what: None,
            set: vec![SetRecord {
                text: "app.port=1".into(),
                file: false,
                masked: false,
            }],
            libraries: BTreeMap::new(),
            fingerprint: "f".into(),
            hosts: 2,
            targets: vec!["t1".into(), "t2".into()],
            environment_hosts: 2,
        });
        let text = b.text();
        assert!(text.starts_with(r#"{"t":"begin","v":1,"run":"r1""#), "{text}");
        assert_eq!(Line::parse(&text), Some(b));
        assert_eq!(Line::parse("{\"t\":\"nope\"}"), None);
    }
}
