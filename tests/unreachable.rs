//! Unreachable hosts over real ssh: by default one stops the deploy before any
//! change; `--skip-unreachable[=N|P%]` goes on without as many as it allows —
//! never a host whose key changed, nor one the plan ties to others — shows them
//! in the plan and the summary and exits with 5; the same failure on many hosts
//! is reported once with the hosts listed; and `--hosts @failed` deploys again
//! the hosts the last deploy did not finish.

use std::sync::Arc;

use crate::support::sshd::TestHosts;
use crate::support::{Project, Test};

const SERVICE: &str = "let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"hello.txt\", \"hi\\n\")); });\n";

fn project(hosts: &TestHosts, aliases: &[&str], service: &str) -> Arc<Project> {
    Test::new()
        .service(service)
        .environment("prod")
        .ssh_hosts(hosts, aliases)
        .place("x")
        .build()
}

fn deployed(hosts: &TestHosts, alias: &str) -> bool {
    hosts.home(alias).join("deployment/s/hello.txt").exists()
}

#[test]
fn skip_unreachable_goes_on_without_the_hosts_it_allows_and_exits_5() {
    let hosts = TestHosts::start(&["t1", "t2", "t3"]);
    let p = project(&hosts, &["t1", "t2", "t3"], SERVICE);
    hosts.kill("t3");
    let out = p
        .test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable"])
        .status(5)
        .stdout_contains("deploy prod (service s): 3 steps on 3 hosts\n")
        .stdout_contains("skipping 1 unreachable host (--skip-unreachable): connection refused on t3\n")
        .stdout_contains(&format!(
            "  cannot reach host `t3`: 127.0.0.1 port {} refused the connection\n",
            hosts.port("t3")
        ))
        .stdout_contains("done: 2 changed, 0 unchanged, 0 failed, 0 skipped on 2 hosts in ")
        .stdout_contains("without 1 host that could not be reached: t3\n")
        .run();
    assert!(deployed(&hosts, "t1") && deployed(&hosts, "t2"), "{}", out.stdout);
    // Nothing was sent to it: not even ordo's state directory.
    assert!(!hosts.home("t3").join(".ordo").exists());

    // Machines see it too; `ordo plan` says the same and exits the same way.
    let out = p
        .test()
        .args(&["plan", "prod", "--skip-unreachable=1", "--format", "json"])
        .status(5)
        .run();
    let events = out.events();
    let skipped: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "hosts_skipped").collect();
    assert_eq!(skipped.len(), 1, "{}", out.stdout);
    assert_eq!(skipped[0]["hosts"][0]["host"], "t3");
    assert_eq!(skipped[0]["hosts"][0]["cause"], "connection refused");
    let done = events.iter().find(|e| e["event"] == "plan_done").unwrap();
    assert_eq!(done["hosts"], 2);

    // Without the flag, the same host stops the run, as it always did.
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(3)
        .stderr_contains("cannot reach host `t3`")
        .run();
}

#[test]
fn more_unreachable_hosts_than_allowed_stop_before_any_change() {
    let hosts = TestHosts::start(&["t1", "t2", "t3", "t4"]);
    let p = project(&hosts, &["t1", "t2", "t3", "t4"], SERVICE);
    hosts.kill("t3");
    hosts.kill("t4");
    p.test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable=1"])
        .status(3)
        .stderr_contains("connection refused on 2 hosts: t3, t4\n")
        .stderr_contains(
            "2 of 4 hosts could not be reached, more than --skip-unreachable=1 allows (1 host); nothing was changed",
        )
        .run();
    assert!(!deployed(&hosts, "t1") && !deployed(&hosts, "t2"));
    for a in ["t1", "t2"] {
        assert!(!hosts.home(a).join(".ordo/s/lock").exists(), "{a}: lock left");
    }
    // Half of the hosts may go.
    p.test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable=50%"])
        .status(5)
        .run();
    assert!(deployed(&hosts, "t1") && deployed(&hosts, "t2"));
    p.test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable=nine"])
        .status(2)
        .stderr_contains("`nine` is not a number of hosts (5) or a percentage of them (10%)")
        .run();
}

#[test]
fn a_host_whose_key_changed_is_never_skipped() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts, &["t1", "t2"], SERVICE);
    hosts.change_host_key("t2");
    p.test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable"])
        .status(3)
        .stderr_contains("host `t2`: its ssh host key has CHANGED")
        .run();
    assert!(!deployed(&hosts, "t1"));
}

#[test]
fn a_host_others_depend_on_cannot_be_skipped_and_the_error_says_why() {
    let hosts = TestHosts::start(&["t1", "t2", "t3"]);
    let service = r#"let s = service("s");
s.component("db", |c| {
    c.add(file("db.conf", "listen = 5432\n"));
    c.provide("db:dsn", `postgres://${c.host.name}/s`);
});
s.component("app", |c| {
    c.add(file("app.conf", "dsn = " + c.require_one("db:dsn") + "\n"));
});
s.component("x", |c| { c.add(file("hello.txt", "hi\n")); });
"#;
    let p = Test::new()
        .service(service)
        .environment("prod")
        .with_ssh_config(&hosts)
        .host("t1", "#{ address: \"t1\" }")
        .place("db")
        .host("t2", "#{ address: \"t2\" }")
        .place("app")
        .host("t3", "#{ address: \"t3\" }")
        .place("x")
        .build();
    hosts.kill("t1");
    p.test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable"])
        .status(3)
        .stderr_contains("host `t1` cannot be skipped: it provides `db:dsn`, which `app` requires on t2")
        .run();
    assert!(!hosts.home("t2").join("deployment").exists());
    // A host that stands alone may go.
    hosts.restart("t1");
    hosts.kill("t3");
    p.test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable"])
        .status(5)
        .expect_file(
            hosts.home("t2").join("deployment/s/app.conf"),
            "dsn = postgres://t1/s\n",
        )
        .run();
}

/// With fewer masters than hosts, a host is found unreachable in its probe wave;
/// the others' locks are released when the run stops.
#[test]
fn a_fleet_finds_unreachable_hosts_in_its_waves() {
    let names = ["t1", "t2", "t3", "t4", "t5"];
    let hosts = TestHosts::start(&names);
    let p = project(&hosts, &names, SERVICE);
    hosts.kill("t4");
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "1"])
        .status(3)
        .stderr_contains("cannot reach host `t4`")
        .run();
    for a in ["t1", "t2", "t3", "t5"] {
        assert!(!deployed(&hosts, a), "{a} changed");
        assert!(!hosts.home(a).join(".ordo/s/lock").exists(), "{a}: lock left");
    }
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "1", "--skip-unreachable=1"])
        .status(5)
        .stdout_contains("skipping 1 unreachable host (--skip-unreachable): connection refused on t4\n")
        .run();
    for a in ["t1", "t2", "t3", "t5"] {
        assert!(deployed(&hosts, a), "{a} not deployed");
    }
}

#[test]
fn the_same_connection_failure_on_many_hosts_is_reported_once() {
    let hosts = TestHosts::start(&["t1", "t2", "t3"]);
    let p = project(&hosts, &["t1", "t2", "t3"], SERVICE);
    for a in ["t1", "t2", "t3"] {
        hosts.kill(a);
    }
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(3)
        .stderr_snapshot("connection_refused_on_three_hosts")
        .run();
}

#[test]
fn hosts_failed_deploys_again_the_hosts_the_last_deploy_did_not_finish() {
    let hosts = TestHosts::start(&["t1", "t2", "t3"]);
    // A check that fails on a host where the test put a `fail` file.
    let service = r#"let s = service("s");
s.component("x", |c| {
    c.add(file("hello.txt", "hi\n"));
    c.add(command("check", #{ run: "test ! -e ../../fail", always: true }));
});
"#;
    let p = project(&hosts, &["t1", "t2", "t3"], service);
    // No deploy yet: nothing to name.
    p.test()
        .args(&["deploy", "prod", "--yes", "--hosts", "@failed"])
        .status(2)
        .stderr_contains(
            "--hosts @failed: no deploy of `prod` from this checkout has recorded which hosts it did not finish",
        )
        .run();
    std::fs::write(hosts.home("t2").join("fail"), "").unwrap();
    hosts.kill("t3");
    p.test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable"])
        .status(1)
        .run();
    let record = std::fs::read_to_string(
        std::fs::read_dir(p.state_dir().join("ordo/projects"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("prod/failed.json"),
    )
    .unwrap();
    assert!(
        record.contains("\"t2\"") && record.contains("\"t3\"") && !record.contains("\"t1\""),
        "{record}"
    );
    assert!(record.contains("skipped: connection refused"), "{record}");

    // Fixed: only those two are deployed again.
    std::fs::remove_file(hosts.home("t2").join("fail")).unwrap();
    hosts.restart("t3");
    p.test()
        .args(&["deploy", "prod", "--yes", "--hosts", "@failed"])
        .stdout_contains("deploy prod (service s): 4 steps on 2 hosts\n")
        .stdout_contains("done: 3 changed, 1 unchanged, 0 failed, 0 skipped on 2 hosts in ")
        .run();
    assert!(deployed(&hosts, "t3"));
    p.test()
        .args(&["deploy", "prod", "--yes", "--hosts", "@failed"])
        .stdout(
            "
            no host is left from the last deploy of `prod` (@failed names none): nothing to do
            ",
        )
        .run();
}

/// A run that went on without an unreachable host (decisions 61 and 65): its
/// hooks see the result of the hosts it reached (`ok`: `on_failure` does not run)
/// and the skipped host apart — `unreachable` in the JSON, `ORDO_UNREACHABLE` —
/// and the hosts' histories have the run on the hosts it reached only, which
/// `ordo log` shows as the run missing a host it targeted.
#[test]
fn skipped_hosts_are_told_to_the_hooks_and_shown_missing_by_the_log() {
    let hosts = TestHosts::start(&["t1", "t2", "t3"]);
    let p = Test::new()
        .file(
            "ordo.rhai",
            r#"project(#{ hooks: #{
    on_failure: "echo failure hook: $ORDO_RESULT",
    after_deploy: "echo after hook: $ORDO_RESULT without [$ORDO_UNREACHABLE]; cat > after.json",
} });
"#,
        )
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1", "t2", "t3"])
        .place("x")
        .build();
    hosts.kill("t3");
    let out = p
        .test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable"])
        .status(5)
        .stdout_contains("after hook: ok without [t3]\n")
        .run();
    assert!(!out.stdout.contains("failure hook"), "{}", out.stdout);
    let after: serde_json::Value = serde_json::from_str(&p.read("after.json")).unwrap();
    assert_eq!(
        after["hosts"],
        serde_json::json!([
            { "host": "t1", "result": "ok" },
            { "host": "t2", "result": "ok" },
            { "host": "t3", "result": "unreachable" },
        ])
    );
    assert_eq!((&after["result"], &after["changed"]), (&"ok".into(), &2.into()));
    hosts.restart("t3");
    p.test()
        .args(&["log", "prod"])
        .stdout("! [RUN]  [DATE]  deploy   no commit  by [OPERATOR]: ok on t1, t2 (2 changed) in [TIME] — hosts disagree: reached 2 of the 3 hosts it targeted (went on without t3: unreachable, --skip-unreachable)\n")
        .run();
    let json = p.test().args(&["log", "prod", "--format", "json"]).run();
    let entry = json
        .events()
        .into_iter()
        .find(|e| e["event"] == "log_entry")
        .expect("a log_entry");
    assert_eq!(entry["unreachable"], serde_json::json!(["t3"]), "{entry}");
}
