//! `symlink`: a symbolic link with exactly this target, replaced atomically (made
//! in a private staging directory, renamed over the old link). A real file or
//! directory in its place is a conflict: ordo does not delete what it did not make.

use super::{Change, Diff, Doc, Managed, ManagedKind, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, PathKind, ProbeScript};
use crate::shell::{quote, quote_always, word};
use crate::text::visible_bytes;

#[derive(Debug)]
pub struct Symlink {
    pub name: String,
    pub path: HostPath,
    pub target: String,
}

impl Primitive for Symlink {
    fn kind(&self) -> &'static str {
        "symlink"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn managed(&self) -> Option<Managed> {
        Some(Managed {
            path: self.path.clone(),
            kind: ManagedKind::Symlink,
            shareable: None,
        })
    }

    fn probe(&self, _step: &StepCtx<'_>, probe: &mut ProbeScript) {
        probe.stat(&self.path);
    }

    fn verify(&self, _step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let found = facts.path(&self.path);
        Ok(match found.kind {
            PathKind::Link if found.target.as_deref() == Some(self.target.as_bytes()) => None,
            PathKind::Link => Some(
                Planned::new(Change::Update).diff(Diff::Link {
                    old: Some(
                        found
                            .target
                            .as_deref()
                            .map_or_else(|| "?".into(), |t| visible_bytes(t, false)),
                    ),
                    new: self.target.clone(),
                }),
            ),
            PathKind::Absent => Some(Planned::new(Change::Create).diff(Diff::Link {
                old: None,
                new: self.target.clone(),
            })),
            PathKind::File | PathKind::Dir | PathKind::Other => {
                Some(Planned::conflict("a file or directory is in the way of the symlink"))
            }
        })
    }

    fn apply(&self, step: &StepCtx<'_>, planned: &Planned, _facts: &Facts, script: &mut ApplyScript) {
        script.function("ln_", SYMLINK_SH);
        let (dir, name) = self.path.split();
        let expect = if planned.change == Change::Create { "a" } else { "l" };
        script.line_keeping(
            &format!(
                "ln_ {} {} {} {} {expect}",
                step.id,
                word(&dir),
                quote(&name),
                quote_always(&self.target)
            ),
            LINKS_DONE,
        );
    }
}

/// Makes the link in a private staging directory, checks that the path still holds
/// what the plan saw, and renames the link into place (`mv -T`: never into a
/// directory). Consecutive links in one directory share the staging directory
/// (`$LD`, `$LS`): two processes per link. [`LINKS_DONE`] removes it before the
/// script's next other line (a command must not find it).
const LINKS_DONE: &str = r#"[ -z "${LS-}" ] || { rmdir -- "$LS" 2>/dev/null; LS= LD=; }"#;

const SYMLINK_SH: &str = r#"ln_() {
  if [ "${LD-}" != "$2" ] || [ ! -d "${LS-}" ]; then [ -z "${LS-}" ] || rmdir -- "$LS" 2>/dev/null; sg "$1" "$2"; LD=$2 LS=$S; fi
  ln -s -- "$4" "$LS/$3" >"$O" 2>&1 || fail "$1" 1
  ck "$1" <<ORDO_EOF
$5 $1 $2/$3
ORDO_EOF
  mv -Tf -- "$LS/$3" "$2/$3" >"$O" 2>&1 || fail "$1" 1
  echo "$1 ok"
}"#;

pub const DOC: super::Doc = Doc {
    name: "symlink",
    signatures: &["symlink(path, target)"],
    summary: "A symbolic link at `path` pointing to `target` (taken literally: relative targets are \
              relative to the link's directory). Replaced atomically when the target changes; a real \
              file or directory at `path` is a conflict.",
    options: &[],
    example: "let current = c.add(symlink(\"current\", \"releases/1.4.2\"));",
};

/// A symlink no step declares any more is removed while it is still a symlink.
pub const OWNS: super::Owns = super::Owns {
    kind: ManagedKind::Symlink,
    found: PathKind::Link,
    remove: super::path_removal::remove_symlink,
};

/// `symlink` in [`KINDS`](super::KINDS).
pub const KIND: super::Kind = super::Kind {
    doc: &DOC,
    owns: Some(&OWNS),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::testing::{ctx, facts};

    fn link() -> Symlink {
        Symlink {
            name: "current".into(),
            path: HostPath::new("~/d/current").unwrap(),
            target: "releases/2".into(),
        }
    }

    #[test]
    fn verify_compares_the_target_bytes() {
        let root = HostPath::new("~/d").unwrap();
        let same = facts(&[("l", "777", "./d/current", "releases/2")], &[], "");
        assert_eq!(link().verify(&ctx(&root, None), &same).unwrap(), None);
        let other = facts(&[("l", "777", "./d/current", "releases/1")], &[], "");
        let p = link().verify(&ctx(&root, None), &other).unwrap().unwrap();
        assert_eq!(p.change, Change::Update);
        assert_eq!(p.diff.unwrap().render(), "-> releases/1\n+> releases/2\n");
        let absent = facts(&[], &[], "");
        assert_eq!(
            link().verify(&ctx(&root, None), &absent).unwrap().unwrap().change,
            Change::Create
        );
    }

    #[test]
    fn a_crafted_target_is_shown_escaped_and_never_matches() {
        let root = HostPath::new("~/d").unwrap();
        let crafted = facts(&[("l", "777", "./d/current", "releases/2\n\x1b[2J")], &[], "");
        let p = link().verify(&ctx(&root, None), &crafted).unwrap().unwrap();
        let shown = p.diff.unwrap().render();
        assert!(shown.contains("\\u{a}") && shown.contains("\\u{1b}"), "{shown}");
    }

    #[test]
    fn a_real_file_in_the_way_is_a_conflict() {
        let root = HostPath::new("~/d").unwrap();
        let file = facts(&[("f", "644", "./d/current", "")], &[], "");
        assert!(
            link()
                .verify(&ctx(&root, None), &file)
                .unwrap()
                .unwrap()
                .change
                .is_conflict()
        );
    }
}
