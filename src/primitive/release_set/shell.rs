//! The shell side of a release set: the probe's fact (shell builtins only: a glob
//! over `releases/` and `read` loops), and the apply lines — upload changed wheels,
//! make the release's directory and mark it `building`, write its files, build its
//! virtualenv, mark it finished (written last, renamed into place), switch
//! `current` (a symlink made in a private staging directory, renamed over the old
//! one with `mv -T`, which GNU coreutils and BusyBox both have), record the order
//! of activations, prune. The step reports `ok` once, at the end: a failure
//! anywhere fails it, and `current` is switched only after the release is
//! finished.

use std::fmt::Write;

use super::decide::{Decision, Work};
use super::{MARKER, RECORD, ReleaseSet, WHEELS, file_mode};
use crate::host_path::HostPath;
use crate::ids::StepId;
use crate::primitive::StepCtx;
use crate::shell::apply::{ApplyScript, INLINE_TEXT, creation_mode};
use crate::shell::probe::Facts;
use crate::shell::{heredoc, quote, quote_always, word};

/// The probe's fact: the record, then every entry of `releases` (`release` with
/// its marker's lines and whether its virtualenv's python is there, `foreign`,
/// `link`, or `odd` for a name ordo would not give), then `tools` (the
/// interpreter's lines). No process: builtins and one glob.
pub(super) fn probe(releases: &HostPath, venv: Option<&str>, tools: &str) -> String {
    let r = word(releases);
    let venv = match venv {
        Some(rel) => format!(" [ ! -x \"$d\"/{}/bin/python ] || echo 'venv ok';", quote(rel)),
        None => String::new(),
    };
    format!(
        "r={r}; if [ -f \"$r/{RECORD}\" ] && [ ! -L \"$r/{RECORD}\" ]; then while IFS= read -r l || [ -n \"$l\" ]; do printf 'order %s\\n' \"$l\"; done < \"$r/{RECORD}\"; fi\n\
         for d in \"$r\"/*; do [ -d \"$d\" ] || continue; n=${{d##*/}}; case $n in *[!A-Za-z0-9._+-]*) echo odd; continue ;; esac; \
         if [ -L \"$d\" ]; then printf 'link %s\\n' \"$n\"; elif [ -f \"$d/{MARKER}\" ] && [ ! -L \"$d/{MARKER}\" ]; then printf 'release %s\\n' \"$n\"; \
         while IFS= read -r l || [ -n \"$l\" ]; do printf 'marker %s\\n' \"$l\"; done < \"$d/{MARKER}\";{venv} else printf 'foreign %s\\n' \"$n\"; fi; done\n\
         {tools}"
    )
}

/// `rb_ ID RELEASES NAME REPLACE`: the release's directory, new, marked
/// `building` at once (a build that dies is never taken as finished). With
/// REPLACE, ordo's directory of that name goes first — only when it still holds
/// the marker.
const BEGIN_SH: &str = r#"rb_() {
  pd "$1" "$2"
  if [ "$4" = 1 ]; then
    if [ -d "$2/$3" ] && [ ! -L "$2/$3" ] && [ -f "$2/$3/.ordo-release" ]; then rm -rf -- "$2/$3" >"$O" 2>&1 || fail "$1" 1
    else say "$1" "changed since the plan: $2/$3 is not the release ordo built"; fi
  fi
  if [ -e "$2/$3" ] || [ -L "$2/$3" ]; then say "$1" "changed since the plan: $2/$3 exists now"; fi
  umask 022; mkdir -- "$2/$3" >"$O" 2>&1; r=$?; umask 077
  [ $r = 0 ] || fail "$1" 1
  echo building > "$2/$3/.ordo-release" || fail "$1" 1
}"#;

/// `rf_ ID RELEASES NAME MARKER`: the finished marker, written whole and renamed
/// over `building`.
const FINISH_SH: &str = r#"rf_() {
  printf '%s' "$4" > "$2/$3/.ordo-release.new" && mv -f -- "$2/$3/.ordo-release.new" "$2/$3/.ordo-release" >"$O" 2>&1 || fail "$1" 1
}"#;

/// `rc_ ID DIR NAME`: switches `DIR/current` to `releases/NAME` — a finished
/// release — by one rename of a link made in a private staging directory.
const SWITCH_SH: &str = r#"rc_() {
  l=
  if [ -f "$2/releases/$3/.ordo-release" ] && [ ! -L "$2/releases/$3/.ordo-release" ]; then IFS= read -r l < "$2/releases/$3/.ordo-release"; fi
  [ "$l" = "ordo-release 1" ] || say "$1" "changed since the plan: $2/releases/$3 is not a finished release"
  if [ -e "$2/current" ] && [ ! -L "$2/current" ]; then say "$1" "changed since the plan: $2/current is no longer a symlink"; fi
  sg "$1" "$2"
  ln -s -- "releases/$3" "$S/current" >"$O" 2>&1 || fail "$1" 1
  mv -Tf -- "$S/current" "$2/current" >"$O" 2>&1 || fail "$1" 1
  rmdir -- "$S"
}"#;

/// `rr_ ID RELEASES TEXT`: the record of activations, written whole and renamed.
const RECORD_SH: &str = r#"rr_() {
  printf '%s' "$3" > "$2/.ordo-releases.new" && mv -f -- "$2/.ordo-releases.new" "$2/.ordo-releases" >"$O" 2>&1 || fail "$1" 1
}"#;

/// `rp_ ID RELEASES NAME…`: removes the releases named, each only while it holds
/// ordo's marker.
const PRUNE_SH: &str = r#"rp_() {
  i=$1 r=$2; shift 2
  for n in "$@"; do
    if [ -d "$r/$n" ] && [ ! -L "$r/$n" ] && [ -f "$r/$n/.ordo-release" ] && [ ! -L "$r/$n/.ordo-release" ]; then rm -rf -- "$r/$n" >"$O" 2>&1 || fail "$i" 1; fi
  done
}"#;

pub(super) fn apply(set: &ReleaseSet, step: &StepCtx<'_>, d: &Decision, facts: &Facts, script: &mut ApplyScript) {
    let id = step.id;
    let releases = set.releases();
    let r = word(&releases);
    if let Work::Build { replace, .. } = &d.work {
        if let Some(v) = &set.venv {
            // Changed wheels: the release set's own directory, written in place
            // (a wheel cut short by a dead deploy differs next time and travels
            // again).
            let wheels = releases.join(WHEELS);
            let uploads = v.env.wheels_to_upload(facts);
            if !uploads.is_empty() {
                script.line(&format!("pd {id} {}", word(&wheels)));
            }
            for w in uploads {
                write(script, id, &wheels, &w.name, &w.content, 0o644);
            }
        }
        script.function("rb_", BEGIN_SH);
        script.line(&format!(
            "rb_ {id} {r} {} {}",
            quote(&d.target),
            u8::from(replace.is_some())
        ));
        let dir = set.release(&d.target);
        let mut made: Vec<HostPath> = Vec::new();
        for f in &set.files {
            let path = dir.join(&f.name);
            let (parent, name) = path.split();
            if parent != dir && !made.contains(&parent) {
                script.line(&format!("pd {id} {}", word(&parent)));
                made.push(parent.clone());
            }
            write(script, id, &parent, &name, &f.content, file_mode(f));
        }
        if let (Some(v), Some(host)) = (&set.venv, &d.host) {
            let env = dir.join(&v.rel);
            v.env.build_for_release(id, step.timeout, &env, host, script);
            // Readable, so that the next plan can show how the requirements change
            // (the plan shows them anyway).
            script.line(&format!(
                "chmod 0644 -- {} >\"$O\" 2>&1 || fail {id} 1",
                word(&env.join(".ordo-requirements.txt"))
            ));
        }
        script.function("rf_", FINISH_SH);
        script.line(&format!(
            "rf_ {id} {r} {} {}",
            quote(&d.target),
            quote_always(&set.finished_marker(d.host.as_ref()))
        ));
    }
    if d.previous.as_deref() != Some(d.target.as_str()) {
        script.function("rc_", SWITCH_SH);
        script.line(&format!("rc_ {id} {} {}", word(&set.dir), quote(&d.target)));
    }
    script.function("rr_", RECORD_SH);
    let record: String = d.order.iter().map(|n| format!("{n}\n")).collect();
    script.line(&format!("rr_ {id} {r} {}", quote_always(&record)));
    if !d.prune.is_empty() {
        script.function("rp_", PRUNE_SH);
        let names: Vec<String> = d.prune.iter().map(|(n, _)| quote(n)).collect();
        script.line(&format!("rp_ {id} {r} {}", names.join(" ")));
    }
    script.line(&format!("echo '{id} ok'"));
}

/// Writes a new file in a directory the step just made (no staging: nothing
/// reads the release before it is finished and switched to), with its final mode
/// from the first byte; text up to [`INLINE_TEXT`] as a quoted word, the rest as
/// base64.
fn write(script: &mut ApplyScript, id: StepId, dir: &HostPath, name: &str, content: &[u8], mode: u32) {
    let mut line = String::new();
    let (d, n, m) = (word(dir), quote(name), creation_mode(mode));
    match std::str::from_utf8(content) {
        Ok(text) if content.len() <= INLINE_TEXT && !text.contains('\0') => {
            let _ = write!(line, "wt {id} {d} {n} {m} {}", quote_always(text));
        }
        _ => {
            let _ = write!(line, "wb {id} {d} {n} {m} <<'ORDO_EOF'\n{}", heredoc(content));
            line.pop();
        }
    }
    script.line(&line);
}

/// Removes a release set no step declares any more (decision 62): every release
/// that holds ordo's marker, the wheels, the record, then `releases` itself when
/// that emptied it (else it is kept, and said so), and `current` when it is a
/// link to one of those releases — decided before they go, with the builtin
/// `[ -ef ]` (no `readlink`, which the host contract does not list); a `current`
/// of someone else's stays. `entry` is its line in the list of what ordo created.
pub(crate) fn removal(step: StepId, releases: &HostPath, entry: &str, script: &mut ApplyScript) {
    script.function("rx_", REMOVE_SH);
    script.line(&format!("rx_ {step} {} {}", word(releases), quote_always(entry)));
}

const REMOVE_SH: &str = r#"rx_() {
  r=$2 c=${2%/*}/current o=
  if [ -L "$c" ] && [ -d "$r" ] && [ ! -L "$r" ]; then
    for d in "$r"/*; do if [ -f "$d/.ordo-release" ] && [ ! -L "$d" ] && [ "$c" -ef "$d" ]; then o=1; fi; done
  fi
  if [ -d "$r" ] && [ ! -L "$r" ]; then
    for d in "$r"/*; do
      if [ -d "$d" ] && [ ! -L "$d" ] && [ -f "$d/.ordo-release" ] && [ ! -L "$d/.ordo-release" ]; then rm -rf -- "$d" >"$O" 2>&1 || fail "$1" 1; fi
    done
    if [ -d "$r/.wheels" ] && [ ! -L "$r/.wheels" ]; then
      for w in "$r/.wheels"/*.whl; do if [ -f "$w" ] && [ ! -L "$w" ]; then rm -f -- "$w"; fi; done
      rmdir -- "$r/.wheels" 2>/dev/null || :
    fi
    rm -f -- "$r/.ordo-releases"
  fi
  if [ -n "$o" ] && [ -L "$c" ]; then rm -f -- "$c" >"$O" 2>&1 || fail "$1" 1; fi
  if [ -d "$r" ] && [ ! -L "$r" ] && ! rmdir -- "$r" 2>/dev/null; then printf '%s' "$3" >> "$T/keep"; echo "$1 kept"; return; fi
  echo "$1 ok"
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe's snippet against a real directory: what `found` reads back.
    #[test]
    fn the_probe_lists_releases_with_builtins_and_skips_odd_names() {
        let home = tempfile::tempdir().unwrap();
        let r = home.path().join("app/releases");
        for (name, marker) in [
            ("1.3", Some("ordo-release 1\nversion 1.3\n")),
            ("1.4", Some("building\n")),
            ("x y", Some("ordo-release 1\n")),
            ("mine", None),
        ] {
            std::fs::create_dir_all(r.join(name)).unwrap();
            if let Some(m) = marker {
                std::fs::write(r.join(name).join(MARKER), m).unwrap();
            }
        }
        std::fs::create_dir_all(r.join("1.3/venv/bin")).unwrap();
        std::fs::write(r.join("1.3/venv/bin/python"), "").unwrap();
        std::os::unix::fs::symlink(r.join("1.3"), r.join("1.0")).unwrap();
        std::fs::write(r.join(RECORD), "1.3\n1.2\n").unwrap();
        let script = probe(&HostPath::new("~/app/releases").unwrap(), Some("venv"), "echo tools\n");
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .current_dir(home.path())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            text,
            "order 1.3\norder 1.2\nlink 1.0\nrelease 1.3\nmarker ordo-release 1\nmarker version 1.3\n\
             release 1.4\nmarker building\nforeign mine\nodd\ntools\n",
            "{script}"
        );
    }
}
