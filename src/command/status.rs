//! `ordo status`: what each host has deployed, and who deploys it right now.

use std::process::ExitCode;

use crate::app::{load, select, ssh_options};
use crate::cli::TargetArgs;
use crate::exec;
use crate::problem::Problems;
use crate::project::Project;
use crate::report::Reporter;

pub(crate) async fn status(
    project: &Project,
    args: &TargetArgs,
    reporter: &dyn Reporter,
) -> Result<ExitCode, Problems> {
    let (model, plan, evaluated) = load(project, &args.env).await?;
    let selected = select(&model, &args.hosts)?;
    let hosts = exec::connect(&model, &selected, &ssh_options(project, args)).await?;
    let states = exec::read_states(&model, &hosts).await;
    hosts.close().await;
    let states = states?;
    let current = evaluated.fingerprint();
    let mut seen: Vec<&str> = Vec::new();
    for (h, status) in states.iter().enumerate() {
        if !selected[h] || plan.per_host[h].is_empty() && status.state.is_none() {
            continue;
        }
        let name = &model.hosts[h].name;
        let mut line = match &status.state {
            Some(s) => {
                if !seen.contains(&s.fingerprint.as_str()) {
                    seen.push(&s.fingerprint);
                }
                let mark = if s.fingerprint == current {
                    "current"
                } else {
                    "differs from this checkout"
                };
                let commit = s
                    .commit
                    .as_deref()
                    .map(|c| format!(", commit {}", &c[..c.len().min(12)]))
                    .unwrap_or_default();
                format!(
                    "{name}: {} ({mark}{commit}), ordo {}, deployed {} by {}",
                    s.fingerprint, s.ordo_version, s.deployed_at, s.deployed_by
                )
            }
            None => format!("{name}: never deployed"),
        };
        if let Some(lock) = &status.lock {
            line.push_str(&format!("; locked by {}", lock.describe()));
        }
        reporter.text(&line);
    }
    if seen.len() > 1 {
        reporter.text(&format!("hosts differ: {} versions deployed", seen.len()));
    }
    Ok(ExitCode::SUCCESS)
}
