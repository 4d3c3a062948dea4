//! Apply scripts: consecutive changes of one host travel together in one script
//! (one round trip), each file still written atomically (temp file + rename), and
//! the script stops at the first failure. Pending markers of `on_change` commands
//! are written before the change that triggers them.

use std::fmt::Write;

use super::change::{Change, Planned};
use super::shell::{APPLY_LIB, heredoc};
use super::state::{HostState, pending_marker, state_dir, state_file};
use crate::model::{Action, HostPath, Model, shell_quote};

/// Text files up to this size travel as a quoted shell word written by the
/// `printf` builtin (no process); larger or binary ones as base64 for `base64 -d`.
const INLINE_TEXT: usize = 64 * 1024;

/// Builds the script for `batch` (planned changes of one host, in order).
/// `markers[i]` lists the pending markers to write before `batch[i]`.
///
/// A run of consecutive file writes is one group: every file is first written under
/// its final name into a staging directory next to its target, then one `mv -t` per
/// target directory renames them into place (each rename atomic). Process creation
/// dominates apply time on a busy host; this keeps it per directory, not per file.
pub(crate) fn script(model: &Model, batch: &[&Planned], markers: &[Vec<usize>], record: Option<&HostState>) -> String {
    let mut s = String::from(APPLY_LIB);
    // A marker is written once per script, before the first change that needs it.
    let mut marked: Vec<usize> = Vec::new();
    let mut mark = |s: &mut String, marks: &[usize], step: usize| {
        for &m in marks {
            if !marked.contains(&m) {
                marked.push(m);
                let _ = writeln!(s, "mark {} || fail {step} 1", pending_marker(model, m).shell());
            }
        }
    };
    let is_file = |p: &Planned| matches!(model.steps[p.step].action, Action::File { .. });
    let mut i = 0;
    while i < batch.len() {
        debug_assert!(!matches!(batch[i].change, Change::Conflict { .. }));
        if is_file(batch[i]) {
            let end = (i..batch.len()).find(|&k| !is_file(batch[k])).unwrap_or(batch.len());
            for k in i..end {
                mark(&mut s, &markers[k], batch[k].step);
            }
            file_group(&mut s, model, &batch[i..end]);
            i = end;
            continue;
        }
        mark(&mut s, &markers[i], batch[i].step);
        let id = batch[i].step;
        match &model.steps[id].action {
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
            Action::File { .. } => unreachable!("files are written in groups"),
            Action::Custom { .. } => unreachable!("custom steps run on their own"),
        }
        i += 1;
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

/// Consecutive file writes: stage every file, then rename them into place.
fn file_group(s: &mut String, model: &Model, group: &[&Planned]) {
    // Target directories in order of first use, with the files going there.
    let mut dirs: Vec<(HostPath, Vec<(usize, String)>)> = Vec::new();
    for p in group {
        let Action::File {
            path, content, mode, ..
        } = &model.steps[p.step].action
        else {
            unreachable!("a file group holds files")
        };
        let (dir, name) = path.split();
        let id = p.step;
        let (d, n, m) = (dir.shell(), shell_quote(&name), mode_arg(*mode));
        match std::str::from_utf8(content) {
            Ok(text) if content.len() <= INLINE_TEXT && !text.contains('\0') => {
                let _ = writeln!(s, "wt {id} {d} {n} {m} {}", shell_quote_always(text));
            }
            _ => {
                let _ = write!(s, "wb {id} {d} {n} {m} <<'ORDO_EOF'\n{}", heredoc(content));
            }
        }
        match dirs.iter_mut().find(|(x, _)| *x == dir) {
            Some((_, files)) => files.push((id, n)),
            None => dirs.push((dir, vec![(id, n)])),
        }
    }
    for (dir, files) in &dirs {
        let d = dir.shell();
        let staged: Vec<String> = files.iter().map(|(_, n)| format!("{d}/\"$S\"/{n}")).collect();
        let _ = writeln!(
            s,
            "mv -f -t {d} {} >\"$O\" 2>&1 || fail {} 1; rmdir {d}/\"$S\"",
            staged.join(" "),
            files[0].0
        );
    }
    // Renamed into place: nothing staged is left for the exit trap to remove.
    s.push_str("SD=\n");
    let ids: Vec<String> = group.iter().map(|p| format!("{} ok", p.step)).collect();
    let _ = writeln!(
        s,
        "printf '%s\\n' {}",
        ids.iter().map(|x| shell_quote_always(x)).collect::<Vec<_>>().join(" ")
    );
}

/// Single-quotes `s` even when it needs no quoting (file contents may be empty).
fn shell_quote_always(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
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
