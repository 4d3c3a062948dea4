//! The functions of REPL lines that reach live hosts: `hosts()`, `components()`,
//! `attrs(..)`, `host("web*").run(..)`, `facts(..)`, `plan(..)`, `diff(..)`,
//! `check(..)` and `apply(..)`. They call the [`Live`] the REPL installs into the
//! session while a line runs; anywhere else (an environment script, configure)
//! they say that they need the REPL, so configure stays pure.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, FnPtr, NativeCallContext};

use super::primitives::StepSpec;
use super::{RhaiResult, document, document_getter, fail, script_error};
use crate::problem::{Kind, Problem};
use crate::script::errors::{register_type, type_name};
use crate::script::eval::trial;
use crate::script::live::{CommandResult, Live, Summary, Target};
use crate::script::session::Session;

/// `host("web*")`: the hosts a name, glob or role selected.
#[derive(Clone)]
pub(crate) struct HostSelection {
    pattern: String,
    names: Vec<String>,
}

/// What `run` returns for one host.
#[derive(Clone)]
pub(crate) struct RunResult(CommandResult);

/// What `plan`, `diff`, `check` and `apply` return.
#[derive(Clone)]
pub(crate) struct Outcome(Summary);

/// A value that a REPL function returned: as data, and whether the function
/// already reported it (the REPL then does not show it again).
pub(crate) fn shown(value: &Dynamic) -> Option<(serde_json::Value, bool)> {
    if let Some(r) = value.read_lock::<RunResult>() {
        return Some((serde_json::to_value(&r.0).unwrap_or_default(), true));
    }
    if let Some(o) = value.read_lock::<Outcome>() {
        return Some((serde_json::to_value(&o.0).unwrap_or_default(), true));
    }
    if let Some(h) = value.read_lock::<HostSelection>() {
        return Some((serde_json::json!(h.names), false));
    }
    if value.is_array() {
        let items = value.read_lock::<Array>()?;
        if items.is_empty() {
            return None;
        }
        let parts: Option<Vec<_>> = items.iter().map(shown).collect();
        let parts = parts?;
        let reported = parts.iter().all(|(_, r)| *r);
        return Some((
            serde_json::Value::Array(parts.into_iter().map(|(v, _)| v).collect()),
            reported,
        ));
    }
    None
}

fn live(s: &Session, ctx: &NativeCallContext) -> RhaiResult<Arc<dyn Live>> {
    s.live().ok_or_else(|| {
        script_error(
            ctx,
            format!("{}() works in the REPL only", ctx.fn_name()),
            "it reaches live hosts; run it in `ordo repl ENV` (configure must not touch hosts)",
        )
    })
}

fn data(value: Result<serde_json::Value, Problem>) -> RhaiResult<Dynamic> {
    let value = value.map_err(fail)?;
    rhai::serde::to_dynamic(value)
}

fn summary(value: Result<Summary, Problem>) -> RhaiResult<Outcome> {
    value.map(Outcome).map_err(fail)
}

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    register_type::<HostSelection>(engine, "Hosts");
    register_type::<RunResult>(engine, "RunResult");
    register_type::<Outcome>(engine, "Outcome");
    register_hosts(engine, session);
    register_results(engine);
    register_plans(engine, session);
}

fn register_hosts(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    document(
        engine,
        "hosts",
        &["array"],
        "REPL: every host of the environment: `#{ name, transport, address, roles, components }`.",
        move |ctx: NativeCallContext| data(live(&s, &ctx)?.hosts()),
    );
    let s = session.clone();
    document(
        engine,
        "components",
        &["array"],
        "REPL: every component of the service: `#{ name, hosts }`.",
        move |ctx: NativeCallContext| data(live(&s, &ctx)?.components()),
    );
    let s = session.clone();
    document(
        engine,
        "attrs",
        &["component: string", "map"],
        "REPL: the attributes of `component` as configure read them, per host.",
        move |ctx: NativeCallContext, component: &str| data(live(&s, &ctx)?.attrs(component, None)),
    );
    let s = session.clone();
    document(
        engine,
        "attrs",
        &["component: string", "host: string", "map"],
        "REPL: the attributes of `component` on `host` as configure read them (defaults and overrides applied).",
        move |ctx: NativeCallContext, component: &str, host: &str| data(live(&s, &ctx)?.attrs(component, Some(host))),
    );
    let s = session.clone();
    document(
        engine,
        "host",
        &["pattern: string", "Hosts"],
        "REPL: the hosts a name, a glob (`web*`) or a role selects; `.run(cmd)` runs a command on them.",
        move |ctx: NativeCallContext, pattern: &str| -> RhaiResult<HostSelection> {
            let names = live(&s, &ctx)?.select(pattern).map_err(fail)?;
            Ok(HostSelection {
                pattern: pattern.to_string(),
                names,
            })
        },
    );
    document_getter(
        engine,
        "names",
        &["hosts: Hosts", "array"],
        "The names of the selected hosts, in host order.",
        |h: &mut HostSelection| -> Array { h.names.iter().map(|n| n.clone().into()).collect() },
    );
    let s = session.clone();
    document(
        engine,
        "run",
        &["hosts: Hosts", "cmd: string", "RunResult | array"],
        "REPL: runs `cmd` with `sh` in the service user's home on the selected hosts, in parallel; prints the output grouped per host.\n\
         Returns the result (`.ok`, `.code`, `.stdout`, `.stderr`) for one host named exactly, else an array of them. Ctrl-C stops it.",
        move |ctx: NativeCallContext, h: &mut HostSelection, cmd: &str| -> RhaiResult<Dynamic> {
            let live = live(&s, &ctx)?;
            // The output is redacted like every output; the host gets the value.
            let cmd = crate::script::custom::reveal_command(s.vault.as_deref(), cmd)?;
            let results = live.run(&h.names, &cmd).map_err(fail)?;
            let exact = h.names.len() == 1 && h.names[0] == h.pattern;
            let mut values: Array = results.into_iter().map(|r| Dynamic::from(RunResult(r))).collect();
            Ok(if exact && values.len() == 1 {
                values.remove(0)
            } else {
                Dynamic::from_array(values)
            })
        },
    );
    let s = session.clone();
    document(
        engine,
        "facts",
        &["host: string", "map"],
        "REPL: what one probe round trip finds out about `host`: OS and version, Python interpreters, package manager, CPUs, memory, free disk, \
         supervisor backends, and what ordo recorded there (deployed fingerprint, environment, who and when, lock).",
        move |ctx: NativeCallContext, host: &str| data(live(&s, &ctx)?.facts(host)),
    );
}

/// A property: name, type, documentation, getter.
type Field<T> = (&'static str, &'static str, &'static str, fn(&T) -> Dynamic);

fn register_results(engine: &mut Engine) {
    let run_fields: [Field<CommandResult>; 6] = [
        ("host", "string", "The host's name.", |r| r.host.clone().into()),
        ("ok", "bool", "The command ran and exited 0.", |r| {
            (r.code == Some(0)).into()
        }),
        (
            "code",
            "int",
            "The exit code, or `()` when the command did not run.",
            |r| r.code.map_or(Dynamic::UNIT, |c| i64::from(c).into()),
        ),
        ("stdout", "string", "Standard output (its last megabyte).", |r| {
            r.stdout.clone().into()
        }),
        ("stderr", "string", "Standard error (its last megabyte).", |r| {
            r.stderr.clone().into()
        }),
        ("error", "string", "Why the command did not run, or `()`.", |r| {
            r.error.clone().map_or(Dynamic::UNIT, Into::into)
        }),
    ];
    for (name, ty, doc, get) in run_fields {
        document_getter(
            engine,
            name,
            &["result: RunResult", ty],
            doc,
            move |r: &mut RunResult| get(&r.0),
        );
    }
    engine.register_fn("to_string", |r: &mut RunResult| r.0.stdout.clone());
    engine.register_fn("to_debug", |r: &mut RunResult| {
        format!("RunResult(host: {}, code: {:?})", r.0.host, r.0.code)
    });
    let outcome_fields: [Field<Summary>; 4] = [
        ("changes", "int", "Steps that would change (or changed).", |s| {
            (s.changes as i64).into()
        }),
        ("unchanged", "int", "Steps already up to date.", |s| {
            (s.unchanged as i64).into()
        }),
        (
            "conflicts",
            "int",
            "Steps something on the host is in the way of.",
            |s| (s.conflicts as i64).into(),
        ),
        (
            "applied",
            "int",
            "Steps an apply changed, or `()` when nothing was applied.",
            |s| s.applied.map_or(Dynamic::UNIT, |a| (a as i64).into()),
        ),
    ];
    for (name, ty, doc, get) in outcome_fields {
        document_getter(engine, name, &["outcome: Outcome", ty], doc, move |o: &mut Outcome| {
            get(&o.0)
        });
    }
    engine.register_fn("to_string", |o: &mut Outcome| {
        format!("{} to change, {} unchanged", o.0.changes, o.0.unchanged)
    });
    engine.register_fn("to_string", |h: &mut HostSelection| h.names.join(", "));
}

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

fn register_plans(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    document(
        engine,
        "plan",
        &["Outcome"],
        "REPL: what a deploy would change on every host, with diffs; read-only (takes no lock).",
        move |ctx: NativeCallContext| summary(live(&s, &ctx)?.plan(None, None)),
    );
    let s = session.clone();
    document(
        engine,
        "plan",
        &["component: string", "Outcome"],
        "REPL: what a deploy would change in `component`, on every host it is placed on, with diffs; read-only.",
        move |ctx: NativeCallContext, component: &str| summary(live(&s, &ctx)?.plan(Some(component), None)),
    );
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
        "diff",
        &["component: string", "Outcome"],
        "REPL: what a deploy would change in `component`, on every host it is placed on, with diffs; read-only.",
        move |ctx: NativeCallContext, component: &str| summary(live(&s, &ctx)?.plan(Some(component), None)),
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
