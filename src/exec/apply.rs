//! Apply scripts: consecutive changes of one host travel together in one script
//! (one round trip), each file still written atomically (temp file + rename), and
//! the script stops at the first failure. Pending markers of `on_change` commands
//! are written before the change that triggers them.

use std::fmt::Write;

use super::change::{Change, Planned};
use super::shell::{APPLY_LIB, heredoc};
use super::state::{HostState, pending_marker, state_dir, state_file};
use crate::model::{Action, Model, shell_quote};

/// Builds the script for `batch` (planned changes of one host, in order).
/// `markers[i]` lists the pending markers to write before `batch[i]`.
pub(crate) fn script(model: &Model, batch: &[&Planned], markers: &[Vec<usize>], record: Option<&HostState>) -> String {
    let mut s = String::from(APPLY_LIB);
    for (p, marks) in batch.iter().zip(markers) {
        for &m in marks {
            let _ = writeln!(s, "mark {} || fail {} 1", pending_marker(model, m).shell(), p.step);
        }
        let id = p.step;
        match &model.steps[id].action {
            Action::File {
                path, content, mode, ..
            } => {
                let _ = write!(
                    s,
                    "w {id} {} {} <<'ORDO_EOF'\n{}",
                    path.shell(),
                    mode_arg(*mode),
                    heredoc(content)
                );
            }
            Action::Directory { path, mode, .. } => {
                let _ = writeln!(s, "md {id} {} {}", path.shell(), mode_arg(*mode));
            }
            Action::Symlink { path, target, .. } => {
                let _ = writeln!(s, "ln_ {id} {} {}", path.shell(), shell_quote(target));
            }
            Action::Command { run, cwd, .. } => {
                let marker = if model.steps[id].triggers.is_empty() {
                    "''".to_string()
                } else {
                    pending_marker(model, id).shell()
                };
                let _ = writeln!(s, "c {id} {} {} {marker}", cwd.shell(), shell_quote(run));
            }
            Action::Custom { .. } => unreachable!("custom steps run on their own"),
        }
        debug_assert!(!matches!(p.change, Change::Conflict { .. }));
    }
    if let Some(state) = record {
        let json = serde_json::to_vec_pretty(state).expect("state serialises");
        let _ = write!(
            s,
            "mkdir -p {dir} && base64 -d > {file}.tmp <<'ORDO_EOF' && mv -f {file}.tmp {file} || {{ echo 'state fail'; exit 1; }}\n{}echo 'state ok'\n",
            heredoc(&json),
            dir = state_dir(&model.service).shell(),
            file = state_file(&model.service).shell(),
        );
    }
    s
}

fn mode_arg(mode: Option<u32>) -> String {
    mode.map_or_else(|| "-".to_string(), |m| format!("{m:o}"))
}

/// Result of one step in an apply script.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Failed { code: i32, output: String },
}

/// Parses `<id> ok` / `<id> fail <code> <base64>` lines; `state ok` reports the record.
pub(crate) fn parse(stdout: &str) -> (Vec<(usize, Outcome)>, bool) {
    let mut out = Vec::new();
    let mut recorded = false;
    for line in stdout.lines() {
        let mut parts = line.splitn(4, ' ');
        let (Some(head), Some(tag)) = (parts.next(), parts.next()) else {
            continue;
        };
        if head == "state" {
            recorded = tag == "ok";
            continue;
        }
        let Ok(id) = head.parse::<usize>() else { continue };
        match tag {
            "ok" => out.push((id, Outcome::Ok)),
            "fail" => {
                let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
                let output = parts
                    .next()
                    .and_then(super::shell::decode)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                out.push((id, Outcome::Failed { code, output }));
            }
            _ => {}
        }
    }
    (out, recorded)
}

/// Removes the deploy lock if it is ours (its info carries our token).
pub(crate) fn unlock_script(service: &str, lock: &super::state::LockInfo) -> String {
    let dir = super::state::lock_dir(service).shell();
    format!(
        "if grep -q {} {dir}/info 2>/dev/null; then rm -rf {dir}; fi; echo 'unlock ok'\n",
        lock.token
    )
}
