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
        Format::Human if std::io::stdout().is_terminal() => Arc::new(Human::live(color)),
        Format::Human => Arc::new(Human::new(Box::new(std::io::stdout()), color)),
        Format::Json => Arc::new(Json::new(Box::new(std::io::stdout()))),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Ctrl-C drops the running command: transports close their SSH masters on drop,
    // and a deploy releases its locks first (see `deploy`).
    let own_handler = matches!(cli.command, Command::Deploy(_));
    let interruptible = async {
        if own_handler {
            return dispatch(cli, reporter).await;
        }
        tokio::select! {
            r = dispatch(cli, reporter) => r,
            _ = tokio::signal::ctrl_c() => Err(Problem::new(Kind::Usage, "interrupted (Ctrl-C)").into()),
        }
    };
    let result = runtime.block_on(interruptible);
    // A confirmation prompt may still be waiting for input after Ctrl-C.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
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
        Kind::Locked => ExitCode::from(4),
        _ => ExitCode::from(2),
    }
}

async fn dispatch(cli: Cli, reporter: Arc<dyn Reporter>) -> Result<ExitCode, Problems> {
    let start = cli.directory.clone().unwrap_or_else(|| PathBuf::from("."));
    let project = Project::discover(&start)?;
    match cli.command {
        Command::Check(a) => {
            let (model, plan, _) = load(&project, &a.env).await?;
            reporter.text(&format!(
                "ok: {} steps on {} hosts",
                model.steps.len(),
                plan.busy_hosts()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph(a) => {
            let (model, plan, _) = load(&project, &a.env).await?;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(crate::plan::to_dot(&model, &plan).as_bytes());
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(a) => {
            let opts = DeployOptions {
                apply: false,
                yes: true,
                break_lock: false,
                allow_dirty: true,
            };
            deploy(&project, &a, opts, reporter).await
        }
        Command::Deploy(DeployArgs {
            target,
            yes,
            break_lock,
            allow_dirty,
        }) => {
            let opts = DeployOptions {
                apply: true,
                yes,
                break_lock,
                allow_dirty,
            };
            deploy(&project, &target, opts, reporter).await
        }
        Command::Status(a) => status(&project, &a, &*reporter).await,
        Command::Run(a) => run_command(&project, &a, &*reporter).await,
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
            return Err(
                Problem::new(Kind::Usage, format!("--hosts: `{pattern}` matches no host and no role"))
                    .help(format!("hosts of {}: {}", model.environment, names.join(", ")))
                    .into(),
            );
        }
    }
    Ok(selected)
}

fn ssh_options(project: &Project, args: &TargetArgs) -> crate::transport::SshOptions {
    let mut ssh = crate::transport::SshOptions::default_for(&project.root);
    ssh.accept_new_host_keys |= args.accept_new_host_keys;
    ssh
}

/// A random-enough token that marks this run's locks as ours.
fn run_token() -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = Sha256::digest(format!("{nanos}-{}-{}", std::process::id(), exec::state::operator()).as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

struct DeployOptions {
    apply: bool,
    yes: bool,
    break_lock: bool,
    allow_dirty: bool,
}

async fn deploy(
    project: &Project,
    args: &TargetArgs,
    opts: DeployOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<ExitCode, Problems> {
    let started = Instant::now();
    let git = project.git();
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
    let (model, plan, evaluated) = load(project, &args.env).await?;
    let selected = select(&model, &args.hosts)?;
    let targeted: Vec<usize> = (0..model.hosts.len())
        .filter(|&h| selected[h] && !plan.per_host[h].is_empty())
        .collect();
    let mut selected = selected;
    for (h, s) in selected.iter_mut().enumerate() {
        *s = *s && !plan.per_host[h].is_empty();
    }
    reporter.event(&Event::Start {
        command: if opts.apply { "deploy".into() } else { "plan".into() },
        environment: model.environment.clone(),
        service: model.service.clone(),
        hosts: targeted.len(),
        steps: targeted.iter().map(|&h| plan.per_host[h].len()).sum(),
    });
    let hosts = exec::connect(&model, &selected, &ssh_options(project, args)).await?;
    let locking = opts.apply.then(|| exec::Locking {
        info: exec::LockInfo {
            holder: exec::state::operator(),
            pid: std::process::id(),
            environment: model.environment.clone(),
            since: exec::state::now_rfc3339(),
            token: run_token(),
        },
        break_lock: opts.break_lock,
    });
    let record = HostState {
        fingerprint: project.fingerprint(),
        ordo_version: crate::VERSION.to_string(),
        environment: model.environment.clone(),
        service: model.service.clone(),
        deployed_at: exec::state::now_rfc3339(),
        deployed_by: exec::state::operator(),
        commit: git.map(|g| g.commit),
    };
    let run = Run {
        model: &model,
        plan: &plan,
        hosts: &hosts,
        sources: &evaluated.sources,
        reporter,
        host_count: targeted.len(),
        started,
    };
    let result = tokio::select! {
        r = run.go(&opts, locking.as_ref(), &record) => r,
        _ = tokio::signal::ctrl_c() => Err(Problem::new(Kind::Step, "interrupted (Ctrl-C)")
            .help("steps already applied stay applied (each file is written atomically); run the deploy again to finish")
            .into()),
    };
    if let Some(l) = &locking {
        exec::unlock(&model, &hosts, &l.info).await;
    }
    hosts.close().await;
    result
}

struct Run<'a> {
    model: &'a Arc<Model>,
    plan: &'a Arc<Plan>,
    hosts: &'a exec::Hosts,
    sources: &'a crate::source::SourceMap,
    reporter: Arc<dyn Reporter>,
    host_count: usize,
    started: Instant,
}

impl Run<'_> {
    async fn go(
        &self,
        opts: &DeployOptions,
        locking: Option<&exec::Locking>,
        record: &HostState,
    ) -> Result<ExitCode, Problems> {
        let (model, reporter) = (self.model, &self.reporter);
        let prediction = exec::predict(model, self.plan, self.hosts, &**reporter, locking).await?;
        for (host, holder) in &prediction.broken_locks {
            let who = holder
                .as_ref()
                .map_or_else(|| "(no details recorded)".to_string(), exec::LockInfo::describe);
            reporter.text(&format!("broke the lock on {host} held by {who}"));
        }
        for (host, holder) in &prediction.busy {
            let who = holder
                .as_ref()
                .map_or_else(|| "another deploy".to_string(), exec::LockInfo::describe);
            reporter.text(&format!("note: {host} is being deployed right now by {who}"));
        }
        let conflicts = prediction.conflicts().len();
        reporter.event(&Event::PlanDone {
            changes: prediction.change_count() - conflicts,
            unchanged: prediction.unchanged,
            conflicts,
            hosts: self.host_count,
        });
        if conflicts > 0 {
            let first = prediction.conflicts()[0];
            let step = &model.steps[first.step];
            let message = match &first.change {
                exec::Change::Conflict { message } => message.clone(),
                _ => String::new(),
            };
            return Err(
                Problem::new(Kind::Step, format!("{}: {message}", model.step_path(first.step)))
                    .at(step.span.as_ref(), "this step")
                    .help("ordo does not delete what it did not create: move it away on the host, then deploy again")
                    .with_sources(self.sources)
                    .into(),
            );
        }
        let Some(lock) = locking else {
            return Ok(ExitCode::SUCCESS);
        };
        let (changes, host_count) = (prediction.change_count(), self.host_count);
        // On a blocking thread, so Ctrl-C at the prompt still releases the locks.
        let confirmed = || async move {
            tokio::task::spawn_blocking(move || confirm(changes, host_count))
                .await
                .map_err(|e| Problems::from(Problem::new(Kind::Usage, format!("confirmation failed: {e}"))))?
        };
        if changes > 0 && !opts.yes && !confirmed().await? {
            reporter.text("nothing applied");
            return Ok(ExitCode::SUCCESS);
        }
        let unchanged = prediction.unchanged;
        let applied = exec::apply(
            model,
            self.plan,
            prediction,
            self.hosts,
            reporter.clone(),
            record,
            &lock.info,
        )
        .await;
        exec::unlock(model, self.hosts, &lock.info).await;
        exec::report_hosts(model, self.hosts, &applied, &**reporter);
        reporter.event(&Event::Summary {
            changed: applied.changed,
            unchanged,
            failed: applied.failed,
            skipped: applied.skipped,
            hosts: self.host_count,
            duration_ms: self.started.elapsed().as_millis() as u64,
        });
        if applied.problems.is_empty() {
            Ok(ExitCode::SUCCESS)
        } else {
            Err(Problems(
                applied
                    .problems
                    .into_iter()
                    .map(|p| p.with_sources(self.sources))
                    .collect(),
            ))
        }
    }
}

fn confirm(changes: usize, hosts: usize) -> Result<bool, Problems> {
    if !std::io::stdin().is_terminal() {
        return Err(Problem::new(
            Kind::Usage,
            "refusing to deploy without confirmation: standard input is not a terminal",
        )
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
    let hosts = exec::connect(&model, &selected, &ssh_options(project, args)).await?;
    let states = exec::read_states(&model, &hosts).await;
    hosts.close().await;
    let states = states?;
    let current = project.fingerprint();
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

/// `ordo run ENV -- CMD`: the command on every selected host in parallel, output
/// grouped per host in host order; exit code 1 if it failed anywhere.
async fn run_command(
    project: &Project,
    args: &crate::cli::RunArgs,
    reporter: &dyn Reporter,
) -> Result<ExitCode, Problems> {
    let (model, _plan, _evaluated) = load(project, &args.target.env).await?;
    let selected = select(&model, &args.target.hosts)?;
    let hosts = exec::connect(&model, &selected, &ssh_options(project, &args.target)).await?;
    let command = args.command.join(" ");
    let script = format!("cd \"$HOME\" 2>/dev/null\n{command}\n");
    let mut tasks = tokio::task::JoinSet::new();
    for (h, t) in hosts.targeted() {
        let (t, script) = (t.clone(), script.clone());
        tasks.spawn(async move { (h, t.exec(script).await) });
    }
    let mut results: Vec<(usize, Result<crate::model::RunOutput, Problem>)> = Vec::new();
    while let Some(Ok(r)) = tasks.join_next().await {
        results.push(r);
    }
    hosts.close().await;
    results.sort_by_key(|(h, _)| *h);
    let mut failed = 0;
    for (h, r) in results {
        let name = &model.hosts[h].name;
        match r {
            Ok(out) => {
                let status = if out.code == 0 {
                    "ok".to_string()
                } else {
                    format!("exit {}", out.code)
                };
                if out.code != 0 {
                    failed += 1;
                }
                reporter.text(&format!("── {name} ({status})"));
                for line in out.stdout.lines() {
                    reporter.text(line);
                }
                for line in out.stderr.lines() {
                    reporter.text(&format!("stderr: {line}"));
                }
            }
            Err(p) => {
                failed += 1;
                reporter.text(&format!("── {name} (failed: {})", p.message));
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
