//! The last step of a retired host's teardown: ordo's records of the service there,
//! `~/.ordo/<service>` — the list of what it created, the deployed version, pending
//! markers, masked copies of files with secrets, program and cron records, the
//! deployment's supervisor — all but the deploy lock, which the run holds until its
//! very last line removes it with the directory (decision 56).
//!
//! Deleting a record must never orphan what it stands for: before anything goes, a
//! program whose record is still there is stopped through its backend and a cron
//! block whose record is still there leaves the crontab (both are normally gone by
//! then, removed as what ordo created; these are the ones the list missed), and the
//! deployment's own supervisord is asked to shut down.

use super::{Change, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::Facts;
use crate::shell::word;

/// Names shown in the plan's detail before "…".
const SHOWN: usize = 8;

#[derive(Debug)]
pub struct Records {
    /// `~/.ordo/<service>`.
    pub path: HostPath,
    /// What the probe found there besides the lock (names as the host gave them).
    pub found: Vec<String>,
    /// The host's root, when it lies below the home: after the records, the empty
    /// directories in it go (ordo made them on the way to the files it created),
    /// the root too when that leaves it empty, and then its empty parents below
    /// the home.
    pub root: Option<HostPath>,
}

impl Primitive for Records {
    fn kind(&self) -> &'static str {
        "records"
    }

    fn name(&self) -> &str {
        self.path.as_str()
    }

    fn verify(&self, _step: &StepCtx<'_>, _facts: &Facts) -> Result<Option<Planned>, String> {
        if self.found.is_empty() {
            return Ok(None);
        }
        let mut names: Vec<String> = self
            .found
            .iter()
            .take(SHOWN)
            .map(|n| crate::text::visible(n, false))
            .collect();
        if self.found.len() > SHOWN {
            names.push("…".into());
        }
        let root = match &self.root {
            Some(r) => format!("; then the empty directories of {r}"),
            None => String::new(),
        };
        Ok(Some(
            Planned::new(Change::Remove).detail(format!("host retired: {}{root}", names.join(", "))),
        ))
    }

    fn apply(&self, step: &StepCtx<'_>, _planned: &Planned, _facts: &Facts, script: &mut ApplyScript) {
        super::program::removal_functions(script);
        super::cron::removal_functions(script);
        script.function("rt_", REMOVE_SH);
        let root = self.root.as_ref().map_or_else(|| "''".to_string(), word);
        script.line(&format!("rt_ {} {} {root}", step.id, word(&self.path)));
    }
}

/// `rt_ ID DIR ROOT`: what is left in DIR (a `./`-relative path), the lock
/// excepted; then the empty directories in ROOT (none when ROOT is empty), ROOT
/// itself and its parents as long as they are empty.
const REMOVE_SH: &str = r#"rt_() {
  if [ -d "$2/programs" ] && [ ! -L "$2/programs" ]; then
    for r in "$2"/programs/*; do if [ -d "$r" ] && [ ! -L "$r" ]; then pg_rm "$1" "$r"; fi; done
  fi
  if [ -d "$2/cron" ] && [ ! -L "$2/cron" ]; then
    for r in "$2"/cron/*; do if [ -f "$r" ] && [ ! -L "$r" ]; then crr "$1" "$r"; fi; done
  fi
  if [ -S "$2/supervisor/supervisor.sock" ] && command -v supervisorctl >/dev/null 2>&1; then
    supervisorctl -c "$2/supervisor/supervisord.conf" shutdown >/dev/null 2>&1 || :
  fi
  for f in "$2"/* "$2"/.[!.]* "$2"/..?*; do
    if [ -e "$f" ] || [ -L "$f" ]; then [ "$f" = "$2/lock" ] || rm -rf -- "$f" > "$O" 2>&1 || fail "$1" 1; fi
  done
  if [ -n "$3" ] && [ -d "$3" ] && [ ! -L "$3" ]; then
    find "$3" -depth -type d -empty -delete 2>/dev/null
    d=${3%/*}; while [ ! -e "$3" ] && [ -n "$d" ] && [ "$d" != . ] && rmdir -- "$d" 2>/dev/null; do d=${d%/*}; done
  fi
  echo "$1 ok"
}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::testing::{ctx, facts};

    #[test]
    fn planned_only_when_something_besides_the_lock_is_left() {
        let root = HostPath::new("~").unwrap();
        let none = Records {
            path: HostPath::new("~/.ordo/s").unwrap(),
            found: Vec::new(),
            root: None,
        };
        assert_eq!(none.verify(&ctx(&root, None), &facts(&[], &[], "")).unwrap(), None);
        let some = Records {
            found: vec!["owned".into(), "state.json".into(), "bad\x1bname".into()],
            ..none
        };
        let p = some.verify(&ctx(&root, None), &facts(&[], &[], "")).unwrap().unwrap();
        assert_eq!(p.change, Change::Remove);
        assert_eq!(
            p.detail.as_deref(),
            Some("host retired: owned, state.json, bad\\u{1b}name")
        );
        assert_eq!(some.label(), "records ~/.ordo/s");
        let with_root = Records {
            root: HostPath::new("~/deployment/s"),
            ..some
        };
        let p = with_root
            .verify(&ctx(&root, None), &facts(&[], &[], ""))
            .unwrap()
            .unwrap();
        assert!(
            p.detail
                .unwrap()
                .ends_with("name; then the empty directories of ~/deployment/s")
        );
    }
}
