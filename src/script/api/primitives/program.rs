//! `program(..)` and the health checks it takes (`http_check`, `tcp_check`,
//! `command_check`): see `primitive/program/`.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, refs_named, spec};
use crate::model::HostPath;
use crate::primitive::program::health::{Check, Health};
use crate::primitive::program::{DOC, Desired, Program, Reload, backend};
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, is_plain_name, script_error};
use crate::script::errors::register_type;
use crate::script::eval::build::StepRef;

/// What `http_check(..)` and friends return.
#[derive(Clone)]
pub(crate) struct HealthCheck(Health);

struct ProgramSpec {
    name: String,
    command: String,
    cwd: Option<String>,
    env: Vec<(String, String)>,
    log: Option<String>,
    stop_signal: String,
    stop_timeout: u64,
    reload: Reload,
    desired: Desired,
    backend: Option<&'static dyn backend::Backend>,
    sudo: bool,
    health: Option<Health>,
    restart_on: Vec<StepRef>,
    reload_on: Vec<StepRef>,
}

impl Spec for ProgramSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        let cwd = match &self.cwd {
            Some(d) => ctx.path("cwd", d)?,
            None => ctx.dir.clone(),
        };
        let record =
            HostPath::new(&format!("~/.ordo/{}/programs/{}", ctx.service, self.name)).expect("a home-relative path");
        let log = match &self.log {
            Some(l) => ctx.path("log", l)?,
            None => record.join("output.log"),
        };
        let mut health = self.health.clone();
        if let Some(Health {
            check: Check::Command { cwd: c @ None, .. },
            ..
        }) = &mut health
        {
            *c = Some(cwd.clone());
        }
        Ok(Resolved {
            action: Arc::new(Program {
                name: self.name.clone(),
                command: self.command.clone(),
                cwd,
                env: self.env.clone(),
                log,
                stop_signal: self.stop_signal.clone(),
                stop_timeout: self.stop_timeout,
                reload: self.reload.clone(),
                desired: self.desired,
                backend: self.backend,
                sudo: self.sudo,
                health,
                record,
            }),
            on_change: self.restart_on.clone(),
            reload_on: self.reload_on.clone(),
            once: None,
        })
    }
}

/// `TERM`, `SIGTERM`, `term` → `TERM`.
fn signal(ctx: &NativeCallContext, what: &str, v: &str) -> RhaiResult<String> {
    let up = v.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up).to_string();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(script_error(
            ctx,
            format!("`{what}: {v:?}` is not a signal name"),
            "name a signal: \"TERM\", \"INT\", \"HUP\", \"USR1\"…",
        ));
    }
    Ok(name)
}

fn seconds(o: &Options, key: &str, v: &Dynamic) -> RhaiResult<Duration> {
    let secs = v
        .as_float()
        .ok()
        .or_else(|| v.as_int().ok().map(|i| i as f64))
        .filter(|s| *s > 0.0 && *s < 86_400.0);
    secs.map(Duration::from_secs_f64)
        .ok_or_else(|| o.wrong(key, "a number of seconds (> 0)", v))
}

/// `timeout`, `interval`, `retries` of any health check.
fn patience(o: &mut Options, mut h: Health) -> RhaiResult<Health> {
    if let Some(v) = o.take("timeout") {
        h.timeout = seconds(o, "timeout", &v)?;
    }
    if let Some(v) = o.take("interval") {
        h.interval = seconds(o, "interval", &v)?;
    }
    if let Some(v) = o.take("retries") {
        h.retries = match v.as_int() {
            Ok(n) if (1..=10_000).contains(&n) => n as u32,
            _ => return Err(o.wrong("retries", "a number of attempts (1 or more)", &v)),
        };
    }
    Ok(h)
}

const PATIENCE: [&str; 3] = ["timeout", "interval", "retries"];

pub(super) fn register(engine: &mut Engine) {
    register_type::<HealthCheck>(engine, "HealthCheck");
    let http = |ctx: NativeCallContext, url: &str, opts: Map| -> RhaiResult<HealthCheck> {
        let known = [&PATIENCE[..], &["status", "body"]].concat();
        let mut o = Options::new(&ctx, "http_check()", opts, &known)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(char::is_whitespace) {
            return Err(script_error(
                &ctx,
                format!("http_check({url:?}) needs an http:// or https:// URL"),
                "write http_check(\"http://127.0.0.1:8000/health\")",
            ));
        }
        let status = match o.take("status") {
            None => 200,
            Some(v) => match v.as_int() {
                Ok(s) if (100..600).contains(&s) => s as u16,
                _ => return Err(o.wrong("status", "an HTTP status (200)", &v)),
            },
        };
        let body = o.string("body")?;
        let h = Health::new(Check::Http {
            url: url.to_string(),
            status,
            body,
        });
        Ok(HealthCheck(patience(&mut o, h)?))
    };
    engine.register_fn("http_check", http);
    engine.register_fn("http_check", move |ctx: NativeCallContext, url: &str| {
        http(ctx, url, Map::new())
    });
    let tcp = |ctx: NativeCallContext, address: &str, opts: Map| -> RhaiResult<HealthCheck> {
        let mut o = Options::new(&ctx, "tcp_check()", opts, &PATIENCE)?;
        let parsed = address
            .rsplit_once(':')
            .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_string(), p)))
            .filter(|(h, _)| !h.is_empty() && !h.starts_with('-') && !h.contains(char::is_whitespace));
        let Some((host, port)) = parsed else {
            return Err(script_error(
                &ctx,
                format!("tcp_check({address:?}) needs `host:port`"),
                "write tcp_check(\"127.0.0.1:5432\")",
            ));
        };
        Ok(HealthCheck(patience(&mut o, Health::new(Check::Tcp { host, port }))?))
    };
    engine.register_fn("tcp_check", tcp);
    engine.register_fn("tcp_check", move |ctx: NativeCallContext, address: &str| {
        tcp(ctx, address, Map::new())
    });
    let cmd = |ctx: NativeCallContext, run: &str, opts: Map| -> RhaiResult<HealthCheck> {
        let mut o = Options::new(&ctx, "command_check()", opts, &PATIENCE)?;
        let h = Health::new(Check::Command {
            run: run.to_string(),
            cwd: None,
        });
        Ok(HealthCheck(patience(&mut o, h)?))
    };
    engine.register_fn("command_check", cmd);
    engine.register_fn("command_check", move |ctx: NativeCallContext, run: &str| {
        cmd(ctx, run, Map::new())
    });

    engine.register_fn(
        "program",
        |ctx: NativeCallContext, name: &str, opts: Map| -> RhaiResult<StepSpec> {
            if !is_plain_name(name) {
                return Err(script_error(
                    &ctx,
                    format!("`{name}` is not a valid program name"),
                    "use letters, digits, `-`, `_` and `.`, starting with a letter or a digit: supervisors and unit files are named after it",
                ));
            }
            let names = DOC.option_names();
            let mut o = Options::new(&ctx, "program()", opts, &names)?;
            let Some(command) = o.string("command")? else {
                return Err(script_error(
                    &ctx,
                    format!("program(\"{name}\") has no `command`"),
                    "write program(\"name\", #{ command: \"python3 app.py\" })",
                ));
            };
            if command.trim().is_empty() || command.contains('\n') {
                return Err(script_error(
                    &ctx,
                    format!("program(\"{name}\"): `command` must be one command line"),
                    "it runs with `exec`, so signals reach the program; put pipelines or several commands in a script and run that",
                ));
            }
            let cwd = o.string("cwd")?;
            let log = o.string("log")?;
            let mut env = Vec::new();
            if let Some(v) = o.take("env") {
                let Some(map) = v.clone().try_cast::<Map>() else {
                    return Err(o.wrong("env", "a map of names to strings", &v));
                };
                for (k, val) in map {
                    let ok = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !ok || k.starts_with("ORDO_") {
                        return Err(script_error(
                            &ctx,
                            format!("`{k}` cannot be an environment variable of program `{name}`"),
                            "use letters, digits and `_` (not starting with a digit); ORDO_* is ordo's own",
                        ));
                    }
                    let text = if val.is_string() || val.is_int() || val.is_float() || val.is_bool() {
                        val.to_string()
                    } else {
                        return Err(o.wrong("env", "a map of names to strings or numbers", &val));
                    };
                    env.push((k.to_string(), text));
                }
                env.sort();
            }
            let stop_signal = match o.string("stop_signal")? {
                Some(s) => signal(&ctx, "stop_signal", &s)?,
                None => "TERM".into(),
            };
            let stop_timeout = match o.take("stop_timeout") {
                None => 10,
                Some(v) => match v.as_int() {
                    Ok(s) if (1..=3600).contains(&s) => s as u64,
                    _ => return Err(o.wrong("stop_timeout", "a number of seconds (1 to 3600)", &v)),
                },
            };
            let reload = match o.take("reload") {
                None => Reload::Signal("HUP".into()),
                Some(v) if v.is_string() => Reload::Signal(signal(&ctx, "reload", &v.to_string())?),
                Some(v) => match v.clone().try_cast::<Map>() {
                    Some(m) => {
                        let mut r = Options::new(&ctx, "program()'s reload", m, &["run"])?;
                        match r.string("run")? {
                            Some(run) => Reload::Command(run),
                            None => return Err(o.wrong("reload", "a signal name or #{ run: \"command\" }", &v)),
                        }
                    }
                    None => return Err(o.wrong("reload", "a signal name or #{ run: \"command\" }", &v)),
                },
            };
            let desired = match o.string("state")?.as_deref() {
                None | Some("running") => Desired::Running,
                Some("stopped") => Desired::Stopped,
                Some(other) => {
                    return Err(script_error(
                        &ctx,
                        format!("`state: {other:?}` is not a program state"),
                        "write `running` (the default) or `stopped`",
                    ));
                }
            };
            let backend = match o.string("backend")?.as_deref() {
                None | Some("auto") => None,
                Some(b) => match backend::by_name(b) {
                    Some(b) => Some(b),
                    None => {
                        return Err(script_error(
                            &ctx,
                            format!("unknown backend `{b}` for program `{name}`"),
                            format!(
                                "{}backends: auto, {}",
                                crate::problem::suggest::did_you_mean(b, backend::names()),
                                backend::names().join(", ")
                            ),
                        ));
                    }
                },
            };
            let sudo = o.bool("sudo")?.unwrap_or(false);
            if sudo && backend.is_some_and(|b| b.name() != "systemd") {
                return Err(script_error(
                    &ctx,
                    format!(
                        "program `{name}`: `sudo: true` is for systemd system units, not backend `{}`",
                        backend.map_or("", |b| b.name())
                    ),
                    "write `backend: \"systemd\"` (or `auto`) with `sudo: true`, or drop `sudo`: supervisord and plain processes run as the login user",
                ));
            }
            let health = match o.take("health") {
                None => None,
                Some(v) => match v.clone().try_cast::<HealthCheck>() {
                    Some(h) => Some(h.0),
                    None => return Err(o.wrong("health", "http_check(..), tcp_check(..) or command_check(..)", &v)),
                },
            };
            let restart_on = refs_named(&ctx, "restart_on", o.take("restart_on"))?;
            let reload_on = refs_named(&ctx, "reload_on", o.take("reload_on"))?;
            Ok(spec(
                &ctx,
                ProgramSpec {
                    name: name.into(),
                    command,
                    cwd,
                    env,
                    log,
                    stop_signal,
                    stop_timeout,
                    reload,
                    desired,
                    backend,
                    sudo,
                    health,
                    restart_on,
                    reload_on,
                },
            ))
        },
    );
}
