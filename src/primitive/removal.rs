//! Removal of what ordo created and no step declares any more. The host records
//! every path ordo created (`~/.ordo/<service>/owned`); a path on that list that no
//! step manages now is planned as `- file etc/old.conf (no longer declared)` and
//! removed — if it is still the kind of thing ordo made there. Nothing ordo did not
//! create is ever removed. A directory that is not empty is kept (and said so).

use super::{Change, Managed, ManagedKind, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, PathKind};
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
        let found = facts.path(&self.path).kind;
        let same = matches!(
            (self.kind, found),
            (ManagedKind::File, PathKind::File)
                | (ManagedKind::Directory, PathKind::Dir)
                | (ManagedKind::Symlink, PathKind::Link)
                | (ManagedKind::Program, PathKind::Dir)
                | (ManagedKind::Cron, PathKind::File)
                | (ManagedKind::Virtualenv, PathKind::Dir)
                | (ManagedKind::Releases, PathKind::Dir)
        );
        Ok(same.then(|| Planned::new(Change::Remove).detail("no longer declared")))
    }

    fn apply(&self, step: &StepCtx<'_>, _planned: &Planned, _facts: &Facts, script: &mut ApplyScript) {
        // A directory kept because it is not empty stays on the list of what ordo
        // created, so a later deploy removes it once it is empty.
        let entry = format!(
            "{}\t{}\t{}\t{}\n",
            self.kind.word(),
            crate::shell::relative(&self.path),
            self.component.replace(['\t', '\n'], " "),
            self.name.replace(['\t', '\n'], " ")
        );
        let kind = match self.kind {
            ManagedKind::File => "f",
            ManagedKind::Directory => "d",
            ManagedKind::Symlink => "l",
            ManagedKind::Program => return super::program::removal(step.id, &self.path, script),
            ManagedKind::Cron => return super::cron::removal(step.id, &self.path, script),
            ManagedKind::Virtualenv => return super::virtualenv::removal(step.id, &self.path, script),
            ManagedKind::Releases => return super::release_set::removal(step.id, &self.path, &entry, script),
        };
        script.function("rm_", REMOVE_SH);
        script.line(&format!(
            "rm_ {} {kind} {} {}",
            step.id,
            word(&self.path),
            crate::shell::quote_always(&entry)
        ));
    }
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
