//! The one place an [`Engine`] is built: limits set explicitly (so debug and release
//! builds behave alike and an endless loop is an error, not a hang), strict
//! variables (a typo is a compile error), the module resolver and the ordo API.

use std::sync::Arc;

use rhai::{Dynamic, Engine};

use super::resolver::Resolver;
use super::session::Session;
use super::{api, custom};

/// Operations one script run (or one configure call) may take. Generous for real
/// environments with thousands of hosts, small enough to stop `loop {}` in a second.
pub const MAX_OPERATIONS: u64 = 5_000_000;

/// Nested function calls a script may make.
pub const MAX_CALL_LEVELS: usize = 64;

/// The longest string a script may build (16 MiB).
pub const MAX_STRING_SIZE: usize = 16 << 20;

/// Elements in one array and entries in one map, nested ones included. Besides
/// memory, these bound how deeply a value can nest (every level is an element), and
/// with it the stack Rhai needs to print, compare or drop it: see `stack.rs`.
pub const MAX_ARRAY_SIZE: usize = 100_000;
pub const MAX_MAP_SIZE: usize = 100_000;

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
    // Native functions find the script texts here (to see how a literal was written).
    engine.set_default_tag(Dynamic::from(session.sources.clone()));
    engine.disable_symbol("eval");
    engine.on_print(|s| eprintln!("{s}"));
    engine.on_debug(|s, src, pos| eprintln!("{}:{pos}: {s}", src.unwrap_or("<script>")));
    api::register(&mut engine, session);
    custom::register(&mut engine);
    engine
}
