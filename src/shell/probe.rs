//! The probe: one script per host that finds out everything the host's steps need to
//! verify — type, mode, owner and link target of every managed path, the sha256 of
//! every managed file, old contents for diffs, guard exit codes, pending markers —
//! in one round trip, forking a constant number of processes however many paths
//! there are (decision 10).
//!
//! Paths travel to the host as one NUL-delimited list, written to a file by the
//! `printf` builtin, and reach `find` and `sha256sum` through `xargs -0`, so no
//! argv limit is hit (a short list of files to hash is `find`'s own arguments);
//! the host's answers come back base64-encoded (link targets and contents are the
//! host's bytes, and a crafted name must not be able to forge a line). Hashes are
//! compared in Rust. Errors of `find`/`sha256sum` other than "no such file" are
//! reported, never hidden.
//!
//! The script first checks the host contract and finds out whether the host's
//! userland is GNU or BusyBox, with builtins only ([`super::userland`]); the one
//! fragment that differs is how paths are inspected: GNU `find -printf` (`F`),
//! BusyBox `stat -c` (`B`, and `BL` for link targets).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::time::Duration;

use super::userland::{self, Userland};
use super::{quote, quote_always, relative, word};
use crate::host_path::HostPath;
use crate::ids::StepId;

/// How many changed files' old contents one probe ships for diffs, and the size
/// limit of each (bigger ones are shown as "content changed").
const MAX_DIFFS: usize = 200;
pub const MAX_DIFF_BYTES: usize = 256 * 1024;

/// Up to this many bytes of paths, the files to hash are `find`'s own arguments
/// (far below any ARG_MAX); beyond, they travel through `xargs`.
const DIRECT_ARGV_BYTES: usize = 32 * 1024;

/// A guard runs in the background under `timeout` (`$P`), which leads a process
/// group of its own: the signal trap passes a stop on to it (see `apply::LIB`).
const LIB: &str = r#"HOME=${HOME%/}
T=$(mktemp -d) || { echo 'fatal cannot create a temporary directory'; exit 97; }
trap 'rm -rf -- "$T"' EXIT
trap '[ -z "${P:-}" ] || kill -TERM "$P" 2>/dev/null; exit 143' TERM INT HUP
cd -- "$HOME" 2>/dev/null || { mkdir -- "$T/e" && cd -- "$T/e"; } || exit 97
u=; if [ -r /proc/self/status ]; then while read -r k a b x; do [ "$k" != Uid: ] || { u=$b; break; }; done < /proc/self/status; fi; echo "uid ${u:-$(id -u)}"
pu() { if [ -d "$3" ]; then d=$3; else d=$T/e; mkdir -p -- "$d"; fi; if [ ! -x "$d" ]; then echo "R $1 $2 cd"; return; fi; printf '%s' "$4" > "$T/g"; ( cd -- "$d" && tmo 5 "$5" sh "$T/g" ) </dev/null >/dev/null 2>&1 & P=$!; wait "$P"; r=$?; P=; [ -z "$ub" ] || [ "$r" != 143 ] || r=124; echo "R $1 $2 $r"; }
ex() { if [ -e "$3" ] || [ -L "$3" ]; then echo "X $1 $2"; fi; }
"#;

/// The loop behind [`ProbeScript::writable`]: one `W` line per directory asked about.
const WRITABLE_SH: &str = r#"while IFS= read -r w; do d=$w; while [ ! -e "$d" ] && [ ! -L "$d" ]; do case $d in */*) d=${d%/*}; d=${d:-/} ;; *) d=.; break ;; esac; done; if [ ! -d "$d" ]; then c=d; elif [ ! -w "$d" ] || [ ! -x "$d" ]; then c=w; elif [ "$d" = "$w" ] && [ -k "$d" ] && [ ! -O "$d" ]; then c=t; else c=y; fi; printf 'W %s %s\t%s\n' "$c" "$w" "$d"; done < "$T/wd"
"#;

/// Renders the shell snippet of a gathered fact from the items all steps asked about.
pub type GatherFn = fn(&BTreeSet<String>) -> String;

/// What one host's probe must find out; primitives add to it, [`Facts`] is the answer.
pub struct ProbeScript {
    functions: BTreeMap<&'static str, &'static str>,
    stat: BTreeSet<String>,
    hash: BTreeMap<String, (String, bool)>,
    owned: Option<HostPath>,
    gathered: BTreeMap<&'static str, (GatherFn, BTreeSet<String>)>,
    writable: BTreeSet<String>,
    body: String,
    timeout: Duration,
}

impl ProbeScript {
    /// `timeout`: how long a guard command may run.
    pub fn new(timeout: Duration) -> Self {
        ProbeScript {
            functions: BTreeMap::new(),
            stat: BTreeSet::new(),
            hash: BTreeMap::new(),
            owned: None,
            gathered: BTreeMap::new(),
            writable: BTreeSet::new(),
            body: String::new(),
            timeout,
        }
    }

    /// Type, mode, owner and link target of `path` (not following a symlink).
    pub fn stat(&mut self, path: &HostPath) {
        self.stat.insert(relative(path));
    }

    /// The sha256 of the regular file at `path` (implies [`stat`](Self::stat)); with
    /// `diff`, its old content too when it differs from `expected`, is world-readable
    /// and small enough to show.
    pub fn hash(&mut self, path: &HostPath, expected: &str, diff: bool) {
        let form = relative(path);
        self.stat.insert(form.clone());
        let entry = self.hash.entry(form).or_insert_with(|| (expected.to_string(), diff));
        entry.1 |= diff;
    }

    /// The exit code of `command` run with `sh -c` in `cwd` (a guard). Before `cwd`
    /// exists it runs in an empty directory, so relative paths find nothing — as on
    /// the host before the deploy creates it.
    pub fn exit_code(&mut self, step: StepId, key: &str, cwd: &HostPath, command: &str) {
        let _ = writeln!(
            self.body,
            "pu {step} {key} {} {} {}",
            word(cwd),
            quote_always(command),
            self.timeout.as_secs().max(1)
        );
    }

    /// Defines a shell function that [`fact`](Self::fact) snippets use (sent once per
    /// probe, whatever the number of steps that need it).
    pub fn function(&mut self, name: &'static str, definition: &'static str) {
        self.functions.entry(name).or_insert(definition);
    }

    /// Whether something (anything, a dangling symlink included) exists at `path`.
    pub fn exists(&mut self, step: StepId, key: &str, path: &HostPath) {
        let _ = writeln!(self.body, "ex {step} {key} {}", word(path));
    }

    /// What the shell snippet prints (stderr discarded), as a value fact.
    pub fn fact(&mut self, step: StepId, key: &str, shell: &str) {
        let _ = writeln!(
            self.body,
            "printf 'V {step} {key} '; {{ {shell}\n}} 2>/dev/null | base64 -w0; echo"
        );
    }

    /// A fact of the whole host that several steps share: the items every step
    /// asks about under `key` are merged, and `render` turns them into one snippet
    /// that runs once (one process for all of a host's packages, one `sudo -n`
    /// check). Its stdout comes back as [`Facts::gathered`]. Every step asking
    /// under one key must pass the same `render`.
    pub fn gather(&mut self, key: &'static str, items: impl IntoIterator<Item = String>, render: GatherFn) {
        self.gathered
            .entry(key)
            .or_insert_with(|| (render, BTreeSet::new()))
            .1
            .extend(items);
    }

    /// Whether the login user may create entries in the directory `dir` — or, when
    /// it does not exist yet, create it: its nearest existing ancestor must be a
    /// directory the login user may write and enter. Answered by the shell's `test`
    /// builtin (exact for the login user: ACLs, read-only mounts, root), for every
    /// directory asked about in one loop without a process; see [`Facts::access`].
    pub fn writable(&mut self, dir: &HostPath) {
        self.writable.insert(relative(dir));
    }

    /// Reads the list of paths ordo created (`kind<TAB>path<TAB>name` lines) and
    /// stats them too, so removals are planned in the same round trip. Lines whose
    /// path is not in the `./x` or `/x` form are not passed on.
    pub fn owned(&mut self, file: &HostPath) {
        self.owned = Some(file.clone());
    }

    /// The whole script; `head` (lock, state) runs right after the preamble.
    pub fn render(&self, head: &str) -> String {
        let mut s = String::with_capacity(2048 + self.stat.len() * 80 + self.body.len());
        s.push_str("umask 077\n");
        s.push_str(&userland::check_sh());
        s.push_str(LIB);
        s.push_str(userland::DETECT_SH);
        s.push_str(userland::TIMEOUT_SH);
        s.push_str(
            "if [ -n \"$ub\" ]; then command -v stat >/dev/null 2>&1 || { echo 'unsupported stat'; exit 0; }; echo 'userland busybox'; else echo 'userland gnu'; fi\n",
        );
        for f in self.functions.values() {
            s.push_str(f);
            if !f.ends_with('\n') {
                s.push('\n');
            }
        }
        s.push_str(head);
        if let Some(owned) = &self.owned {
            // Unreadable, the deploy would forget what it created (and rewrite
            // the list without it).
            s.push_str(&record_line("owned", owned));
        }
        // The lists of paths are the script's own words (paths never hold a newline,
        // see `HostPath::check`), written by the `printf` builtin: no process.
        if !self.stat.is_empty() || self.owned.is_some() {
            s.push_str("{ ");
            if !self.stat.is_empty() {
                let _ = write!(s, "printf '%s\\0' {}; ", words(self.stat.iter()));
            }
            if let Some(owned) = &self.owned {
                // The record is the host's: only its `./x` and `/x` paths reach
                // `find`, never a line that `find` would read as an option.
                let f = word(owned);
                let _ = write!(
                    s,
                    "[ ! -f {f} ] || awk -F '\\t' 'substr($2, 1, 2) == \"./\" || substr($2, 1, 1) == \"/\" {{ printf \"%s%c\", $2, 0 }}' {f}; "
                );
            }
            s.push_str("} > \"$T/p\"\n");
            s.push_str(&stat_sh());
        }
        if !self.hash.is_empty() {
            // A short list goes straight to `find` (no `xargs`, no `sh`); a long one
            // through a file, so no argv limit is ever reached.
            let bytes: usize = self.hash.keys().map(|p| p.len() + 3).sum();
            if bytes <= DIRECT_ARGV_BYTES {
                let words: Vec<String> = self.hash.keys().map(|p| quote(p)).collect();
                let _ = writeln!(
                    s,
                    "LC_ALL=C find {} -maxdepth 0 -type f -exec sha256sum -- {{}} + > \"$T/s\" 2>>\"$T/err\"",
                    words.join(" ")
                );
            } else {
                let _ = writeln!(s, "printf '%s\\0' {} > \"$T/f\"", words(self.hash.keys()));
                s.push_str(
                    "LC_ALL=C xargs -0 -r sh -c 'exec find \"$@\" -maxdepth 0 -type f -exec sha256sum -- {} +' sh < \"$T/f\" > \"$T/s\" 2>>\"$T/err\"\n",
                );
            }
            s.push_str("printf 'S '; base64 -w0 < \"$T/s\"; echo\n");
            let wanted: String = self
                .hash
                .iter()
                .filter(|(_, (_, diff))| *diff)
                .map(|(p, (sha, _))| format!("{sha}\t{p}\n"))
                .collect();
            if !wanted.is_empty() {
                // awk picks the changed files (at most MAX_DIFFS); `find` keeps the
                // readable, small ones. On a deploy with nothing to change, awk is
                // the only process.
                let _ = writeln!(s, "printf '%s' {} > \"$T/w\"", quote_always(&wanted));
                let _ = writeln!(
                    s,
                    "awk -F '\\t' 'NR == FNR {{ w[$2] = $1; next }} {{ p = substr($0, 67); if ((p in w) && w[p] != substr($0, 1, 64) && n++ < {MAX_DIFFS}) printf \"%s%c\", p, 0 }}' \"$T/w\" \"$T/s\" > \"$T/d\"\n\
                     if [ -s \"$T/d\" ]; then LC_ALL=C xargs -0 -r sh -c 'exec find \"$@\" -maxdepth 0 -type f -perm -0004 -size -{}c -print' sh < \"$T/d\" > \"$T/o\" 2>/dev/null\n\
                     while IFS= read -r p; do printf 'O '; base64 -w0 < \"$p\"; printf ' %s\\n' \"$p\"; done < \"$T/o\"; fi",
                    MAX_DIFF_BYTES + 1
                );
            }
        }
        // Errors other than "does not exist" mean the answer is incomplete.
        s.push_str(
            "if [ -s \"$T/err\" ]; then grep -v -e 'No such file or directory$' -e 'Not a directory$' \"$T/err\" > \"$T/e2\"; if [ -s \"$T/e2\" ]; then printf 'E '; head -c 4001 \"$T/e2\" | base64 -w0; echo; fi; fi\n",
        );
        if !self.writable.is_empty() {
            // Up to the nearest existing ancestor (`/` and `.` always exist), then
            // the builtins decide: `d` not a directory, `w` not writable or not
            // enterable, `t` a sticky directory of another user, `y` writable.
            let _ = writeln!(s, "printf '%s\\n' {} > \"$T/wd\"", words(self.writable.iter()));
            s.push_str(WRITABLE_SH);
            // Only a plain name is passed on: nothing the host says can forge a line.
            s.push_str("case ${LOGNAME:-} in ''|*[!A-Za-z0-9._-]*) ;; *) echo \"login $LOGNAME\" ;; esac\n");
        }
        for (key, (render, items)) in &self.gathered {
            let _ = writeln!(
                s,
                "printf 'G {key} '; {{ {}\n}} 2>/dev/null | base64 -w0; echo",
                render(items)
            );
        }
        s.push_str(&self.body);
        s.push_str("echo end\n");
        s
    }
}

/// `paths` as words of the `printf` builtin (never a process's argv).
fn words<'a>(paths: impl Iterator<Item = &'a String>) -> String {
    paths.map(|p| quote_always(p)).collect::<Vec<_>>().join(" ")
}

/// The line that inspects every path of `$T/p` (NUL-delimited): GNU `find -printf`
/// (`F`: `%y %m %U %G %p\0%l\0` per path); BusyBox `stat -c` (`B`: raw mode in hex,
/// owner, group and path per line; then `BL`: the links' `'path' -> 'target'`,
/// each record ended by a nonce of this script, which a link target cannot
/// contain unless it guesses it). Either way one process inspects every path.
fn stat_sh() -> String {
    let nonce = nonce();
    format!(
        "if [ -n \"$ub\" ]; then printf 'B '; LC_ALL=C xargs -0 -r stat -c '%f %u %g %n' < \"$T/p\" 2>\"$T/err\" > \"$T/b\"; base64 -w0 < \"$T/b\"; echo\n\
         awk 'length($1) == 4 && substr($1, 1, 1) == \"a\" {{ sub(/^[^ ]+ [^ ]+ [^ ]+ /, \"\"); printf \"%s%c\", $0, 0 }}' \"$T/b\" > \"$T/l\"\n\
         if [ -s \"$T/l\" ]; then printf 'BL {nonce} '; LC_ALL=C xargs -0 -r stat -c '%N{nonce}' < \"$T/l\" 2>>\"$T/err\" | base64 -w0; echo; fi\n\
         else printf 'F '; LC_ALL=C xargs -0 -r sh -c 'exec find \"$@\" -maxdepth 0 -printf \"%y %m %U %G %p\\0%l\\0\"' sh < \"$T/p\" 2>\"$T/err\" | base64 -w0; echo; fi\n"
    )
}

/// 32 hex digits no host can predict (the std hasher's random keys).
fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for i in 0..2u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let _ = write!(out, "{:016x}", h.finish());
    }
    out
}

/// What kind of thing is at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    Absent,
    File,
    Dir,
    Link,
    /// A socket, fifo or device.
    Other,
}

/// What the probe found at one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathFacts {
    pub kind: PathKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// A symlink's target, as the host's bytes.
    pub target: Option<Vec<u8>>,
    /// sha256 of a regular file that was hashed.
    pub sha: Option<String>,
    /// The old content, when it was shipped for a diff.
    pub old: Option<Vec<u8>>,
}

impl PathFacts {
    const ABSENT: PathFacts = PathFacts {
        kind: PathKind::Absent,
        mode: 0,
        uid: 0,
        gid: 0,
        target: None,
        sha: None,
        old: None,
    };
}

/// What the login user may do in a directory (see [`ProbeScript::writable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// It exists, or can be created: its nearest existing ancestor is writable.
    Writable,
    /// It exists, is writable and sticky, and belongs to another user: only
    /// entries of the login user's own may be replaced or removed there.
    Sticky,
    /// The nearest existing ancestor (the directory itself when it exists) may
    /// not be written or entered by the login user.
    ReadOnly { nearest: String },
    /// The nearest existing thing on the way is not a directory (a file, a
    /// dangling symlink).
    NotDir { nearest: String },
}

/// The answer of a guard or a value fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepFact {
    /// Exit code of a guard (124 and 137: it timed out and was killed).
    Code(i32),
    /// The guard's directory exists but cannot be entered.
    CannotEnter,
    Exists,
    Value(Vec<u8>),
}

/// Everything one probe found out.
#[derive(Debug, Default)]
pub struct Facts {
    /// The login's uid on the host (0: ordo runs as root there).
    pub uid: Option<u32>,
    /// The login user's name (`$LOGNAME`), for messages, when the probe asked
    /// whether paths are writable and the name is a plain one.
    pub login: Option<String>,
    /// GNU or BusyBox (see [`userland`]).
    pub userland: Option<Userland>,
    paths: HashMap<String, PathFacts>,
    /// The links of a BusyBox `B` answer, in order, for the `BL` answer after it.
    links: Vec<String>,
    steps: HashMap<(StepId, String), StepFact>,
    gathered: HashMap<String, Vec<u8>>,
    access: HashMap<String, Access>,
    /// The list of paths ordo created, as recorded on the host (raw text).
    pub owned: Option<Vec<u8>>,
    /// Lines the probe's `head` printed (lock, state…), for the executor: (tag, rest).
    pub extra: Vec<(String, String)>,
}

/// The probe's output could not be read, or the host cannot be deployed to: what,
/// and what to do when it is not the usual "check the host and run again".
#[derive(Debug)]
pub struct ProbeError(pub String, pub Option<String>);

/// The probe line that reports one of ordo's records on the host, `TAG <base64>`
/// when the file is there. A record that is there but cannot be read is not one
/// that is absent (or empty): it fails the probe with the host's words (`E`).
pub(crate) fn record_line(tag: &str, file: &HostPath) -> String {
    let f = word(file);
    format!(
        "if [ -f {f} ]; then printf '{tag} '; base64 -w0 2>\"$T/rec\" < {f} || {{ echo; printf 'E '; base64 -w0 < \"$T/rec\"; }}; echo; fi\n"
    )
}

impl ProbeError {
    fn new(what: String) -> ProbeError {
        ProbeError(what, None)
    }
}

impl Facts {
    /// What is at `path` (absent when the probe did not see it).
    pub fn path(&self, path: &HostPath) -> &PathFacts {
        self.paths.get(&relative(path)).unwrap_or(&PathFacts::ABSENT)
    }

    /// The same, by the form the scripts use (`./x`, `/x`).
    pub fn path_form(&self, form: &str) -> &PathFacts {
        self.paths.get(form).unwrap_or(&PathFacts::ABSENT)
    }

    pub fn step(&self, step: StepId, key: &str) -> Option<&StepFact> {
        self.steps.get(&(step, key.to_string()))
    }

    /// What the login user may do in `dir`, when the probe asked
    /// ([`ProbeScript::writable`]). Nearest ancestors are in the scripts' form
    /// (`./x`, `/x`).
    pub fn access(&self, dir: &HostPath) -> Option<&Access> {
        self.access.get(&relative(dir))
    }

    /// What a gathered snippet printed (see [`ProbeScript::gather`]).
    pub fn gathered(&self, key: &str) -> Option<&[u8]> {
        self.gathered.get(key).map(Vec::as_slice)
    }

    /// Reads a probe's standard output.
    pub fn parse(stdout: &str) -> Result<Facts, ProbeError> {
        let mut facts = Facts::default();
        let mut ended = false;
        let bad = |line: &str| ProbeError::new(format!("unexpected probe output: {}", preview(line)));
        for line in stdout.lines() {
            if line.is_empty() {
                continue;
            }
            if ended {
                return Err(bad(line));
            }
            let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
            match tag {
                "end" => ended = true,
                "uid" => facts.uid = rest.trim().parse().ok(),
                "login" => facts.login = Some(rest.to_string()),
                "userland" => {
                    facts.userland = match rest.trim() {
                        "busybox" => Some(Userland::BusyBox),
                        _ => Some(Userland::Gnu),
                    }
                }
                "unsupported" => {
                    let (what, help) = userland::unsupported(rest);
                    return Err(ProbeError(what, Some(help)));
                }
                "F" => facts.read_stats(&decode(rest, line)?).map_err(|()| bad(line))?,
                "B" => facts.read_busybox_stats(&decode(rest, line)?).map_err(|()| bad(line))?,
                "BL" => {
                    let (nonce, value) = rest.split_once(' ').ok_or_else(|| bad(line))?;
                    facts
                        .read_busybox_links(nonce, &decode(value, line)?)
                        .map_err(|()| bad(line))?;
                }
                "S" => {
                    let sums = decode(rest, line)?;
                    for l in String::from_utf8_lossy(&sums).lines() {
                        if l.len() < 67 || !l.is_char_boundary(64) || !l.is_char_boundary(66) {
                            return Err(bad(l));
                        }
                        let (sha, path) = (&l[..64], &l[66..]);
                        facts.paths.entry(path.to_string()).or_insert(PathFacts::ABSENT).sha = Some(sha.into());
                    }
                }
                "O" => {
                    let (content, path) = rest.split_once(' ').ok_or_else(|| bad(line))?;
                    let content = decode(content, line)?;
                    if content.len() <= MAX_DIFF_BYTES {
                        facts.paths.entry(path.to_string()).or_insert(PathFacts::ABSENT).old = Some(content);
                    }
                }
                "E" => {
                    // 4,000 bytes; one more shows a cut (`super::window`).
                    let text = super::window(decode(rest, line)?, 4000, super::Keep::Start);
                    if text.contains("-printf") {
                        let (what, help) = userland::foreign_find(&text);
                        return Err(ProbeError(what, Some(help)));
                    }
                    return Err(ProbeError::new(format!(
                        "the host could not inspect every managed path:\n{}",
                        text.trim_end()
                    )));
                }
                "owned" => facts.owned = Some(decode(rest, line)?),
                "W" => {
                    let (code, paths) = rest.split_once(' ').ok_or_else(|| bad(line))?;
                    let (dir, nearest) = paths.split_once('\t').ok_or_else(|| bad(line))?;
                    let nearest = nearest.to_string();
                    let access = match code {
                        "y" => Access::Writable,
                        "t" => Access::Sticky,
                        "w" => Access::ReadOnly { nearest },
                        "d" => Access::NotDir { nearest },
                        _ => return Err(bad(line)),
                    };
                    facts.access.insert(dir.to_string(), access);
                }
                "G" => {
                    let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
                    facts.gathered.insert(key.to_string(), decode(value, line)?);
                }
                "R" | "X" | "V" => {
                    let mut parts = rest.splitn(3, ' ');
                    let (Some(id), Some(key)) = (parts.next(), parts.next()) else {
                        return Err(bad(line));
                    };
                    let id: usize = id.parse().map_err(|_| bad(line))?;
                    let value = parts.next().unwrap_or("");
                    let fact = match tag {
                        "R" if value == "cd" => StepFact::CannotEnter,
                        "R" => StepFact::Code(value.trim().parse().map_err(|_| bad(line))?),
                        "X" => StepFact::Exists,
                        _ => StepFact::Value(decode(value, line)?),
                    };
                    facts
                        .steps
                        .insert((<StepId as crate::ids::Id>::new(id), key.to_string()), fact);
                }
                "fatal" => return Err(ProbeError::new(format!("the probe could not start: {rest}"))),
                _ => facts.extra.push((tag.to_string(), rest.to_string())),
            }
        }
        if !ended {
            return Err(ProbeError::new(
                "the probe's output ended early (the host's shell stopped before it finished)".into(),
            ));
        }
        Ok(facts)
    }

    /// BusyBox `stat -c '%f %u %g %n'` lines: the raw mode in hex (type and
    /// permission bits), owner, group, path (paths never hold a newline).
    fn read_busybox_stats(&mut self, bytes: &[u8]) -> Result<(), ()> {
        let text = std::str::from_utf8(bytes).map_err(|_| ())?;
        for line in text.lines() {
            let mut parts = line.splitn(4, ' ');
            let (Some(raw), Some(uid), Some(gid), Some(path)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(());
            };
            let raw = u32::from_str_radix(raw, 16).map_err(|_| ())?;
            let kind = match raw & 0o170_000 {
                0o100_000 => PathKind::File,
                0o040_000 => PathKind::Dir,
                0o120_000 => PathKind::Link,
                _ => PathKind::Other,
            };
            if kind == PathKind::Link {
                self.links.push(path.to_string());
            }
            let entry = self.paths.entry(path.to_string()).or_insert(PathFacts::ABSENT);
            entry.kind = kind;
            entry.mode = raw & 0o7777;
            entry.uid = uid.parse().map_err(|_| ())?;
            entry.gid = gid.parse().map_err(|_| ())?;
            entry.target = None;
        }
        Ok(())
    }

    /// BusyBox `stat -c '%N<nonce>'` of the links of the `B` answer, in their order:
    /// `'path' -> 'target'<nonce>\n` each. The target is the host's bytes (it may
    /// hold a newline or `' -> '`); the nonce ends it.
    fn read_busybox_links(&mut self, nonce: &str, bytes: &[u8]) -> Result<(), ()> {
        let end = format!("'{nonce}\n").into_bytes();
        let mut rest = bytes;
        for path in std::mem::take(&mut self.links) {
            let head = format!("'{path}' -> '").into_bytes();
            // A link that vanished between the two `stat`s has no record.
            let Some(after) = rest.strip_prefix(head.as_slice()) else {
                continue;
            };
            let at = after.windows(end.len()).position(|w| w == end.as_slice()).ok_or(())?;
            if let Some(entry) = self.paths.get_mut(&path) {
                entry.target = Some(after[..at].to_vec());
            }
            rest = &after[at + end.len()..];
        }
        if rest.is_empty() { Ok(()) } else { Err(()) }
    }

    fn read_stats(&mut self, bytes: &[u8]) -> Result<(), ()> {
        let mut fields = bytes.split(|b| *b == 0);
        while let Some(head) = fields.next() {
            if head.is_empty() {
                break;
            }
            let target = fields.next().ok_or(())?;
            let head = std::str::from_utf8(head).map_err(|_| ())?;
            let mut parts = head.splitn(5, ' ');
            let (Some(kind), Some(mode), Some(uid), Some(gid), Some(path)) =
                (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(());
            };
            let kind = match kind {
                "f" => PathKind::File,
                "d" => PathKind::Dir,
                "l" => PathKind::Link,
                _ => PathKind::Other,
            };
            let entry = self.paths.entry(path.to_string()).or_insert(PathFacts::ABSENT);
            entry.kind = kind;
            entry.mode = u32::from_str_radix(mode, 8).map_err(|_| ())?;
            entry.uid = uid.parse().map_err(|_| ())?;
            entry.gid = gid.parse().map_err(|_| ())?;
            entry.target = (kind == PathKind::Link).then(|| target.to_vec());
        }
        Ok(())
    }
}

fn decode(text: &str, line: &str) -> Result<Vec<u8>, ProbeError> {
    super::decode(text).ok_or_else(|| ProbeError::new(format!("unexpected probe output: {}", preview(line))))
}

/// The start of a line, with control characters made visible.
fn preview(line: &str) -> String {
    line.chars()
        .take(120)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Word for a path in the probe's own lines (for primitives that add facts).
pub fn path_word(path: &HostPath) -> String {
    word(path)
}

/// Quoting for primitives that add facts.
pub fn shell_word(s: &str) -> String {
    quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn reads_stats_hashes_and_old_contents() {
        let stats = b"f 644 1000 1000 ./etc/app.conf\0\0l 777 1000 1000 ./current\0releases/1\nx\0d 755 0 0 /srv\0\0";
        let sha = "a".repeat(64);
        let sums = format!("{sha}  ./etc/app.conf\n");
        let out = format!(
            "uid 1000\nF {}\nS {}\nO {} ./etc/app.conf\nR 3 unless 1\nX 4 pending\nV 5 version {}\nlock ok\nend\n",
            b64(stats),
            b64(sums.as_bytes()),
            b64(b"old\n"),
            b64(b"3.11")
        );
        let facts = Facts::parse(&out).unwrap();
        let conf = facts.path(&HostPath::new("~/etc/app.conf").unwrap());
        assert_eq!((conf.kind, conf.mode, conf.uid), (PathKind::File, 0o644, 1000));
        assert_eq!(conf.sha.as_deref(), Some(sha.as_str()));
        assert_eq!(conf.old.as_deref(), Some(&b"old\n"[..]));
        let link = facts.path(&HostPath::new("~/current").unwrap());
        assert_eq!(
            link.target.as_deref(),
            Some(&b"releases/1\nx"[..]),
            "a target with a newline cannot forge lines"
        );
        assert_eq!(facts.path(&HostPath::new("/srv").unwrap()).kind, PathKind::Dir);
        assert_eq!(facts.path(&HostPath::new("~/nothing").unwrap()).kind, PathKind::Absent);
        let id = |n| <StepId as crate::ids::Id>::new(n);
        assert_eq!(facts.step(id(3), "unless"), Some(&StepFact::Code(1)));
        assert_eq!(facts.step(id(4), "pending"), Some(&StepFact::Exists));
        assert_eq!(facts.step(id(5), "version"), Some(&StepFact::Value(b"3.11".to_vec())));
        assert_eq!(facts.extra, vec![("lock".to_string(), "ok".to_string())]);
        assert_eq!(facts.uid, Some(1000));
    }

    #[test]
    fn reads_busybox_stats_and_link_targets_ended_by_the_nonce() {
        let stats =
            "81a4 1000 1000 ./etc/app.conf\na1ff 1000 1000 ./cur rent\n41ed 0 0 /srv\n89ed 0 0 /s\na1ff 0 0 ./l2\n";
        let nonce = "0123abcd";
        let links = format!("'./cur rent' -> 'releases/1\n' -> 'x'{nonce}\n'./l2' -> 'a'{nonce}\n");
        let out = format!(
            "uid 1000\nuserland busybox\nB {}\nBL {nonce} {}\nend\n",
            b64(stats.as_bytes()),
            b64(links.as_bytes())
        );
        let facts = Facts::parse(&out).unwrap();
        assert_eq!(facts.userland, Some(Userland::BusyBox));
        let conf = facts.path(&HostPath::new("~/etc/app.conf").unwrap());
        assert_eq!((conf.kind, conf.mode, conf.uid), (PathKind::File, 0o644, 1000));
        let link = facts.path(&HostPath::new("~/cur rent").unwrap());
        assert_eq!((link.kind, link.mode), (PathKind::Link, 0o777));
        assert_eq!(
            link.target.as_deref(),
            Some(&b"releases/1\n' -> 'x"[..]),
            "a target with a newline or an arrow cannot forge a record"
        );
        assert_eq!(
            facts.path(&HostPath::new("~/l2").unwrap()).target.as_deref(),
            Some(&b"a"[..])
        );
        assert_eq!(facts.path(&HostPath::new("/srv").unwrap()).kind, PathKind::Dir);
        let setuid = facts.path(&HostPath::new("/s").unwrap());
        assert_eq!((setuid.kind, setuid.mode), (PathKind::File, 0o4755));
        let forged = format!(
            "uid 1\nB {}\nBL {nonce} {}\nend\n",
            b64(stats.as_bytes()),
            b64(b"'./cur rent' -> 'x'\n")
        );
        assert!(
            Facts::parse(&forged).is_err(),
            "a record without the nonce is no answer"
        );
    }

    #[test]
    fn a_host_without_the_contract_is_refused_with_what_it_lacks() {
        let err = Facts::parse("unsupported timeout /proc\n").unwrap_err();
        assert!(
            err.0.contains("no `timeout`") && err.0.contains("no /proc"),
            "{}",
            err.0
        );
        assert!(err.1.unwrap().contains("docs/hosts.md"));
        let err = Facts::parse(&format!(
            "E {}\nend\n",
            b64(b"find: -printf: unknown primary or operator\n")
        ))
        .unwrap_err();
        assert!(err.0.contains("its `find` has no `-printf`"), "{}", err.0);
        let s = ProbeScript::new(Duration::from_secs(1)).render("");
        assert!(
            s.find("unsupported").unwrap() < s.find("T=$(mktemp").unwrap(),
            "checked before anything runs: {s}"
        );
    }

    #[test]
    fn a_cut_short_or_garbled_probe_is_an_error() {
        assert!(Facts::parse("uid 1\n").unwrap_err().0.contains("ended early"));
        assert!(Facts::parse("F !!!\nend\n").is_err());
        assert!(Facts::parse("end\nuid 1\n").is_err(), "nothing may follow `end`");
        let err = Facts::parse(&format!("E {}\nend\n", b64(b"find: './x': Permission denied\n"))).unwrap_err();
        assert!(err.0.contains("Permission denied"), "{}", err.0);
    }

    #[test]
    fn gathered_facts_merge_their_items_and_run_once() {
        fn render(items: &BTreeSet<String>) -> String {
            format!("echo {}", items.iter().cloned().collect::<Vec<_>>().join(" "))
        }
        let mut p = ProbeScript::new(Duration::from_secs(60));
        p.gather("pkgs", ["curl".to_string()], render);
        p.gather("pkgs", ["bash".to_string(), "curl".to_string()], render);
        let s = p.render("");
        assert_eq!(s.matches("printf 'G pkgs '").count(), 1, "{s}");
        assert!(s.contains("{ echo bash curl\n} 2>/dev/null | base64 -w0"), "{s}");
        let facts = Facts::parse(&format!("G pkgs {}\nG none \nend\n", b64(b"bash 5.2\n"))).unwrap();
        assert_eq!(facts.gathered("pkgs"), Some(&b"bash 5.2\n"[..]));
        assert_eq!(facts.gathered("none"), Some(&b""[..]));
        assert_eq!(facts.gathered("other"), None);
    }

    #[test]
    fn the_shell_tells_where_the_login_user_may_create_paths() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_str().unwrap().to_string();
        std::fs::create_dir(dir.path().join("a b")).unwrap();
        std::fs::write(dir.path().join("f"), "").unwrap();
        let sticky = dir.path().join("s");
        std::fs::create_dir(&sticky).unwrap();
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let other = std::process::Command::new("chown").arg("65534").arg(&sticky).status();
        let path = |rel: &str| HostPath::new(&format!("{base}/{rel}")).unwrap();
        let mut p = ProbeScript::new(Duration::from_secs(60));
        for rel in ["a b/new/deeper", "f/x", "s", "a b"] {
            p.writable(&path(rel));
        }
        let run = |login: &str| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(p.render(""))
                .env("HOME", dir.path())
                .env("LOGNAME", login)
                .output()
                .unwrap();
            Facts::parse(&String::from_utf8_lossy(&out.stdout)).unwrap()
        };
        let crafted = run("x\nW y /etc\t/etc");
        assert_eq!(crafted.login, None, "only a plain name is passed on");
        assert_eq!(crafted.access(&HostPath::new("/etc").unwrap()), None);
        let facts = run("deploy");
        assert_eq!(facts.login.as_deref(), Some("deploy"));
        let uid_is_root = facts.uid == Some(0);
        assert_eq!(facts.access(&path("a b/new/deeper")), Some(&Access::Writable));
        assert_eq!(facts.access(&path("a b")), Some(&Access::Writable));
        assert_eq!(
            facts.access(&path("f/x")),
            Some(&Access::NotDir {
                nearest: format!("{base}/f")
            })
        );
        if uid_is_root && other.is_ok_and(|s| s.success()) {
            assert_eq!(facts.access(&path("s")), Some(&Access::Sticky));
        }
        assert_eq!(facts.access(&path("elsewhere")), None, "not asked");
    }

    #[test]
    fn a_few_files_to_hash_are_finds_own_arguments() {
        let mut p = ProbeScript::new(Duration::from_secs(60));
        p.hash(&HostPath::new("~/-x").unwrap(), &"0".repeat(64), false);
        p.hash(&HostPath::new("~/a b").unwrap(), &"0".repeat(64), false);
        let s = p.render("");
        assert!(
            s.contains("LC_ALL=C find ./-x './a b' -maxdepth 0 -type f -exec sha256sum -- {} + > \"$T/s\""),
            "{s}"
        );
    }

    #[test]
    fn the_script_feeds_many_paths_through_a_list_not_argv() {
        let mut p = ProbeScript::new(Duration::from_secs(60));
        let long = "x".repeat(200);
        for i in 0..3 {
            p.hash(&HostPath::new(&format!("~/d/f{i}")).unwrap(), &"0".repeat(64), i == 0);
        }
        for i in 0..200 {
            p.hash(
                &HostPath::new(&format!("~/e/{long}{i}")).unwrap(),
                &"0".repeat(64),
                false,
            );
        }
        let s = p.render("");
        assert!(
            s.contains("printf '%s\\0' './d/f0' './d/f1' './d/f2' './e/"),
            "the list is words of the `printf` builtin, NUL-delimited, written to a file: {s}"
        );
        assert!(
            s.contains(
                "xargs -0 -r sh -c 'exec find \"$@\" -maxdepth 0 -type f -exec sha256sum -- {} +' sh < \"$T/f\""
            ),
            "{s}"
        );
        for line in s.lines().filter(|l| l.contains("./d/f1")) {
            assert!(
                line.contains("printf '%s\\0' './d/f0'"),
                "a path is a word of `printf` only, never in the argv of a process: {line}"
            );
        }
        assert!(!s.contains("xargs -d"), "BusyBox's xargs has no -d: {s}");
        assert!(s.ends_with("echo end\n"));
    }
}
