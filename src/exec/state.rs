//! What ordo keeps on each host, under `~/.ordo/<service>/`: `state.json` (the
//! deployed fingerprint, ordo version, when and by whom) and `pending/<key>` markers
//! for commands that must still run because something they watch changed: written
//! before the change, removed after the command succeeded, so a crash in between
//! still runs the command on the next deploy.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    state_dir(&model.service).join(&format!("pending/{hex}"))
}

/// `user@machine` of whoever runs ordo.
pub fn operator() -> String {
    let user = crate::script::current_user();
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

/// Seconds since the epoch as RFC 3339 UTC, without pulling in a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
