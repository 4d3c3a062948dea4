//! What verify found: the change a step will make, and a diff that knows whether
//! its content may be shown. Host bytes in diffs are made visible (control
//! characters escaped) here, before anything renders them.

use serde::{Serialize, Serializer};
use similar::TextDiff;

use crate::text::visible;

/// The kind of change a step will make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The path does not exist yet.
    Create,
    /// The content or link target differs.
    Update,
    /// Only the mode differs.
    Mode { from: u32, to: u32 },
    /// Only the owner or group differs.
    Owner { from: String, to: String },
    /// A command or custom step will run.
    Run { reason: String },
    /// ordo created this path and no step declares it any more.
    Remove,
    /// The host has something in the way that ordo will not touch. Deploying is
    /// refused.
    Conflict { message: String },
}

impl Change {
    pub fn word(&self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Mode { .. } => "mode",
            Change::Owner { .. } => "owner",
            Change::Run { .. } => "run",
            Change::Remove => "remove",
            Change::Conflict { .. } => "conflict",
        }
    }

    pub fn symbol(&self) -> char {
        match self {
            Change::Create => '+',
            Change::Update | Change::Mode { .. } | Change::Owner { .. } => '~',
            Change::Run { .. } => '!',
            Change::Remove => '-',
            Change::Conflict { .. } => 'x',
        }
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, Change::Conflict { .. })
    }
}

impl Serialize for Change {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.word())
    }
}

/// What a plan shows of a change's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Diff {
    /// A unified diff of public text.
    Text(String),
    /// The content is private (not world-readable) or sensitive: only that it
    /// changed, with short hashes of the old and new content.
    Hidden { old: Option<String>, new: String },
    /// Binary or too big to show.
    Large { bytes: usize },
    /// A symlink's old and new target.
    Link { old: Option<String>, new: String },
}

impl Diff {
    /// A text diff of `old` (None: a new file) and `new`; binary or large contents
    /// become [`Diff::Large`].
    pub fn of(name: &str, old: Option<&[u8]>, new: &[u8]) -> Diff {
        let old_text = match old {
            Some(b) => std::str::from_utf8(b).ok(),
            None => Some(""),
        };
        match (old_text, std::str::from_utf8(new)) {
            (Some(o), Ok(n)) if n.len() <= 1 << 20 => Diff::Text(visible(
                &TextDiff::from_lines(o, n)
                    .unified_diff()
                    .context_radius(3)
                    .header(name, name)
                    .to_string(),
                true,
            )),
            _ => Diff::Large { bytes: new.len() },
        }
    }

    /// The diff with `f` applied to its text (redaction).
    pub fn map_text(&self, f: &dyn Fn(&str) -> String) -> Diff {
        match self {
            Diff::Text(t) => Diff::Text(f(t)),
            Diff::Link { old, new } => Diff::Link {
                old: old.as_deref().map(f),
                new: f(new),
            },
            other => other.clone(),
        }
    }

    /// The lines a plan prints (and the `diff` field of JSON events).
    pub fn render(&self) -> String {
        match self {
            Diff::Text(t) => t.clone(),
            Diff::Hidden { old: Some(o), new } => {
                format!("content changed ({o} → {new}), not shown: private or sensitive\n")
            }
            Diff::Hidden { old: None, new } => format!("new content ({new}), not shown: private or sensitive\n"),
            Diff::Large { bytes } => format!("binary or large file: {bytes} bytes\n"),
            Diff::Link { old: Some(o), new } => format!("-> {o}\n+> {new}\n"),
            Diff::Link { old: None, new } => format!("+> {new}\n"),
        }
    }
}

impl Serialize for Diff {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.render())
    }
}

/// A step's verdict when it is not up to date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub change: Change,
    /// Shown after the step in a plan: why a command runs, what a mode becomes.
    pub detail: Option<String>,
    pub diff: Option<Diff>,
}

impl Planned {
    pub fn new(change: Change) -> Self {
        Planned {
            change,
            detail: None,
            diff: None,
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        let message = message.into();
        Planned {
            detail: Some(message.clone()),
            change: Change::Conflict { message },
            diff: None,
        }
    }

    pub fn run(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Planned {
            detail: Some(reason.clone()),
            change: Change::Run { reason },
            diff: None,
        }
    }

    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    #[must_use]
    pub fn diff(mut self, diff: Diff) -> Self {
        self.diff = Some(diff);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_show_text_and_hide_the_rest() {
        let d = Diff::of("a.conf", Some(b"x = 1\n"), b"x = 2\n");
        assert!(d.render().contains("-x = 1\n+x = 2\n"), "{}", d.render());
        assert_eq!(
            Diff::of("b", None, &[0xff, 0]).render(),
            "binary or large file: 2 bytes\n"
        );
        let hidden = Diff::Hidden {
            old: Some("aaaa".into()),
            new: "bbbb".into(),
        };
        assert!(!hidden.render().contains("x ="));
    }

    #[test]
    fn host_bytes_are_made_visible() {
        let d = Diff::of("a", Some(b"ok\n"), b"evil \x1b[2J\n");
        assert!(d.render().contains("evil \\u{1b}[2J"), "{}", d.render());
    }
}
