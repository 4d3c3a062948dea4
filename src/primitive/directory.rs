//! `directory`: a directory at a path, with a mode. Parents are created as needed
//! (0755); an existing directory keeps its mode unless `mode` is given.

use super::owner::Ownership;
use super::{Change, DEFAULT_DIR_MODE, Doc, Managed, ManagedKind, OptionDoc, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, PathKind, ProbeScript};
use crate::shell::{mode as octal, word};

#[derive(Debug)]
pub struct Directory {
    pub name: String,
    pub path: HostPath,
    pub mode: Option<u32>,
    pub owner: Option<Ownership>,
    /// Created and changed as root (`sudo -n`).
    pub sudo: bool,
}

impl Primitive for Directory {
    fn kind(&self) -> &'static str {
        "directory"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn managed(&self) -> Option<Managed> {
        Some(Managed {
            path: self.path.clone(),
            kind: ManagedKind::Directory,
            // The same directory declared twice with the same settings is harmless.
            shareable: Some(format!("{:?} {:?} {}", self.mode, self.owner, self.sudo)),
        })
    }

    fn privileged(&self) -> bool {
        self.sudo
    }

    fn probe(&self, step: &StepCtx<'_>, probe: &mut ProbeScript) {
        probe.stat(&self.path);
        super::owner::probe_access(step.id, self.owner.as_ref(), self.sudo, probe);
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let planned = self.changes(step, facts)?;
        super::owner::guard(step.id, self.owner.as_ref(), self.sudo, planned, facts)
    }

    fn apply(&self, step: &StepCtx<'_>, planned: &Planned, _facts: &Facts, script: &mut ApplyScript) {
        if let (Change::Owner { .. }, Some(owner)) = (&planned.change, &self.owner) {
            script.function("co", super::owner::CHOWN_SH);
            script.line(&super::owner::chown_line(step.id, &self.path, owner));
            return;
        }
        script.function("dr", DIRECTORY_SH);
        let mode = match (&planned.change, self.mode) {
            (Change::Create, m) => octal(m.unwrap_or(DEFAULT_DIR_MODE)),
            (_, Some(m)) => octal(m),
            (_, None) => "-".into(),
        };
        let owner = self
            .owner
            .as_ref()
            .map_or_else(|| "-".to_string(), |o| crate::shell::quote(&o.spec()));
        script.line(&format!("dr {} {} {mode} {owner}", step.id, word(&self.path)));
    }
}

impl Directory {
    /// What would change, before asking whether it may (ownership, sudo).
    fn changes(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let found = facts.path(&self.path);
        Ok(match found.kind {
            PathKind::Dir => {
                let have = found.mode & 0o7777;
                match self.mode {
                    Some(want) if want != have => Some(
                        Planned::new(Change::Mode { from: have, to: want })
                            .detail(format!("mode {have:04o} → {want:04o}")),
                    ),
                    _ => match &self.owner {
                        Some(o) => super::owner::verify(step.id, o, found, facts)?.map(|(from, to)| {
                            Planned::new(Change::Owner {
                                from: from.clone(),
                                to: to.clone(),
                            })
                            .detail(format!("owner {from} → {to}"))
                        }),
                        None => None,
                    },
                }
            }
            PathKind::Absent => {
                Some(Planned::new(Change::Create).detail(format!("mode {:04o}", self.mode.unwrap_or(DEFAULT_DIR_MODE))))
            }
            PathKind::Link => Some(Planned::conflict(
                "a symlink is in the way of the directory (ordo does not write through symlinks)",
            )),
            PathKind::File | PathKind::Other => {
                Some(Planned::conflict("something other than a directory is in the way"))
            }
        })
    }
}

/// Creates the directory (parents 0755) with its mode, or changes the mode of an
/// existing one — never through a symlink.
const DIRECTORY_SH: &str = r#"dr() {
  if [ -L "$2" ]; then say "$1" "changed since the plan: $2 is a symlink now"; fi
  if [ -d "$2" ]; then [ "$3" = - ] || chmod -- "$3" "$2" >"$O" 2>&1 || fail "$1" 1
  else pd "$1" "${2%/*}"; mkdir -m "$3" -- "$2" >"$O" 2>&1 || fail "$1" 1; fi
  [ "$4" = - ] || chown -- "$4" "$2" >"$O" 2>&1 || fail "$1" 1
  echo "$1 ok"
}"#;

pub const DOC: Doc = Doc {
    name: "directory",
    signatures: &["directory(path)", "directory(path, #{ mode, owner, group, sudo })"],
    summary: "A directory. Missing parents are created (0755). A new directory gets `mode` (default \
              0755); an existing one keeps its mode unless `mode` is given. Several components may \
              declare the same directory with the same settings.",
    options: &[
        OptionDoc {
            name: "mode",
            kind: "0o750 or \"0750\"",
            text: "the directory's mode",
        },
        OptionDoc {
            name: "owner",
            kind: "string",
            text: "the user (`app`, or `app:www` for user and group) the directory belongs to; another \
                   user than the login user needs `sudo: true`",
        },
        OptionDoc {
            name: "group",
            kind: "string",
            text: "the group it belongs to; a group the login user is not in needs `sudo: true`",
        },
        OptionDoc {
            name: "sudo",
            kind: "bool",
            text: "create and change it as root (`sudo -n`); shown as [sudo] in the plan",
        },
    ],
    example: "c.add(directory(\"var/log\", #{ mode: 0o750 }));",
};

/// A directory no step declares any more is removed while it is still one, and
/// empty (one with content is kept, and said so).
pub const OWNS: super::Owns = super::Owns {
    kind: ManagedKind::Directory,
    found: PathKind::Dir,
    remove: super::path_removal::remove_directory,
};

/// `directory` in [`KINDS`](super::KINDS).
pub const KIND: super::Kind = super::Kind {
    doc: &DOC,
    owns: Some(&OWNS),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::testing::{ctx, facts};

    fn dir(mode: Option<u32>) -> Directory {
        Directory {
            name: "var".into(),
            path: HostPath::new("~/d/var").unwrap(),
            mode,
            owner: None,
            sudo: false,
        }
    }

    #[test]
    fn verify_creates_keeps_and_changes_modes() {
        let root = HostPath::new("~/d").unwrap();
        let absent = facts(&[], &[], "");
        let p = dir(None).verify(&ctx(&root, None), &absent).unwrap().unwrap();
        assert_eq!((p.change, p.detail.as_deref()), (Change::Create, Some("mode 0755")));
        let there = facts(&[("d", "700", "./d/var", "")], &[], "");
        assert_eq!(
            dir(None).verify(&ctx(&root, None), &there).unwrap(),
            None,
            "an existing mode is kept"
        );
        let p = dir(Some(0o750)).verify(&ctx(&root, None), &there).unwrap().unwrap();
        assert_eq!(p.change, Change::Mode { from: 0o700, to: 0o750 });
    }

    #[test]
    fn links_and_files_in_the_way_are_conflicts() {
        let root = HostPath::new("~/d").unwrap();
        for (kind, target) in [("l", "/etc"), ("f", "")] {
            let found = facts(&[(kind, "777", "./d/var", target)], &[], "");
            assert!(
                dir(None)
                    .verify(&ctx(&root, None), &found)
                    .unwrap()
                    .unwrap()
                    .change
                    .is_conflict()
            );
        }
    }
}
