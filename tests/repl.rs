//! `ordo repl`: scripted mode (lines from standard input, results on stdout, the
//! first error ends the run) against local and ssh hosts, every REPL function;
//! and an interactive session in a real terminal (tmux): multi-line input,
//! completion, history, Ctrl-C on a running command, `:reload`, and an exit that
//! leaves no ssh master and no lock behind.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::sshd::TestHosts;
use crate::support::terminal::Terminal;
use crate::support::{Project, Test};

const SERVICE: &str = "let s = service(\"s\");
s.component(\"app\", |c| {
    let port = c.attr(\"port\", 8080);
    c.add(file(\"app.conf\", \"port = \" + port + \"\\n\"));
});
s.component(\"db\", |c| {
    c.add(file(\"db.conf\", \"size = 1\\n\"));
});
";

/// `web1` and `web2` (role `web`) run `app`, `db1` runs `db`; all local.
fn local_project() -> Test {
    Test::new()
        .service(SERVICE)
        .host(
            "web1",
            "#{ transport: \"local\", home: \"hosts/web1\", roles: [\"web\"] }",
        )
        .place("app")
        .host(
            "web2",
            "#{ transport: \"local\", home: \"hosts/web2\", roles: [\"web\"] }",
        )
        .place_with("app", "#{ port: 9090 }")
        .local_host("db1")
        .place("db")
}

#[test]
fn scripted_mode_runs_every_function_against_local_hosts() {
    let p = local_project().build();
    p.test()
        .args(&["repl", "test", "--yes"])
        .stdin(
            r#"hosts()
components()
attrs("app")
attrs("app", "web2")
host("web").names
let r = host("web*").run("echo on $(basename $HOME); exit 3");
[r[0].code, r[1].ok, r.len()]
host("db1").run("echo out; echo err >&2").stdout
let f = facts("web1");
[f.host, f.cpus > 0, f.os.kernel != (), type_of(f.python), f.ordo.deployed]
plan("app")
diff("app", "web2")
check(file("x.txt", "hello\n"), "db1")
let conf = |c| {
    c.add(directory("data"));
    c.add(file("data/y.txt", c.host.name));
};
check(conf, "db1")
check("db", "db1").changes
apply("app", "web1")
apply(conf, "db1")
diff("app", "web1")
"#,
        )
        .stdout(
            r#"
            - name: web1
              address: [PROJECT]/hosts/web1
              components: ["app"]
              roles: ["web"]
              transport: local
            - name: web2
              address: [PROJECT]/hosts/web2
              components: ["app"]
              roles: ["web"]
              transport: local
            - name: db1
              address: [PROJECT]/hosts/db1
              components: ["db"]
              roles: []
              transport: local
            - name: app
              hosts: ["web1", "web2"]
            - name: db
              hosts: ["db1"]
            web1:
              port: 8080
            web2:
              port: 9090
            port: 9090
            ["web1", "web2"]
            ── web1 (exit 3)
            on web1
            ── web2 (exit 3)
            on web2
            [3, false, 2]
            ── db1 (ok)
            out
            stderr: err
            out
            ["web1", true, true, "array", ()]
              + web1:app file app.conf (mode 0644)  services/s.rhai:4:11
                  --- app.conf
                  +++ app.conf
                  @@ -0,0 +1 @@
                  +port = 8080
              + web2:app file app.conf (mode 0644)  services/s.rhai:4:11
                  --- app.conf
                  +++ app.conf
                  @@ -0,0 +1 @@
                  +port = 9090
            plan: 2 to change, 0 unchanged on 2 hosts
              + web2:app file app.conf (mode 0644)  services/s.rhai:4:11
                  --- app.conf
                  +++ app.conf
                  @@ -0,0 +1 @@
                  +port = 9090
            plan: 1 to change, 0 unchanged on 1 host
              + db1:repl file x.txt (mode 0644)  <repl:13>:1:7
                  --- x.txt
                  +++ x.txt
                  @@ -0,0 +1 @@
                  +hello
            plan: 1 to change, 0 unchanged on 1 host
              + db1:repl directory data (mode 0755)  <repl:15>:2:11
              + db1:repl file data/y.txt (mode 0644)  <repl:15>:3:11
                  --- data/y.txt
                  +++ data/y.txt
                  @@ -0,0 +1 @@
                  +db1
                  \ No newline at end of file
            plan: 2 to change, 0 unchanged on 1 host
              + db1:db file db.conf (mode 0644)  services/s.rhai:7:11
                  --- db.conf
                  +++ db.conf
                  @@ -0,0 +1 @@
                  +size = 1
            plan: 1 to change, 0 unchanged on 1 host
            1
              + web1:app file app.conf (mode 0644)  services/s.rhai:4:11
                  --- app.conf
                  +++ app.conf
                  @@ -0,0 +1 @@
                  +port = 8080
            plan: 1 to change, 0 unchanged on 1 host
              ✓ web1:app file app.conf ([TIME])
            done: 1 changed, 0 unchanged, 0 failed, 0 skipped on 1 host in [TIME]
              + db1:repl directory data (mode 0755)  <repl:18>:2:11
              + db1:repl file data/y.txt (mode 0644)  <repl:18>:3:11
                  --- data/y.txt
                  +++ data/y.txt
                  @@ -0,0 +1 @@
                  +db1
                  \ No newline at end of file
            plan: 2 to change, 0 unchanged on 1 host
              ✓ db1:repl directory data ([TIME])
              ✓ db1:repl file data/y.txt ([TIME])
            done: 2 changed, 0 unchanged, 0 failed, 0 skipped on 1 host in [TIME]
            nothing to change: 1 step on 1 host up to date
            "#,
        )
        .stderr("")
        .expect_file("hosts/web1/deployment/s/app.conf", "port = 8080\n")
        .expect_file("hosts/db1/deployment/s/data/y.txt", "db1")
        // Checked, never applied; web2 was only looked at.
        .expect_missing("hosts/db1/deployment/s/x.txt")
        .expect_missing("hosts/db1/deployment/s/db.conf")
        .expect_missing("hosts/web2/deployment")
        // One component applied is not a deployment of the environment: the
        // hosts' recorded version stays as it was, and no lock is left.
        .expect_missing("hosts/web1/.ordo/s/state.json")
        .expect_missing("hosts/web1/.ordo/s/lock")
        .expect_missing("hosts/db1/.ordo/s/lock")
        .run();
    // What the REPL created ad hoc is ordo's: the next plan removes it.
    p.test()
        .args(&["plan", "test"])
        .stdout_contains("- db1:repl file data/y.txt")
        .run();
}

#[test]
fn scripted_mode_stops_at_the_first_error() {
    let p = local_project().build();
    p.test()
        .args(&["repl", "test"])
        .stdin("let x = 1;\nhost(\"db1\").run(\"touch before\");\nx + nope\nhost(\"db1\").run(\"touch after\");\n")
        .status(2)
        .stdout("── db1 (ok)\n")
        .stderr_contains("undefined variable `nope`")
        .stderr_contains("<repl:3>:1:5")
        .expect_file("hosts/db1/before", "")
        .expect_missing("hosts/db1/after")
        .run();
    // A host error has the exit code of its kind; an unknown host says which exist.
    p.test()
        .args(&["repl", "test"])
        .stdin("facts(\"web3\")\n")
        .status(2)
        .stderr_contains("no host `web3` in environment test")
        .stderr_contains("did you mean `web1`?")
        .run();
}

#[test]
fn scripted_apply_needs_yes() {
    let p = local_project().build();
    p.test()
        .args(&["repl", "test", "--yes"])
        .stdin("apply(file(\"a.txt\", \"a\"))\n")
        .status(2)
        .stderr_contains("apply() of an ad-hoc step needs the host to try it on")
        .run();
    p.test()
        .args(&["repl", "test"])
        .stdin("apply(\"db\")\n")
        .status(2)
        .stderr_contains("refusing to apply without confirmation")
        .stderr_contains("--yes`")
        .expect_missing("hosts/db1/deployment")
        .run();
}

#[test]
fn commands_and_input_over_several_lines() {
    let p = local_project().build();
    p.test()
        .args(&["repl", "test"])
        .stdin(
            "fn twice(n) {\n    n * 2\n}\nlet s = `a\nb`;\n[twice(21), s.len()]\n:hosts\n:help attrs\n:env test\n:reload\ntwice(2)\n",
        )
        .status(2)
        .stdout(
            r#"
            [42, 3]
            web1  local [PROJECT]/hosts/web1  roles: web  components: app
            web2  local [PROJECT]/hosts/web2  roles: web  components: app
            db1  local [PROJECT]/hosts/db1  components: db
            attrs(component: string) -> map
                REPL: the attributes of `component` as configure read them, per host.
            attrs(component: string, host: string) -> map
                REPL: the attributes of `component` on `host` as configure read them (defaults and overrides applied).
            loaded test (service s): 3 steps on 3 hosts
            loaded test (service s): 3 steps on 3 hosts
            "#,
        )
        // A reload starts the scripts afresh: what earlier lines defined is gone.
        .stderr_contains("unknown function `twice(int)`")
        .run();
}

#[test]
fn json_prints_one_object_per_result() {
    let p = local_project().build();
    let out = p
        .test()
        .args(&["--format", "json", "repl", "test"])
        .stdin("40 + 2\nattrs(\"app\", \"web1\")\nhost(\"db1\").run(\"echo hi\").code\n\"a\" + nope\n")
        .status(2)
        .run();
    let events = out.events();
    let results: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "result")
        .map(|e| &e["value"])
        .collect();
    assert_eq!(
        results,
        [
            &serde_json::json!(42),
            &serde_json::json!({ "port": 8080 }),
            &serde_json::json!(0)
        ]
    );
    let problem = events.last().expect("events");
    assert_eq!(problem["event"], "problem", "{events:?}");
    assert_eq!(problem["location"], "<repl:4>:1:7");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn repl_functions_are_refused_outside_the_repl() {
    Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { let h = hosts(); });\n")
        .local_host("h")
        .place("x")
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("hosts() works in the REPL only")
        .run();
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

fn ssh_project(hosts: &TestHosts) -> std::sync::Arc<Project> {
    Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(hosts, &["t1", "t2"])
        .place("app")
        .build()
}

#[test]
fn scripted_mode_over_ssh() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = ssh_project(&hosts);
    p.test().args(&["deploy", "prod", "--yes", "--hosts", "t2"]).run();
    let out = p
        .test()
        .args(&["repl", "prod", "--yes"])
        .stdin(
            r#"host("t*").run("whoami")
let f = facts("t2");
[f.ordo.deployed.environment, f.ordo.deployed.fingerprint.len(), f.ordo.lock]
facts("t1").ordo.deployed == ()
apply("app", "t1")
plan()
"#,
        )
        .stdout(
            "
            ── t1 (ok)
            [USER:t1]
            ── t2 (ok)
            [USER:t2]
            [\"prod\", 16, ()]
            true
              + t1:app file app.conf (mode 0644)  services/s.rhai:4:11
                  --- app.conf
                  +++ app.conf
                  @@ -0,0 +1 @@
                  +port = 8080
            plan: 1 to change, 0 unchanged on 1 host
              ✓ t1:app file app.conf ([TIME])
            done: 1 changed, 0 unchanged, 0 failed, 0 skipped on 1 host in [TIME]
            nothing to change: 2 steps on 2 hosts up to date
            ",
        )
        .expect_file(hosts.home("t1").join("deployment/s/app.conf"), "port = 8080\n")
        .run();
    assert!(!hosts.home("t1").join(".ordo/s/lock").exists(), "the lock was released");
    assert!(
        !hosts.home("t1").join(".ordo/s/state.json").exists(),
        "one component applied is not a recorded deployment"
    );
    assert_no_masters(&p.path("ssh_config"));
    drop(out);
}

const PROMPT: &str = "ordo:prod> ";

/// The interactive session of the issue, in a real terminal over ssh.
#[test]
fn an_interactive_session_in_a_terminal() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = ssh_project(&hosts);
    let state = tempfile::tempdir().expect("state dir");
    let state_dir = state.path().display().to_string();
    let t = Terminal::start(p.root(), &["repl", "prod"], &[("XDG_STATE_HOME", &state_dir)]);

    // Multi-line input: the line editor waits for the closing brace.
    t.wait_for_prompt(PROMPT);
    t.type_text("fn twice(n) {");
    t.press("Enter");
    t.type_text("n * 2");
    t.press("Enter");
    t.type_text("}");
    t.press("Enter");
    t.wait_for_prompt(PROMPT);
    t.type_text("twice(21)");
    t.press("Enter");
    t.wait_for("\n42\n");

    // Completion: a function name, then a host name inside a string.
    t.wait_for_prompt(PROMPT);
    t.type_text("fac");
    t.press("Tab");
    t.type_text("(\"t");
    t.press("Tab");
    t.press("Tab");
    t.wait_for("\nt1  t2\n");
    t.type_text("1\").os.kernel != ()");
    t.wait_for("facts(\"t1\").os.kernel != ()");
    t.press("Enter");
    t.wait_for("\ntrue\n");

    // An error does not end the session.
    t.wait_for_prompt(PROMPT);
    t.type_text("nope(1)");
    t.press("Enter");
    t.wait_for("nope(int)");

    // Ctrl-C stops a running command on the host; the session goes on.
    t.wait_for_prompt(PROMPT);
    t.type_text("host(\"t1\").run(\"sleep 60; touch late\")");
    t.press("Enter");
    std::thread::sleep(Duration::from_secs(1));
    t.press("C-c");
    t.wait_for("── t1 (failed");
    t.wait_for("what ran on the hosts was stopped");

    // History: Up recalls the line before.
    t.wait_for_prompt(PROMPT);
    t.press("Up");
    t.press("Enter");
    std::thread::sleep(Duration::from_secs(1));
    t.press("C-c");
    t.wait_for_n("── t1 (failed", 2);

    // :reload sees an edited component; the connections stay.
    p.write("services/s.rhai", &SERVICE.replace("8080", "8181"));
    t.wait_for_prompt(PROMPT);
    t.type_text(":reload");
    t.press("Enter");
    t.wait_for("loaded prod (service s)");
    t.wait_for_prompt(PROMPT);
    t.type_text("attrs(\"app\", \"t1\").port");
    t.press("Enter");
    t.wait_for("\n8181\n");

    // apply asks, takes the lock and releases it.
    t.wait_for_prompt(PROMPT);
    t.type_text("apply(\"app\", \"t1\")");
    t.press("Enter");
    t.wait_for("apply 1 change to 1 host? [y/N]");
    t.type_text("y");
    t.press("Enter");
    t.wait_for("done: 1 changed");

    // Ctrl-D ends the session: no master, no lock.
    t.wait_for_prompt(PROMPT);
    t.press("C-d");
    let screen = t.wait_for("[exited 0]");
    assert!(!screen.contains("panicked"), "{screen}");
    assert_eq!(
        std::fs::read_to_string(hosts.home("t1").join("deployment/s/app.conf"))
            .ok()
            .as_deref(),
        Some("port = 8181\n")
    );
    assert!(
        !hosts.home("t1").join("late").exists(),
        "the interrupted command was stopped"
    );
    assert!(!hosts.home("t1").join(".ordo/s/lock").exists(), "no lock is left");
    assert_no_masters(&p.path("ssh_config"));
    let history = std::fs::read_to_string(state.path().join("ordo/history")).expect("history is kept");
    assert!(history.contains("twice(21)"), "{history}");
}

/// A typo in `:env` or a broken file at `:reload` is an error and nothing else:
/// the prompt, the loaded environment and the variables of earlier lines stay.
#[test]
fn a_failed_env_or_reload_keeps_the_session() {
    let p = local_project().build();
    let t = Terminal::start(p.root(), &["repl", "test"], &[]);
    let prompt = "ordo:test> ";
    t.wait_for_prompt(prompt);
    t.type_text("let kept = 41;");
    t.press("Enter");
    t.wait_for_prompt(prompt);
    t.type_text(":env nosuch");
    t.press("Enter");
    t.wait_for("no environment `nosuch`");
    t.wait_for_prompt(prompt);
    t.type_text(":hosts");
    t.press("Enter");
    t.wait_for("db1  local");
    t.wait_for_prompt(prompt);
    t.type_text("kept + 1");
    t.press("Enter");
    t.wait_for("\n42\n");

    // A reload that fails keeps the environment loaded before the edit.
    p.write("services/s.rhai", &SERVICE.replace("let port", "let port = ;"));
    t.wait_for_prompt(prompt);
    t.type_text(":reload");
    t.press("Enter");
    t.wait_for("services/s.rhai:3");
    t.wait_for_prompt(prompt);
    t.type_text("[kept, attrs(\"app\", \"web2\").port]");
    t.press("Enter");
    t.wait_for("\n[41, 9090]\n");
    t.wait_for_prompt(prompt);
    let screen = t.screen();
    assert!(!screen.contains("no environment is loaded"), "{screen}");
    assert!(!screen.contains("ordo:nosuch>"), "{screen}");
    t.press("C-d");
    t.wait_for("[exited 0]");
}

/// The script time limit counts what the scripts compute, not waits for hosts: a
/// line or a custom step that waits on `run` longer than the limit and computes
/// afterwards is fine, a line that computes longer is stopped at its line.
#[test]
fn the_script_time_limit_leaves_out_waits_for_hosts() {
    let p = local_project().build();
    let started = Instant::now();
    p.test()
        .args(&["repl", "test", "--yes", "--script-timeout", "1"])
        .stdin(
            r#"fn busy() { let n = 0; for i in 0..100 { n += i; } n }
let r = host("db1").run("sleep 2"); [r.code, busy()]
let slow = step("slow", #{
    verify: |host| { let ok = host.try_run("sleep 2; test -e slow").ok; busy(); ok },
    update: |host| { host.run("sleep 2; touch slow"); busy(); },
});
apply(slow, "db1").applied
let a = [];
for i in 0..20000 { a = [a]; }
"after"
"#,
        )
        .status(2)
        .stdout_contains("[0, 4950]\n")
        .stdout_contains("\n1\n")
        .stdout_lacks("after")
        .stderr_contains("the script ran longer than the limit of 1 s")
        .stderr_contains("╭─[<repl:6>:1:")
        .expect_file("hosts/db1/deployment/s/slow", "")
        .run();
    let took = started.elapsed();
    assert!(took.as_secs() < 30, "the line stopped at the limit, not after {took:?}");
}
