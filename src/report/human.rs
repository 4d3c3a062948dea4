//! Output for people: a header, breadcrumbs and diffs only for steps that change,
//! one line per applied step, a summary. Colour only on a terminal (and never with
//! `NO_COLOR`).

use std::io::Write;
use std::sync::Mutex;

use super::{Event, Reporter, StepStatus};

pub struct Human {
    out: Mutex<Box<dyn Write + Send>>,
    color: bool,
    /// On a terminal: one live line per host with what it is doing.
    live: Option<Live>,
}

struct Live {
    multi: indicatif::MultiProgress,
    bars: Mutex<Vec<(String, indicatif::ProgressBar)>>,
}

impl Live {
    fn update(&self, host: &str, activity: &str) {
        let mut bars = self.bars.lock().expect("live bars");
        let bar = match bars.iter().find(|(h, _)| h == host) {
            Some((_, b)) => b.clone(),
            None => {
                let b = self.multi.add(indicatif::ProgressBar::new_spinner());
                b.set_style(
                    indicatif::ProgressStyle::with_template("  {spinner} {prefix:.bold} {wide_msg}")
                        .expect("valid template"),
                );
                b.set_prefix(host.to_string());
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                bars.push((host.to_string(), b.clone()));
                b
            }
        };
        if activity == "done" {
            bar.finish_and_clear();
            bars.retain(|(h, _)| h != host);
        } else {
            bar.set_message(activity.to_string());
        }
    }
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
        Human {
            out: Mutex::new(out),
            color,
            live: None,
        }
    }

    /// Human output on a terminal (stdout), with live per-host progress lines.
    pub fn live(color: bool) -> Self {
        let multi = indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stdout());
        Human {
            out: Mutex::new(Box::new(std::io::stdout())),
            color,
            live: Some(Live {
                multi,
                bars: Mutex::new(Vec::new()),
            }),
        }
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn write(&self, text: &str) {
        if let Some(live) = &self.live {
            for line in text.lines() {
                let _ = live.multi.println(line);
            }
            return;
        }
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
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

impl Reporter for Human {
    fn event(&self, event: &Event) {
        let text = match event {
            Event::Start {
                command,
                environment,
                service,
                hosts,
                steps,
            } => format!(
                "{} {environment} (service {service}): {} on {}\n",
                self.paint(BOLD, command),
                plural(*steps, "step"),
                plural(*hosts, "host")
            ),
            Event::Planned {
                path,
                change,
                detail,
                diff,
                span,
                ..
            } => {
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
            Event::PlanDone {
                changes,
                unchanged,
                conflicts,
                hosts,
            } => {
                if *conflicts > 0 {
                    format!(
                        "plan: {} in the way, {} to change, {unchanged} unchanged on {}\n",
                        plural(*conflicts, "conflict"),
                        *changes,
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
                StepStatus::Unchanged => return,
                StepStatus::Changed => format!(
                    "  {} {path} {}\n",
                    self.paint(GREEN, "✓"),
                    self.paint(DIM, &format!("({duration_ms} ms)"))
                ),
                StepStatus::Failed => format!(
                    "  {} {path} failed: {}\n",
                    self.paint(RED, "✗"),
                    error.as_deref().unwrap_or("unknown error")
                ),
                StepStatus::Skipped => format!(
                    "  - {path} skipped: {}\n",
                    error.as_deref().unwrap_or("an earlier step failed")
                ),
            },
            Event::Progress { host, activity } => {
                if let Some(live) = &self.live {
                    live.update(host, activity);
                }
                return;
            }
            Event::HostDone {
                host,
                changed,
                failed,
                skipped,
                round_trips,
            } => {
                if let Some(live) = &self.live {
                    live.update(host, "done");
                }
                if changed + failed + skipped == 0 {
                    return;
                }
                let line = format!(
                    "  {host}: {changed} changed, {failed} failed, {skipped} skipped ({})\n",
                    plural(*round_trips, "round trip")
                );
                if *failed > 0 {
                    self.paint(RED, &line)
                } else {
                    self.paint(DIM, &line)
                }
            }
            Event::Summary {
                changed,
                unchanged,
                failed,
                skipped,
                hosts,
                duration_ms,
            } => {
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
