//! The SSH benchmark (not a test: `#[ignore]`d, run by `benches/ssh_deploy.sh`, which
//! builds in release mode). Real sshd test hosts on loopback; prints a table of
//! cold, no-op and one-value-changed deploys next to the floor, the time of N
//! parallel fresh `ssh host true` logins, and the round trips per host. The same
//! workload with a wheel uploaded and a virtualenv built from it follows, once
//! through Debian's bundled pip wheel and once through uv, next to a second
//! floor: N parallel `python3 -m venv && pip install --no-index` of that wheel.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::sshd::{Setup, TestHosts};
use crate::support::{Project, Test, wheel};

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
    project_with(SERVICE, hosts, aliases, value)
}

fn project_with(service: &str, hosts: &TestHosts, aliases: &[&str], value: &str) -> Arc<Project> {
    Test::new()
        .service(service)
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
    parallel_ssh(p, aliases, "true")
}

/// Wall time of `command` run on every host at once, each over a fresh login.
fn parallel_ssh(p: &Project, aliases: &[&str], command: &str) -> Duration {
    let started = Instant::now();
    let children: Vec<_> = aliases
        .iter()
        .map(|a| {
            Command::new("ssh")
                .arg("-F")
                .arg(p.path("ssh_config"))
                .arg(a)
                .arg(command)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "{command}");
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
    // libtest prints the test's name without a newline before its output.
    println!();
    println!(
        "| hosts | floor (N parallel `ssh true`) | cold | no-op | one value changed | cold / floor | no-op / floor | change / floor | round trips per host (cold, no-op, change) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for n in [1usize, 5, 10] {
        println!("| {n} | {} |", row(TestHosts::setup(), n));
    }
}

/// The same table for BusyBox hosts (`Setup::busybox`), beside GNU hosts measured
/// in the same run.
#[test]
#[ignore = "benchmark: run benches/ssh_deploy.sh"]
fn bench_ssh_busybox() {
    println!();
    println!(
        "| userland | hosts | floor (N parallel `ssh true`) | cold | no-op | one value changed | cold / floor | no-op / floor | change / floor | round trips per host (cold, no-op, change) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for n in [1usize, 5] {
        println!("| GNU | {n} | {} |", row(TestHosts::setup(), n));
        println!("| BusyBox | {n} | {} |", row(TestHosts::setup().busybox(), n));
    }
}

/// One row of the table (after the host count): floor, medians of cold, no-op and
/// one-change deploys on `n` hosts that `setup` makes, ratios, round trips.
fn row(setup: Setup, n: usize) -> String {
    const RUNS: usize = 7;
    {
        let aliases: Vec<String> = (1..=n).map(|i| format!("b{i}")).collect();
        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let hosts = setup.start(&aliases);
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
        format!(
            "{} ms | {} ms | {} ms | {} ms | {} | {} | {} | {}, {}, {}",
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
        )
    }
}

/// The same workload plus a virtualenv built from one wheel of the project.
fn venv_service() -> String {
    SERVICE.replace(
        "    c.add(command(\"restart\"",
        "    c.add(virtualenv(\"venv\", #{ installer: c.attr(\"installer\", \"auto\"), requirements: [\"ordohello==1.0\"], wheelhouse: \"wheels\" }));\n    c.add(command(\"restart\"",
    )
}

fn clean_homes(hosts: &TestHosts, aliases: &[&str]) {
    for a in aliases {
        let home = hosts.home(a);
        for dir in ["deployment", ".ordo", ".cache"] {
            let _ = std::fs::remove_dir_all(home.join(dir));
        }
    }
}

/// Sets the `installer` attribute of the environment's override.
fn set_installer(p: &Project, installer: &str) {
    let env = p.read("environments/bench.rhai");
    let env = match env.find("installer: ") {
        Some(i) => {
            let end = i + env[i..].find(',').unwrap();
            format!("{}installer: \"{installer}\"{}", &env[..i], &env[end..])
        }
        None => env.replacen("#{ value:", &format!("#{{ installer: \"{installer}\", value:"), 1),
    };
    p.write("environments/bench.rhai", &env);
}

/// Measurements of one kind, each taken next to a floor measured right before it
/// (the machine's load changes during a run; a ratio of neighbours is fairer).
#[derive(Default)]
struct Paired {
    runs: Vec<Duration>,
    floors: Vec<Duration>,
    trips: Vec<u64>,
}

impl Paired {
    fn median(&self) -> Duration {
        median(self.runs.clone())
    }

    fn floor(&self) -> Duration {
        median(self.floors.clone())
    }

    /// The median of the run-to-floor ratios.
    fn ratio(&self) -> f64 {
        let mut r: Vec<f64> = self
            .runs
            .iter()
            .zip(&self.floors)
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    }

    /// The median of run − 1.5 × floor, in ms.
    fn over(&self) -> f64 {
        let mut r: Vec<f64> = self
            .runs
            .iter()
            .zip(&self.floors)
            .map(|(a, b)| (a.as_secs_f64() - 1.5 * b.as_secs_f64()) * 1000.0)
            .collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    }

    fn trips(&self) -> String {
        let (lo, hi) = (self.trips.iter().min().unwrap(), self.trips.iter().max().unwrap());
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}–{hi}")
        }
    }
}

#[test]
#[ignore = "benchmark: run benches/ssh_deploy.sh"]
fn bench_ssh_virtualenv() {
    const RUNS: usize = 5;
    println!();
    println!(
        "| hosts | installer | login floor | venv+pip floor | cold | no-op | one value changed | cold / venv+pip floor | cold − 1.5× login floor | no-op / login floor | change / login floor | round trips (cold, no-op, change) |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for n in [1usize, 5, 10] {
        let aliases: Vec<String> = (1..=n).map(|i| format!("v{i}")).collect();
        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let hosts = TestHosts::start(&aliases);
        let p = project_with(&venv_service(), &hosts, &aliases, "a");
        let whl = wheel::build(&p.path("wheels"), "ordohello", "1.0");
        floor(&p, &aliases);
        // The floor of building the environment the usual way, from the same
        // wheel already on the host.
        for a in &aliases {
            let dir = hosts.home(a).join("floor");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(&whl, dir.join(whl.file_name().unwrap())).unwrap();
            let _ = Command::new("chmod").arg("-R").arg("a+rwX").arg(&dir).status();
        }
        let venv_floor = || {
            parallel_ssh(
                &p,
                &aliases,
                "cd floor && rm -rf v && python3 -m venv v && v/bin/pip install -q --no-index --find-links . ordohello",
            )
        };
        let installers = ["pip", "uv"];
        // Cold deploys: each next to a login floor and a venv+pip floor.
        let mut cold: Vec<Paired> = installers.iter().map(|_| Paired::default()).collect();
        let mut cold_login: Vec<Paired> = installers.iter().map(|_| Paired::default()).collect();
        for _ in 0..RUNS {
            for (k, installer) in installers.iter().enumerate() {
                set_installer(&p, installer);
                clean_homes(&hosts, &aliases);
                let (vf, lf) = (venv_floor(), floor(&p, &aliases));
                let (t, trips) = deploy(&p);
                cold[k].runs.push(t);
                cold[k].floors.push(vf);
                cold[k].trips = trips;
                cold_login[k].runs.push(t);
                cold_login[k].floors.push(lf);
            }
        }
        for (k, installer) in installers.iter().enumerate() {
            set_installer(&p, installer);
            clean_homes(&hosts, &aliases);
            deploy(&p);
            let record =
                std::fs::read_to_string(hosts.home(aliases[0]).join("deployment/bench/venv/.ordo-venv")).unwrap();
            let used = if *installer == "uv" {
                "installer uv"
            } else {
                "installer pip from Debian's bundled wheel"
            };
            assert!(record.contains(used), "{record}");
            let mut noop = Paired::default();
            let mut change = Paired::default();
            for i in 0..RUNS {
                noop.floors.push(floor(&p, &aliases));
                let (t, trips) = deploy(&p);
                noop.runs.push(t);
                noop.trips = trips;
                set_value(&p, if i % 2 == 0 { "b" } else { "a" });
                change.floors.push(floor(&p, &aliases));
                let (t, trips) = deploy(&p);
                change.runs.push(t);
                change.trips = trips;
            }
            set_value(&p, "a");
            println!(
                "| {n} | {installer} | {} ms | {} ms | {} ms | {} ms | {} ms | {:.2} | {:+.0} ms | {:.2} | {:.2} | {}, {}, {} |",
                ms(cold_login[k].floor()),
                ms(cold[k].floor()),
                ms(cold[k].median()),
                ms(noop.median()),
                ms(change.median()),
                cold[k].ratio(),
                cold_login[k].over(),
                noop.ratio(),
                change.ratio(),
                cold[k].trips(),
                noop.trips(),
                change.trips()
            );
        }
    }
}

/// A host's uv for the benchmarks: `/usr/local/bin/uv` (on the test users' PATH)
/// when it is there, else the `UV` environment variable's binary, linked into each
/// host's `~/.local/bin` (where the probe also looks).
fn provide_uv(hosts: &TestHosts, aliases: &[&str]) {
    if std::path::Path::new("/usr/local/bin/uv").is_file() {
        return;
    }
    let uv = std::env::var("UV").expect("no /usr/local/bin/uv: give the path of a uv binary in UV=");
    for a in aliases {
        let bin = hosts.home(a).join(".local/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let _ = std::fs::remove_file(bin.join("uv"));
        std::os::unix::fs::symlink(&uv, bin.join("uv")).unwrap();
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("a+rX")
            .arg(hosts.home(a).join(".local"))
            .status();
    }
}

/// Only a virtualenv per host, so that what its probe costs is not hidden
/// behind the rest of a workload.
fn venv_only(service: &str, installer: &str) -> String {
    format!(
        r#"let s = service("{service}");
s.component("app", |c| {{
    c.add(virtualenv("venv", #{{ installer: "{installer}", requirements: ["ordohello==1.0"], wheelhouse: "wheels" }}));
}});
"#
    )
}

/// No-op deploys of a virtualenv built with uv and one built with pip, on the
/// same hosts, alternating (so both see the same load), each next to a login
/// floor measured right before it.
#[test]
#[ignore = "benchmark: run benches/ssh_deploy.sh"]
fn bench_ssh_virtualenv_noop() {
    const RUNS: usize = 11;
    println!();
    println!("| hosts | login floor | no-op, pip | no-op, uv | uv − pip | pip / floor | uv / floor |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in [1usize, 5, 10] {
        let aliases: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let hosts = TestHosts::start(&aliases);
        provide_uv(&hosts, &aliases);
        let projects: Vec<Arc<Project>> = [("bpip", "pip"), ("buv", "uv")]
            .iter()
            .map(|(service, installer)| {
                let p = Test::new()
                    .service(&venv_only(service, installer))
                    .environment("bench")
                    .ssh_hosts(&hosts, &aliases)
                    .place("app")
                    .build();
                wheel::build(&p.path("wheels"), "ordohello", "1.0");
                deploy(&p);
                let record = std::fs::read_to_string(
                    hosts
                        .home(aliases[0])
                        .join(format!("deployment/{service}/venv/.ordo-venv")),
                )
                .unwrap();
                assert!(record.contains(&format!("installer {installer}")), "{record}");
                p
            })
            .collect();
        floor(&projects[0], &aliases);
        let mut pip = Paired::default();
        let mut uv = Paired::default();
        for _ in 0..RUNS {
            for (k, p) in projects.iter().enumerate() {
                let f = floor(p, &aliases);
                let started = Instant::now();
                let out = p.test().args(&["deploy", "bench", "--yes"]).run();
                let t = started.elapsed();
                assert!(out.stdout.contains("nothing to change"), "{}", out.stdout);
                let m = if k == 0 { &mut pip } else { &mut uv };
                m.runs.push(t);
                m.floors.push(f);
            }
        }
        println!(
            "| {n} | {} ms | {} ms | {} ms | {:+.0} ms | {:.2} | {:.2} |",
            ms(median([pip.floors.clone(), uv.floors.clone()].concat())),
            ms(pip.median()),
            ms(uv.median()),
            (uv.median().as_secs_f64() - pip.median().as_secs_f64()) * 1000.0,
            pip.ratio(),
            uv.ratio()
        );
    }
}

/// Processes a deploy starts on a host (every successful `execve` under the host's
/// sshd: its session, the login shell, the scripts and their tools), for the first
/// workload on one GNU and one BusyBox host: deterministic where wall times on a
/// shared machine are not.
#[test]
#[ignore = "benchmark: run benches/ssh_deploy.sh"]
fn bench_ssh_processes() {
    println!();
    println!("| userland | cold | no-op | one value changed |");
    println!("|---|---:|---:|---:|");
    for (name, setup) in [("GNU", TestHosts::setup()), ("BusyBox", TestHosts::setup().busybox())] {
        let hosts = setup.start(&["b1"]);
        let p = project(&hosts, &["b1"], "a");
        let mut counts = Vec::new();
        for value in ["a", "a", "b"] {
            set_value(&p, value);
            let log = p.path("execve.log");
            let mut strace = Command::new("strace")
                .args(["-f", "-qq", "-e", "trace=execve", "-e", "status=successful", "-o"])
                .arg(&log)
                .arg("-p")
                .arg(hosts.sshd_pid("b1").to_string())
                .stderr(Stdio::null())
                .spawn()
                .expect("strace (apt-get install strace)");
            std::thread::sleep(Duration::from_millis(500));
            deploy(&p);
            std::thread::sleep(Duration::from_millis(1500));
            let _ = Command::new("kill").arg(strace.id().to_string()).status();
            let _ = strace.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            counts.push(text.lines().filter(|l| l.contains("execve(")).count());
        }
        println!("| {name} | {} | {} | {} |", counts[0], counts[1], counts[2]);
    }
}
