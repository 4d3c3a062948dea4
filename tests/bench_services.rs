//! The services benchmark (not a test: `#[ignore]`d, run by `benches/services.sh`,
//! which builds in release mode): `examples/webapp` on five real sshd test hosts
//! (db, web1..3, lb). Prints the no-op deploy next to the floor (five parallel fresh
//! `ssh host true` logins), and the per-batch overhead of a rolling restart: the
//! time from one batch passing (its health checks done) to the next batch's
//! first change starting, without hooks (ordo's own overhead) and with the
//! balancer hooks (which add the `before` hook's run).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::webapp::Site;

fn floor(site: &Site) -> Duration {
    let started = Instant::now();
    let children: Vec<_> = ["db", "web1", "web2", "web3", "lb"]
        .iter()
        .map(|a| {
            Command::new("ssh")
                .arg("-F")
                .arg(site.project.path("ssh_config"))
                .arg(a)
                .arg("true")
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// Gaps (ms) between batch k passing and batch k+1 starting, over `runs` rolling
/// restarts, and the durations of the scripts that ran hooks.
fn batch_gaps(site: &Site, runs: usize) -> (Vec<u64>, Vec<u64>) {
    let mut gaps = Vec::new();
    let mut hooks = Vec::new();
    for i in 0..runs {
        let app = site.project.read("app/webapp.py");
        site.project.write("app/webapp.py", &format!("{app}\n# bench {i}\n"));
        let out = site
            .project
            .test()
            .args(&["deploy", "prod", "--yes", "--format", "json"])
            .run();
        let events = out.events();
        let at = |batch: u64, status: &str| {
            events
                .iter()
                .find(|e| e["event"] == "batch" && e["batch"] == batch && e["status"] == status)
                .and_then(|e| e["elapsed_ms"].as_u64())
        };
        hooks.extend(
            events
                .iter()
                .filter(|e| {
                    e["event"] == "step" && e["path"].as_str().is_some_and(|p| p.contains(" hook before batch "))
                })
                .filter_map(|e| e["duration_ms"].as_u64()),
        );
        for k in 1..3 {
            if let (Some(passed), Some(next)) = (at(k, "passed"), at(k + 1, "started")) {
                gaps.push(next.saturating_sub(passed));
            }
        }
    }
    gaps.sort_unstable();
    hooks.sort_unstable();
    (gaps, hooks)
}

#[test]
#[ignore = "benchmark: run benches/services.sh"]
fn bench_services() {
    let site = Site::new("supervisord", "");
    site.deploy();
    let mut noop = Vec::new();
    let mut floors = Vec::new();
    for _ in 0..7 {
        floors.push(floor(&site));
        let started = Instant::now();
        site.project
            .test()
            .args(&["deploy", "prod", "--yes"])
            .stdout_contains("nothing to change")
            .run();
        noop.push(started.elapsed());
    }
    let (f, n) = (median(floors), median(noop));
    println!("| hosts | floor | no-op deploy | no-op / floor |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| 5 | {} ms | {} ms | {:.2} |",
        ms(f),
        ms(n),
        n.as_secs_f64() / f.as_secs_f64()
    );
    let (hooked, hook_scripts) = batch_gaps(&site, 3);
    drop(site);
    let plain = Site::with("supervisord", "", false);
    plain.deploy();
    let (bare, _) = batch_gaps(&plain, 3);
    let show = |g: &[u64]| {
        format!(
            "median {} ms, max {} ms over {} batch boundaries",
            g.get(g.len() / 2).copied().unwrap_or(0),
            g.last().copied().unwrap_or(0),
            g.len()
        )
    };
    println!("| per-batch overhead, no hooks | {} |", show(&bare));
    println!("| per-batch gap with the balancer hooks | {} |", show(&hooked));
    println!(
        "| the balancer's script between two batches (after + before hook, nginx reload) | median {} ms |",
        hook_scripts.get(hook_scripts.len() / 2).copied().unwrap_or(0)
    );
}
