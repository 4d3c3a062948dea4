//! Primitives: the kinds of step ordo knows (`file`, `directory`, `symlink`,
//! `command`, custom `step`s, …). Each is one vertical slice — one file holding its
//! data, its label, what the host's probe must find out for it, how it verifies
//! (what would change, with the diff), the lines of its apply script, whether its
//! content is sensitive, and its reference documentation. The executor is generic
//! over the [`Primitive`] trait; adding a primitive is its slice (which exports
//! one [`Kind`]: its doc and, when it owns paths, their removal), one line in
//! [`KINDS`] and one Rhai constructor in `script/api/primitives/` (see
//! `docs/design/decisions.md`, "One slice per primitive").

pub(crate) mod access;
pub mod cache;
mod change;
pub mod command;
pub mod cron;
pub mod custom;
pub mod directory;
mod doc;
pub mod file;
pub mod hook;
mod kind;
mod kinds;
pub mod migration;
pub mod owner;
pub mod packages;
mod path_removal;
mod privilege;
pub mod program;
pub mod records;
pub mod release_set;
pub mod removal;
pub mod resources;
pub mod symlink;
pub mod virtualenv;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use change::{Change, Diff, Planned};
pub use custom::{CustomStep, HostIo};
pub use doc::{Doc, OptionDoc};
pub use kind::{Kind, ManagedKind, Owns, Removal};
pub use kinds::{KINDS, doc, docs, owner};

use crate::host_path::HostPath;
use crate::ids::StepId;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, ProbeScript};

/// Files ordo creates are world-readable unless `mode` says otherwise; an existing
/// file keeps its mode. Directories likewise.
pub const DEFAULT_FILE_MODE: u32 = 0o644;
pub const DEFAULT_DIR_MODE: u32 = 0o755;

/// One kind of step.
pub trait Primitive: Send + Sync + fmt::Debug {
    /// `file`, `template`, `command`… — the first word of the label.
    fn kind(&self) -> &'static str;

    /// The name the script gave it (a path for files, a name for commands).
    fn name(&self) -> &str;

    /// `file etc/app.ini`: the step's name in breadcrumbs, plans and markers.
    fn label(&self) -> String {
        format!("{} {}", self.kind(), self.name())
    }

    /// The path this step manages on its host, if it manages one.
    fn managed(&self) -> Option<Managed> {
        None
    }

    /// Its content must never be shown (diffs are masked).
    fn sensitive(&self) -> bool {
        false
    }

    /// Its change runs as root (`sudo -n`), because the script said `sudo: true`.
    /// The plan marks it; it is applied in a script of its own.
    fn privileged(&self) -> bool {
        false
    }

    /// The plan marks it `[sudo]`: its change runs as root — in a script of its own
    /// ([`privileged`](Self::privileged)), or through `sudo -n` from its own script
    /// (a program's systemd system unit).
    fn sudo(&self) -> bool {
        self.privileged()
    }

    /// Values other steps may read from what `c.add(..)` returned, besides `path`
    /// (a virtualenv's `bin` and `python`).
    fn exports(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// `on_change` makes it run (commands, custom steps).
    fn reacts_to_changes(&self) -> bool {
        false
    }

    /// Adds what the host's probe must find out for this step.
    fn probe(&self, _step: &StepCtx<'_>, _probe: &mut ProbeScript) {}

    /// Compares with what the probe found: `Ok(None)` when the host is already right.
    /// `Err` says why the step cannot be verified (a guard that timed out, …).
    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String>;

    /// Adds the planned change to an apply script.
    fn apply(&self, step: &StepCtx<'_>, planned: &Planned, facts: &Facts, script: &mut ApplyScript);

    /// Steps whose verify and update run on the controller (custom Rhai code)
    /// instead of in a script.
    fn controller(&self) -> Option<&dyn CustomStep> {
        None
    }
}

/// A step as the model holds it.
pub type Action = Arc<dyn Primitive>;

/// What a step is while it is verified and applied.
pub struct StepCtx<'a> {
    pub id: StepId,
    /// The component's root directory.
    pub root: &'a HostPath,
    /// Why it must run although its own verify might not say so: a step it watches
    /// changed, or its pending marker is still on the host.
    pub trigger: Option<&'a str>,
    /// Every step that triggered it asked for a reload only (`reload_on`), so a
    /// program reloads instead of restarting.
    pub reload_only: bool,
    /// Its own pending marker, removed after it ran, when other steps trigger it;
    /// the marker of a pending reload is the same path with `.reload` appended.
    pub marker: Option<&'a HostPath>,
    /// How long a command may run.
    pub timeout: Duration,
    /// The service's state directory on the host (`~/.ordo/<service>`), where a
    /// primitive may keep what it needs to remember (the masked copy of a file
    /// with secrets, say).
    pub state: &'a HostPath,
}

/// A path a step manages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Managed {
    pub path: HostPath,
    pub kind: ManagedKind,
    /// Several steps may declare the same directory with the same mode; any other
    /// sharing of a path is a conflict.
    pub shareable: Option<String>,
}

/// A command's exit code meaning "killed by `timeout`".
pub(crate) fn timed_out(code: i32) -> bool {
    code == 124 || code == 137
}

#[cfg(test)]
pub(crate) mod testing {
    //! Probe answers for the slices' unit tests, in the probe's real output format.

    use base64::Engine;

    use crate::host_path::HostPath;
    use crate::ids::{Id, StepId};
    use crate::shell::probe::Facts;

    /// `stats`: (find type, octal mode, path form, link target); `extra`: more lines.
    pub(crate) fn facts(stats: &[(&str, &str, &str, &str)], sums: &[(&str, &str)], extra: &str) -> Facts {
        let b = |x: &[u8]| base64::engine::general_purpose::STANDARD.encode(x);
        let mut f = Vec::new();
        for (kind, mode, path, target) in stats {
            f.extend_from_slice(format!("{kind} {mode} 1000 1000 {path}\0{target}\0").as_bytes());
        }
        let s: String = sums.iter().map(|(sha, p)| format!("{sha}  {p}\n")).collect();
        Facts::parse(&format!("uid 1000\nF {}\nS {}\n{extra}end\n", b(&f), b(s.as_bytes()))).expect("probe output")
    }

    pub(crate) fn ctx<'a>(root: &'a HostPath, trigger: Option<&'a str>) -> super::StepCtx<'a> {
        ctx_id(7, root, trigger)
    }

    /// The context of step `id` (the facts a test parses name it), timeout 60 s.
    pub(crate) fn ctx_id<'a>(id: usize, root: &'a HostPath, trigger: Option<&'a str>) -> super::StepCtx<'a> {
        super::StepCtx {
            id: StepId::new(id),
            root,
            trigger,
            reload_only: false,
            marker: None,
            timeout: std::time::Duration::from_secs(60),
            state: &STATE,
        }
    }

    static STATE: std::sync::LazyLock<HostPath> =
        std::sync::LazyLock::new(|| HostPath::new("~/.ordo/s").expect("a home path"));
}
