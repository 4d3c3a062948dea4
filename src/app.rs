//! One function per subcommand, composing the stages: load + evaluate (`script`),
//! `plan`, `exec` over `transport`, and `report`. Every error is rendered here, in
//! one place, and mapped to the exit code.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{Cli, Color, Command, DeployArgs, Format, TargetArgs};
use crate::command::{self, DeployOptions};
use crate::model::Model;
use crate::plan::Plan;
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::report::{Human, Json, Reporter};
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
    if let Command::Secrets(args) = cli.command {
        return command::secrets(&start, args);
    }
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
            command::deploy(&project, &a, opts, reporter).await
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
            command::deploy(&project, &target, opts, reporter).await
        }
        Command::Status(a) => command::status(&project, &a, &*reporter).await,
        Command::Run(a) => command::run_command(&project, &a, &*reporter).await,
        Command::Secrets(_) => unreachable!("dispatched above"),
    }
}

/// Evaluates on a blocking thread (Rhai is synchronous) and plans.
pub(crate) async fn load(project: &Project, env: &str) -> Result<(Arc<Model>, Arc<Plan>, script::Evaluated), Problems> {
    let root = project.root.clone();
    let env = env.to_string();
    let evaluated = tokio::task::spawn_blocking(move || script::evaluate(&Project { root }, &env))
        .await
        .map_err(|e| Problem::new(Kind::Script, format!("internal error while evaluating: {e}")))??;
    let plan = Plan::build(&evaluated.model).map_err(|p| p.with_sources(&evaluated.sources))?;
    Ok((evaluated.model.clone(), Arc::new(plan), evaluated))
}

/// `--hosts`: names, globs or roles; an entry that matches nothing is an error.
pub(crate) fn select(model: &Model, patterns: &[String]) -> Result<Vec<bool>, Problems> {
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

pub(crate) fn ssh_options(project: &Project, args: &TargetArgs) -> crate::transport::SshOptions {
    let mut ssh = crate::transport::SshOptions::default_for(&project.root);
    ssh.accept_new_host_keys |= args.accept_new_host_keys;
    ssh
}
