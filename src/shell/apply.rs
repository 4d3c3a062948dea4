//! Apply scripts: consecutive changes of one host travel together in one script (one
//! round trip); the script stops at the first failure and says which step failed.
//!
//! Files are written the careful way: consecutive file writes form a group; every
//! file of the group is first created in a private staging directory next to its
//! target (`mktemp -d`, mode 0700, never reused), with its final mode before any
//! content is written; then the targets are checked against what the plan saw
//! ("changed since the plan" fails the step instead of overwriting); then one
//! `mv -t` per directory renames them into place, each rename atomic. Process
//! creation dominates apply time on a busy host; this keeps it per directory, not
//! per file (decision 10).

use std::collections::HashSet;
use std::fmt::Write;

use super::{heredoc, mode, quote, quote_always, word};
use crate::host_path::HostPath;
use crate::ids::StepId;

/// Text files up to this size travel as a quoted shell word written by the
/// `printf` builtin (no process); larger or binary ones as base64 for `base64 -d`.
pub(crate) const INLINE_TEXT: usize = 64 * 1024;

/// Renames per `mv` call and bytes of arguments, far below any ARG_MAX.
const MV_CHUNK_FILES: usize = 500;
const MV_CHUNK_BYTES: usize = 64 * 1024;

/// The last bytes of a step's output that a failure (or a migration's output)
/// reports. `fail` and `out` send one byte more, so that a cut shows (see
/// [`super::window`]).
const OUTPUT_WINDOW: usize = 4000;

/// The core of every apply script. `$ub` is set when the host's userland is
/// BusyBox (see [`super::userland::DETECT_SH`]; no process). `$O` collects the
/// output of the running step; `fail` reports its tail (base64, one byte more than
/// [`OUTPUT_WINDOW`]) and stops the script; the exit trap removes every staging
/// directory that is left, with one `rm`. `$P` is a running `timeout` (a command):
/// GNU timeout puts itself in a process group of its own, out of reach of the
/// signal that stops the script's group, so the signal trap passes it on (timeout
/// then stops its whole group; on BusyBox, `tmo`'s `setsid sh` does).
const LIB: &str = r#"umask 077
[ -z "${SUDO_USER:-}" ] || HOME=$(getent passwd -- "$SUDO_USER" | cut -d: -f6)
HOME=${HOME%/}
[ -d "$HOME" ] || { umask 022; mkdir -p -- "$HOME"; umask 077; }
cd -- "$HOME" || { echo 'fatal cannot enter the home directory'; exit 97; }
T=$(mktemp -d) || { echo 'fatal cannot create a temporary directory'; exit 97; }
ub=; if command -v find > "$T/ul" 2>/dev/null && read -r ub < "$T/ul" && { [ "$ub" -ef /bin/busybox ] || [ "$ub" -ef /usr/bin/busybox ]; }; then ub=1; else ub=; fi
tmo() { tk=$1 tt=$2; shift 2; if [ -n "$ub" ]; then exec timeout -k "$tk" "$tt" setsid sh -c 'trap "trap : TERM; kill -TERM 0" TERM; "$@" & wait $!' sh "$@"; fi; exec timeout -k "$tk" "$tt" "$@"; }
trap 'set --; if [ -f "$T/stages" ]; then while IFS= read -r d; do [ ! -d "$d" ] || set -- "$@" "$d"; done < "$T/stages"; fi; rm -rf -- "$@" "$T"' EXIT
trap '[ -z "${P:-}" ] || kill -TERM "$P" 2>/dev/null; exit 143' TERM INT HUP
O=$T/out
: > "$O"
fail() { printf '%s fail %s ' "$1" "$2"; tail -c 4001 "$O" | base64 -w0; echo; exit 1; }
say() { printf '%s\n' "$2" > "$O"; fail "$1" 1; }
out() { printf '%s out ' "$1"; tail -c 4001 "$O" | base64 -w0; echo; }
pd() { [ -d "$2" ] || { umask 022; mkdir -p -- "$2" > "$O" 2>&1; r=$?; umask 077; [ $r = 0 ] || fail "$1" 1; }; }
sg() { pd "$1" "$2"; S=$(mktemp -d -- "$2/.ordo-stage.XXXXXXXX" 2>"$O") || fail "$1" 1; printf '%s\n' "$S" >> "$T/stages"; }
nw() { case $2 in u*) umask "${2#u}"; : > "$1"; r=$?; umask 077; return $r ;; *) : > "$1" && chmod -- "$2" "$1" ;; esac; }
wt() { { nw "$2/$3" "$4" && printf '%s' "$5" > "$2/$3"; } >"$O" 2>&1 || fail "$1" 1; }
wb() { { nw "$2/$3" "$4" && base64 -d > "$2/$3"; } >"$O" 2>&1 || fail "$1" 1; }
ow() { chown -- "$3" "$2" >"$O" 2>&1 || fail "$1" 1; }
ck() {
  : > "$T/h"
  while read -r k id r; do
    case $k in
      a) if [ -e "$r" ] || [ -L "$r" ]; then say "$id" "changed since the plan: $r exists now"; fi ;;
      f) p=${r#* }; if [ -L "$p" ] || [ ! -f "$p" ]; then say "$id" "changed since the plan: $p is no longer the file the plan saw"; fi; printf '%s  %s\n' "${r%% *}" "$p" >> "$T/h" ;;
      l) if [ -e "$r" ] && [ ! -L "$r" ]; then say "$id" "changed since the plan: $r is no longer a symlink"; fi ;;
      d) if [ -L "$r" ] || [ ! -d "$r" ]; then say "$id" "changed since the plan: $r is no longer a directory"; fi ;;
      n) if [ -L "$r" ] || [ ! -d "$r" ]; then say "$id" "changed since the plan: $r is no longer a directory (ordo does not write through symlinks)"; fi ;;
      x) ;;
    esac
  done
  if [ -s "$T/h" ] && ! sha256sum -c -- "$T/h" > "$T/hc" 2>&1; then grep -v ': OK$' "$T/hc" > "$O"; echo "changed since the plan: the content differs from what the plan saw" >> "$O"; fail "$1" 1; fi
}
mark() { { [ -d "${1%/*}" ] || mkdir -p -- "${1%/*}"; } && : > "$1"; }
nd() { i=$1; shift; for d in "$@"; do if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then say "$i" "changed since the plan: $d is no longer a directory (ordo does not write through symlinks)"; fi; done; }
"#;

/// What a target must still look like when its change is applied: what the probe
/// saw. Anything else fails the step with "changed since the plan".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Absent,
    File {
        sha: String,
    },
    Link,
    Dir,
    /// No check: a file of ordo's own (in its state directory).
    Any,
}

impl Expect {
    fn line(&self, step: StepId, path: &HostPath) -> String {
        let p = super::relative(path);
        match self {
            Expect::Absent => format!("a {step} {p}"),
            Expect::File { sha } => format!("f {step} {sha} {p}"),
            Expect::Link => format!("l {step} {p}"),
            Expect::Dir => format!("d {step} {p}"),
            Expect::Any => format!("x {step} {p}"),
        }
    }
}

/// One file of a pending group.
struct Staged {
    step: StepId,
    dir: HostPath,
    name: String,
    content: std::sync::Arc<[u8]>,
    mode: u32,
    owner: Option<String>,
    expect: Expect,
    path: HostPath,
    /// Directories on the way that must not be symlinks (see [`ApplyScript::no_links`]).
    parents: Vec<HostPath>,
}

/// An apply script being built. Primitives add their changes in plan order.
pub struct ApplyScript {
    text: String,
    functions: HashSet<&'static str>,
    group: Vec<Staged>,
    marked: HashSet<HostPath>,
    steps: usize,
    no_links: Option<(StepId, Vec<HostPath>)>,
    /// What closes a staging directory that lines left open (see
    /// [`line_keeping`](Self::line_keeping)).
    closing: Option<&'static str>,
}

impl Default for ApplyScript {
    fn default() -> Self {
        ApplyScript::new()
    }
}

impl ApplyScript {
    pub fn new() -> Self {
        ApplyScript {
            text: String::from(LIB),
            functions: HashSet::new(),
            group: Vec::new(),
            marked: HashSet::new(),
            steps: 0,
            no_links: None,
            closing: None,
        }
    }

    /// Defines a shell function a primitive's lines use (sent once per script).
    pub fn function(&mut self, name: &'static str, definition: &str) {
        if self.functions.insert(name) {
            self.text.push_str(definition);
            if !definition.ends_with('\n') {
                self.text.push('\n');
            }
        }
    }

    /// The directories between a component's root and the path `step` changes next:
    /// none of them may be a symlink (or anything but a directory) when the change
    /// is applied, whatever the probe saw — ordo does not write through symlinks.
    /// A file of `step` checks them before it is staged and again right before its
    /// rename; any other change, before its first line. The executor calls this
    /// before each change of a managed path.
    pub fn no_links(&mut self, step: StepId, dirs: Vec<HostPath>) {
        self.no_links = (!dirs.is_empty()).then_some((step, dirs));
    }

    /// A line of the script (after any pending file group).
    pub fn line(&mut self, text: &str) {
        self.flush();
        self.close();
        self.push_line(text);
    }

    /// A line that leaves a staging directory open for the next lines like it
    /// (consecutive symlinks in one directory share one): `close` is written before
    /// the next other line, and the exit trap removes what is left at the end.
    pub fn line_keeping(&mut self, text: &str, close: &'static str) {
        self.flush();
        if self.closing.is_some_and(|c| c != close) {
            self.close();
        }
        self.push_line(text);
        self.closing = Some(close);
    }

    fn close(&mut self) {
        if let Some(close) = self.closing.take() {
            self.text.push_str(close);
            self.text.push('\n');
        }
    }

    fn push_line(&mut self, text: &str) {
        if let Some((step, dirs)) = self.no_links.take() {
            let words: Vec<String> = dirs.iter().map(word).collect();
            let _ = writeln!(self.text, "nd {step} {}", words.join(" "));
        }
        self.text.push_str(text);
        self.text.push('\n');
    }

    /// Counts a step whose change this script applies.
    pub fn step(&mut self) {
        self.steps += 1;
    }

    /// Writes the pending marker `marker` (once per script) before `step`'s change:
    /// the step that watches it must still run if the deploy dies after the change.
    pub fn mark(&mut self, step: StepId, marker: &HostPath) {
        if self.marked.insert(marker.clone()) {
            self.line(&format!("mark {} || fail {step} 1", word(marker)));
        }
    }

    /// Writes `content` to `path` atomically with `mode` (and `owner`, `user:group`),
    /// when the target still looks as `expect` says. Consecutive files are batched.
    #[allow(clippy::too_many_arguments)]
    pub fn file(
        &mut self,
        step: StepId,
        path: &HostPath,
        content: std::sync::Arc<[u8]>,
        mode: u32,
        owner: Option<String>,
        expect: Expect,
    ) {
        let (dir, name) = path.split();
        let parents = match self.no_links.take() {
            Some((s, dirs)) if s == step => dirs,
            other => {
                self.no_links = other;
                Vec::new()
            }
        };
        self.group.push(Staged {
            step,
            dir,
            name,
            content,
            mode,
            owner,
            expect,
            path: path.clone(),
            parents,
        });
    }

    /// Whether nothing but the preamble is in the script.
    pub fn is_empty(&self) -> bool {
        self.steps == 0 && self.group.is_empty() && self.text.len() == LIB.len() + self.function_len()
    }

    fn function_len(&self) -> usize {
        0
    }

    pub fn finish(mut self) -> String {
        self.flush();
        self.text
    }

    /// Stages, checks and renames the pending file group.
    fn flush(&mut self) {
        if self.group.is_empty() {
            return;
        }
        self.close();
        let group = std::mem::take(&mut self.group);
        let s = &mut self.text;
        // Target directories in order of first use, each with its staging variable.
        let mut dirs: Vec<(HostPath, Vec<usize>)> = Vec::new();
        for (i, f) in group.iter().enumerate() {
            match dirs.iter_mut().find(|(d, _)| *d == f.dir) {
                Some((_, files)) => files.push(i),
                None => dirs.push((f.dir.clone(), vec![i])),
            }
        }
        // The directories on the way of each target directory (the same for every
        // file in it): checked before staging, and again with the targets.
        let parents = |files: &[usize]| -> &[HostPath] {
            files
                .iter()
                .map(|&i| group[i].parents.as_slice())
                .find(|p| !p.is_empty())
                .unwrap_or(&[])
        };
        for (k, (dir, files)) in dirs.iter().enumerate() {
            let first = group[files[0]].step;
            let on_the_way = parents(files);
            if !on_the_way.is_empty() {
                let words: Vec<String> = on_the_way.iter().map(word).collect();
                let _ = writeln!(s, "nd {first} {}", words.join(" "));
            }
            let _ = writeln!(s, "sg {first} {}; S{k}=$S", word(dir));
            for &i in files {
                let f = &group[i];
                let (id, n, m) = (f.step, quote(&f.name), creation_mode(f.mode));
                match std::str::from_utf8(&f.content) {
                    Ok(text) if f.content.len() <= INLINE_TEXT && !text.contains('\0') => {
                        let _ = writeln!(s, "wt {id} \"$S{k}\" {n} {m} {}", quote_always(text));
                    }
                    _ => {
                        let _ = write!(s, "wb {id} \"$S{k}\" {n} {m} <<'ORDO_EOF'\n{}", heredoc(&f.content));
                    }
                }
                if let Some(owner) = &f.owner {
                    let _ = writeln!(s, "ow {id} \"$S{k}\"/{n} {}", quote(owner));
                }
            }
        }
        // Every target still as the plan saw it, checked after staging (the slow
        // part) and right before the renames.
        let mut checks: String = group.iter().map(|f| f.expect.line(f.step, &f.path) + "\n").collect();
        for (_, files) in &dirs {
            let first = group[files[0]].step;
            for d in parents(files) {
                let _ = writeln!(checks, "n {first} {}", super::relative(d));
            }
        }
        let _ = write!(s, "ck {} <<'ORDO_EOF'\n{checks}ORDO_EOF\n", group[0].step);
        for (k, (dir, files)) in dirs.iter().enumerate() {
            let d = word(dir);
            let mut chunk: Vec<String> = Vec::new();
            let mut bytes = 0;
            let emit = |s: &mut String, chunk: &mut Vec<String>, first: StepId| {
                let _ = writeln!(s, "mv -f -t {d} -- {} >\"$O\" 2>&1 || fail {first} 1", chunk.join(" "));
                chunk.clear();
            };
            let mut first = group[files[0]].step;
            for &i in files {
                let staged = format!("\"$S{k}\"/{}", quote(&group[i].name));
                if chunk.is_empty() {
                    first = group[i].step;
                }
                bytes += staged.len();
                chunk.push(staged);
                if chunk.len() >= MV_CHUNK_FILES || bytes >= MV_CHUNK_BYTES {
                    emit(s, &mut chunk, first);
                    bytes = 0;
                }
            }
            if !chunk.is_empty() {
                emit(s, &mut chunk, first);
            }
            let _ = writeln!(s, "rmdir -- \"$S{k}\"");
        }
        for ids in group.chunks(200) {
            let _ = writeln!(
                s,
                "printf '%s ok\\n' {}",
                ids.iter().map(|f| f.step.to_string()).collect::<Vec<_>>().join(" ")
            );
        }
        self.steps += group.len();
    }
}

/// How `nw` gives a new file its final mode before any content: a mode that file
/// creation can produce (no execute or special bits) through the umask, a builtin
/// (`u0133` for 0644); any other with `chmod` (a process per file, which dominated
/// the apply time of many files).
pub(crate) fn creation_mode(m: u32) -> String {
    if m & !0o666 == 0 {
        format!("u{:04o}", 0o777 & !m)
    } else {
        mode(m)
    }
}

/// Result of one step in an apply script.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A removal that was skipped (a directory that is not empty).
    Kept,
    Failed {
        code: i32,
        output: String,
    },
}

/// What an apply script reported: each step's outcome, and the executor's own lines
/// (`state ok`, `unlock ok`, …) as (tag, rest).
#[derive(Debug, Default)]
pub struct Report {
    pub steps: Vec<(StepId, Outcome)>,
    /// Output a step reported although it succeeded (a migration's), for people to see.
    pub outputs: Vec<(StepId, String)>,
    pub extra: Vec<(String, String)>,
}

/// Parses `<id> ok` / `<id> kept` / `<id> fail <code> <base64>` and other lines.
pub fn parse(stdout: &str) -> Report {
    let mut report = Report::default();
    for line in stdout.lines() {
        let mut parts = line.splitn(4, ' ');
        let (Some(head), Some(tag)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(id) = head.parse::<usize>() else {
            report
                .extra
                .push((head.to_string(), line[head.len()..].trim_start().to_string()));
            continue;
        };
        let id = <StepId as crate::ids::Id>::new(id);
        match tag {
            "ok" => report.steps.push((id, Outcome::Ok)),
            "kept" => report.steps.push((id, Outcome::Kept)),
            "out" => {
                let text = parts
                    .next()
                    .and_then(super::decode)
                    .map(|b| super::window(b, OUTPUT_WINDOW, super::Keep::End))
                    .unwrap_or_default();
                report.outputs.push((id, text));
            }
            "fail" => {
                let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
                let output = parts
                    .next()
                    .and_then(super::decode)
                    .map(|b| super::window(b, OUTPUT_WINDOW, super::Keep::End))
                    .unwrap_or_default();
                report.steps.push((id, Outcome::Failed { code, output }));
            }
            _ => {}
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Id;

    #[test]
    fn the_preamble_detects_the_userland_and_checks_hashes_with_portable_options() {
        assert!(LIB.contains(super::super::userland::DETECT_SH));
        assert!(LIB.contains(super::super::userland::TIMEOUT_SH));
        assert!(!LIB.contains("--quiet"), "BusyBox's sha256sum has no --quiet");
    }

    #[test]
    fn files_are_staged_checked_then_renamed_per_directory() {
        let mut a = ApplyScript::new();
        let p = |s: &str| HostPath::new(s).unwrap();
        a.file(
            StepId::new(1),
            &p("~/etc/a b"),
            b"x".to_vec().into(),
            0o644,
            None,
            Expect::Absent,
        );
        a.file(
            StepId::new(2),
            &p("~/etc/c"),
            b"y".to_vec().into(),
            0o600,
            None,
            Expect::File { sha: "0".repeat(64) },
        );
        a.line("echo done");
        let s = a.finish();
        let body = &s[LIB.len()..];
        let stage = body.find("sg 1 ./etc; S0=$S").expect(body);
        let write = body.find("wt 2 \"$S0\" c u0177 'y'").expect(body);
        let check = body.find("ck 1 <<'ORDO_EOF'\na 1 ./etc/a b\nf 2 0000").expect(body);
        let rename = body.find("mv -f -t ./etc -- \"$S0\"/'a b' \"$S0\"/c").expect(body);
        let done = body.find("echo done").expect(body);
        assert!(
            stage < write && write < check && check < rename && rename < done,
            "{body}"
        );
    }

    #[test]
    fn directories_on_the_way_are_checked_before_staging_and_before_the_rename() {
        let mut a = ApplyScript::new();
        let p = |s: &str| HostPath::new(s).unwrap();
        a.no_links(StepId::new(1), vec![p("~/r/etc/sub"), p("~/r/etc")]);
        a.file(
            StepId::new(1),
            &p("~/r/etc/sub/a"),
            b"x".to_vec().into(),
            0o644,
            None,
            Expect::Absent,
        );
        a.no_links(StepId::new(2), vec![p("~/r/l")]);
        a.line("ln_ 2 ./r/l x y a");
        let s = a.finish();
        let body = &s[LIB.len()..];
        let before = body.find("nd 1 ./r/etc/sub ./r/etc\nsg 1 ./r/etc/sub").expect(body);
        let again = body.find("n 1 ./r/etc/sub\nn 1 ./r/etc\nORDO_EOF").expect(body);
        let rename = body.find("mv -f -t ./r/etc/sub").expect(body);
        let other = body.find("nd 2 ./r/l\nln_ 2").expect(body);
        assert!(before < again && again < rename && rename < other, "{body}");
    }

    #[test]
    fn a_staging_directory_kept_open_is_closed_before_any_other_line() {
        let mut a = ApplyScript::new();
        a.line_keeping("ln_ 1 a", "close-links");
        a.line_keeping("ln_ 2 b", "close-links");
        a.line("echo command");
        a.line_keeping("ln_ 3 c", "close-links");
        a.file(
            StepId::new(4),
            &HostPath::new("~/f").unwrap(),
            b"x".to_vec().into(),
            0o644,
            None,
            Expect::Absent,
        );
        let s = a.finish();
        let body = &s[LIB.len()..];
        assert!(
            body.starts_with("ln_ 1 a\nln_ 2 b\nclose-links\necho command\nln_ 3 c\nclose-links\nsg 4 ."),
            "{body}"
        );
        assert_eq!(body.matches("close-links").count(), 2, "{body}");
    }

    #[test]
    fn files_get_their_mode_from_the_umask_when_creation_can_give_it() {
        assert_eq!(creation_mode(0o644), "u0133");
        assert_eq!(creation_mode(0o600), "u0177");
        assert_eq!(creation_mode(0o755), "0755");
        assert_eq!(creation_mode(0o4644), "4644");
    }

    #[test]
    fn reads_outcomes() {
        let out = format!("1 ok\n2 kept\n3 fail 7 {}\nstate ok\n", "b3V0");
        let r = parse(&out);
        assert_eq!(r.steps[0], (StepId::new(1), Outcome::Ok));
        assert_eq!(r.steps[1], (StepId::new(2), Outcome::Kept));
        assert_eq!(
            r.steps[2],
            (
                StepId::new(3),
                Outcome::Failed {
                    code: 7,
                    output: "out".into()
                }
            )
        );
        assert_eq!(r.extra, vec![("state".to_string(), "ok".to_string())]);
    }
}
