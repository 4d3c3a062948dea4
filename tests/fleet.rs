//! Fleets over real ssh: more hosts than the run keeps masters (twice `--jobs`),
//! so hosts connect as they are probed, a host with nothing to do is let go in
//! its probe wave (one login per host on a no-op), plans are kept between the
//! phases and hosts with changes reconnect for the apply; a descriptor limit far
//! below one per host still deploys; and the live view of a fleet is a summary.

use std::process::Command;
use std::sync::Arc;

use crate::support::sshd::TestHosts;
use crate::support::terminal::Terminal;
use crate::support::{Project, Test};

const SERVICE: &str = r#"let s = service("s");
s.component("x", |c| {
    let value = c.attr("value", "a");
    let a = c.add(file("a.txt", value + "\n"));
    c.add(command("note", #{ run: "echo run >> ran.log", on_change: [a] }));
});
"#;

fn aliases(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("f{i}")).collect()
}

fn project(hosts: &TestHosts, aliases: &[&str]) -> Arc<Project> {
    Test::new()
        .service(SERVICE)
        .environment("prod")
        .override_("x", "#{ value: \"a\" }")
        .ssh_hosts(hosts, aliases)
        .place("x")
        .build()
}

fn set_value(p: &Project, value: &str) {
    let env = p.read("environments/prod.rhai");
    let start = env.find("value: \"").unwrap() + 8;
    let end = start + env[start..].find('"').unwrap();
    p.write(
        "environments/prod.rhai",
        &format!("{}{value}{}", &env[..start], &env[end..]),
    );
}

/// Logins each host's sshd accepted so far.
fn logins(hosts: &TestHosts, aliases: &[&str]) -> Vec<usize> {
    aliases
        .iter()
        .map(|a| hosts.sshd_log(a).matches("Accepted publickey").count())
        .collect()
}

fn since(before: &[usize], after: &[usize]) -> Vec<usize> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

#[test]
fn a_fleet_larger_than_its_masters_deploys_and_a_no_op_logs_in_once_per_host() {
    // --jobs 2 keeps at most 4 masters: 6 hosts are a fleet.
    let names = aliases(6);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hosts = TestHosts::start(&names);
    let p = project(&hosts, &names);
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "2"]).run();
    for a in &names {
        let home = hosts.home(a);
        assert_eq!(
            std::fs::read_to_string(home.join("deployment/s/a.txt")).unwrap(),
            "a\n",
            "{a}"
        );
        assert!(!home.join(".ordo/s/lock").exists(), "{a}: lock left");
    }

    // A no-op: every host is let go in its probe wave, so none is reached twice.
    let before = logins(&hosts, &names);
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "2"])
        .stdout(
            "
            deploy prod (service s): 12 steps on 6 hosts
            nothing to change: 12 steps on 6 hosts up to date
            done: 0 changed, 12 unchanged, 0 failed, 0 skipped on 6 hosts in [TIME]
            ",
        )
        .run();
    assert_eq!(since(&before, &logins(&hosts, &names)), [1; 6]);

    // A change on every host: the plan is kept while masters are closed for other
    // hosts, and a host reconnects for its apply: at most one more login each,
    // and only for the hosts whose masters had to go (6 hosts; beyond the bound
    // of 4, a fleet keeps one master per job: 2).
    set_value(&p, "b");
    let before = logins(&hosts, &names);
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "2"]).run();
    let extra: usize = since(&before, &logins(&hosts, &names)).iter().map(|n| n - 1).sum();
    assert!(extra <= 4, "{:?}", since(&before, &logins(&hosts, &names)));
    for a in &names {
        let home = hosts.home(a);
        assert_eq!(
            std::fs::read_to_string(home.join("deployment/s/a.txt")).unwrap(),
            "b\n",
            "{a}"
        );
        assert_eq!(
            std::fs::read_to_string(home.join("deployment/s/ran.log")).unwrap(),
            "run\nrun\n",
            "{a}: the command ran on both changes"
        );
        assert!(!home.join(".ordo/s/lock").exists(), "{a}: lock left");
    }
}

/// One host provides what every other requires: hosts wait for it across the
/// apply with fewer masters than hosts, and a waiting host holds none.
#[test]
fn cross_host_waits_finish_with_fewer_masters_than_hosts() {
    let names = aliases(5);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hosts = TestHosts::start(&names);
    let service = r#"let s = service("s");
s.component("db", |c| {
    c.add(command("slow", #{ run: "sleep 1; date +%s%N > ready", creates: "ready" }));
    c.provide("db:ready", c.host.name);
});
s.component("app", |c| {
    let db = c.require_one("db:ready");
    c.add(command("after-db", #{ run: `echo ${db} > db; date +%s%N > started`, creates: "started" }));
});
"#;
    let mut t = Test::new().service(service).environment("prod").with_ssh_config(&hosts);
    for (i, a) in names.iter().enumerate() {
        t = t
            .host(a, &format!("#{{ address: \"{a}\" }}"))
            .place(if i == 0 { "db" } else { "app" });
    }
    let p = t.build();
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "1"]).run();
    let stamp = |a: &str, f: &str| -> u128 {
        std::fs::read_to_string(hosts.home(a).join("deployment/s").join(f))
            .unwrap_or_else(|e| panic!("{a}/{f}: {e}"))
            .trim()
            .parse()
            .unwrap()
    };
    let ready = stamp(names[0], "ready");
    for a in &names[1..] {
        assert!(stamp(a, "started") > ready, "{a} started before the db was ready");
    }
}

#[test]
fn a_descriptor_limit_far_below_one_per_host_still_deploys_the_fleet() {
    let names = aliases(24);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hosts = TestHosts::start(&names);
    let p = project(&hosts, &names);
    // 40 descriptors, soft and hard: ordo cannot raise it, and one master per host
    // (a held control connection each) does not fit.
    let out = Command::new("prlimit")
        .args(["--nofile=40:40", "--"])
        .arg(env!("CARGO_BIN_EXE_ordo"))
        .args(["deploy", "prod", "--yes"])
        .current_dir(p.root())
        .env("XDG_STATE_HOME", p.state_dir())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("prlimit");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // The jobs that fit, said so.
    assert!(
        stdout.contains("warning: --jobs 32 needs more file descriptors than the limit of 40 allows"),
        "{stdout}"
    );
    assert!(
        stdout.contains("done: 48 changed, 0 unchanged, 0 failed, 0 skipped on 24 hosts"),
        "{stdout}"
    );
    for a in &names {
        assert_eq!(
            std::fs::read_to_string(hosts.home(a).join("deployment/s/a.txt")).unwrap(),
            "a\n",
            "{a}"
        );
    }
}

/// More hosts than the terminal has lines: two lines of counts and the slowest
/// hosts instead of a line per host.
#[test]
fn the_live_view_of_a_fleet_counts_hosts_and_names_the_slowest() {
    let names = aliases(4);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hosts = TestHosts::start(&names);
    let service = r#"let s = service("s");
s.component("x", |c| {
    c.add(file("a.txt", "a\n"));
    if c.host.name == "f1" {
        c.add(command("slow", #{ run: "sleep 4", always: true }));
    }
});
"#;
    let p = Test::new()
        .service(service)
        .environment("prod")
        .ssh_hosts(&hosts, &names)
        .place("x")
        .build();
    let state = p.state_dir().display().to_string();
    let t = Terminal::start_sized(
        p.root(),
        &["deploy", "prod", "--yes"],
        &[("XDG_STATE_HOME", &state)],
        120,
        9,
    );
    let screen = t.wait_for("slowest: f1 applying");
    assert!(screen.contains("4 hosts: "), "{screen}");
    assert!(!screen.contains("  f2 "), "no line per host:\n{screen}");
    let screen = t.wait_for("[exited 0]");
    assert!(screen.contains("done: 5 changed"), "{screen}");
}

/// The balancer runs a rolling update's hooks but has no change of its own: it
/// is not let go in its probe wave (its hooks are added once every host is
/// probed), so the hooks run while its lock is held — with a fleet's few masters
/// too.
#[test]
fn a_host_that_runs_rolling_hooks_keeps_its_lock_for_them() {
    let names = ["lb", "w1", "w2", "w3", "w4"];
    let hosts = TestHosts::start(&names);
    let service = r#"let s = service("s");
s.component("lb", |c| { c.add(file("lb.conf", "lb\n")); });
s.component("app", |c| {
    let v = c.attr("value", "a");
    c.add(file("app.conf", v + "\n"));
});
"#;
    let hook = r#"if [ -d \"$HOME/.ordo/s/lock\" ]; then echo held; else echo free; fi >> \"$HOME/hooks.log\""#;
    let mut t = Test::new()
        .service(service)
        .environment("prod")
        .with_ssh_config(&hosts)
        .host("lb", "#{ address: \"lb\" }")
        .place("lb");
    for a in &names[1..] {
        t = t.host(a, &format!("#{{ address: \"{a}\" }}")).place("app");
    }
    let p = t
        .override_("app", "#{ value: \"a\" }")
        .environment_line(&format!(
            "env.rolling(\"app\", #{{ batch: 2, before: #{{ on: \"lb\", run: \"{hook}\" }}, after: #{{ on: \"lb\", run: \"{hook}\" }} }});"
        ))
        .build();
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "1"]).run();
    let env = p.read("environments/prod.rhai").replace("value: \"a\"", "value: \"b\"");
    p.write("environments/prod.rhai", &env);
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "1"])
        .stdout_contains("  ! lb:rolling app hook before batch 1")
        .run();
    let log = std::fs::read_to_string(hosts.home("lb").join("hooks.log")).unwrap();
    // Two batches, a hook before and after each, on both deploys: all under the lock.
    assert_eq!(log, "held\n".repeat(8), "{log}");
    assert!(!hosts.home("lb").join(".ordo/s/lock").exists());
}

/// A run whose ssh hosts fit its masters (4 hosts, `--jobs 2`: 4 masters) keeps
/// the old shape: every host connected once, before the first probe, and kept to
/// the end — a change deploy logs in once per host, with no reconnect for the
/// apply (no slowdown for small deployments).
#[test]
fn a_fleet_that_fits_its_masters_keeps_one_login_per_host_on_a_change() {
    let names = aliases(4);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hosts = TestHosts::start(&names);
    let p = project(&hosts, &names);
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "2"]).run();
    set_value(&p, "b");
    let before = logins(&hosts, &names);
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "2"])
        .stdout_contains("done: 8 changed")
        .run();
    assert_eq!(since(&before, &logins(&hosts, &names)), [1; 4]);
}

/// A retired host's teardown runs under its lock in a fleet too: with nothing
/// left to remove it is still not let go in its probe wave (its last script
/// removes the lock and the state directory), and a teardown of a fleet's host
/// leaves nothing behind, the second time too.
#[test]
fn a_retired_host_in_a_fleet_is_torn_down_under_its_lock() {
    let names = aliases(4);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hosts = TestHosts::start(&names);
    let p = project(&hosts, &names);
    // --jobs 1 keeps 2 masters: 4 hosts are a fleet.
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "1"]).run();
    let line = "env.host(\"f4\", #{ address: \"f4\" })";
    let env = p.read("environments/prod.rhai");
    assert!(env.contains(&format!("{line}.place(\"x\");")), "{env}");
    p.write(
        "environments/prod.rhai",
        &env.replace(&format!("{line}.place(\"x\");"), &format!("{line}.retire();")),
    );
    for round in 0..2 {
        let before = logins(&hosts, &names);
        p.test()
            .args(&["deploy", "prod", "--yes", "--jobs", "1"])
            .stdout_contains("f4 is torn down: nothing of s is left there for ordo; its declaration can go")
            .run();
        // It keeps its lock for the teardown, which removes it with the state
        // directory (let go in its wave, the teardown would find no lock of this
        // run and leave `.ordo`, below). At most one more login: its master may
        // have been closed for a host probed after it (in whatever order the
        // waves take them).
        assert!(since(&before, &logins(&hosts, &names))[3] <= 2, "round {round}");
        assert!(
            !hosts.home("f4").join(".ordo").exists(),
            "round {round}: f4 kept ordo's state"
        );
        // Its file went; the command's own log is not ordo's and stays.
        assert!(!hosts.home("f4").join("deployment/s/a.txt").exists(), "round {round}");
        for a in &names[..3] {
            assert!(!hosts.home(a).join(".ordo/s/lock").exists(), "{a}: lock left");
        }
    }
}

/// The deploy history of a fleet (decisions 58 and 64): a run beyond the master
/// bound (6 hosts, `--jobs 1`: 2 masters) begins and ends an entry on every host
/// it locks — on a change at each host's apply (a host whose master had to go
/// reconnects for it), on a no-op in each host's probe wave, when it is let go
/// (one login each: the end line rides in that unlock, no reconnect for it) —
/// and `ordo log` shows each run as one line, reached everywhere, without a
/// disagreement.
#[test]
fn a_fleet_beyond_its_masters_ends_a_history_entry_on_every_host() {
    let names = aliases(6);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hosts = TestHosts::start(&names);
    let service = r#"let s = service("s");
s.component("x", |c| { c.add(file("a.txt", c.attr("value", "a") + "\n")); });
s.component("z", |c| { c.add(file("z.txt", "z\n")); });
"#;
    let mut t = Test::new().service(service).environment("prod").with_ssh_config(&hosts);
    for (i, a) in names.iter().enumerate() {
        t = t
            .host(a, &format!("#{{ address: \"{a}\" }}"))
            .place(if i < 2 { "x" } else { "z" });
    }
    let p = t.override_("x", "#{ value: \"a\" }").build();
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "1"]).run();
    // f1 and f2 change; f3–f6 only record the new version.
    set_value(&p, "b");
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "1"])
        .stdout_contains("done: 2 changed, 4 unchanged, 0 failed, 0 skipped on 6 hosts in ")
        .run();
    let changed = ended_entries(&hosts, &names, 2);
    for (i, end) in changed.iter().enumerate() {
        assert_eq!(end["changed"], u64::from(i < 2), "{end}");
    }
    // A no-op: every host let go in its wave, with its entry ended there.
    let before = logins(&hosts, &names);
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "1"])
        .stdout_contains("nothing to change")
        .run();
    assert_eq!(since(&before, &logins(&hosts, &names)), [1; 6]);
    let nothing = ended_entries(&hosts, &names, 3);
    for end in &nothing {
        assert_eq!((&end["changed"], &end["unchanged"]), (&0.into(), &1.into()), "{end}");
    }
    assert_ne!(nothing[0]["run"], changed[0]["run"]);
    p.test()
        .args(&["log", "prod"])
        .stdout(
            "  [RUN]  [DATE]  deploy   no commit  by [OPERATOR]: ok on f1, f2, f3, f4, f5, f6 (nothing changed) in [TIME]\n\
             \x20 [RUN]  [DATE]  deploy   no commit  by [OPERATOR]: ok on f1, f2, f3, f4, f5, f6 (2 changed) in [TIME]\n\
             \x20 [RUN]  [DATE]  deploy   no commit  by [OPERATOR]: ok on f1, f2, f3, f4, f5, f6 (6 changed) in [TIME]\n",
        )
        .run();
    let json = p.test().args(&["log", "prod", "--format", "json"]).run();
    let entries: Vec<serde_json::Value> = json
        .events()
        .into_iter()
        .filter(|e| e["event"] == "log_entry")
        .collect();
    assert_eq!(entries.len(), 3, "{}", json.stdout);
    assert_eq!(entries[0]["run"], nothing[0]["run"]);
    for e in &entries {
        assert_eq!(e["result"], "ok", "{e}");
        assert_eq!(e["hosts"].as_array().unwrap().len(), 6, "{e}");
    }
}

/// The end lines of entry `seq` on every host, checked: begun and ended by the
/// same run (the last two lines of the history), `ok`, and no lock left.
#[track_caller]
fn ended_entries(hosts: &TestHosts, names: &[&str], seq: u64) -> Vec<serde_json::Value> {
    let mut ends = Vec::new();
    for a in names {
        let home = hosts.home(a);
        assert!(!home.join(".ordo/s/lock").exists(), "{a}: lock left");
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(home.join(".ordo/s/history"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines.len() as u64,
            2 * seq,
            "{a}: every entry begun and ended: {lines:?}"
        );
        let (begin, end) = (&lines[lines.len() - 2], &lines[lines.len() - 1]);
        assert_eq!(begin["run"], end["run"], "{a}: {lines:?}");
        assert!(begin.get("targets").is_some(), "{a}: a begin line: {begin}");
        assert_eq!(end["result"], "ok", "{a}: {end}");
        assert_eq!(end["seq"], seq, "{a}: {end}");
        ends.push(end.clone());
    }
    assert!(ends.iter().all(|e| e["run"] == ends[0]["run"]), "one run: {ends:?}");
    ends
}

/// `--rev` and `ordo rollback` are ordinary deploys (decisions 59, 60): beyond the
/// master bound (5 hosts, `--jobs 1`) they go through the waves like any deploy,
/// and each leaves one complete entry on every host.
#[test]
fn a_rollback_and_a_rev_deploy_of_a_fleet_reach_every_host() {
    let names = aliases(5);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hosts = TestHosts::start(&names);
    let p = project(&hosts, &names);
    p.write(".gitignore", "ssh_config\n.state/\n");
    p.git(&["init", "-q"]);
    p.git(&["add", "-A"]);
    p.git(&["commit", "-qm", "a"]);
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "1"]).run();
    set_value(&p, "b");
    p.git(&["commit", "-qam", "b"]);
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "1"]).run();
    let value = |a: &str| std::fs::read_to_string(hosts.home(a).join("deployment/s/a.txt")).unwrap();
    assert!(names.iter().all(|a| value(a) == "b\n"));

    p.test()
        .args(&["rollback", "prod", "--yes", "--jobs", "1"])
        .stdout_contains("done: 10 changed")
        .run();
    assert!(names.iter().all(|a| value(a) == "a\n"), "rolled back everywhere");
    ended_entries(&hosts, &names, 3);
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "1", "--rev", "HEAD"])
        .stdout_contains("done: 10 changed")
        .run();
    assert!(names.iter().all(|a| value(a) == "b\n"), "HEAD deployed everywhere");
    ended_entries(&hosts, &names, 4);
    // Again: a no-op, every host let go in its wave, its entry ended there.
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "1", "--rev", "HEAD"])
        .stdout_contains("nothing to change")
        .run();
    ended_entries(&hosts, &names, 5);
}

/// Beyond the bound (more ssh hosts than twice `--jobs`), a fleet keeps one
/// master per job, not two (decision 64): with `--jobs 1`, 4 hosts with a change
/// end the plan phase with only the last one probed still connected, so that one
/// applies over its master and each of the other three logs in once more — two
/// masters would have saved one of them that login.
#[test]
fn a_fleet_beyond_its_bound_keeps_one_master_per_job() {
    let names = aliases(4);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hosts = TestHosts::start(&names);
    let p = project(&hosts, &names);
    p.test().args(&["deploy", "prod", "--yes", "--jobs", "1"]).run();
    set_value(&p, "b");
    let before = logins(&hosts, &names);
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "1"])
        .stdout_contains("done: 8 changed")
        .run();
    let logins = since(&before, &logins(&hosts, &names));
    assert_eq!(logins.iter().sum::<usize>(), 4 + 3, "{logins:?}");
    assert!(logins.iter().all(|&n| n == 1 || n == 2), "{logins:?}");
}
