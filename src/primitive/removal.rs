//! Removal of what ordo created and no step declares any more. The host records
//! every path ordo created (`~/.ordo/<service>/owned`); a path on that list that no
//! step manages now is planned as `- file etc/old.conf (no longer declared)` and
//! removed — if it is still the kind of thing ordo made there. Nothing ordo did not
//! create is ever removed. A directory that is not empty is kept (and said so).

use super::{Change, Managed, ManagedKind, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::ids::StepId;
use crate::shell::probe::Facts;
use crate::shell::word;

#[derive(Debug)]
pub struct Removal {
    pub kind: ManagedKind,
    pub path: HostPath,
    /// The name the step that created it had.
    pub name: String,
    /// The component that created it.
    pub component: String,
}

impl Primitive for Removal {
    fn kind(&self) -> &'static str {
        self.kind.word()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn managed(&self) -> Option<Managed> {
        Some(Managed {
            path: self.path.clone(),
            kind: self.kind,
            shareable: None,
        })
    }

    fn verify(&self, _step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let same = facts.path(&self.path).kind == super::owner(self.kind).found;
        Ok(same.then(|| Planned::new(Change::Remove).detail("no longer declared")))
    }

    fn apply(&self, step: &StepCtx<'_>, _planned: &Planned, _facts: &Facts, script: &mut ApplyScript) {
        (super::owner(self.kind).remove)(self, step.id, script)
    }
}

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
    // A directory kept because it is not empty stays on the list of what ordo
    // created, so a later deploy removes it once it is empty.
    let entry = format!(
        "{}\t{}\t{}\t{}\n",
        r.kind.word(),
        crate::shell::relative(&r.path),
        r.component.replace(['\t', '\n'], " "),
        r.name.replace(['\t', '\n'], " ")
    );
    script.line(&format!(
        "rm_ {step} {letter} {} {}",
        word(&r.path),
        crate::shell::quote_always(&entry)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::testing::{ctx, facts};

    #[test]
    fn removes_only_what_is_still_the_kind_ordo_made() {
        let root = HostPath::new("~/d").unwrap();
        let r = Removal {
            kind: ManagedKind::File,
            path: HostPath::new("~/d/old.conf").unwrap(),
            name: "old.conf".into(),
            component: "x".into(),
        };
        let file = facts(&[("f", "644", "./d/old.conf", "")], &[], "");
        let p = r.verify(&ctx(&root, None), &file).unwrap().unwrap();
        assert_eq!(
            (p.change, p.detail.as_deref()),
            (Change::Remove, Some("no longer declared"))
        );
        let replaced = facts(&[("d", "755", "./d/old.conf", "")], &[], "");
        assert_eq!(
            r.verify(&ctx(&root, None), &replaced).unwrap(),
            None,
            "someone else's directory now"
        );
        assert_eq!(
            r.verify(&ctx(&root, None), &facts(&[], &[], "")).unwrap(),
            None,
            "already gone"
        );
    }
}
