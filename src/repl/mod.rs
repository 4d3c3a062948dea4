//! `ordo repl [ENV]`: the same engine as a deploy, with the environment loaded and
//! its hosts one call away. Lines are Rhai evaluated by the [`Interpreter`]
//! (variables and functions persist); the REPL's functions reach the hosts through
//! [`LiveHosts`]. On a terminal the line editor gives history, completion and
//! multi-line input; with standard input from a file or pipe the lines are
//! evaluated in order and the first error ends the run (scripted mode).
//!
//! | file | what |
//! |---|---|
//! | `commands.rs` | the `:` commands |
//! | `connections.rs` | connections opened on first use, kept for the session |
//! | `live.rs` | [`LiveHosts`]: the REPL functions on top of the executor; `plan`, `diff`, `check`, `apply` as the deploy transaction restricted to the steps asked about |
//! | `facts.rs` | the facts probe: one round trip, encoded answers |
//! | `helper.rs` | completion and multi-line input |
//! | `render.rs` | a line's value for people |
//! | `targets.rs` | which hosts a call names (a host, a component's hosts) |
//!
//! The loop runs on the thread that called [`run`], outside the async runtime
//! (rustyline blocks); Rhai runs on a script thread and the REPL functions block
//! on the runtime through its handle.

mod commands;
mod connections;
mod facts;
mod helper;
mod live;
mod render;
mod targets;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Editor};
use tokio::runtime::Handle;

use self::connections::Connections;
use self::helper::{Names, ReplHelper, complete_input};
use self::live::{Confirm, Env, LiveHosts};
use crate::cli::Format;
use crate::plan::Plan;
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::report::{Event, ProblemReport};
use crate::script::{self, Interpreter};
use crate::transport::CancelToken;
use crate::workspace::Workspace;

/// The functions that exist for the REPL, listed by `:help`.
const REPL_FUNCTIONS: &[&str] = &[
    "hosts",
    "components",
    "attrs",
    "host",
    "run",
    "facts",
    "plan",
    "diff",
    "check",
    "apply",
];

/// What `ordo repl` was asked for.
pub struct Options {
    pub env: Option<String>,
    /// Apply without asking (the only way to apply from a script).
    pub yes: bool,
}

enum Flow {
    Continue,
    Quit,
}

/// What the signal handler and the loop share.
#[derive(Default)]
struct Signals {
    /// The loop waits in the line editor (a SIGTERM then ends the session at once).
    reading: AtomicBool,
    /// SIGTERM or SIGHUP: end the session after the current line.
    terminating: AtomicBool,
}

struct Session<'a> {
    ws: &'a Workspace,
    handle: Handle,
    interpreter: Interpreter,
    live: Arc<LiveHosts>,
    names: Arc<RwLock<Names>>,
    env: Option<String>,
}

/// Runs the REPL until `:quit`, Ctrl-D or the end of the input; returns the exit
/// code (scripted mode: that of the first error).
pub fn run(ws: &Workspace, options: &Options, handle: Handle) -> Result<ExitCode, Problems> {
    let interactive = std::io::stdin().is_terminal();
    let settings = ws.settings();
    let connections = Arc::new(Connections::new(settings.ssh.clone()));
    let current = Arc::new(Mutex::new(CancelToken::new()));
    let live = Arc::new(LiveHosts {
        handle: handle.clone(),
        reporter: ws.reporter.clone(),
        base: settings,
        connections: connections.clone(),
        env: RwLock::new(None),
        current: current.clone(),
        confirm: match (options.yes, interactive) {
            (true, _) => Confirm::Yes,
            (false, true) => Confirm::Ask,
            (false, false) => Confirm::Refuse,
        },
    });
    let reporter = ws.reporter.clone();
    let print: script::PrintSink = Arc::new(move |text, span| {
        reporter.event(&Event::Print {
            text: text.to_string(),
            span,
        });
    });
    let mut interpreter = Interpreter::with_options(
        &Project {
            root: ws.project.root.clone(),
        },
        script::Options {
            print,
            decrypt: true,
            redactor: ws.redactor.clone(),
            sets: ws.config.sets.clone(),
            locked: false,
            local_root: None,
        },
    );
    interpreter.set_live(Some(live.clone()));
    let signals = Arc::new(Signals::default());
    let watcher = handle.spawn(watch_signals(current, signals.clone(), connections.clone()));
    let mut session = Session {
        ws,
        handle: handle.clone(),
        interpreter,
        live,
        names: Arc::default(),
        env: None,
    };
    session.refresh_names();
    let result = match &options.env {
        Some(env) => session.load(env),
        None => Ok(()),
    };
    let code = match result {
        Err(ps) if !interactive => session.report(ps),
        other => {
            if let Err(ps) = other {
                session.report(ps);
            }
            if interactive {
                session.interactive(&signals)
            } else {
                session.scripted(&signals)
            }
        }
    };
    watcher.abort();
    handle.block_on(connections.close_all());
    Ok(code)
}

/// Ctrl-C stops what the current line runs on hosts; SIGTERM and SIGHUP end the
/// session (at once when it waits for input: connections closed, no lock is held
/// between lines).
async fn watch_signals(current: Arc<Mutex<CancelToken>>, signals: Arc<Signals>, connections: Arc<Connections>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    loop {
        let end = tokio::select! {
            _ = int.recv() => false,
            _ = term.recv() => true,
            _ = hup.recv() => true,
        };
        current.lock().expect("token poisoned").cancel();
        if end {
            signals.terminating.store(true, Ordering::SeqCst);
            if signals.reading.load(Ordering::SeqCst) {
                connections.close_all().await;
                std::process::exit(130);
            }
        }
    }
}

/// `$XDG_STATE_HOME/ordo/history`, else `~/.local/state/ordo/history`.
fn history_path() -> Option<PathBuf> {
    Some(crate::project::controller_state::state_home().join("history"))
}

impl Session<'_> {
    /// Evaluates environment `env` and plans it; afterwards the REPL works on it.
    /// When that fails, what was loaded stays for later lines (the variables a
    /// broken environment did set) and `:reload` tries `env` again.
    fn load(&mut self, env: &str) -> Result<(), Problems> {
        self.env = Some(env.to_string());
        match self.prepare(env) {
            Ok(loaded) => {
                self.install(loaded);
                Ok(())
            }
            Err(ps) => {
                *self.live.env.write().expect("env poisoned") = None;
                self.refresh_names();
                Err(ps)
            }
        }
    }

    /// `:env` and `:reload`: loads `env` in place of the current environment.
    /// When that fails, nothing changes: the environment, the variables and
    /// functions of earlier lines and the open connections stay as they were.
    /// `fresh` closes every connection first (another environment may give a
    /// known host name another address).
    fn switch(&mut self, env: &str, fresh: bool) -> Result<(), Problems> {
        let kept = self.interpreter.loaded();
        let loaded = match self.prepare(env) {
            Ok(loaded) => loaded,
            Err(ps) => {
                self.interpreter.restore(kept);
                return Err(ps);
            }
        };
        drop(kept);
        if fresh {
            self.handle.block_on(self.live.connections.close_all());
        }
        self.env = Some(env.to_string());
        self.install(loaded);
        Ok(())
    }

    /// Evaluates and plans `env`; reports its warnings.
    fn prepare(&mut self, env: &str) -> Result<Env, Problems> {
        let evaluated = self.interpreter.evaluate(env)?;
        let plan = Plan::build(&evaluated.model)
            .map_err(|Problems(ps)| Problems(ps.into_iter().map(|p| p.with_sources(&evaluated.sources)).collect()))?;
        for w in &evaluated.warnings {
            let w = w.clone().as_warning();
            self.ws.reporter.event(&Event::Warning {
                report: ProblemReport::of(&w),
                problem: Arc::new(w),
            });
        }
        let git = self.ws.project.git(evaluated.inputs());
        let history = crate::exec::history::Record {
            kind: crate::exec::history::RunKind::Apply,
            dirty: git.as_ref().is_some_and(|g| !g.dirty.is_empty()),
            commit: git.map(|g| g.commit),
            rev: None,
            rollback_to: None,
            what: None,
            set: self.ws.set_records(&evaluated),
            libraries: evaluated.libraries.clone(),
            fingerprint: evaluated.fingerprint().to_string(),
            memory: Some(self.ws.controller_state(env)),
        };
        Ok(Env {
            model: evaluated.model.clone(),
            plan: Arc::new(plan),
            sources: evaluated.sources.clone(),
            history,
        })
    }

    /// Makes `loaded` the environment later lines work on.
    fn install(&mut self, loaded: Env) {
        let model = loaded.model.clone();
        *self.live.env.write().expect("env poisoned") = Some(loaded);
        self.handle.block_on(self.live.connections.retain(Some(&model)));
        self.refresh_names();
    }

    fn refresh_names(&self) {
        let mut functions: Vec<(String, String)> = self
            .interpreter
            .functions()
            .into_iter()
            .map(|f| (f.name, f.signature))
            .filter(|(n, _)| !n.starts_with("get$") && !n.starts_with("set$") && !n.starts_with("anon$"))
            .collect();
        functions.sort();
        functions.dedup();
        let mut names = Names {
            functions,
            environments: self.ws.project.environments(),
            ..Names::default()
        };
        if let Some(env) = self.live.env.read().expect("env poisoned").as_ref() {
            let model = &env.model;
            names.hosts = model.hosts.iter().map(|h| h.name.clone()).collect();
            for c in model.components.iter() {
                if c.parent.is_none() && !names.components.contains(&c.name) {
                    names.components.push(c.name.clone());
                }
                for a in c.attributes.keys() {
                    if !names.attributes.contains(a) {
                        names.attributes.push(a.clone());
                    }
                }
            }
        }
        *self.names.write().expect("names poisoned") = names;
    }

    /// Reports problems; returns the exit code they call for.
    fn report(&self, mut problems: Problems) -> ExitCode {
        problems.sort();
        let code = ExitCode::from(problems.kind().exit_code());
        for p in problems.0 {
            self.ws.reporter.event(&Event::Error {
                report: ProblemReport::of(&p),
                problem: Arc::new(p),
            });
        }
        self.ws.reporter.flush();
        code
    }

    fn show(&self, text: String, value: serde_json::Value) {
        self.ws.reporter.event(&Event::Result { text, value });
    }

    /// One whole input: a `:` command or Rhai.
    fn eval(&mut self, input: &str) -> Result<Flow, Problems> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Ok(Flow::Continue);
        }
        if let Some(command) = trimmed.strip_prefix(':') {
            return self.command(command);
        }
        *self.live.current.lock().expect("token poisoned") = CancelToken::new();
        let value = self.interpreter.eval(input);
        self.ws.reporter.flush();
        let Some(value) = value? else {
            return Ok(Flow::Continue);
        };
        let json = self.ws.config.format == Format::Json;
        if value.reported && !json {
            return Ok(Flow::Continue);
        }
        let text = match &value.data {
            serde_json::Value::Array(_) | serde_json::Value::Object(_) => render::human(&value.data),
            _ => value.text,
        };
        self.show(text, value.data);
        Ok(Flow::Continue)
    }

    fn interactive(&mut self, signals: &Signals) -> ExitCode {
        let config = rustyline::Config::builder()
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            .history_ignore_dups(true)
            .map(|b| b.build())
            .unwrap_or_default();
        let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
            Ok(e) => e,
            Err(e) => {
                return self.report(
                    Problem::new(Kind::Usage, format!("cannot start the line editor: {e}"))
                        .help("run the REPL in a terminal, or give it a script on standard input")
                        .into(),
                );
            }
        };
        editor.set_helper(Some(ReplHelper {
            names: self.names.clone(),
        }));
        let history = history_path();
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        loop {
            let prompt = match &self.env {
                Some(env) => format!("ordo:{env}> "),
                None => "ordo> ".to_string(),
            };
            signals.reading.store(true, Ordering::SeqCst);
            let line = editor.readline(&prompt);
            signals.reading.store(false, Ordering::SeqCst);
            match line {
                Ok(input) => {
                    if !input.trim().is_empty() {
                        let _ = editor.add_history_entry(input.as_str());
                        if let Some(h) = &history {
                            save_history(&mut editor, h);
                        }
                    }
                    match self.eval(&input) {
                        Ok(Flow::Quit) => break,
                        Ok(Flow::Continue) => {}
                        Err(ps) => {
                            self.report(ps);
                        }
                    }
                }
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => break,
                Err(e) => {
                    self.report(Problem::new(Kind::Usage, format!("reading the input failed: {e}")).into());
                    break;
                }
            }
            if signals.terminating.load(Ordering::SeqCst) {
                break;
            }
        }
        ExitCode::SUCCESS
    }

    fn scripted(&mut self, signals: &Signals) -> ExitCode {
        let mut pending = String::new();
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else {
                return self.report(Problem::new(Kind::Usage, "standard input is not readable text").into());
            };
            if pending.is_empty() && line.trim().is_empty() {
                continue;
            }
            pending.push_str(&line);
            pending.push('\n');
            if !complete_input(&pending) {
                continue;
            }
            let input = std::mem::take(&mut pending);
            match self.eval(&input) {
                Ok(Flow::Quit) => return ExitCode::SUCCESS,
                Ok(Flow::Continue) => {}
                Err(ps) => return self.report(ps),
            }
            if signals.terminating.load(Ordering::SeqCst) {
                return self.report(Problem::new(Kind::Interrupted, "interrupted").into());
            }
        }
        if !pending.trim().is_empty() {
            return self.report(
                Problem::new(Kind::Script, "the input ends inside an open bracket, string or comment")
                    .help(format!(
                        "the last input began: {}",
                        pending.lines().next().unwrap_or_default()
                    ))
                    .into(),
            );
        }
        ExitCode::SUCCESS
    }
}

/// Keeps the history file private: lines may name hosts and paths.
fn save_history(editor: &mut Editor<ReplHelper, DefaultHistory>, path: &std::path::Path) {
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir);
    }
    let _ = editor.save_history(path);
}
