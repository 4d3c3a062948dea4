//! `cron`: an entry in the login user's crontab, kept as one marked block per
//! step (`# ordo <service>/<name> begin` … `end`). Other entries are never
//! touched: the block is rewritten where it stands, or appended. A record in
//! `~/.ordo/<service>/cron/<name>` (the block as written) is the step's managed
//! path, so the block goes away with the step or its component.
//!
//! A crontab belongs to an OS user, not to a home directory or a service: two
//! local hosts of one user, or two services deployed by one user at the same
//! time, edit the same crontab. Every edit (read, change, write) holds a lock
//! keyed by the uid — `flock` on `/tmp/ordo-<uid>/crontab.lock`, in a directory
//! that must be the user's own — so no edit is lost to another. The kernel
//! releases it when the editing shell ends, however it ends.

use super::{Change, Diff, Doc, Managed, ManagedKind, OptionDoc, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::ids::StepId;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, PathKind, ProbeScript, StepFact};
use crate::shell::{quote, quote_always, word};

#[derive(Debug)]
pub struct Cron {
    pub name: String,
    pub service: String,
    /// Five fields (`*/5 * * * *`) or `@daily` and friends.
    pub schedule: String,
    pub run: String,
    pub cwd: HostPath,
    /// `~/.ordo/<service>/cron/<name>`.
    pub record: HostPath,
}

impl Cron {
    /// The block as the crontab holds it, `@HOME@` standing for the home directory
    /// (filled in on the host: cron runs in the user's real home, and two local
    /// hosts of one user must not share a block). `%` means newline to cron:
    /// escaped.
    pub fn block(&self) -> String {
        let cwd = match self.cwd.as_str().strip_prefix('~') {
            Some(rest) => format!("'@HOME@{}'", rest.replace('\'', "'\\''")),
            None => quote_always(self.cwd.as_str()),
        };
        format!(
            "# ordo {s}/{n} begin (@HOME@): managed by ordo, change the deployment instead\n{} cd {cwd} && {}\n# ordo {s}/{n} end (@HOME@)\n",
            self.schedule,
            self.run.replace('%', "\\%"),
            s = self.service,
            n = self.name,
        )
    }
}

/// `crx`: stdin with `@HOME@` replaced by the home directory (quoted for '…').
/// `$HOME`, not `$PWD`: the probe of a host whose home does not exist yet runs
/// elsewhere, and its plan must show the home the crontab gets.
const EXPAND_SH: &str = r#"crx() { H=$(printf '%s' "$HOME" | sed "s/'/'\\\\''/g") awk '{ while ((i = index($0, "@HOME@")) > 0) $0 = substr($0, 1, i - 1) ENVIRON["H"] substr($0, i + 6); print }'; }
"#;

/// `crt`: 1, saying which, when the host lacks `crontab` or `flock` (the edit's
/// lock) — asked by the probe, so the plan fails before anything changes, and by
/// the edit before it locks.
///
/// `crl FILE`: the user's crontab into FILE — empty when the user has none
/// (`no crontab for …`: Debian's cron, cronie; BusyBox: `can't open …: No such
/// file or directory`). Any other failure of `crontab -l` (a user cron refuses, a
/// broken spool) says why and returns 1: taken for an empty crontab, the edit
/// would have written the block alone over the user's entries.
const READ_SH: &str = r#"crt() {
  command -v crontab >/dev/null 2>&1 || { echo "this host has no crontab command: cron steps need cron (Debian's cron, cronie, or BusyBox's crontab and crond)"; return 1; }
  command -v flock >/dev/null 2>&1 || { echo "this host has no flock, which locks the user's crontab while it is edited (util-linux; Alpine's BusyBox has it, Debian's does not)"; return 1; }
}
crl() {
  crontab -l > "$1" 2> "$1.err" && return 0
  if grep -q -i -e 'no crontab for' -e 'no such file or directory' -- "$1.err" 2>/dev/null; then : > "$1"; return 0; fi
  printf 'crontab -l failed: '; head -c 400 -- "$1.err" 2>/dev/null | tr '\n' ' '; echo; return 1
}
"#;

/// `crb BLOCK`: the home directory on the first line (the plan shows the block as
/// it is written), then `same` when the user's crontab (read once per probe) holds
/// the block exactly once, else what it holds between the block's markers — or
/// `!` and why the crontab cannot be read or edited (`crl`).
const PROBE_SH: &str = r#"crb() {
  printf '%s\n' "$HOME"
  if [ ! -f "$T/cron" ]; then
    { crt && crl "$T/cr0"; } > "$T/crl" || { printf '! '; cat "$T/crl"; return 0; }
    mv -f -- "$T/cr0" "$T/cron"
  fi
  printf '%s' "$1" | crx > "$T/cw"
  b=$(head -n 1 "$T/cw"); e=$(tail -n 1 "$T/cw")
  awk -v b="$b" -v e="$e" '$0 == b { p = 1 } p { print } $0 == e { p = 0 }' "$T/cron" > "$T/cf"
  if cmp -s "$T/cw" "$T/cf"; then echo same; else cat "$T/cf"; fi
}
"#;

/// `cr ID BLOCK RECORD CWD`: the crontab with the block in place of the old one
/// (or appended), then the record; CWD, where the entry runs, is created first.
/// `crr ID RECORD`: the crontab without the block the record names, then no record.
/// A record that cannot be read, or whose first and last lines are not ordo's
/// markers, fails the step and leaves the crontab alone: empty markers matched the
/// crontab's empty lines, and the lines between two of them went.
/// `cr_put BEGIN END BLOCK PUT` is the edit, under the user's crontab lock
/// (`cr_lock`: the directory `/tmp/ordo-<uid>`, refused unless it is this user's
/// own directory — anyone can create names in `/tmp`).
const APPLY_SH: &str = r#"cr_lock() {
  cu=; { while read -r k a x; do [ "$k" != Uid: ] || { cu=$a; break; }; done < /proc/self/status; } 2>/dev/null
  [ -n "$cu" ] || cu=$(id -ru)
  L=/tmp/ordo-$cu
  [ -d "$L" ] || mkdir -m 700 -- "$L" 2>/dev/null
  if [ -L "$L" ] || [ ! -d "$L" ] || [ ! -O "$L" ]; then
    echo "cannot lock the crontab: $L, where every deploy of this user (uid $cu) locks it, is not a directory of this user; remove it (as its owner, or root)"; return 1
  fi
  crt
}
cr_put() {
  cr_lock || return 1
  printf '%s' "$3" > "$T/cb"
  (
    flock -w 60 9 || { echo "cannot lock the crontab: another deploy held $L/crontab.lock for 60 s"; exit 1; }
    crl "$T/c0" || exit 1
    awk -v b="$1" -v e="$2" -v put="$4" 'FILENAME == ARGV[1] { blk = blk $0 "\n"; next }
      $0 == b { skip = 1; if (put && !done) { printf "%s", blk; done = 1 } next }
      skip { if ($0 == e) skip = 0; next }
      { print }
      END { if (put && !done) printf "%s", blk }' "$T/cb" "$T/c0" > "$T/c1" && crontab "$T/c1"
  ) 9> "$L/crontab.lock"
}
cr() {
  pd "$1" "$4"
  printf '%s' "$2" | crx > "$T/cw"
  b=$(head -n 1 "$T/cw"); e=$(tail -n 1 "$T/cw")
  cr_put "$b" "$e" "$(cat "$T/cw")
" 1 > "$O" 2>&1 || fail "$1" 1
  d=${3%/*}; pd "$1" "$d"
  cp -- "$T/cw" "$3" 2>"$O" || fail "$1" 1
  echo "$1 ok"
}
crr() {
  if [ -f "$2" ]; then
    { b=$(head -n 1 -- "$2") && e=$(tail -n 1 -- "$2"); } 2>"$O" || fail "$1" 1
    case "$b
$e" in '# ordo '*'
# ordo '*) ;; *) echo "$2 does not name a block of ordo's: the crontab is left as it is" > "$O"; fail "$1" 1 ;; esac
    cr_put "$b" "$e" "" 0 > "$O" 2>&1 || fail "$1" 1
    rm -f -- "$2"
  fi
  echo "$1 ok"
}
"#;

impl Primitive for Cron {
    fn kind(&self) -> &'static str {
        "cron"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn managed(&self) -> Option<Managed> {
        Some(Managed {
            path: self.record.clone(),
            kind: ManagedKind::Cron,
            shareable: None,
        })
    }

    fn probe(&self, step: &StepCtx<'_>, probe: &mut ProbeScript) {
        probe.stat(&self.record);
        probe.function("crx", EXPAND_SH);
        probe.function("crl", READ_SH);
        probe.function("crb", PROBE_SH);
        probe.fact(step.id, "cron", &format!("crb {}", quote_always(&self.block())));
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let answer = match facts.step(step.id, "cron") {
            Some(StepFact::Value(v)) => String::from_utf8_lossy(v).into_owned(),
            _ => String::new(),
        };
        let (home, found) = answer.split_once('\n').unwrap_or(("~", ""));
        if let Some(why) = found.strip_prefix("! ") {
            return Err(format!(
                "the crontab cannot be read: {}",
                crate::text::visible(why.trim_end(), false)
            ));
        }
        if found == "same\n" && facts.path(&self.record).kind == PathKind::File {
            return Ok(None);
        }
        // What the crontab gets: the home as `crx` writes it.
        let want = self.block().replace("@HOME@", &home.replace('\'', "'\\''"));
        let label = format!("crontab ({})", self.name);
        if found.is_empty() {
            let first = want.lines().nth(1).unwrap_or("").to_string();
            return Ok(Some(Planned::new(Change::Create).detail(first)));
        }
        Ok(Some(Planned::new(Change::Update).diff(Diff::of(
            &label,
            Some(found.as_bytes()),
            want.as_bytes(),
        ))))
    }

    fn apply(&self, step: &StepCtx<'_>, _planned: &Planned, _facts: &Facts, script: &mut ApplyScript) {
        script.function("crx", EXPAND_SH);
        script.function("crl", READ_SH);
        script.function("cr", APPLY_SH);
        script.line(&format!(
            "cr {} {} {} {}",
            step.id,
            quote_always(&self.block()),
            word(&self.record),
            word(&self.cwd)
        ));
    }
}

/// Adds the removal of the block a record names.
pub(crate) fn removal(r: &super::Removal, step: StepId, script: &mut ApplyScript) {
    removal_functions(script);
    script.line(&format!("crr {step} {}", quote(&crate::shell::relative(&r.path))));
}

/// `crr ID RECORD`: removes the crontab block the record file names, then the record.
pub(crate) fn removal_functions(script: &mut ApplyScript) {
    script.function("crx", EXPAND_SH);
    script.function("crl", READ_SH);
    script.function("cr", APPLY_SH);
}

pub const DOC: Doc = Doc {
    name: "cron",
    signatures: &["cron(name, #{ schedule, run, cwd })"],
    summary: "An entry in the login user's crontab: `run` (with `sh`, in `cwd`, default the component's root) on \
              `schedule` (five fields, or `@daily`, `@hourly`…). It is kept as one marked block; other entries of \
              the crontab are never touched, the block changes in place, and it is removed when the step or its \
              component goes away.",
    options: &[
        OptionDoc {
            name: "schedule",
            kind: "string",
            text: "when: `*/5 * * * *`, `@daily`…",
        },
        OptionDoc {
            name: "run",
            kind: "string",
            text: "the shell command (`%` is escaped for cron)",
        },
        OptionDoc {
            name: "cwd",
            kind: "string",
            text: "the directory it runs in, relative to the component's root",
        },
    ],
    example: "c.add(cron(\"prune\", #{ schedule: \"*/10 * * * *\", run: \"find cache -mmin +60 -delete\" }));",
};

/// A cron entry no step declares any more: its record file is found, and its
/// block leaves the crontab ([`removal`]).
pub const OWNS: super::Owns = super::Owns {
    kind: ManagedKind::Cron,
    found: PathKind::File,
    remove: removal,
};

/// `cron` in [`KINDS`](super::KINDS).
pub const KIND: super::Kind = super::Kind {
    doc: &DOC,
    owns: Some(&OWNS),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::testing::{ctx, facts};
    use base64::Engine;

    fn cron() -> Cron {
        Cron {
            name: "prune".into(),
            service: "s".into(),
            schedule: "*/5 * * * *".into(),
            run: "date +%s > last".into(),
            cwd: HostPath::new("~/d").unwrap(),
            record: HostPath::new("~/.ordo/s/cron/prune").unwrap(),
        }
    }

    #[test]
    fn the_block_escapes_percent_and_is_verified_as_a_whole() {
        let c = cron();
        let block = c.block();
        assert!(
            block.contains("*/5 * * * * cd '@HOME@/d' && date +\\%s > last\n"),
            "{block}"
        );
        let root = HostPath::new("~/d").unwrap();
        let fact = |text: &str| format!("V 7 cron {}\n", base64::engine::general_purpose::STANDARD.encode(text));
        let rec = [("f", "600", "./.ordo/s/cron/prune", "")];
        assert_eq!(
            c.verify(&ctx(&root, None), &facts(&rec, &[], &fact("/home/w\nsame\n")))
                .unwrap(),
            None
        );
        let twice = format!("/home/w\n{block}{block}");
        let p = c
            .verify(&ctx(&root, None), &facts(&rec, &[], &fact(&twice)))
            .unwrap()
            .unwrap();
        assert_eq!(p.change, Change::Update);
        let new = c
            .verify(&ctx(&root, None), &facts(&[], &[], &fact("/home/w\n")))
            .unwrap()
            .unwrap();
        assert_eq!(new.change, Change::Create);
    }

    /// A crontab that cannot be read is a problem of the plan, in the host's words
    /// (made visible), not an empty crontab.
    #[test]
    fn a_crontab_that_cannot_be_read_fails_the_plan() {
        let c = cron();
        let root = HostPath::new("~/d").unwrap();
        let fact = |text: &str| format!("V 7 cron {}\n", base64::engine::general_purpose::STANDARD.encode(text));
        let err = c
            .verify(
                &ctx(&root, None),
                &facts(
                    &[],
                    &[],
                    &fact("/home/w\n! crontab -l failed: You (w) are not allowed\x1b[2J \n"),
                ),
            )
            .unwrap_err();
        assert_eq!(
            err,
            "the crontab cannot be read: crontab -l failed: You (w) are not allowed\\u{1b}[2J"
        );
    }

    /// `crl` with a `crontab` that answers as each cron does, on a PATH of only
    /// what it uses.
    #[test]
    fn crl_tells_no_crontab_from_a_crontab_that_cannot_be_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for tool in ["grep", "head", "tr", "cat"] {
            let real = std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap();
            let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
            std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
        }
        let crl = |crontab: Option<&str>, flock: bool| -> (bool, String, String) {
            for (name, body) in [("crontab", crontab), ("flock", flock.then_some("exit 0"))] {
                let _ = std::fs::remove_file(bin.join(name));
                if let Some(body) = body {
                    std::fs::write(bin.join(name), format!("#!/bin/sh\n{body}\n")).unwrap();
                    std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
                }
            }
            let out_file = dir.path().join("tab");
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("{READ_SH}crt && crl \"$1\""))
                .arg("sh")
                .arg(&out_file)
                .env("PATH", &bin)
                .output()
                .unwrap();
            let tab = std::fs::read_to_string(&out_file).unwrap_or_else(|_| "(none)".into());
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                tab,
            )
        };
        let (ok, said, tab) = crl(Some("echo '17 3 * * * mine'"), true);
        assert_eq!((ok, said.as_str(), tab.as_str()), (true, "", "17 3 * * * mine\n"));
        for none in [
            "echo 'no crontab for w' >&2; exit 1",
            "echo \"crontab: can't open 'w': No such file or directory\" >&2; exit 1",
        ] {
            let (ok, said, tab) = crl(Some(none), true);
            assert_eq!((ok, said.as_str(), tab.as_str()), (true, "", ""), "{none}");
        }
        let (ok, said, _) = crl(
            Some("echo 'You (w) are not allowed to use this program (crontab)' >&2; exit 1"),
            true,
        );
        assert!(!ok);
        assert_eq!(
            said,
            "crontab -l failed: You (w) are not allowed to use this program (crontab) \n"
        );
        let (ok, said, _) = crl(None, true);
        assert!(!ok && said.starts_with("this host has no crontab command"), "{said}");
        let (ok, said, _) = crl(Some("exit 0"), false);
        assert!(!ok && said.starts_with("this host has no flock"), "{said}");
    }

    /// The plan shows the entry as the crontab gets it: `cd '~/d'` would not even
    /// work (`~` is not expanded in quotes).
    #[test]
    fn the_plan_shows_the_home_the_crontab_gets() {
        let c = cron();
        let root = HostPath::new("~/d").unwrap();
        let fact = |text: &str| format!("V 7 cron {}\n", base64::engine::general_purpose::STANDARD.encode(text));
        let new = c
            .verify(&ctx(&root, None), &facts(&[], &[], &fact("/home/it's\n")))
            .unwrap()
            .unwrap();
        assert_eq!(
            new.detail.as_deref(),
            Some("*/5 * * * * cd '/home/it'\\''s/d' && date +\\%s > last")
        );
    }
}
