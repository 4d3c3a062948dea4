//! The REPL's side of the Rhai surface: the functions of REPL lines that reach
//! live hosts — `hosts()`, `components()`, `attrs(..)`, `host("web*").run(..)`,
//! `facts(..)` (`hosts.rs`), `plan(..)`, `diff(..)`, `check(..)` and `apply(..)`
//! (`plans.rs`), what they return (`results.rs`) — and the [`Live`] trait they
//! call (`live.rs`), which the REPL implements and installs into the session while
//! a line runs. Anywhere else (an environment script, configure) they say that
//! they need the REPL, so configure stays pure. The engine registers them beside
//! the scripts' API (`api/`), which knows nothing of them.

mod hosts;
pub mod live;
mod plans;
mod results;

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, NativeCallContext};

use self::hosts::HostSelection;
use self::live::{Live, Summary};
use self::results::{Outcome, RunResult};
use crate::problem::Problem;
use crate::script::api::{RhaiResult, fail, script_error};
use crate::script::errors::register_type;
use crate::script::session::Session;

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
    hosts::register(engine, session);
    results::register(engine);
    plans::register(engine, session);
}
