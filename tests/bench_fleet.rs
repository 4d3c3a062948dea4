//! The fleet benchmark (not a test: `#[ignore]`d, run by `benches/fleet.sh`, which
//! builds in release mode). One real sshd and one user per host on loopback, the
//! SSH benchmark's workload plus a 0600 file and a virtualenv (uv), on 10, 50 and
//! 200 hosts (`ORDO_BENCH_FLEET=10,50,200,500` for more). For each size: the
//! parallel login floor (N fresh `ssh host true` at once) and no-op and one-change
//! deploys, alternating with it; the peak memory of the controller (ordo and every
//! ssh process of its run: proportional set size, PSS, sampled from
//! `/proc/<pid>/smaps_rollup`, next to the summed RSS that counts shared libraries
//! once per process), the most ssh processes and descriptors ordo had at once, and
//! the logins per host (sshd's "Accepted publickey" lines).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::sshd::TestHosts;
use crate::support::{Project, Test, wheel};

const SERVICE: &str = r#"let s = service("fleet");
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
    confs.push(c.add(file("etc/token", #{ content: "not a secret, but private\n", mode: 0o600 })));
    for i in 0..5 {
        c.add(symlink(`link${i}`, `etc/conf.d/${i}.conf`));
    }
    c.add(virtualenv("venv", #{ installer: "uv", requirements: ["ordohello==1.0"], wheelhouse: "wheels" }));
    c.add(command("restart", #{ run: "date +%s%N >> var/log/restarts", on_change: confs }));
});
"#;

/// What one run of ordo cost the controller.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    wall: Duration,
    /// Peak PSS of ordo and its ssh processes, KiB.
    pss_kib: u64,
    /// Summed RSS at the same sample, KiB.
    rss_kib: u64,
    /// The most ssh processes of the run alive at once.
    ssh: usize,
    /// The most descriptors ordo had open at once.
    fds: usize,
}

/// Samples the controller's processes of one ordo run until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Cost>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = Cost::default();
            while !flag.load(Ordering::Relaxed) {
                let now = sample(pid);
                if now.pss_kib > peak.pss_kib {
                    peak.pss_kib = now.pss_kib;
                    peak.rss_kib = now.rss_kib;
                }
                peak.ssh = peak.ssh.max(now.ssh);
                peak.fds = peak.fds.max(now.fds);
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        });
        Sampler { stop, thread }
    }

    fn finish(self) -> Cost {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler")
    }
}

/// One look at ordo (`pid`), its descendants, and the ssh masters of its run (they
/// daemonize, so they are found by their control socket: `…/ordo-<pid>-…`).
fn sample(pid: u32) -> Cost {
    let needle = format!("/ordo-{pid}-");
    let mut parents: HashMap<u32, u32> = HashMap::new();
    let mut of_run: Vec<(u32, bool)> = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let comm = head.split_once('(').map_or("", |(_, c)| c);
        let ppid = rest.split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
        parents.insert(p, ppid);
        let is_ssh = comm == "ssh";
        if is_ssh {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains(&needle) {
                of_run.push((p, true));
                continue;
            }
        }
        of_run.push((p, is_ssh));
    }
    let descends = |mut p: u32| {
        for _ in 0..64 {
            if p == pid {
                return true;
            }
            match parents.get(&p) {
                Some(&q) if q != 0 && q != p => p = q,
                _ => return false,
            }
        }
        false
    };
    let mut cost = Cost::default();
    for (p, is_ssh) in of_run {
        let cmd_match = is_ssh && {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmd).contains(&needle)
        };
        if !(cmd_match || descends(p)) {
            continue;
        }
        if is_ssh {
            cost.ssh += 1;
        }
        let rollup = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default();
        for line in rollup.lines() {
            let kib = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|x| x.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            if line.starts_with("Pss:") {
                cost.pss_kib += kib(line);
            } else if line.starts_with("Rss:") {
                cost.rss_kib += kib(line);
            }
        }
    }
    cost.fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    cost
}

fn project(hosts: &TestHosts, aliases: &[&str]) -> Arc<Project> {
    let p = Test::new()
        .service(SERVICE)
        .environment("bench")
        .override_("app", "#{ value: \"a\" }")
        .ssh_hosts(hosts, aliases)
        .place("app")
        .file("templates/app.conf", "# {{ host.name }}\nvalue = {{ value }}\n")
        .file(
            "templates/part.conf",
            "# part {{ index }} of {{ host.name }}\nport = {{ 9000 + index }}\nuser = {{ host.user }}\n",
        )
        .build();
    wheel::build(&p.path("wheels"), "ordohello", "1.0");
    p
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

/// One `ordo deploy bench --yes`, sampled when `sampled`.
fn deploy(p: &Project, extra: &[&str], sampled: bool) -> Cost {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["deploy", "bench", "--yes", "--format", "json"])
        .args(extra)
        .current_dir(p.root())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("ORDO_ACCEPT_NEW_HOST_KEYS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ordo");
    let sampler = sampled.then(|| Sampler::start(child.id()));
    // Read the output while it runs: a full pipe would stall ordo.
    let out = std::thread::scope(|s| {
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let o = s.spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
        let e = s.spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
        (o.join().unwrap(), e.join().unwrap())
    });
    let status = child.wait().expect("wait for ordo");
    let mut cost = sampler.map(Sampler::finish).unwrap_or_default();
    cost.wall = started.elapsed();
    assert!(status.success(), "ordo failed:\n{}\n{}", out.0, out.1);
    cost
}

/// N fresh `ssh host true` at once.
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
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "ssh true");
    }
    started.elapsed()
}

/// Logins accepted by the hosts' sshds so far.
fn logins(hosts: &TestHosts, aliases: &[&str]) -> usize {
    aliases
        .iter()
        .map(|a| hosts.sshd_log(a).matches("Accepted publickey").count())
        .sum()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.0}", kib as f64 / 1024.0)
}

#[test]
#[ignore = "benchmark: run benches/fleet.sh"]
fn bench_fleet() {
    let sizes: Vec<usize> = std::env::var("ORDO_BENCH_FLEET")
        .unwrap_or_else(|_| "10,50,200".into())
        .split(',')
        .map(|s| s.trim().parse().expect("ORDO_BENCH_FLEET: numbers"))
        .collect();
    let runs: usize = std::env::var("ORDO_BENCH_RUNS").map_or(5, |r| r.parse().expect("ORDO_BENCH_RUNS"));
    let jobs = std::env::var("ORDO_BENCH_JOBS").ok();
    let extra: Vec<&str> = jobs.as_deref().map_or_else(Vec::new, |j| vec!["--jobs", j]);
    assert!(Path::new("/usr/local/bin/uv").is_file(), "the workload needs uv in /usr/local/bin");
    println!();
    println!(
        "| hosts | load (start–end) | login floor | no-op | no-op / floor | one change | change / floor | cold | peak PSS no-op (summed RSS) | peak PSS change (summed RSS) | peak PSS cold | ssh processes at once (no-op, change) | ordo descriptors at once (no-op, change) | logins per host (no-op, change) |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|");
    for n in sizes {
        let aliases: Vec<String> = (1..=n).map(|i| format!("f{i:04}")).collect();
        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let hosts = TestHosts::start(&aliases);
        let p = project(&hosts, &aliases);
        let load_start = loadavg();
        floor(&p, &aliases); // warm up sshd and the page cache
        let cold = deploy(&p, &extra, true);
        let mut floors = Vec::new();
        let mut noops = Vec::new();
        let mut changes = Vec::new();
        let (mut noop_logins, mut change_logins) = (0, 0);
        for i in 0..runs {
            floors.push(floor(&p, &aliases));
            let before = logins(&hosts, &aliases);
            noops.push(deploy(&p, &extra, false));
            noop_logins = logins(&hosts, &aliases) - before;
            set_value(&p, if i % 2 == 0 { "b" } else { "a" });
            let before = logins(&hosts, &aliases);
            changes.push(deploy(&p, &extra, false));
            change_logins = logins(&hosts, &aliases) - before;
        }
        // Memory from runs of their own: sampling costs CPU, so they are not timed.
        let noop_mem = deploy(&p, &extra, true);
        set_value(&p, if runs % 2 == 0 { "b" } else { "a" });
        let change_mem = deploy(&p, &extra, true);
        let ratio = |costs: &[Cost]| {
            median(
                costs
                    .iter()
                    .zip(&floors)
                    .map(|(c, f)| c.wall.as_secs_f64() / f.as_secs_f64())
                    .collect(),
            )
        };
        println!(
            "| {n} | {load_start}–{} | {} ms | {} ms | {:.2} | {} ms | {:.2} | {} ms | {} MiB ({} MiB) | {} MiB ({} MiB) | {} MiB | {}, {} | {}, {} | {:.1}, {:.1} |",
            loadavg(),
            ms(median(floors.clone())),
            ms(median(noops.iter().map(|c| c.wall).collect())),
            ratio(&noops),
            ms(median(changes.iter().map(|c| c.wall).collect())),
            ratio(&changes),
            ms(cold.wall),
            mib(noop_mem.pss_kib),
            mib(noop_mem.rss_kib),
            mib(change_mem.pss_kib),
            mib(change_mem.rss_kib),
            mib(cold.pss_kib),
            noop_mem.ssh,
            change_mem.ssh,
            noop_mem.fds,
            change_mem.fds,
            noop_logins as f64 / n as f64,
            change_logins as f64 / n as f64,
        );
    }
}
