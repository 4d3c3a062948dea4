//! `cron(..)`: see `primitive/cron.rs`.

use std::sync::Arc;

use rhai::{Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, spec};
use crate::model::HostPath;
use crate::primitive::cron::{self, Cron};
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, is_plain_name, script_error};

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
