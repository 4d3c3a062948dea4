//! Custom steps: verify and update closures written in Rhai, called at deploy time
//! on a blocking thread with a `host` value whose `run(cmd)` executes on the host.
//!
//! A step holds its engine weakly: the evaluation that made it owns the engine,
//! and a step outliving it reports that instead of keeping it (and its session,
//! and every value they hold) alive.
//!
//! Every command runs in a defined directory: the component's root when it exists.
//! Before the first deploy created it, `verify` runs its commands in a fresh empty
//! directory (removed afterwards; verify only looks) and `update` creates the root
//! first, as `command(..)` does. A command never runs in whatever directory the
//! host's shell happened to start in.

use std::sync::{Arc, Weak};

use rhai::{Dynamic, Engine, Map, NativeCallContext};

use super::callback::Callback;
use super::errors::{RhaiResult, fail, register_type, script_error};
use super::register::{document, document_getter};
use super::session::Session;
use super::stack::{self, Deep};
use crate::model::{CustomStep, HostIo, HostPath, RunOutput};
use crate::problem::{Kind, Problem};
use crate::shell::quote_always as shell_quote_always;
use crate::source::SourceMap;

/// Lines of a failed command's output shown in the error.
const TAIL_LINES: usize = 10;

pub(crate) struct RhaiStep {
    engine: Weak<Engine>,
    sources: SourceMap,
    /// The closures may hold any script value: dropped on a script thread.
    callbacks: Deep<(Callback, Callback)>,
    root: String,
    /// Reveals the secrets in a command right before it goes to the host.
    vault: Option<Arc<crate::secrets::Vault>>,
}

impl std::fmt::Debug for RhaiStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RhaiStep")
    }
}

/// What the closure is called for, which decides where its commands run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Verify,
    Update,
}

impl RhaiStep {
    pub(crate) fn new(session: Arc<Session>, verify: Callback, update: Callback, root: String) -> Self {
        RhaiStep {
            engine: session.engine(),
            sources: session.sources.clone(),
            callbacks: Deep::new((verify, update)),
            root,
            vault: session.vault.clone(),
        }
    }

    fn call(&self, phase: Phase, host: Arc<dyn HostIo>) -> Result<Dynamic, Problem> {
        let Some(engine) = self.engine.upgrade() else {
            return Err(Problem::new(
                Kind::Step,
                "internal error: the scripts of this custom step are no longer loaded",
            ));
        };
        let f = match phase {
            Phase::Verify => &self.callbacks.0,
            Phase::Update => &self.callbacks.1,
        };
        let handle = StepHost {
            io: host,
            root: self.root.clone(),
            phase,
            vault: self.vault.clone(),
        };
        // Each call has its own time limit, even one a REPL line made.
        stack::run(|| {
            super::clock::timed(|| f.call(&engine, Dynamic::from(handle)))
                .map_err(|e| super::diagnostic::from_eval(e, f.source(), &self.sources).with_sources(&self.sources))
        })
    }
}

impl CustomStep for RhaiStep {
    fn verify(&self, host: Arc<dyn HostIo>) -> Result<bool, Problem> {
        let v = self.call(Phase::Verify, host)?;
        v.as_bool().map_err(|t| {
            Problem::new(Kind::Script, format!("verify returned a {t}, not true or false"))
                .help("verify returns true when the host is already right")
        })
    }

    fn update(&self, host: Arc<dyn HostIo>) -> Result<(), Problem> {
        self.call(Phase::Update, host).map(|_| ())
    }
}

/// The `host` a custom step's closure receives.
#[derive(Clone)]
pub(crate) struct StepHost {
    io: Arc<dyn HostIo>,
    root: String,
    phase: Phase,
    vault: Option<Arc<crate::secrets::Vault>>,
}

impl StepHost {
    /// `cmd` wrapped so that it runs in the directory the module doc describes,
    /// with nothing of the wrapper on its standard input.
    fn script(&self, cmd: &str) -> String {
        let root = HostPath::new(&self.root).map_or_else(|| "/nonexistent".to_string(), |p| p.shell());
        let enter = match self.phase {
            Phase::Verify => {
                format!(
                    "dir=\nif [ -d {root} ]; then\n  cd {root} || {{ echo \"ordo: cannot enter the component root\" >&2; exit 125; }}\nelse\n  dir=$(mktemp -d) && cd \"$dir\" || exit 125\nfi\n"
                )
            }
            Phase::Update => format!(
                "mkdir -p {root} && cd {root} || {{ echo \"ordo: cannot create the component root {}\" >&2; exit 125; }}\ndir=\n",
                self.root.replace(['"', '\\', '$', '`'], "_")
            ),
        };
        format!(
            "{enter}ordo_cmd={}\n( eval \"$ordo_cmd\" ) </dev/null\nrc=$?\nif [ -n \"$dir\" ]; then cd / && rm -rf -- \"$dir\"; fi\nexit $rc\n",
            shell_quote_always(cmd)
        )
    }

    /// Runs `cmd` with its secrets revealed; messages keep the command as written
    /// (secrets as `[secret:name]`).
    fn run(&self, cmd: &str) -> RhaiResult<RunOutput> {
        let plain = reveal_command(self.vault.as_deref(), cmd)?;
        super::clock::waiting(|| self.io.run(&self.script(&plain))).map_err(fail)
    }
}

/// `cmd` with the secrets it holds revealed, for running it on a host.
pub(crate) fn reveal_command(vault: Option<&crate::secrets::Vault>, cmd: &str) -> RhaiResult<String> {
    match vault {
        Some(v) if crate::secrets::has_token(cmd) => {
            let r = v.reveal(cmd.as_bytes()).map_err(fail)?;
            String::from_utf8(r.bytes).map_err(|_| {
                fail(
                    Problem::new(Kind::Script, "a secret used in a command is not text")
                        .help("use binary secrets as a file's content, and point the command at the file"),
                )
            })
        }
        _ => Ok(cmd.to_string()),
    }
}

fn output_map(out: RunOutput) -> Map {
    let mut m = Map::new();
    m.insert("ok".into(), Dynamic::from_bool(out.code == 0));
    m.insert("code".into(), Dynamic::from_int(i64::from(out.code)));
    m.insert("stdout".into(), out.stdout.into());
    m.insert("stderr".into(), out.stderr.into());
    m
}

/// A command that failed where the script did not ask for its result.
fn failed(host: &str, cmd: &str, out: &RunOutput) -> Problem {
    let text = if out.stderr.trim().is_empty() {
        &out.stdout
    } else {
        &out.stderr
    };
    let tail = crate::text::last_lines(text, TAIL_LINES);
    let shown = if tail.is_empty() {
        "(no output)".to_string()
    } else {
        tail
    };
    Problem::new(
        Kind::Step,
        format!(
            "`{cmd}` failed on host `{host}` with exit code {}; its last output:\n{shown}",
            out.code
        ),
    )
    .help(
        "fix the command, or take the result instead of failing: host.try_run(cmd) or host.run(cmd, #{ check: false }) \
         return #{ ok, code, stdout, stderr }",
    )
}

pub(crate) fn register(engine: &mut rhai::Engine) {
    register_type::<StepHost>(engine, "HostIo");
    document_getter(
        engine,
        "root",
        &["host: HostIo", "string"],
        "The component's root directory on the host.",
        |h: &mut StepHost| h.root.clone(),
    );
    document_getter(
        engine,
        "name",
        &["host: HostIo", "string"],
        "The host's name.",
        |h: &mut StepHost| h.io.host_name().to_string(),
    );
    document(
        engine,
        "run",
        &["host: HostIo", "cmd: string", "map"],
        "Runs `cmd` with `sh` on the host, in the component's root, and returns `#{ ok, code, stdout, stderr }`.\n\
         A non-zero exit is an error naming the host, the exit code and the last lines of output.",
        |h: &mut StepHost, cmd: &str| -> RhaiResult<Map> {
            let out = h.run(cmd)?;
            if out.code != 0 {
                return Err(fail(failed(h.io.host_name(), cmd, &out)));
            }
            Ok(output_map(out))
        },
    );
    document(
        engine,
        "run",
        &["host: HostIo", "cmd: string", "options: map", "map"],
        "Runs `cmd` like `run(cmd)`; with `#{ check: false }` a non-zero exit is returned in the map instead of failing.",
        |ctx: NativeCallContext, h: &mut StepHost, cmd: &str, opts: Map| -> RhaiResult<Map> {
            let mut check = true;
            for (key, value) in opts {
                match (key.as_str(), value.as_bool()) {
                    ("check", Ok(b)) => check = b,
                    ("check", Err(t)) => {
                        return Err(script_error(
                            &ctx,
                            format!("option `check` of run() must be true or false, not {t}"),
                            "write host.run(cmd, #{ check: false })",
                        ));
                    }
                    (other, _) => {
                        return Err(script_error(
                            &ctx,
                            format!("unknown option `{other}` for run()"),
                            "run() takes: check",
                        ));
                    }
                }
            }
            let out = h.run(cmd)?;
            if check && out.code != 0 {
                return Err(fail(failed(h.io.host_name(), cmd, &out)));
            }
            Ok(output_map(out))
        },
    );
    document(
        engine,
        "try_run",
        &["host: HostIo", "cmd: string", "map"],
        "Runs `cmd` like `run(cmd)` and returns `#{ ok, code, stdout, stderr }` whatever its exit code: for commands whose failure is an answer (verify).",
        |h: &mut StepHost, cmd: &str| -> RhaiResult<Map> { h.run(cmd).map(output_map) },
    );
}
