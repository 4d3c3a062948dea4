//! The deploy lock always releases and fails closed (item 3): an error after it
//! was taken (a custom verify that throws, a probe that cannot be read or exits
//! non-zero) leaves no lock; SIGINT, SIGTERM and SIGHUP stop the remote command,
//! release the lock and exit 130; a full disk or a state directory that cannot be
//! created stops the deploy instead of running it unlocked; a lock whose holder
//! died on this machine is stale, and `--break-lock` refuses a live one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{chown_to, over_ssh, service};
use crate::support::single_host;
use crate::support::sshd::{Setup, TestHosts};

const ONE_FILE: &str = "  c.add(file(\"a\", \"a\"));\n";

/// A directory of executables named `name` with `body`, to put first in ordo's
/// `PATH`: the local transport's scripts find them instead of the real tools.
fn wrapper(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

#[test]
fn a_custom_verify_that_throws_after_the_lock_was_taken_leaves_no_lock() {
    let steps = "  c.add(file(\"a\", \"a\"));\n  \
        c.add(step(\"boom\", #{ verify: |host| { throw \"verify exploded\"; }, update: |host| { } }));\n";
    let p = single_host(&service(steps)).build();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_contains("h:x step boom failed in its verify")
        .stderr_contains("verify exploded")
        .expect_missing("hosts/h/.ordo/s/lock")
        .expect_missing("hosts/h/deployment/s/a")
        .run();
    let hosts = TestHosts::start(&["t1"]);
    over_ssh(&hosts, &["t1"], steps)
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains("t1:x step boom failed in its verify")
        .expect_missing(hosts.home("t1").join(".ordo/s/lock"))
        .expect_missing(hosts.home("t1").join("deployment/s/a"))
        .run();
}

#[test]
fn a_probe_that_cannot_be_read_after_the_lock_was_taken_leaves_no_lock() {
    let p = single_host(&service(ONE_FILE)).build();
    // `find` answers with something that is not its `-printf` format.
    let path = wrapper(&p.path("bin-garbage"), "find", "printf 'garbage'");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .env("PATH", &path)
        .status(1)
        .stderr_contains("host `h`: unexpected probe output")
        .stderr_contains("nothing was changed")
        .expect_missing("hosts/h/.ordo/s/lock")
        .expect_missing("hosts/h/deployment/s/a")
        .run();
}

#[test]
fn a_probe_that_exits_non_zero_after_the_lock_was_taken_leaves_no_lock() {
    let p = single_host(&service(ONE_FILE)).build();
    // The probe's shell is stopped half-way (after the lock line).
    let path = wrapper(&p.path("bin-term"), "xargs", "kill -TERM $PPID; sleep 5");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .env("PATH", &path)
        .status(1)
        .stderr_contains("host `h`: probing failed (exit 143)")
        .expect_missing("hosts/h/.ordo/s/lock")
        .expect_missing("hosts/h/deployment/s/a")
        .run();
    // Stopped harder: killed, no trap runs.
    let path = wrapper(&p.path("bin-kill"), "xargs", "kill -KILL $PPID");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .env("PATH", &path)
        .status(1)
        .stderr_contains("host `h`: probing failed")
        .expect_missing("hosts/h/.ordo/s/lock")
        .run();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .expect_file("hosts/h/deployment/s/a", "a")
        .run();
}

#[test]
fn a_lock_that_cannot_be_removed_is_reported_not_claimed_released() {
    a_lock_that_cannot_be_removed_is_reported_not_claimed_released_on(TestHosts::setup());
}

/// [`a_lock_that_cannot_be_removed_is_reported_not_claimed_released`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn a_lock_that_cannot_be_removed_is_reported_not_claimed_released_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    // A step takes away the login user's right to remove entries of `~/.ordo/s`
    // halfway through the deploy.
    let steps = "  c.add(step(\"seal\", #{ verify: |h| false, update: |h| { h.run(\"chmod 500 ~/.ordo/s\"); } }));\n";
    let p = over_ssh(&hosts, &["t1"], steps).build();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains("host `t1`: the deploy lock could not be released")
        .stderr_contains("Permission denied")
        .stderr_contains("--break-lock")
        .run();
    assert!(
        hosts.home("t1").join(".ordo/s/lock").is_dir(),
        "the lock is still there, as reported"
    );
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Processes of `user` whose command line contains `text`.
fn processes(user: &str, text: &str) -> String {
    let out = Command::new("pgrep")
        .args(["-a", "-u", user, "-f", text])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sigint_sigterm_and_sighup_stop_the_remote_command_release_the_lock_and_exit_130() {
    sigint_sigterm_and_sighup_stop_the_remote_command_release_the_lock_and_exit_130_on(TestHosts::setup());
}

/// [`sigint_sigterm_and_sighup_stop_the_remote_command_release_the_lock_and_exit_130`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn sigint_sigterm_and_sighup_stop_the_remote_command_release_the_lock_and_exit_130_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let user = hosts.user("t1").to_string();
    let home = hosts.home("t1").to_path_buf();
    let steps = "  c.add(command(\"slow\", #{ run: \"touch ~/started; exec sleep 3601\", creates: \"~/never\" }));\n";
    let p = over_ssh(&hosts, &["t1"], steps).build();
    let config = p.path("ssh_config");
    for (round, signal) in ["INT", "TERM", "HUP"].iter().cycle().take(10).enumerate() {
        let _ = std::fs::remove_file(home.join("started"));
        let mut ordo = Command::new(env!("CARGO_BIN_EXE_ordo"))
            .args(["deploy", "prod", "--yes"])
            .current_dir(p.root())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !home.join("started").exists() {
            assert!(Instant::now() < deadline, "round {round}: the command never started");
            assert!(ordo.try_wait().unwrap().is_none(), "round {round}: ordo ended early");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            home.join(".ordo/s/lock").is_dir(),
            "round {round}: the deploy holds the lock"
        );
        let sent = Instant::now();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(ordo.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let out = ordo.wait_with_output().unwrap();
        let took = sent.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "round {round} (SIG{signal}): {stderr}");
        assert!(stderr.contains("interrupted"), "round {round} (SIG{signal}): {stderr}");
        assert!(
            !home.join(".ordo/s/lock").exists(),
            "round {round} (SIG{signal}): the lock was left behind\n{stderr}"
        );
        assert!(took < Duration::from_secs(10), "round {round}: stopping took {took:?}");
        // ordo releases the lock and ends only after the script was stopped: when
        // it has exited, nothing of the script runs on the host.
        let left = processes(&user, "sleep 3601");
        assert!(
            left.is_empty(),
            "round {round} (SIG{signal}): still running on the host after ordo ended:\n{left}"
        );
        let masters = Command::new("pgrep").arg("-af").arg(&config).output().unwrap();
        assert!(
            masters.stdout.is_empty(),
            "round {round}: ssh masters left: {}",
            String::from_utf8_lossy(&masters.stdout)
        );
    }
}

#[test]
fn a_signal_while_a_guard_hangs_in_the_probe_stops_it_and_releases_the_lock() {
    a_signal_while_a_guard_hangs_in_the_probe_stops_it_and_releases_the_lock_on(TestHosts::setup());
}

/// [`a_signal_while_a_guard_hangs_in_the_probe_stops_it_and_releases_the_lock`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn a_signal_while_a_guard_hangs_in_the_probe_stops_it_and_releases_the_lock_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let user = hosts.user("t1").to_string();
    let home = hosts.home("t1").to_path_buf();
    let steps = "  c.add(command(\"c\", #{ run: \"true\", unless: \"touch ~/guarding; exec sleep 3606\" }));\n";
    let p = over_ssh(&hosts, &["t1"], steps).build();
    let ordo = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["deploy", "prod", "--yes"])
        .current_dir(p.root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !home.join("guarding").exists() {
        assert!(Instant::now() < deadline, "the guard never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(home.join(".ordo/s/lock").is_dir(), "the probe took the lock");
    assert!(
        Command::new("kill")
            .arg("-INT")
            .arg(ordo.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let out = ordo.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!home.join(".ordo/s/lock").exists(), "the lock was left behind");
    let deadline = Instant::now() + Duration::from_secs(3);
    while !processes(&user, "sleep 3606").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the guard still runs: {}",
            processes(&user, "sleep 3606")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A tmpfs mounted on `dir` (`size` bytes, owned by `user`) and filled up;
/// unmounted when dropped.
struct FullDisk(PathBuf);

impl FullDisk {
    fn mount(dir: &Path, user: &str, size: u32) -> FullDisk {
        std::fs::create_dir_all(dir).unwrap();
        // The mount point stays when the tmpfs goes: the user's, as `~/.ordo` is.
        chown_to(user, dir);
        let uid = String::from_utf8(Command::new("id").arg("-u").arg(user).output().unwrap().stdout).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},uid={},mode=0755", uid.trim()))
            .arg("tmpfs")
            .arg(dir)
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "mounting a tmpfs on {} (the tests run as root)",
            dir.display()
        );
        let disk = FullDisk(dir.to_path_buf());
        let fill = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "dd if=/dev/zero of={}/fill bs=4096 2>/dev/null; df {0}",
                dir.display()
            ))
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&fill.stdout).contains("100%"),
            "{}",
            String::from_utf8_lossy(&fill.stdout)
        );
        disk
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_makes_the_lock_fail_closed() {
    let hosts = TestHosts::start(&["t1"]);
    let p = over_ssh(&hosts, &["t1"], ONE_FILE).build();
    let state = hosts.home("t1").join(".ordo");
    let disk = FullDisk::mount(&state, hosts.user("t1"), 64 * 1024);
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(4)
        .stderr_contains("host `t1`: the deploy lock could not be taken, so nothing was changed")
        .stderr_contains("No space left on device")
        .expect_missing(state.join("s/lock"))
        .expect_missing(hosts.home("t1").join("deployment/s/a"))
        .run();
    drop(disk);
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .expect_file(hosts.home("t1").join("deployment/s/a"), "a")
        .expect_missing(state.join("s/lock"))
        .run();
}

#[test]
fn a_state_directory_that_cannot_be_created_makes_the_deploy_fail_closed() {
    let hosts = TestHosts::start(&["t1"]);
    let p = over_ssh(&hosts, &["t1"], ONE_FILE).build();
    // `~/.ordo` belongs to root: the user cannot create `~/.ordo/s` in it.
    std::fs::create_dir(hosts.home("t1").join(".ordo")).unwrap();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(4)
        .stderr_contains("host `t1`: the deploy lock could not be taken, so nothing was changed")
        .stderr_contains("cannot create directory './.ordo/s'")
        .expect_missing(hosts.home("t1").join("deployment"))
        .run();
    chown_to(hosts.user("t1"), &hosts.home("t1").join(".ordo"));
    p.test().args(&["deploy", "prod", "--yes"]).run();
}

#[test]
fn a_lock_whose_holder_died_here_is_stale_and_break_lock_refuses_a_live_holder() {
    let p = single_host(&service(ONE_FILE)).build();
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    assert!(!alive(dead));
    let lock = |pid: u32| {
        format!(
            r#"{{"holder":"{}","pid":{pid},"environment":"test","since":"2026-11-25T10:00:00Z","token":"0123abcd"}}"#,
            ordo::sys::operator()
        )
    };
    p.write("hosts/h/.ordo/s/lock/info", &lock(dead));
    p.test()
        .args(&["deploy", "test", "--yes"])
        .status(4)
        .stderr_contains(&format!(
            "host `h` is locked by {} (pid {dead}, environment test)",
            ordo::sys::operator()
        ))
        .stderr_contains("the lock is stale: that process no longer runs on this machine")
        .expect_missing("hosts/h/deployment")
        .run();
    p.test()
        .args(&["status", "test"])
        .stdout_contains("stale: that process no longer runs here")
        .run();

    // A holder that still runs here (this test) is not broken.
    let me = std::process::id();
    p.write("hosts/h/.ordo/s/lock/info", &lock(me));
    p.test()
        .args(&["deploy", "test", "--yes", "--break-lock"])
        .status(4)
        .stderr_contains(&format!("(pid {me}, environment test)"))
        .stderr_contains("is still running on this machine")
        .stderr_contains("--break-lock only removes the locks of deploys that died")
        .expect_missing("hosts/h/deployment")
        .run();
    assert_eq!(
        p.read("hosts/h/.ordo/s/lock/info"),
        lock(me),
        "the live holder's lock stays"
    );

    p.write("hosts/h/.ordo/s/lock/info", &lock(dead));
    p.test()
        .args(&["deploy", "test", "--yes", "--break-lock"])
        .stdout_contains(&format!(
            "broke the lock on h held by {} (pid {dead}",
            ordo::sys::operator()
        ))
        .expect_file("hosts/h/deployment/s/a", "a")
        .expect_missing("hosts/h/.ordo/s/lock")
        .run();
}
