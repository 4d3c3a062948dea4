//! One round trip per host to learn its state: a script that stats, hashes and
//! reads every path the host's steps manage, evaluates command guards and pending
//! markers, and reads the recorded state, printing one line per fact.

use std::collections::HashMap;
use std::fmt::Write;

use super::shell::{PROBE_LIB, decode};
use super::state::{HostState, LockInfo, lock_dir, pending_marker, state_dir, state_file};
use crate::model::{Action, Model, sha256_hex};

/// What the host looks like for one step.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observed {
    pub(crate) kind: Option<Found>,
    /// Content of a file whose hash differs (small files only), for the diff.
    pub(crate) old: Option<Vec<u8>>,
    /// Exit code of an `unless` guard.
    pub(crate) guard: Option<i32>,
    /// `creates` exists.
    pub(crate) exists: Option<bool>,
    pub(crate) pending: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    Absent,
    File { sha: String, mode: u32 },
    Dir { mode: u32 },
    Link { target: Option<String> },
    Other,
}

pub(crate) struct HostProbe {
    pub(crate) steps: HashMap<usize, Observed>,
    pub(crate) state: Option<HostState>,
    pub(crate) lock: LockStatus,
}

/// The deploy lock as the probe found (and possibly took) it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum LockStatus {
    #[default]
    Free,
    /// Another deploy holds it (nothing was probed).
    Held(Option<LockInfo>),
    /// We took it.
    Acquired,
    /// We took it after removing this holder's lock (`--break-lock`).
    Broke(Option<LockInfo>),
}

/// What the probe should do about the lock.
pub(crate) struct LockRequest {
    pub(crate) info: LockInfo,
    pub(crate) break_lock: bool,
}

/// Takes the lock atomically (`mkdir`), or reports its holder and stops the script.
fn lock_script(s: &mut String, service: &str, request: Option<&LockRequest>) {
    let dir = lock_dir(service).shell();
    let Some(req) = request else {
        let _ = writeln!(
            s,
            "if [ -f {dir}/info ]; then printf 'lock info '; base64 -w0 < {dir}/info; echo; fi"
        );
        return;
    };
    let info = serde_json::to_vec(&req.info).expect("lock info serialises");
    if req.break_lock {
        let _ = writeln!(
            s,
            "if [ -d {dir} ]; then printf 'lock broke '; base64 -w0 < {dir}/info 2>/dev/null; echo; rm -rf {dir}; fi"
        );
    }
    let _ = write!(
        s,
        "mkdir -p {parent} && if mkdir {dir} 2>/dev/null; then base64 -d > {dir}/info <<'ORDO_EOF'\n{}echo 'lock ok'; else printf 'lock held '; base64 -w0 < {dir}/info 2>/dev/null; echo; exit 0; fi\n",
        super::shell::heredoc(&info),
        parent = state_dir(service).shell(),
    );
}

/// The probe script for `steps` (ids of one host's steps).
pub(crate) fn script(model: &Model, steps: &[usize], watched: &[usize], lock: Option<&LockRequest>) -> String {
    let mut s = String::with_capacity(256 + steps.len() * 96);
    s.push_str(PROBE_LIB);
    lock_script(&mut s, &model.service, lock);
    let _ = writeln!(
        s,
        "f={}; if [ -f \"$f\" ]; then printf 'state '; base64 -w0 < \"$f\"; echo; fi",
        state_file(&model.service).shell()
    );
    for &id in steps {
        match &model.steps[id].action {
            Action::File { path, content, .. } => {
                let _ = writeln!(s, "pf {id} {} {}", path.shell(), sha256_hex(content));
            }
            Action::Directory { path, .. } => {
                let _ = writeln!(s, "pd {id} {}", path.shell());
            }
            Action::Symlink { path, .. } => {
                let _ = writeln!(s, "pl {id} {}", path.shell());
            }
            Action::Command {
                cwd, unless, creates, ..
            } => {
                if let Some(c) = creates {
                    let _ = writeln!(s, "pe {id} {}", c.shell());
                }
                if let Some(u) = unless {
                    let _ = writeln!(s, "pu {id} {} {}", cwd.shell(), crate::model::shell_quote(u));
                }
            }
            Action::Custom { .. } => {}
        }
    }
    for &id in watched {
        let _ = writeln!(s, "pp {id} {}", pending_marker(model, id).shell());
    }
    s
}

pub(crate) fn parse(stdout: &str) -> Result<HostProbe, String> {
    let mut steps: HashMap<usize, Observed> = HashMap::new();
    let mut state = None;
    let mut lock = LockStatus::Free;
    for line in stdout.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(head), Some(tag)) = (parts.next(), parts.next()) else {
            if line.is_empty() {
                continue;
            }
            return Err(format!("unexpected probe output: {line}"));
        };
        let rest = parts.next().unwrap_or("");
        if head == "state" {
            state = decode(tag).and_then(|b| serde_json::from_slice(&b).ok());
            continue;
        }
        if head == "lock" {
            let info = || decode(rest).and_then(|b| serde_json::from_slice::<LockInfo>(&b).ok());
            lock = match (tag, &lock) {
                ("ok", LockStatus::Broke(old)) => LockStatus::Broke(old.clone()),
                ("ok", _) => LockStatus::Acquired,
                ("held" | "info", _) => LockStatus::Held(info()),
                ("broke", _) => LockStatus::Broke(info()),
                _ => return Err(format!("unexpected probe output: {line}")),
            };
            continue;
        }
        let id: usize = head.parse().map_err(|_| format!("unexpected probe output: {line}"))?;
        let o = steps.entry(id).or_default();
        let mode = |m: &str| u32::from_str_radix(m.trim(), 8).unwrap_or(0);
        match tag {
            "absent" => {
                if o.kind.is_none() && o.exists.is_none() {
                    o.kind = Some(Found::Absent);
                }
                o.exists = Some(false);
            }
            "exists" => o.exists = Some(true),
            "file" => {
                let (sha, m) = rest.split_once(' ').unwrap_or((rest, "0"));
                o.kind = Some(Found::File {
                    sha: sha.to_string(),
                    mode: mode(m),
                });
            }
            "dir" => o.kind = Some(Found::Dir { mode: mode(rest) }),
            "link" => {
                let target = decode(rest).map(|b| String::from_utf8_lossy(&b).into_owned());
                o.kind = Some(Found::Link { target });
            }
            "other" => o.kind = Some(Found::Other),
            "old" => o.old = decode(rest),
            "rc" => o.guard = rest.trim().parse().ok(),
            "pending" => o.pending = true,
            _ => return Err(format!("unexpected probe output: {line}")),
        }
    }
    Ok(HostProbe { steps, state, lock })
}
