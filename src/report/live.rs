//! Output for people on a terminal: the plain lines, plus one live line per host
//! saying what it is doing (a spinner). The lines are printed above the spinners so
//! they never tear. Without colour, the spinners carry no escape codes either.

use std::sync::Mutex;

use super::plain::Plain;
use super::{Activity, Event, Reporter};

pub struct Live {
    multi: indicatif::MultiProgress,
    bars: Mutex<Vec<(String, indicatif::ProgressBar)>>,
    color: bool,
}

impl Live {
    pub fn new(color: bool) -> Self {
        Live {
            multi: indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stdout()),
            bars: Mutex::new(Vec::new()),
            color,
        }
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
                let b = self.multi.add(indicatif::ProgressBar::new_spinner());
                let template = if self.color {
                    "  {spinner} {prefix:.bold} {wide_msg}"
                } else {
                    "  {spinner} {prefix} {wide_msg}"
                };
                b.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
                b.set_prefix(host.to_string());
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                bars.push((host.to_string(), b.clone()));
                b
            }
        };
        bar.set_message(activity.to_string());
    }
}

impl Reporter for Live {
    fn event(&self, event: &Event) {
        match event {
            Event::Progress { host, activity } => self.update(host, activity),
            Event::HostDone { host, .. } => self.update(host, &Activity::Done),
            _ => {}
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
    }
}
