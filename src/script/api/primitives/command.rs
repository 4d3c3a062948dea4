//! `command(..)`: see `primitive/command.rs`.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, refs, spec};
use crate::primitive::command::{Command, DOC};
use crate::script::api::document;
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, script_error};
use crate::script::eval::build::StepRef;

struct CommandSpec {
    name: String,
    run: String,
    unless: Option<String>,
    creates: Option<String>,
    cwd: Option<String>,
    always: bool,
    timeout: Option<Duration>,
    sudo: bool,
    on_change: Vec<StepRef>,
}

impl Spec for CommandSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        let cwd = match &self.cwd {
            Some(d) => ctx.path("cwd", d)?,
            None => ctx.dir.clone(),
        };
        let creates = self.creates.as_deref().map(|p| ctx.path("creates", p)).transpose()?;
        let (run, _) = ctx.reveal_text(&self.run)?;
        let unless = self
            .unless
            .as_deref()
            .map(|u| ctx.reveal_text(u))
            .transpose()?
            .map(|(u, _)| u);
        Ok(Resolved {
            action: Arc::new(Command {
                name: self.name.clone(),
                run,
                cwd,
                unless,
                creates,
                always: self.always,
                timeout: self.timeout,
                sudo: self.sudo,
            }),
            on_change: self.on_change.clone(),
            reload_on: Vec::new(),
            once: None,
        })
    }
}

pub(super) fn register(engine: &mut Engine) {
    document(
        engine,
        "command",
        &["name: string", "options: map", "StepSpec"],
        DOC.summary,
        |ctx: NativeCallContext, name: &str, opts: Map| -> RhaiResult<StepSpec> {
            let names = DOC.option_names();
            let mut o = Options::new(&ctx, "command()", opts, &names)?;
            let Some(run) = o.string("run")? else {
                return Err(script_error(
                    &ctx,
                    format!("command(\"{name}\") has no `run`"),
                    "write command(\"name\", #{ run: \"the shell command\", creates: \"path\" })",
                ));
            };
            let unless = o.string("unless")?;
            let creates = o.string("creates")?;
            let cwd = o.string("cwd")?;
            let always = o.bool("always")?.unwrap_or(false);
            let timeout = match o.take("timeout") {
                None => None,
                Some(v) => match v.as_int() {
                    Ok(s) if s > 0 => Some(Duration::from_secs(s.unsigned_abs())),
                    _ => return Err(o.wrong("timeout", "a number of seconds (> 0)", &v)),
                },
            };
            let sudo = o.bool("sudo")?.unwrap_or(false);
            let on_change = refs(&ctx, o.take("on_change"))?;
            if unless.is_none() && creates.is_none() && on_change.is_empty() && !always {
                return Err(script_error(
                    &ctx,
                    format!("command(\"{name}\") would run on every deploy"),
                    "say when it is needed: `creates: \"path\"` (skip when the path exists), `unless: \"test …\"` \
                 (skip when that exits 0) or `on_change: [step, …]` (run after those steps changed); \
                 `always: true` if it really must run every time",
                ));
            }
            Ok(spec(
                &ctx,
                CommandSpec {
                    name: name.into(),
                    run,
                    unless,
                    creates,
                    cwd,
                    always,
                    timeout,
                    sudo,
                    on_change,
                },
            ))
        },
    );
}
