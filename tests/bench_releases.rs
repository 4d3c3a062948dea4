//! The releases benchmark (not a test: `#[ignore]`d, run by `benches/releases.sh`,
//! which builds in release mode). A pyapp (one wheel, one configuration file, an
//! HTTP health check) on 1, 5 and 10 real sshd test hosts on loopback:
//!
//! - a rollback to a kept release (`ordo deploy` of the version before, still on
//!   the hosts: a switch and a restart) next to its floor — N parallel fresh `ssh
//!   host true` logins plus the program's own restart (N apps stopped with
//!   SIGTERM and started from their release's virtualenv at once, until each
//!   answers its health check), measured right before it;
//! - the deploy of a new version as a new release (a virtualenv built beside the
//!   running one, a switch, a restart) against the same app deployed in place
//!   (today's pyapp without `version`: the virtualenv updated, a restart), with
//!   uv and with pip.
//!
//! The rollback is measured under the plain process backend (ordo's own
//! restart, comparable with the floor's) and under supervisord (what `auto`
//! picks where it is installed: `supervisorctl` is a Python start of its own).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::releases::app_wheel;
use crate::support::processes::get;
use crate::support::sshd::{TestHosts, closed_port};
use crate::support::{Project, Test};

/// The app, under `backend`, its virtualenv built with `installer`; the version
/// is an attribute; releases with `releases`.
fn service(releases: bool, backend: &str, installer: &str) -> String {
    let version = if releases {
        "version: c.attr(\"version\", \"1.0\"), keep: 2,"
    } else {
        ""
    };
    format!(
        r#"import "ordo/pyapp" as pyapp;
let s = service("bench");
s.component("web", |c| {{
    let port = c.attr("port", 0);
    pyapp::app(c, #{{
        name: "relweb",
        requirements: [`relweb==${{c.attr("version", "1.0")}}`],
        wheelhouse: "wheels",
        run_module: "relweb",
        args: [`${{port}}`],
        port: port,
        health: "/health",
        config: #{{ "relweb.ini": "[relweb]\nworkers = 2\n" }},
        backend: "{backend}",
        installer: "{installer}",
        {version}
    }});
}});
"#
    )
}

struct Bench {
    hosts: TestHosts,
    aliases: Vec<String>,
    ports: Vec<u16>,
    project: Arc<Project>,
}

impl Bench {
    fn new(n: usize, prefix: &str, service: &str, versions: &[String]) -> Bench {
        let aliases: Vec<String> = (1..=n).map(|i| format!("{prefix}{i}")).collect();
        let names: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let hosts = TestHosts::start(&names);
        let ports: Vec<u16> = aliases.iter().map(|_| closed_port()).collect();
        let mut t = Test::new()
            .service(service)
            .environment("bench")
            .override_("web", "#{ version: \"1.0\" }");
        for (a, port) in aliases.iter().zip(&ports) {
            t = t
                .ssh_hosts(&hosts, &[a.as_str()])
                .place_with("web", &format!("#{{ port: {port} }}"));
        }
        let project = t.build();
        for v in versions {
            app_wheel(&project.path("wheels"), v);
        }
        Bench {
            hosts,
            aliases,
            ports,
            project,
        }
    }

    fn set_version(&self, v: &str) {
        let env = self.project.read("environments/bench.rhai");
        let at = env.find("version: \"").unwrap() + "version: \"".len();
        let end = at + env[at..].find('"').unwrap();
        self.project
            .write("environments/bench.rhai", &format!("{}{v}{}", &env[..at], &env[end..]));
    }

    /// Wall time of one deploy; its output must contain `want`.
    fn deploy(&self, want: &str) -> Duration {
        let started = Instant::now();
        let out = self.project.test().args(&["deploy", "bench", "--yes"]).run();
        let t = started.elapsed();
        assert!(out.stdout.contains(want), "{want}: {}", out.stdout);
        t
    }

    /// N parallel fresh logins.
    fn login_floor(&self) -> Duration {
        let started = Instant::now();
        let children: Vec<Child> = self
            .aliases
            .iter()
            .map(|a| {
                Command::new("ssh")
                    .arg("-F")
                    .arg(self.project.path("ssh_config"))
                    .arg(a)
                    .arg("true")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        started.elapsed()
    }

    /// The program's own restart, N at once: apps of `version`'s release
    /// running on spare ports are stopped (SIGTERM, until they exited) and
    /// started again, until each answers `/health`.
    fn restart_floor(&self, version: &str) -> Duration {
        let python = |a: &str| {
            self.hosts
                .home(a)
                .join(format!("deployment/bench/relweb/releases/{version}/venv/bin/python"))
        };
        let ports: Vec<u16> = self.aliases.iter().map(|_| closed_port()).collect();
        let start = |i: usize| -> Child {
            Command::new(python(&self.aliases[i]))
                .args(["-m", "relweb", &ports[i].to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let healthy = |i: usize| {
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if matches!(get(ports[i], "/health"), Ok((200, _))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            panic!("the app did not start on port {}", ports[i]);
        };
        let n = self.aliases.len();
        let mut old: Vec<Child> = (0..n).map(start).collect();
        (0..n).for_each(healthy);
        let started = Instant::now();
        for c in &old {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        }
        for c in &mut old {
            let _ = c.wait();
        }
        let mut new: Vec<Child> = (0..n).map(start).collect();
        (0..n).for_each(healthy);
        let t = started.elapsed();
        for c in &mut new {
            let _ = c.kill();
            let _ = c.wait();
        }
        t
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// The load average over the last minute, for the table's caption.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

#[test]
#[ignore = "benchmark: run benches/releases.sh"]
fn bench_release_rollback() {
    const RUNS: usize = 7;
    println!();
    println!(
        "| hosts | backend | login floor | restart floor | floor sum | rollback to a kept release | rollback / floor sum | load |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    for n in [1usize, 5, 10] {
        for backend in ["process", "supervisord"] {
            let versions = ["1.0".to_string(), "2.0".to_string()];
            let b = Bench::new(n, "k", &service(true, backend, "auto"), &versions);
            b.deploy("activate 1.0: build");
            b.set_version("2.0");
            b.deploy("activate 2.0: build");
            b.login_floor();
            let (mut runs, mut logins, mut restarts, mut ratios) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for i in 0..RUNS {
                let v = if i % 2 == 0 { "1.0" } else { "2.0" };
                let login = b.login_floor();
                let restart = b.restart_floor(v);
                b.set_version(v);
                let t = b.deploy(&format!("switch to kept release {v}"));
                ratios.push(t.as_secs_f64() / (login + restart).as_secs_f64());
                runs.push(t);
                logins.push(login);
                restarts.push(restart);
            }
            let (login, restart) = (median(logins), median(restarts));
            println!(
                "| {n} | {backend} | {} ms | {} ms | {} ms | {} ms | {:.2} | {} |",
                ms(login),
                ms(restart),
                ms(login + restart),
                ms(median(runs)),
                median_f(ratios),
                load()
            );
            for (a, port) in b.aliases.iter().zip(&b.ports) {
                assert!(matches!(get(*port, "/"), Ok((200, _))), "{a} serves");
            }
        }
    }
}

#[test]
#[ignore = "benchmark: run benches/releases.sh"]
fn bench_release_new_version() {
    const RUNS: usize = 5;
    println!();
    println!(
        "| hosts | installer | login floor | in place: new version | releases: new version | releases / in place | load |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for n in [1usize, 5, 10] {
        for installer in ["uv", "pip"] {
            let versions: Vec<String> = (0..=RUNS).map(|i| format!("1.{i}")).collect();
            let in_place = Bench::new(n, "p", &service(false, "process", installer), &versions);
            let releases = Bench::new(n, "r", &service(true, "process", installer), &versions);
            for b in [&in_place, &releases] {
                b.set_version("1.0");
                b.deploy("plan:");
            }
            let (mut old, mut new, mut floors, mut ratios) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for v in &versions[1..] {
                floors.push(in_place.login_floor());
                in_place.set_version(v);
                let a = in_place.deploy("requirements changed");
                releases.set_version(v);
                let b = releases.deploy(&format!("activate {v}: build"));
                ratios.push(b.as_secs_f64() / a.as_secs_f64());
                old.push(a);
                new.push(b);
            }
            println!(
                "| {n} | {installer} | {} ms | {} ms | {} ms | {:.2} | {} |",
                ms(median(floors)),
                ms(median(old)),
                ms(median(new)),
                median_f(ratios),
                load()
            );
        }
    }
}
