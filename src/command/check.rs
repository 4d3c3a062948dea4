//! `ordo check ENV`: load, evaluate and plan, touching no host.

use std::process::ExitCode;

use crate::cli::EnvArgs;
use crate::problem::Problems;
use crate::report::Event;
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &EnvArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.env).await?;
    ws.reporter.event(&Event::Checked {
        steps: loaded.model.steps.len(),
        hosts: loaded.plan.busy_hosts(),
    });
    Ok(ExitCode::SUCCESS)
}
