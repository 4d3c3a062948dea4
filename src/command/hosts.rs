//! `ordo hosts ENV`: the hosts of an environment, for people and scripts.

use std::process::ExitCode;

use crate::cli::EnvArgs;
use crate::model::TransportSpec;
use crate::problem::Problems;
use crate::report::Event;
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &EnvArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.env).await?;
    let model = &loaded.model;
    for (id, host) in model.hosts.enumerate() {
        let mut components: Vec<String> = model
            .components
            .iter()
            .filter(|c| c.host == id && c.parent.is_none())
            .map(|c| c.name.clone())
            .collect();
        components.dedup();
        let (transport, address) = match &host.transport {
            TransportSpec::Local { home } => ("local", home.display().to_string()),
            TransportSpec::Ssh { address, port, user } => {
                let user = user
                    .as_deref()
                    .or((!host.user.is_empty()).then_some(host.user.as_str()));
                let login = user.map(|u| format!("{u}@")).unwrap_or_default();
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                ("ssh", format!("{login}{address}{port}"))
            }
        };
        ws.reporter.event(&Event::Host {
            name: host.name.clone(),
            transport,
            address,
            roles: host.roles.clone(),
            components,
        });
    }
    Ok(ExitCode::SUCCESS)
}
