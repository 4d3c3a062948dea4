//! One function per subcommand, composing the stages: load + evaluate (`script`),
//! `plan`, `exec` over `transport`, and `report`. Every error is rendered here, in
//! one place, and mapped to the exit code.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use crate::cli::{Cli, Color, Command, DeployArgs, Format, TargetArgs};
use crate::exec::{self, HostState};
use crate::model::Model;
use crate::plan::Plan;
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::report::{Event, Human, Json, Reporter};
use crate::script;

/// Runs ordo with parsed arguments and returns the process exit code:
/// 0 success, 1 a step failed on a host, 2 the project has errors (or bad usage),
/// 3 a host could not be reached.
pub fn run(cli: Cli) -> ExitCode {
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let err_color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(err_color)
                .unicode(true)
                .terminal_links(false)
                .width(100)
                .build(),
        )
    }));
    let reporter: Arc<dyn Reporter> = match cli.format {
        Format::Human => Arc::new(Human::new(Box::new(std::io::stdout()), color)),
        Format::Json => Arc::new(Json::new(Box::new(std::io::stdout()))),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(dispatch(cli, reporter)) {
        Ok(code) => code,
        Err(problems) => {
            let code = exit_code(problems.kind());
            let mut stderr = std::io::stderr().lock();
            for p in problems.0 {
                let _ = writeln!(stderr, "{:?}", miette::Report::new(p));
            }
            code
        }
    }
}

fn exit_code(kind: Kind) -> ExitCode {
    match kind {
        Kind::Step => ExitCode::from(1),
        Kind::Connect => ExitCode::from(3),
        _ => ExitCode::from(2),
    }
}

async fn dispatch(cli: Cli, reporter: Arc<dyn Reporter>) -> Result<ExitCode, Problems> {
    let start = cli.directory.clone().unwrap_or_else(|| PathBuf::from("."));
    let project = Project::discover(&start)?;
    match cli.command {
        Command::Check(a) => {
            let (model, plan, _) = load(&project, &a.env).await?;
            reporter.text(&format!("ok: {} steps on {} hosts", model.steps.len(), plan.busy_hosts()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph(a) => {
            let (model, plan, _) = load(&project, &a.env).await?;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(crate::plan::to_dot(&model, &plan).as_bytes());
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(a) => deploy(&project, &a, false, true, reporter).await,
        Command::Deploy(DeployArgs { target, yes }) => deploy(&project, &target, true, yes, reporter).await,
        Command::Status(a) => status(&project, &a, &*reporter).await,
    }
}

/// Evaluates on a blocking thread (Rhai is synchronous) and plans.
async fn load(project: &Project, env: &str) -> Result<(Arc<Model>, Arc<Plan>, script::Evaluated), Problems> {
    let root = project.root.clone();
    let env = env.to_string();
    let evaluated = tokio::task::spawn_blocking(move || script::evaluate(&Project { root }, &env))
        .await
        .map_err(|e| Problem::new(Kind::Script, format!("internal error while evaluating: {e}")))??;
    let plan = Plan::build(&evaluated.model).map_err(|p| p.with_sources(&evaluated.sources))?;
    Ok((evaluated.model.clone(), Arc::new(plan), evaluated))
}

/// `--hosts`: names, globs or roles; an entry that matches nothing is an error.
fn select(model: &Model, patterns: &[String]) -> Result<Vec<bool>, Problems> {
    if patterns.is_empty() {
        return Ok(vec![true; model.hosts.len()]);
    }
    let mut selected = vec![false; model.hosts.len()];
    for pattern in patterns {
        let glob = globset::Glob::new(pattern)
            .map_err(|e| Problem::new(Kind::Usage, format!("--hosts: `{pattern}` is not a valid pattern: {e}")))?
            .compile_matcher();
        let mut any = false;
        for (i, h) in model.hosts.iter().enumerate() {
            if glob.is_match(&h.name) || h.roles.iter().any(|r| r == pattern) {
                selected[i] = true;
                any = true;
            }
        }
        if !any {
            let names: Vec<&str> = model.hosts.iter().map(|h| h.name.as_str()).collect();
            return Err(Problem::new(Kind::Usage, format!("--hosts: `{pattern}` matches no host and no role"))
                .help(format!("hosts of {}: {}", model.environment, names.join(", ")))
                .into());
        }
    }
    Ok(selected)
}

async fn deploy(project: &Project, args: &TargetArgs, apply: bool, yes: bool, reporter: Arc<dyn Reporter>) -> Result<ExitCode, Problems> {
    let started = Instant::now();
    let (model, plan, evaluated) = load(project, &args.env).await?;
    let selected = select(&model, &args.hosts)?;
    let targeted: Vec<usize> = (0..model.hosts.len()).filter(|&h| selected[h] && !plan.per_host[h].is_empty()).collect();
    let mut selected = selected;
    for (h, s) in selected.iter_mut().enumerate() {
        *s = *s && !plan.per_host[h].is_empty();
    }
    reporter.event(&Event::Start {
        command: if apply { "deploy".into() } else { "plan".into() },
        environment: model.environment.clone(),
        service: model.service.clone(),
        hosts: targeted.len(),
        steps: targeted.iter().map(|&h| plan.per_host[h].len()).sum(),
    });
    let hosts = exec::connect(&model, &selected).await?;
    let result = run_deploy(project, &model, &plan, &hosts, &evaluated.sources, apply, yes, reporter, targeted.len(), started).await;
    hosts.close().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_deploy(
    project: &Project,
    model: &Arc<Model>,
    plan: &Arc<Plan>,
    hosts: &exec::Hosts,
    sources: &crate::source::SourceMap,
    apply: bool,
    yes: bool,
    reporter: Arc<dyn Reporter>,
    host_count: usize,
    started: Instant,
) -> Result<ExitCode, Problems> {
    let prediction = exec::predict(model, plan, hosts, &*reporter).await?;
    let conflicts = prediction.conflicts().len();
    reporter.event(&Event::PlanDone {
        changes: prediction.change_count() - conflicts,
        unchanged: prediction.unchanged,
        conflicts,
        hosts: host_count,
    });
    if conflicts > 0 {
        let first = prediction.conflicts()[0];
        let step = &model.steps[first.step];
        let message = match &first.change {
            exec::Change::Conflict { message } => message.clone(),
            _ => String::new(),
        };
        return Err(Problem::new(Kind::Step, format!("{}: {message}", model.step_path(first.step)))
            .at(step.span.as_ref(), "this step")
            .help("ordo does not delete what it did not create: move it away on the host, then deploy again")
            .with_sources(sources)
            .into());
    }
    if !apply {
        return Ok(ExitCode::SUCCESS);
    }
    let record = HostState {
        fingerprint: project.fingerprint(),
        ordo_version: crate::VERSION.to_string(),
        environment: model.environment.clone(),
        service: model.service.clone(),
        deployed_at: exec::state::now_rfc3339(),
        deployed_by: exec::state::operator(),
    };
    if prediction.change_count() > 0 && !yes && !confirm(prediction.change_count(), host_count)? {
        reporter.text("nothing applied");
        return Ok(ExitCode::SUCCESS);
    }
    let unchanged = prediction.unchanged;
    let applied = exec::apply(model, plan, prediction, hosts, reporter.clone(), &record).await;
    reporter.event(&Event::Summary {
        changed: applied.changed,
        unchanged,
        failed: applied.failed,
        skipped: applied.skipped,
        hosts: host_count,
        duration_ms: started.elapsed().as_millis() as u64,
    });
    if applied.problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Problems(applied.problems.into_iter().map(|p| p.with_sources(sources)).collect()))
    }
}

fn confirm(changes: usize, hosts: usize) -> Result<bool, Problems> {
    if !std::io::stdin().is_terminal() {
        return Err(Problem::new(Kind::Usage, "refusing to deploy without confirmation: standard input is not a terminal")
            .help("review the plan (ordo plan ENV), then run ordo deploy ENV --yes")
            .into());
    }
    eprint!("apply {changes} changes to {hosts} hosts? [y/N] ");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

async fn status(project: &Project, args: &TargetArgs, reporter: &dyn Reporter) -> Result<ExitCode, Problems> {
    let (model, plan, _evaluated) = load(project, &args.env).await?;
    let selected = select(&model, &args.hosts)?;
    let hosts = exec::connect(&model, &selected).await?;
    let states = exec::read_states(&model, &hosts).await;
    hosts.close().await;
    let states = states?;
    let current = project.fingerprint();
    let mut seen: Vec<&str> = Vec::new();
    for (h, state) in states.iter().enumerate() {
        if !selected[h] || plan.per_host[h].is_empty() && state.is_none() {
            continue;
        }
        let name = &model.hosts[h].name;
        match state {
            Some(s) => {
                if !seen.contains(&s.fingerprint.as_str()) {
                    seen.push(&s.fingerprint);
                }
                let mark = if s.fingerprint == current { "current" } else { "differs from this checkout" };
                reporter.text(&format!("{name}: {} ({mark}), ordo {}, deployed {} by {}", s.fingerprint, s.ordo_version, s.deployed_at, s.deployed_by));
            }
            None => reporter.text(&format!("{name}: never deployed")),
        }
    }
    if seen.len() > 1 {
        reporter.text(&format!("hosts differ: {} versions deployed", seen.len()));
    }
    Ok(ExitCode::SUCCESS)
}
