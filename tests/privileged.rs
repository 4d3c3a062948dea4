//! Privileged steps over real ssh: `sudo: true` on files, directories and
//! commands runs them as root through `sudo -n`; a host where sudo would prompt
//! stops the deploy before any change on any host, naming the host, the step and
//! the sudoers line; the plan and JSON mark privileged steps; `owner`/`group` of
//! another user need `sudo: true`, a group of the login user's does not.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::support::Test;
use crate::support::sshd::TestHosts;
use crate::support::sudo::SudoRule;

const SERVICE: &str = r#"let s = service("s");
s.component("x", |c| {
    c.add(file("plain.txt", "plain\n"));
    c.add(file("root.txt", #{ content: "root\n", sudo: true }));
    c.add(directory("rootdir", #{ mode: 0o750, sudo: true }));
    c.add(command("whoami", #{ run: "id -u > uid.txt", creates: "uid.txt", sudo: true }));
});
"#;

fn uid(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .uid()
}

#[test]
fn a_prompting_sudo_stops_every_host_before_any_change() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    // t2 may, t1 may not: t1 alone must stop both.
    let _rule = SudoRule::allow(hosts.user("t2"));
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1", "t2"])
        .place("x")
        .build();
    // One problem per privileged step that would change, each naming host, step
    // and the sudoers line (users redacted); none about t2.
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .failure()
        .stderr_snapshot("sudo_prompt_stops_every_host")
        .run();
    for alias in ["t1", "t2"] {
        assert!(
            !hosts.home(alias).join("deployment").exists(),
            "{alias}: something was written"
        );
    }
}

#[test]
fn privileged_steps_run_as_root_and_are_marked_in_the_plan() {
    let hosts = TestHosts::start(&["t1"]);
    let _rule = SudoRule::allow(hosts.user("t1"));
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    p.test()
        .args(&["plan", "prod"])
        .stdout_contains("+ t1:x file root.txt [sudo] (mode 0644)")
        .stdout_contains("+ t1:x directory rootdir [sudo] (mode 0750)")
        .stdout_contains("! t1:x command whoami [sudo] (")
        .stdout_contains("+ t1:x file plain.txt (mode 0644)")
        .run();
    let json = p.test().args(&["plan", "prod", "--format", "json"]).run();
    let privileged: Vec<(String, bool)> = json
        .events()
        .iter()
        .filter(|e| e["event"] == "planned")
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["privileged"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        privileged,
        vec![
            ("t1:x file plain.txt".to_string(), false),
            ("t1:x file root.txt".to_string(), true),
            ("t1:x directory rootdir".to_string(), true),
            ("t1:x command whoami".to_string(), true),
        ]
    );
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let root = hosts.home("t1").join("deployment/s");
    let me = uid(hosts.home("t1"));
    assert_eq!(uid(&root.join("plain.txt")), me);
    assert_eq!(uid(&root.join("root.txt")), 0);
    assert_eq!(std::fs::read_to_string(root.join("root.txt")).unwrap(), "root\n");
    assert_eq!(uid(&root.join("rootdir")), 0);
    assert_eq!(std::fs::read_to_string(root.join("uid.txt")).unwrap(), "0\n");
    // ordo's own records stay the login user's.
    assert_eq!(uid(&hosts.home("t1").join(".ordo/s/state.json")), me);
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 4 steps on 1 host up to date")
        .run();
}

#[test]
fn another_owner_needs_sudo_a_group_of_ones_own_does_not() {
    let hosts = TestHosts::start(&["t1"]);
    let group = {
        let out = std::process::Command::new("id")
            .args(["-gn", hosts.user("t1")])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let service = |sudo: bool| {
        format!(
            r#"let s = service("s");
s.component("x", |c| {{
    c.add(file("mine.txt", #{{ content: "m\n", group: "{group}", mode: 0o640 }}));
    c.add(directory("shared", #{{ group: "{group}" }}));
    c.add(file("theirs.txt", #{{ content: "t\n", owner: "root", group: "root", sudo: {sudo} }}));
}});
"#
        )
    };
    let p = Test::new()
        .service(&service(false))
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .failure()
        .stderr_contains("t1:x file theirs.txt")
        .stderr_contains("the owner `root` is not the login user")
        .stderr_contains("add `sudo: true` to this step")
        .run();
    assert!(!hosts.home("t1").join("deployment").exists());

    p.write("services/s.rhai", &service(true));
    let _rule = SudoRule::allow(hosts.user("t1"));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("t1:x file theirs.txt [sudo]")
        .run();
    let root = hosts.home("t1").join("deployment/s");
    let theirs = std::fs::symlink_metadata(root.join("theirs.txt")).unwrap();
    assert_eq!((theirs.uid(), theirs.gid()), (0, 0));
    let mine = std::fs::symlink_metadata(root.join("mine.txt")).unwrap();
    assert_eq!(mine.uid(), uid(hosts.home("t1")));
    assert_eq!(mine.mode() & 0o7777, 0o640);
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
}
