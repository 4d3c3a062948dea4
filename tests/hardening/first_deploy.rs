//! Every command ordo runs has a working directory that exists — on a host's first
//! deploy too (item 4); custom steps' pending markers work both ways and an update
//! must satisfy verify (item 5, the executor's half); a host deployed by one
//! environment is not silently taken over by another (item 9).

use std::path::Path;

use super::{over_ssh, service};
use crate::support::single_host;
use crate::support::sshd::{Setup, TestHosts};

/// Files in a local host's pending-marker directory.
fn pending(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn guards_work_on_a_hosts_first_deploy() {
    // `unless: "true"` skips, a relative guard sees nothing yet (the root does not
    // exist), and neither fails because the root is missing.
    let steps = "  c.add(command(\"skipped\", #{ run: \"touch skipped-ran\", unless: \"true\" }));\n  \
        c.add(command(\"needed\", #{ run: \"touch needed-ran\", unless: \"test -f needed-ran\" }));\n";
    let p = single_host(&service(steps)).build();
    p.test()
        .args(&["plan", "test"])
        .stdout(
            "
            plan test (service s): 2 steps on 1 host
              ! h:x command needed (its `unless` check failed)  services/s.rhai:4:9
            plan: 1 to change, 1 unchanged on 1 host
            ",
        )
        .expect_missing("hosts/h")
        .run();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .expect_file("hosts/h/deployment/s/needed-ran", "")
        .expect_missing("hosts/h/deployment/s/skipped-ran")
        .run();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 1 host up to date")
        .run();
}

#[test]
fn guards_over_ssh_run_in_their_directory_and_a_directory_they_cannot_enter_is_an_error() {
    guards_over_ssh_run_in_their_directory_and_a_directory_they_cannot_enter_is_an_error_on(TestHosts::setup());
}

/// [`guards_over_ssh_run_in_their_directory_and_a_directory_they_cannot_enter_is_an_error`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn guards_over_ssh_run_in_their_directory_and_a_directory_they_cannot_enter_is_an_error_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let steps = "  c.add(command(\"skipped\", #{ run: \"touch skipped-ran\", unless: \"true\" }));\n  \
        c.add(command(\"locked out\", #{ run: \"true\", unless: \"true\", cwd: \"/tmp/ordo-no-entry\" }));\n";
    let no_entry = Path::new("/tmp/ordo-no-entry");
    let p = over_ssh(&hosts, &["t1"], steps).build();
    let _ = std::fs::remove_dir_all(no_entry);
    std::fs::create_dir(no_entry).unwrap();
    std::os::unix::fs::chown(no_entry, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(no_entry, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    p.test()
        .args(&["plan", "prod"])
        .status(1)
        .stderr_contains("t1:x command locked out cannot be verified: its `unless` check cannot enter its directory")
        .stderr_contains("tmp/ordo-no-entry")
        .stderr_contains("services/s.rhai:4:9")
        .run();
    std::fs::remove_dir(no_entry).unwrap();
    // Once the directory is gone, the guard runs in an empty directory: as before
    // the deploy creates it.
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 1 host up to date")
        .expect_missing(hosts.home("t1").join("deployment/s/skipped-ran"))
        .expect_missing(no_entry)
        .run();
}

#[test]
fn ordo_run_on_a_never_deployed_local_host_runs_in_its_home() {
    let p = single_host(&service("  c.add(file(\"a\", \"a\"));\n")).build();
    p.test()
        .args(&["run", "test", "--", "pwd; touch made-here"])
        .stdout(
            "
            ── h (ok)
            [PROJECT]/hosts/h
            ",
        )
        .expect_file("hosts/h/made-here", "")
        .run();
}

#[test]
fn custom_step_commands_on_a_never_deployed_host_never_run_in_the_filesystem_root() {
    let steps = "  c.add(step(\"where\", #{\n    \
        verify: |host| { if host.run(\"pwd\").stdout == \"/\\n\" { throw \"verify ran in /\"; } true },\n    \
        update: |host| { },\n  }));\n";
    single_host(&service(steps))
        .args(&["plan", "test"])
        .stdout_contains("nothing to change: 1 step on 1 host up to date")
        .expect_missing("hosts/h")
        .run();
}

/// A custom step `mk` (it makes `x`) that a command watches; the command fails
/// while `ok` is missing.
const TRIGGERING_STEP: &str = "  let mk = c.add(step(\"mk\", #{\n    \
    verify: |host| host.run(\"if [ -f x ]; then echo yes; fi\").stdout == \"yes\\n\",\n    \
    update: |host| { host.run(\"touch x\"); },\n  }));\n  \
    c.add(command(\"react\", #{ run: \"test -f ok && echo reacted >> log\", on_change: [mk] }));\n";

#[test]
fn a_custom_step_that_changed_leaves_the_command_it_triggers_pending_until_it_succeeds() {
    let p = single_host(&service(TRIGGERING_STEP)).build();
    let markers = p.path("hosts/h/.ordo/s/pending");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_contains("h:x command react failed with exit code 1")
        .expect_file("hosts/h/deployment/s/x", "")
        .run();
    assert_eq!(pending(&markers).len(), 1, "the failed command's marker stays");
    // `mk` is up to date now; the command still runs because of its marker.
    p.write("hosts/h/deployment/s/ok", "");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("! h:x command react (a change it watches was applied, but it has not run since)")
        .expect_file("hosts/h/deployment/s/log", "reacted\n")
        .run();
    assert_eq!(pending(&markers), Vec::<String>::new());
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 1 host up to date")
        .run();
}

/// A file and a custom step that reloads when it changed (its verify alone never
/// asks for it); the reload fails while `fail` exists.
const WATCHING_STEP: &str = "  let conf = c.add(file(\"conf\", `v${c.attr(\"v\", 1)}`));\n  \
    c.add(step(\"reload\", #{\n    \
    verify: |host| true,\n    \
    update: |host| {\n      \
    if host.run(\"if [ -f fail ]; then echo yes; fi\").stdout == \"yes\\n\" { throw \"reload failed\"; }\n      \
    host.run(\"cat conf >> reloads; echo >> reloads\");\n    },\n    \
    on_change: [conf],\n  }));\n";

#[test]
fn a_custom_step_watching_a_file_runs_after_it_changed_and_its_marker_is_removed() {
    let p = single_host(&service(WATCHING_STEP)).build();
    let markers = p.path("hosts/h/.ordo/s/pending");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .expect_file("hosts/h/deployment/s/reloads", "v1\n")
        .run();
    assert_eq!(pending(&markers), Vec::<String>::new(), "removed after the step ran");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 1 host up to date")
        .run();

    // The file changes, the reload fails: its marker stays, and the next deploy
    // runs it although the file is up to date by then.
    p.write("hosts/h/deployment/s/fail", "");
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ v: 2 })"),
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_contains("h:x step reload failed in its update")
        .stderr_contains("reload failed")
        .expect_file("hosts/h/deployment/s/conf", "v2")
        .run();
    assert_eq!(pending(&markers).len(), 1, "the failed step's marker stays");
    std::fs::remove_file(p.path("hosts/h/deployment/s/fail")).unwrap();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("! h:x step reload (a change it watches was applied, but it has not run since)")
        .expect_file("hosts/h/deployment/s/reloads", "v1\nv2\n")
        .run();
    assert_eq!(pending(&markers), Vec::<String>::new());
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 1 host up to date")
        .run();
}

#[test]
fn an_update_that_does_not_satisfy_verify_fails_the_step() {
    let steps = "  c.add(step(\"liar\", #{ verify: |host| false, update: |host| { host.run(\"true\"); } }));\n";
    single_host(&service(steps))
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_contains("h:x step liar update did not bring the host to the verified state")
        .stderr_contains("services/s.rhai:3:9")
        .run();
}

#[test]
fn a_host_deployed_by_one_environment_is_not_taken_over_by_another() {
    let p = single_host(&service("  c.add(file(\"which\", c.environment));\n")).build();
    p.write(
        "environments/other.rhai",
        "let env = environment(\"other\", #{ service: \"s\" });\nenv.host(\"h\", #{ transport: \"local\", home: \"hosts/h\" }).place(\"x\");\n",
    );
    p.test().args(&["deploy", "test", "--yes"]).run();
    p.test()
        .args(&["deploy", "other", "--yes"])
        .status(2)
        .stderr_contains("host `h` runs environment `test` of service `s`")
        .stderr_contains("this is environment `other`")
        .stderr_contains("--switch-environment")
        .expect_file("hosts/h/deployment/s/which", "test")
        .expect_missing("hosts/h/.ordo/s/lock")
        .run();
    p.test()
        .args(&["status", "other"])
        .stdout_contains(", environment test, ")
        .run();
    p.test()
        .args(&["deploy", "other", "--yes", "--switch-environment"])
        .expect_file("hosts/h/deployment/s/which", "other")
        .run();
    p.test()
        .args(&["status", "test"])
        .stdout_contains(", environment other, ")
        .run();
    p.test().args(&["deploy", "test", "--yes"]).status(2).run();
}

/// The record of the last deploy that is not ordo's (edited, cut short) or that
/// cannot be read is an error, not a never-deployed host: read as one, any
/// environment would take the host over, and the deploy would rewrite the record.
/// The lock the probe took is released; once the record is back, all is as before.
#[test]
fn a_record_of_the_last_deploy_that_cannot_be_read_stops_the_deploy() {
    use std::os::unix::fs::PermissionsExt;
    let hosts = TestHosts::start(&["t1"]);
    let p = over_ssh(&hosts, &["t1"], "  c.add(file(\"which\", c.environment));\n").build();
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let state = hosts.home("t1").join(".ordo/s/state.json");
    let good = std::fs::read(&state).unwrap();
    std::fs::write(&state, "{\"fingerprint\": ").unwrap();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .failure()
        .stderr_contains("~/.ordo/s/state.json, the record of the last deploy, is not one ordo wrote")
        .stderr_contains("remove it if the host should count as never deployed")
        .expect_missing(hosts.home("t1").join(".ordo/s/lock"))
        .run();
    std::fs::write(&state, &good).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o000)).unwrap();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .failure()
        .stderr_contains(".ordo/s/state.json")
        .stderr_contains("Permission denied")
        .expect_missing(hosts.home("t1").join(".ordo/s/lock"))
        .run();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(std::fs::read(&state).unwrap(), good, "the record is as it was");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
}
