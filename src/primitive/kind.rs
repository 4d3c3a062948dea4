//! The types of the primitive registry: what a slice says about itself
//! ([`Kind`]: its doc and, when its steps own paths, an [`Owns`]), the kinds of
//! path ordo creates ([`ManagedKind`], named in hosts' records) and a path to
//! remove ([`Removal`]). A leaf: the slices name these types, and the list of
//! slices (`kinds.rs`) and the removal step (`removal.rs`) sit above them.

use super::Doc;
use crate::host_path::HostPath;
use crate::ids::StepId;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::PathKind;

/// What one slice says about itself.
#[derive(Debug)]
pub struct Kind {
    pub doc: &'static Doc,
    /// `Some` when its steps own a path on the host (see [`Owns`]).
    pub owns: Option<&'static Owns>,
}

/// A kind of path ordo creates and, once no step declares it, removes.
#[derive(Debug)]
pub struct Owns {
    /// The kind, named in the host's record of what ordo created.
    pub kind: ManagedKind,
    /// What the probe finds at the path while it is still what ordo made there;
    /// anything else is left alone.
    pub found: PathKind,
    /// The apply script's lines that remove it.
    pub remove: fn(&Removal, StepId, &mut ApplyScript),
}

/// What kind of thing a step keeps at its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagedKind {
    File,
    Directory,
    Symlink,
    /// A program's record directory (`~/.ordo/<service>/programs/<name>`):
    /// removing it stops the program.
    Program,
    /// A cron block's record file: removing it removes the block from the crontab.
    Cron,
    /// A Python environment ordo built (it holds ordo's `.ordo-venv` record):
    /// removed with everything in it.
    Virtualenv,
    /// A release set's `releases` directory (decision 62): removed with the
    /// releases ordo built in it, and its `current` link.
    Releases,
}

impl ManagedKind {
    /// The word hosts' records use for it; records written by earlier versions
    /// use the same words, so they must never change.
    pub fn word(self) -> &'static str {
        match self {
            ManagedKind::File => "file",
            ManagedKind::Directory => "directory",
            ManagedKind::Symlink => "symlink",
            ManagedKind::Program => "program",
            ManagedKind::Cron => "cron",
            ManagedKind::Virtualenv => "virtualenv",
            ManagedKind::Releases => "releases",
        }
    }
}

/// A path ordo created that no step declares any more (the step is in
/// `removal.rs`).
#[derive(Debug)]
pub struct Removal {
    pub kind: ManagedKind,
    pub path: HostPath,
    /// The name the step that created it had.
    pub name: String,
    /// The component that created it.
    pub component: String,
}

impl Removal {
    /// Its line in the host's record of what ordo created, for a removal that
    /// keeps the path (a directory with content): it stays on the record, so a
    /// later deploy removes it once it can.
    pub fn record_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\n",
            self.kind.word(),
            crate::shell::relative(&self.path),
            self.component.replace(['\t', '\n'], " "),
            self.name.replace(['\t', '\n'], " ")
        )
    }
}
