//! `plan`, `diff`, `check` and `apply`: the deploy transaction restricted to what
//! a REPL line names — a component, a step or an ad-hoc component `|c| …` on one
//! host (configured by `eval::trial` into a model of its own).

use std::sync::Arc;

use rhai::{Dynamic, Engine, FnPtr, NativeCallContext};

use super::live::Target;
use super::results::Outcome;
use super::{live, summary};
use crate::problem::{Kind, Problem};
use crate::script::api::primitives::StepSpec;
use crate::script::api::{RhaiResult, document, fail, script_error};
use crate::script::errors::type_name;
use crate::script::eval::trial;
use crate::script::session::Session;

/// What `check` and `apply` were given, as the ad-hoc model or a component name.
fn target(s: &Arc<Session>, ctx: &NativeCallContext, what: Dynamic, host: Option<&str>) -> RhaiResult<Target> {
    if what.is_string() {
        return Ok(Target::Component(what.to_string()));
    }
    let Some(host) = host else {
        return Err(script_error(
            ctx,
            format!("{}() of an ad-hoc step needs the host to try it on", ctx.fn_name()),
            format!("write {}(step, \"web1\")", ctx.fn_name()),
        ));
    };
    let model = if let Some(spec) = what.clone().try_cast::<StepSpec>() {
        trial(s, host, |c| ctx.call_fn::<Dynamic>("add", (c, spec)).map(|_| ()))?
    } else if let Some(f) = what.clone().try_cast::<FnPtr>() {
        trial(s, host, |c| f.call_within_context::<Dynamic>(ctx, (c,)).map(|_| ()))?
    } else {
        return Err(script_error(
            ctx,
            format!(
                "{}() takes a component name, a step or a closure |c| …, not a {}",
                ctx.fn_name(),
                type_name(what.type_name())
            ),
            "for example: check(file(\"a.txt\", \"hi\"), \"web1\"), check(|c| { c.add(..); }, \"web1\") or check(\"app\", \"web1\")",
        ));
    };
    match model {
        Ok(m) => Ok(Target::Trial(Arc::new(m))),
        Err(mut ps) => {
            let first = ps.0.remove(0);
            Err(fail(ps.0.into_iter().fold(first, Problem::related)))
        }
    }
}

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    document(
        engine,
        "plan",
        &["Outcome"],
        "REPL: what a deploy would change on every host, with diffs; read-only (takes no lock).",
        move |ctx: NativeCallContext| summary(live(&s, &ctx)?.plan(None, None)),
    );
    // `diff(component)` is `plan(component)` under the name people reach for.
    for name in ["plan", "diff"] {
        let s = session.clone();
        document(
            engine,
            name,
            &["component: string", "Outcome"],
            "REPL: what a deploy would change in `component`, on every host it is placed on, with diffs; read-only.",
            move |ctx: NativeCallContext, component: &str| summary(live(&s, &ctx)?.plan(Some(component), None)),
        );
    }
    let s = session.clone();
    document(
        engine,
        "diff",
        &["component: string", "host: string", "Outcome"],
        "REPL: what a deploy would change in `component` on `host`, with diffs; read-only.",
        move |ctx: NativeCallContext, component: &str, host: &str| {
            summary(live(&s, &ctx)?.plan(Some(component), Some(host)))
        },
    );
    let s = session.clone();
    document(
        engine,
        "check",
        &["what: StepSpec | |c| … | string", "host: string", "Outcome"],
        "REPL: verifies a step (`file(..)`, `command(..)`, `step(..)`…), an ad-hoc component `|c| { c.add(..); }` or a component of the service by name \
         against `host`, and shows what applying it would change, with diffs. Applies nothing.",
        move |ctx: NativeCallContext, what: Dynamic, host: &str| -> RhaiResult<Outcome> {
            let live = live(&s, &ctx)?;
            match target(&s, &ctx, what, Some(host))? {
                Target::Component(name) => summary(live.plan(Some(&name), Some(host))),
                Target::Trial(model) => summary(live.check(model, host)),
            }
        },
    );
    let s = session.clone();
    document(
        engine,
        "apply",
        &["what: StepSpec | |c| … | string", "host: string", "Outcome"],
        "REPL: applies exactly one thing on `host` — a step, an ad-hoc component or a component of the service by name — \
         with the deploy lock, after showing the plan and asking for confirmation. The host's recorded deployment stays as it was.",
        move |ctx: NativeCallContext, what: Dynamic, host: &str| -> RhaiResult<Outcome> {
            let live = live(&s, &ctx)?;
            let target = target(&s, &ctx, what, Some(host))?;
            summary(live.apply(target, Some(host)))
        },
    );
    let s = session.clone();
    document(
        engine,
        "apply",
        &["component: string", "Outcome"],
        "REPL: applies one component of the service on every host it is placed on, with the deploy lock, after showing the plan and asking for confirmation.",
        move |ctx: NativeCallContext, what: Dynamic| -> RhaiResult<Outcome> {
            let live = live(&s, &ctx)?;
            match target(&s, &ctx, what, None)? {
                Target::Component(name) if name.is_empty() => {
                    Err(fail(Problem::new(Kind::Usage, "apply() needs a component name")))
                }
                target => summary(live.apply(target, None)),
            }
        },
    );
}
