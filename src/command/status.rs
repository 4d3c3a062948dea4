//! `ordo status ENV`: what each host has deployed — its current entry of the deploy
//! history (the last run that took its lock: revision, dirty flag, who, when,
//! result) and the version record of its last change — who deploys it right now,
//! and, when the hosts differ, how many deploys ago they last agreed; a retired
//! host, whether its teardown is still to come.

use std::process::ExitCode;

use super::timeline;
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
    exec::reached::warn_undeclared(&ws.origin, model, &*ws.reporter);
    let targets = ws.select(model, &args.hosts)?;
    let read = timeline::read(ws, model, &targets).await?;
    let current = loaded.evaluated.fingerprint().to_string();
    let mut seen: Vec<String> = Vec::new();
    let mut shown_hosts: Vec<String> = Vec::new();
    let mut newest: Vec<String> = Vec::new();
    let running = read.running(model);
    for (h, status, history) in &read.hosts {
        let h = *h;
        let retired = model.hosts[h].retired;
        if plan.per_host[h].is_empty() && status.state.is_none() && history.entries.is_empty() && !retired {
            continue;
        }
        let name = model.hosts[h].name.clone();
        let deployed = status.state.as_ref().map(|s| {
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
        // The current entry: the newest run in this host's history, as the merged
        // timeline has it (with the other hosts' parts).
        let run = history.newest().map(|e| e.run().to_string());
        let current_entry = run
            .as_deref()
            .and_then(|r| read.timeline.entries.iter().find(|m| m.run() == r))
            .map(|m| timeline::entry(m, &running));
        // Compared between hosts: the newest run that may have changed the host (a
        // run that applied nothing changes no story); hosts without any are left out.
        let changing = history.entries.iter().rev().find(|e| {
            e.end
                .as_ref()
                .is_none_or(|end| end.result != crate::exec::history::Outcome::NotApplied)
        });
        if let Some(e) = changing.filter(|_| !retired) {
            let result = e.end.as_ref().map_or("unfinished", |end| end.result.word());
            newest.push(format!("{} {result}", e.run()));
        }
        ws.reporter.event(&Event::HostStatus(Box::new(HostStatus {
            host: name.clone(),
            deployed,
            current: current_entry,
            stale_lock: status.lock.as_ref().and_then(exec::LockInfo::alive_here) == Some(false),
            locked_by: status.lock.as_ref().map(exec::LockInfo::describe),
            retired,
        })));
        // A retired host's runs are not compared either.
        if !retired {
            shown_hosts.push(name);
        }
    }
    // The hosts differ when they deployed different versions, or their newest
    // runs are not the same run ending alike on each.
    let runs_differ = newest.windows(2).any(|w| w[0] != w[1]);
    if seen.len() > 1 || runs_differ {
        let agreed = read.timeline.agreed(&shown_hosts);
        ws.reporter.event(&Event::VersionsDiffer {
            versions: seen.len(),
            diverged: agreed,
            since: agreed.map(|i| read.timeline.entries[i].run().to_string()),
        });
    }
    if read.problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Problems(read.problems))
    }
}
