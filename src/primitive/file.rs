//! `file` and `template`: a regular file with exactly this content (a template is a
//! file whose content was rendered while configuring). Written atomically with its
//! final mode from the first byte; a private or sensitive file's content is never
//! shown, only that it changed.

use std::sync::Arc;

use super::owner::Ownership;
use super::{Change, DEFAULT_FILE_MODE, Diff, Doc, Managed, ManagedKind, OptionDoc, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::{ApplyScript, Expect};
use crate::shell::probe::{Facts, PathKind, ProbeScript};
use crate::sys::{sha256_hex, short_hash};

#[derive(Debug)]
pub struct File {
    /// The path as the script wrote it, for display.
    pub name: String,
    pub path: HostPath,
    pub content: Arc<[u8]>,
    /// sha256 of `content`.
    pub sha: String,
    pub mode: Option<u32>,
    /// The user and/or group (names or numbers) the file must belong to.
    pub owner: Option<Ownership>,
    /// Written as root (`sudo -n`).
    pub sudo: bool,
    /// The template it was rendered from, if any.
    pub template: Option<String>,
    pub sensitive: bool,
    /// The content with every secret shown as `[secret:name]`, when it holds
    /// secrets: what the plan shows (diffed against the masked copy ordo keeps of
    /// what it wrote last), never the plaintext. Such a file is private (0600).
    pub masked: Option<Arc<[u8]>>,
}

impl File {
    pub fn new(name: String, path: HostPath, content: Arc<[u8]>) -> Self {
        File {
            sha: sha256_hex(&content),
            name,
            path,
            content,
            mode: None,
            owner: None,
            sudo: false,
            template: None,
            sensitive: false,
            masked: None,
        }
    }

    /// Whether ordo keeps a masked copy of what it wrote (a file with secrets).
    /// Not for a file written as root: the copy lives in the login user's
    /// `~/.ordo`, which a root script should not write; such a file's diff only
    /// says that it changed.
    fn keeps_masked_copy(&self) -> bool {
        self.masked.is_some() && !self.sudo
    }

    /// Where ordo keeps the masked copy of a file with secrets.
    fn masked_copy(&self, state: &HostPath) -> HostPath {
        state.join(&format!("masked/{}", short_hash(self.path.as_str().as_bytes())))
    }

    /// The mode the file will have: as declared, else as it is, else the default
    /// (0600 for a file holding secrets).
    fn final_mode(&self, facts: &Facts) -> u32 {
        let found = facts.path(&self.path);
        let default = if self.masked.is_some() {
            0o600
        } else {
            DEFAULT_FILE_MODE
        };
        let mode = self.mode.unwrap_or(if found.kind == PathKind::File {
            found.mode & 0o7777
        } else {
            default
        });
        // Secrets never sit in a file others may read, whatever mode it had.
        if self.masked.is_some() { mode & !0o077 } else { mode }
    }

    /// Content may be shown when it is not sensitive and world-readable once written.
    fn public(&self, mode: u32) -> bool {
        !self.sensitive && self.masked.is_none() && mode & 0o004 != 0
    }

    /// What would change, before asking whether it may (ownership, sudo).
    fn changes(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let found = facts.path(&self.path);
        let mode = self.final_mode(facts);
        let planned = match found.kind {
            PathKind::Dir | PathKind::Other => Planned::conflict("a directory or special file is in the way"),
            PathKind::Link => Planned::conflict(
                "a symlink is in the way (ordo replaces only files; move it away if the file belongs there)",
            ),
            PathKind::Absent => {
                let diff = if let Some(masked) = self.masked_diff(step, facts, false) {
                    masked
                } else if self.public(mode) {
                    Diff::of(&self.name, None, &self.content)
                } else {
                    Diff::Hidden {
                        old: None,
                        new: short(&self.sha),
                    }
                };
                Planned::new(Change::Create)
                    .detail(format!("mode {mode:04o}"))
                    .diff(diff)
            }
            PathKind::File if found.sha.as_deref() == Some(self.sha.as_str()) => {
                let have = found.mode & 0o7777;
                let owner = match &self.owner {
                    Some(o) => super::owner::verify(step.id, o, found, facts)?,
                    None => None,
                };
                match owner {
                    _ if have != mode => Planned::new(Change::Mode { from: have, to: mode })
                        .detail(format!("mode {have:04o} → {mode:04o}")),
                    Some((from, to)) => Planned::new(Change::Owner {
                        from: from.clone(),
                        to: to.clone(),
                    })
                    .detail(format!("owner {from} → {to}")),
                    None => return Ok(None),
                }
            }
            PathKind::File => {
                let old_public = found.mode & 0o004 != 0;
                let diff = match &found.old {
                    _ if self.masked.is_some() => self.masked_diff(step, facts, true).unwrap_or(Diff::Hidden {
                        old: found.sha.as_deref().map(short),
                        new: short(&self.sha),
                    }),
                    Some(old) if self.public(mode) && old_public => Diff::of(&self.name, Some(old), &self.content),
                    _ if self.public(mode) && old_public => Diff::Large {
                        bytes: self.content.len(),
                    },
                    _ => Diff::Hidden {
                        old: found.sha.as_deref().map(short),
                        new: short(&self.sha),
                    },
                };
                let mut p = Planned::new(Change::Update).diff(diff);
                let have = found.mode & 0o7777;
                if have != mode {
                    p = p.detail(format!("mode {have:04o} → {mode:04o}"));
                }
                p
            }
        };
        Ok(Some(planned))
    }
}

impl Primitive for File {
    fn kind(&self) -> &'static str {
        if self.template.is_some() { "template" } else { "file" }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn managed(&self) -> Option<Managed> {
        Some(Managed {
            path: self.path.clone(),
            kind: ManagedKind::File,
            shareable: None,
        })
    }

    fn sensitive(&self) -> bool {
        self.sensitive
    }

    fn privileged(&self) -> bool {
        self.sudo
    }

    fn probe(&self, step: &StepCtx<'_>, probe: &mut ProbeScript) {
        // Old content is only worth fetching when it could be shown.
        let diff = !self.sensitive && self.masked.is_none() && self.mode.is_none_or(|m| m & 0o004 != 0);
        probe.hash(&self.path, &self.sha, diff);
        if self.keeps_masked_copy() {
            let copy = crate::shell::word(&self.masked_copy(step.state));
            probe.fact(step.id, "masked", &format!("cat -- {copy}"));
        }
        super::owner::probe_access(step.id, self.owner.as_ref(), self.sudo, probe);
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let planned = self.changes(step, facts)?;
        super::owner::guard(step.id, self.owner.as_ref(), self.sudo, planned, facts)
    }

    fn apply(&self, step: &StepCtx<'_>, planned: &Planned, facts: &Facts, script: &mut ApplyScript) {
        let found = facts.path(&self.path);
        let mode = self.final_mode(facts);
        if let (Change::Owner { .. }, Some(owner)) = (&planned.change, &self.owner) {
            script.function("co", super::owner::CHOWN_SH);
            script.line(&super::owner::chown_line(step.id, &self.path, owner));
            return;
        }
        if let Change::Mode { .. } = planned.change {
            script.function("cm", CHMOD_SH);
            script.line(&format!(
                "cm {} {} {}",
                step.id,
                crate::shell::word(&self.path),
                crate::shell::mode(mode)
            ));
            return;
        }
        // As root, a rewritten file keeps its owner and group.
        let owner = self.owner.as_ref().map(Ownership::spec).or_else(|| {
            ((facts.uid == Some(0) || self.sudo) && found.kind == PathKind::File && (found.uid, found.gid) != (0, 0))
                .then(|| format!("{}:{}", found.uid, found.gid))
        });
        let expect = match (found.kind, &found.sha) {
            (PathKind::File, Some(sha)) => Expect::File { sha: sha.clone() },
            _ => Expect::Absent,
        };
        script.file(step.id, &self.path, self.content.clone(), mode, owner, expect);
        if let Some(masked) = self.masked.as_ref().filter(|_| self.keeps_masked_copy()) {
            script.file(
                step.id,
                &self.masked_copy(step.state),
                masked.clone(),
                0o600,
                None,
                Expect::Any,
            );
        }
    }
}

impl File {
    /// The diff of a file with secrets: its masked content against the masked copy
    /// of what ordo wrote last (or against nothing), so the plan shows which lines
    /// change with every secret as `[secret:name]`.
    fn masked_diff(&self, step: &StepCtx<'_>, facts: &Facts, exists: bool) -> Option<Diff> {
        let masked = self.masked.as_ref().filter(|_| self.keeps_masked_copy())?;
        let old = match facts.step(step.id, "masked") {
            Some(crate::shell::probe::StepFact::Value(v)) if exists && !v.is_empty() => Some(v.as_slice()),
            _ => None,
        };
        if exists && old.is_none() {
            return None;
        }
        if old == Some(&masked[..]) {
            // Same text around the secrets: a secret's value changed.
            return Some(Diff::Text("(the value of a secret in it changed)\n".into()));
        }
        Some(Diff::of(&self.name, old, masked))
    }
}

/// Mode change in place, never through a symlink.
const CHMOD_SH: &str = r#"cm() { if [ -L "$2" ] || [ ! -f "$2" ]; then say "$1" "changed since the plan: $2 is no longer a regular file"; fi; chmod -- "$3" "$2" >"$O" 2>&1 || fail "$1" 1; echo "$1 ok"; }"#;

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// The short hash ordo shows for content it does not show.
pub fn content_hash(content: &[u8]) -> String {
    short_hash(content)
}

/// The options `file` and `template` share (how the file is written).
const OWNER: OptionDoc = OptionDoc {
    name: "owner",
    kind: "string",
    text: "the user (`app`, or `app:www` for user and group; names or numbers) the file belongs to; \
           another user than the login user needs `sudo: true`",
};
const GROUP: OptionDoc = OptionDoc {
    name: "group",
    kind: "string",
    text: "the group the file belongs to; a group the login user is not in needs `sudo: true`",
};
const SUDO: OptionDoc = OptionDoc {
    name: "sudo",
    kind: "bool",
    text: "write it as root (`sudo -n`): for paths the login user may not write, and for other \
           owners. Shown as [sudo] in the plan",
};
const SENSITIVE: OptionDoc = OptionDoc {
    name: "sensitive",
    kind: "bool",
    text: "never show this file's content in plans and diffs",
};

pub const FILE_DOC: Doc = Doc {
    name: "file",
    signatures: &[
        "file(path, content)",
        "file(path, blob)",
        "file(path, #{ content | source, mode, owner, group, sensitive, sudo })",
    ],
    summary: "A regular file with exactly this content, written atomically (staged in a private \
              directory with its final mode, then renamed into place). Relative paths are under the \
              component's root. A file that exists keeps its mode unless `mode` is given; new files \
              are 0644. The plan shows a diff, except for private (not world-readable) or sensitive \
              files, whose content is never fetched or shown.",
    options: &[
        OptionDoc {
            name: "content",
            kind: "string or blob",
            text: "the content, inline",
        },
        OptionDoc {
            name: "source",
            kind: "string",
            text: "a file of the project (or of a library) to copy, e.g. \"files/robots.txt\"",
        },
        OptionDoc {
            name: "mode",
            kind: "0o640 or \"0640\"",
            text: "the file's mode; Rhai has no bare octal literals, so write 0o640",
        },
        OWNER,
        GROUP,
        SUDO,
        SENSITIVE,
    ],
    example: "c.add(file(\"etc/app.ini\", #{ content: \"port = 8080\\n\", mode: 0o640 }));",
};

pub const TEMPLATE_DOC: Doc = Doc {
    name: "template",
    signatures: &[
        "template(path, source)",
        "template(path, source, vars)",
        "template(path, source, vars, #{ mode, owner, group, sensitive, sudo })",
    ],
    summary: "A file rendered from a minijinja template of the project while configuring (strict: \
              an undefined variable is an error). The template sees the component's attributes, \
              `host`, `component` and the `vars` map. Written like `file`.",
    options: &[
        OptionDoc {
            name: "mode",
            kind: "0o640 or \"0640\"",
            text: "the file's mode",
        },
        OWNER,
        GROUP,
        SUDO,
        SENSITIVE,
    ],
    example: "let conf = c.add(template(\"etc/app.ini\", \"templates/app.ini\", #{ port: 8080 }));",
};

/// Files (`file` and `template`) own their path: a file no step declares any more
/// is removed while it is still a regular file.
pub const OWNS: super::Owns = super::Owns {
    kind: ManagedKind::File,
    found: PathKind::File,
    remove: super::path_removal::remove_file,
};

/// `file` in [`KINDS`](super::KINDS).
pub const FILE: super::Kind = super::Kind {
    doc: &FILE_DOC,
    owns: Some(&OWNS),
};

/// `template` in [`KINDS`](super::KINDS): it owns a file like `file`.
pub const TEMPLATE: super::Kind = super::Kind {
    doc: &TEMPLATE_DOC,
    owns: Some(&OWNS),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(stats: &[u8], sums: &str, extra: &str) -> Facts {
        use base64::Engine;
        let b = |x: &[u8]| base64::engine::general_purpose::STANDARD.encode(x);
        Facts::parse(&format!(
            "uid 1000\nF {}\nS {}\n{extra}end\n",
            b(stats),
            b(sums.as_bytes())
        ))
        .unwrap()
    }

    fn ctx(root: &HostPath) -> StepCtx<'_> {
        crate::primitive::testing::ctx_id(0, root, None)
    }

    fn file(content: &str) -> File {
        File::new(
            "a.conf".into(),
            HostPath::new("~/d/a.conf").unwrap(),
            content.as_bytes().to_vec().into(),
        )
    }

    #[test]
    fn new_file_shows_its_mode_and_content() {
        let root = HostPath::new("~/d").unwrap();
        let p = file("x\n").verify(&ctx(&root), &facts(b"", "", "")).unwrap().unwrap();
        assert_eq!(p.change, Change::Create);
        assert_eq!(p.detail.as_deref(), Some("mode 0644"));
        assert!(p.diff.unwrap().render().contains("+x"));
    }

    #[test]
    fn same_content_is_up_to_date_and_mode_is_checked() {
        let root = HostPath::new("~/d").unwrap();
        let f = file("x\n");
        let sums = format!("{}  ./d/a.conf\n", f.sha);
        let same = facts(b"f 644 1000 1000 ./d/a.conf\0\0", &sums, "");
        assert_eq!(f.verify(&ctx(&root), &same).unwrap(), None);
        let mut strict = file("x\n");
        strict.mode = Some(0o600);
        let p = strict.verify(&ctx(&root), &same).unwrap().unwrap();
        assert_eq!(p.change, Change::Mode { from: 0o644, to: 0o600 });
    }

    #[test]
    fn private_files_never_show_content() {
        let root = HostPath::new("~/d").unwrap();
        let mut f = file("new secret\n");
        f.mode = Some(0o600);
        let sums = format!("{}  ./d/a.conf\n", "0".repeat(64));
        let found = facts(b"f 600 1000 1000 ./d/a.conf\0\0", &sums, "");
        let p = f.verify(&ctx(&root), &found).unwrap().unwrap();
        let shown = p.diff.unwrap().render();
        assert!(!shown.contains("secret") && shown.contains("not shown"), "{shown}");
    }

    #[test]
    fn a_symlink_in_the_way_is_a_conflict() {
        let root = HostPath::new("~/d").unwrap();
        let found = facts(b"l 777 1000 1000 ./d/a.conf\0/etc/passwd\0", "", "");
        let p = file("x").verify(&ctx(&root), &found).unwrap().unwrap();
        assert!(p.change.is_conflict(), "{p:?}");
    }
}
