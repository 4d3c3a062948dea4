//! Removing a plain path ordo created — a file, a directory, a symlink — once no
//! step declares it: only while it is still that kind of thing, and a directory
//! only when empty (one with content is kept, and stays on the host's record).
//! The `remove` of `file::OWNS`, `directory::OWNS` and `symlink::OWNS`.

use super::kind::Removal;
use crate::ids::StepId;
use crate::shell::apply::ApplyScript;
use crate::shell::word;

/// A file no step declares any more (see `file::OWNS`).
pub(crate) fn remove_file(r: &Removal, step: StepId, script: &mut ApplyScript) {
    remove_path(r, step, "f", script)
}

/// A directory no step declares any more (see `directory::OWNS`).
pub(crate) fn remove_directory(r: &Removal, step: StepId, script: &mut ApplyScript) {
    remove_path(r, step, "d", script)
}

/// A symlink no step declares any more (see `symlink::OWNS`).
pub(crate) fn remove_symlink(r: &Removal, step: StepId, script: &mut ApplyScript) {
    remove_path(r, step, "l", script)
}

fn remove_path(r: &Removal, step: StepId, letter: &str, script: &mut ApplyScript) {
    script.function("rm_", REMOVE_SH);
    script.line(&format!(
        "rm_ {step} {letter} {} {}",
        word(&r.path),
        crate::shell::quote_always(&r.record_line())
    ));
}

/// Removes a file or symlink that is still one, or an empty directory; a directory
/// with content is kept.
const REMOVE_SH: &str = r#"rm_() {
  case $2 in
    f) if [ -f "$3" ] && [ ! -L "$3" ]; then rm -f -- "$3" >"$O" 2>&1 || fail "$1" 1; fi ;;
    l) if [ -L "$3" ]; then rm -f -- "$3" >"$O" 2>&1 || fail "$1" 1; fi ;;
    d) if [ -d "$3" ] && [ ! -L "$3" ]; then if ! rmdir -- "$3" 2>/dev/null; then printf '%s' "$4" >> "$T/keep"; echo "$1 kept"; return; fi; fi ;;
  esac
  echo "$1 ok"
}"#;
