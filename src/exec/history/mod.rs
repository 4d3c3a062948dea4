//! The deploy history each host keeps: `~/.ordo/<service>/history`, one entry per
//! run that took the host's lock (a deploy, a rollback, a REPL `apply`), whatever
//! its end. Written without a round trip of its own (decision 58):
//!
//! - the probe that takes the lock also appends the entry's [`Begin`] line and
//!   reads `history.last` (the last end line, with the `read` builtin) and the
//!   host's uptime — no process;
//! - the script that releases the lock appends the [`End`] line and rewrites
//!   `history.last` — the last apply script of a host that changed, or the unlock
//!   script (a host with nothing to change, a failure, an interruption). Only a
//!   host's last script computes its duration on the host (from `/proc/uptime`,
//!   shell arithmetic: no `date`).
//!
//! Every 50th entry past [`KEEP`] trims the file to its last `2 × KEEP` lines
//! (`tail` and `mv`, under the lock). Nothing in it is a secret: `--set` values
//! that replace or equal one are masked by the front end ([`Record::set`]).
//!
//! | file | what |
//! |---|---|
//! | `entry.rs` | the lines: [`Begin`], [`End`], their chain |
//! | `endings.rs` | how a run ends on each host, as the deployment learns it: what the end lines and the hooks after the run are told |
//! | `read.rs` | a host's file read back and checked: lost, edited, trimmed |
//! | `timeline.rs` | the hosts' histories merged into one timeline; divergence; rollback targets |

mod endings;
mod entry;
mod read;
mod timeline;

use std::fmt::Write;
use std::time::Instant;

pub use endings::Ended;
pub(crate) use endings::Endings;
pub use entry::{Begin, End, KEEP, Line, Outcome, RunKind, STEPS, SetRecord, VERSION, hash};
pub use read::{HostEntry, HostHistory, read_lines, short};
pub use timeline::{Disagreement, HostResult, Merged, Timeline};

use super::state::state_dir;
use crate::model::HostPath;
use crate::project::controller_state::ControllerState;
use crate::shell::{quote_always, word};

pub(crate) fn history_file(service: &str) -> HostPath {
    state_dir(service).join("history")
}

pub(crate) fn last_file(service: &str) -> HostPath {
    state_dir(service).join("history.last")
}

/// What a front end tells the history about its run; the run's id, start and
/// hosts are the deployment's.
#[derive(Clone, Debug)]
pub struct Record {
    pub kind: RunKind,
    pub commit: Option<String>,
    pub dirty: bool,
    pub rev: Option<String>,
    pub rollback_to: Option<String>,
    pub what: Option<String>,
    /// Already masked where a value replaced or equals a secret.
    pub set: Vec<SetRecord>,
    pub libraries: std::collections::BTreeMap<String, String>,
    pub fingerprint: String,
    /// Where this machine remembers the last entry it began on each host (the
    /// project's controller state of the environment), so that a host whose
    /// history lost it says so.
    pub memory: Option<ControllerState>,
}

/// The name of the controller record of the entries this machine began.
pub const MEMORY: &str = "history";

/// What this machine remembers: per host, the last run it began there.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Memory {
    pub hosts: std::collections::BTreeMap<String, Remembered>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Remembered {
    pub run: String,
    pub at: String,
}

/// What a host's probe found for the history, kept with the host's run until its
/// end line is written.
#[derive(Clone, Debug, Default)]
pub struct Probed {
    /// The text of the last end line (`history.last`), when there is one.
    pub last: Option<String>,
    /// The host's uptime in centiseconds when the probe ran.
    pub uptime_cs: Option<u64>,
    /// Milliseconds from the run's start until the probe answered.
    pub probed_ms: u64,
    /// The begin line was written.
    pub begun: bool,
    /// The end line was written (or tried, under the lock): it is not sent again.
    pub ended: bool,
}

impl Probed {
    /// The sequence number and `prev` of the next end line.
    fn next(&self) -> (u64, Option<String>) {
        match &self.last {
            None => (1, None),
            Some(text) => {
                let seq = match Line::parse(text) {
                    Some(Line::End(e)) => e.seq + 1,
                    // Not an end line: the chain is broken already; readers say so.
                    _ => 1,
                };
                (seq, Some(hash(text)))
            }
        }
    }

    /// Reads the probe's `history …` lines (as tag-less rests).
    pub(crate) fn parse(lines: &[(String, String)], probed_ms: u64) -> (Probed, Option<String>) {
        let mut p = Probed {
            probed_ms,
            ..Probed::default()
        };
        let mut failed = None;
        for (tag, rest) in lines.iter().filter(|(t, _)| t == "history") {
            let _ = tag;
            let (what, rest) = rest.split_once(' ').unwrap_or((rest.as_str(), ""));
            match what {
                "last" if !rest.is_empty() => p.last = Some(rest.to_string()),
                "up" => p.uptime_cs = centiseconds(rest),
                "begun" => p.begun = true,
                "fail" => {
                    let why = crate::shell::decode(rest)
                        .map(|b| crate::text::visible_bytes(&b, true))
                        .unwrap_or_default();
                    failed = Some(why.trim().to_string());
                }
                _ => {}
            }
        }
        (p, failed)
    }
}

/// `12345.67` (the first field of `/proc/uptime`) in centiseconds.
fn centiseconds(text: &str) -> Option<u64> {
    let (s, c) = text.trim().split_once('.')?;
    if c.len() != 2 {
        return None;
    }
    Some(s.parse::<u64>().ok()? * 100 + c.parse::<u64>().ok()?)
}

/// How a run ended on one host, for its end line.
#[derive(Clone, Debug)]
pub struct Ending {
    pub result: Outcome,
    pub note: Option<String>,
    pub changes: usize,
    pub unchanged: usize,
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub changed_steps: Vec<String>,
    pub failed_steps: Vec<String>,
}

impl Ending {
    /// Nothing was applied on the host, for `why`.
    pub fn not_applied(result: Outcome, note: Option<String>) -> Ending {
        Ending {
            result,
            note,
            changes: 0,
            unchanged: 0,
            changed: 0,
            failed: 0,
            skipped: 0,
            changed_steps: Vec::new(),
            failed_steps: Vec::new(),
        }
    }
}

/// The history lines of one run: its begin line, and the end line of each host.
#[derive(Debug)]
pub struct Writer {
    service: String,
    run: String,
    at: String,
    begin: String,
    started: Instant,
    memory: Option<ControllerState>,
    /// The hosts the run goes on without (`--skip-unreachable`), once the plan
    /// has reached all the others.
    unreachable: std::sync::OnceLock<Vec<String>>,
}

impl Writer {
    /// The lines of run `run` over the hosts `targets` of the `environment_hosts`
    /// hosts of the environment.
    pub fn new(
        record: Record,
        run: &str,
        environment: &str,
        service: &str,
        (targets, environment_hosts): (Vec<String>, usize),
        started: Instant,
    ) -> Writer {
        let at = crate::sys::now_rfc3339();
        let begin = Line::Begin(Begin {
            v: VERSION,
            run: run.to_string(),
            kind: record.kind,
            environment: environment.to_string(),
            by: crate::sys::operator(),
            at: at.clone(),
            ordo: crate::VERSION.to_string(),
            commit: record.commit,
            dirty: record.dirty,
            rev: record.rev,
            rollback_to: record.rollback_to,
            what: record.what,
            set: record.set,
            libraries: record.libraries,
            fingerprint: record.fingerprint,
            hosts: targets.len(),
            targets,
            environment_hosts,
        })
        .text();
        Writer {
            service: service.to_string(),
            run: run.to_string(),
            at,
            begin,
            started,
            memory: record.memory,
            unreachable: std::sync::OnceLock::new(),
        }
    }

    /// The run goes on without `hosts`: said in every end line written from now on.
    pub(crate) fn went_on_without(&self, hosts: &[String]) {
        if !hosts.is_empty() {
            let _ = self.unreachable.set(hosts.iter().take(STEPS).cloned().collect());
        }
    }

    /// Milliseconds since the run started.
    pub(crate) fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The probe's lines after the lock was taken: the last end line and the
    /// uptime read (builtins), the begin line appended (the `printf` builtin). A
    /// begin line that cannot be written stops the host's deploy (`history fail`):
    /// a deploy that leaves no trace does not run.
    pub(crate) fn probe_lines(&self) -> String {
        let (h, last) = (word(&history_file(&self.service)), word(&last_file(&self.service)));
        format!(
            "x=; {{ IFS= read -r x || :; }} 2>/dev/null < {last}; printf 'history last %s\\n' \"$x\"
u=; {{ read -r u _ || :; }} 2>/dev/null < /proc/uptime; printf 'history up %s\\n' \"$u\"
if printf '%s\\n' {b} >> {h} 2>\"$T/history\"; then echo 'history begun'; else printf 'history fail '; base64 -w0 < \"$T/history\"; echo; echo end; exit 0; fi
",
            b = quote_always(&self.begin),
        )
    }

    /// The lines that append a host's end line and rewrite `history.last`, for the
    /// lock-holding branch of an unlock (`lock` is the run's own lock directory).
    /// `now`: the line is composed when the run ends on the host (its duration
    /// known); otherwise it travels in a script that still has work to do, and the
    /// host adds the duration from its uptime.
    pub(crate) fn end_lines(&self, probed: &Probed, ending: &Ending, now: bool, lock: &HostPath) -> String {
        let (seq, prev) = probed.next();
        let end = End {
            v: VERSION,
            run: self.run.clone(),
            seq,
            prev,
            begin: hash(&self.begin),
            result: ending.result,
            note: ending.note.clone(),
            changes: ending.changes,
            unchanged: ending.unchanged,
            changed: ending.changed,
            failed: ending.failed,
            skipped: ending.skipped,
            changed_steps: ending.changed_steps.iter().take(STEPS).cloned().collect(),
            failed_steps: ending.failed_steps.iter().take(STEPS).cloned().collect(),
            unreachable: self.unreachable.get().cloned().unwrap_or_default(),
            duration_ms: now.then(|| self.started.elapsed().as_millis() as u64),
        };
        let text = Line::End(end).text();
        let (h, last) = (word(&history_file(&self.service)), word(&last_file(&self.service)));
        let mut s = String::new();
        match (now, probed.uptime_cs) {
            (false, Some(u0)) => {
                // The JSON ends with `"duration_ms":null}`: the host puts the number
                // in, from its uptime (whole centiseconds, shell arithmetic).
                let prefix = text.strip_suffix("null}").expect("the duration is the last field");
                let _ = writeln!(
                    s,
                    "u=; {{ read -r u _ || :; }} 2>/dev/null < /proc/uptime; d=null
case $u in *[0-9].[0-9][0-9]) d=$(( (${{u%.*}} * 100 + 1${{u#*.}} - 100 - {u0}) * 10 + {off} ));; esac
case $d in -*) d=null;; esac
x={p}\"$d\"'}}'",
                    off = probed.probed_ms,
                    p = quote_always(prefix),
                );
            }
            _ => {
                let _ = writeln!(s, "x={}", quote_always(&text));
            }
        }
        // A first unlock that wrote the line and then lost its connection left the
        // lock (and so the retry at the end of the run) without knowing it: the
        // line already in `history.last` is not written again.
        debug_assert!(self.run.bytes().all(|b| b.is_ascii_alphanumeric()));
        let _ = writeln!(
            s,
            "l=; {{ IFS= read -r l || :; }} 2>/dev/null < {last}
case $l in '{{\"t\":\"end\",'*'\"run\":\"{run}\",'*) echo 'history ok';; *)
if printf '%s\\n' \"$x\" >> {h} 2>/dev/null && printf '%s\\n' \"$x\" > {last} 2>/dev/null; then echo 'history ok'; else echo 'history fail'; fi;; esac",
            run = self.run
        );
        if seq > KEEP && seq % 50 == 0 {
            // Trimmed under the lock, through a file of the run's own lock directory.
            let t = word(&lock.join("history.trim"));
            let _ = writeln!(
                s,
                "tail -n {} -- {h} > {t} 2>/dev/null && mv -f -- {t} {h} 2>/dev/null || rm -f -- {t}",
                2 * KEEP
            );
        }
        s
    }

    /// Remembers, on this machine, the run as the last this machine began on
    /// `hosts` (the hosts whose begin line was written).
    pub(crate) fn remember(&self, hosts: &[String]) {
        let Some(memory) = &self.memory else { return };
        if hosts.is_empty() {
            return;
        }
        let mut m: Memory = memory.read(MEMORY).unwrap_or_default();
        for h in hosts {
            m.hosts.insert(
                h.clone(),
                Remembered {
                    run: self.run.clone(),
                    at: self.at.clone(),
                },
            );
        }
        // A hint, never the truth (see `ControllerState`): a failure to write it
        // loses a check, not a deploy.
        let _ = memory.write(MEMORY, &m);
    }
}

/// The warning for a host whose history did not take the end of this run's entry
/// (its lock was released anyway).
pub(crate) fn unrecorded(host: &str, service: &str) -> crate::report::Event {
    crate::report::Event::Notice {
        host: Some(host.to_string()),
        level: crate::report::Level::Warning,
        text: format!(
            "{host}: the end of this run could not be written to the host's history (~/.ordo/{service}/history): is the disk full?"
        ),
        span: None,
    }
}

/// Forgets, on this machine, what it began on `hosts`: their histories are gone
/// on purpose (a retired host torn down, a host forgotten), not lost.
pub fn forget(memory: &ControllerState, hosts: &[String]) {
    let Some(mut m) = memory.read::<Memory>(MEMORY) else {
        return;
    };
    let before = m.hosts.len();
    m.hosts.retain(|h, _| !hosts.contains(h));
    if m.hosts.len() != before {
        // A hint (see `ControllerState`): failing to write it loses a check.
        let _ = memory.write(MEMORY, &m);
    }
}

/// What a reader takes of a history file at most: its last 4 MiB (a file ordo
/// writes stays far below; a file that grew past it was not written by ordo alone).
const READ_LIMIT: usize = 4 << 20;

/// The lines of a read-only probe that send the whole history and the last line
/// (`ordo status`, `ordo log`, `ordo rollback`): `tail` and `base64`.
pub(crate) fn read_lines_script(service: &str) -> String {
    let (h, last) = (word(&history_file(service)), word(&last_file(service)));
    format!(
        "if [ -f {h} ]; then printf 'history file '; tail -c {READ_LIMIT} -- {h} | base64 -w0; echo; fi
x=; {{ IFS= read -r x || :; }} 2>/dev/null < {last}; printf 'history last %s\\n' \"$x\"
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end line of a run is written once: a retry (the first unlock wrote it,
    /// then lost its connection) finds it in `history.last` and says "history ok"
    /// without a second line; another run's end line there does not stop it.
    #[test]
    fn an_end_line_already_written_is_not_written_again() {
        let home = tempfile::tempdir().expect("tempdir");
        let writer = |run: &str| {
            let record = Record {
                kind: RunKind::Deploy,
                commit: None,
                dirty: false,
                rev: None,
                rollback_to: None,
                what: None,
                set: Vec::new(),
                libraries: Default::default(),
                fingerprint: "f".into(),
                memory: None,
            };
            Writer::new(record, run, "prod", "svc", (vec!["h".into()], 1), Instant::now())
        };
        let ending = Ending::not_applied(Outcome::Ok, None);
        let lock = crate::exec::lock::lock_dir("svc");
        let run = |lines: &str| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("mkdir -p .ordo/svc && {lines}"))
                .current_dir(home.path())
                .output()
                .expect("sh");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let ends = || {
            std::fs::read_to_string(home.path().join(".ordo/svc/history"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("{\"t\":\"end\""))
                .count()
        };
        let first = writer("aaaa1111");
        let lines = first.end_lines(&Probed::default(), &ending, true, &lock);
        assert_eq!(run(&lines), "history ok\n");
        assert_eq!(run(&lines), "history ok\n", "the retry");
        assert_eq!(ends(), 1, "one end line for the run");
        let second = writer("bbbb2222");
        let probed = Probed {
            last: std::fs::read_to_string(home.path().join(".ordo/svc/history.last"))
                .ok()
                .map(|t| t.trim_end().to_string()),
            ..Probed::default()
        };
        assert_eq!(run(&second.end_lines(&probed, &ending, true, &lock)), "history ok\n");
        assert_eq!(ends(), 2, "the next run's end line is written");
    }

    #[test]
    fn uptime_reads_as_centiseconds() {
        assert_eq!(centiseconds("12345.67"), Some(1_234_567));
        assert_eq!(centiseconds("0.07"), Some(7));
        assert_eq!(centiseconds("12"), None);
        assert_eq!(centiseconds("1.2"), None);
    }
}
