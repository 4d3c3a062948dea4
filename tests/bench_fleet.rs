//! The fleet benchmark (not a test: `#[ignore]`d, run by `benches/fleet.sh`, which
//! builds in release mode). One real sshd and one user per host on loopback, the
//! SSH benchmark's workload plus a 0600 file and a virtualenv (uv), on 10, 50 and
//! 200 hosts (`ORDO_BENCH_FLEET=10,50,200,500` for more). For each size: the
//! parallel login floor (N fresh `ssh host true` at once) and no-op and one-change
//! deploys, alternating with it; the peak memory of the controller (ordo and every
//! ssh process of its run: proportional set size, PSS, sampled from
//! `/proc/<pid>/smaps_rollup`, next to the summed RSS that counts shared libraries
//! once per process), the most ssh processes and descriptors ordo had at once, and
//! the logins per host (sshd's "Accepted publickey" lines). With
//! `ORDO_BENCH_BASELINE=<an older ordo binary>`, that binary is measured in the
//! same runs, alternating with this one, on the same hosts.

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
    /// CPU of ordo and the children it waited for (from the bench's own
    /// `cutime`/`cstime` once ordo is reaped).
    cpu_ordo: Duration,
    /// CPU of the run's ssh masters (daemonized, so nobody reaps them into a
    /// parent's account): the last value sampled for each, when sampled.
    cpu_ssh: Duration,
    /// Peak PSS of ordo and its ssh processes, KiB.
    pss_kib: u64,
    /// Summed RSS at the same sample, KiB.
    rss_kib: u64,
    /// Peak PSS of the ordo process alone, KiB.
    ordo_kib: u64,
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
            let mut ssh_cpu: HashMap<u32, u64> = HashMap::new();
            while !flag.load(Ordering::Relaxed) {
                let (now, cpu) = sample(pid);
                if now.pss_kib > peak.pss_kib {
                    peak.pss_kib = now.pss_kib;
                    peak.rss_kib = now.rss_kib;
                }
                peak.ssh = peak.ssh.max(now.ssh);
                peak.fds = peak.fds.max(now.fds);
                peak.ordo_kib = peak.ordo_kib.max(now.ordo_kib);
                ssh_cpu.extend(cpu);
                std::thread::sleep(Duration::from_millis(50));
            }
            peak.cpu_ssh = ticks(ssh_cpu.values().sum());
            peak
        });
        Sampler { stop, thread }
    }

    fn finish(self) -> Cost {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler")
    }
}

/// CPU ticks as time (`getconf CLK_TCK`, 100 on Linux).
fn ticks(n: u64) -> Duration {
    static HZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let hz = *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    });
    Duration::from_secs_f64(n as f64 / hz as f64)
}

/// Fields of `/proc/<pid>/stat` after the command's name (the state is field 0).
fn stat_fields(pid: &str) -> Vec<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(1)
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default()
}

/// CPU of the children this process has waited for (cutime + cstime).
fn children_cpu() -> Duration {
    let f = stat_fields("self");
    ticks(f.get(12).copied().unwrap_or(0) + f.get(13).copied().unwrap_or(0))
}

/// One look at ordo (`pid`), its descendants, and the ssh masters of its run (they
/// daemonize, so they are found by their control socket: `…/ordo-<pid>-…`); and
/// the CPU ticks each ssh process of the run has used so far.
fn sample(pid: u32) -> (Cost, Vec<(u32, u64)>) {
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
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
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
    let mut cpu = Vec::new();
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
            // utime + stime (fields 14 and 15; 11 and 12 after the name and state).
            let f = stat_fields(&p.to_string());
            cpu.push((p, f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0)));
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
                if p == pid {
                    cost.ordo_kib = kib(line);
                }
            } else if line.starts_with("Rss:") {
                cost.rss_kib += kib(line);
            }
        }
    }
    cost.fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    (cost, cpu)
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

/// One `ordo deploy bench --yes` by the binary `ordo`, sampled when `sampled`.
fn deploy(ordo: &Path, p: &Project, extra: &[&str], sampled: bool) -> Cost {
    let started = Instant::now();
    let cpu_before = children_cpu();
    let mut child = Command::new(ordo)
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
    cost.cpu_ordo = children_cpu().saturating_sub(cpu_before);
    assert!(status.success(), "ordo failed:\n{}\n{}", out.0, out.1);
    cost
}

/// N fresh `ssh host true` at once: the wall time, and the CPU of the ssh clients.
fn floor_cpu(p: &Project, aliases: &[&str]) -> (Duration, Duration) {
    let cpu = children_cpu();
    let wall = floor(p, aliases);
    (wall, children_cpu().saturating_sub(cpu))
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
    assert!(
        Path::new("/usr/local/bin/uv").is_file(),
        "the workload needs uv in /usr/local/bin"
    );
    println!();
    println!(
        "| hosts | load (start–end) | login floor | no-op | no-op / floor | one change | change / floor | cold | peak PSS no-op (summed RSS) | peak PSS change (summed RSS) | peak PSS cold | ordo alone, peak PSS (no-op, change) | ssh processes at once (no-op, change) | ordo descriptors at once (no-op, change) | logins per host (no-op, change) |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|");
    let mut cpu_rows = Vec::new();
    let mut binaries = vec![("this", std::path::PathBuf::from(env!("CARGO_BIN_EXE_ordo")))];
    if let Ok(base) = std::env::var("ORDO_BENCH_BASELINE") {
        binaries.push(("baseline", base.into()));
    }
    for n in sizes {
        let aliases: Vec<String> = (1..=n).map(|i| format!("f{i:04}")).collect();
        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let hosts = TestHosts::start(&aliases);
        let p = project(&hosts, &aliases);
        let load_start = loadavg();
        floor(&p, &aliases); // warm up sshd and the page cache
        let mut colds = Vec::new();
        for (_, ordo) in &binaries {
            for a in &aliases {
                let home = hosts.home(a);
                for dir in ["deployment", ".ordo", ".cache"] {
                    let _ = std::fs::remove_dir_all(home.join(dir));
                }
            }
            colds.push(deploy(ordo, &p, &extra, true));
        }
        let mut floors = Vec::new();
        let mut login_cpu = Vec::new();
        let mut noops = vec![Vec::new(); binaries.len()];
        let mut changes = vec![Vec::new(); binaries.len()];
        let mut noop_logins = vec![0; binaries.len()];
        let mut change_logins = vec![0; binaries.len()];
        let mut value = "a";
        for _ in 0..runs {
            let (wall, cpu) = floor_cpu(&p, &aliases);
            floors.push(wall);
            login_cpu.push(cpu);
            for (k, (_, ordo)) in binaries.iter().enumerate() {
                let before = logins(&hosts, &aliases);
                noops[k].push(deploy(ordo, &p, &extra, false));
                noop_logins[k] = logins(&hosts, &aliases) - before;
                value = if value == "a" { "b" } else { "a" };
                set_value(&p, value);
                let before = logins(&hosts, &aliases);
                changes[k].push(deploy(ordo, &p, &extra, false));
                change_logins[k] = logins(&hosts, &aliases) - before;
            }
        }
        let load_end = loadavg();
        for (k, (name, ordo)) in binaries.iter().enumerate() {
            // Memory from runs of their own: sampling costs CPU, so they are not timed.
            let noop_mem = deploy(ordo, &p, &extra, true);
            value = if value == "a" { "b" } else { "a" };
            set_value(&p, value);
            let change_mem = deploy(ordo, &p, &extra, true);
            let ratio = |costs: &[Cost]| {
                median(
                    costs
                        .iter()
                        .zip(&floors)
                        .map(|(c, f)| c.wall.as_secs_f64() / f.as_secs_f64())
                        .collect(),
                )
            };
            let label = if binaries.len() > 1 {
                format!("{n} ({name})")
            } else {
                n.to_string()
            };
            let per_host = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0 / n as f64);
            cpu_rows.push(format!(
                "| {label} | {} | {} | {} | {} | {} |",
                per_host(median(login_cpu.clone())),
                per_host(median(noops[k].iter().map(|c| c.cpu_ordo).collect())),
                per_host(median(changes[k].iter().map(|c| c.cpu_ordo).collect())),
                per_host(noop_mem.cpu_ssh),
                per_host(change_mem.cpu_ssh),
            ));
            println!(
                "| {label} | {load_start}–{load_end} | {} ms | {} ms | {:.2} | {} ms | {:.2} | {} ms | {} MiB ({} MiB) | {} MiB ({} MiB) | {} MiB | {}, {} MiB | {}, {} | {}, {} | {:.1}, {:.1} |",
                ms(median(floors.clone())),
                ms(median(noops[k].iter().map(|c| c.wall).collect())),
                ratio(&noops[k]),
                ms(median(changes[k].iter().map(|c| c.wall).collect())),
                ratio(&changes[k]),
                ms(colds[k].wall),
                mib(noop_mem.pss_kib),
                mib(noop_mem.rss_kib),
                mib(change_mem.pss_kib),
                mib(change_mem.rss_kib),
                mib(colds[k].pss_kib),
                mib(noop_mem.ordo_kib),
                mib(change_mem.ordo_kib),
                noop_mem.ssh,
                change_mem.ssh,
                noop_mem.fds,
                change_mem.fds,
                noop_logins[k] as f64 / n as f64,
                change_logins[k] as f64 / n as f64,
            );
        }
    }
    println!();
    println!(
        "| hosts | CPU per login, ssh client (ms per host) | ordo no-op (ms per host) | ordo one change (ms per host) | ssh masters no-op (ms per host) | ssh masters one change (ms per host) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for row in cpu_rows {
        println!("{row}");
    }
}
