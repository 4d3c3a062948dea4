//! What ordo keeps on each host, under `~/.ordo/<service>/`: `state.json` (the
//! deployed fingerprint, ordo version, when and by whom) and `pending/<key>` markers
//! for commands that must still run because something they watch changed: written
//! before the change, removed after the command succeeded, so a crash in between
//! still runs the command on the next deploy.

use serde::{Deserialize, Serialize};

use crate::model::{HostPath, Model};

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
}

/// Who holds a host's deploy lock; stored in `~/.ordo/<service>/lock/info`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    pub holder: String,
    pub pid: u32,
    pub environment: String,
    pub since: String,
    /// Random per run: a deploy only ever removes its own lock.
    pub token: String,
}

impl LockInfo {
    pub fn describe(&self) -> String {
        format!(
            "{} (pid {}, environment {}) since {}",
            self.holder, self.pid, self.environment, self.since
        )
    }
}

pub(crate) fn lock_dir(service: &str) -> HostPath {
    state_dir(service).join("lock")
}

pub(crate) fn state_dir(service: &str) -> HostPath {
    HostPath::new(&format!("~/.ordo/{service}")).expect("home-relative path")
}

pub(crate) fn state_file(service: &str) -> HostPath {
    state_dir(service).join("state.json")
}

/// The pending marker of a step: stable across runs for the same component and name.
pub(crate) fn pending_marker(model: &Model, step: usize) -> HostPath {
    let key = model.step_path(step);
    state_dir(&model.service).join(&format!("pending/{}", crate::sys::short_hash(key.as_bytes())))
}

pub use crate::sys::{now_rfc3339, operator};
