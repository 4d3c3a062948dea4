//! The engine's limits, in one leaf module: the engine sets them, diagnostics name
//! them, and docs/dsl.md quotes them.

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
