//! `ordo check ENV`: load, evaluate and plan, touching no host. What the
//! controller's record knows is said too: a host deployed once and no longer
//! declared, a retired host whose declaration can go.

use std::process::ExitCode;

use crate::cli::CheckArgs;
use crate::exec::reached::{Ending, ReachedHosts, warn_undeclared};
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

/// What the controller's record knows is read from the checkout ordo runs in
/// (`ws.origin`), also at a revision.
async fn check(ws: &Workspace, env: &str) -> Result<ExitCode, Problems> {
    let loaded = ws.load(env).await?;
    let model = &loaded.model;
    warn_undeclared(&ws.origin, model, &*ws.reporter);
    let record = ReachedHosts::read(&ws.controller_state(&model.environment));
    for host in model.hosts.iter().filter(|h| h.retired) {
        let text = match record.hosts.get(&host.name).filter(|r| r.result == Ending::Retired) {
            Some(r) => format!(
                "{} is retired and was torn down on {} (by {}): its declaration can go",
                host.name, r.at, r.by
            ),
            None => format!(
                "{} is retired: `ordo deploy {}` stops and removes what ordo created there",
                host.name, model.environment
            ),
        };
        ws.reporter.event(&Event::Notice {
            host: Some(host.name.clone()),
            level: Level::Info,
            text,
            span: host.span.clone(),
        });
    }
    ws.reporter.event(&Event::Checked {
        steps: model.steps.len(),
        hosts: loaded.plan.busy_hosts(),
    });
    Ok(ExitCode::SUCCESS)
}
