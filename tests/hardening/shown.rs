//! What reaches the operator's terminal and memory: a private or sensitive file's
//! content never appears in a plan, deploy or JSON output, only that it changed,
//! with short hashes (item 18); control characters from a host (file contents,
//! link targets, command output) are shown escaped (item 19); a hanging guard or
//! command is stopped with its process group and reported, and a flood of output
//! keeps the controller's memory bounded (item 21).

use std::process::Command;
use std::time::{Duration, Instant};

use super::{over_ssh, service};
use crate::support::single_host;
use crate::support::sshd::{Setup, TestHosts};

/// A private file (0600) and a sensitive one (world-readable, but marked).
fn private_steps(version: &str) -> String {
    format!(
        "  c.add(file(\"db.key\", #{{ content: \"{version}-key-material\\n\", mode: 0o600 }}));\n  \
         c.add(file(\"token\", #{{ content: \"{version}-token-value\\n\", sensitive: true }}));\n  \
         c.add(file(\"opened\", #{{ content: \"{version}-was-private\\n\", mode: 0o644 }}));\n"
    )
}

#[test]
fn private_and_sensitive_contents_never_appear_in_plans_or_deploys() {
    let hosts = TestHosts::start(&["t1"]);
    let p = over_ssh(&hosts, &["t1"], &private_steps("old")).build();
    let root = hosts.home("t1").join("deployment/s");
    let secrets = [
        "old-key-material",
        "old-token-value",
        "new-key-material",
        "new-token-value",
        "old-was-private",
    ];
    for format in ["human", "json"] {
        p.test()
            .args(&["plan", "prod", "--format", format])
            .stdout_lacks(secrets[0])
            .stdout_lacks(secrets[1])
            .run();
    }
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_lacks("old-key")
        .stdout_lacks("old-token")
        .run();
    // `opened` is private on the host for now: its old content stays hidden even
    // though the new one is world-readable.
    std::fs::set_permissions(root.join("opened"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    p.write("services/s.rhai", &service(&private_steps("new")));
    let short = |content: &str| ordo::sys::sha256_hex(content.as_bytes())[..12].to_string();
    let plan = p
        .test()
        .args(&["plan", "prod"])
        .stdout_contains(&format!(
            "content changed ({} → {}), not shown: private or sensitive",
            short("old-key-material\n"),
            short("new-key-material\n")
        ))
        .stdout_contains(&format!(
            "content changed ({} → {}), not shown: private or sensitive",
            short("old-token-value\n"),
            short("new-token-value\n")
        ))
        .stdout_contains("mode 0600 → 0644")
        .run();
    let json = p.test().args(&["plan", "prod", "--format", "json"]).run();
    let deploy = p.test().args(&["deploy", "prod", "--yes"]).run();
    let deploy_json = p.test().args(&["deploy", "prod", "--yes", "--format", "json"]).run();
    for out in [&plan, &json, &deploy, &deploy_json] {
        for secret in secrets {
            assert!(!out.stdout.contains(secret), "{secret} shown:\n{}", out.stdout);
            assert!(!out.stderr.contains(secret), "{secret} shown:\n{}", out.stderr);
        }
    }
    assert!(
        json.stdout.contains("not shown: private or sensitive"),
        "{}",
        json.stdout
    );
}

#[test]
fn control_characters_from_a_host_are_shown_escaped() {
    control_characters_from_a_host_are_shown_escaped_on(TestHosts::setup());
}

/// [`control_characters_from_a_host_are_shown_escaped`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn control_characters_from_a_host_are_shown_escaped_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let steps = "  c.add(file(\"page\", \"plain\\n\"));\n  c.add(symlink(\"current\", \"releases/1\"));\n";
    let p = over_ssh(&hosts, &["t1"], steps).build();
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let root = hosts.home("t1").join("deployment/s");
    // What a hostile host shows: colours, a cleared screen, a retitled terminal, a
    // carriage return that overwrites the line.
    let nasty = "\x1b[2J\x1b]0;pwned\x07\r\x1b[31mred";
    std::fs::write(root.join("page"), format!("{nasty}\n")).unwrap();
    std::fs::remove_file(root.join("current")).unwrap();
    std::os::unix::fs::symlink(nasty, root.join("current")).unwrap();
    super::chown_to(hosts.user("t1"), &root);
    for format in ["human", "json"] {
        let out = p.test().args(&["plan", "prod", "--format", format]).run();
        for c in ['\x1b', '\x07', '\r'] {
            assert!(
                !out.stdout.contains(c),
                "raw {c:?} reached stdout:\n{}",
                out.stdout.escape_debug()
            );
        }
        assert!(out.stdout.contains("u{1b}[2J"), "{}", out.stdout);
    }
    p.test()
        .args(&["plan", "prod"])
        .stdout_contains("      -\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{d}")
        .stdout_contains("-> \\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{d}\\u{1b}[31mred\n")
        .run();
    let out = p
        .test()
        .args(&[
            "run",
            "prod",
            "--",
            "printf '\\033[2J\\033]0;pwned\\007\\r\\033[31mred\\n'",
        ])
        .stdout(
            "
            ── t1 (ok)
            \\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{d}\\u{1b}[31mred
            ",
        )
        .run();
    assert!(!out.stdout.contains('\x1b'));
}

/// Processes of `user` whose command line contains `text`, after giving them a
/// moment to go.
fn still_running(user: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let out = Command::new("pgrep")
            .args(["-a", "-u", user, "-f", text])
            .output()
            .unwrap();
        let found = String::from_utf8_lossy(&out.stdout).into_owned();
        if found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_hanging_guard_and_a_hanging_command_are_stopped_with_their_process_group() {
    a_hanging_guard_and_a_hanging_command_are_stopped_with_their_process_group_on(TestHosts::setup());
}

/// [`a_hanging_guard_and_a_hanging_command_are_stopped_with_their_process_group`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn a_hanging_guard_and_a_hanging_command_are_stopped_with_their_process_group_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let user = hosts.user("t1").to_string();
    // Each starts a grandchild too, which must go with it.
    let guard = "  c.add(command(\"guarded\", #{ run: \"true\", unless: \"sh -c 'sleep 3602' & sleep 3602\" }));\n";
    let p = over_ssh(&hosts, &["t1"], guard).build();
    let started = Instant::now();
    p.test()
        .args(&["plan", "prod", "--timeout", "2"])
        .status(1)
        .stderr_contains("t1:x command guarded cannot be verified: its `unless` check did not finish within 2 s")
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(still_running(&user, "sleep 3602"), "", "the guard's processes are gone");
    assert!(!hosts.home("t1").join(".ordo/s/lock").exists());

    let command =
        "  c.add(command(\"hangs\", #{ run: \"sh -c 'sleep 3603' & sleep 3603\", always: true, timeout: 2 }));\n";
    p.write("services/s.rhai", &service(command));
    let started = Instant::now();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains("t1:x command hangs failed with exit code 124")
        .stderr_contains("ordo: stopped after 2 s (timeout)")
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        still_running(&user, "sleep 3603"),
        "",
        "the command's processes are gone"
    );
    assert!(!hosts.home("t1").join(".ordo/s/lock").exists());

    p.test()
        .args(&["run", "prod", "--timeout", "2", "--", "sh -c 'sleep 3604' & sleep 3604"])
        .status(1)
        .stdout(
            "
            ── t1 (failed: host `t1`: the script did not finish within 2 s; ordo stopped it and every process it started)
            ",
        )
        .run();
    assert_eq!(
        still_running(&user, "sleep 3604"),
        "",
        "the command's processes are gone"
    );
}

/// The peak resident memory of `ordo args` in KiB, measured by `/usr/bin/time -v`.
fn max_rss_kib(project: &std::path::Path, args: &[&str]) -> (u64, String) {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_ordo"))
        .args(args)
        .current_dir(project)
        .env("NO_COLOR", "1")
        .output()
        .expect("/usr/bin/time (apt-get install time)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let kib = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .unwrap_or_else(|| panic!("no peak memory in: {stderr}"))
        .parse()
        .unwrap();
    (kib, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn ordo_run_of_a_command_printing_200_mb_keeps_the_controllers_memory_bounded() {
    let p = single_host(&service("  c.add(file(\"a\", \"a\"));\n")).build();
    let (small, _) = max_rss_kib(p.root(), &["run", "test", "--", "echo hi"]);
    let (kib, stdout) = max_rss_kib(
        p.root(),
        &[
            "run",
            "test",
            "--",
            "yes 0123456789012345678901234567890123456789012345678 | head -c 200000000; echo last",
        ],
    );
    assert!(stdout.ends_with("last\n"), "the tail is shown");
    assert!(
        stdout.contains("bytes before these lines not kept"),
        "{}",
        &stdout[..stdout.len().min(500)]
    );
    eprintln!("peak memory: {small} KiB for `echo hi`, {kib} KiB for 200 MB of output");
    assert!(
        kib < small + 64 * 1024,
        "200 MB of output took the controller from {small} KiB to {kib} KiB"
    );
}
