//! How long a piece of Rhai work may take. The operation limit does not see
//! everything a script costs: Rhai measures (and clones) a nested value on every
//! assignment without counting it, so `for i in 0..N { a = [a]; }` runs in
//! quadratic time well inside the operation limit (20,000 levels: 15 s; 100,000:
//! minutes). So every piece of work also has a time limit, checked on each
//! operation (`engine.rs`: Rhai's `on_progress`), which stops it at the operation
//! running when the time is up.
//!
//! A piece of work is what [`timed`] runs: one evaluation of the scripts, one REPL
//! line, one call of a custom step's verify or update (`stack::run` starts a clock
//! for each thread it starts). Time spent waiting for hosts or for the user
//! ([`waiting`]: a custom step's `host.run`, the REPL's `apply` with its question,
//! a library checkout) does not count: only the scripts' own work does.
//!
//! The clock is per thread: an engine runs scripts for several hosts at once, on
//! threads of their own.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Why Rhai stopped a script: its work ran past `limit` (the token of Rhai's
/// `ErrorTerminated`).
#[derive(Clone, Debug)]
pub(crate) struct TimeUp {
    pub(crate) limit: Duration,
}

/// Rhai's progress callback: stops the script once the work on this thread has
/// run longer than `limit`.
pub(crate) fn check(limit: Duration) -> Option<TimeUp> {
    (working() > limit).then_some(TimeUp { limit })
}

#[derive(Clone, Copy)]
struct Clock {
    started: Instant,
    /// Time spent in [`waiting`] regions that ended.
    waited: Duration,
    /// The [`waiting`] region running now, if any.
    waiting_since: Option<Instant>,
}

impl Clock {
    fn new() -> Self {
        Clock {
            started: Instant::now(),
            waited: Duration::ZERO,
            waiting_since: None,
        }
    }

    fn working(&self, now: Instant) -> Duration {
        let waiting = self.waiting_since.map_or(Duration::ZERO, |since| now - since);
        (now - self.started).saturating_sub(self.waited + waiting)
    }
}

thread_local! {
    static CLOCK: Cell<Option<Clock>> = const { Cell::new(None) };
}

/// Runs `f` as a piece of work with a clock of its own; the clock of the work
/// around it (if any) continues afterwards.
pub(crate) fn timed<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Clock>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CLOCK.set(self.0);
        }
    }
    let _restore = Restore(CLOCK.replace(Some(Clock::new())));
    f()
}

/// Runs `f`, a wait for hosts or for the user: its time does not count against
/// the work around it.
pub(crate) fn waiting<T>(f: impl FnOnce() -> T) -> T {
    struct Resume;
    impl Drop for Resume {
        fn drop(&mut self) {
            if let Some(mut clock) = CLOCK.get()
                && let Some(since) = clock.waiting_since.take()
            {
                clock.waited += since.elapsed();
                CLOCK.set(Some(clock));
            }
        }
    }
    let mut resume = None;
    if let Some(mut clock) = CLOCK.get()
        && clock.waiting_since.is_none()
    {
        clock.waiting_since = Some(Instant::now());
        CLOCK.set(Some(clock));
        resume = Some(Resume);
    }
    let out = f();
    drop(resume);
    out
}

/// How long the work on this thread has run, waits left out; zero outside [`timed`].
pub(crate) fn working() -> Duration {
    CLOCK.get().map_or(Duration::ZERO, |c| c.working(Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(30);

    #[test]
    fn waits_do_not_count_and_nested_work_has_its_own_clock() {
        assert_eq!(working(), Duration::ZERO, "no clock outside timed work");
        timed(|| {
            std::thread::sleep(TICK);
            waiting(|| {
                std::thread::sleep(4 * TICK);
                // A custom step's verify inside a REPL line's wait: a fresh clock.
                let inner = timed(|| {
                    std::thread::sleep(TICK);
                    working()
                });
                assert!(inner >= TICK && inner < 3 * TICK, "{inner:?}");
                waiting(|| std::thread::sleep(TICK));
            });
            let outer = working();
            assert!(outer >= TICK && outer < 3 * TICK, "the waits are left out: {outer:?}");
        });
        assert_eq!(working(), Duration::ZERO);
    }
}
