//! What ordo created and no step declares any more is shown in the plan and
//! removed; nothing ordo did not create is ever removed; a directory that is not
//! empty is kept, and the deploy says so (item 11).

use super::{over_ssh, service};
use crate::support::single_host;
use crate::support::sshd::{Setup, TestHosts};

/// A file, a directory and a symlink that exist only while attribute `old` is true,
/// and a file that the host had before ordo managed it.
const STEPS: &str = "  c.add(file(\"keep\", \"k\"));\n  \
    if c.attr(\"old\", true) {\n    \
    c.add(file(\"etc/old.conf\", \"o\"));\n    \
    c.add(directory(\"data\"));\n    \
    c.add(symlink(\"current\", \"keep\"));\n    \
    c.add(file(\"existing\", \"e\"));\n  }\n";

#[test]
fn what_ordo_created_and_no_longer_declares_is_planned_and_removed_over_ssh() {
    what_ordo_created_and_no_longer_declares_is_planned_and_removed_over_ssh_on(TestHosts::setup());
}

/// [`what_ordo_created_and_no_longer_declares_is_planned_and_removed_over_ssh`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn what_ordo_created_and_no_longer_declares_is_planned_and_removed_over_ssh_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let p = over_ssh(&hosts, &["t1"], STEPS).build();
    let root = hosts.home("t1").join("deployment/s");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("existing"), "the host's own\n").unwrap();
    super::chown_to(hosts.user("t1"), &hosts.home("t1").join("deployment"));
    p.test().args(&["deploy", "prod", "--yes"]).run();
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ old: false })"),
    );
    p.test()
        .args(&["plan", "prod"])
        .stdout(
            "
            plan prod (service s): 1 step on 1 host
              - t1:x file etc/old.conf (no longer declared)
              - t1:x symlink current (no longer declared)
              - t1:x directory data (no longer declared)
            plan: 3 to change, 1 unchanged on 1 host
            ",
        )
        .run();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("  ✓ t1:x directory data (")
        .expect_missing(root.join("etc/old.conf"))
        .expect_missing(root.join("current"))
        .expect_missing(root.join("data"))
        // ordo changed it, but did not create it.
        .expect_file(root.join("existing"), "e")
        .expect_file(root.join("keep"), "k")
        .run();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 1 step on 1 host up to date")
        .run();
}

/// The list of what ordo created, unreadable (someone changed its mode): the plan
/// fails naming it, and nothing changes — read as an empty list, the deploy would
/// have forgotten what it created there.
#[test]
fn a_list_of_what_ordo_created_that_cannot_be_read_fails_the_plan() {
    use std::os::unix::fs::PermissionsExt;
    let hosts = TestHosts::start(&["t1"]);
    let p = over_ssh(&hosts, &["t1"], STEPS).build();
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let owned = hosts.home("t1").join(".ordo/s/owned");
    let before = std::fs::read(&owned).unwrap();
    std::fs::set_permissions(&owned, std::fs::Permissions::from_mode(0o000)).unwrap();
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ old: false })"),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .failure()
        .stderr_contains("the host could not inspect every managed path")
        .stderr_contains(".ordo/s/owned")
        .stderr_contains("Permission denied")
        .run();
    assert!(
        hosts.home("t1").join("deployment/s/etc/old.conf").exists(),
        "nothing removed"
    );
    std::fs::set_permissions(&owned, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(std::fs::read(&owned).unwrap(), before, "the list is as it was");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("- t1:x file etc/old.conf (no longer declared)")
        .run();
}

#[test]
fn a_directory_that_is_not_empty_is_kept_and_the_deploy_says_so() {
    let p = single_host(&service(STEPS)).build();
    p.test().args(&["deploy", "test", "--yes"]).run();
    p.write("hosts/h/deployment/s/data/the-users-file", "mine");
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ old: false })"),
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("  ✓ h:x directory data (")
        .stdout_contains(" kept: the directory is not empty\n")
        .expect_file("hosts/h/deployment/s/data/the-users-file", "mine")
        .expect_missing("hosts/h/deployment/s/current")
        .run();
    // It stays on the list of what ordo created: once it is empty, it goes.
    std::fs::remove_file(p.path("hosts/h/deployment/s/data/the-users-file")).unwrap();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("- h:x directory data (no longer declared)")
        .expect_missing("hosts/h/deployment/s/data")
        .run();
}

#[test]
fn a_path_ordo_did_not_create_is_never_removed() {
    let p = single_host(&service(STEPS)).build();
    p.write("hosts/h/deployment/s/existing", "the host's own\n");
    p.test().args(&["deploy", "test", "--yes"]).run();
    let root = p.path("hosts/h/deployment/s");
    // What ordo made was replaced by something else of another kind: a file by a
    // directory, a symlink by a file, a directory by a symlink.
    std::fs::remove_file(root.join("etc/old.conf")).unwrap();
    std::fs::create_dir(root.join("etc/old.conf")).unwrap();
    std::fs::remove_file(root.join("current")).unwrap();
    std::fs::write(root.join("current"), "a real file now").unwrap();
    std::fs::remove_dir(root.join("data")).unwrap();
    std::os::unix::fs::symlink("keep", root.join("data")).unwrap();
    // A forged list of what ordo created, naming paths outside the service's root —
    // left, and said so — and last a "path" that `find` would read as an action on
    // every path before it.
    let owned = p.path("hosts/h/.ordo/s/owned");
    let forged = format!(
        "{}file\t./victim\tx\tvictim\nfile\t./deployment/s/../../victim\tx\tvictim\nfile\t{}\tx\tvictim\nfile\t-delete\tx\tvictim\n",
        std::fs::read_to_string(&owned).unwrap(),
        p.path("victim").display()
    );
    std::fs::write(&owned, forged).unwrap();
    p.write("hosts/h/victim", "not ordo's");
    p.write("victim", "not ordo's either");
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ old: false })"),
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout(
            "
            deploy test (service s): 1 step on 1 host
            h: ordo's list of what it created there names paths outside the service's roots, which no step declares; they are left as they are (remove them by hand if they are ordo's): ~/victim, [PROJECT]/victim
            nothing to change: 1 step on 1 host up to date
            done: 0 changed, 1 unchanged, 0 failed, 0 skipped on 1 host in [TIME]
            ",
        )
        .expect_file("hosts/h/deployment/s/current", "a real file now")
        .expect_file("hosts/h/deployment/s/keep", "k")
        .expect_file("hosts/h/victim", "not ordo's")
        .expect_file("victim", "not ordo's either")
        .run();
    assert!(root.join("etc/old.conf").is_dir());
    assert!(root.join("data").symlink_metadata().unwrap().file_type().is_symlink());
}

/// A host whose last component moved to another host is still probed: what ordo
/// created there is removed, and the host says so in the plan.
#[test]
fn a_host_whose_last_component_moved_away_is_cleaned_up() {
    let p = crate::support::Test::new()
        .service(
            "let s = service(\"s\");\n\
             s.component(\"a\", |c| { c.add(file(\"a.txt\", \"a\")); });\n\
             s.component(\"b\", |c| { c.add(file(\"b.txt\", \"b\")); });\n",
        )
        .local_host("h1")
        .place("a")
        .local_host("h2")
        .place("b")
        .build();
    p.test().args(&["deploy", "test", "--yes"]).run();
    // `b` moves to h1; h2 runs nothing now.
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai")
            .replace(".place(\"b\")", "")
            .replace(".place(\"a\")", ".place(\"a\").place(\"b\")"),
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("  - h2:b file b.txt (no longer declared)\n")
        .stdout_contains("  + h1:b file b.txt (mode 0644)")
        .expect_missing("hosts/h2/deployment/s/b.txt")
        .expect_file("hosts/h1/deployment/s/b.txt", "b")
        .run();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 2 hosts up to date")
        .run();
}
