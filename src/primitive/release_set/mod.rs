//! `releases`: immutable releases of an application (decisions 62, 63). Each
//! version is built into a directory of its own, `<dir>/releases/<name>/` — its
//! files and its own virtualenv — marked finished last, and `<dir>/current` is
//! switched to it by one rename; a program that runs in `current` is restarted
//! onto it. A finished release already on the host with the same content is
//! switched to without building anything ("switch to kept release 1.3"), so a
//! rollback is a switch and a restart.
//!
//! The step owns `<dir>/releases` whole: the releases it keeps there are not
//! declared by the scripts any more (earlier versions), so ordinary removal would
//! delete them. It prunes them itself instead, keeping the `keep` releases
//! activated last and never the active one or the one it activates, and shows
//! which in the plan. What it found is in one probe fact: every release's
//! marker (`.ordo-release`), the order of activation (`.ordo-releases`) and the
//! host's interpreter, read with shell builtins.
//!
//! A release is never changed once finished: other content for the same version
//! (a configuration change without a new version) is a new release, named
//! `<version>+<8 hex digits of its content>`, built next to the active one.

mod decide;
mod found;
mod shell;

use decide::{Decision, Prune, Verdict, Work};
use found::{Current, OnHost};

use super::file::File;
use super::virtualenv::{Host, Virtualenv, WHICH_SH, requirements};
use super::{Change, DEFAULT_FILE_MODE, Diff, Doc, Managed, ManagedKind, OptionDoc, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, PathKind, ProbeScript, StepFact};
use crate::sys::sha256_hex;

pub(crate) use found::plain;
pub(crate) use shell::removal;

/// What a release holds, besides ordo's marker: built by the constructors of
/// `file`, `template` and `virtualenv`, with paths relative to the release.
#[derive(Debug)]
pub enum Part {
    File(File),
    Virtualenv(Virtualenv),
}

/// The virtualenv of each release, at `rel` inside it.
#[derive(Debug)]
pub struct ReleaseVenv {
    pub rel: String,
    pub env: Virtualenv,
}

#[derive(Debug)]
pub struct ReleaseSet {
    /// The directory as the script wrote it.
    pub name: String,
    /// The directory holding `releases/` and `current`.
    pub dir: HostPath,
    /// The version being activated: the release's name (and its label).
    pub version: String,
    /// How many releases stay on the host, the active one included.
    pub keep: usize,
    /// The release's files; `name` is the path relative to the release.
    pub files: Vec<File>,
    pub venv: Option<ReleaseVenv>,
    /// The hash of everything a release of this version holds.
    content: String,
}

/// What the step keeps about each release inside it: written `building` when the
/// directory is made, and the finished record last.
const MARKER: &str = ".ordo-release";
/// The releases in the order they were activated, the active one first.
const RECORD: &str = ".ordo-releases";
/// The wheels of the latest build (only changed ones travel).
const WHEELS: &str = ".wheels";

impl ReleaseSet {
    /// `dir` holds `releases/` and `current`; `files` and `venv` have paths
    /// relative to a release (checked by the constructor).
    pub fn new(
        name: String,
        dir: HostPath,
        version: String,
        keep: usize,
        files: Vec<File>,
        venv: Option<ReleaseVenv>,
    ) -> ReleaseSet {
        let mut files = files;
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let mut text = format!("ordo-release 1\0version\0{version}");
        for f in &files {
            text.push_str(&format!("\0file\0{}\0{:o}\0{}", f.name, file_mode(f), f.sha));
        }
        if let Some(v) = &venv {
            text.push_str(&format!("\0virtualenv\0{}\0{:?}\0", v.rel, v.env.python));
            text.push_str(&String::from_utf8_lossy(&v.env.requirements));
            // The wheels an install could use (decision 63): the next version's
            // wheel added to the wheelhouse leaves this release as it was.
            if let Some((_, wheels)) = &v.env.wheelhouse {
                let names: Vec<&str> = wheels.iter().map(|w| w.name.as_str()).collect();
                let req = String::from_utf8_lossy(&v.env.requirements);
                for (w, usable) in wheels.iter().zip(requirements::usable(&req, &names)) {
                    if usable {
                        text.push_str(&format!("\0wheel\0{}\0{}", w.name, w.sha));
                    }
                }
            }
        }
        ReleaseSet {
            content: sha256_hex(text.as_bytes()),
            name,
            dir,
            version,
            keep,
            files,
            venv,
        }
    }

    fn releases(&self) -> HostPath {
        self.dir.join("releases")
    }

    fn current(&self) -> HostPath {
        self.dir.join("current")
    }

    fn release(&self, name: &str) -> HostPath {
        self.releases().join(name)
    }

    /// The names a release of this content may have: the version, or — when the
    /// version's name is taken by other content — the version and the content's
    /// first 8 hex digits.
    fn names(&self) -> [String; 2] {
        [self.version.clone(), format!("{}+{}", self.version, &self.content[..8])]
    }

    /// The marker of a finished release.
    fn finished_marker(&self, host: Option<&Host>) -> String {
        let mut m = format!("ordo-release 1\nversion {}\ncontent {}\n", self.version, self.content);
        if let Some(h) = host {
            m.push_str(&format!("python {}\npyversion {}\n", h.python, h.version));
        }
        m
    }

    fn on_host(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<OnHost, String> {
        match facts.step(step.id, "releases") {
            Some(StepFact::Value(v)) => Ok(OnHost::read(&String::from_utf8_lossy(v))),
            _ => Err("the probe did not look at the releases (a bug in ordo)".into()),
        }
    }

    fn decide(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Verdict, String> {
        let on = self.on_host(step, facts)?;
        let host = match &self.venv {
            Some(v) => Some(v.env.host_for_release(&on.tools)?),
            None => None,
        };
        let current = Current::of(facts.path(&self.current()));
        Ok(decide::decide(self, &on, &current, facts, host))
    }

    /// The plan's lines under the step: the switch, the build, what is pruned, and
    /// the differences of the release's files from the active release's.
    fn diff(&self, d: &Decision, facts: &Facts) -> Diff {
        let mut text = String::new();
        let active = d.previous.as_deref().unwrap_or("none");
        if !matches!(d.work, Work::Active) {
            text.push_str(&format!("  current: {active} → {}\n", d.target));
        }
        if let Work::Build { .. } = &d.work {
            text.push_str(&format!("+ {}: build {}\n", d.target, self.contents(d, facts)));
        }
        for (name, why) in &d.prune {
            let why = match why {
                Prune::Old => format!("keep {}", self.keep),
                Prune::Unfinished => "its build did not finish".to_string(),
            };
            text.push_str(&format!("- {name}: prune ({why})\n"));
        }
        if !matches!(d.work, Work::Active) {
            for f in &self.files {
                text.push_str(&self.file_diff(f, facts));
            }
            if let Some(v) = &self.venv {
                let found = facts.path(&self.requirements_in_current(v));
                let req = &v.env.requirements;
                let name = format!("{}/requirements", v.rel);
                text.push_str(&content_diff(&name, found, req, &sha256_hex(req), true));
            }
        }
        Diff::Text(text)
    }

    /// "2 files and a virtualenv (python 3.11.2, uv, 1 wheel to upload)".
    fn contents(&self, d: &Decision, facts: &Facts) -> String {
        let mut parts = Vec::new();
        match self.files.len() {
            0 => {}
            1 => parts.push("1 file".to_string()),
            n => parts.push(format!("{n} files")),
        }
        if let (Some(v), Some(h)) = (&self.venv, &d.host) {
            let uploads = match v.env.wheels_to_upload(facts).len() {
                0 => String::new(),
                1 => ", 1 wheel to upload".to_string(),
                n => format!(", {n} wheels to upload"),
            };
            parts.push(format!(
                "a virtualenv (python {}, {}{uploads})",
                h.version,
                h.tool_shown()
            ));
        }
        if parts.is_empty() {
            "an empty release".into()
        } else {
            parts.join(" and ")
        }
    }

    /// How one file differs from its copy in the active release: a unified diff
    /// of public text, else only that it changed.
    fn file_diff(&self, f: &File, facts: &Facts) -> String {
        let found = facts.path(&self.current().join(&f.name));
        content_diff(&f.name, found, &f.content, &f.sha, shown(f))
    }

    fn requirements_in_current(&self, v: &ReleaseVenv) -> HostPath {
        self.current().join(&format!("{}/.ordo-requirements.txt", v.rel))
    }
}

/// How `content` differs from what the probe found of the active release's copy:
/// nothing when it is the same, a unified diff when it may be shown and the old
/// text came (or there is none), else only that it changed.
fn content_diff(name: &str, found: &crate::shell::probe::PathFacts, content: &[u8], sha: &str, shown: bool) -> String {
    let file = found.kind == PathKind::File;
    if file && found.sha.as_deref() == Some(sha) {
        return String::new();
    }
    let old = found.old.as_deref().filter(|_| file);
    if shown && (!file || old.is_some()) {
        return Diff::of(name, old, content).render();
    }
    let new = &sha[..12];
    match found.sha.as_deref() {
        Some(o) if file => format!(
            "{name}: content changed ({} → {new}), not shown\n",
            &o[..o.len().min(12)]
        ),
        _ => format!("{name}: new content ({new}), not shown\n"),
    }
}

/// The mode a release's file is written with: as declared, else 0644 (0600 with
/// secrets, which never sit in a file others may read).
fn file_mode(f: &File) -> u32 {
    let mode = f
        .mode
        .unwrap_or(if f.masked.is_some() { 0o600 } else { DEFAULT_FILE_MODE });
    if f.masked.is_some() { mode & !0o077 } else { mode }
}

/// Whether a file's content may be shown in a plan.
fn shown(f: &File) -> bool {
    !f.sensitive && f.masked.is_none() && file_mode(f) & 0o004 != 0
}

impl Primitive for ReleaseSet {
    fn kind(&self) -> &'static str {
        "releases"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn managed(&self) -> Option<Managed> {
        Some(Managed {
            path: self.releases(),
            kind: ManagedKind::Releases,
            shareable: None,
        })
    }

    fn sensitive(&self) -> bool {
        self.files.iter().any(|f| f.sensitive || f.masked.is_some())
    }

    fn exports(&self) -> Vec<(&'static str, String)> {
        vec![
            ("current", self.current().to_string()),
            ("releases", self.releases().to_string()),
            ("version", self.version.clone()),
        ]
    }

    fn probe(&self, step: &StepCtx<'_>, probe: &mut ProbeScript) {
        probe.stat(&self.current());
        probe.stat(&self.releases());
        let tools = match &self.venv {
            Some(v) => {
                probe.function("wh", WHICH_SH);
                v.env.tools_sh()
            }
            None => String::new(),
        };
        let venv = self.venv.as_ref().map(|v| v.rel.as_str());
        probe.fact(step.id, "releases", &shell::probe(&self.releases(), venv, &tools));
        let names = self.names();
        for f in &self.files {
            probe.hash(&self.current().join(&f.name), &f.sha, shown(f));
            for n in &names {
                probe.hash(&self.release(n).join(&f.name), &f.sha, false);
            }
        }
        if let Some(v) = &self.venv {
            probe.hash(&self.requirements_in_current(v), &sha256_hex(&v.env.requirements), true);
            if let Some((dir, wheels)) = &v.env.wheelhouse {
                for w in wheels {
                    probe.hash(&dir.join(&w.name), &w.sha, false);
                }
            }
        }
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let d = match self.decide(step, facts)? {
            Verdict::Conflict(why) => return Ok(Some(Planned::conflict(why))),
            Verdict::Decided(d) => d,
        };
        let prune: Vec<&str> = d.prune.iter().map(|(n, _)| n.as_str()).collect();
        let pruned = match prune.as_slice() {
            [] => String::new(),
            names => format!("; prune {}", names.join(", ")),
        };
        let detail = match &d.work {
            Work::Active if prune.is_empty() => return Ok(None),
            Work::Active => format!("prune {} (keep {})", prune.join(", "), self.keep),
            Work::Switch => format!("switch to kept release {}{pruned}", d.target),
            Work::Build { replace: Some(why), .. } => format!("activate {}: rebuild, {why}{pruned}", d.target),
            Work::Build { why: Some(why), .. } => format!("activate {}: build, {why}{pruned}", d.target),
            Work::Build { .. } => format!("activate {}: build{pruned}", d.target),
        };
        let change = if facts.path(&self.releases()).kind == PathKind::Absent {
            Change::Create
        } else {
            Change::Update
        };
        Ok(Some(Planned::new(change).detail(detail).diff(self.diff(&d, facts))))
    }

    fn apply(&self, step: &StepCtx<'_>, _planned: &Planned, facts: &Facts, script: &mut ApplyScript) {
        let Ok(Verdict::Decided(d)) = self.decide(step, facts) else {
            return;
        };
        shell::apply(self, step, &d, facts, script);
    }
}

pub const DOC: Doc = Doc {
    name: "releases",
    signatures: &["releases(dir, #{ version, keep, files, virtualenv })"],
    summary: "Immutable releases in `dir` (relative to the component's root): each version is built into \
              `dir/releases/<version>/` — its `files` and its own `virtualenv` — marked finished last, then \
              `dir/current` is switched to it by one rename. A finished release of the same content still on \
              the host is switched to without building (\"switch to kept release\"); other content for a \
              version already on the host is a new release `<version>+<8 hex digits>`, so a release never \
              changes once built. The step owns `dir/releases`: it keeps the `keep` releases activated last \
              (never pruning the active one or the one it activates) and removes the others, shown in the \
              plan. Run programs in `dir/current` (as their `cwd`, with relative paths) and name the step \
              in their `restart_on`: a process then keeps the release it started in until it restarts. What \
              `c.add(..)` returns has `.current`, `.releases` and `.version`.",
    options: &[
        OptionDoc {
            name: "version",
            kind: "string",
            text: "the version to activate, and the release's name: letters, digits, `.`, `_`, `-` and `+`, \
                   not starting with `.` or `-`",
        },
        OptionDoc {
            name: "keep",
            kind: "integer",
            text: "how many releases stay on the host, the active one included (at least 2: the one before \
                   it may still run until its program restarts); default 3",
        },
        OptionDoc {
            name: "files",
            kind: "array of file and template steps",
            text: "what each release holds: `file(..)` and `template(..)` with paths relative to the release \
                   (not added with `c.add`); their `mode` and `sensitive` apply, files with secrets are 0600",
        },
        OptionDoc {
            name: "virtualenv",
            kind: "a virtualenv step",
            text: "the release's own environment: `virtualenv(\"venv\", #{ requirements, wheelhouse, … })` \
                   with a path relative to the release, built in each new release (a wheelhouse is uploaded \
                   once, to `dir/releases/.wheels`)",
        },
    ],
    example: "let rel = c.add(releases(\"app\", #{ version: \"1.4\", files: [file(\"app.ini\", \"port = 8000\\n\")], \
              virtualenv: virtualenv(\"venv\", #{ requirements: [\"app==1.4\"], wheelhouse: \"wheels\" }) }));",
};

/// A release set no step declares any more: its `releases` directory is found,
/// and the releases ordo built in it, its wheels and its `current` link are
/// removed; a directory someone else put things in is kept, on the record
/// ([`removal`]).
pub const OWNS: super::Owns = super::Owns {
    kind: ManagedKind::Releases,
    found: PathKind::Dir,
    remove: remove_leftover,
};

/// `releases` in [`KINDS`](super::KINDS).
pub const KIND: super::Kind = super::Kind {
    doc: &DOC,
    owns: Some(&OWNS),
};

fn remove_leftover(r: &super::Removal, step: crate::ids::StepId, script: &mut ApplyScript) {
    removal(step, &r.path, &r.record_line(), script);
}

/// Whether `path` is one a release set at `releases` owns besides its managed
/// path (decision 62): what lies below its `releases` directory, and its `current`
/// link. Entries of the list of what ordo created there (an earlier step that
/// wrote into them) are not removed as "no longer declared".
pub(crate) fn covers(releases: &HostPath, path: &HostPath) -> bool {
    path.is_below(releases) || *path == releases.split().0.join("current")
}

/// A release set's shared pieces for the tests of its parts.
#[cfg(test)]
pub(super) fn example(files: Vec<File>, venv: Option<ReleaseVenv>) -> ReleaseSet {
    ReleaseSet::new(
        "app".into(),
        HostPath::new("~/d/app").unwrap(),
        "1.4".into(),
        3,
        files,
        venv,
    )
}

#[cfg(test)]
pub(super) fn text_file(name: &str, content: &str) -> File {
    File::new(
        name.into(),
        HostPath::new("~/x").unwrap().join(name),
        std::sync::Arc::from(content.as_bytes()),
    )
}
