//! `hosts()`, `components()`, `attrs(..)`, `facts(..)` and the `Hosts` a
//! `host("web*")` selects, with `.run(cmd)`.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, NativeCallContext};

use super::results::RunResult;
use super::{data, live};
use crate::script::api::{RhaiResult, document, document_getter, fail};
use crate::script::session::Session;

/// `host("web*")`: the hosts a name, glob or role selected.
#[derive(Clone)]
pub(crate) struct HostSelection {
    pattern: String,
    pub(super) names: Vec<String>,
}

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
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
    engine.register_fn("to_string", |h: &mut HostSelection| h.names.join(", "));
}
