//! Output for people, as plain lines (logs, pipes, CI): a header, breadcrumbs and
//! diffs only for steps that change, one line per applied step, a summary. Colour
//! only when the configuration says so (decided once per stream, see `cli::config`).

use std::io::Write;
use std::sync::Mutex;

use super::paint::{BOLD, CYAN, DIM, GREEN, RED, RESET, YELLOW};
use super::{BatchStatus, Event, Level, Reporter, StepStatus, Stream, history};
use crate::text::plural;

/// The hosts a run goes without, grouped by cause: "skipping 3 unreachable hosts:
/// connection refused on web3, web7; connection timed out on web9".
fn skipped_hosts(hosts: &[super::SkippedHost], paint: &dyn Fn(&str, &str) -> String) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for h in hosts {
        let cause = h.cause.clone().unwrap_or_else(|| "unreachable".into());
        match groups.iter_mut().find(|(c, _)| *c == cause) {
            Some((_, names)) => names.push(h.host.clone()),
            None => groups.push((cause, vec![h.host.clone()])),
        }
    }
    let groups: Vec<String> = groups
        .iter()
        .map(|(cause, hosts)| format!("{cause} on {}", names(hosts)))
        .collect();
    let mut text = format!(
        "{} {} (--skip-unreachable): {}\n",
        paint(YELLOW, "skipping"),
        plural(hosts.len(), "unreachable host"),
        groups.join("; ")
    );
    // One example of each cause, with its address.
    let mut shown: Vec<&str> = Vec::new();
    for h in hosts {
        let cause = h.cause.as_deref().unwrap_or("unreachable");
        if !shown.contains(&cause) {
            shown.push(cause);
            text.push_str(&format!("  {}\n", h.message));
        }
    }
    text
}

/// Host names for a line: the first ten, then how many more.
fn names(hosts: &[String]) -> String {
    let mut out = hosts.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if hosts.len() > 10 {
        out.push_str(&format!(" and {} more", hosts.len() - 10));
    }
    out
}

pub struct Plain {
    out: Mutex<Box<dyn Write + Send>>,
    err: Mutex<Box<dyn Write + Send>>,
    color: bool,
}

impl Plain {
    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>, color: bool) -> Self {
        Plain {
            out: Mutex::new(out),
            err: Mutex::new(err),
            color,
        }
    }

    /// The text of an event for people, and whether it goes to stderr; `None` for
    /// events that only live views and machines care about.
    pub(crate) fn format(color: bool, event: &Event) -> Option<(String, bool)> {
        let paint = |c: &str, t: &str| if color { format!("{c}{t}{RESET}") } else { t.to_string() };
        let text = match event {
            Event::Start {
                command,
                environment,
                service,
                hosts,
                steps,
                revision,
            } => format!(
                "{} {environment} (service {service}){}: {} on {}\n",
                paint(BOLD, command),
                revision.as_ref().map(history::revision).unwrap_or_default(),
                plural(*steps, "step"),
                plural(*hosts, "host")
            ),
            Event::Notice { level, text, span, .. } => {
                let where_ = span.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
                match level {
                    Level::Info => format!("{text}{where_}\n"),
                    Level::Warning => format!("{}: {text}{where_}\n", paint(YELLOW, "warning")),
                }
            }
            Event::Planned {
                path,
                change,
                detail,
                diff,
                span,
                privileged,
                ..
            } => {
                let change = change.as_ref()?;
                let symbol = change.symbol().to_string();
                let symbol = match symbol.as_str() {
                    "+" => paint(GREEN, "+"),
                    "~" => paint(YELLOW, "~"),
                    "!" => paint(CYAN, "!"),
                    "-" => paint(RED, "-"),
                    _ => paint(RED, "x"),
                };
                let mut s = format!("  {symbol} {path}");
                if *privileged {
                    s.push_str(&format!(" {}", paint(YELLOW, "[sudo]")));
                }
                if let Some(d) = detail {
                    s.push_str(&format!(" ({d})"));
                }
                if let Some(span) = span {
                    s.push_str(&format!("  {}", paint(DIM, &span.to_string())));
                }
                s.push('\n');
                if let Some(d) = diff {
                    for line in d.render().lines() {
                        let colored = match line.as_bytes().first() {
                            Some(b'+') if !line.starts_with("+++") => paint(GREEN, line),
                            Some(b'-') if !line.starts_with("---") => paint(RED, line),
                            Some(b'@') => paint(CYAN, line),
                            _ => line.to_string(),
                        };
                        s.push_str("      ");
                        s.push_str(&colored);
                        s.push('\n');
                    }
                }
                s
            }
            Event::PlanDone {
                changes,
                unchanged,
                conflicts,
                hosts,
            } => {
                if *conflicts > 0 {
                    format!(
                        "plan: {} in the way, {changes} to change, {unchanged} unchanged on {}\n",
                        plural(*conflicts, "conflict"),
                        plural(*hosts, "host")
                    )
                } else if *changes == 0 {
                    format!(
                        "nothing to change: {} on {} up to date\n",
                        plural(*unchanged, "step"),
                        plural(*hosts, "host")
                    )
                } else {
                    format!(
                        "plan: {changes} to change, {unchanged} unchanged on {}\n",
                        plural(*hosts, "host")
                    )
                }
            }
            Event::Step {
                path,
                status,
                duration_ms,
                error,
                ..
            } => match status {
                StepStatus::Unchanged => return None,
                // A change may carry a note ("kept: the directory is not empty").
                StepStatus::Changed => format!(
                    "  {} {path} {}{}\n",
                    paint(GREEN, "✓"),
                    paint(DIM, &format!("({duration_ms} ms)")),
                    error.as_deref().map_or_else(String::new, |note| format!(" {note}"))
                ),
                StepStatus::Failed => format!(
                    "  {} {path} failed: {}\n",
                    paint(RED, "✗"),
                    error.as_deref().unwrap_or("unknown error")
                ),
                StepStatus::Skipped => format!(
                    "  - {path} skipped: {}\n",
                    error.as_deref().unwrap_or("an earlier step failed")
                ),
            },
            Event::Progress { .. } => return None,
            Event::StepOutput { path, text, .. } => {
                let mut s = format!("    {path} said:\n");
                for line in text.trim_end().lines() {
                    s.push_str(&format!("      {} {line}\n", paint(DIM, "│")));
                }
                s
            }
            Event::Rolling {
                component,
                batches,
                max_failures,
                before,
                after,
            } => {
                let list: Vec<String> = batches
                    .iter()
                    .enumerate()
                    .map(|(i, hosts)| format!("{}. {}", i + 1, hosts.join(", ")))
                    .collect();
                let mut s = format!(
                    "rolling {component}: {} — {}; stop after {}\n",
                    if batches.len() == 1 {
                        "1 batch".to_string()
                    } else {
                        format!("{} batches", batches.len())
                    },
                    list.join(" · "),
                    if *max_failures == 0 {
                        "the first failed host".to_string()
                    } else {
                        format!("more than {} failed", plural(*max_failures, "host"))
                    }
                );
                if let Some(b) = before {
                    s.push_str(&format!("  before each batch: {b}\n"));
                }
                if let Some(a) = after {
                    s.push_str(&format!("  after each batch: {a}\n"));
                }
                s
            }
            Event::Batch {
                component,
                batch,
                batches,
                hosts,
                status,
                error,
                ..
            } => match status {
                BatchStatus::Started => format!(
                    "  {} rolling {component}: batch {batch}/{batches} ({})\n",
                    paint(CYAN, "»"),
                    hosts.join(", ")
                ),
                BatchStatus::Passed => format!(
                    "  {} rolling {component}: batch {batch}/{batches} healthy\n",
                    paint(GREEN, "✓")
                ),
                BatchStatus::Failed => format!(
                    "  {} rolling {component}: batch {batch}/{batches} failed{}\n",
                    paint(RED, "✗"),
                    error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
                ),
            },
            Event::HostDone {
                host,
                changed,
                failed,
                skipped,
                round_trips,
            } => {
                if changed + failed + skipped == 0 {
                    return None;
                }
                let line = format!(
                    "  {host}: {changed} changed, {failed} failed, {skipped} skipped ({})\n",
                    plural(*round_trips, "round trip")
                );
                if *failed > 0 {
                    paint(RED, &line)
                } else {
                    paint(DIM, &line)
                }
            }
            Event::Summary {
                changed,
                unchanged,
                failed,
                skipped,
                hosts,
                duration_ms,
                unreachable,
            } => {
                let mut line = format!(
                    "{}: {changed} changed, {unchanged} unchanged, {failed} failed, {skipped} skipped on {} in {:.2} s\n",
                    if *failed > 0 { "failed" } else { "done" },
                    plural(*hosts, "host"),
                    *duration_ms as f64 / 1000.0
                );
                if !unreachable.is_empty() {
                    line.push_str(&format!(
                        "without {} that could not be reached: {}\n",
                        plural(unreachable.len(), "host"),
                        names(unreachable)
                    ));
                }
                if *failed > 0 || !unreachable.is_empty() {
                    paint(if *failed > 0 { RED } else { YELLOW }, &line)
                } else {
                    line
                }
            }
            Event::HostsSkipped { hosts } => skipped_hosts(hosts, &paint),
            Event::Checked { steps, hosts } => {
                format!("ok: {} on {}\n", plural(*steps, "step"), plural(*hosts, "host"))
            }
            Event::HostStatus(h) => {
                let mut line = match &h.deployed {
                    Some(d) => {
                        let mark = if d.current {
                            "current"
                        } else {
                            "differs from this checkout"
                        };
                        let commit = d
                            .commit
                            .as_deref()
                            .map(|c| format!(", commit {}{}", short_commit(c), if d.dirty { "-dirty" } else { "" }))
                            .unwrap_or_default();
                        let set = if d.set.is_empty() {
                            String::new()
                        } else {
                            format!(", --set {}", d.set.join(" --set "))
                        };
                        let libraries: String = d
                            .libraries
                            .iter()
                            .map(|(name, commit)| format!(", library {name}@{}", short_commit(commit)))
                            .collect();
                        format!(
                            "{}: {} ({mark}{commit}), environment {}, ordo {}, deployed {} by {}{set}{libraries}",
                            h.host, d.fingerprint, d.environment, d.ordo_version, d.deployed_at, d.deployed_by
                        )
                    }
                    None if h.retired => format!("{}: retired — nothing recorded there (torn down)", h.host),
                    None => format!("{}: never deployed", h.host),
                };
                if h.retired && h.deployed.is_some() {
                    line = format!("{}: retired, not torn down yet — {}", h.host, &line[h.host.len() + 2..]);
                }
                if let Some(by) = &h.locked_by {
                    line.push_str(&format!("; locked by {by}"));
                    if h.stale_lock {
                        line.push_str(
                            " — stale: that process no longer runs here (ordo deploy --break-lock removes it)",
                        );
                    }
                }
                line.push('\n');
                if let Some(e) = &h.current {
                    line.push_str(&history::current_line(e, &h.host));
                }
                line
            }
            Event::VersionsDiffer {
                versions,
                diverged,
                since,
            } => history::differ(*versions, *diverged, since.as_deref()),
            Event::LogEntry(e) => history::log_line(e),
            Event::HistoryProblem { host, text } => {
                format!(
                    "{}: {host}: its deploy history does not add up: {text}\n",
                    paint(YELLOW, "warning")
                )
            }
            Event::Hook {
                hook,
                command,
                code,
                error,
                ..
            } => match (code, error) {
                (_, Some(e)) => format!("── {hook} hook `{command}` (failed: {e})\n"),
                (Some(0), None) => format!("── {hook} hook `{command}` (ok)\n"),
                (Some(c), None) => format!("── {hook} hook `{command}` (exit {c})\n"),
                (None, None) => format!("── {hook} hook `{command}`\n"),
            },
            Event::CommandDone { host, code, error } => match (code, error) {
                (_, Some(e)) => format!("── {host} (failed: {e})\n"),
                (Some(0), None) => format!("── {host} (ok)\n"),
                (Some(c), None) => format!("── {host} (exit {c})\n"),
                (None, None) => format!("── {host}\n"),
            },
            Event::Output { stream, line, .. } => match stream {
                Stream::Stdout => format!("{line}\n"),
                Stream::Stderr => format!("stderr: {line}\n"),
            },
            Event::Host {
                name,
                transport,
                address,
                roles,
                components,
                retired,
            } => {
                let roles = if roles.is_empty() {
                    String::new()
                } else {
                    format!("  roles: {}", roles.join(", "))
                };
                if *retired {
                    format!("{name}  {transport} {address}{roles}  retired: a deploy tears it down\n")
                } else {
                    format!(
                        "{name}  {transport} {address}{roles}  components: {}\n",
                        if components.is_empty() {
                            "none".to_string()
                        } else {
                            components.join(", ")
                        }
                    )
                }
            }
            Event::Component { name, hosts } => format!(
                "{name}: {}\n",
                if hosts.is_empty() {
                    "not placed".to_string()
                } else {
                    hosts.join(", ")
                }
            ),
            Event::Created { path } => format!("created {path}\n"),
            Event::Library {
                name,
                kind,
                location,
                reference,
                commit,
                cached,
                stale,
            } => match commit {
                None if *kind == "git" => format!("{name}: git {location}, not pinned yet (the next load pins it)\n"),
                None => format!("{name}: directory{}\n", if *cached { "" } else { ", missing" }),
                Some(c) => format!(
                    "{name}: git {location}{}, pinned at {}{}{}\n",
                    reference.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
                    short_commit(c),
                    if *cached || stale.is_some() {
                        ""
                    } else {
                        ", not in the cache yet"
                    },
                    stale
                        .as_deref()
                        .map(|s| format!(" — stale: ordo.rhai asks for {s}; run `ordo libs update {name}`"))
                        .unwrap_or_default()
                ),
            },
            Event::LibraryPinned { name, from, to } => match from {
                Some(f) if f == to => format!("{name}: pinned at {} (unchanged)\n", short_commit(to)),
                Some(f) => format!("{name}: {} → {}\n", short_commit(f), short_commit(to)),
                None => format!("{name}: pinned at {}\n", short_commit(to)),
            },
            Event::Print { text, span } => {
                let where_ = span.as_ref().map(|s| format!("{s}: ")).unwrap_or_default();
                return Some((format!("{where_}{text}\n"), true));
            }
            Event::Result { text, .. } => {
                let mut text = text.clone();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text
            }
            Event::Warning { problem, .. } | Event::Error { problem, .. } => {
                return Some((format!("{:?}\n", miette::Report::new((**problem).clone())), true));
            }
        };
        Some((text, false))
    }
}

impl Reporter for Plain {
    fn event(&self, event: &Event) {
        let Some((text, to_err)) = Plain::format(self.color, event) else {
            return;
        };
        let mut out = if to_err {
            self.err.lock().expect("plain output")
        } else {
            self.out.lock().expect("plain output")
        };
        // Ignore a closed pipe (`ordo plan | head`): the deploy itself goes on.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

use super::history::short_commit;
