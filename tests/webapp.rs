//! The `examples/webapp` project deployed to real ssh test hosts (a database, three
//! app hosts, an nginx balancer), with real supervisors and real requests: the app
//! answers through the balancer, a no-op deploy restarts nothing, a configuration
//! change reloads without a new process, a rolling update over the three app hosts
//! fails no request of a client that keeps asking through the balancer, the
//! migration runs once per deploy before any restart, caches are kept or purged as
//! declared, the cron entry appears once and changes in place, a failing health
//! check stops the rollout after its first batch, and a cron entry no longer
//! declared leaves the crontab.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::processes::{get, wait_ok};
use crate::support::sshd::{TestHosts, closed_port};
use crate::support::{Output, Project, Test};

const HOSTS: [&str; 5] = ["db", "web1", "web2", "web3", "lb"];

pub struct Site {
    pub hosts: TestHosts,
    pub project: Arc<Project>,
    /// Ports of db, web1..3, lb.
    pub ports: [u16; 5],
}

impl Site {
    /// The example with an environment `prod` on the test hosts; every program under
    /// `backend`; `app` is the app placements' extra attributes.
    pub fn new(backend: &str, app: &str) -> Site {
        Site::with(backend, app, true)
    }

    /// `hooks`: the rolling update drains each batch from the balancer.
    pub fn with(backend: &str, app: &str, hooks: bool) -> Site {
        let hosts = TestHosts::start(&HOSTS);
        let ports = [
            closed_port(),
            closed_port(),
            closed_port(),
            closed_port(),
            closed_port(),
        ];
        let service = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/webapp/services/webapp.rhai"
        ))
        .expect("the example's service");
        let mut t = Test::example("webapp").service(&service).environment("prod");
        t = t
            .ssh_hosts(&hosts, &["db"])
            .place_with("db", &format!("#{{ port: {}, backend: \"{backend}\" }}", ports[0]));
        for (i, w) in ["web1", "web2", "web3"].iter().enumerate() {
            t = t.ssh_hosts(&hosts, &[w]).place_with(
                "app",
                &format!("#{{ port: {}, backend: \"{backend}\"{app} }}", ports[i + 1]),
            );
        }
        t = t
            .ssh_hosts(&hosts, &["lb"])
            .place_with(
                "balancer",
                &format!("#{{ port: {}, backend: \"{backend}\" }}", ports[4]),
            )
            .environment_line(if hooks {
                "env.rolling(\"app\", #{ batch: 1, max_failures: 0,\n    \
                 before: #{ on: \"lb\", run: \"[ ! -x nginx/drain ] || nginx/drain add $ORDO_HOSTS\" },\n    \
                 after: #{ on: \"lb\", run: \"[ ! -x nginx/drain ] || nginx/drain remove $ORDO_HOSTS\" } });"
            } else {
                "env.rolling(\"app\", #{ batch: 1 });"
            });
        for (i, p) in ports.iter().enumerate() {
            t = t.redact(&p.to_string(), &format!("[PORT:{}]", HOSTS[i]));
        }
        Site {
            project: t.build(),
            hosts,
            ports,
        }
    }

    pub fn deploy(&self) -> Output {
        self.project.test().args(&["deploy", "prod", "--yes"]).run()
    }

    fn web(&self, i: usize) -> u16 {
        self.ports[i]
    }

    /// (version, pid, greeting) of an app host.
    fn version(&self, i: usize) -> (String, String, String) {
        let body = wait_ok(self.web(i), "/version", 10);
        let mut w = body.split_whitespace();
        let v = w.next().unwrap_or_default().to_string();
        let p = w.next().unwrap_or_default().to_string();
        (v, p, w.collect::<Vec<_>>().join(" "))
    }

    /// Every app placement gets `extra` attributes.
    fn app_attrs(&self, extra: &str) {
        let env = self.project.read("environments/prod.rhai");
        let mut out = String::new();
        for line in env.lines() {
            if line.contains(".place(\"app\"") {
                out.push_str(&line.replace(" });", &format!(", {extra} }});")));
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        self.project.write("environments/prod.rhai", &out);
    }

    fn crontab(&self, alias: &str) -> String {
        let out = std::process::Command::new("crontab")
            .args(["-u", self.hosts.user(alias), "-l"])
            .output()
            .expect("crontab -l");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn home(&self, alias: &str, rel: &str) -> std::path::PathBuf {
        self.hosts.home(alias).join(rel)
    }
}

/// Sends requests through the balancer, one fresh connection each, until stopped.
struct Client {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl Client {
    fn start(port: u16) -> Client {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut ok, mut failed) = (0, Vec::new());
            let deadline = Instant::now() + Duration::from_secs(120);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match get(port, "/") {
                    Ok((200, _)) => ok += 1,
                    Ok((code, body)) => failed.push(format!("{code}: {}", body.trim())),
                    Err(e) => failed.push(e),
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (ok, failed)
        });
        Client { stop, thread }
    }

    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("client thread")
    }
}

fn count(text: &str, what: &str) -> usize {
    text.matches(what).count()
}

#[test]
fn the_webapp_example_serves_rolls_migrates_and_cleans_up_under_supervisord() {
    let site = Site::new("supervisord", "");
    let first = site.deploy();
    // The migration ran once, on the first app host, and said what it did.
    assert_eq!(count(&first.stdout, "  ✓ web"), 25, "{}", first.stdout);
    assert_eq!(
        count(&first.stdout, ":app migration schema ("),
        2,
        "planned and applied once: {}",
        first.stdout
    );
    assert!(
        first.stdout.contains("  ✓ web1:app migration schema"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("applied 002_greetings.sql"), "{}", first.stdout);
    assert!(
        first
            .stdout
            .contains("rolling app: 3 batches — 1. web1 · 2. web2 · 3. web3"),
        "{}",
        first.stdout
    );
    let (status, body) = get(site.ports[4], "/").expect("the balancer answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("db says hello from the database"), "{body}");
    let pids: Vec<String> = (1..=3).map(|i| site.version(i).1).collect();

    // Nothing changed: nothing happens, the same processes serve.
    site.project
        .test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    assert_eq!((1..=3).map(|i| site.version(i).1).collect::<Vec<_>>(), pids);

    // The cron entry is in each app user's crontab once; the user's own stays.
    for w in ["web1", "web2", "web3"] {
        assert_eq!(count(&site.crontab(w), "# ordo webapp/prune-pages begin"), 1);
    }
    let mine = "# mine\n0 0 * * * true\n";
    let both = format!("{mine}{}", site.crontab("web1"));
    let tmp = site.project.path("crontab.web1");
    std::fs::write(&tmp, &both).unwrap();
    assert!(
        std::process::Command::new("crontab")
            .args(["-u", site.hosts.user("web1")])
            .arg(&tmp)
            .status()
            .unwrap()
            .success()
    );

    // Caches: markers the app could have written.
    std::fs::write(site.home("web1", "deployment/webapp/var/pages/old.txt"), "x").unwrap();
    std::fs::write(site.home("web1", "deployment/webapp/var/sessions/s1"), "x").unwrap();

    // A configuration change reloads: same processes, new greeting.
    site.app_attrs("greeting: \"bonjour\"");
    let reload = site.deploy();
    assert_eq!(
        count(&reload.stdout, "program web (reload: template etc/app.ini changed)"),
        3,
        "{}",
        reload.stdout
    );
    for (i, pid) in pids.iter().enumerate() {
        assert_eq!(
            site.version(i + 1),
            ("1".to_string(), pid.clone(), "bonjour".to_string())
        );
    }
    assert!(
        site.home("web1", "deployment/webapp/var/pages/old.txt").exists(),
        "kept: the code did not change"
    );

    // New code and a new migration, rolled over the three hosts while a client
    // keeps asking through the balancer.
    let app = site.project.read("app/webapp.py");
    site.project.write("app/webapp.py", &format!("{app}\n# version 2\n"));
    site.project.write(
        "app/migrations/003_notes.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);\n",
    );
    site.app_attrs("migrations: [\"001_visits.sql\", \"002_greetings.sql\", \"003_notes.sql\"], version: \"2\"");
    let client = Client::start(site.ports[4]);
    std::thread::sleep(Duration::from_millis(300));
    let rolled = site
        .project
        .test()
        .args(&["deploy", "prod", "--yes", "--format", "json"])
        .run();
    std::thread::sleep(Duration::from_millis(300));
    let (ok, failed) = client.finish();
    println!(
        "rolling deploy under load: {ok} requests answered, {} failed",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        ok + failed.len(),
        &failed[..failed.len().min(10)]
    );
    assert!(ok > 50, "the client sent too few requests to prove anything: {ok}");
    let events = rolled.events();
    let changed = |path: &str| {
        events.iter().position(|e| {
            e["event"] == "step" && e["status"] == "changed" && e["path"].as_str().is_some_and(|p| p.ends_with(path))
        })
    };
    let migrations: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "step" && e["path"].as_str().is_some_and(|p| p.ends_with("migration schema")))
        .collect();
    assert_eq!(migrations.len(), 1, "once per deploy, not once per host");
    assert_eq!(migrations[0]["host"], "web1");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "step_output"
                && e["text"].as_str().is_some_and(|t| t.contains("applied 003_notes.sql"))),
        "the migration's output is shown"
    );
    let migrated = changed("migration schema").expect("migrated");
    let restarts: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["event"] == "step" && e["path"].as_str().is_some_and(|p| p.ends_with("program web")))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(restarts.len(), 3);
    assert!(
        restarts.iter().all(|&r| r > migrated),
        "the migration runs before any restart"
    );
    let batches: Vec<(u64, String)> = events
        .iter()
        .filter(|e| e["event"] == "batch" && e["status"] == "passed")
        .map(|e| {
            (
                e["batch"].as_u64().unwrap_or(0),
                e["hosts"][0].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        batches,
        vec![(1, "web1".into()), (2, "web2".into()), (3, "web3".into())]
    );
    for (i, pid) in pids.iter().enumerate() {
        let (v, new, _) = site.version(i + 1);
        assert_eq!(v, "2");
        assert_ne!(&new, pid, "restarted for the new code");
    }
    assert!(
        !site.home("web1", "deployment/webapp/var/pages/old.txt").exists(),
        "purged: the code changed"
    );
    assert!(
        site.home("web1", "deployment/webapp/var/sessions/s1").exists(),
        "sessions are kept"
    );

    // A second deploy has nothing to migrate.
    site.project
        .test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();

    // The cron entry changes in place, the user's own entry untouched.
    site.app_attrs("prune: \"*/5 * * * *\"");
    site.deploy();
    let tab = site.crontab("web1");
    assert!(tab.starts_with(mine), "{tab}");
    assert_eq!(count(&tab, "# ordo webapp/prune-pages begin"), 1, "{tab}");
    assert!(tab.contains("*/5 * * * * cd "), "{tab}");

    // web3 no longer has the cron entry: its block goes, web1's stays.
    let env = site.project.read("environments/prod.rhai");
    let edited: Vec<String> = env
        .lines()
        .map(|l| {
            if l.starts_with("env.host(\"web3\"") {
                l.replace("prune: \"*/5 * * * *\"", "prune: \"\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    site.project
        .write("environments/prod.rhai", &(edited.join("\n") + "\n"));
    let gone = site.deploy();
    assert!(
        gone.stdout.contains("- web3:app cron prune-pages (no longer declared)"),
        "{}",
        gone.stdout
    );
    assert_eq!(count(&site.crontab("web3"), "# ordo"), 0, "{}", site.crontab("web3"));
    assert_eq!(count(&site.crontab("web1"), "# ordo webapp/prune-pages begin"), 1);
    for _ in 0..5 {
        let (status, _) = get(site.ports[4], "/").expect("the balancer answers");
        assert_eq!(status, 200);
    }
}

#[test]
fn a_failing_health_check_stops_the_rollout_after_its_first_batch() {
    let site = Site::new("process", "");
    site.deploy();
    let before: Vec<(String, String, String)> = (1..=3).map(|i| site.version(i)).collect();
    site.app_attrs("broken: true, health_retries: 5, version: \"2\"");
    let out = site
        .project
        .test()
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains("rolling `app` stopped after batch 1 of 3: web1 failed (max_failures 0)")
        .stderr_contains("web2, web3 kept what they ran before")
        .stderr_contains("health check failed 5 times; the last answer:")
        .stderr_contains("HTTP 500")
        .stderr_contains("broken on purpose")
        .run();
    assert!(out.stdout.contains("rolling app: batch 1/3 failed"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("- web2:app template etc/app.ini skipped: rolling `app` stopped"),
        "{}",
        out.stdout
    );
    // web2 and web3 still run the old version, untouched, and serve through the
    // balancer (web1 stays drained).
    for i in 2..=3 {
        assert_eq!(site.version(i), before[i - 1]);
        let conf = std::fs::read_to_string(site.home(HOSTS[i], "deployment/webapp/etc/app.ini")).unwrap();
        assert!(conf.contains("broken = no"), "{conf}");
    }
    for _ in 0..5 {
        let (status, body) = get(site.ports[4], "/").expect("the balancer answers");
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains("web1"), "web1 is drained: {body}");
    }
}
