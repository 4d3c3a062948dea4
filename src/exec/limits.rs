//! Bounded fan-out over hosts: every phase that talks to many hosts (connect, probe,
//! apply, unlock, `ordo run`) goes through [`fan_out`], which runs at most `limit`
//! at once (`--jobs`), returns every host's result in host order, and turns a task
//! that panicked into a problem naming its host instead of dropping it. And the
//! [`Budget`] of a run: how many hosts it works on at once and how many ssh masters
//! it keeps, from `--jobs` and the descriptor limit (decision 64).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::problem::{Kind, Problem};

/// Runs `f` for every item, at most `limit` at once; results in the order of
/// `items`. `name` names an item in the message of a task that panicked.
pub async fn fan_out<T, R, F, Fut>(
    items: Vec<T>,
    limit: usize,
    name: impl Fn(&T) -> String,
    f: F,
) -> Vec<Result<R, Problem>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<R, Problem>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limit.clamp(1, Semaphore::MAX_PERMITS)));
    let mut names = Vec::with_capacity(items.len());
    let mut tasks = Vec::with_capacity(items.len());
    for item in items {
        names.push(name(&item));
        let permits = permits.clone();
        let fut = f(item);
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            fut.await
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for (task, name) in tasks.into_iter().zip(names) {
        out.push(match task.await {
            Ok(r) => r,
            Err(e) => Err(Problem::new(Kind::Step, format!("{name}: internal error: {e}"))
                .help("this is a bug in ordo; the other hosts were not affected")),
        });
    }
    out
}

/// Descriptors ordo keeps for itself: standard streams, the runtime, the
/// watchdog's pipe, the files it reads, a margin.
const RESERVED_FDS: u64 = 64;
/// Descriptors of one script running over a master (its three streams and the
/// control connection that opened the channel), or of an `ssh` starting a master.
const FDS_PER_SCRIPT: u64 = 4;
/// Scripts one job may have running at once: its probe or apply script, a channel
/// stopping a script, a custom step's command.
const SCRIPTS_PER_JOB: u64 = 3;
/// Descriptors of one open master in ordo: the held control connection (`ssh/hold.rs`).
const FDS_PER_MASTER: u64 = 1;
/// Masters a run may keep per job: with the default `--jobs` 32, a run of up to 64
/// ssh hosts keeps one master per host for the whole run, as ordo always did. A
/// fleet beyond that keeps one per job (`hosts.rs`, decision 64); the descriptors
/// are budgeted for the larger of the two.
const MASTERS_PER_JOB: usize = 2;

/// How much of the controller a run may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Hosts worked on at once: `--jobs`, or fewer when descriptors are short.
    pub jobs: usize,
    /// Live ssh masters at most: twice the jobs, within the descriptor limit — the
    /// most ssh hosts a run keeps connected throughout (a larger fleet keeps
    /// `jobs` of them).
    pub masters: usize,
    /// The descriptor limit (the soft one, after raising it).
    pub descriptors: u64,
}

impl Budget {
    /// The budget for `jobs` under a descriptor limit of `limit`.
    pub fn within(jobs: usize, limit: u64) -> Budget {
        let per_job = SCRIPTS_PER_JOB * FDS_PER_SCRIPT + FDS_PER_MASTER;
        let usable = limit.saturating_sub(RESERVED_FDS);
        let jobs = jobs.clamp(1, usize::try_from(usable / per_job).unwrap_or(usize::MAX).max(1));
        let left = usable.saturating_sub(jobs as u64 * SCRIPTS_PER_JOB * FDS_PER_SCRIPT) / FDS_PER_MASTER;
        let wanted = MASTERS_PER_JOB * jobs;
        let masters = wanted.min(usize::try_from(left).unwrap_or(usize::MAX)).max(jobs);
        Budget {
            jobs,
            masters,
            descriptors: limit,
        }
    }

    /// The descriptors a run with `jobs` would like: enough for its masters and
    /// scripts (see [`Budget::within`]).
    fn wanted(jobs: usize) -> u64 {
        let masters = (MASTERS_PER_JOB * jobs) as u64;
        RESERVED_FDS + jobs as u64 * SCRIPTS_PER_JOB * FDS_PER_SCRIPT + masters * FDS_PER_MASTER
    }

    /// The budget of this process for `jobs`: the soft descriptor limit is raised
    /// towards what the run would like, up to the hard limit. Only as far as
    /// needed, not to the hard limit itself: every process ordo starts (ssh, a
    /// local host's scripts) inherits the soft limit, and some programs loop over
    /// every possible descriptor when they start.
    pub fn of_process(jobs: usize) -> Budget {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let now = getrlimit(Resource::Nofile);
        let current = now.current.unwrap_or(u64::MAX);
        let wanted = Budget::wanted(jobs);
        if current < wanted {
            let raised = now.maximum.map_or(wanted, |max| wanted.min(max));
            if raised > current
                && setrlimit(
                    Resource::Nofile,
                    Rlimit {
                        current: Some(raised),
                        maximum: now.maximum,
                    },
                )
                .is_ok()
            {
                return Budget::within(jobs, raised);
            }
        }
        Budget::within(jobs, current)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn at_most_limit_run_at_once_and_results_keep_their_order() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let results = fan_out(
            (0..20).collect(),
            3,
            |i| format!("host{i}"),
            |i: usize| {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5 * (20 - i as u64))).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(i)
                }
            },
        )
        .await;
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(
            results.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
            (0..20).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_panicking_task_is_reported_not_dropped() {
        let results = fan_out(
            vec![1, 2, 3],
            2,
            |i| format!("host{i}"),
            |i: i32| async move {
                assert!(i != 2, "boom");
                Ok(i)
            },
        )
        .await;
        assert_eq!(results.len(), 3);
        assert!(
            results[1]
                .as_ref()
                .unwrap_err()
                .message
                .contains("host2: internal error")
        );
        assert_eq!(*results[2].as_ref().unwrap(), 3);
    }

    #[test]
    fn the_budget_keeps_masters_and_scripts_within_the_descriptor_limit() {
        // Plenty: twice the jobs.
        assert_eq!(Budget::within(32, 20_000).masters, 64);
        assert_eq!(Budget::within(2, 20_000).masters, 4);
        assert_eq!(Budget::within(100, 20_000).masters, 200);
        assert_eq!(Budget::within(100, 20_000).jobs, 100);
        // A common default of 1,024 still fits the default --jobs.
        let b = Budget::within(32, 1024);
        assert_eq!((b.jobs, b.masters), (32, 64));
        // Short: fewer masters, then fewer jobs, never more descriptors than allowed.
        for (jobs, limit) in [(32usize, 256u64), (200, 1024), (500, 1024), (8, 80), (1, 10)] {
            let b = Budget::within(jobs, limit);
            assert!(b.jobs >= 1 && b.jobs <= jobs && b.masters >= b.jobs, "{b:?}");
            let used =
                RESERVED_FDS + b.jobs as u64 * SCRIPTS_PER_JOB * FDS_PER_SCRIPT + b.masters as u64 * FDS_PER_MASTER;
            assert!(
                used <= limit.max(RESERVED_FDS + SCRIPTS_PER_JOB * FDS_PER_SCRIPT + 1),
                "{b:?} uses {used} of {limit}"
            );
        }
        assert_eq!(Budget::within(500, 1024).jobs, 73);
    }
}
