//! Hosts with a BusyBox userland (what Alpine runs), over real ssh: the test host's
//! login shell is BusyBox `ash` and its `PATH` holds only BusyBox applets (plus
//! `getent`, which Alpine ships and Debian's busybox lacks; see
//! `support::sshd::Setup::busybox` and docs/hosts.md). `examples/hello` deploys and
//! a second deploy changes nothing; the hardening tests that matter on such a host
//! (staging, removal, locks, modes, encoded probe output, "changed since the plan",
//! timeouts) run on it through `hardening::*_on` with a BusyBox setup. A host that
//! has neither userland gets one problem at probe time, before anything changes.

use crate::support::Test;
use crate::support::sshd::TestHosts;

const HELLO_SERVICE: &str = include_str!("../examples/hello/services/site.rhai");

#[test]
fn the_test_host_resolves_every_utility_to_busybox() {
    let hosts = TestHosts::setup().busybox().start(&["t1"]);
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| {});\n")
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    let out = p
        .test()
        .args(&[
            "run",
            "prod",
            "--",
            "for c in sh find xargs stat sha256sum base64 mktemp timeout setsid awk sed od mv ln chmod cat head tail sort; \
             do [ \"$(command -v $c)\" -ef /usr/bin/busybox ] || echo \"not busybox: $c\"; done; \
             for c in dpkg rpm bash; do command -v $c; done; [ /proc/$$/exe -ef /usr/bin/busybox ] && echo \"shell is busybox\"",
        ])
        .run();
    assert!(!out.stdout.contains("not busybox"), "{}", out.stdout);
    assert!(!out.stdout.contains("/dpkg") && !out.stdout.contains("/rpm") && !out.stdout.contains("/bash"));
    assert!(out.stdout.contains("shell is busybox"), "{}", out.stdout);
}

#[test]
fn examples_hello_deploys_on_busybox_hosts_and_a_second_deploy_changes_nothing() {
    let hosts = TestHosts::setup().busybox().start(&["api", "web"]);
    let p = Test::example("hello")
        .service(HELLO_SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["api"])
        .place("api")
        .ssh_hosts(&hosts, &["web"])
        .place("web")
        .override_("web", "#{ title: \"Hello from BusyBox\" }")
        .build();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("done: 12 changed, 0 unchanged, 0 failed, 0 skipped on 2 hosts")
        .run();
    let index = std::fs::read_to_string(hosts.home("web").join("deployment/site/current/htdocs/index.html")).unwrap();
    assert!(index.contains("Hello from BusyBox"), "{index}");
    let status = hosts.home("api").join("deployment/site/data/status.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&status).unwrap().permissions());
    assert_eq!(mode & 0o7777, 0o640, "{}", status.display());
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 12 steps on 2 hosts up to date")
        .run();
}

#[test]
fn a_host_without_a_utility_of_the_contract_is_refused_at_probe_time() {
    let hosts = TestHosts::setup().busybox().without("timeout").start(&["t1"]);
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.txt\", \"a\")); });\n")
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    let out = p
        .test()
        .args(&["deploy", "prod", "--yes"])
        .failure()
        .stderr_contains(
            "host `t1`: this host's userland is not supported: it has no `timeout` on the login user's PATH",
        )
        .run();
    assert_eq!(
        out.stderr.matches("not supported").count(),
        1,
        "one problem: {}",
        out.stderr
    );
    assert!(
        !hosts.home("t1").join(".ordo").exists(),
        "nothing changed, no lock taken"
    );
    assert!(!hosts.home("t1").join("deployment").exists());
}

/// Debian's BusyBox has neither `crontab` nor `flock`: a cron step on such a host
/// is a problem of the plan that says so, and nothing changes — it used to be
/// planned as an empty crontab and fail in the apply, after the other steps.
#[test]
fn a_cron_step_on_a_host_without_crontab_fails_the_plan() {
    let hosts = TestHosts::setup().busybox().start(&["t1"]);
    let p = Test::new()
        .service(
            "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"before.txt\", \"x\"));\n    c.add(cron(\"tick\", #{ schedule: \"@daily\", run: \"true\" }));\n});\n",
        )
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains(
            "t1:x cron tick cannot be verified: the crontab cannot be read: this host has no crontab command",
        )
        .run();
    assert!(
        !hosts.home("t1").join("deployment/s/before.txt").exists(),
        "nothing changed"
    );
}

#[test]
fn a_find_that_is_neither_gnu_nor_busybox_is_refused_at_probe_time() {
    // What BSD's find says to -printf.
    let bsd_find = "#!/bin/sh\ncase \" $* \" in *' -printf '*) echo 'find: -printf: unknown primary or operator' >&2; exit 1;; esac\nexec /usr/bin/find \"$@\"\n";
    let hosts = TestHosts::setup()
        .without("nothing")
        .replace("find", bsd_find)
        .start(&["t1"]);
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.txt\", \"a\")); });\n")
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .failure()
        .stderr_contains(
            "host `t1`: this host's userland is not supported: its `find` has no `-printf` and is not BusyBox's \
             (find: -printf: unknown primary or operator)",
        )
        .run();
    assert!(!hosts.home("t1").join("deployment").exists());
}

/// The hardening tests that matter on a BusyBox host, run on one: each is the GNU
/// test of the same name in `tests/hardening/`, with the hosts a BusyBox setup makes.
mod hardening {
    use crate::hardening::{first_deploy, host_files, locks, many_files, removal, shown};
    use crate::support::sshd::{Setup, TestHosts};

    fn busybox() -> Setup {
        TestHosts::setup().busybox()
    }

    #[test]
    fn a_thousand_files_with_paths_longer_than_arg_max_plan_and_deploy_on_busybox() {
        many_files::a_thousand_files_with_paths_longer_than_arg_max_plan_and_deploy_over_ssh_on(busybox());
    }

    #[test]
    fn staging_names_are_unpredictable_on_busybox() {
        host_files::staging_names_are_unpredictable_and_pre_created_names_cannot_redirect_writes_on(busybox());
    }

    #[test]
    fn a_symlink_target_starting_with_a_dash_is_a_target_on_busybox() {
        host_files::a_symlink_target_starting_with_a_dash_is_a_target_on(busybox());
    }

    #[test]
    fn a_crafted_link_target_cannot_forge_probe_lines_on_busybox() {
        host_files::a_crafted_link_target_cannot_forge_probe_lines_on(busybox());
    }

    #[test]
    fn changed_since_the_plan_on_busybox() {
        host_files::a_real_file_created_at_a_symlinks_path_after_the_plan_is_not_deleted_on(busybox());
    }

    #[test]
    fn a_symlinked_parent_directory_is_not_followed_on_busybox() {
        host_files::a_symlinked_parent_directory_is_not_followed_on(busybox());
    }

    #[test]
    fn private_files_have_their_mode_before_their_content_on_busybox() {
        host_files::another_user_never_reads_a_private_file_while_it_is_deployed_on(busybox());
    }

    #[test]
    fn what_ordo_created_and_no_longer_declares_is_removed_on_busybox() {
        removal::what_ordo_created_and_no_longer_declares_is_planned_and_removed_over_ssh_on(busybox());
    }

    #[test]
    fn signals_stop_the_remote_command_and_release_the_lock_on_busybox() {
        locks::sigint_sigterm_and_sighup_stop_the_remote_command_release_the_lock_and_exit_130_on(busybox());
    }

    #[test]
    fn a_signal_while_a_guard_hangs_releases_the_lock_on_busybox() {
        locks::a_signal_while_a_guard_hangs_in_the_probe_stops_it_and_releases_the_lock_on(busybox());
    }

    #[test]
    fn a_lock_that_cannot_be_removed_is_reported_on_busybox() {
        locks::a_lock_that_cannot_be_removed_is_reported_not_claimed_released_on(busybox());
    }

    #[test]
    fn hanging_guards_and_commands_time_out_with_their_process_group_on_busybox() {
        shown::a_hanging_guard_and_a_hanging_command_are_stopped_with_their_process_group_on(busybox());
    }

    #[test]
    fn control_characters_from_a_host_are_shown_escaped_on_busybox() {
        shown::control_characters_from_a_host_are_shown_escaped_on(busybox());
    }

    /// What the login user may not write is found by `test -w/-x/-k/-O`: ash's
    /// builtins answer as dash's do. (The host has `python3`, so that the
    /// virtualenv step is refused for its path, as on the GNU host.)
    #[test]
    fn paths_outside_the_login_users_reach_fail_the_plan_before_any_change_on_busybox() {
        crate::access::paths_outside_the_login_users_reach_fail_the_plan_before_any_change_on(
            busybox().with("/usr/bin/python3"),
        );
    }

    #[test]
    fn another_users_file_keeps_its_mode_and_a_sticky_directory_its_entries_on_busybox() {
        crate::access::another_users_file_keeps_its_mode_and_a_sticky_directory_its_entries_on(busybox());
    }

    #[test]
    fn guards_run_in_their_directory_on_busybox() {
        first_deploy::guards_over_ssh_run_in_their_directory_and_a_directory_they_cannot_enter_is_an_error_on(busybox());
    }
}

/// What "started" means (`tests/started.rs`), on a BusyBox host: the program's
/// process is known by pid and start time there too, and the socket that answers
/// its health check is traced to it — BusyBox's `find` has neither `-lname` nor
/// `-printf`, so the open files are read with `stat -c '%N'`. The host has
/// `python3` (`apk add python3`: the servers and `http_check`) and, for
/// `tcp_check`, `bash`.
mod started {
    use crate::started::*;
    use crate::support::sshd::{Setup, TestHosts};

    fn busybox() -> Setup {
        TestHosts::setup()
            .busybox()
            .with("/usr/bin/python3")
            .with("/usr/bin/bash")
    }

    #[test]
    fn a_program_that_answers_its_own_check_starts_on_busybox() {
        a_program_that_answers_its_own_check_starts_on(busybox());
    }

    #[test]
    fn a_health_check_answered_by_a_socket_of_another_user_fails_the_start_on_busybox() {
        a_health_check_answered_by_a_socket_of_another_user_fails_the_start_on(busybox(), &["process"]);
    }

    #[test]
    fn a_program_that_cannot_bind_its_port_fails_although_another_server_answers_its_check_on_busybox() {
        a_program_that_cannot_bind_its_port_fails_although_another_server_answers_its_check_on(busybox());
    }

    #[test]
    fn a_recorded_pid_that_now_belongs_to_another_process_is_neither_trusted_nor_signalled_on_busybox() {
        a_recorded_pid_that_now_belongs_to_another_process_is_neither_trusted_nor_signalled_on(busybox());
    }

    #[test]
    fn a_component_with_only_a_program_starts_on_busybox() {
        a_component_with_only_a_program_starts_on(busybox());
    }

    #[test]
    fn a_program_up_soon_is_seen_before_its_health_checks_interval_on_busybox() {
        a_program_up_soon_is_seen_before_its_health_checks_interval_on(busybox());
    }

    #[test]
    fn a_restart_launches_although_an_orphan_carries_the_programs_token_on_busybox() {
        a_restart_launches_although_an_orphan_carries_the_programs_token_on(busybox());
    }
}

#[test]
fn a_program_as_a_plain_process_starts_restarts_and_is_removed_on_busybox() {
    let hosts = TestHosts::setup().busybox().start(&["t1"]);
    let service = |gone: bool| {
        format!(
            "let s = service(\"s\");\ns.component(\"x\", |c| {{\n{}}});\n",
            if gone {
                "    let v = c.attr(\"v\", \"1\");\n".to_string()
            } else {
                "    let conf = c.add(file(\"app.conf\", c.attr(\"v\", \"1\")));\n    \
                 c.add(program(\"app\", #{ command: \"sh -c 'sleep 3606 & exec sleep 3605'\", backend: \"process\", restart_on: [conf], \
                 health: command_check(\"test -s app.conf\", #{ interval: 0.1 }) }));\n"
                    .to_string()
            }
        )
    };
    let p = Test::new()
        .service(&service(false))
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    let user = hosts.user("t1").to_string();
    let running = || pids(&user, "sleep 3605");
    // The program's child, in its process group: stopped with it.
    let child = || pids(&user, "sleep 3606");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("+ t1:x program app (start: under process)")
        .run();
    let first = running();
    assert_eq!(first.len(), 1, "{first:?}");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    assert_eq!(running(), first, "a no-op deploy leaves it alone");
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ v: \"2\" })"),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("! t1:x program app (restart: file app.conf changed)")
        .run();
    let second = running();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first, "restarted: a new process, the old one stopped");
    assert_eq!(child().len(), 1, "the old program's child went with it");
    p.write("services/s.rhai", &service(true));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("- t1:x program app")
        .run();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(running().is_empty(), "removed: stopped");
    assert!(child().is_empty(), "its child too");
}

/// The pids of `user`'s processes whose command line contains `text`.
fn pids(user: &str, text: &str) -> Vec<String> {
    let out = std::process::Command::new("pgrep")
        .args(["-u", user, "-f", text])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}
