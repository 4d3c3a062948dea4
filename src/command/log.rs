//! `ordo log ENV [--hosts …] [-n N]`: the hosts' deploy histories merged into one
//! timeline, newest first — one line per run with the hosts it reached, `!` where
//! they disagree — after a warning for each history that does not add up.

use std::process::ExitCode;

use super::timeline;
use crate::cli::LogArgs;
use crate::problem::Problems;
use crate::report::{Event, Level};
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &LogArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.target.env).await?;
    ws.learn_secrets(&args.target.env);
    let model = &loaded.model;
    let targets = ws.select(model, &args.target.hosts)?;
    let read = timeline::read(ws, model, &targets).await?;
    if read.timeline.entries.is_empty() && read.problems.is_empty() {
        ws.reporter.event(&Event::Notice {
            host: None,
            level: Level::Info,
            text: format!("no deploy recorded on the hosts of {}", model.environment),
            span: None,
        });
    }
    let n = args.max_count.unwrap_or(usize::MAX);
    let running = read.running(model);
    for m in read.timeline.entries.iter().take(n) {
        ws.reporter
            .event(&Event::LogEntry(Box::new(timeline::entry(m, &running))));
    }
    if read.problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Problems(read.problems))
    }
}
