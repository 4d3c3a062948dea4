//! Bounded fan-out over hosts: every phase that talks to many hosts (connect, probe,
//! apply, unlock, `ordo run`) goes through [`fan_out`], which runs at most `limit`
//! at once (`--jobs`), returns every host's result in host order, and turns a task
//! that panicked into a problem naming its host instead of dropping it.

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
}
