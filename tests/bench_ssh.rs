//! The SSH benchmark (not a test: `#[ignore]`d, run by `benches/ssh_deploy.sh`, which
//! builds in release mode). Real sshd test hosts on loopback; prints a table of
//! cold, no-op and one-value-changed deploys next to the floor, the time of N
//! parallel fresh `ssh host true` logins, and the round trips per host.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::sshd::TestHosts;
use crate::support::{Project, Test};

const SERVICE: &str = r#"let s = service("bench");
s.component("app", |c| {
    let value = c.attr("value", "a");
    c.add(directory("etc"));
    c.add(directory("etc/conf.d"));
    c.add(directory("var"));
    c.add(directory("var/log", #{ mode: 0o750 }));
    let confs = [];
    confs.push(c.add(template("etc/app.conf", "templates/app.conf", #{ value: value })));
    for i in 0..49 {
        confs.push(c.add(template(`etc/conf.d/${i}.conf`, "templates/part.conf", #{ index: i })));
    }
    for i in 0..5 {
        c.add(symlink(`link${i}`, `etc/conf.d/${i}.conf`));
    }
    c.add(command("restart", #{ run: "date +%s%N >> var/log/restarts", on_change: confs }));
});
"#;

fn project(hosts: &TestHosts, aliases: &[&str], value: &str) -> Arc<Project> {
    Test::new()
        .service(SERVICE)
        .environment("bench")
        .override_("app", &format!("#{{ value: \"{value}\" }}"))
        .ssh_hosts(hosts, aliases)
        .place("app")
        .file("templates/app.conf", "# {{ host.name }}\nvalue = {{ value }}\n")
        .file(
            "templates/part.conf",
            "# part {{ index }} of {{ host.name }}\nport = {{ 9000 + index }}\nuser = {{ host.user }}\n",
        )
        .build()
}

fn set_value(p: &Project, value: &str) {
    let env = p.read("environments/bench.rhai");
    let start = env.find("value: \"").unwrap() + 8;
    let end = start + env[start..].find('"').unwrap();
    p.write(
        "environments/bench.rhai",
        &format!("{}{value}{}", &env[..start], &env[end..]),
    );
}

/// Wall time of one deploy and the round trips of each host.
fn deploy(p: &Arc<Project>) -> (Duration, Vec<u64>) {
    let started = Instant::now();
    let out = p.test().args(&["deploy", "bench", "--yes", "--format", "json"]).run();
    let elapsed = started.elapsed();
    let trips = out
        .events()
        .iter()
        .filter(|e| e["event"] == "host_done")
        .map(|e| e["round_trips"].as_u64().unwrap())
        .collect();
    (elapsed, trips)
}

fn floor(p: &Project, aliases: &[&str]) -> Duration {
    let started = Instant::now();
    let children: Vec<_> = aliases
        .iter()
        .map(|a| {
            Command::new("ssh")
                .arg("-F")
                .arg(p.path("ssh_config"))
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

#[test]
#[ignore = "benchmark: run benches/ssh_deploy.sh"]
fn bench_ssh() {
    const RUNS: usize = 7;
    println!(
        "| hosts | floor (N parallel `ssh true`) | cold | no-op | one value changed | cold / floor | no-op / floor | change / floor | round trips per host (cold, no-op, change) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for n in [1usize, 5, 10] {
        let aliases: Vec<String> = (1..=n).map(|i| format!("b{i}")).collect();
        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let hosts = TestHosts::start(&aliases);
        let p = project(&hosts, &aliases, "a");
        floor(&p, &aliases); // warm up sshd and the page cache
        let floor = median((0..RUNS).map(|_| floor(&p, &aliases)).collect());

        let mut cold = Vec::new();
        let mut cold_trips = Vec::new();
        for _ in 0..RUNS {
            for a in &aliases {
                let home = hosts.home(a);
                let _ = std::fs::remove_dir_all(home.join("deployment"));
                let _ = std::fs::remove_dir_all(home.join(".ordo"));
            }
            let (t, trips) = deploy(&p);
            cold.push(t);
            cold_trips = trips;
        }
        let mut noop = Vec::new();
        let mut noop_trips = Vec::new();
        for _ in 0..RUNS {
            let (t, trips) = deploy(&p);
            noop.push(t);
            noop_trips = trips;
        }
        let mut change = Vec::new();
        let mut change_trips = Vec::new();
        for i in 0..RUNS {
            set_value(&p, if i % 2 == 0 { "b" } else { "a" });
            let (t, trips) = deploy(&p);
            change.push(t);
            change_trips = trips;
        }
        let restarts =
            std::fs::read_to_string(hosts.home(aliases[0]).join("deployment/bench/var/log/restarts")).unwrap();
        assert_eq!(
            restarts.lines().count(),
            1 + RUNS,
            "restart ran on the first cold deploy and each change"
        );
        let (cold, noop, change) = (median(cold), median(noop), median(change));
        let ratio = |d: Duration| format!("{:.2}", d.as_secs_f64() / floor.as_secs_f64());
        let trips = |t: &[u64]| {
            let (lo, hi) = (t.iter().min().unwrap(), t.iter().max().unwrap());
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}–{hi}")
            }
        };
        println!(
            "| {n} | {} ms | {} ms | {} ms | {} ms | {} | {} | {} | {}, {}, {} |",
            ms(floor),
            ms(cold),
            ms(noop),
            ms(change),
            ratio(cold),
            ratio(noop),
            ratio(change),
            trips(&cold_trips),
            trips(&noop_trips),
            trips(&change_trips)
        );
    }
}
