//! `ordo graph ENV`: the plan's step graph as Graphviz DOT, on stdout.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::EnvArgs;
use crate::problem::Problems;
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &EnvArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.env).await?;
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is fine.
    let _ = out.write_all(crate::plan::to_dot(&loaded.model, &loaded.plan).as_bytes());
    Ok(ExitCode::SUCCESS)
}
