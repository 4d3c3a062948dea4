//! `ordo components ENV`: the components placed in an environment, and where.

use std::process::ExitCode;

use crate::cli::EnvArgs;
use crate::problem::Problems;
use crate::report::Event;
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &EnvArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.env).await?;
    let model = &loaded.model;
    let mut names: Vec<&str> = Vec::new();
    for c in model.components.iter().filter(|c| c.parent.is_none()) {
        if !names.contains(&c.name.as_str()) {
            names.push(&c.name);
        }
    }
    for name in names {
        let hosts = model
            .components
            .iter()
            .filter(|c| c.parent.is_none() && c.name == name)
            .map(|c| model.hosts[c.host].name.clone())
            .collect();
        ws.reporter.event(&Event::Component {
            name: name.to_string(),
            hosts,
        });
    }
    Ok(ExitCode::SUCCESS)
}
