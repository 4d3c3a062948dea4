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
///
/// Output lines: `home <dir>`; `F <type> <mode> <path>\t<link target>` for every
/// managed path that exists (from one `find`); `S <sha256> <path>` for every regular
/// file (from one `sha256sum`); `<id> old <base64>` for files whose hash differs;
/// `<id> rc <code>` for `unless` guards; `<id> pending`; `state …`; `lock …`.
/// Paths containing newlines, tabs or backslashes are not supported.
pub(crate) fn script(model: &Model, steps: &[usize], watched: &[usize], lock: Option<&LockRequest>) -> String {
    let mut s = String::with_capacity(512 + steps.len() * 96);
    s.push_str(PROBE_LIB);
    // `$HOME/x` must print exactly as the controller expands `~/x`.
    s.push_str("HOME=${HOME%/}\necho \"home ${HOME:-/}\"\n");
    lock_script(&mut s, &model.service, lock);
    let _ = writeln!(
        s,
        "f={}; if [ -f \"$f\" ]; then printf 'state '; base64 -w0 < \"$f\"; echo; fi",
        state_file(&model.service).shell()
    );

    let mut paths: Vec<String> = Vec::new();
    let mut files: Vec<(usize, String, String)> = Vec::new();
    for &id in steps {
        match &model.steps[id].action {
            Action::File { path, content, .. } => {
                paths.push(path.shell());
                files.push((id, path.shell(), sha256_hex(content)));
            }
            Action::Directory { path, .. } | Action::Symlink { path, .. } => paths.push(path.shell()),
            Action::Command {
                cwd, unless, creates, ..
            } => {
                if let Some(c) = creates {
                    paths.push(c.shell());
                }
                if let Some(u) = unless {
                    let _ = writeln!(s, "pu {id} {} {}", cwd.shell(), crate::model::shell_quote(u));
                }
            }
            Action::Custom { .. } => {}
        }
    }
    paths.sort();
    paths.dedup();
    if !paths.is_empty() {
        let _ = writeln!(
            s,
            "find {} -maxdepth 0 -printf 'F %y %m %p\\t%l\\n' 2>/dev/null",
            paths.join(" ")
        );
    }
    if !files.is_empty() {
        s.push_str("set --\nfor f in");
        for (_, p, _) in &files {
            s.push(' ');
            s.push_str(p);
        }
        s.push_str("; do [ -f \"$f\" ] && [ ! -L \"$f\" ] && set -- \"$@\" \"$f\"; done\n");
        s.push_str("[ $# -eq 0 ] || sha256sum -- \"$@\" 2>/dev/null | while read -r h p; do\necho \"S $h $p\"\ncase \"$p\" in\n");
        for (id, p, sha) in &files {
            let _ = writeln!(s, "{p}) [ \"$h\" = {sha} ] || old {id} \"$p\";;");
        }
        s.push_str("esac\ndone\n");
    }
    for &id in watched {
        let _ = writeln!(s, "pp {id} {}", pending_marker(model, id).shell());
    }
    // `find` exits 1 for paths that do not exist yet: that is an answer, not a failure.
    s.push_str("exit 0\n");
    s
}

/// What `find` and `sha256sum` reported for one path.
#[derive(Default)]
struct PathFacts {
    kind: Option<Found>,
    sha: Option<String>,
}

pub(crate) fn parse(model: &Model, steps: &[usize], stdout: &str) -> Result<HostProbe, String> {
    let mut observed: HashMap<usize, Observed> = HashMap::new();
    let mut facts: HashMap<String, PathFacts> = HashMap::new();
    let mut home = String::new();
    let mut state = None;
    let mut lock = LockStatus::Free;
    for line in stdout.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(h) = line.strip_prefix("home ") {
            home = h.to_string();
            continue;
        }
        if let Some(rest) = line.strip_prefix("F ") {
            let (head, target) = rest.split_once('\t').unwrap_or((rest, ""));
            let mut parts = head.splitn(3, ' ');
            let (Some(kind), Some(mode), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!("unexpected probe output: {line}"));
            };
            let mode = u32::from_str_radix(mode, 8).unwrap_or(0);
            let found = match kind {
                "f" => Found::File {
                    sha: String::new(),
                    mode,
                },
                "d" => Found::Dir { mode },
                "l" => Found::Link {
                    target: Some(target.to_string()),
                },
                _ => Found::Other,
            };
            facts.entry(path.to_string()).or_default().kind = Some(found);
            continue;
        }
        if let Some(rest) = line.strip_prefix("S ") {
            if let Some((sha, path)) = rest.split_once(' ') {
                facts.entry(path.to_string()).or_default().sha = Some(sha.to_string());
            }
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(head), Some(tag)) = (parts.next(), parts.next()) else {
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
        let o = observed.entry(id).or_default();
        match tag {
            // Bounded at 256 KiB + 1 byte by the probe: more means "too big to diff".
            "old" => o.old = decode(rest).filter(|b| b.len() <= 256 * 1024),
            "rc" => o.guard = rest.trim().parse().ok(),
            "pending" => o.pending = true,
            _ => return Err(format!("unexpected probe output: {line}")),
        }
    }
    if home.is_empty() {
        return Err("the probe did not report the home directory".into());
    }
    let expand = |p: &crate::model::HostPath| p.resolve(std::path::Path::new(&home)).to_string_lossy().into_owned();
    let kind_of = |p: &crate::model::HostPath| -> Found {
        match facts.get(&expand(p)) {
            Some(PathFacts {
                kind: Some(Found::File { mode, .. }),
                sha,
            }) => Found::File {
                sha: sha.clone().unwrap_or_default(),
                mode: *mode,
            },
            Some(PathFacts { kind: Some(k), .. }) => k.clone(),
            _ => Found::Absent,
        }
    };
    for &id in steps {
        let o = observed.entry(id).or_default();
        match &model.steps[id].action {
            Action::File { path, .. } | Action::Directory { path, .. } | Action::Symlink { path, .. } => {
                o.kind = Some(kind_of(path));
            }
            Action::Command { creates: Some(c), .. } => o.exists = Some(kind_of(c) != Found::Absent),
            Action::Command { .. } | Action::Custom { .. } => {}
        }
    }
    Ok(HostProbe {
        steps: observed,
        state,
        lock,
    })
}
