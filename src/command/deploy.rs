//! `ordo plan` and `ordo deploy`: what only the command line has — the git check,
//! `--hosts`, the connections, the terminal's prompt, the record of the deployed
//! version, the controller's record of the hosts a deploy reached (and the warning
//! for one no longer declared) — around the one deploy transaction ([`Deployment`]:
//! lock, plan, confirm, apply, record, release), whose locks are released when the
//! run is interrupted (SIGINT, SIGTERM, SIGHUP) too.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use crate::cli::{DeployArgs, PlanArgs, TargetArgs};
use crate::exec::{self, ApplyRequest, Catalog, Confirm, Deployment, HostState, Request, RunStep};
use crate::problem::{Kind, Problem, Problems};
use crate::project::controller_state::ControllerState;
use crate::report::Event;
use crate::workspace::Workspace;

pub(crate) async fn plan(ws: &Workspace, args: &PlanArgs) -> Result<ExitCode, Problems> {
    let opts = Options {
        apply: false,
        yes: true,
        break_lock: false,
        allow_dirty: true,
        switch_environment: false,
    };
    let result = run(ws, &args.target, &opts).await;
    if !args.exit_code {
        return result.map(|_| ExitCode::SUCCESS);
    }
    match result {
        // A host deployed once and no longer declared is drift too.
        Ok(Ran {
            changes: 0,
            undeclared: 0,
        }) => Ok(ExitCode::SUCCESS),
        Ok(_) => Ok(ExitCode::from(2)),
        Err(ps) if ps.kind().exit_code() == 2 => {
            // 2 means "changes" here; an error of that kind exits 1.
            let mut ps = ps;
            for p in &mut ps.0 {
                p.kind = Kind::Step;
            }
            Err(ps)
        }
        Err(ps) => Err(ps),
    }
}

pub(crate) async fn deploy(ws: &Workspace, args: &DeployArgs) -> Result<ExitCode, Problems> {
    let opts = Options {
        apply: true,
        yes: args.yes,
        break_lock: args.break_lock,
        allow_dirty: args.allow_dirty,
        switch_environment: args.switch_environment,
    };
    run(ws, &args.target, &opts).await.map(|_| ExitCode::SUCCESS)
}

struct Options {
    apply: bool,
    yes: bool,
    break_lock: bool,
    allow_dirty: bool,
    switch_environment: bool,
}

/// What a plan (or deploy) found.
struct Ran {
    /// Planned changes.
    changes: usize,
    /// Hosts a deploy reached that the environment no longer declares.
    undeclared: usize,
}

/// Plans (and applies).
async fn run(ws: &Workspace, args: &TargetArgs, opts: &Options) -> Result<Ran, Problems> {
    let started = Instant::now();
    let loaded = ws.load_with(&args.env, true).await?;
    // Only the files this evaluation read count: a host home or an edited README
    // does not make the deployment dirty.
    let git = ws.project.git(loaded.evaluated.inputs());
    if let Some(g) = git
        .as_ref()
        .filter(|g| opts.apply && !opts.allow_dirty && !g.dirty.is_empty())
    {
        let shown: Vec<&str> = g.dirty.iter().take(10).map(String::as_str).collect();
        return Err(Problem::new(
            Kind::Usage,
            format!("the project has uncommitted changes:\n{}", shown.join("\n")),
        )
        .help("commit them so every host gets a version you can name, or deploy anyway with --allow-dirty")
        .into());
    }
    let (model, plan) = (&loaded.model, &loaded.plan);
    // Never touched, never silent: a host deployed before and deleted since.
    let undeclared = exec::reached::warn_undeclared(&ws.project, model, &*ws.reporter);
    // A host with no step left is still probed: what ordo created there before,
    // and no step declares now, is removed.
    let targets: Vec<_> = ws.select(model, &args.hosts)?;
    ws.reporter.event(&Event::Start {
        command: if opts.apply { "deploy".into() } else { "plan".into() },
        environment: model.environment.clone(),
        service: model.service.clone(),
        hosts: targets.len(),
        steps: targets.iter().map(|&h| plan.per_host[h].len()).sum(),
    });
    let hosts = tokio::select! {
        h = ws.connect(model, &targets) => h.map_err(|ps| retired_unreachable(model, ps))?,
        () = ws.cancelled() => return Err(interrupted()),
    };
    let record = HostState {
        fingerprint: loaded.evaluated.fingerprint().to_string(),
        ordo_version: crate::VERSION.to_string(),
        environment: model.environment.clone(),
        service: model.service.clone(),
        deployed_at: crate::sys::now_rfc3339(),
        deployed_by: crate::sys::operator(),
        dirty: git.as_ref().is_some_and(|g| !g.dirty.is_empty()),
        commit: git.map(|g| g.commit),
        set: ws.config.sets.iter().map(|s| s.text.clone()).collect(),
        libraries: loaded.evaluated.libraries.clone(),
    };
    let every_step = |_: &Catalog, _: RunStep| true;
    let mut deployment = Deployment::begin(Request {
        model,
        plan,
        hosts: &hosts,
        reporter: ws.reporter.clone(),
        sources: &loaded.sources,
        keep: &every_step,
        apply: opts.apply.then_some(ApplyRequest {
            break_lock: opts.break_lock,
            switch_environment: opts.switch_environment,
            record: Some(record),
            report_hosts: true,
        }),
        started,
    });
    // An interruption wins over whatever the transaction was about to return; the
    // locks are released by `end` either way.
    let result = tokio::select! {
        biased;
        () = ws.cancelled() => Err(interrupted()),
        r = drive(&mut deployment, opts) => r,
    };
    let outcome = deployment.outcome().cloned();
    let result = deployment.end(result).await;
    hosts.close().await;
    if let Some(outcome) = outcome {
        note_reached(ws, model, &outcome);
    }
    result.map(|changes| Ran { changes, undeclared })
}

/// Keeps what the deploy did on each host in the controller's record (for the
/// warning about a host deleted later, decision 57), and says which retired hosts
/// are torn down now.
fn note_reached(
    ws: &Workspace,
    model: &crate::model::Model,
    outcome: &std::collections::HashMap<crate::model::HostId, exec::Totals>,
) {
    let state = ControllerState::new(&ws.project, &model.environment);
    let mut record = exec::ReachedHosts::read(&state);
    record.note(model, outcome, &crate::sys::now_rfc3339(), &crate::sys::operator());
    if let Err(p) = record.write(&state) {
        let w = p.as_warning();
        ws.reporter.event(&Event::Warning {
            report: crate::report::ProblemReport::of(&w),
            problem: Arc::new(w),
        });
    }
    let mut torn_down: Vec<_> = outcome
        .iter()
        .filter(|(id, totals)| model.hosts[**id].retired && totals.recorded)
        .map(|(id, _)| *id)
        .collect();
    torn_down.sort();
    for id in torn_down {
        let host = &model.hosts[id];
        ws.reporter.event(&Event::Notice {
            host: Some(host.name.clone()),
            level: crate::report::Level::Info,
            text: format!(
                "{} is torn down: nothing of {} is left there for ordo; its declaration can go",
                host.name, model.service
            ),
            span: host.span.clone(),
        });
    }
}

/// A retired host that cannot be reached stops the run like any other; the help
/// says what to do when it is gone for good.
fn retired_unreachable(model: &crate::model::Model, ps: Problems) -> Problems {
    Problems(
        ps.0.into_iter()
            .map(|mut p| {
                // Connection problems name their host in the message.
                let retired = model.hosts.iter().find(|h| {
                    h.retired
                        && (p.host.as_deref() == Some(h.name.as_str())
                            || p.message.contains(&format!("host `{}`", h.name)))
                });
                if let Some(h) = retired {
                    let more = format!(
                        "`{}` is retired: if it is gone for good, delete its declaration and run `ordo hosts forget {} {}`; to deploy the other hosts meanwhile, leave it out with --hosts",
                        h.name, model.environment, h.name
                    );
                    p.help = Some(match p.help.take() {
                        Some(h) => format!("{h}\n{more}"),
                        None => more,
                    });
                }
                p
            })
            .collect(),
    )
}

/// The transaction after `begin`: plan, then (for deploy) confirm and apply.
async fn drive(deployment: &mut Deployment<'_>, opts: &Options) -> Result<usize, Problems> {
    let prediction = deployment.predict().await?;
    let changes = prediction.counts().changes;
    if !opts.apply {
        deployment.refuse_conflicts(&prediction)?;
        return Ok(changes);
    }
    deployment.apply(prediction, confirmation(opts.yes)).await?;
    Ok(changes)
}

fn interrupted() -> Problems {
    Problem::new(Kind::Interrupted, "interrupted")
        .help("steps already applied stay applied (each file is written atomically), and this run's locks were released; run the deploy again to finish")
        .into()
}

/// `--yes`, a prompt on the terminal, or a refusal when there is no terminal.
fn confirmation(yes: bool) -> Confirm {
    if yes {
        return Confirm::Yes;
    }
    if !std::io::stdin().is_terminal() {
        return Confirm::Refuse(Box::new(
            Problem::new(
                Kind::Usage,
                "refusing to deploy without confirmation: standard input is not a terminal",
            )
            .help("review the plan (ordo plan ENV), then run ordo deploy ENV --yes"),
        ));
    }
    Confirm::Ask(Arc::new(|question: &str| {
        eprint!("{question}");
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        matches!(line.trim(), "y" | "Y" | "yes")
    }))
}
