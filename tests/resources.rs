//! `resources`: measured in the probe of real ssh hosts; a host short of disk,
//! memory, CPUs or a free port stops the deploy on every host before any change,
//! saying what is short where; enough of everything deploys, and a second deploy
//! is a no-op.

use std::net::TcpListener;

use crate::support::Test;
use crate::support::sshd::TestHosts;

const SERVICE: &str = r#"let s = service("s");
s.component("x", |c| {
    c.add(file("a.txt", "a\n"));
    c.add(resources(#{
        disk: #{ path: "~", free: c.attr("free", "1 KiB") },
        memory: c.attr("memory", "1 MiB"),
        cpus: c.attr("cpus", 1),
        ports: c.attr("ports", []),
    }));
});
"#;

/// The text without whitespace and miette's frame, for `contains` checks that do
/// not depend on where a long message wraps.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace() && *c != '│').collect()
}

#[test]
fn a_short_host_stops_every_host_before_any_change() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    // Taken by root (our uid), not by the test user: in use.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place_with(
            "x",
            &format!("#{{ free: \"1000 TiB\", memory: \"64 TiB\", cpus: 100000, ports: [{port}] }}"),
        )
        .ssh_hosts(&hosts, &["t2"])
        .place("x")
        .build();
    let out = p.test().args(&["deploy", "prod", "--yes"]).failure().run();
    let err = squash(&out.stderr);
    for wanted in [
        "t1:x resources 1000 TiB free at ~, 64 TiB memory, 100000 CPUs, port".to_string(),
        "cannotbeverified:thehostisshort:".to_string(),
        "freeat~—needs1000TiB".to_string(),
        "ofmemory—needs64TiB".to_string(),
        "CPUs—needs100000".to_string(),
        format!("port{port}isinuse(aprocessofuid0listensonit)"),
        "nothingwaschangedonanyhost".to_string(),
        "services/s.rhai:4".to_string(),
    ] {
        assert!(err.contains(&squash(&wanted)), "missing {wanted:?} in:\n{}", out.stderr);
    }
    assert!(!out.stderr.contains("t2:x"), "t2 has enough:\n{}", out.stderr);
    for alias in ["t1", "t2"] {
        assert!(!hosts.home(alias).join("deployment").exists(), "{alias} was changed");
    }
    drop(taken);
}

#[test]
fn enough_of_everything_deploys_and_privileged_ports_need_sudo() {
    let hosts = TestHosts::start(&["t1"]);
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place_with("x", &format!("#{{ ports: [{free}] }}"))
        .build();
    p.test().args(&["deploy", "prod", "--yes"]).run();
    assert_eq!(
        std::fs::read_to_string(hosts.home("t1").join("deployment/s/a.txt")).unwrap(),
        "a\n"
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 1 host up to date")
        .run();

    let start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .map_or(1024, |s| s.trim().parse().unwrap_or(1024));
    if start <= 80 {
        eprintln!("this machine lets everyone listen on port 80 (ip_unprivileged_port_start = {start})");
        return;
    }
    let env = p.read("environments/prod.rhai").replace(&format!("[{free}]"), "[80]");
    p.write("environments/prod.rhai", &env);
    let out = p.test().args(&["deploy", "prod", "--yes"]).failure().run();
    assert!(
        squash(&out.stderr).contains(&squash(&format!(
            "port 80 is privileged (below {start}): only root may listen on it — say `sudo: true`"
        ))),
        "{}",
        out.stderr
    );
}
