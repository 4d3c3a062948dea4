//! Programs on real processes, under supervisord and the plain process backend
//! (systemd units: `tests/systemd.rs`): started and healthy after a deploy,
//! restarted exactly once when a `restart_on` step changes, left alone (same pid)
//! when nothing changed, reloaded without a new pid by `reload_on`, stopped by
//! `state: "stopped"` and when the step goes away, and a pending restart that
//! survives a deploy killed between the change and the restart.

use crate::support::processes::{Reaper, get, wait_ok};
use crate::support::sshd::closed_port;
use crate::support::{Project, Test};

/// A tiny app: answers `/health` with its pid and the greeting of `greeting.txt`,
/// which it reads again on SIGHUP; `/fail` answers 500 while `fail` exists.
pub(crate) const APP: &str = r#"import http.server, os, signal, sys
port = int(sys.argv[1])
state = {"greeting": open("greeting.txt").read().strip()}
def reload(*_):
    state["greeting"] = open("greeting.txt").read().strip()
signal.signal(signal.SIGHUP, reload)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 500 if os.path.exists("fail") else 200
        body = ("%d %s %s\n" % (os.getpid(), state["greeting"], os.environ.get("MOOD", ""))).encode()
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

fn service(backend: &str, port: u16) -> String {
    format!(
        r#"let s = service("s");
s.component("x", |c| {{
    let code = c.add(file("app.py", `{APP}`));
    let greeting = c.add(file("greeting.txt", c.attr("greeting", "hello") + "\n"));
    let conf = c.add(file("mood.conf", c.attr("mood", "calm")));
    c.add(program("app", #{{
        command: "python3 app.py {port}",
        env: #{{ MOOD: c.attr("mood", "calm") }},
        backend: "{backend}",
        restart_on: [code, conf],
        reload_on: [greeting],
        health: http_check("http://127.0.0.1:{port}/health", #{{ interval: 0.1, retries: 50 }}),
        state: c.attr("state", "running"),
    }}));
}});
"#
    )
}

fn pid(port: u16) -> String {
    wait_ok(port, "/health", 5)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn project(backend: &str) -> (std::sync::Arc<Project>, u16, Reaper) {
    let port = closed_port();
    let p = Test::new()
        .service(&service(backend, port))
        .local_host("h")
        .place("x")
        .redact(&port.to_string(), "[PORT]")
        .build();
    let reaper = Reaper::new(p.root());
    (p, port, reaper)
}

fn lifecycle(backend: &str) {
    let (p, port, _reaper) = project(backend);
    let first = p.test().args(&["deploy", "test", "--yes"]).run();
    assert!(
        first
            .stdout
            .contains(&format!("+ h:x program app (start: under {backend})")),
        "{}",
        first.stdout
    );
    let started = pid(port);
    assert!(wait_ok(port, "/health", 1).contains("hello calm"));

    // Nothing changed: nothing to do, the same process.
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    assert_eq!(pid(port), started, "a no-op deploy must not restart");

    // reload_on: the same process reads its greeting again.
    p.test().args(&["deploy", "test", "--yes"]).env("X", "").run();
    std::fs::write(
        p.path("environments/test.rhai"),
        p.read("environments/test.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ greeting: \"bonjour\" })"),
    )
    .unwrap();
    let reload = p.test().args(&["deploy", "test", "--yes"]).run();
    assert!(
        reload
            .stdout
            .contains("! h:x program app (reload: file greeting.txt changed)"),
        "{}",
        reload.stdout
    );
    let body = wait_ok(port, "/health", 5);
    assert!(body.contains("bonjour"), "{body}");
    assert_eq!(pid(port), started, "a reload keeps the process");

    // restart_on: one restart, a new process, with the new environment.
    std::fs::write(
        p.path("environments/test.rhai"),
        p.read("environments/test.rhai")
            .replace("greeting: \"bonjour\"", "greeting: \"bonjour\", mood: \"busy\""),
    )
    .unwrap();
    let restart = p.test().args(&["deploy", "test", "--yes"]).run();
    let restarts = restart.stdout.matches("program app (restart").count();
    assert_eq!(restarts, 1, "{}", restart.stdout);
    let new = pid(port);
    assert_ne!(new, started);
    assert!(wait_ok(port, "/health", 5).contains("bonjour busy"));

    // A process that died is started again.
    let _ = std::process::Command::new("kill").arg("-KILL").arg(&new).status();
    std::thread::sleep(std::time::Duration::from_millis(300));
    if backend == "process" {
        let again = p.test().args(&["deploy", "test", "--yes"]).run();
        assert!(
            again.stdout.contains("program app (start: not running"),
            "{}",
            again.stdout
        );
    }
    let revived = pid(port);
    assert_ne!(revived, new);

    // state: stopped stops it.
    std::fs::write(
        p.path("environments/test.rhai"),
        p.read("environments/test.rhai")
            .replace("mood: \"busy\"", "mood: \"busy\", state: \"stopped\""),
    )
    .unwrap();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("program app (stop: it should not run)")
        .run();
    assert!(get(port, "/health").is_err(), "stopped, nothing listens");
}

#[test]
fn a_program_under_supervisord_starts_restarts_reloads_and_stops() {
    lifecycle("supervisord");
}

#[test]
fn a_program_as_a_plain_process_starts_restarts_reloads_and_stops() {
    lifecycle("process");
}

/// A deploy killed (SIGKILL) after it changed the configuration and before the
/// restart that change asks for: the next deploy restarts. And a program no step
/// declares any more is stopped and forgotten.
#[test]
fn a_restart_pending_when_the_deploy_was_killed_happens_on_the_next_deploy() {
    let port = closed_port();
    let service = format!(
        r#"let s = service("s");
s.component("x", |c| {{
    c.add(file("app.py", `{APP}`));
    c.add(file("greeting.txt", "hello\n"));
    let conf = c.add(file("mood.conf", c.attr("mood", "calm")));
    c.add(command("pause", #{{ run: "sleep 5", on_change: [conf] }}));
    if c.attr("run", true) {{
        c.add(program("app", #{{
            command: "python3 app.py {port}",
            backend: "process",
            restart_on: [conf],
            health: http_check("http://127.0.0.1:{port}/health", #{{ interval: 0.1, retries: 50 }}),
        }}));
    }}
}});
"#
    );
    let p = Test::new().service(&service).local_host("h").place("x").build();
    let _reaper = Reaper::new(p.root());
    p.test().args(&["deploy", "test", "--yes"]).run();
    let started = pid(port);

    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ mood: \"busy\" })"),
    );
    let mut ordo = std::process::Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["deploy", "test", "--yes"])
        .current_dir(p.root())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start ordo");
    let conf = p.path("hosts/h/deployment/s/mood.conf");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(&conf).unwrap_or_default() != "busy" {
        assert!(
            std::time::Instant::now() < deadline,
            "the deploy never changed the configuration"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ordo.kill().expect("SIGKILL ordo");
    let _ = ordo.wait();
    // The host's script dies with its connection (the watchdog), before the restart.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(pid(port), started, "killed before the restart");

    let next = p
        .test()
        .args(&["deploy", "test", "--yes", "--break-lock"])
        .stdout_contains("! h:x program app (restart: a change it watches was applied, but it has not run since)")
        .run();
    assert_eq!(
        next.stdout.matches("program app (restart").count(),
        1,
        "{}",
        next.stdout
    );
    assert_ne!(pid(port), started);
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change")
        .run();

    // The program leaves the service: stopped, its record gone.
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai")
            .replace("mood: \"busy\"", "mood: \"busy\", run: false"),
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("- h:x program app (no longer declared)")
        .expect_missing("hosts/h/.ordo/s/programs/app")
        .run();
    assert!(get(port, "/health").is_err(), "stopped");
}

/// A rolling update in batches of a percentage, with a failure budget: a host of
/// the first batch fails its health check, which `max_failures: 1` allows, so the
/// second batch still goes; the deploy fails all the same, naming the host.
#[test]
fn a_rolling_update_goes_on_within_its_failure_budget() {
    let ports = [closed_port(), closed_port(), closed_port()];
    let service = format!(
        r#"let s = service("s");
s.component("x", |c| {{
    let port = c.attr("port", 0);
    c.add(file("app.py", `{APP}`));
    let greeting = c.add(file("greeting.txt", c.attr("greeting", "hello") + "\n"));
    if c.attr("fail", false) {{ c.add(file("fail", "")); }}
    c.add(program("app", #{{
        command: `python3 app.py ${{port}}`,
        backend: "process",
        reload_on: [greeting],
        health: http_check(`http://127.0.0.1:${{port}}/health`, #{{ interval: 0.1, retries: c.attr("retries", 100) }}),
    }}));
}});
"#
    );
    let mut t = Test::new().service(&service);
    for (i, port) in ports.iter().enumerate() {
        t = t
            .local_host(&format!("h{}", i + 1))
            .place_with("x", &format!("#{{ port: {port} }}"));
    }
    let p = t
        .environment_line("env.rolling(\"x\", #{ batch: \"34%\", max_failures: 1 });")
        .build();
    let _reaper = Reaper::new(p.root());
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("rolling x: 2 batches — 1. h1, h2 · 2. h3; stop after more than 1 host failed")
        .run();
    let env = p.read("environments/test.rhai");
    let env = env.replace(
        &format!("#{{ port: {} }}", ports[0]),
        &format!("#{{ port: {}, fail: true, retries: 5, greeting: \"hi\" }}", ports[0]),
    );
    let env = env.replace(
        &format!("#{{ port: {} }}", ports[1]),
        &format!("#{{ port: {}, greeting: \"hi\" }}", ports[1]),
    );
    let env = env.replace(
        &format!("#{{ port: {} }}", ports[2]),
        &format!("#{{ port: {}, greeting: \"hi\" }}", ports[2]),
    );
    p.write("environments/test.rhai", &env);
    let out = p
        .test()
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_contains("h1:x program app failed")
        .stdout_contains("rolling x: batch 1/2 failed")
        .stdout_contains("rolling x: batch 2/2 healthy")
        .run();
    assert!(out.stdout.contains("✓ h3:x program app"), "{}", out.stdout);
    assert!(
        wait_ok(ports[2], "/health", 5).contains(" hi "),
        "h3 has the new greeting"
    );
    assert!(wait_ok(ports[1], "/health", 5).contains(" hi "), "h2 too");
}

/// A batch's `after` hook that did not run — the deploy stopped after the batch was
/// drained (here: the hook failed, which leaves the same marker a killed deploy
/// leaves) — runs on the next deploy although nothing of its batch changes, once;
/// the deploy after that has nothing to do.
#[test]
fn a_batch_left_drained_is_put_back_by_the_next_deploy() {
    let service = r#"let s = service("s");
s.component("x", |c| { c.add(file("code.txt", "v1")); });
"#;
    let hook =
        |what: &str| format!("#{{ on: \"lb\", run: \"[ -f ok ] || exit 3; echo {what} $ORDO_HOSTS >> hooks.log\" }}");
    let p = Test::new()
        .service(service)
        .local_host("lb")
        .local_host("h1")
        .place("x")
        .local_host("h2")
        .place("x")
        .environment_line(&format!(
            "env.rolling(\"x\", #{{ batch: 1, max_failures: 1, before: {}, after: {} }});",
            hook("drain").replace("[ -f ok ] || exit 3; ", ""),
            hook("back")
        ))
        .build();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_contains("after batch 1")
        .stderr_contains("rolling `x` stopped: lb:rolling x hook before batch 2 did not run")
        .expect_missing("hosts/h2/deployment/s/code.txt")
        .run();
    assert_eq!(
        p.read("hosts/lb/hooks.log"),
        "drain h1\n",
        "batch 1 drained and not put back; the failed hook stopped the balancer's other steps"
    );
    p.write("hosts/lb/ok", "");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("lb:rolling x hook after batch 1")
        .stdout_contains("pending: an earlier deploy may have taken this batch out and stopped before this hook")
        .run();
    assert_eq!(
        p.read("hosts/lb/hooks.log"),
        "drain h1\nback h1\ndrain h2\nback h2\n",
        "batch 1 (nothing to change) put back without being drained again, then batch 2 rolled"
    );
    assert_eq!(p.read("hosts/h2/deployment/s/code.txt"), "v1");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    assert_eq!(p.read("hosts/lb/hooks.log"), "drain h1\nback h1\ndrain h2\nback h2\n");
}

/// A migration runs on the first host with its role; the other instances wait for
/// it (the `once` edges of `ordo graph`); a role no host of the component has is
/// an error before any host is reached.
#[test]
fn a_migration_runs_on_the_host_with_its_role() {
    let service = r#"let s = service("s");
s.component("x", |c| {
    let code = c.add(file("code.txt", "v1"));
    c.add(migration("schema", #{ run: "true", on_change: [code], role: c.attr("role", "migrator") }));
    c.add(file("after.txt", "x"));
});
"#;
    let p = Test::new()
        .service(service)
        .local_host("h1")
        .place("x")
        .host(
            "h2",
            "#{ transport: \"local\", home: \"hosts/h2\", roles: [\"migrator\"] }",
        )
        .place("x")
        .build();
    let graph = p.test().args(&["graph", "test"]).run().stdout;
    let h2 = graph
        .split("subgraph")
        .find(|c| c.contains("label=\"h2\""))
        .expect("h2's cluster");
    assert!(h2.contains("migration schema"), "{graph}");
    let h1 = graph
        .split("subgraph")
        .find(|c| c.contains("label=\"h1\""))
        .expect("h1's cluster");
    assert!(!h1.contains("migration schema"), "{graph}");
    assert!(graph.contains("label=\"once\""), "{graph}");
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai")
            .replace("roles: [\"migrator\"]", "roles: []"),
    );
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("migration schema runs once on a host with role `migrator`")
        .stderr_contains("give one of the hosts that run `x` the role")
        .run();
}
