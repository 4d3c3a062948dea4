//! Rhai walks nested values recursively (printing, comparing, cloning, dropping and
//! size-checking them), with no depth limit of its own. `let a = []; for i in
//! 0..100000 { a = [a]; }` builds a value whose print or drop would overflow a
//! normal thread's stack and abort ordo. So:
//!
//! - how deep a value can nest is bounded by the engine's array and map size limits
//!   (every level is an element, and Rhai checks the size of every value it makes);
//! - every piece of Rhai work (evaluation, REPL lines, custom steps) runs on a
//!   thread with a stack sized for that bound ([`run`]);
//! - script state that may hold such values (engine, session, closures) is dropped
//!   on such a thread too ([`Deep`]);
//! - values that leave Rhai for the model are checked to nest at most
//!   [`MAX_MODEL_DEPTH`] levels ([`nests_deeper`]), as the model is dropped anywhere.

use std::cell::Cell;
use std::sync::Mutex;

use rhai::Dynamic;

/// Stack sizes to try, largest first: only the pages a script really uses are
/// ever touched, but a small machine may refuse to reserve the largest. Printing
/// or comparing a nested value takes Rhai about 3 KiB of stack per level in a
/// release build (8 KiB in a debug build); the size limits allow 200,000 levels.
const STACK_SIZES: [usize; 3] = [1 << 30, 256 << 20, 64 << 20];

/// How deeply a value may nest where it leaves Rhai (attributes, host data).
pub(crate) const MAX_MODEL_DEPTH: usize = 64;

thread_local! {
    static ON_SCRIPT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on a thread with a stack large enough for any value a script can
/// build, as a piece of work with its own time limit (`clock.rs`); directly (and
/// on the clock already running) when already on one.
pub(crate) fn run<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if ON_SCRIPT_THREAD.get() {
        return f();
    }
    // Shared with each attempt, so a thread that cannot start leaves `f` in place.
    let slot = Mutex::new(Some(f));
    std::thread::scope(|scope| {
        for size in STACK_SIZES {
            let slot = &slot;
            let spawned = std::thread::Builder::new()
                .name("ordo-script".into())
                .stack_size(size)
                .spawn_scoped(scope, move || {
                    ON_SCRIPT_THREAD.set(true);
                    let f = slot.lock().expect("script job").take().expect("runs once");
                    super::clock::timed(f)
                });
            if let Ok(handle) = spawned {
                return handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            }
        }
        // No thread at all (a machine out of memory or threads): run here rather
        // than not at all; only values nested tens of thousands deep could fail.
        let f = slot.lock().expect("script job").take().expect("not run yet");
        super::clock::timed(f)
    })
}

/// A value holding script state, dropped on a script thread.
pub(crate) struct Deep<T: Send>(Option<T>);

impl<T: Send> Deep<T> {
    pub(crate) fn new(value: T) -> Self {
        Deep(Some(value))
    }
}

impl<T: Send> std::ops::Deref for Deep<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0.as_ref().expect("present until dropped")
    }
}

impl<T: Send> Drop for Deep<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            run(move || drop(value));
        }
    }
}

/// Whether `value` nests deeper than `limit` levels of arrays and maps. Recurses
/// at most `limit` levels, whatever the value.
pub(crate) fn nests_deeper(value: &Dynamic, limit: usize) -> bool {
    if let Ok(array) = value.as_array_ref() {
        return limit == 0 || array.iter().any(|v| nests_deeper(v, limit - 1));
    }
    if let Ok(map) = value.as_map_ref() {
        return limit == 0 || map.values().any(|v| nests_deeper(v, limit - 1));
    }
    false
}

#[cfg(test)]
mod tests {
    use rhai::{Array, Dynamic};

    use super::*;

    #[test]
    fn depth_is_counted_in_levels() {
        let mut v = Dynamic::from(1_i64);
        for _ in 0..3 {
            let a: Array = vec![v];
            v = Dynamic::from_array(a);
        }
        assert!(!nests_deeper(&v, 3));
        assert!(nests_deeper(&v, 2));
        assert!(!nests_deeper(&Dynamic::from(1_i64), 0));
    }

    #[test]
    fn runs_on_a_script_thread_once() {
        let outer = run(|| (ON_SCRIPT_THREAD.get(), run(|| std::thread::current().id())));
        assert!(outer.0);
        assert_ne!(outer.1, std::thread::current().id());
    }
}
