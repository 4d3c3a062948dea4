//! The many-files benchmark (not a test: `#[ignore]`d, run by
//! `benches/many_files.sh`, which builds in release mode): a host with 1,000,
//! 5,000 and 20,000 managed files, local and over SSH. Prints the time and peak
//! memory of a no-op `ordo plan` (everything up to date) and of the first deploy,
//! as a Markdown table.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::sshd::TestHosts;
use crate::support::{Project, Test};

/// N files in directories of 100, with paths of a realistic length.
fn service(n: usize) -> String {
    format!(
        "let s = service(\"bench\");\ns.component(\"files\", |c| {{\n    for i in 0..{n} {{\n        \
         c.add(file(`srv/static/assets/group-${{i / 100}}/asset-number-${{i}}.conf`, `asset ${{i}}\\n`));\n    }}\n}});\n"
    )
}

/// Wall time and peak RSS (KiB) of `ordo ARGS` in the project.
fn measure(p: &Project, args: &[&str]) -> (Duration, u64) {
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(env!("CARGO_BIN_EXE_ordo"))
        .args(args)
        .current_dir(p.root())
        .env("NO_COLOR", "1")
        .output()
        .expect("/usr/bin/time (apt-get install time)");
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (elapsed, rss)
}

fn median(mut v: Vec<(Duration, u64)>) -> (Duration, u64) {
    v.sort();
    v[v.len() / 2]
}

fn row(kind: &str, n: usize, p: &Arc<Project>) -> Duration {
    let (cold, cold_rss) = measure(p, &["deploy", "bench", "--yes"]);
    let (plan, rss) = median((0..3).map(|_| measure(p, &["plan", "bench"])).collect());
    println!(
        "| {kind} | {n} | {:.2} s | {} MiB | {:.2} s | {} MiB |",
        cold.as_secs_f64(),
        cold_rss / 1024,
        plan.as_secs_f64(),
        rss / 1024
    );
    plan
}

#[test]
#[ignore = "benchmark: run benches/many_files.sh"]
fn bench_many_files() {
    println!("| host | files | first deploy | its peak memory | no-op plan | its peak memory |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut local = Vec::new();
    for n in [1_000, 5_000, 20_000] {
        let p = Test::new()
            .service(&service(n))
            .environment("bench")
            .local_host("h")
            .place("files")
            .build();
        local.push(row("local", n, &p));
    }
    let hosts = TestHosts::start(&["m1"]);
    let mut ssh = Vec::new();
    for n in [1_000, 5_000, 20_000] {
        let _ = std::fs::remove_dir_all(hosts.home("m1").join("deployment"));
        let _ = std::fs::remove_dir_all(hosts.home("m1").join(".ordo"));
        let p = Test::new()
            .service(&service(n))
            .environment("bench")
            .ssh_hosts(&hosts, &["m1"])
            .place("files")
            .build();
        ssh.push(row("ssh", n, &p));
    }
    for (kind, t) in [("local", &local), ("ssh", &ssh)] {
        println!(
            "\n{kind}: 20k / 5k no-op plan = {:.2} (linear is 4; the target is at most 4.5)",
            t[2].as_secs_f64() / t[1].as_secs_f64()
        );
    }
}
