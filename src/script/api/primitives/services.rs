//! `migration(..)`, `cache(..)` and `cron(..)`: see `primitive/migration.rs`,
//! `primitive/cache.rs` and `primitive/cron.rs`.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, refs, refs_named, spec};
use crate::model::HostPath;
use crate::primitive::cache::{self, Cache};
use crate::primitive::cron::{self, Cron};
use crate::primitive::migration::{self, Migration};
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, is_plain_name, script_error};
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

struct CacheSpec {
    path: String,
    mode: Option<u32>,
    purge_on: Vec<StepRef>,
}

impl Spec for CacheSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        Ok(Resolved {
            action: Arc::new(Cache {
                name: self.path.clone(),
                path: ctx.path("cache", &self.path)?,
                mode: self.mode,
                purge_on: self.purge_on.iter().map(|r| r.name.clone()).collect(),
            }),
            on_change: self.purge_on.clone(),
            reload_on: Vec::new(),
            once: None,
        })
    }
}

struct CronSpec {
    name: String,
    schedule: String,
    run: String,
    cwd: Option<String>,
}

impl Spec for CronSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        let cwd = match &self.cwd {
            Some(d) => ctx.path("cwd", d)?,
            None => ctx.dir.clone(),
        };
        Ok(Resolved::of(Arc::new(Cron {
            name: self.name.clone(),
            service: ctx.service.to_string(),
            schedule: self.schedule.clone(),
            run: self.run.clone(),
            cwd,
            record: HostPath::new(&format!("~/.ordo/{}/cron/{}", ctx.service, self.name))
                .expect("a home-relative path"),
        })))
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

/// A schedule cron takes: five fields of `0-9*/,-` and names, or `@word`.
fn valid_schedule(s: &str) -> bool {
    if let Some(word) = s.strip_prefix('@') {
        return [
            "reboot", "yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly",
        ]
        .contains(&word);
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    fields.len() == 5
        && s.split(' ').filter(|f| !f.is_empty()).count() == 5
        && fields
            .iter()
            .all(|f| f.chars().all(|c| c.is_ascii_alphanumeric() || "*/,-".contains(c)))
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
    let cache_fn = |ctx: NativeCallContext, path: &str, opts: Map| -> RhaiResult<StepSpec> {
        let names = cache::DOC.option_names();
        let mut o = Options::new(&ctx, "cache()", opts, &names)?;
        let mode = o.mode("mode")?;
        let purge_on = refs_named(&ctx, "purge_on", o.take("purge_on"))?;
        Ok(spec(
            &ctx,
            CacheSpec {
                path: path.into(),
                mode,
                purge_on,
            },
        ))
    };
    engine.register_fn("cache", cache_fn);
    engine.register_fn("cache", move |ctx: NativeCallContext, path: &str| {
        cache_fn(ctx, path, Map::new())
    });
    engine.register_fn(
        "cron",
        |ctx: NativeCallContext, name: &str, opts: Map| -> RhaiResult<StepSpec> {
            if !is_plain_name(name) {
                return Err(script_error(
                    &ctx,
                    format!("`{name}` is not a valid cron entry name"),
                    "use letters, digits, `-`, `_` and `.`: it marks the entry's block in the crontab",
                ));
            }
            let names = cron::DOC.option_names();
            let mut o = Options::new(&ctx, "cron()", opts, &names)?;
            let (Some(schedule), Some(run)) = (o.string("schedule")?, o.string("run")?) else {
                return Err(script_error(
                    &ctx,
                    format!("cron(\"{name}\") needs `schedule` and `run`"),
                    "write cron(\"prune\", #{ schedule: \"*/10 * * * *\", run: \"bin/prune\" })",
                ));
            };
            if !valid_schedule(&schedule) {
                return Err(script_error(
                    &ctx,
                    format!("`schedule: {schedule:?}` is not a cron schedule"),
                    "five fields separated by single spaces (`*/5 * * * *`), or @hourly, @daily, @weekly, @monthly, @yearly, @reboot",
                ));
            }
            if run.contains(['\n', '\r']) || run.trim().is_empty() {
                return Err(script_error(
                    &ctx,
                    format!("cron(\"{name}\"): `run` must be one line"),
                    "crontab entries are lines; put longer work in a script and run that",
                ));
            }
            let cwd = o.string("cwd")?;
            Ok(spec(
                &ctx,
                CronSpec {
                    name: name.into(),
                    schedule,
                    run,
                    cwd,
                },
            ))
        },
    );
}
