//! `ordo check ENV`: load, evaluate and plan, touching no host.

use std::process::ExitCode;

use crate::cli::CheckArgs;
use crate::problem::Problems;
use crate::report::{Event, Level};
use crate::workspace::Workspace;

/// `--rev`: the revision is checked out (and removed after) and checked there.
pub(crate) async fn run(ws: &Workspace, args: &CheckArgs) -> Result<ExitCode, Problems> {
    let Some(rev) = &args.rev.rev else {
        return check(ws, &args.env).await;
    };
    let revision = super::deploy::checkout(ws, rev, args.rev.allow_any_rev).await?;
    ws.reporter.event(&Event::Notice {
        host: None,
        level: Level::Info,
        text: format!(
            "at {rev} (commit {}){}",
            revision.short(),
            if revision.ancestor {
                String::new()
            } else {
                format!(", not on the current branch {}", revision.branch)
            }
        ),
        span: None,
    });
    check(&ws.at_revision(revision.root.clone()), &args.env).await
}

async fn check(ws: &Workspace, env: &str) -> Result<ExitCode, Problems> {
    let loaded = ws.load(env).await?;
    ws.reporter.event(&Event::Checked {
        steps: loaded.model.steps.len(),
        hosts: loaded.plan.busy_hosts(),
    });
    Ok(ExitCode::SUCCESS)
}
