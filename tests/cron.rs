//! Cron entries (issue "Trustworthy unattended"): a crontab belongs to an OS user,
//! so edits of two hosts — or two services — of one user take turns and none is
//! lost; the lock they take is the user's own; the entry's directory exists before
//! cron runs anything there; and the plan shows the entry as the crontab gets it.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use crate::support::sshd::TestHosts;
use crate::support::{Project, Test};

const SERVICE: &str = r#"let s = service("s");
s.component("x", |c| {
    c.add(cron("tick", #{ schedule: "@daily", run: c.attr("run", "true") }));
});
"#;

fn crontab(user: &str) -> String {
    let out = std::process::Command::new("crontab")
        .args(["-u", user, "-l"])
        .output()
        .expect("crontab -l");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where the real `crontab` is (the shims below call it).
fn real_crontab() -> String {
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v crontab"])
        .output()
        .expect("command -v crontab");
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    assert!(!real.is_empty(), "crontab is not installed");
    real
}

fn over_ssh(hosts: &TestHosts) -> Arc<Project> {
    Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(hosts, &["t1"])
        .place("x")
        .build()
}

/// Two local hosts of one user (ordo runs as root here; a `crontab` shim in front
/// of the real one edits a test user's crontab instead of root's) each add an
/// entry, in parallel. The shim waits 2 s after reading the crontab, before the
/// caller writes it back: without a lock both read the crontab without the other's
/// entry and the second write loses the first — every time. With the lock, both
/// entries are there after the first deploy, and the next one has nothing to do.
#[test]
fn two_local_hosts_of_one_user_edit_the_crontab_one_at_a_time() {
    let hosts = TestHosts::start(&["t1"]);
    let user = hosts.user("t1");
    let p = Test::new()
        .service(SERVICE)
        .local_host("h1")
        .place("x")
        .local_host("h2")
        .place("x")
        .build();
    let real = real_crontab();
    p.write(
        "bin/crontab",
        &format!(
            "#!/bin/sh\nif [ \"$1\" = -l ]; then {real} -u {user} -l; r=$?; sleep 2; exit $r; fi\nexec {real} -u {user} \"$@\"\n"
        ),
    );
    std::fs::set_permissions(p.path("bin/crontab"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        p.path("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .env("PATH", &path)
        .stdout_contains("done: 2 changed")
        .run();
    let tab = crontab(user);
    for h in ["h1", "h2"] {
        let home = p.root().join("hosts").join(h);
        let begin = format!("# ordo s/tick begin ({}):", home.display());
        assert_eq!(tab.matches(&begin).count(), 1, "{h}'s entry, once:\n{tab}");
    }
    p.test()
        .args(&["deploy", "test", "--yes"])
        .env("PATH", &path)
        .stdout_contains("nothing to change")
        .run();
}

/// A local host of a test user: ordo runs as root, and a `crontab` shim in front
/// of the real one (first on `PATH`) edits the user's crontab; `on_list` runs
/// before each `crontab -l` (with `$n`, the how-manieth call it is) and may fail
/// it. Returns the project and the `PATH` to deploy with.
fn local_with_shim(user: &str, on_list: &str) -> (Arc<Project>, String) {
    let p = Test::new().service(SERVICE).local_host("h1").place("x").build();
    let real = real_crontab();
    let calls = p.path("crontab-calls");
    p.write(
        "bin/crontab",
        &format!(
            "#!/bin/sh
if [ \"$1\" = -l ]; then echo x >> '{}'; n=$(wc -l < '{}'); {on_list}\n exec {real} -u {user} -l; fi\nexec {real} -u {user} \"$@\"\n",
            calls.display(),
            calls.display()
        ),
    );
    std::fs::set_permissions(p.path("bin/crontab"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        p.path("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (p, path)
}

fn set_crontab(user: &str, tab: &str) {
    let mut set = std::process::Command::new("crontab")
        .args(["-u", user, "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("crontab -u USER -");
    std::io::Write::write_all(set.stdin.as_mut().unwrap(), tab.as_bytes()).unwrap();
    assert!(set.wait().unwrap().success());
}

/// `crontab -l` that fails for another reason than "no crontab" (cron refuses the
/// user, a broken spool) is not an empty crontab: taken for one, the edit wrote
/// the block alone over the user's entries. In the probe it fails the plan before
/// anything changes; in the apply (the probe could read it) it fails the step —
/// and the user's entries stay either way.
#[test]
fn a_crontab_that_cannot_be_read_is_an_error_and_its_entries_stay() {
    let hosts = TestHosts::start(&["t1"]);
    let user = hosts.user("t1");
    let mine = "# mine\n17 3 * * * /bin/true mine\n";
    set_crontab(user, mine);
    let refused = "echo \"You ($LOGNAME) are not allowed to use this program (crontab)\" >&2; exit 1";

    let (p, path) = local_with_shim(user, refused);
    p.test()
        .args(&["deploy", "test", "--yes"])
        .env("PATH", &path)
        .status(1)
        .stderr_contains("h1:x cron tick cannot be verified: the crontab cannot be read: crontab -l failed: You (")
        .stderr_contains("are not allowed to use this program (crontab)")
        .run();
    assert_eq!(crontab(user), mine);
    assert!(!p.path("hosts/h1/deployment/s").exists(), "nothing changed");

    // The probe reads it (call 1); the apply's read under the lock fails (call 2).
    let (p, path) = local_with_shim(user, &format!("[ \"$n\" -lt 2 ] || {{ {refused}; }}"));
    let out = p
        .test()
        .args(&["deploy", "test", "--yes"])
        .env("PATH", &path)
        .status(1)
        .run();
    assert!(out.stdout.contains("✗ h1:x cron tick failed"), "{}", out.stdout);
    let flat = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("crontab -l failed: You ("), "{}", out.stderr);
    assert_eq!(crontab(user), mine, "the user's entries stay, and no block alone");
}

/// The record of a cron block that cannot be read (mode 000) is not a block with
/// empty markers: those matched the crontab's empty lines, and removing the entry
/// took the user's lines between two of them. The step fails, the crontab and the
/// record stay; once the record is readable the block goes alone.
#[test]
fn a_cron_record_that_cannot_be_read_leaves_the_crontab_alone() {
    let hosts = TestHosts::start(&["t1"]);
    let user = hosts.user("t1");
    let p = over_ssh(&hosts);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let mine = "# mine\n\n17 3 * * * /bin/true mine\n\n";
    set_crontab(user, &format!("{mine}{}", crontab(user)));
    let with_block = crontab(user);
    let record = hosts.home("t1").join(".ordo/s/cron/tick");
    std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o000)).unwrap();
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai").replace(".place(\"x\")", ""),
    );
    let out = p.test().args(&["deploy", "prod", "--yes"]).status(1).run();
    assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
    assert_eq!(crontab(user), with_block, "the crontab is left as it is");
    std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("- t1:x cron tick (no longer declared)")
        .run();
    assert_eq!(crontab(user), mine, "only the block left");
}

/// The lock lives in `/tmp/ordo-<uid>`, where anyone can create that name first:
/// a directory there that is not the user's own is refused, by name, and the
/// crontab is left as it is. Once it is gone, the deploy goes through.
#[test]
fn a_crontab_lock_directory_of_another_user_is_refused() {
    let hosts = TestHosts::start(&["t1"]);
    let user = hosts.user("t1");
    let uid = std::process::Command::new("id")
        .args(["-u", user])
        .output()
        .expect("id -u");
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    let planted = std::path::PathBuf::from(format!("/tmp/ordo-{uid}"));
    let _ = std::fs::remove_dir_all(&planted);
    std::fs::create_dir(&planted).expect("plant the lock directory");
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = over_ssh(&hosts);
    let out = p.test().args(&["deploy", "prod", "--yes"]).status(1).run();
    let flat = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!(
            "cannot lock the crontab: {}, where every deploy of this user (uid {uid}) locks it, is not a directory of this user; remove it (as its owner, or root)",
            planted.display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(crontab(user), "", "the crontab is untouched");
    std::fs::remove_dir(&planted).expect("remove the planted directory");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("✓ t1:x cron tick")
        .run();
    assert_eq!(crontab(user).matches("# ordo s/tick begin").count(), 1);
}

/// A component with nothing but a cron entry: nothing else creates its root,
/// where cron runs the entry (`cd … && run`). The deploy creates it.
#[test]
fn a_cron_entry_gets_the_directory_it_runs_in() {
    let hosts = TestHosts::start(&["t1"]);
    let p = over_ssh(&hosts);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    assert!(hosts.home("t1").join("deployment/s").is_dir(), "the entry's directory");
}

/// The plan shows the entry with the home directory the crontab gets, not `~`
/// (which cron would not even expand, quoted): when it is created, and in the diff
/// of a change.
#[test]
fn the_plan_shows_the_cron_entry_as_the_crontab_gets_it() {
    let hosts = TestHosts::start(&["t1"]);
    let p = over_ssh(&hosts);
    let line = format!("@daily cd '{}/deployment/s' && true", hosts.home("t1").display());
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains(&format!("+ t1:x cron tick ({line})"))
        .run();
    assert!(
        crontab(hosts.user("t1")).contains(&format!("\n{line}\n")),
        "{}",
        crontab(hosts.user("t1"))
    );
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ run: \"date\" })"),
    );
    p.test().args(&["plan", "prod"]).snapshot("changed_entry").run();
}

/// A block that leaves the crontab takes nothing else with it: the user's own
/// entries stay. (The removal's awk read its empty block file as no file at all
/// and took the whole crontab for the block: removing an entry emptied the
/// crontab.)
#[test]
fn removing_a_cron_entry_keeps_the_rest_of_the_crontab() {
    let hosts = TestHosts::start(&["t1"]);
    let user = hosts.user("t1");
    let p = over_ssh(&hosts);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let mine = "# mine\n17 3 * * * /bin/true mine\n";
    set_crontab(user, &format!("{mine}{}", crontab(user)));
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai").replace(".place(\"x\")", ""),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("- t1:x cron tick (no longer declared)")
        .run();
    assert_eq!(crontab(user), mine, "only the block left");
}
