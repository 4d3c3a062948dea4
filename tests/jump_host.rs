//! Hosts behind a bastion: every target is reached through a loopback jump host
//! with `ProxyJump` in the project's `ssh_config`, as fleets usually are. Each
//! master logs in to the bastion once (its `ProxyJump` is an ssh of its own), so a
//! fleet's masters, however few at a time, are what the bastion sees.

use crate::support::Test;
use crate::support::sshd::TestHosts;

const SERVICE: &str = "let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"hello.txt\", \"hi\\n\")); });\n";

fn logins(hosts: &TestHosts, alias: &str) -> usize {
    hosts.sshd_log(alias).matches("Accepted publickey").count()
}

#[test]
fn every_target_is_reached_through_the_jump_host() {
    let targets = ["t1", "t2", "t3", "t4", "t5"];
    let all: Vec<&str> = std::iter::once("bastion").chain(targets).collect();
    let hosts = TestHosts::start(&all);
    // The harness's blocks first (HostName, Port, keys), then the hop: the first
    // value ssh finds for an option wins, and only these set ProxyJump.
    let hops: String = targets
        .iter()
        .map(|t| format!("Host {t}\n  ProxyJump bastion\n\n"))
        .collect();
    let mut t = Test::new().service(SERVICE).environment("prod").with_ssh_config(&hosts);
    for a in targets {
        t = t.host(a, &format!("#{{ address: \"{a}\" }}")).place("x");
    }
    let p = t.ssh_config(&hops).build();
    let before = logins(&hosts, "bastion");
    p.test().args(&["deploy", "prod", "--yes"]).run();
    for a in targets {
        assert!(hosts.home(a).join("deployment/s/hello.txt").exists(), "{a}");
    }
    // One hop per master: five targets, five logins on the bastion.
    assert_eq!(logins(&hosts, "bastion") - before, 5);

    // A fleet (--jobs 1 keeps two masters): the same through the bastion, and a
    // no-op still reaches each target once.
    let (bastion, each): (usize, Vec<usize>) = (
        logins(&hosts, "bastion"),
        targets.iter().map(|a| logins(&hosts, a)).collect(),
    );
    p.test()
        .args(&["deploy", "prod", "--yes", "--jobs", "1"])
        .stdout_contains("nothing to change: 5 steps on 5 hosts up to date\n")
        .run();
    assert_eq!(logins(&hosts, "bastion") - bastion, 5);
    for (a, n) in targets.iter().zip(each) {
        assert_eq!(logins(&hosts, a) - n, 1, "{a}");
    }

    // A target down behind the bastion is unreachable like any other.
    hosts.kill("t5");
    p.test()
        .args(&["deploy", "prod", "--yes", "--skip-unreachable"])
        .status(5)
        .stdout_contains("skipping 1 unreachable host (--skip-unreachable): ")
        .stdout_contains(" on t5\n")
        .run();
}
