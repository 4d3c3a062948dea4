//! Runs a command line: resolves the configuration, sets up output and signals,
//! hands over to the subcommand, and renders problems and the exit code — in one
//! place.
//!
//! Exit codes: 0 success; 1 a step failed on a host; 2 the project has errors or the
//! command line asked for something impossible (with `plan --exit-code`: there are
//! changes); 3 a host could not be reached; 4 a host is locked by another deploy;
//! 5 done without hosts that `--skip-unreachable` allowed to skip; 130 interrupted
//! (SIGINT, SIGTERM or SIGHUP).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::config::Config;
use crate::cli::{Cli, Command, Format};
use crate::command;
use crate::problem::Problems;
use crate::report::{Event, Json, Live, Plain, ProblemReport, Redacting, Redactor, Reporter};
use crate::transport::CancelToken;
use crate::workspace::Workspace;

/// Runs ordo with parsed arguments and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let config = match Config::from_cli(&cli) {
        Ok(c) => c,
        Err(p) => {
            let _ = writeln!(std::io::stderr(), "{:?}", miette::Report::new(p));
            return ExitCode::from(2);
        }
    };
    crate::script::set_script_timeout(config.script_timeout);
    crate::script::set_debug_errors(config.debug_errors);
    let stderr_color = config.stderr_color;
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(crate::problem::render::Handler(
            miette::MietteHandlerOpts::new()
                .color(stderr_color)
                .unicode(true)
                .terminal_links(false)
                .width(100)
                .build(),
        ))
    }));
    let renderer: Arc<dyn Reporter> = match config.format {
        // The REPL's output is lines between prompts: no live spinners.
        Format::Human if config.live && !matches!(cli.command, Command::Repl(_)) => {
            Arc::new(Live::new(config.stdout_color))
        }
        Format::Human => Arc::new(Plain::new(
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            config.stdout_color,
        )),
        Format::Json => Arc::new(Json::new(Box::new(std::io::stdout()))),
    };
    // Every secret the run decrypts joins this redactor before anything can print
    // it; the reporter masks every event through it, the problems at the end too.
    let redactor = Redactor::default();
    // The private key given in ORDO_AGE_KEY / ORDO_AGE_IDENTITY is a secret from
    // the start, whether or not this run decrypts anything.
    redactor.add(crate::secrets::key_material().iter().map(|k| k.as_bytes()));
    let reporter: Arc<dyn Reporter> = Arc::new(Redacting::new(renderer, redactor.clone()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        let cancel = CancelToken::new();
        // The REPL handles signals itself: Ctrl-C stops the current line only.
        if !matches!(cli.command, Command::Repl(_)) {
            tokio::spawn(signals(cancel.clone()));
        }
        // Commands that need no project (or make one).
        match cli.command {
            Command::Secrets(args) => return command::secrets::secrets(&config.directory, config.format, args),
            Command::Init(ref args) => return command::init::run(args, &*reporter),
            Command::Completions(ref args) => return command::completions::completions(args),
            Command::Man => return command::completions::man(),
            Command::Complete(ref args) => return command::names::complete(&config.directory, args),
            Command::Doc(ref args) => return command::doc::doc(args),
            Command::Definitions(ref args) => return command::doc::definitions(args),
            _ => {}
        }
        let ws = Workspace::open(config, reporter.clone(), cancel, redactor.clone())?;
        let dispatch = dispatch(&ws, &cli.command);
        tokio::select! {
            r = dispatch => r,
            // Commands that hold locks react to the signal themselves; the others stop here.
            () = ws.cancelled(), if !matches!(cli.command, Command::Deploy(_) | Command::Plan(_) | Command::Rollback(_) | Command::Repl(_)) => {
                Err(Problems::from(crate::problem::Problem::new(crate::problem::Kind::Interrupted, "interrupted")))
            }
        }
    });
    reporter.flush();
    // A confirmation prompt may still be waiting for input after an interruption.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(code) => code,
        Err(mut problems) => {
            problems.sort();
            let code = ExitCode::from(problems.kind().exit_code());
            // Through the redacting reporter, like every other event: people see
            // the rendered diagnostic on stderr, machines a `problem` event.
            for p in problems.0 {
                reporter.event(&Event::Error {
                    report: ProblemReport::of(&p),
                    problem: Arc::new(p),
                });
            }
            reporter.flush();
            code
        }
    }
}

async fn dispatch(ws: &Workspace, command: &Command) -> Result<ExitCode, Problems> {
    match command {
        Command::Check(a) => command::check::run(ws, a).await,
        Command::Graph(a) => command::graph::run(ws, a).await,
        Command::Plan(a) => command::deploy::plan(ws, a).await,
        Command::Deploy(a) => command::deploy::deploy(ws, a).await,
        Command::Status(a) => command::status::run(ws, a).await,
        Command::Log(a) => command::log::run(ws, a).await,
        Command::Rollback(a) => command::rollback::run(ws, a).await,
        Command::Run(a) => command::run::run(ws, a).await,
        Command::Hosts(a) => command::hosts::run(ws, a).await,
        Command::Components(a) => command::components::run(ws, a).await,
        Command::Repl(a) => command::repl::run(ws, a).await,
        Command::Libs(a) => command::libs::run(ws, a),
        Command::Secrets(_)
        | Command::Init(_)
        | Command::Completions(_)
        | Command::Complete(_)
        | Command::Man
        | Command::Doc(_)
        | Command::Definitions(_) => {
            unreachable!("dispatched before the workspace opens")
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP (Ctrl-C, CI cancellation and `timeout`, a closed
/// terminal) all cancel the run cleanly: running commands stop, locks are released,
/// masters closed. A second signal exits at once.
async fn signals(cancel: CancelToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        seen += 1;
        if seen > 1 {
            eprintln!("ordo: interrupted twice, exiting without cleaning up");
            std::process::exit(130);
        }
        cancel.cancel();
    }
}
