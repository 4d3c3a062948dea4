//! The one place an [`Engine`] is built: limits set explicitly (so debug and release
//! builds behave alike and an endless loop is an error, not a hang), strict
//! variables (a typo is a compile error), the module resolver and the ordo API.

use std::sync::Arc;

use rhai::Engine;

use super::resolver::Resolver;
use super::session::Session;
use super::{api, custom};

/// Operations one script run (or one configure call) may take. Generous for real
/// environments with thousands of hosts, small enough to stop `loop {}` in a second.
pub const MAX_OPERATIONS: u64 = 5_000_000;

pub(crate) fn build(session: &Arc<Session>, resolver: Resolver) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(64)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(16 << 20)
        .set_max_array_size(1_000_000)
        .set_max_map_size(100_000)
        .set_max_modules(256)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_module_resolver(resolver);
    engine.disable_symbol("eval");
    engine.on_print(|s| eprintln!("{s}"));
    engine.on_debug(|s, src, pos| eprintln!("{}:{pos}: {s}", src.unwrap_or("<script>")));
    api::register(&mut engine, session);
    custom::register(&mut engine);
    engine
}
