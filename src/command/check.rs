//! `ordo check ENV`: load, evaluate and plan, touching no host. What the
//! controller's record knows is said too: a host deployed once and no longer
//! declared, a retired host whose declaration can go.

use std::process::ExitCode;

use crate::cli::EnvArgs;
use crate::exec::reached::{Ending, ReachedHosts, warn_undeclared};
use crate::problem::Problems;
use crate::project::controller_state::ControllerState;
use crate::report::{Event, Level};
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &EnvArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.env).await?;
    let model = &loaded.model;
    warn_undeclared(&ws.project, model, &*ws.reporter);
    let record = ReachedHosts::read(&ControllerState::new(&ws.project, &model.environment));
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
