//! Deploying over real ssh (`support::sshd`: one sshd and one fresh user per test
//! host): files land in the remote users' homes, a host that cannot be reached
//! or whose key is wrong stops the run before anything changes, a host dying
//! mid-deploy is reported as such, and no master ssh process outlives ordo.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ordo::model::{Host, TransportSpec as Spec};
use ordo::transport::{self, SshOptions};

use crate::support::sshd::{TestHosts, closed_port};
use crate::support::{Output, Project};

const SERVICE: &str = "let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"hello.txt\", \"hi\\n\")); });\n";

/// An environment `prod` placing component `x` of `service` on each alias (ssh is
/// the default transport), with the harness's `ssh_config` in the project root.
fn project(hosts: &TestHosts, aliases: &[&str], service: &str) -> Project {
    let mut env = String::from("let env = environment(\"prod\", #{ service: \"s\" });\n");
    for a in aliases {
        env.push_str(&format!("env.host(\"{a}\", #{{ address: \"{a}\" }}).place(\"x\");\n"));
    }
    let p = Project::new()
        .file("environments/prod.rhai", &env)
        .file("services/s.rhai", service);
    hosts.write_ssh_config(&p.path("ssh_config"));
    p
}

fn ordo_env(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Output {
    crate::support::run_env(p.root(), args, env)
}

/// Every master ssh is started with `-F <project>/ssh_config`; none may be left.
#[track_caller]
fn assert_no_masters(config: &Path) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let out = Command::new("pgrep").arg("-af").arg(config).output().expect("pgrep");
        let found = String::from_utf8_lossy(&out.stdout).into_owned();
        if found.trim().is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "master ssh processes left running:\n{found}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A model host reached over ssh through the harness's config alias.
fn ssh_host(alias: &str) -> Host {
    Host {
        name: alias.into(),
        transport: Spec::Ssh {
            address: alias.into(),
            port: None,
            user: None,
        },
        address: alias.into(),
        user: String::new(),
        roles: Vec::new(),
        data: serde_json::Value::Null,
        span: None,
    }
}

fn owner(path: &Path) -> u32 {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[test]
fn deploy_writes_into_each_remote_users_home_then_has_nothing_to_change() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts, &["t1", "t2"], SERVICE);
    p.ordo(&["deploy", "prod", "--yes"]).success();
    for alias in ["t1", "t2"] {
        let file = hosts.home(alias).join("deployment/s/hello.txt");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
            "hi\n"
        );
        // Written by the remote user, not by us (root).
        assert_eq!(owner(&file), owner(hosts.home(alias)), "{alias}: {}", hosts.user(alias));
        assert_ne!(owner(&file), 0);
    }
    let again = p.ordo(&["deploy", "prod", "--yes"]).success();
    assert!(again.stdout.contains("nothing to change"), "{}", again.stdout);
    assert_no_masters(&p.path("ssh_config"));
}

#[test]
fn plan_over_ssh_changes_nothing() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts, &["t1", "t2"], SERVICE);
    let out = p.ordo(&["plan", "prod"]).success();
    assert!(out.stdout.contains("2 to change"), "{}", out.stdout);
    for alias in ["t1", "t2"] {
        assert!(
            !hosts.home(alias).join("deployment").exists(),
            "plan wrote into {alias}"
        );
    }
    assert_no_masters(&p.path("ssh_config"));
}

#[test]
fn unreachable_host_stops_the_run_before_any_change() {
    let hosts = TestHosts::start(&["t1"]);
    let p = project(&hosts, &["t1", "down"], SERVICE);
    let mut config = std::fs::read_to_string(p.path("ssh_config")).unwrap();
    let port = closed_port();
    config.push_str(&hosts.config_block("down", port, "nobody"));
    p.write("ssh_config", &config);
    let started = Instant::now();
    let out = p.ordo(&["deploy", "prod", "--yes"]).code(3);
    assert!(
        out.stderr
            .contains(&format!("host `down`: 127.0.0.1 port {port} refused the connection")),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("host `t1`"),
        "only the unreachable host is named:\n{}",
        out.stderr
    );
    assert!(
        !hosts.home("t1").join("deployment").exists(),
        "t1 was changed although `down` was unreachable"
    );
    // Three attempts (200 ms + 600 ms apart), not ten-second timeouts.
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert_no_masters(&p.path("ssh_config"));
}

#[test]
fn changed_host_key_is_refused_even_when_accepting_new_keys() {
    let hosts = TestHosts::start(&["t1"]);
    let p = project(&hosts, &["t1"], SERVICE);
    hosts.change_host_key("t1");
    for env in [&[][..], &[("ORDO_ACCEPT_NEW_HOST_KEYS", "1")][..]] {
        let out = ordo_env(&p, &["deploy", "prod", "--yes"], env).code(3);
        assert!(
            out.stderr.contains("host `t1`") && out.stderr.contains("host key has CHANGED"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("man-in-the-middle") && out.stderr.contains("ssh-keygen"),
            "{}",
            out.stderr
        );
    }
    assert!(!hosts.home("t1").join("deployment").exists());
}

#[test]
fn unknown_host_key_is_refused_unless_new_keys_are_accepted() {
    let hosts = TestHosts::start(&["t1"]);
    let p = project(&hosts, &["t1"], SERVICE);
    hosts.forget_host_key("t1");
    let out = p.ordo(&["deploy", "prod", "--yes"]).code(3);
    assert!(
        out.stderr.contains("host `t1`") && out.stderr.contains("not in known_hosts"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("ORDO_ACCEPT_NEW_HOST_KEYS=1"), "{}", out.stderr);
    assert!(!hosts.home("t1").join("deployment").exists());

    ordo_env(&p, &["deploy", "prod", "--yes"], &[("ORDO_ACCEPT_NEW_HOST_KEYS", "1")]).success();
    assert!(hosts.home("t1").join("deployment/s/hello.txt").is_file());
    let known = std::fs::read_to_string(hosts.known_hosts()).unwrap();
    assert!(
        known.contains(&format!("[127.0.0.1]:{}", hosts.port("t1"))),
        "key not recorded:\n{known}"
    );
    // Recorded, so strict checking now passes.
    p.ordo(&["deploy", "prod", "--yes"]).success();
    // The command-line switch does the same as the variable.
    hosts.forget_host_key("t1");
    p.ordo(&["deploy", "prod", "--yes"]).code(3);
    p.ordo(&["deploy", "prod", "--yes", "--accept-new-host-keys"]).success();
}

#[test]
fn rejected_login_is_an_authentication_failure() {
    let hosts = TestHosts::start(&["t1"]);
    let p = project(&hosts, &["t1"], SERVICE);
    let config = std::fs::read_to_string(p.path("ssh_config")).unwrap();
    p.write(
        "ssh_config",
        &config.replace(&format!("User {}", hosts.user("t1")), "User nobody"),
    );
    let started = Instant::now();
    let out = p.ordo(&["deploy", "prod", "--yes"]).code(3);
    assert!(
        out.stderr
            .contains("host `t1` refused the login as nobody@127.0.0.1: authentication failed"),
        "{}",
        out.stderr
    );
    // Not retried: failed logins only fill the host's auth log.
    assert_eq!(
        hosts
            .sshd_log("t1")
            .matches("nobody from 127.0.0.1 not allowed")
            .count(),
        1,
        "{}",
        hosts.sshd_log("t1")
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn host_dying_mid_deploy_is_reported_and_the_next_deploy_finishes() {
    let hosts = TestHosts::start(&["t1"]);
    let service = "let s = service(\"s\");\ns.component(\"x\", |c| {\n  c.add(file(\"hello.txt\", \"hi\\n\"));\n  \
        c.add(command(\"slow\", #{ run: \"touch ~/started; sleep 5; touch ~/finished\", creates: \"~/finished\" }));\n});\n";
    let p = project(&hosts, &["t1"], service);
    let started = hosts.home("t1").join("started");
    let out = std::thread::scope(|s| {
        let run = s.spawn(|| p.ordo(&["deploy", "prod", "--yes"]));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !started.exists() {
            assert!(Instant::now() < deadline, "the slow command never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        hosts.kill("t1");
        run.join().expect("ordo thread")
    });
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("lost the connection to host `t1`"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(!hosts.home("t1").join("finished").exists());
    assert_no_masters(&p.path("ssh_config"));

    hosts.restart("t1");
    // The dead run could not remove its deploy lock from the host.
    p.ordo(&["deploy", "prod", "--yes", "--break-lock"]).success();
    assert!(hosts.home("t1").join("finished").exists());
}

/// The transport itself, without the executor: what `exec` returns, how it
/// behaves under load and when the connection drops. Prints what it measured.
#[test]
fn ssh_transport_runs_scripts_over_one_master() {
    let hosts = TestHosts::start(&["t1"]);
    let p = project(&hosts, &["t1"], SERVICE);
    let host = ssh_host("t1");
    let options = SshOptions::default_for(p.root());
    assert_eq!(options.config_file.as_deref(), Some(p.path("ssh_config").as_path()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let t = transport::for_host(&host, &options).unwrap();
        assert!(t.exec("true".into()).await.is_err(), "exec before connect");

        let clock = Instant::now();
        t.connect().await.unwrap();
        let connect = clock.elapsed();

        let out = t.exec("echo out; echo err >&2; exit 3".into()).await.unwrap();
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (3, "out\n", "err\n")
        );
        let out = t.exec("no-such-command-here".into()).await.unwrap();
        assert_eq!(out.code, 127, "{out:?}");
        // A shell killed by a signal is a failed script, not a lost connection.
        // `sh -s` is sshd's own child (`exec sh -s`), so sshd reports the signal
        // and no status: -1, as the local transport says. A command killed inside
        // the script is the shell's 128 + 9.
        let out = t.exec("echo before; kill -KILL $$".into()).await.unwrap();
        assert_eq!((out.code, out.stdout.as_str()), (-1, "before\n"), "{out:?}");
        let out = t.exec("sh -c 'kill -KILL $$'".into()).await.unwrap();
        assert_eq!(out.code, 137, "{out:?}");
        let out = t.exec("cd; pwd; id -un".into()).await.unwrap();
        assert_eq!(
            out.stdout,
            format!("{}\n{}\n", hosts.home("t1").display(), hosts.user("t1"))
        );

        // Big stdin (EOF must arrive) and big stdout at once.
        let big = format!(
            "wc -c <<'EOF'\n{}\nEOF\nhead -c 2000000 /dev/zero | tr '\\0' y\n",
            "x".repeat(1_000_000)
        );
        let out = t.exec(big).await.unwrap();
        assert_eq!(out.code, 0);
        assert!(
            out.stdout.starts_with("1000001\n") && out.stdout.len() == 8 + 2_000_000,
            "{}",
            out.stdout.len()
        );

        let clock = Instant::now();
        for _ in 0..20 {
            assert_eq!(t.exec("true".into()).await.unwrap().code, 0);
        }
        let round_trip = clock.elapsed() / 20;

        // More than sshd's MaxSessions (10) at once: the per-host limit queues them.
        let clock = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..16 {
            let t = Arc::clone(&t);
            tasks.spawn(async move { t.exec(format!("sleep 0.3; echo {i}")).await });
        }
        while let Some(done) = tasks.join_next().await {
            let out = done.unwrap().unwrap_or_else(|p| panic!("{}: {:?}", p.message, p.help));
            assert_eq!(out.code, 0, "{out:?}");
        }
        let parallel = clock.elapsed();
        // Not a speed test: one at a time would take 4.8 s; in parallel waves it is
        // about 0.6 s. The bound only tells the two apart, with room for a busy CI.
        assert!(parallel < Duration::from_millis(4000), "{parallel:?}");
        eprintln!("ssh transport: connect {connect:?}, round trip {round_trip:?}, 16 × sleep 0.3 in {parallel:?}");

        // The host dies under a running script.
        let running = {
            let t = Arc::clone(&t);
            tokio::spawn(async move { t.exec("sleep 10".into()).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        hosts.kill("t1");
        let err = running.await.unwrap().unwrap_err();
        assert!(
            err.message.contains("lost the connection to host `t1`"),
            "{}",
            err.message
        );
        let err = t.exec("true".into()).await.unwrap_err();
        assert!(
            err.message.contains("lost the connection to host `t1`"),
            "{}",
            err.message
        );
        t.close().await;
    });
    assert_no_masters(&p.path("ssh_config"));
    assert!(
        !options.control_dir.exists(),
        "control dir {} left behind",
        options.control_dir.display()
    );
}

#[test]
fn dropping_a_connected_transport_stops_its_master() {
    let hosts = TestHosts::start(&["t1"]);
    let p = project(&hosts, &["t1"], SERVICE);
    let host = ssh_host("t1");
    let options = SshOptions::default_for(p.root());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let t = transport::for_host(&host, &options).unwrap();
        t.connect().await.unwrap();
        assert_eq!(t.exec("true".into()).await.unwrap().code, 0);
        // The pattern `assert_no_masters` relies on does find a live master.
        let live = Command::new("pgrep")
            .arg("-af")
            .arg(p.path("ssh_config"))
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&live.stdout).contains("ControlPersist"),
            "no master found"
        );
        assert!(options.control_dir.is_dir());
        // No close(): what happens when a run is abandoned on an error path.
        drop(t);
    });
    assert_no_masters(&p.path("ssh_config"));
    assert!(
        !options.control_dir.exists(),
        "control dir {} left behind",
        options.control_dir.display()
    );
}

/// db on t1 provides its DSN to app on t2 and t3; each app provides a backend to
/// the balancer on t4. Order across hosts must follow.
const SHOP: &str = r#"let s = service("shop");
s.component("db", |c| {
    c.add(file("db.conf", "listen = 5432\n"));
    c.provide("db:dsn", `postgres://${c.host.name}/shop`);
});
s.component("app", |c| {
    let dsn = c.require_one("db:dsn");
    c.add(file("app.conf", "dsn = " + dsn + "\n"));
    c.add(command("restart", #{ run: "echo restarted >> restarts", on_change: [c.add(file("version", "1\n"))] }));
    c.provide("app:backend", `${c.host.name}:8080`);
});
s.component("lb", |c| {
    let backends = c.require("app:backend");
    backends.sort();
    c.add(file("backends", backends.reduce(|acc, b| acc + b + "\n", "")));
});
"#;

fn shop(hosts: &TestHosts) -> Project {
    let env = "let env = environment(\"prod\", #{ service: \"shop\" });\n\
               env.host(\"t4\", #{ roles: [\"lb\"] }).place(\"lb\");\n\
               env.host(\"t2\", #{ roles: [\"app\"] }).place(\"app\");\n\
               env.host(\"t3\", #{ roles: [\"app\"] }).place(\"app\");\n\
               env.host(\"t1\", #{ roles: [\"db\"] }).place(\"db\");\n";
    let p = Project::new()
        .file("environments/prod.rhai", env)
        .file("services/shop.rhai", SHOP);
    hosts.write_ssh_config(&p.path("ssh_config"));
    p
}

#[test]
fn provide_require_orders_a_deploy_across_four_ssh_hosts() {
    let hosts = TestHosts::start(&["t1", "t2", "t3", "t4"]);
    let p = shop(&hosts);
    let out = p.ordo(&["deploy", "prod", "--yes", "--format", "json"]).success();
    let events = out.events();
    let order: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "step" && e["status"] == "changed")
        .map(|e| e["host"].as_str().unwrap().to_string())
        .collect();
    let pos = |h: &str| order.iter().position(|x| x == h).unwrap();
    let last = |h: &str| order.iter().rposition(|x| x == h).unwrap();
    assert!(
        last("t1") < pos("t2") && last("t1") < pos("t3"),
        "db before the apps: {order:?}"
    );
    assert!(
        last("t2") < pos("t4") && last("t3") < pos("t4"),
        "apps before the balancer: {order:?}"
    );
    let read =
        |alias: &str, rel: &str| std::fs::read_to_string(hosts.home(alias).join("deployment/shop").join(rel)).unwrap();
    assert_eq!(read("t2", "app.conf"), "dsn = postgres://t1/shop\n");
    assert_eq!(read("t4", "backends"), "t2:8080\nt3:8080\n");
    assert_eq!(read("t3", "restarts"), "restarted\n");
    // Round trips per host: probe (+ lock), one batch (+ record + unlock).
    for e in events.iter().filter(|e| e["event"] == "host_done") {
        assert_eq!(e["round_trips"], 2, "{e}");
    }

    let again = p.ordo(&["deploy", "prod", "--yes"]).success();
    assert!(
        again
            .stdout
            .contains("nothing to change: 8 steps on 4 hosts up to date"),
        "{}",
        again.stdout
    );
    assert_eq!(read("t3", "restarts"), "restarted\n");
}

#[test]
fn a_second_deploy_is_refused_while_one_runs_and_break_lock_clears_a_dead_ones() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let service = "let s = service(\"s\");\ns.component(\"x\", |c| {\n  \
        c.add(command(\"slow\", #{ run: \"touch ~/started; [ -e ~/fast ] || sleep 30; touch ~/finished\", creates: \"~/finished\" }));\n});\n";
    let p = project(&hosts, &["t1", "t2"], service);
    let mut first = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["deploy", "prod", "--yes"])
        .current_dir(p.root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !hosts.home("t1").join("started").exists() {
        assert!(Instant::now() < deadline, "the first deploy never started its command");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = p.ordo(&["deploy", "prod", "--yes"]).code(4);
    let pid = first.id();
    assert!(second.stderr.contains("host `t1` is locked by "), "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!("(pid {pid}, environment prod)")),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("--break-lock"), "{}", second.stderr);
    let status = p.ordo(&["status", "prod"]).success();
    assert!(
        status.stdout.contains("t1: never deployed; locked by "),
        "{}",
        status.stdout
    );

    // The first deploy dies without cleaning up: its locks stay behind.
    first.kill().unwrap();
    first.wait().unwrap();
    hosts.kill("t1");
    hosts.kill("t2");
    hosts.restart("t1");
    hosts.restart("t2");
    p.ordo(&["deploy", "prod", "--yes"]).code(4);
    for alias in ["t1", "t2"] {
        std::fs::write(hosts.home(alias).join("fast"), "").unwrap();
    }
    let out = p.ordo(&["deploy", "prod", "--yes", "--break-lock"]);
    assert!(
        out.stdout.contains("broke the lock on t1 held by "),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains(&format!("(pid {pid}, environment prod)")),
        "{}",
        out.stdout
    );
}

#[test]
fn run_executes_on_several_ssh_hosts_grouped_by_host() {
    let hosts = TestHosts::start(&["t1", "t2", "t3"]);
    let p = project(&hosts, &["t1", "t2", "t3"], SERVICE);
    let out = p.ordo(&["run", "prod", "--", "whoami"]).success();
    let expected: String = ["t1", "t2", "t3"]
        .iter()
        .map(|a| format!("── {a} (ok)\n{}\n", hosts.user(a)))
        .collect();
    assert_eq!(out.stdout, expected);
    let out = p
        .ordo(&[
            "run",
            "prod",
            "--hosts",
            "t2,t3",
            "--",
            "test \"$(whoami)\" = ",
            hosts.user("t2"),
        ])
        .code(1);
    assert_eq!(out.stdout, "── t2 (ok)\n── t3 (exit 1)\n");
}

#[test]
fn status_shows_mixed_versions_after_a_partial_ssh_deploy() {
    let hosts = TestHosts::start(&["t1", "t2", "t3"]);
    let p = project(&hosts, &["t1", "t2", "t3"], SERVICE);
    p.ordo(&["deploy", "prod", "--yes"]).success();
    p.write("services/s.rhai", &SERVICE.replace("hi\\n", "hello\\n"));
    p.ordo(&["deploy", "prod", "--yes", "--hosts", "t2"]).success();
    let status = p.ordo(&["status", "prod"]).success();
    let line = |alias: &str| {
        status
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{alias}: ")))
            .unwrap()
            .to_string()
    };
    assert!(line("t1").contains("(differs from this checkout)"), "{}", status.stdout);
    assert!(line("t2").contains("(current)"), "{}", status.stdout);
    assert!(line("t3").contains("(differs from this checkout)"), "{}", status.stdout);
    assert!(
        status.stdout.contains("hosts differ: 2 versions deployed"),
        "{}",
        status.stdout
    );
    assert_eq!(
        std::fs::read_to_string(hosts.home("t1").join("deployment/s/hello.txt")).unwrap(),
        "hi\n"
    );
    assert_eq!(
        std::fs::read_to_string(hosts.home("t2").join("deployment/s/hello.txt")).unwrap(),
        "hello\n"
    );
}
