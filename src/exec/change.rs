//! Verify, in Rust, against what the probe found: for every step, is the host
//! already right, and if not, what will change. The result is the plan that is
//! shown and then applied, unchanged.

use std::collections::HashSet;

use serde::Serialize;
use similar::TextDiff;

use super::probe::{Found, HostProbe, Observed};
use crate::model::{Action, Model};

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The path does not exist yet.
    Create,
    /// The content or link target differs.
    Update,
    /// Only the mode differs.
    Mode { from: String, to: String },
    /// A command or custom step will run.
    Run { reason: String },
    /// The host has something in the way that ordo will not remove (a directory
    /// where a file belongs, …). Deploying is refused.
    Conflict { message: String },
}

impl Change {
    pub fn symbol(&self) -> char {
        match self {
            Change::Create => '+',
            Change::Update | Change::Mode { .. } => '~',
            Change::Run { .. } => '!',
            Change::Conflict { .. } => 'x',
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Mode { .. } => "mode",
            Change::Run { .. } => "run",
            Change::Conflict { .. } => "conflict",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Planned {
    pub step: usize,
    pub change: Change,
    pub diff: Option<String>,
}

/// Compares one host's steps (in plan order) with its probe. `custom` holds the
/// verdicts of custom steps' verify (true = up to date).
pub(crate) fn verify(
    model: &Model,
    order: &[usize],
    probe: &HostProbe,
    custom: &dyn Fn(usize) -> bool,
) -> Vec<Planned> {
    let mut out: Vec<Planned> = Vec::new();
    // Steps that will change (conflicts excluded): what `on_change` watchers react to.
    let mut changed: HashSet<usize> = HashSet::new();
    let empty = Observed::default();
    for &id in order {
        let step = &model.steps[id];
        let o = probe.steps.get(&id).unwrap_or(&empty);
        let triggered_by = step.triggers.iter().find(|t| changed.contains(t));
        let trigger_reason = match triggered_by {
            Some(&t) => Some(format!("{} changed", model.steps[t].action.label())),
            None if o.pending => Some("a change it watches was applied, but it has not run since".to_string()),
            None => None,
        };
        let planned = match &step.action {
            Action::File {
                name, content, mode, ..
            } => file(name, content, *mode, o),
            Action::Directory { mode, .. } => match &o.kind {
                Some(Found::Dir { mode: have }) => mode_change(*have, *mode),
                Some(Found::Absent) | None => Some((Change::Create, None)),
                Some(Found::Link { .. } | Found::File { .. } | Found::Other) => {
                    conflict("something other than a directory is in the way")
                }
            },
            Action::Symlink { target, .. } => match &o.kind {
                Some(Found::Link { target: Some(t) }) if t == target => None,
                Some(Found::Link { target: have }) => Some((
                    Change::Update,
                    Some(format!("-> {}\n+> {target}\n", have.as_deref().unwrap_or("?"))),
                )),
                Some(Found::Absent) | None => Some((Change::Create, Some(format!("+> {target}\n")))),
                Some(_) => conflict("a file or directory is in the way of the symlink"),
            },
            Action::Command {
                creates,
                unless,
                always,
                ..
            } => {
                if let Some(reason) = trigger_reason {
                    Some((Change::Run { reason }, None))
                } else if *always {
                    Some((
                        Change::Run {
                            reason: "runs on every deploy (always: true)".into(),
                        },
                        None,
                    ))
                } else if creates.is_some() && o.exists == Some(false) {
                    Some((
                        Change::Run {
                            reason: format!(
                                "{} does not exist",
                                creates.as_ref().map(ToString::to_string).unwrap_or_default()
                            ),
                        },
                        None,
                    ))
                } else if unless.is_some() && o.guard.is_some_and(|rc| rc != 0) {
                    Some((
                        Change::Run {
                            reason: "its `unless` check failed".into(),
                        },
                        None,
                    ))
                } else {
                    None
                }
            }
            Action::Custom { .. } => match trigger_reason {
                Some(reason) => Some((Change::Run { reason }, None)),
                None if !custom(id) => Some((
                    Change::Run {
                        reason: "verify says the host is not up to date".into(),
                    },
                    None,
                )),
                None => None,
            },
        };
        if let Some((change, diff)) = planned {
            if !matches!(change, Change::Conflict { .. }) {
                changed.insert(id);
            }
            out.push(Planned { step: id, change, diff });
        }
    }
    out
}

fn conflict(message: &str) -> Option<(Change, Option<String>)> {
    Some((
        Change::Conflict {
            message: message.into(),
        },
        None,
    ))
}

fn mode_change(have: u32, want: Option<u32>) -> Option<(Change, Option<String>)> {
    match want {
        Some(w) if w != have => Some((
            Change::Mode {
                from: format!("{have:04o}"),
                to: format!("{w:04o}"),
            },
            None,
        )),
        _ => None,
    }
}

fn file(name: &str, content: &[u8], mode: Option<u32>, o: &Observed) -> Option<(Change, Option<String>)> {
    match &o.kind {
        Some(Found::File { sha, mode: have }) => {
            if *sha == crate::model::sha256_hex(content) {
                return mode_change(*have, mode);
            }
            Some((Change::Update, Some(diff(name, o.old.as_deref(), content))))
        }
        Some(Found::Absent | Found::Link { .. }) | None => Some((Change::Create, Some(diff(name, None, content)))),
        Some(Found::Dir { .. } | Found::Other) => conflict("a directory or special file is in the way"),
    }
}

/// A unified diff of a text file, or a one-line summary for binary or big files.
fn diff(name: &str, old: Option<&[u8]>, new: &[u8]) -> String {
    let old_text = match old {
        Some(b) => std::str::from_utf8(b).ok(),
        None => Some(""),
    };
    match (old_text, std::str::from_utf8(new)) {
        (Some(o), Ok(n)) if n.len() <= 1 << 20 => TextDiff::from_lines(o, n)
            .unified_diff()
            .context_radius(3)
            .header(name, name)
            .to_string(),
        _ => format!("binary or large file: {} bytes\n", new.len()),
    }
}
