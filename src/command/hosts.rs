//! `ordo hosts ENV`: the hosts of an environment, for people and scripts — with a
//! warning for a host a deploy reached that the environment no longer declares.
//! `ordo hosts forget ENV HOST`: stop warning about such a host (decision 57).

use std::process::ExitCode;

use crate::cli::{HostsArgs, HostsCommand};
use crate::exec::reached::{ReachedHosts, warn_undeclared};
use crate::problem::suggest::list_or_none;
use crate::problem::{Kind, Problem, Problems};
use crate::project::controller_state::ControllerState;
use crate::report::{Event, Level};
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &HostsArgs) -> Result<ExitCode, Problems> {
    match (&args.command, &args.env) {
        (Some(HostsCommand::Forget { env, host }), _) => forget(ws, env, host).await,
        (None, Some(env)) => list(ws, env).await,
        (None, None) => Err(Problem::new(Kind::Usage, "ordo hosts needs the environment")
            .help("ordo hosts ENV")
            .into()),
    }
}

async fn list(ws: &Workspace, env: &str) -> Result<ExitCode, Problems> {
    let loaded = ws.load(env).await?;
    warn_undeclared(&ws.project, &loaded.model, &*ws.reporter);
    for e in crate::report::host_events(&loaded.model) {
        ws.reporter.event(&e);
    }
    Ok(ExitCode::SUCCESS)
}

/// Drops `host` from the controller's record of `env`. The environment is loaded
/// first: a host it still declares is not forgotten (the next deploy would
/// reach it again).
async fn forget(ws: &Workspace, env: &str, host: &str) -> Result<ExitCode, Problems> {
    let loaded = ws.load(env).await?;
    let model = &loaded.model;
    if let Some(h) = model.hosts.iter().find(|h| h.name == host) {
        return Err(Problem::new(
            Kind::Usage,
            format!("host `{host}` is declared in environment `{env}`; there is nothing to forget"),
        )
        .at(h.span.as_ref(), "declared here")
        .help(if h.retired {
            "deploy to tear it down, then delete its declaration".to_string()
        } else {
            format!("to tear it down, add .retire() to its declaration and run `ordo deploy {env}`")
        })
        .with_sources(&loaded.sources)
        .into());
    }
    let state = ControllerState::new(&ws.project, env);
    let mut record = ReachedHosts::read(&state);
    let Some(gone) = record.hosts.remove(host) else {
        let known: Vec<&str> = record.undeclared(model).into_iter().map(|(n, _)| n).collect();
        return Err(Problem::new(
            Kind::Usage,
            format!("ordo has no record of host `{host}` in environment `{env}`"),
        )
        .help(format!(
            "{}hosts ordo remembers and the environment no longer declares: {}",
            crate::problem::suggest::did_you_mean(host, known.iter().copied()),
            list_or_none(&known)
        ))
        .into());
    };
    record.write(&state)?;
    // A host of that name declared again later starts a history of its own.
    crate::exec::history::forget(&state, &[host.to_string()]);
    ws.reporter.event(&Event::Notice {
        host: Some(host.to_string()),
        level: Level::Info,
        text: format!(
            "forgot {host} (a deploy reached it on {} by {}): ordo no longer warns about it; nothing on the host was changed",
            gone.at, gone.by
        ),
        span: None,
    });
    Ok(ExitCode::SUCCESS)
}
