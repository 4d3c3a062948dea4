//! `ordo hosts ENV`: the hosts of an environment, for people and scripts.

use std::process::ExitCode;

use crate::cli::EnvArgs;
use crate::problem::Problems;
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &EnvArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.env).await?;
    for e in crate::report::host_events(&loaded.model) {
        ws.reporter.event(&e);
    }
    Ok(ExitCode::SUCCESS)
}
