//! Output for people: a header, breadcrumbs and diffs only for steps that change,
//! one line per applied step, a summary. Colour only on a terminal (and never with
//! `NO_COLOR`).

use std::io::Write;
use std::sync::Mutex;

use super::{Event, Reporter, StepStatus};

pub struct Human {
    out: Mutex<Box<dyn Write + Send>>,
    color: bool,
}

const RESET: &str = "\x1b[0m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";

impl Human {
    pub fn new(out: Box<dyn Write + Send>, color: bool) -> Self {
        Human { out: Mutex::new(out), color }
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn write(&self, text: &str) {
        let mut out = self.out.lock().expect("human output");
        // Ignore a closed pipe (`ordo plan | head`): the deploy itself goes on.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn diff(&self, diff: &str) -> String {
        let mut s = String::new();
        for line in diff.lines() {
            let colored = match line.as_bytes().first() {
                Some(b'+') if !line.starts_with("+++") => self.paint(GREEN, line),
                Some(b'-') if !line.starts_with("---") => self.paint(RED, line),
                Some(b'@') => self.paint(CYAN, line),
                _ => line.to_string(),
            };
            s.push_str("      ");
            s.push_str(&colored);
            s.push('\n');
        }
        s
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") }
}

impl Reporter for Human {
    fn event(&self, event: &Event) {
        let text = match event {
            Event::Start { command, environment, service, hosts, steps } => format!(
                "{} {environment} (service {service}): {} on {}\n",
                self.paint(BOLD, command),
                plural(*steps, "step"),
                plural(*hosts, "host")
            ),
            Event::Planned { path, change, detail, diff, span, .. } => {
                if change == "none" {
                    return;
                }
                let symbol = match change.as_str() {
                    "create" => self.paint(GREEN, "+"),
                    "update" | "mode" => self.paint(YELLOW, "~"),
                    "run" => self.paint(CYAN, "!"),
                    _ => self.paint(RED, "x"),
                };
                let mut s = format!("  {symbol} {path}");
                if let Some(d) = detail {
                    s.push_str(&format!(" ({d})"));
                }
                if let Some(span) = span {
                    s.push_str(&format!("  {}", self.paint(DIM, span)));
                }
                s.push('\n');
                if let Some(d) = diff {
                    s.push_str(&self.diff(d));
                }
                s
            }
            Event::PlanDone { changes, unchanged, conflicts, hosts } => {
                if *conflicts > 0 {
                    format!("plan: {} in the way, {} to change, {unchanged} unchanged on {}\n", plural(*conflicts, "conflict"), *changes, plural(*hosts, "host"))
                } else if *changes == 0 {
                    format!("nothing to change: {} on {} up to date\n", plural(*unchanged, "step"), plural(*hosts, "host"))
                } else {
                    format!("plan: {changes} to change, {unchanged} unchanged on {}\n", plural(*hosts, "host"))
                }
            }
            Event::Step { path, status, duration_ms, error, .. } => match status {
                StepStatus::Unchanged => return,
                StepStatus::Changed => format!("  {} {path} {}\n", self.paint(GREEN, "✓"), self.paint(DIM, &format!("({duration_ms} ms)"))),
                StepStatus::Failed => format!(
                    "  {} {path} failed: {}\n",
                    self.paint(RED, "✗"),
                    error.as_deref().unwrap_or("unknown error")
                ),
                StepStatus::Skipped => format!("  - {path} skipped: {}\n", error.as_deref().unwrap_or("an earlier step failed")),
            },
            Event::HostDone { .. } => return,
            Event::Summary { changed, unchanged, failed, skipped, hosts, duration_ms } => {
                let line = format!(
                    "{}: {changed} changed, {unchanged} unchanged, {failed} failed, {skipped} skipped on {} in {:.2} s\n",
                    if *failed > 0 { "failed" } else { "done" },
                    plural(*hosts, "host"),
                    *duration_ms as f64 / 1000.0
                );
                if *failed > 0 { self.paint(RED, &line) } else { line }
            }
        };
        self.write(&text);
    }

    fn text(&self, line: &str) {
        self.write(&format!("{line}\n"));
    }
}
