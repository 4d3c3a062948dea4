//! Paths the login user may not write, over real ssh with unprivileged test users:
//! a step that would write one without `sudo: true` is a problem of the plan —
//! `ordo plan`, `ordo deploy` (nothing changes on any host) and the REPL's
//! `check` — naming the host, the step and its line, instead of a `mktemp:
//! Permission denied` half-way through the apply.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::support::Test;
use crate::support::sshd::{Setup, TestHosts};
use crate::support::sudo::SudoRule;

/// `bad` writes where the login user may not (t1); `ok` writes only its own home (t2).
const SERVICE: &str = r#"let s = service("s");
s.component("ok", |c| {
    c.add(file("fine.txt", "fine\n"));
});
s.component("bad", |c| {
    c.add(file("mine.txt", "mine\n"));
    c.add(file("/etc/ordo-test.conf", "x = 1\n"));
    c.add(template("/etc/ordo-test.d/app.conf", "templates/app.conf", #{}));
    c.add(directory("/opt/ordo-test/data"));
    c.add(symlink("/etc/ordo-test-link", "/etc/hostname"));
    c.add(virtualenv("/usr/local/ordo-test-venv"));
});
"#;

fn mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn paths_outside_the_login_users_reach_fail_the_plan_before_any_change() {
    paths_outside_the_login_users_reach_fail_the_plan_before_any_change_on(TestHosts::setup());
}

pub(crate) fn paths_outside_the_login_users_reach_fail_the_plan_before_any_change_on(setup: Setup) {
    let hosts = setup.start(&["t1", "t2"]);
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t2"])
        .place("ok")
        .ssh_hosts(&hosts, &["t1"])
        .place("bad")
        .file("templates/app.conf", "y = 2\n")
        .build();
    // Every step that cannot be written is named with its line and what to do;
    // the symlink and the virtualenv have no `sudo`, so it is not suggested.
    p.test()
        .args(&["plan", "prod"])
        .failure()
        .stderr_snapshot("plan_refuses_unwritable_paths")
        .run();
    let deploy = p.test().args(&["deploy", "prod", "--yes"]).failure().run();
    assert_eq!(
        deploy.stderr,
        p.test().args(&["plan", "prod"]).failure().run().stderr,
        "deploy stops with the plan's problems"
    );
    assert!(!deploy.stderr.contains("Permission denied"), "{}", deploy.stderr);
    for alias in ["t1", "t2"] {
        assert!(
            !hosts.home(alias).join("deployment").exists(),
            "{alias}: nothing may change on any host"
        );
    }
    for absent in [
        "/etc/ordo-test.conf",
        "/etc/ordo-test.d",
        "/opt/ordo-test",
        "/etc/ordo-test-link",
    ] {
        assert!(!Path::new(absent).exists(), "{absent}");
    }
}

#[test]
fn another_users_file_keeps_its_mode_and_a_sticky_directory_its_entries() {
    another_users_file_keeps_its_mode_and_a_sticky_directory_its_entries_on(TestHosts::setup());
}

pub(crate) fn another_users_file_keeps_its_mode_and_a_sticky_directory_its_entries_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let home = hosts.home("t1");
    // The service's root belongs to the login user; in it, a file of root's.
    // Beside it, a sticky directory (like /tmp) holding another file of root's.
    let root = home.join("deployment/s");
    std::fs::create_dir_all(&root).unwrap();
    let owner = hosts.user("t1");
    let chown = |path: &Path| {
        let ok = std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{owner}:"))
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
    };
    chown(&home.join("deployment"));
    std::fs::write(root.join("roots.conf"), "same\n").unwrap();
    mode(&root.join("roots.conf"), 0o644);
    let shared = home.join("shared");
    std::fs::create_dir(&shared).unwrap();
    mode(&shared, 0o1777);
    std::fs::write(shared.join("theirs.conf"), "old\n").unwrap();
    let p = Test::new()
        .service(
            r#"let s = service("s");
s.component("x", |c| {
    c.add(file("roots.conf", #{ content: "same\n", mode: 0o600 }));
    c.add(file("~/shared/theirs.conf", "new\n"));
    c.add(file("~/shared/mine.conf", "mine\n"));
});
"#,
        )
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .failure()
        .stderr_snapshot("other_users_paths_are_refused")
        .run();
    let meta = std::fs::metadata(root.join("roots.conf")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o644, "the mode is unchanged");
    assert_eq!(std::fs::read_to_string(shared.join("theirs.conf")).unwrap(), "old\n");
    assert!(!shared.join("mine.conf").exists(), "nothing changed");
    // In a directory of the login user's, root's file can be replaced (a rename):
    // allowed, and the plan says whose the file becomes.
    p.write(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"roots.conf\", \"new\\n\")); });\n",
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("~ t1:x file roots.conf (replaces a file of uid 0: the new one is the login user's)")
        .expect_file(root.join("roots.conf"), "new\n")
        .run();
    let uid = std::fs::metadata(root.join("roots.conf")).unwrap().uid();
    assert_eq!(uid, std::fs::metadata(&root).unwrap().uid(), "the login user's now");
}

#[test]
fn a_directory_an_earlier_privileged_step_gives_the_login_user_is_not_refused() {
    let hosts = TestHosts::start(&["t1"]);
    let _rule = SudoRule::allow(hosts.user("t1"));
    let home = hosts.home("t1");
    // A directory of root's in the home: the login user may not write in it.
    let locked = home.join("locked");
    std::fs::create_dir(&locked).unwrap();
    mode(&locked, 0o755);
    let service = |directory: &str| {
        format!(
            "let s = service(\"s\");\ns.component(\"x\", |c| {{\n{directory}    c.add(file(\"~/locked/app/a.conf\", \"a\\n\"));\n}});\n"
        )
    };
    let p = Test::new()
        .service(&service(""))
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    p.test()
        .args(&["plan", "prod"])
        .failure()
        .stderr_contains("t1:x file ~/locked/app/a.conf would fail: ~/locked/app does not exist, and the login user")
        .run();
    // The step before makes it, as root, for the login user: that step answers for it.
    p.write(
        "services/s.rhai",
        &service(&format!(
            "    c.add(directory(\"~/locked/app\", #{{ owner: \"{}\", sudo: true }}));\n",
            hosts.user("t1")
        )),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .expect_file(locked.join("app/a.conf"), "a\n")
        .run();
}

#[test]
fn the_repl_check_refuses_a_path_the_login_user_may_not_write() {
    let hosts = TestHosts::start(&["t1"]);
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.txt\", \"a\\n\")); });\n")
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    // The old REPL showed a full diff of /etc/passwd, as if it could be written.
    p.test()
        .args(&["repl", "prod"])
        .stdin("check(file(\"b.txt\", \"b\\n\"), \"t1\").changes\ncheck(file(\"/etc/passwd\", \"root:x:0:0::/root:/bin/sh\\n\"), \"t1\")\n")
        .failure()
        .stdout(
            "
              + t1:repl file b.txt (mode 0644)  <repl:1>:1:7
                  --- b.txt
                  +++ b.txt
                  @@ -0,0 +1 @@
                  +b
            plan: 1 to change, 0 unchanged on 1 host
            1
            ",
        )
        .stderr_snapshot("repl_check_refuses_unwritable_path")
        .run();
}
