//! What REPL functions return: the `RunResult` of a command on one host and the
//! `Outcome` of `plan`, `diff`, `check` and `apply`, as properties.

use rhai::{Dynamic, Engine};

use super::live::{CommandResult, Summary};
use crate::script::api::document_getter;

/// What `run` returns for one host.
#[derive(Clone)]
pub(crate) struct RunResult(pub(super) CommandResult);

/// What `plan`, `diff`, `check` and `apply` return.
#[derive(Clone)]
pub(crate) struct Outcome(pub(super) Summary);

/// A property: name, type, documentation, getter.
type Field<T> = (&'static str, &'static str, &'static str, fn(&T) -> Dynamic);

pub(super) fn register(engine: &mut Engine) {
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
}
