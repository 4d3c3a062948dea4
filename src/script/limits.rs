//! The engine's limits, in one leaf module: the engine sets them, diagnostics name
//! them, and docs/dsl.md quotes them.

use std::sync::OnceLock;
use std::time::Duration;

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

/// How long one evaluation of the scripts, one REPL line or one call of a custom
/// step's verify or update may compute (waits for hosts and the user left out:
/// `clock.rs`), unless `--script-timeout` says otherwise. Real environments take
/// well under a second.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The work one template render may do, in minijinja's fuel: about one unit per
/// instruction and one per 64 bytes of data made. Rendering a configuration file
/// for a thousand hosts takes tens of thousands; ten million stops a runaway loop
/// within seconds, and bounds what a render allocates to some hundred MiB.
pub const TEMPLATE_FUEL: u64 = 10_000_000;

static SCRIPT_TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Sets the script time limit for the rest of the process, once, before any
/// script runs (`--script-timeout`); a later call changes nothing.
pub fn set_script_timeout(limit: Duration) {
    let _ = SCRIPT_TIMEOUT.set(limit);
}

static DEBUG_ERRORS: OnceLock<bool> = OnceLock::new();

/// Sets, once, whether Rhai errors are also written raw to standard error
/// (`ORDO_DEBUG_ERRORS`, read with the rest of the configuration).
pub fn set_debug_errors(on: bool) {
    let _ = DEBUG_ERRORS.set(on);
}

pub(crate) fn debug_errors() -> bool {
    DEBUG_ERRORS.get().copied().unwrap_or(false)
}

/// The script time limit in force.
pub(crate) fn script_timeout() -> Duration {
    SCRIPT_TIMEOUT.get().copied().unwrap_or(DEFAULT_SCRIPT_TIMEOUT)
}
