//! `cache`: a directory whose contents are the program's business: kept across
//! deploys, or emptied deliberately when one of the `purge_on` steps changed (a
//! pending purge survives a deploy that dies before it). The plan says which when
//! it creates the directory, and why when it purges. Removed with its component
//! only if it is empty (ordo does not delete what it did not write).

use super::{Change, DEFAULT_DIR_MODE, Doc, Managed, ManagedKind, OptionDoc, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, PathKind, ProbeScript};
use crate::shell::{mode, word};

#[derive(Debug)]
pub struct Cache {
    pub name: String,
    pub path: HostPath,
    pub mode: Option<u32>,
    /// Labels of the `purge_on` steps, for the plan.
    pub purge_on: Vec<String>,
}

impl Primitive for Cache {
    fn kind(&self) -> &'static str {
        "cache"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn managed(&self) -> Option<Managed> {
        Some(Managed {
            path: self.path.clone(),
            kind: ManagedKind::Directory,
            shareable: None,
        })
    }

    fn reacts_to_changes(&self) -> bool {
        true
    }

    fn probe(&self, _step: &StepCtx<'_>, probe: &mut ProbeScript) {
        probe.stat(&self.path);
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        match facts.path(&self.path).kind {
            PathKind::Absent => {
                let policy = if self.purge_on.is_empty() {
                    "kept across deploys".to_string()
                } else {
                    format!("purged when {} changes", self.purge_on.join(" or "))
                };
                Ok(Some(Planned::new(Change::Create).detail(policy)))
            }
            PathKind::Dir => Ok(step.trigger.map(|why| Planned::run(format!("purge: {why}")))),
            _ => Ok(Some(Planned::conflict(format!("{} is not a directory", self.path)))),
        }
    }

    fn apply(&self, step: &StepCtx<'_>, planned: &Planned, _facts: &Facts, script: &mut ApplyScript) {
        script.function("ca", CACHE_SH);
        let purge = u8::from(matches!(planned.change, Change::Run { .. }));
        let marker = step.marker.map_or_else(|| "''".to_string(), word);
        script.line(&format!(
            "ca {} {} {} {purge} {marker}",
            step.id,
            word(&self.path),
            mode(self.mode.unwrap_or(DEFAULT_DIR_MODE))
        ));
    }
}

/// `ca ID DIR MODE PURGE MARKER`: creates the directory, or empties it.
const CACHE_SH: &str = r#"ca() {
  if [ ! -d "$2" ]; then
    mkdir -p -- "$2" > "$O" 2>&1 && chmod -- "$3" "$2" > "$O" 2>&1 || fail "$1" 1
  elif [ "$4" = 1 ]; then
    if [ -n "$ub" ]; then find "$2" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + > "$O" 2>&1 || fail "$1" 1
    else find "$2" -mindepth 1 -delete > "$O" 2>&1 || fail "$1" 1; fi
  fi
  [ -z "$5" ] || rm -f -- "$5"
  echo "$1 ok"
}
"#;

pub const DOC: Doc = Doc {
    name: "cache",
    signatures: &["cache(path)", "cache(path, #{ purge_on, mode })"],
    summary: "A directory whose contents survive deploys (the default), or are emptied exactly when one of the \
              `purge_on` steps changed. The plan says which.",
    options: &[
        OptionDoc {
            name: "purge_on",
            kind: "step or array of steps",
            text: "empty it after any of these steps of the component changed",
        },
        OptionDoc {
            name: "mode",
            kind: "integer or octal string",
            text: "the directory's mode when it is created (default 0755)",
        },
    ],
    example: "c.add(cache(\"var/cache\", #{ purge_on: [code] }));",
};

/// `cache` in [`KINDS`](super::KINDS): it owns a directory like `directory`.
pub const KIND: super::Kind = super::Kind {
    doc: &DOC,
    owns: Some(&super::directory::OWNS),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::testing::{ctx, facts};

    #[test]
    fn kept_unless_a_purge_trigger_fired() {
        let root = HostPath::new("~/d").unwrap();
        let c = Cache {
            name: "cache".into(),
            path: root.join("cache"),
            mode: None,
            purge_on: vec!["file app.py".into()],
        };
        let new = c.verify(&ctx(&root, None), &facts(&[], &[], "")).unwrap().unwrap();
        assert_eq!(new.detail.as_deref(), Some("purged when file app.py changes"));
        let there = facts(&[("d", "755", "./d/cache", "")], &[], "");
        assert_eq!(c.verify(&ctx(&root, None), &there).unwrap(), None);
        let purge = c
            .verify(&ctx(&root, Some("file app.py changed")), &there)
            .unwrap()
            .unwrap();
        assert_eq!(purge.detail.as_deref(), Some("purge: file app.py changed"));
    }
}
