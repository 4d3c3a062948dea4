//! Hosts that leave the environment (issue "Trustworthy unattended", item 6). A
//! host declared `.retire()` is torn down by the next deploy — its program
//! stopped (the process ordo recorded, by pid and start time, is gone), its cron
//! block out of the crontab (the user's own entries stay), its files, directories
//! and virtualenv removed, ordo's records and the lock last — after the plan
//! showed each step; then `check` says the declaration can go, and deleting it
//! warns about nothing. A host deleted without `retire()` is warned about by plan,
//! deploy and check, from the controller's record, and nothing on it changes. A
//! retired host keeps only how to reach it: a placement, roles or a rolling hook
//! on it are errors at check time.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::sshd::{TestHosts, closed_port};
use crate::support::{Project, Test};

/// One of each kind of removal: a file (in a directory ordo makes on the way), a
/// directory, a virtualenv, a cron block, a program under the deployment's own
/// supervisord.
const SERVICE: &str = r#"let s = service("s");
s.component("x", |c| {
    c.add(file("etc/app.conf", "port = 1\n"));
    c.add(directory("var"));
    c.add(virtualenv("venv"));
    c.add(cron("tick", #{ schedule: "@daily", run: "true" }));
    c.add(program("app", #{ command: "sleep 600", backend: "supervisord" }));
});
"#;

fn project(hosts: &TestHosts) -> Arc<Project> {
    Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(hosts, &["t1", "t2"])
        .place("x")
        .build()
}

/// The text with every run of whitespace made one space: messages that miette
/// wrapped compare as written.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn crontab(user: &str) -> String {
    let out = std::process::Command::new("crontab")
        .args(["-u", user, "-l"])
        .output()
        .expect("crontab -l");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn set_crontab(user: &str, text: &str) {
    let mut set = std::process::Command::new("crontab")
        .args(["-u", user, "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("crontab -u USER -");
    std::io::Write::write_all(set.stdin.as_mut().expect("stdin"), text.as_bytes()).expect("write the crontab");
    assert!(set.wait().expect("crontab").success());
}

/// A process as ordo records it: pid and start time (`pid start …` in `file`).
fn recorded(file: &Path) -> (String, String) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut f = text.split_whitespace();
    let (pid, start) = (f.next().unwrap_or_default(), f.next().unwrap_or_default());
    assert!(!pid.is_empty() && start != "-", "{}: {text}", file.display());
    (pid.to_string(), start.to_string())
}

/// Whether the process `pid` that started at `start` is alive (not a zombie).
fn alive((pid, start): &(String, String)) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // Fields after the name: state is field 3, the start time field 22.
    let fields: Vec<&str> = stat.rsplit_once(") ").map_or("", |x| x.1).split_whitespace().collect();
    fields.first() != Some(&"Z") && fields.get(19) == Some(&start.as_str())
}

fn gone_within(process: &(String, String), secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while alive(process) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

fn retire(p: &Project, host: &str) {
    let line = format!("env.host(\"{host}\", #{{ address: \"{host}\" }})");
    let env = p.read("environments/prod.rhai");
    assert!(env.contains(&format!("{line}.place(\"x\");")), "{env}");
    p.write(
        "environments/prod.rhai",
        &env.replace(&format!("{line}.place(\"x\");"), &format!("{line}.retire();")),
    );
}

fn delete(p: &Project, host: &str) {
    let env = p.read("environments/prod.rhai");
    let kept: String = env
        .lines()
        .filter(|l| !l.starts_with(&format!("env.host(\"{host}\"")))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(kept, env, "{host} was declared");
    p.write("environments/prod.rhai", &kept);
}

/// Two local hosts, `web` and `lb`, each with one file, deployed; then `lb` retired
/// in the environment (not deployed yet).
fn local_lb_deployed_then_retired() -> Arc<Project> {
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.txt\", \"a\")); });\n")
        .local_host("web")
        .place("x")
        .local_host("lb")
        .place("x")
        .build();
    p.test().args(&["deploy", "test", "--yes"]).run();
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai")
            .replace("\"hosts/lb\" }).place(\"x\")", "\"hosts/lb\" }).retire()"),
    );
    p
}

#[test]
fn a_retired_host_is_torn_down_and_then_its_declaration_can_go() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let (web, lb) = (hosts.home("t1"), hosts.home("t2"));
    let program = recorded(&lb.join(".ordo/s/programs/app/pid"));
    let supervisor = recorded(&lb.join(".ordo/s/supervisor/ordo.pid"));
    let stays = recorded(&web.join(".ordo/s/programs/app/pid"));
    assert!(alive(&program) && alive(&supervisor) && alive(&stays));
    let mine = "# mine\n17 3 * * * /bin/true mine\n";
    set_crontab(hosts.user("t2"), &format!("{mine}{}", crontab(hosts.user("t2"))));
    assert!(lb.join("deployment/s/venv/bin/python").exists());

    retire(&p, "t2");
    p.test().args(&["plan", "prod"]).snapshot("plan").run();
    let deploy = p.test().args(&["deploy", "prod", "--yes"]).run();
    let done = flat(&deploy.stdout);
    for step in [
        "✓ t2:x program app",
        "✓ t2:x cron tick",
        "✓ t2:x file etc/app.conf",
        "✓ t2:x virtualenv venv",
        "✓ t2:x directory var",
        "✓ t2:ordo records ~/.ordo/s",
        "t2 is torn down: nothing of s is left there for ordo; its declaration can go",
    ] {
        assert!(done.contains(step), "{step}:\n{}", deploy.stdout);
    }
    assert!(gone_within(&program, 10), "the program still runs");
    assert!(gone_within(&supervisor, 10), "the deployment's supervisord still runs");
    assert_eq!(
        crontab(hosts.user("t2")),
        mine,
        "the block left, the user's entry stayed"
    );
    for gone in [".ordo", "deployment"] {
        assert!(!lb.join(gone).exists(), "{gone} is still on t2");
    }
    // The host that stays is untouched.
    assert!(alive(&stays), "t1's program was stopped");
    assert!(web.join("deployment/s/etc/app.conf").is_file());
    assert_eq!(crontab(hosts.user("t1")).matches("# ordo s/tick begin").count(), 1);

    let check = p.test().args(&["check", "prod"]).run();
    assert!(
        flat(&check.stdout).contains("t2 is retired and was torn down on"),
        "{}",
        check.stdout
    );
    assert!(check.stdout.contains("its declaration can go"), "{}", check.stdout);
    // Deploying it again finds nothing and leaves nothing behind (not even a lock).
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("retiring t2: nothing left to stop or remove")
        .stdout_contains("nothing to change")
        .run();
    assert!(
        !lb.join(".ordo").exists(),
        "the second teardown left its lock directory"
    );

    delete(&p, "t2");
    p.test()
        .args(&["plan", "prod", "--exit-code"])
        .stdout_contains("nothing to change")
        .stderr("")
        .run();
    p.test().args(&["check", "prod"]).stderr("").run();
}

#[test]
fn a_host_deleted_without_retire_is_warned_about_and_left_untouched() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let lb = hosts.home("t2");
    let program = recorded(&lb.join(".ordo/s/programs/app/pid"));
    let tab = crontab(hosts.user("t2"));
    let conf = lb.join("deployment/s/etc/app.conf");
    let modified = std::fs::metadata(&conf).unwrap().modified().unwrap();
    let state = std::fs::read_to_string(lb.join(".ordo/s/state.json")).unwrap();

    delete(&p, "t2");
    let warning = "host `t2` is no longer declared in environment `prod`, but a deploy reached it on";
    let how = "to stop and remove it, declare the host again, retired, in environments/prod.rhai and deploy: \
               env.host(\"t2\").retire(); if the host is gone for good: ordo hosts forget prod t2";
    for args in [&["plan", "prod"][..], &["deploy", "prod", "--yes"], &["check", "prod"]] {
        let out = p.test().args(args).run();
        let err = flat(&out.stderr);
        assert!(err.contains(warning) && err.contains(how), "{args:?}:\n{}", out.stderr);
    }
    // A drift check fails on it; plain plan and deploy exit 0.
    p.test().args(&["plan", "prod", "--exit-code"]).status(2).run();

    // Nothing on t2 changed: the program runs on, the files and records are as
    // they were, the crontab too.
    assert!(alive(&program), "the program of a deleted host was stopped");
    assert_eq!(crontab(hosts.user("t2")), tab);
    assert_eq!(std::fs::metadata(&conf).unwrap().modified().unwrap(), modified);
    assert_eq!(std::fs::read_to_string(lb.join(".ordo/s/state.json")).unwrap(), state);
    assert!(!lb.join(".ordo/s/lock").exists());

    // Forgotten: no more warnings, and still nothing changed there.
    p.test()
        .args(&["hosts", "forget", "prod", "t2"])
        .stdout_contains("forgot t2 (a deploy reached it on")
        .stdout_contains("nothing on the host was changed")
        .run();
    p.test().args(&["plan", "prod", "--exit-code"]).stderr("").run();
    assert!(alive(&program));
}

/// `ordo hosts forget` refuses a host the environment declares and one it has no
/// record of; the listing shows a retired host as such.
#[test]
fn forget_is_for_hosts_the_environment_no_longer_declares() {
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.txt\", \"a\")); });\n")
        .local_host("h")
        .place("x")
        .environment_line("env.host(\"old\", #{ transport: \"local\", home: \"hosts/old\" }).retire();")
        .build();
    p.test()
        .args(&["hosts", "test"])
        .stdout(
            "
            h  local [PROJECT]/hosts/h  components: x
            old  local [PROJECT]/hosts/old  retired: a deploy tears it down
            ",
        )
        .run();
    let declared = p.test().args(&["hosts", "forget", "test", "h"]).status(2).run();
    assert!(
        flat(&declared.stderr).contains("host `h` is declared in environment `test`; there is nothing to forget"),
        "{}",
        declared.stderr
    );
    let unknown = p.test().args(&["hosts", "forget", "test", "gone"]).status(2).run();
    assert!(
        flat(&unknown.stderr).contains("ordo has no record of host `gone` in environment `test`"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_retired_host_with_a_placement_is_an_error_at_check_time() {
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.txt\", \"a\")); });\n")
        .local_host("web")
        .place("x")
        .environment_line("env.host(\"lb\", #{ transport: \"local\", home: \"hosts/lb\" }).retire();")
        .environment_line("env.place(\"x\", \"lb\");")
        .build();
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_snapshot("placement")
        .run();
}

#[test]
fn a_retired_host_with_roles_or_a_rolling_hook_is_an_error_at_check_time() {
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.txt\", \"a\")); });\n")
        .local_host("web")
        .place("x")
        .environment_line(
            "env.host(\"lb\", #{ transport: \"local\", home: \"hosts/lb\", roles: [\"balancer\"] }).retire();",
        )
        .environment_line("env.rolling(\"x\", #{ before: #{ on: \"lb\", run: \"true\" } });")
        .build();
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_snapshot("roles_and_hook")
        .run();
}

/// A retired host that cannot be reached stops the deploy before any change, like
/// any unreachable host; the help says how to leave it out or forget it.
#[test]
fn an_unreachable_retired_host_stops_the_deploy_and_says_what_to_do() {
    let hosts = TestHosts::start(&["t1"]);
    let port = closed_port();
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .environment_line("env.host(\"down\", #{ address: \"down\" }).retire();")
        .ssh_config(&hosts.config_block("down", port, "nobody"))
        .redact(&port.to_string(), "[PORT:down]")
        .build();
    let out = p
        .test()
        .args(&["deploy", "prod", "--yes"])
        .status(3)
        .expect_missing(hosts.home("t1").join("deployment"))
        .run();
    assert!(
        flat(&out.stderr).contains(
            "`down` is retired: if it is gone for good, delete its declaration and run `ordo hosts forget prod down`; \
             to deploy the other hosts meanwhile, leave it out with --hosts"
        ),
        "{}",
        out.stderr
    );
}

/// A file the component wrote outside its root (`~/.config/…`) is on the host's
/// list of what ordo created, but ordo removes only below the service's roots: the
/// plan of the teardown names it as left, and the deploy leaves it.
#[test]
fn a_path_outside_the_roots_is_named_and_left_by_the_teardown() {
    let p = Test::new()
        .service(
            "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a.txt\", \"a\"));\n    c.add(file(\"~/.config/s.conf\", \"c\"));\n});\n",
        )
        .local_host("lb")
        .place("x")
        .build();
    p.test().args(&["deploy", "test", "--yes"]).run();
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai").replace(".place(\"x\")", ".retire()"),
    );
    p.test()
        .args(&["plan", "test"])
        .stdout(
            "
            plan test (service s): 0 steps on 1 host
            retiring lb: 2 steps to stop/remove (environments/test.rhai:2:59)
            lb: ordo's list of what it created there names paths outside the service's roots, which no step declares; they are left as they are (remove them by hand if they are ordo's): ~/.config/s.conf
              - lb:x file a.txt (host retired)
              - lb:ordo records ~/.ordo/s (host retired: history, history.last, owned, state.json; then the empty directories of ~/deployment/s)
            plan: 2 to change, 0 unchanged on 1 host
            ",
        )
        .run();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .expect_file("hosts/lb/.config/s.conf", "c")
        .expect_missing("hosts/lb/deployment")
        .expect_missing("hosts/lb/.ordo")
        .run();
}

/// `ordo status` says whether a retired host is torn down yet, `ordo graph` draws
/// its teardown, `ordo hosts --format json` marks it.
#[test]
fn status_graph_and_hosts_show_a_retired_host() {
    let p = local_lb_deployed_then_retired();
    let before = p.test().args(&["status", "test"]).run();
    assert!(
        before.stdout.contains("lb: retired, not torn down yet — "),
        "{}",
        before.stdout
    );
    p.test().args(&["deploy", "test", "--yes"]).run();
    p.test()
        .args(&["status", "test"])
        .stdout_contains("lb: retired — nothing recorded there (torn down)")
        .run();
    p.test()
        .args(&["graph", "test"])
        .stdout_contains("label=\"lb (retired)\";")
        .stdout_contains("[label=\"teardown:\\nwhat ordo created here\", style=dashed];")
        .run();
    p.test()
        .args(&["hosts", "test", "--format", "json"])
        .stdout_contains(r#""name":"lb","transport":"local","address":"#)
        .stdout_contains(r#""components":[],"retired":true}"#)
        .run();
}

/// In the REPL, `plan()` shows a retired host's teardown and `check` refuses to
/// try anything there.
#[test]
fn the_repl_plans_a_retired_hosts_teardown_and_applies_nothing_there() {
    let p = local_lb_deployed_then_retired();
    p.test()
        .args(&["repl", "test"])
        .stdin("plan()\n")
        .stdout_contains("retiring lb: 2 steps to stop/remove")
        .stdout_contains("  - lb:x file a.txt (host retired)")
        .run();
    let refused = p
        .test()
        .args(&["repl", "test", "--yes"])
        .stdin("apply(file(\"b.txt\", \"b\"), \"lb\")\n")
        .failure()
        .run();
    assert!(
        flat(&refused.stderr).contains("host `lb` is retired: nothing is applied there but its teardown"),
        "{}",
        refused.stderr
    );
    assert!(
        p.path("hosts/lb/deployment/s/a.txt").is_file(),
        "the REPL tore nothing down"
    );
    assert!(!p.path("hosts/lb/deployment/s/b.txt").exists());
}
