//! `ordo status ENV`: what each host has deployed, and who deploys it right now; a
//! retired host, whether its teardown is still to come.

use std::process::ExitCode;

use crate::cli::TargetArgs;
use crate::exec;
use crate::problem::Problems;
use crate::report::{Deployed, Event, HostStatus};
use crate::text::visible;
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &TargetArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.env).await?;
    ws.learn_secrets(&args.env);
    let (model, plan) = (&loaded.model, &loaded.plan);
    exec::reached::warn_undeclared(&ws.project, model, &*ws.reporter);
    let targets = ws.select(model, &args.hosts)?;
    let hosts = ws.connect(model, &targets).await?;
    let states = exec::read_states(model, &hosts).await;
    hosts.close().await;
    let current = loaded.evaluated.fingerprint().to_string();
    let mut problems = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (h, status) in states {
        let status = match status {
            Ok(s) => s,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let retired = model.hosts[h].retired;
        if plan.per_host[h].is_empty() && status.state.is_none() && !retired {
            continue;
        }
        let deployed = status.state.map(|s| {
            // A retired host's version is on its way out: not one that differs.
            if !retired && !seen.contains(&s.fingerprint) {
                seen.push(s.fingerprint.clone());
            }
            // Everything below was read from the host: shown, never obeyed by a
            // terminal.
            let shown = |text: &str| visible(text, false);
            Deployed {
                current: s.fingerprint == current,
                fingerprint: shown(&s.fingerprint),
                commit: s.commit.as_deref().map(shown),
                dirty: s.dirty,
                environment: shown(&s.environment),
                ordo_version: shown(&s.ordo_version),
                deployed_at: shown(&s.deployed_at),
                deployed_by: shown(&s.deployed_by),
                set: s.set.iter().map(|v| shown(v)).collect(),
                libraries: s.libraries.iter().map(|(n, c)| (shown(n), shown(c))).collect(),
            }
        });
        ws.reporter.event(&Event::HostStatus(HostStatus {
            host: model.hosts[h].name.clone(),
            deployed,
            stale_lock: status.lock.as_ref().and_then(exec::LockInfo::alive_here) == Some(false),
            locked_by: status.lock.as_ref().map(exec::LockInfo::describe),
            retired,
        }));
    }
    if seen.len() > 1 {
        ws.reporter.event(&Event::VersionsDiffer { versions: seen.len() });
    }
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Problems(problems))
    }
}
