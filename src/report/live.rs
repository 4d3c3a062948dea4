//! Output for people on a terminal: the plain lines, plus one live line per host
//! saying what it is doing (a spinner). The lines are printed above the spinners so
//! they never tear. Without colour, the spinners carry no escape codes either. A
//! run with more hosts than the terminal has lines gets the fleet view instead: a
//! line of counts and a line naming the slowest hosts (`fleet.rs`), redrawn every
//! half second.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::fleet::Fleet;
use super::plain::Plain;
use super::{Activity, Event, Reporter};

/// Lines the terminal keeps for the plan's lines above the live view.
const FREE_LINES: usize = 6;

pub struct Live {
    multi: indicatif::MultiProgress,
    bars: Mutex<Vec<(String, indicatif::ProgressBar)>>,
    color: bool,
    /// The fleet view, once a run's hosts outnumber the terminal's lines.
    fleet: Mutex<Option<FleetView>>,
}

struct FleetView {
    state: Arc<Mutex<Fleet>>,
    /// Its two lines while they are shown (a flush before the confirmation
    /// question clears them; the next progress brings them back).
    lines: Option<Lines>,
}

struct Lines {
    counts: indicatif::ProgressBar,
    slowest: indicatif::ProgressBar,
    /// Ends the thread that redraws the times.
    stop: Arc<AtomicBool>,
}

impl Lines {
    fn draw(&self, state: &Mutex<Fleet>) {
        draw(state, &self.counts, &self.slowest);
    }

    fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.counts.finish_and_clear();
        self.slowest.finish_and_clear();
    }
}

fn draw(state: &Mutex<Fleet>, counts: &indicatif::ProgressBar, slowest: &indicatif::ProgressBar) {
    let f = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    counts.set_message(f.counts());
    slowest.set_message(f.slowest(Instant::now()));
}

impl Live {
    pub fn new(color: bool) -> Self {
        Live {
            multi: indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stdout()),
            bars: Mutex::new(Vec::new()),
            color,
            fleet: Mutex::new(None),
        }
    }

    fn bar(&self) -> indicatif::ProgressBar {
        let b = self.multi.add(indicatif::ProgressBar::new_spinner());
        let template = if self.color {
            "  {spinner} {prefix:.bold} {wide_msg}"
        } else {
            "  {spinner} {prefix} {wide_msg}"
        };
        b.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
        b.enable_steady_tick(Duration::from_millis(120));
        b
    }

    /// Switches to the fleet view when `hosts` do not fit the terminal.
    fn start(&self, hosts: usize) {
        let old = self.fleet.lock().expect("fleet view").take();
        if let Some(lines) = old.and_then(|v| v.lines) {
            lines.finish();
        }
        if hosts + FREE_LINES <= terminal_rows() {
            return;
        }
        *self.fleet.lock().expect("fleet view") = Some(FleetView {
            state: Arc::new(Mutex::new(Fleet::new(hosts))),
            lines: None,
        });
    }

    /// The fleet view's two lines, redrawn every half second.
    fn lines(&self, state: &Arc<Mutex<Fleet>>) -> Lines {
        let (counts, slowest) = (self.bar(), self.bar());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, c, w, halt) = (state.clone(), counts.clone(), slowest.clone(), stop.clone());
        std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                draw(&s, &c, &w);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Lines { counts, slowest, stop }
    }

    fn update(&self, host: &str, activity: &Activity) {
        let mut bars = self.bars.lock().expect("live bars");
        if *activity == Activity::Done {
            if let Some((_, bar)) = bars.iter().find(|(h, _)| h == host) {
                bar.finish_and_clear();
            }
            bars.retain(|(h, _)| h != host);
            return;
        }
        let bar = match bars.iter().find(|(h, _)| h == host) {
            Some((_, b)) => b.clone(),
            None => {
                let b = self.bar();
                b.set_prefix(host.to_string());
                bars.push((host.to_string(), b.clone()));
                b
            }
        };
        bar.set_message(activity.to_string());
    }
}

/// The terminal's lines (standard output's), or a generous guess.
fn terminal_rows() -> usize {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .map(|w| usize::from(w.ws_row))
        .filter(|&r| r > 0)
        .unwrap_or(24)
}

impl Reporter for Live {
    fn event(&self, event: &Event) {
        if let Event::Start { hosts, .. } = event {
            self.start(*hosts);
        }
        let in_fleet = {
            let mut fleet = self.fleet.lock().expect("fleet view");
            match &mut *fleet {
                Some(view) => {
                    view.state
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .event(event, Instant::now());
                    if matches!(event, Event::Progress { .. } | Event::HostDone { .. }) {
                        if view.lines.is_none() {
                            view.lines = Some(self.lines(&view.state));
                        }
                        if let Some(lines) = &view.lines {
                            lines.draw(&view.state);
                        }
                    }
                    true
                }
                None => false,
            }
        };
        if !in_fleet {
            match event {
                Event::Progress { host, activity } => self.update(host, activity),
                Event::HostDone { host, .. } => self.update(host, &Activity::Done),
                _ => {}
            }
        }
        let Some((text, to_err)) = Plain::format(self.color, event) else {
            return;
        };
        if to_err {
            let _ = self.multi.suspend(|| {
                use std::io::Write;
                std::io::stderr().write_all(text.as_bytes())
            });
            return;
        }
        for line in text.lines() {
            let _ = self.multi.println(line);
        }
    }

    fn flush(&self) {
        for (_, bar) in self.bars.lock().expect("live bars").drain(..) {
            bar.finish_and_clear();
        }
        if let Some(lines) = self
            .fleet
            .lock()
            .expect("fleet view")
            .as_mut()
            .and_then(|v| v.lines.take())
        {
            lines.finish();
        }
    }
}
