//! `migration(..)`: see `primitive/migration.rs`.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, refs, spec};
use crate::primitive::migration::{self, Migration};
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, script_error};
use crate::script::eval::build::{Once, StepRef};

struct MigrationSpec {
    name: String,
    run: String,
    unless: Option<String>,
    cwd: Option<String>,
    timeout: Option<Duration>,
    on_change: Vec<StepRef>,
    once: Once,
}

impl Spec for MigrationSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        let cwd = match &self.cwd {
            Some(d) => ctx.path("cwd", d)?,
            None => ctx.dir.clone(),
        };
        Ok(Resolved {
            action: Arc::new(Migration {
                name: self.name.clone(),
                run: self.run.clone(),
                unless: self.unless.clone(),
                cwd,
                timeout: self.timeout,
            }),
            on_change: self.on_change.clone(),
            reload_on: Vec::new(),
            once: Some(self.once.clone()),
        })
    }
}

fn timeout(o: &mut Options) -> RhaiResult<Option<Duration>> {
    match o.take("timeout") {
        None => Ok(None),
        Some(v) => match v.as_int() {
            Ok(s) if s > 0 => Ok(Some(Duration::from_secs(s.unsigned_abs()))),
            _ => Err(o.wrong("timeout", "a number of seconds (> 0)", &v)),
        },
    }
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn(
        "migration",
        |ctx: NativeCallContext, name: &str, opts: Map| -> RhaiResult<StepSpec> {
            let names = migration::DOC.option_names();
            let mut o = Options::new(&ctx, "migration()", opts, &names)?;
            let Some(run) = o.string("run")? else {
                return Err(script_error(
                    &ctx,
                    format!("migration(\"{name}\") has no `run`"),
                    "write migration(\"schema\", #{ run: \"bin/migrate\", unless: \"bin/migrate --check\" })",
                ));
            };
            let unless = o.string("unless")?;
            let cwd = o.string("cwd")?;
            let timeout = timeout(&mut o)?;
            let on_change = refs(&ctx, o.take("on_change"))?;
            let once_flag = o.bool("once")?.unwrap_or(true);
            let role = o.string("role")?;
            if !once_flag && role.is_none() {
                return Err(script_error(
                    &ctx,
                    format!("migration(\"{name}\") with `once: false` would run on every host"),
                    "a migration changes shared data once per deploy; use command(..) for work every host does",
                ));
            }
            if unless.is_none() && on_change.is_empty() {
                return Err(script_error(
                    &ctx,
                    format!("migration(\"{name}\") never knows when it is needed"),
                    "give it `unless: \"check\"` (exits 0 when nothing is pending) and/or `on_change: [code]`",
                ));
            }
            Ok(spec(
                &ctx,
                MigrationSpec {
                    name: name.into(),
                    run,
                    unless,
                    cwd,
                    timeout,
                    on_change,
                    once: role.map_or(Once::First, Once::Role),
                },
            ))
        },
    );
}
