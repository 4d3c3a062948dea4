//! Removal of what ordo created and no step declares any more. The host records
//! every path ordo created (`~/.ordo/<service>/owned`); a path on that list that no
//! step manages now is planned as `- file etc/old.conf (no longer declared)` and
//! removed — if it is still the kind of thing ordo made there. Nothing ordo did not
//! create is ever removed. A directory that is not empty is kept (and said so).

pub use super::kind::Removal;
use super::{Change, Managed, Planned, Primitive, StepCtx};
use crate::shell::apply::ApplyScript;
use crate::shell::probe::Facts;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_path::HostPath;
    use crate::primitive::ManagedKind;
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
