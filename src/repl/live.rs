//! [`LiveHosts`]: the REPL's implementation of [`Live`] on top of the executor.
//! Its methods are called from a script thread in the middle of a line and block
//! on the async work (`Handle::block_on`). Every command gets the cancel token the
//! session made for the current line, so Ctrl-C stops what runs on the hosts and
//! the session goes on. Hosts are connected on first use and stay connected
//! ([`Connections`]).
//!
//! `plan`, `diff`, `check` and `apply` are the deploy transaction
//! ([`Deployment`]) over the session's connections, covering only the steps asked
//! about — one component (removals of what it created included), or the steps of
//! an ad-hoc trial. An apply leaves the hosts' records (deployed fingerprint, the
//! list of what ordo created) as the last deploy wrote them; what it creates is
//! still appended to that list, so a later deploy removes what no step declares.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tokio::runtime::Handle;

use super::connections::Connections;
use super::{facts, targets};
use crate::exec::{self, ApplyRequest, Catalog, Deployment, HostRun, Hosts, Keep, Request, RunStep, Settings, fan_out};
use crate::model::{HostId, Model};
use crate::plan::Plan;
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Event, Reporter, Stream};
use crate::script::live::{CommandResult, Live, Summary, Target};
use crate::source::SourceMap;
use crate::text::visible;
use crate::transport::{CancelToken, ExecOptions};

/// Whether `apply` asks before changing anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Confirm {
    /// On the terminal.
    Ask,
    /// `--yes`.
    Yes,
    /// The input is a script: nobody to ask.
    Refuse,
}

/// The loaded environment, as the REPL's functions see it.
#[derive(Clone)]
pub(crate) struct Env {
    pub(crate) model: Arc<Model>,
    pub(crate) plan: Arc<Plan>,
    pub(crate) sources: SourceMap,
    /// What an `apply` leaves in the hosts' deploy histories (its `what` is
    /// filled in per apply).
    pub(crate) history: exec::history::Record,
}

pub(crate) struct LiveHosts {
    pub(crate) handle: Handle,
    pub(crate) reporter: Arc<dyn Reporter>,
    /// `--jobs`, `--timeout`, ssh options; the cancel token is the current line's.
    pub(crate) base: Settings,
    pub(crate) connections: Arc<Connections>,
    pub(crate) env: RwLock<Option<Env>>,
    /// Cancelled by Ctrl-C while a line runs; replaced for every line.
    pub(crate) current: Arc<Mutex<CancelToken>>,
    pub(crate) confirm: Confirm,
}

/// Several problems as one, the most severe first.
fn one(mut problems: Problems) -> Problem {
    problems.sort();
    let mut all = problems.0.into_iter();
    let first = all
        .next()
        .unwrap_or_else(|| Problem::new(Kind::Step, "failed without saying why (a bug in ordo)"));
    all.fold(first, Problem::related)
}

fn interrupted() -> Problem {
    Problem::new(Kind::Interrupted, "interrupted").help("what ran on the hosts was stopped; the session goes on")
}

impl LiveHosts {
    pub(crate) fn env(&self) -> Result<Env, Problem> {
        self.env.read().expect("env poisoned").clone().ok_or_else(|| {
            Problem::new(Kind::Usage, "no environment is loaded")
                .help("load one with :env NAME, or start the REPL with `ordo repl ENV`")
        })
    }

    pub(crate) fn settings(&self) -> Settings {
        Settings {
            cancel: self.current.lock().expect("token poisoned").clone(),
            ..self.base.clone()
        }
    }

    /// The hosts `ids` of `model` over the session's connections (connecting
    /// those not connected yet, in parallel), as one run's [`Hosts`].
    pub(crate) async fn connect(
        &self,
        model: &Arc<Model>,
        ids: &[HostId],
        settings: &Settings,
    ) -> Result<Hosts, Problem> {
        let connections = self.connections.clone();
        let items: Vec<(HostId, crate::model::Host)> = ids.iter().map(|&id| (id, model.hosts[id].clone())).collect();
        let connect = fan_out(
            items,
            settings.jobs,
            |(_, h)| format!("host `{}`", h.name),
            move |(id, host)| {
                let connections = connections.clone();
                async move { connections.get(&host).await.map(|c| (id, c)) }
            },
        );
        let results = tokio::select! {
            r = connect => r,
            () = settings.cancel.cancelled() => return Err(interrupted()),
        };
        let mut runs = Vec::new();
        let mut problems = Vec::new();
        for r in results {
            match r {
                Ok((id, conn)) => runs.push(HostRun::over(id, conn, settings)),
                Err(p) => problems.push(p),
            }
        }
        if problems.is_empty() {
            Ok(Hosts::new(runs, settings.clone()))
        } else {
            Err(one(Problems(problems)))
        }
    }

    /// The deploy transaction for the `keep` steps of `model` on `targets`: look
    /// only, or (`apply`) lock, plan, confirm, apply and release.
    fn deploy(
        &self,
        env: &Env,
        model: &Arc<Model>,
        plan: &Arc<Plan>,
        targets: &[HostId],
        keep: &Keep,
        apply: Option<&str>,
    ) -> Result<Summary, Problem> {
        if apply.is_some() && self.confirm == Confirm::Refuse {
            return Err(refusal());
        }
        let started = Instant::now();
        let settings = self.settings();
        let hosts = self.handle.block_on(self.connect(model, targets, &settings))?;
        let mut deployment = Deployment::begin(Request {
            model,
            plan,
            hosts: &hosts,
            reporter: self.reporter.clone(),
            sources: &env.sources,
            keep,
            // A REPL apply records history, and runs no hook.
            apply: apply.map(|what| ApplyRequest {
                history: Some(exec::history::Record {
                    what: Some(what.to_string()),
                    ..env.history.clone()
                }),
                ..ApplyRequest::partial()
            }),
            started,
        });
        let result = self.handle.block_on(async {
            let prediction = tokio::select! {
                p = deployment.predict() => p?,
                () = settings.cancel.cancelled() => return Err(Problems::from(interrupted())),
            };
            self.reporter.flush();
            let counts = prediction.counts();
            let mut summary = Summary {
                changes: counts.changes,
                unchanged: counts.unchanged,
                conflicts: counts.conflicts,
                hosts: counts.hosts,
                applied: None,
            };
            if apply.is_some() {
                summary.applied = deployment.apply(prediction, self.confirmation()).await?;
            }
            Ok(summary)
        });
        let result = self.handle.block_on(deployment.end(result));
        self.reporter.flush();
        result.map_err(one)
    }

    fn confirmation(&self) -> exec::Confirm {
        match self.confirm {
            Confirm::Yes => exec::Confirm::Yes,
            Confirm::Refuse => exec::Confirm::Refuse(Box::new(refusal())),
            Confirm::Ask => exec::Confirm::Ask(Arc::new(ask)),
        }
    }
}

fn refusal() -> Problem {
    Problem::new(
        Kind::Usage,
        "refusing to apply without confirmation: the REPL reads its lines from standard input, not a terminal",
    )
    .help("look at what it would change with check(..) or diff(..); to apply from a script, run `ordo repl ENV --yes`")
}

/// Asks on the terminal; Ctrl-C and Ctrl-D say no.
fn ask(prompt: &str) -> bool {
    let Ok(mut editor) = rustyline::DefaultEditor::new() else {
        return false;
    };
    matches!(editor.readline(prompt).as_deref().map(str::trim), Ok("y" | "Y" | "yes"))
}

/// The steps of `component` (its sub-components and removals of what it created
/// included); every step when `None`.
fn component_filter(component: Option<&str>) -> Box<Keep> {
    let Some(component) = component.map(str::to_string) else {
        return Box::new(|_, _| true);
    };
    Box::new(move |catalog: &Catalog, s: RunStep| catalog.placed_component(s) == component)
}

/// Only the steps the trial declares (not the removals on its host).
fn declared(_: &Catalog, s: RunStep) -> bool {
    s.is_declared()
}

/// Every command runs in the service user's home, as with `ordo run`.
fn command_script(command: &str) -> String {
    format!(
        "[ -d \"$HOME\" ] || mkdir -p -- \"$HOME\" 2>/dev/null\nif ! cd -- \"${{HOME%/}}\" 2>/dev/null; then echo \"ordo: cannot enter the home directory $HOME\" >&2; exit 125; fi\n{command}\n"
    )
}

impl Live for LiveHosts {
    fn hosts(&self) -> Result<serde_json::Value, Problem> {
        let env = self.env()?;
        let model = &env.model;
        Ok(serde_json::Value::Array(
            crate::report::host_events(model)
                .into_iter()
                .map(|e| serde_json::to_value(e).unwrap_or_default())
                .map(|mut v| {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("event");
                    }
                    v
                })
                .collect(),
        ))
    }

    fn components(&self) -> Result<serde_json::Value, Problem> {
        let env = self.env()?;
        let model = &env.model;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for c in model.components.iter().filter(|c| c.parent.is_none()) {
            let host = model.hosts[c.host].name.clone();
            match out.iter_mut().find(|(n, _)| *n == c.name) {
                Some((_, hosts)) => hosts.push(host),
                None => out.push((c.name.clone(), vec![host])),
            }
        }
        Ok(serde_json::Value::Array(
            out.into_iter()
                .map(|(name, hosts)| serde_json::json!({ "name": name, "hosts": hosts }))
                .collect(),
        ))
    }

    fn attrs(&self, component: &str, host: Option<&str>) -> Result<serde_json::Value, Problem> {
        let env = self.env()?;
        let model = &env.model;
        let hosts = targets::component_hosts(model, component, host)?;
        let attributes = |h: HostId| {
            model
                .components
                .iter()
                .find(|c| c.parent.is_none() && c.name == component && c.host == h)
                .map(|c| serde_json::to_value(&c.attributes).unwrap_or_default())
                .unwrap_or_default()
        };
        Ok(match host {
            Some(_) => attributes(hosts[0]),
            None => serde_json::Value::Object(
                hosts
                    .iter()
                    .map(|&h| (model.hosts[h].name.clone(), attributes(h)))
                    .collect(),
            ),
        })
    }

    fn select(&self, pattern: &str) -> Result<Vec<String>, Problem> {
        let env = self.env()?;
        let model = &env.model;
        let glob = globset::Glob::new(pattern)
            .map_err(|e| Problem::new(Kind::Usage, format!("`{pattern}` is not a valid host pattern: {e}")))?
            .compile_matcher();
        let names: Vec<String> = model
            .hosts
            .iter()
            .filter(|h| glob.is_match(&h.name) || h.roles.iter().any(|r| r == pattern))
            .map(|h| h.name.clone())
            .collect();
        if names.is_empty() {
            let all: Vec<&str> = model.hosts.iter().map(|h| h.name.as_str()).collect();
            return Err(
                Problem::new(Kind::Usage, format!("`{pattern}` matches no host and no role")).help(format!(
                    "{}hosts of {}: {}",
                    did_you_mean(pattern, all.iter().copied()),
                    model.environment,
                    list_or_none(&all)
                )),
            );
        }
        Ok(names)
    }

    fn run(&self, hosts: &[String], command: &str) -> Result<Vec<CommandResult>, Problem> {
        let env = self.env()?;
        let model = env.model.clone();
        let ids = hosts
            .iter()
            .map(|h| targets::host_id(&model, h))
            .collect::<Result<Vec<_>, _>>()?;
        let settings = self.settings();
        let script = command_script(command);
        self.handle.block_on(async {
            let hosts = self.connect(&model, &ids, &settings).await?;
            let runs: Vec<Arc<HostRun>> = hosts.iter().cloned().collect();
            let results = fan_out(
                runs.clone(),
                settings.jobs,
                |r| format!("host `{}`", r.name),
                |r: Arc<HostRun>| {
                    let script = script.clone();
                    async move { r.exec_command(script).await }
                },
            )
            .await;
            let mut out = Vec::new();
            for (r, result) in runs.iter().zip(results) {
                let host = r.name.clone();
                let result = match result {
                    Ok(o) => CommandResult {
                        host: host.clone(),
                        code: Some(o.code),
                        error: None,
                        stdout: o.stdout,
                        stderr: o.stderr,
                    },
                    Err(p) => CommandResult {
                        host: host.clone(),
                        code: None,
                        stdout: String::new(),
                        stderr: String::new(),
                        error: Some(p.message),
                    },
                };
                self.reporter.event(&Event::CommandDone {
                    host: host.clone(),
                    code: result.code,
                    error: result.error.clone(),
                });
                for (stream, text) in [(Stream::Stdout, &result.stdout), (Stream::Stderr, &result.stderr)] {
                    self.reporter.output(&host, stream, text);
                }
                out.push(result);
            }
            if settings.cancel.is_cancelled() {
                return Err(interrupted());
            }
            Ok(out)
        })
    }

    fn facts(&self, host: &str) -> Result<serde_json::Value, Problem> {
        let env = self.env()?;
        let model = env.model.clone();
        let id = targets::host_id(&model, host)?;
        let settings = self.settings();
        let script = facts::script(&model.service);
        let out = self.handle.block_on(async {
            let hosts = self.connect(&model, &[id], &settings).await?;
            let run = hosts.iter().next().cloned().expect("one host");
            let options = ExecOptions::default()
                .cancel(&settings.cancel)
                .timeout(settings.timeout);
            run.conn
                .exec_with(script, &options)
                .await
                .map_err(|e| e.problem().on_host(host))
        })?;
        let facts = facts::parse(host, &out.stdout).ok_or_else(|| {
            Problem::new(
                Kind::Step,
                format!("host `{host}`: the facts probe did not finish (exit {})", out.code),
            )
            .on_host(host)
            .help(format!("the host's shell said: {}", exec_tail(&out.stderr)))
        })?;
        Ok(serde_json::to_value(facts).unwrap_or_default())
    }

    fn plan(&self, component: Option<&str>, host: Option<&str>) -> Result<Summary, Problem> {
        let env = self.env()?;
        let model = env.model.clone();
        let targets: Vec<HostId> = match (component, host) {
            (Some(c), h) => targets::component_hosts(&model, c, h)?,
            (None, Some(h)) => vec![targets::host_id(&model, h)?],
            (None, None) => model.hosts.ids().collect(),
        };
        // A retired host has no step, but its teardown to show.
        let targets: Vec<HostId> = targets
            .into_iter()
            .filter(|&h| !env.plan.per_host[h].is_empty() || model.hosts[h].retired)
            .collect();
        let keep = component_filter(component);
        self.deploy(&env, &env.model, &env.plan, &targets, &keep, None)
    }

    fn check(&self, trial: Arc<Model>, host: &str) -> Result<Summary, Problem> {
        let env = self.env()?;
        let plan = Arc::new(Plan::build(&trial).map_err(|ps| one(ps).with_sources(&env.sources))?);
        let id = targets::host_id(&trial, host)?;
        self.deploy(&env, &trial, &plan, &[id], &declared, None)
    }

    fn apply(&self, target: Target, host: Option<&str>) -> Result<Summary, Problem> {
        let env = self.env()?;
        match target {
            Target::Component(name) => {
                let targets = targets::component_hosts(&env.model, &name, host)?;
                let keep = component_filter(Some(&name));
                self.deploy(&env, &env.model, &env.plan, &targets, &keep, Some(&name))
            }
            Target::Trial(trial) => {
                let p = Arc::new(Plan::build(&trial).map_err(|ps| one(ps).with_sources(&env.sources))?);
                let host = host.unwrap_or_default();
                let id = targets::host_id(&trial, host)?;
                self.deploy(&env, &trial, &p, &[id], &declared, Some(&format!("a trial on {host}")))
            }
        }
    }
}

fn exec_tail(text: &str) -> String {
    let tail = crate::text::last_lines(text, 10);
    if tail.is_empty() {
        "(nothing)".into()
    } else {
        visible(&tail, true)
    }
}
