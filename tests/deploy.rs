//! Deploying on the local transport: the real example, ordering across hosts,
//! idempotence, pending commands surviving failures, atomic writes, output formats.
//!
//! The example's rendered output is pinned by snapshots (`main__deploy__example_*`):
//! plan, first and second deploy, status, graph and the JSON plan. They are the
//! safety net for changes to the executor and the reporters: an intended change of
//! the output shows up there as a diff to review.

use crate::support::{Test, single_host};

fn step_events(events: &[serde_json::Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "step" && e["status"] != "unchanged")
        .map(|e| {
            (
                e["host"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const INDEX_HTML: &str = "
    <!doctype html>
    <html>
    <head><title>Hello from ordo</title></head>
    <body>
    <h1>Hello from ordo</h1>
    <p>Served from web (web), release 1.0.0.</p>
    <p>API: <a href=\"http://localhost:8081/\">http://localhost:8081/</a></p>
    </body>
    </html>
";

#[test]
fn example_deploys_and_a_second_deploy_changes_nothing() {
    let p = Test::example("hello").build();
    p.test()
        .args(&["deploy", "local", "--yes"])
        .snapshot("example_first_deploy")
        // The page carries the value provided by the api host.
        .expect_file(".ordo-hosts/web/deployment/site/current/htdocs/index.html", INDEX_HTML)
        // The custom Rhai step ran.
        .expect_file(
            ".ordo-hosts/web/deployment/site/api-url.txt",
            "http://localhost:8081/\n",
        )
        .expect_file(
            ".ordo-hosts/api/.ordo/site/state.json",
            r#"
            {
              "fingerprint": "[FINGERPRINT]",
              "ordo_version": "[VERSION]",
              "environment": "local",
              "service": "site",
              "deployed_at": "[DATE]",
              "deployed_by": "[OPERATOR]",
              "commit": null
            }"#,
        )
        .run();
    assert!(
        p.path(".ordo-hosts/web/deployment/site/current/htdocs/index.html.gz")
            .exists(),
        "on_change command ran"
    );

    p.test()
        .args(&["deploy", "local", "--yes"])
        .stdout(
            "
            deploy local (service site): 12 steps on 2 hosts
            nothing to change: 12 steps on 2 hosts up to date
            done: 0 changed, 12 unchanged, 0 failed, 0 skipped on 2 hosts in [TIME]
            ",
        )
        .run();
}

#[test]
fn plan_shows_changes_and_changes_nothing() {
    Test::example("hello")
        .args(&["plan", "local"])
        .snapshot("example_plan")
        .expect_missing(".ordo-hosts")
        .run();
}

#[test]
fn changed_attribute_shows_a_diff_and_applies_only_that() {
    let p = Test::example("hello").build();
    p.test().args(&["deploy", "local", "--yes"]).run();
    let env = p
        .read("environments/local.rhai")
        .replace("Hello from ordo", "Hello again");
    p.write("environments/local.rhai", &env);
    p.test()
        .args(&["plan", "local"])
        .snapshot("example_plan_after_a_change")
        .run();
    let out = p.test().args(&["deploy", "local", "--yes", "--format", "json"]).run();
    let steps = step_events(&out.events());
    assert_eq!(steps.len(), 2, "{steps:?}");
    let unchanged = out
        .events()
        .iter()
        .filter(|e| e["event"] == "step" && e["status"] == "unchanged")
        .count();
    assert_eq!(unchanged, 10, "every step is reported, unchanged ones too");
    assert!(steps.iter().all(|(h, _, s)| h == "web" && s == "changed"), "{steps:?}");
}

#[test]
fn provider_host_runs_before_requirer_host() {
    let out = Test::example("hello")
        .args(&["deploy", "local", "--yes", "--format", "json"])
        .run();
    let steps = step_events(&out.events());
    let last_api = steps.iter().rposition(|(h, _, _)| h == "api").expect("api steps");
    let first_web = steps.iter().position(|(h, _, _)| h == "web").expect("web steps");
    assert!(
        last_api < first_web,
        "web requires api:url, so api goes first: {steps:?}"
    );
}

#[test]
fn json_output_is_one_event_per_line() {
    let out = Test::example("hello")
        .args(&["plan", "local", "--format", "json"])
        .run();
    let events = out.events();
    assert_eq!(events[0]["event"], "start");
    assert_eq!(events.iter().filter(|e| e["event"] == "planned").count(), 12);
    assert_eq!(events.last().unwrap()["event"], "plan_done");
    let template = events
        .iter()
        .find(|e| e["path"] == "web:web template releases/1.0.0/htdocs/index.html")
        .unwrap();
    assert_eq!(template["change"], "create");
    assert_eq!(template["span"], "stdlib/web.rhai:23:26");

    // Hosts are probed in parallel: their progress events interleave as the
    // probes finish. Each host's own are in order; the rest is a snapshot.
    for host in ["api", "web"] {
        let activities: Vec<&str> = events
            .iter()
            .filter(|e| e["event"] == "progress" && e["host"] == host)
            .map(|e| e["activity"].as_str().unwrap())
            .collect();
        assert_eq!(activities, ["connecting", "done", "probing", "done"], "{host}");
    }
    let rest: String = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with(r#"{"event":"progress","#))
        .map(|l| format!("{l}\n"))
        .collect();
    crate::support::assert_snapshot(
        file!(),
        "example_plan_json",
        "ordo plan local --format json, without progress events",
        &out.project.redact(&rest),
    );
}

#[test]
fn plan_piped_into_head_does_not_panic() {
    let p = Test::example("hello").build();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("'{}' plan local | head -n 1", env!("CARGO_BIN_EXE_ordo")))
        .current_dir(p.root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

#[test]
fn deploy_without_yes_needs_a_terminal() {
    let p = Test::example("hello").build();
    // A "yes" on a pipe is no confirmation either.
    for stdin in [None, Some("yes\n")] {
        let mut t = p.test().args(&["deploy", "local"]);
        if let Some(text) = stdin {
            t = t.stdin(text);
        }
        t.status(2)
            .stderr(
                "
                ordo::usage

                  × refusing to deploy without confirmation: standard input is not a terminal
                  help: review the plan above, then run the same command with --yes (ordo deploy ENV --yes, with
                        the same --rev, --hosts and --set)

                ",
            )
            .expect_missing(".ordo-hosts/web/deployment")
            .run();
    }
}

#[test]
fn on_change_command_stays_pending_until_it_succeeds() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    let conf = c.add(file(\"app.conf\", \"v1\\n\"));\n    c.add(command(\"restart\", #{ run: \"test -f ok && echo restarted >> restarts\", on_change: [conf] }));\n});\n",
    )
    .build();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stdout(
            "
            deploy test (service s): 2 steps on 1 host
              + h:x file app.conf (mode 0644)  services/s.rhai:3:22
                  --- app.conf
                  +++ app.conf
                  @@ -0,0 +1 @@
                  +v1
              ! h:x command restart (file app.conf changed)  services/s.rhai:4:11
            plan: 2 to change, 0 unchanged on 1 host
              ✓ h:x file app.conf ([TIME])
              ✗ h:x command restart failed: exit code 1
              h: 1 changed, 1 failed, 0 skipped (3 round trips)
            failed: 1 changed, 0 unchanged, 1 failed, 0 skipped on 1 host in [TIME]
            ",
        )
        .stderr_snapshot("on_change_command_fails")
        .expect_file("hosts/h/deployment/s/app.conf", "v1\n")
        .run();

    // Nothing changed since, but the restart still has to happen.
    p.test()
        .args(&["plan", "test"])
        .stdout(
            "
            plan test (service s): 2 steps on 1 host
              ! h:x command restart (a change it watches was applied, but it has not run since)  services/s.rhai:4:11
            plan: 1 to change, 1 unchanged on 1 host
            ",
        )
        .run();

    p.write("hosts/h/deployment/s/ok", "");
    p.test()
        .args(&["deploy", "test", "--yes"])
        .expect_file("hosts/h/deployment/s/restarts", "restarted\n")
        .run();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout(
            "
            deploy test (service s): 2 steps on 1 host
            nothing to change: 2 steps on 1 host up to date
            done: 0 changed, 2 unchanged, 0 failed, 0 skipped on 1 host in [TIME]
            ",
        )
        // Ran exactly once.
        .expect_file("hosts/h/deployment/s/restarts", "restarted\n")
        .run();
}

#[test]
fn writes_are_atomic_and_leave_no_temporary_files() {
    let out = Test::example("hello").args(&["deploy", "local", "--yes"]).run();
    let mut stack = vec![out.project.path(".ordo-hosts")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            assert!(
                !e.file_name().to_string_lossy().contains("ordo-tmp"),
                "left over: {:?}",
                e.path()
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
}

#[test]
fn modes_are_managed() {
    use std::os::unix::fs::PermissionsExt;
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"secret.txt\", #{ content: \"s3cret\", mode: 0o600 }));\n    c.add(directory(\"shared\", #{ mode: \"0750\" }));\n});\n",
    )
    .build();
    p.test().args(&["deploy", "test", "--yes"]).run();
    let mode = |rel: &str| std::fs::metadata(p.path(rel)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("hosts/h/deployment/s/secret.txt"), 0o600);
    assert_eq!(mode("hosts/h/deployment/s/shared"), 0o750);
    std::fs::set_permissions(
        p.path("hosts/h/deployment/s/secret.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    p.test()
        .args(&["plan", "test"])
        .stdout(
            "
            plan test (service s): 2 steps on 1 host
              ~ h:x file secret.txt (mode 0644 → 0600)  services/s.rhai:3:11
            plan: 1 to change, 1 unchanged on 1 host
            ",
        )
        .run();
    p.test().args(&["deploy", "test", "--yes"]).run();
    assert_eq!(mode("hosts/h/deployment/s/secret.txt"), 0o600);
}

#[test]
fn something_in_the_way_is_refused_before_any_change() {
    let t = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"first.txt\", \"1\"));\n    c.add(file(\"etc\", \"a file\"));\n});\n",
    );
    std::fs::create_dir_all(t.project().path("hosts/h/deployment/s/etc")).unwrap();
    t.args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_snapshot("something_in_the_way")
        // Nothing applied.
        .expect_missing("hosts/h/deployment/s/first.txt")
        .run();
}

#[test]
fn sub_components_and_symlinks() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n\
         let venv = c.component(\"venv\", |v| {\n        let py = v.attr(\"python\", \"python3\");\n        v.add(file(\"venv.cfg\", \"python = \" + py + \"\\n\"));\n    }, #{ python: \"python3.11\" });\n\
         c.add(symlink(\"cfg\", \"venv.cfg\"));\n\
         c.add(command(\"rebuild\", #{ run: \"cat venv.cfg > rebuilt\", on_change: [venv] }));\n});\n",
    )
    .build();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .snapshot("sub_components_and_symlinks")
        .expect_file("hosts/h/deployment/s/rebuilt", "python = python3.11\n")
        .run();
    assert_eq!(
        std::fs::read_link(p.path("hosts/h/deployment/s/cfg"))
            .unwrap()
            .to_string_lossy(),
        "venv.cfg"
    );
    p.test().args(&["deploy", "test", "--yes"]).run();
    p.test()
        .args(&["plan", "test"])
        .stdout(
            "
            plan test (service s): 3 steps on 1 host
            nothing to change: 3 steps on 1 host up to date
            ",
        )
        .run();
}

#[test]
fn status_shows_what_each_host_has() {
    let p = Test::example("hello").build();
    p.test()
        .args(&["status", "local"])
        .stdout("api: never deployed\nweb: never deployed\n")
        .run();
    p.test().args(&["deploy", "local", "--yes", "--hosts", "api"]).run();
    p.test()
        .args(&["status", "local"])
        .stdout(
            "
            api: [FINGERPRINT] (current), environment local, ordo [VERSION], deployed [DATE] by [OPERATOR]
              current entry [RUN]: deploy by [OPERATOR] at [DATE], no commit: ok, 4 changed
            web: never deployed
            ",
        )
        .run();
}

#[test]
fn graph_is_dot() {
    Test::example("hello")
        .args(&["graph", "local"])
        // With the provide/require edge (`label="api:url"`) and the on_change
        // edges.
        .snapshot("example_graph")
        .run();
}

#[test]
fn a_held_lock_refuses_the_deploy_and_break_lock_removes_it() {
    let info = r#"{"holder":"alice@laptop","pid":4242,"environment":"local","since":"2026-11-25T10:00:00Z","token":"feedc0de"}"#;
    let p = Test::example("hello")
        .file(".ordo-hosts/web/.ordo/site/lock/info", info)
        .build();
    let held_by = "alice@laptop (pid 4242, environment local) since 2026-11-25T10:00:00Z";
    p.test()
        .args(&["deploy", "local", "--yes"])
        .status(4)
        .stdout("deploy local (service site): 12 steps on 2 hosts\n")
        .stderr(
            "
            ordo::locked

              × host `web` is locked by alice@laptop (pid [PID], environment local) since [DATE]
              help: wait for that deploy to finish; if it died, run again with --break-lock (this removes its
                    lock, nothing else)

            ",
        )
        .stderr_contains(&format!("host `web` is locked by {held_by}"))
        // Nothing changed on any host, and the lock taken on api was released.
        .expect_missing(".ordo-hosts/api/deployment")
        .expect_missing(".ordo-hosts/api/.ordo/site/lock")
        .run();

    p.test()
        .args(&["status", "local"])
        .stdout(
            "
            api: never deployed
              current entry [RUN]: deploy by [OPERATOR] at [DATE], no commit: not applied: a host was locked by another deploy, or its lock could not be taken
            web: never deployed; locked by alice@laptop (pid [PID], environment local) since [DATE]
            ",
        )
        .stdout_contains(&format!("web: never deployed; locked by {held_by}"))
        .run();
    p.test()
        .args(&["plan", "local"])
        .stdout_contains(&format!("note: web is being deployed right now by {held_by}"))
        .run();

    p.test()
        .args(&["deploy", "local", "--yes", "--break-lock"])
        .stdout_contains("broke the lock on web held by alice@laptop (pid 4242")
        // Our own lock is released at the end.
        .expect_missing(".ordo-hosts/web/.ordo/site/lock")
        .run();
    p.test().args(&["deploy", "local", "--yes"]).run();
}

#[test]
fn status_shows_mixed_versions_after_a_partial_deploy() {
    let p = Test::example("hello").build();
    p.test().args(&["deploy", "local", "--yes"]).run();
    let env = p
        .read("environments/local.rhai")
        .replace("Hello from ordo", "Version two");
    p.write("environments/local.rhai", &env);
    p.test().args(&["deploy", "local", "--yes", "--hosts", "web"]).run();
    let out = p
        .test()
        .args(&["status", "local"])
        .stdout(
            "
            api: [FINGERPRINT] (differs from this checkout), environment local, ordo [VERSION], deployed [DATE] by [OPERATOR]
              current entry [RUN]: deploy by [OPERATOR] at [DATE], no commit: ok, 4 changed
            web: [FINGERPRINT] (current), environment local, ordo [VERSION], deployed [DATE] by [OPERATOR]
              current entry [RUN]: deploy by [OPERATOR] at [DATE], no commit: ok, 2 changed
            hosts differ: 2 versions deployed; they last agreed 1 deploy ago (entry [RUN])
            ",
        )
        .run();
    let fingerprint = |line: usize| {
        out.stdout
            .lines()
            .nth(line)
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_ne!(fingerprint(0), fingerprint(1), "{}", out.stdout);
}

#[test]
fn run_executes_on_every_selected_host() {
    let p = Test::example("hello").build();
    p.test()
        .args(&["run", "local", "--", "echo", "hello from", "$(basename $HOME)"])
        .stdout("── api (ok)\nhello from api\n── web (ok)\nhello from web\n")
        .run();
    p.test()
        .args(&["run", "local", "--hosts", "frontend", "--", "exit 3"])
        .status(1)
        .stdout("── web (exit 3)\n")
        .run();
}

#[test]
fn dirty_git_trees_are_refused() {
    let p = Test::example("hello").build();
    p.git(&["init", "-q"]);
    p.write(".gitignore", ".ordo-hosts/\n");
    p.git(&["add", "-A"]);
    p.git(&["commit", "-qm", "init"]);
    p.test()
        .args(&["deploy", "local", "--yes"])
        .stdout_contains("done: 12 changed")
        .run();
    assert!(
        p.read(".ordo-hosts/web/.ordo/site/state.json")
            .contains("\"commit\": \""),
        "commit recorded"
    );
    p.test()
        .args(&["status", "local"])
        .stdout(
            "
            api: [FINGERPRINT] (current, commit [COMMIT]), environment local, ordo [VERSION], deployed [DATE] by [OPERATOR]
              current entry [RUN]: deploy by [OPERATOR] at [DATE], commit [COMMIT]: ok, 4 changed
            web: [FINGERPRINT] (current, commit [COMMIT]), environment local, ordo [VERSION], deployed [DATE] by [OPERATOR]
              current entry [RUN]: deploy by [OPERATOR] at [DATE], commit [COMMIT]: ok, 8 changed
            ",
        )
        .run();

    p.write("files/robots.txt", "User-agent: *\nDisallow: /private\n");
    p.test()
        .args(&["deploy", "local", "--yes"])
        .status(2)
        .stderr_snapshot("dirty_git_tree")
        .run();
    p.test().args(&["plan", "local"]).run();
    p.test().args(&["deploy", "local", "--yes", "--allow-dirty"]).run();
}

/// `ordo status` after `deploy --allow-dirty` showed the commit as if the hosts had
/// exactly it: the host records that the tree was dirty, and status says so.
#[test]
fn status_marks_a_deploy_of_a_dirty_tree() {
    let p = Test::example("hello").build();
    p.git(&["init", "-q"]);
    p.write(".gitignore", ".ordo-hosts/\n");
    p.git(&["add", "-A"]);
    p.git(&["commit", "-qm", "init"]);
    p.write("files/robots.txt", "User-agent: *\nDisallow: /private\n");
    p.test().args(&["deploy", "local", "--yes", "--allow-dirty"]).run();
    let line = "[FINGERPRINT] (current, commit [COMMIT]-dirty), environment local, ordo [VERSION], deployed [DATE] by [OPERATOR]";
    let entry = "current entry [RUN]: deploy by [OPERATOR] at [DATE], commit [COMMIT]-dirty";
    p.test()
        .args(&["status", "local"])
        .stdout(&format!(
            "api: {line}\n  {entry}: ok, 4 changed\nweb: {line}\n  {entry}: ok, 8 changed\n"
        ))
        .run();
    let json = p.test().args(&["status", "local", "--format", "json"]).run();
    assert!(
        json.events()
            .iter()
            .filter(|e| e["event"] == "host_status")
            .all(|e| e["deployed"]["dirty"] == true),
        "{}",
        json.stdout
    );
    // A change, committed and deployed: clean. (A deploy that changes nothing
    // records nothing, so the change is needed.)
    p.write("files/robots.txt", "User-agent: *\nDisallow: /\n");
    p.git(&["commit", "-qam", "robots"]);
    p.test().args(&["deploy", "local", "--yes"]).run();
    p.test()
        .args(&["status", "local"])
        .stdout_lacks("dirty")
        .stdout_contains("(current, commit ")
        .run();
}

/// What a host recorded is host-provided text: a hostile `state.json` must not
/// reach the terminal as escape sequences, nor crash ordo with a commit that is
/// not ASCII.
#[test]
fn status_shows_host_recorded_fields_with_escapes_visible() {
    let p = Test::example("hello").build();
    p.test().args(&["deploy", "local", "--yes", "--hosts", "web"]).run();
    let esc = "\u{1b}]0;owned\u{7}\u{1b}[2J";
    let state = serde_json::json!({
        "fingerprint": format!("0123456789abcdef{esc}"),
        "ordo_version": format!("0.1.0{esc}"),
        "environment": format!("local{esc}"),
        "service": "site",
        "deployed_at": format!("2026-01-01T00:00:00Z{esc}"),
        "deployed_by": format!("mallory{esc}"),
        "commit": format!("aéééééééééééééé{esc}"),
        "dirty": true,
        "set": [format!("app.port=1{esc}")],
        "libraries": { format!("web{esc}"): format!("aéééééééééééé{esc}") },
    });
    p.write(".ordo-hosts/web/.ordo/site/state.json", &state.to_string());
    let out = p.test().args(&["status", "local", "--hosts", "web"]).run();
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{7}'),
        "{:?}",
        out.stdout
    );
    for shown in [
        "mallory\\u{1b}]0;owned\\u{7}\\u{1b}[2J",
        "environment local\\u{1b}",
        "commit aééééééééééé-dirty",
        "--set app.port=1\\u{1b}",
        "library web\\u{1b}",
    ] {
        assert!(out.stdout.contains(shown), "{shown} in {:?}", out.stdout);
    }
    let json = p
        .test()
        .args(&["status", "local", "--hosts", "web", "--format", "json"])
        .run();
    assert!(
        !json.stdout.contains("\\u001b"),
        "JSON carries the escaped text: {}",
        json.stdout
    );
}

#[test]
fn guards_sources_and_explicit_order() {
    let p = Test::new()
        .local_host("a")
        .place("late")
        .local_host("b")
        .place("early")
        .file("files/logo.bin", "\u{1}\u{2}binary\u{0}")
        .service(
            "let s = service(\"s\");\n\
             s.component(\"late\", |c| {\n    c.after(\"early\");\n    c.add(file(\"logo.bin\", #{ source: \"files/logo.bin\" }));\n    \
             c.add(command(\"init\", #{ run: \"echo init >> log\", unless: \"grep -q init log\" }));\n});\n\
             s.component(\"early\", |c| {\n    c.add(command(\"seed\", #{ run: \"echo seeded > seed\", creates: \"seed\" }));\n});\n",
        )
        .build();
    let out = p
        .test()
        .args(&["deploy", "test", "--yes", "--format", "json"])
        .expect_file("hosts/a/deployment/s/log", "init\n")
        .run();
    let steps = step_events(&out.events());
    let hosts: Vec<&str> = steps.iter().map(|(h, _, _)| h.as_str()).collect();
    assert_eq!(hosts, ["b", "a", "a"], "`after` puts early (on b) first: {steps:?}");
    assert_eq!(
        std::fs::read(p.path("hosts/a/deployment/s/logo.bin")).unwrap(),
        b"\x01\x02binary\x00"
    );
    // The guards hold.
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout(
            "
            deploy test (service s): 3 steps on 2 hosts
            nothing to change: 3 steps on 2 hosts up to date
            done: 0 changed, 3 unchanged, 0 failed, 0 skipped on 2 hosts in [TIME]
            ",
        )
        .run();
    std::fs::remove_file(p.path("hosts/b/deployment/s/seed")).unwrap();
    p.test()
        .args(&["plan", "test"])
        .stdout(
            "
            plan test (service s): 3 steps on 2 hosts
              ! b:early command seed (~/deployment/s/seed does not exist)  services/s.rhai:8:11
            plan: 1 to change, 2 unchanged on 2 hosts
            ",
        )
        .run();
}

#[test]
fn a_failed_file_write_leaves_nothing_half_written() {
    let t = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a/ok.txt\", \"1\"));\n    c.add(file(\"b/bad.txt\", \"2\"));\n});\n",
    )
    // `b` is a file, so nothing can be written below it: the plan says so before
    // anything changes (it used to fail half-way through the apply).
    .file("hosts/h/deployment/s/b", "in the way");
    let out = t
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_snapshot("a_failed_file_write")
        .run();
    assert!(
        !out.project.path("hosts/h/deployment/s/a").exists(),
        "nothing was written"
    );
}

/// Hardening issue, item 17: the plan is what is applied. A file that appears
/// between the plan and its rename fails its step ("changed since the plan"); the
/// other file of the same group is staged but never renamed into place, and nothing
/// staged is left behind.
#[test]
fn a_file_changed_since_the_plan_fails_its_group_and_leaves_nothing_half_written() {
    let out = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(directory(\"b\"));\n    \
         c.add(step(\"tamper\", #{ verify: |h| h.run(\"test -f b/bad.txt && echo y || echo n\").stdout == \"y\\n\", \
         update: |h| { h.run(\"echo theirs > b/bad.txt\"); } }));\n    \
         c.add(file(\"a/ok.txt\", \"1\"));\n    c.add(file(\"b/bad.txt\", \"2\"));\n});\n",
    )
    .args(&["deploy", "test", "--yes"])
    .status(1)
    .stderr_contains("h:x file b/bad.txt could not be applied")
    .stderr_contains("changed since the plan: ./deployment/s/b/bad.txt exists now")
    .stdout_contains("- h:x file a/ok.txt skipped: h:x file b/bad.txt failed")
    .expect_file("hosts/h/deployment/s/b/bad.txt", "theirs\n")
    .expect_missing("hosts/h/deployment/s/a/ok.txt")
    .run();
    for dir in ["a", "b"] {
        let left: Vec<_> = std::fs::read_dir(out.project.path(&format!("hosts/h/deployment/s/{dir}")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".ordo-stage"))
            .collect();
        assert!(left.is_empty(), "nothing staged is left in {dir}: {left:?}");
    }
}

/// Consecutive symlinks in one directory share a staging directory (two processes
/// per link); it is gone before the next step runs, so a command that reads the
/// directory sees only what was declared, and nothing is left after the deploy.
#[test]
fn links_sharing_a_staging_directory_leave_nothing_for_the_next_step_to_see() {
    let out = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    \
         let a = c.add(symlink(\"d/a\", \"t1\"));\n    c.add(symlink(\"d/b\", \"t2\"));\n    c.add(symlink(\"d/c\", \"t3\"));\n    \
         c.add(command(\"list\", #{ run: \"ls -A d > seen\", on_change: [a] }));\n});\n",
    )
    .args(&["deploy", "test", "--yes"])
    .expect_file("hosts/h/deployment/s/seen", "a\nb\nc\n")
    .run();
    let d = out.project.path("hosts/h/deployment/s/d");
    for (name, target) in [("a", "t1"), ("b", "t2"), ("c", "t3")] {
        assert_eq!(std::fs::read_link(d.join(name)).unwrap().to_str(), Some(target));
    }
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 3, "nothing staged is left");
}

#[test]
fn a_home_with_a_trailing_slash_is_still_idempotent() {
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.txt\", \"a\")); });\n")
        .host("h", "#{ transport: \"local\", home: \"hosts/h/\" }")
        .place("x")
        .build();
    p.test().args(&["deploy", "test", "--yes"]).run();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout(
            "
            deploy test (service s): 1 step on 1 host
            nothing to change: 1 step on 1 host up to date
            done: 0 changed, 1 unchanged, 0 failed, 0 skipped on 1 host in [TIME]
            ",
        )
        .run();
}

#[test]
fn a_failure_skips_dependents_on_other_hosts_and_independent_hosts_finish() {
    let out = Test::new()
        .local_host("db")
        .place("db")
        .local_host("app")
        .place("app")
        .local_host("other")
        .place("other")
        .service(
            "let s = service(\"s\");\n\
             s.component(\"db\", |c| {\n    c.add(command(\"migrate\", #{ run: \"exit 5\", creates: \"migrated\" }));\n    c.add(file(\"after-migrate\", \"x\"));\n    c.provide(\"db:dsn\", \"db\");\n});\n\
             s.component(\"app\", |c| {\n    let dsn = c.require_one(\"db:dsn\");\n    c.add(file(\"app.conf\", dsn));\n});\n\
             s.component(\"other\", |c| {\n    c.add(file(\"independent\", \"y\"));\n});\n",
        )
        .args(&["deploy", "test", "--yes", "--format", "json"])
        .status(1)
        .expect_missing("hosts/app/deployment/s/app.conf")
        .expect_file("hosts/other/deployment/s/independent", "y")
        .run();
    let steps = step_events(&out.events());
    let status = |path: &str| steps.iter().find(|(_, p, _)| p == path).map(|(_, _, s)| s.as_str());
    assert_eq!(status("db:db command migrate"), Some("failed"), "{steps:?}");
    assert_eq!(
        status("db:db file after-migrate"),
        Some("skipped"),
        "later steps of the host stop"
    );
    assert_eq!(
        status("app:app file app.conf"),
        Some("skipped"),
        "dependents on other hosts are skipped"
    );
    assert_eq!(
        status("other:other file independent"),
        Some("changed"),
        "independent hosts finish"
    );
    let done: Vec<_> = out.events().into_iter().filter(|e| e["event"] == "host_done").collect();
    let of = |h: &str| done.iter().find(|e| e["host"] == h).unwrap().clone();
    assert_eq!(
        (of("db")["failed"].as_u64(), of("db")["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(of("app")["skipped"].as_u64(), Some(1));
    assert_eq!(of("other")["changed"].as_u64(), Some(1));
}
