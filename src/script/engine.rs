//! The one place an [`Engine`] is built: limits set explicitly (so debug and release
//! builds behave alike and an endless loop is an error, not a hang; a time limit
//! besides the operation count: `clock.rs`), strict variables (a typo is a compile
//! error), the module resolver and the ordo API.

use std::sync::Arc;

use rhai::{Dynamic, Engine};

use super::limits::{MAX_ARRAY_SIZE, MAX_CALL_LEVELS, MAX_MAP_SIZE, MAX_OPERATIONS, MAX_STRING_SIZE, script_timeout};
use super::resolver::Resolver;
use super::session::Session;
use super::{api, custom, repl};

pub(crate) fn build(session: &Arc<Session>, resolver: Resolver) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_ARRAY_SIZE)
        .set_max_map_size(MAX_MAP_SIZE)
        .set_max_modules(256)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_module_resolver(resolver);
    // Time, which the operation count does not measure (`clock.rs`). Reading the
    // clock on every operation would cost a third of a tight loop's time; every
    // 32nd still stops within a few milliseconds of the limit.
    let limit = script_timeout();
    engine.on_progress(move |ops| {
        if ops % 32 != 0 {
            return None;
        }
        super::clock::check(limit).map(Dynamic::from)
    });
    // Native functions find the script texts here (to see how a literal was written).
    engine.set_default_tag(Dynamic::from(session.sources.clone()));
    engine.disable_symbol("eval");
    let sink = session.print.clone();
    engine.on_print(move |s| sink(s, None));
    let sink = session.print.clone();
    engine.on_debug(move |s, src, pos| sink(s, super::errors::span_from_rhai(src, pos)));
    api::register(&mut engine, session);
    repl::register(&mut engine, session);
    custom::register(&mut engine);
    engine
}
