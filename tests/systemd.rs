//! The `systemd` backend end to end, over ssh, through a real `systemctl` command
//! line: docker-systemctl-replacement's `systemctl` (installed by `test.sh`, first
//! on the test user's `PATH` and in the test sudoers rule's `secure_path`) reads the
//! unit files ordo writes and runs them without a systemd daemon (the test machine
//! has no systemd as PID 1). User units (`~/.config/systemd/user/`) and system
//! units (`sudo: true`: `/etc/systemd/system/ordo-<user>-<service>-<name>.service`
//! with `User=`) are started, left alone, reloaded (`ExecReload=`), restarted,
//! stopped and removed, gated by their health checks. The replacement emulates: no
//! cgroups, no restart of a crashed service (docs/hosts.md).

use std::path::PathBuf;

use crate::programs::APP;
use crate::support::processes::{get, wait_ok};
use crate::support::sshd::{SYSTEMCTL_PATH, TestHosts, closed_port};
use crate::support::sudo::SudoRule;
use crate::support::{Project, Test};

/// `port`: a Rhai expression.
fn service(port: &str, sudo: bool) -> String {
    format!(
        r#"let s = service("s");
s.component("x", |c| {{
    if c.attr("gone", false) {{ return; }}
    let port = {port};
    let code = c.add(file("app.py", `{APP}`));
    let greeting = c.add(file("greeting.txt", c.attr("greeting", "hello") + "\n"));
    let conf = c.add(file("mood.conf", c.attr("mood", "calm")));
    c.add(program("app", #{{
        command: `python3 app.py ${{port}}`,
        env: #{{ MOOD: c.attr("mood", "calm") }},
        backend: "systemd",
        sudo: {sudo},
        restart_on: [code, conf],
        reload_on: [greeting],
        health: http_check(`http://127.0.0.1:${{port}}/health`, #{{ interval: 0.2, retries: 50 }}),
        state: c.attr("state", "running"),
    }}));
}});
"#
    )
}

/// The pid answering the health check.
fn pid(port: u16) -> String {
    wait_ok(port, "/health", 10)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The real uid a process runs as.
fn uid_of(pid: &str) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn uid_of_user(user: &str) -> u32 {
    let out = std::process::Command::new("id").args(["-u", user]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The launcher's record names the process that answers by pid *and* start time
/// (`program::identity`), under a system unit as under a user unit.
#[track_caller]
fn assert_recorded(hosts: &TestHosts, pid: &str) {
    let record = std::fs::read_to_string(hosts.home("t1").join(".ordo/s/programs/app/pid")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start = stat.rsplit_once(") ").unwrap().1.split(' ').nth(19).unwrap();
    let mut fields = record.split_whitespace();
    assert_eq!((fields.next(), fields.next()), (Some(pid), Some(start)), "{record}");
}

/// Replaces the `place` attributes of `x` in the environment.
fn set(p: &Project, attrs: &str) {
    let env = p.read("environments/prod.rhai");
    let start = env.find(".place(\"x\"").unwrap();
    let end = start + env[start..].find(')').unwrap() + 1;
    p.write(
        "environments/prod.rhai",
        &format!("{}.place(\"x\", {attrs}){}", &env[..start], &env[end..]),
    );
}

/// Removes system unit files a failed test left behind.
struct SystemUnits(Vec<String>);

impl Drop for SystemUnits {
    fn drop(&mut self) {
        for user in &self.0 {
            if let Ok(entries) = std::fs::read_dir("/etc/systemd/system") {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(&format!("ordo-{user}-")) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
    }
}

/// Deploys, no-op, reload, restart, stop, start, removal of one program under a
/// user unit or (with `sudo`) a system unit, checking the unit file and the
/// process each time.
fn lifecycle(sudo: bool) {
    let hosts = TestHosts::setup().systemctl().start(&["t1"]);
    let user = hosts.user("t1").to_string();
    let _units = SystemUnits(vec![user.clone()]);
    let _rule = sudo.then(|| SudoRule::allow_with_path_first(&user, SYSTEMCTL_PATH));
    let port = closed_port();
    let p = Test::new()
        .service(&service(&port.to_string(), sudo))
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .redact(&port.to_string(), "[PORT]")
        .build();
    set(&p, "#{ greeting: \"hello\" }");
    let unit: PathBuf = if sudo {
        PathBuf::from(format!("/etc/systemd/system/ordo-{user}-s-app.service"))
    } else {
        hosts.home("t1").join(".config/systemd/user/ordo-s-app.service")
    };
    let (kind, marker) = if sudo {
        ("systemd system unit", " [sudo]")
    } else {
        ("systemd", "")
    };

    let first = p.test().args(&["deploy", "prod", "--yes"]).run();
    assert!(
        first
            .stdout
            .contains(&format!("+ t1:x program app{marker} (start: under {kind})")),
        "{}",
        first.stdout
    );
    let started = pid(port);
    assert!(wait_ok(port, "/health", 1).contains("hello calm"));
    assert_recorded(&hosts, &started);
    let text = std::fs::read_to_string(&unit).unwrap_or_else(|e| panic!("{}: {e}", unit.display()));
    assert!(text.contains("ExecReload=/bin/kill -s HUP $MAINPID"), "{text}");
    assert_eq!(text.contains(&format!("User={user}\n")), sudo, "{text}");
    assert_eq!(
        uid_of(&started),
        uid_of_user(&user),
        "the program runs as the login user"
    );
    if sudo {
        let meta = std::fs::metadata(&unit).unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::uid(&meta),
            0,
            "the system unit is root's"
        );
        assert!(!hosts.home("t1").join(".config/systemd").exists());
    }

    // Nothing changed: nothing to do, the same process.
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    assert_eq!(pid(port), started, "a no-op deploy must not restart");

    // reload_on: `systemctl reload` (ExecReload), the same process reads its greeting.
    set(&p, "#{ greeting: \"bonjour\" }");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains(&format!(
            "! t1:x program app{marker} (reload: file greeting.txt changed)"
        ))
        .run();
    let body = wait_ok(port, "/health", 5);
    assert!(body.contains("bonjour"), "{body}");
    assert_eq!(pid(port), started, "a reload keeps the process");

    // restart_on: one restart, a new process with the new environment.
    set(&p, "#{ greeting: \"bonjour\", mood: \"busy\" }");
    let restart = p.test().args(&["deploy", "prod", "--yes"]).run();
    assert_eq!(
        restart.stdout.matches("program app").count(),
        2,
        "planned once, applied once: {}",
        restart.stdout
    );
    assert!(
        restart
            .stdout
            .contains(&format!("! t1:x program app{marker} (restart: ")),
        "{}",
        restart.stdout
    );
    let new = pid(port);
    assert_ne!(new, started);
    assert_recorded(&hosts, &new);
    assert!(wait_ok(port, "/health", 5).contains("bonjour busy"));

    // state: stopped stops it through systemctl; running starts it again.
    set(&p, "#{ greeting: \"bonjour\", mood: \"busy\", state: \"stopped\" }");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("program app")
        .stdout_contains("(stop: it should not run)")
        .run();
    assert!(get(port, "/health").is_err(), "stopped, nothing listens");
    set(&p, "#{ greeting: \"bonjour\", mood: \"busy\" }");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains(&format!("(start: not running (under {kind}))"))
        .run();
    assert!(wait_ok(port, "/health", 5).contains("bonjour busy"));

    // No longer declared: stopped, its unit disabled and removed.
    set(&p, "#{ gone: true }");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("- t1:x program app")
        .run();
    assert!(get(port, "/health").is_err(), "removed, nothing listens");
    assert!(!unit.exists(), "{} is removed", unit.display());
    assert!(!hosts.home("t1").join(".ordo/s/programs/app").exists());
}

#[test]
fn a_program_under_a_systemd_user_unit_starts_reloads_restarts_stops_and_is_removed() {
    lifecycle(false);
}

#[test]
fn a_program_under_a_systemd_system_unit_with_sudo_runs_as_the_login_user() {
    lifecycle(true);
}

#[test]
fn two_users_system_units_of_the_same_service_do_not_collide() {
    let hosts = TestHosts::setup().systemctl().start(&["t1", "t2"]);
    let users: Vec<String> = ["t1", "t2"].iter().map(|a| hosts.user(a).to_string()).collect();
    let _units = SystemUnits(users.clone());
    let _rules: Vec<SudoRule> = users
        .iter()
        .map(|u| SudoRule::allow_with_path_first(u, SYSTEMCTL_PATH))
        .collect();
    let (a, b) = (closed_port(), closed_port());
    let p = Test::new()
        .service(&service("c.attr(\"port\", 0)", true))
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place_with("x", &format!("#{{ port: {a} }}"))
        .ssh_hosts(&hosts, &["t2"])
        .place_with("x", &format!("#{{ port: {b} }}"))
        .build();
    p.test().args(&["deploy", "prod", "--yes"]).run();
    for (user, port) in users.iter().zip([a, b]) {
        let unit = PathBuf::from(format!("/etc/systemd/system/ordo-{user}-s-app.service"));
        assert!(unit.exists(), "{}", unit.display());
        assert_eq!(uid_of(&pid(port)), uid_of_user(user));
    }
}

#[test]
fn sudo_is_only_for_systemd_units() {
    Test::new()
        .service(
            "let s = service(\"s\");\ns.component(\"x\", |c| { c.add(program(\"app\", #{ command: \"sleep 1\", backend: \"supervisord\", sudo: true })); });\n",
        )
        .local_host("h")
        .place("x")
        .args(&["check", "test"])
        .failure()
        .stderr_contains("program `app`: `sudo: true` is for systemd system units, not backend `supervisord`")
        .run();
}
