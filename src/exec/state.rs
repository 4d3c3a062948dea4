//! What ordo keeps on each host, under `~/.ordo/<service>/`:
//! - `state.json`: the deployed fingerprint, environment, ordo version, when and by
//!   whom;
//! - `owned`: every path ordo created (`kind<TAB>path<TAB>component<TAB>name`
//!   lines), so that what no step declares any more can be removed — and nothing
//!   else;
//! - `pending/<key>` markers for steps that must still run because something they
//!   watch changed: written before the change, removed after the step succeeded, so
//!   a crash in between still runs it on the next deploy;
//! - `lock/`: the deploy lock (see [`super::lock`]).

use serde::{Deserialize, Serialize};

use crate::model::{HostPath, Model, StepId};
use crate::primitive::ManagedKind;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostState {
    pub fingerprint: String,
    pub ordo_version: String,
    pub environment: String,
    pub service: String,
    pub deployed_at: String,
    pub deployed_by: String,
    /// The project's git commit, when it is a git repository.
    #[serde(default)]
    pub commit: Option<String>,
    /// The deploy had uncommitted changes among its inputs (`--allow-dirty`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dirty: bool,
    /// Attribute values given on the command line (`--set`), as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
    /// The git libraries the deploy used, by name, with their pinned commits.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub libraries: std::collections::BTreeMap<String, String>,
}

pub(crate) fn state_dir(service: &str) -> HostPath {
    HostPath::new(&format!("~/.ordo/{service}")).expect("home-relative path")
}

pub(crate) fn state_file(service: &str) -> HostPath {
    state_dir(service).join("state.json")
}

pub(crate) fn owned_file(service: &str) -> HostPath {
    state_dir(service).join("owned")
}

/// The pending marker of a step: stable across runs for the same component and name.
pub(crate) fn pending_marker(model: &Model, step: StepId) -> HostPath {
    let key = model.step_path(step);
    state_dir(&model.service).join(&format!("pending/{}", crate::sys::short_hash(key.as_bytes())))
}

/// The marker of a pending reload (`reload_on`): the pending marker's path with
/// `.reload` appended (the convention [`crate::primitive::StepCtx::marker`] states).
pub(crate) fn reload_marker(model: &Model, step: StepId) -> HostPath {
    let run = pending_marker(model, step);
    HostPath::new(&format!("{run}.reload")).expect("home-relative path")
}

/// A path ordo created on a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    pub kind: ManagedKind,
    pub path: HostPath,
    pub component: String,
    pub name: String,
}

impl Owned {
    /// One line of the `owned` file; the path in the form the probe's `find` uses.
    pub(crate) fn line(&self) -> String {
        let clean = |s: &str| s.replace(['\t', '\n'], " ");
        format!(
            "{}\t{}\t{}\t{}\n",
            self.kind.word(),
            crate::shell::relative(&self.path),
            clean(&self.component),
            clean(&self.name)
        )
    }

    /// Reads the `owned` file. Lines that do not parse, or name paths outside the
    /// service's roots on this host, are ignored: the file lives on a host that may
    /// be hostile, and ordo only ever removes what lies under its own roots.
    pub(crate) fn parse(text: &[u8], roots: &[HostPath]) -> Vec<Owned> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for line in String::from_utf8_lossy(text).lines() {
            let mut f = line.split('\t');
            let (Some(kind), Some(form), Some(component), Some(name)) = (f.next(), f.next(), f.next(), f.next()) else {
                continue;
            };
            let Some(kind) = ManagedKind::from_word(kind) else {
                continue;
            };
            let raw = match form.strip_prefix('.') {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("~{rest}"),
                _ => form.to_string(),
            };
            let Some(path) = HostPath::new(&raw) else { continue };
            if path.as_str() != raw || HostPath::check(path.as_str()).is_err() {
                continue;
            }
            if !roots.iter().any(|r| path.is_below(r)) {
                continue;
            }
            if seen.insert(path.clone()) {
                out.push(Owned {
                    kind,
                    path,
                    component: component.to_string(),
                    name: name.to_string(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_paths_round_trip_and_stay_under_the_roots() {
        let root = HostPath::new("~/deployment/s").unwrap();
        let o = Owned {
            kind: ManagedKind::File,
            path: root.join("etc/old.conf"),
            component: "app".into(),
            name: "etc/old.conf".into(),
        };
        let text = format!(
            "{}file\t/etc/passwd\tapp\tx\nfile\t./deployment/s/../../.bashrc\tapp\tx\ngarbage\n",
            o.line()
        );
        assert_eq!(Owned::parse(text.as_bytes(), &[root]), vec![o]);
    }
}
