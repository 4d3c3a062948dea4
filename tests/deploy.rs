//! Deploying on the local transport: the real example, ordering across hosts,
//! idempotence, pending commands surviving failures, atomic writes, output formats.

use crate::support::{Project, single_host};

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

#[test]
fn example_deploys_and_a_second_deploy_changes_nothing() {
    let p = Project::example("hello");
    let first = p.ordo(&["deploy", "local", "--yes"]).success();
    assert!(
        first
            .stdout
            .contains("done: 12 changed, 0 unchanged, 0 failed, 0 skipped on 2 hosts"),
        "{}",
        first.stdout
    );
    let page = p.read(".ordo-hosts/web/deployment/site/current/htdocs/index.html");
    assert!(page.contains("<h1>Hello from ordo</h1>"), "{page}");
    assert!(
        page.contains("http://localhost:8081/"),
        "value provided by the api host: {page}"
    );
    assert!(
        p.path(".ordo-hosts/web/deployment/site/current/htdocs/index.html.gz")
            .exists(),
        "on_change command ran"
    );
    assert_eq!(
        p.read(".ordo-hosts/web/deployment/site/api-url.txt"),
        "http://localhost:8081/\n",
        "custom Rhai step ran"
    );
    let state = p.read(".ordo-hosts/api/.ordo/site/state.json");
    assert!(
        state.contains("\"fingerprint\"") && state.contains("\"deployed_by\""),
        "{state}"
    );

    let second = p.ordo(&["deploy", "local", "--yes"]).success();
    assert!(
        second
            .stdout
            .contains("nothing to change: 12 steps on 2 hosts up to date"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("done: 0 changed, 12 unchanged"),
        "{}",
        second.stdout
    );
}

#[test]
fn plan_shows_changes_and_changes_nothing() {
    let p = Project::example("hello");
    let out = p.ordo(&["plan", "local"]).success();
    assert!(
        out.stdout
            .contains("+ web:web template releases/1.0.0/htdocs/index.html"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("+<h1>Hello from ordo</h1>"),
        "diff shown: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains("plan: 12 to change, 0 unchanged on 2 hosts"),
        "{}",
        out.stdout
    );
    assert!(!p.path(".ordo-hosts").exists(), "plan must not touch the hosts");
}

#[test]
fn changed_attribute_shows_a_diff_and_applies_only_that() {
    let p = Project::example("hello");
    p.ordo(&["deploy", "local", "--yes"]).success();
    let env = p
        .read("environments/local.rhai")
        .replace("Hello from ordo", "Hello again");
    p.write("environments/local.rhai", &env);
    let plan = p.ordo(&["plan", "local"]).success();
    assert!(
        plan.stdout.contains("-<h1>Hello from ordo</h1>") && plan.stdout.contains("+<h1>Hello again</h1>"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("! web:web command compress pages (template releases/1.0.0/htdocs/index.html changed)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("plan: 2 to change, 10 unchanged"),
        "{}",
        plan.stdout
    );
    let out = p.ordo(&["deploy", "local", "--yes", "--format", "json"]).success();
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
    let p = Project::example("hello");
    let out = p.ordo(&["deploy", "local", "--yes", "--format", "json"]).success();
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
    let p = Project::example("hello");
    let out = p.ordo(&["plan", "local", "--format", "json"]).success();
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
}

#[test]
fn plan_piped_into_head_does_not_panic() {
    let p = Project::example("hello");
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
    let p = Project::example("hello");
    let out = p.ordo(&["deploy", "local"]).code(2);
    assert!(
        out.stderr.contains("refusing to deploy without confirmation"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert!(!p.path(".ordo-hosts/web/deployment").exists());
}

#[test]
fn on_change_command_stays_pending_until_it_succeeds() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    let conf = c.add(file(\"app.conf\", \"v1\\n\"));\n    c.add(command(\"restart\", #{ run: \"test -f ok && echo restarted >> restarts\", on_change: [conf] }));\n});\n",
    );
    let first = p.ordo(&["deploy", "test", "--yes"]).code(1);
    assert!(
        first.stderr.contains("h:x command restart failed with exit code 1"),
        "{}",
        first.stderr
    );
    assert_eq!(p.read("hosts/h/deployment/s/app.conf"), "v1\n");

    // Nothing changed since, but the restart still has to happen.
    let plan = p.ordo(&["plan", "test"]).success();
    assert!(
        plan.stdout
            .contains("! h:x command restart (a change it watches was applied, but it has not run since)"),
        "{}",
        plan.stdout
    );

    p.write("hosts/h/deployment/s/ok", "");
    p.ordo(&["deploy", "test", "--yes"]).success();
    assert_eq!(p.read("hosts/h/deployment/s/restarts"), "restarted\n");
    let again = p.ordo(&["deploy", "test", "--yes"]).success();
    assert!(again.stdout.contains("nothing to change"), "{}", again.stdout);
    assert_eq!(
        p.read("hosts/h/deployment/s/restarts"),
        "restarted\n",
        "ran exactly once"
    );
}

#[test]
fn writes_are_atomic_and_leave_no_temporary_files() {
    let p = Project::example("hello");
    p.ordo(&["deploy", "local", "--yes"]).success();
    let mut stack = vec![p.path(".ordo-hosts")];
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
    );
    p.ordo(&["deploy", "test", "--yes"]).success();
    let mode = |rel: &str| std::fs::metadata(p.path(rel)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("hosts/h/deployment/s/secret.txt"), 0o600);
    assert_eq!(mode("hosts/h/deployment/s/shared"), 0o750);
    std::fs::set_permissions(
        p.path("hosts/h/deployment/s/secret.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let plan = p.ordo(&["plan", "test"]).success();
    assert!(
        plan.stdout.contains("~ h:x file secret.txt (mode 0644 → 0600)"),
        "{}",
        plan.stdout
    );
    p.ordo(&["deploy", "test", "--yes"]).success();
    assert_eq!(mode("hosts/h/deployment/s/secret.txt"), 0o600);
}

#[test]
fn something_in_the_way_is_refused_before_any_change() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"first.txt\", \"1\"));\n    c.add(file(\"etc\", \"a file\"));\n});\n",
    );
    std::fs::create_dir_all(p.path("hosts/h/deployment/s/etc")).unwrap();
    let out = p.ordo(&["deploy", "test", "--yes"]).code(1);
    assert!(
        out.stderr
            .contains("h:x file etc: a directory or special file is in the way"),
        "{}",
        out.stderr
    );
    assert!(!p.path("hosts/h/deployment/s/first.txt").exists(), "nothing applied");
}

#[test]
fn sub_components_and_symlinks() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n\
         let venv = c.component(\"venv\", |v| {\n        let py = v.attr(\"python\", \"python3\");\n        v.add(file(\"venv.cfg\", \"python = \" + py + \"\\n\"));\n    }, #{ python: \"python3.11\" });\n\
         c.add(symlink(\"cfg\", \"venv.cfg\"));\n\
         c.add(command(\"rebuild\", #{ run: \"cat venv.cfg > rebuilt\", on_change: [venv] }));\n});\n",
    );
    let out = p.ordo(&["deploy", "test", "--yes"]).success();
    assert!(out.stdout.contains("h:x/venv file venv.cfg"), "{}", out.stdout);
    assert_eq!(p.read("hosts/h/deployment/s/rebuilt"), "python = python3.11\n");
    assert_eq!(
        std::fs::read_link(p.path("hosts/h/deployment/s/cfg"))
            .unwrap()
            .to_string_lossy(),
        "venv.cfg"
    );
    p.ordo(&["deploy", "test", "--yes"]).success();
    assert!(p.ordo(&["plan", "test"]).success().stdout.contains("nothing to change"));
}

#[test]
fn status_shows_what_each_host_has() {
    let p = Project::example("hello");
    let before = p.ordo(&["status", "local"]).success();
    assert!(before.stdout.contains("api: never deployed"), "{}", before.stdout);
    p.ordo(&["deploy", "local", "--yes", "--hosts", "api"]).success();
    let after = p.ordo(&["status", "local"]).success();
    assert!(after.stdout.contains("(current)"), "{}", after.stdout);
    assert!(after.stdout.contains("web: never deployed"), "{}", after.stdout);
}

#[test]
fn graph_is_dot() {
    let p = Project::example("hello");
    let out = p.ordo(&["graph", "local"]).success();
    assert!(out.stdout.starts_with("digraph \"site/local\" {"), "{}", out.stdout);
    assert!(
        out.stdout.contains("label=\"api:url\""),
        "provide/require edge: {}",
        out.stdout
    );
    assert!(out.stdout.contains("label=\"on change\""), "{}", out.stdout);
}

#[test]
fn a_held_lock_refuses_the_deploy_and_break_lock_removes_it() {
    let p = Project::example("hello");
    let info = r#"{"holder":"alice@laptop","pid":4242,"environment":"local","since":"2026-11-25T10:00:00Z","token":"feedc0de"}"#;
    p.write(".ordo-hosts/web/.ordo/site/lock/info", info);
    let out = p.ordo(&["deploy", "local", "--yes"]).code(4);
    assert!(
        out.stderr
            .contains("host `web` is locked by alice@laptop (pid 4242, environment local) since 2026-11-25T10:00:00Z"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--break-lock"), "{}", out.stderr);
    assert!(
        !p.path(".ordo-hosts/api/deployment").exists(),
        "nothing changed on any host"
    );
    assert!(
        !p.path(".ordo-hosts/api/.ordo/site/lock").exists(),
        "the lock taken on api was released"
    );

    let status = p.ordo(&["status", "local"]).success();
    assert!(
        status.stdout.contains("web: never deployed; locked by alice@laptop"),
        "{}",
        status.stdout
    );
    let plan = p.ordo(&["plan", "local"]).success();
    assert!(
        plan.stdout
            .contains("note: web is being deployed right now by alice@laptop"),
        "{}",
        plan.stdout
    );

    let out = p.ordo(&["deploy", "local", "--yes", "--break-lock"]).success();
    assert!(
        out.stdout
            .contains("broke the lock on web held by alice@laptop (pid 4242"),
        "{}",
        out.stdout
    );
    assert!(
        !p.path(".ordo-hosts/web/.ordo/site/lock").exists(),
        "our own lock is released at the end"
    );
    p.ordo(&["deploy", "local", "--yes"]).success();
}

#[test]
fn status_shows_mixed_versions_after_a_partial_deploy() {
    let p = Project::example("hello");
    p.ordo(&["deploy", "local", "--yes"]).success();
    let env = p
        .read("environments/local.rhai")
        .replace("Hello from ordo", "Version two");
    p.write("environments/local.rhai", &env);
    p.ordo(&["deploy", "local", "--yes", "--hosts", "web"]).success();
    let status = p.ordo(&["status", "local"]).success();
    assert!(
        status.stdout.contains("api: ") && status.stdout.contains("(differs from this checkout)"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("web: ") && status.stdout.contains("(current)"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("hosts differ: 2 versions deployed"),
        "{}",
        status.stdout
    );
}

#[test]
fn run_executes_on_every_selected_host() {
    let p = Project::example("hello");
    let out = p
        .ordo(&["run", "local", "--", "echo", "hello from", "$(basename $HOME)"])
        .success();
    assert_eq!(out.stdout, "── api (ok)\nhello from api\n── web (ok)\nhello from web\n");
    let out = p.ordo(&["run", "local", "--hosts", "frontend", "--", "exit 3"]).code(1);
    assert_eq!(out.stdout, "── web (exit 3)\n");
}

#[test]
fn dirty_git_trees_are_refused() {
    let p = Project::example("hello");
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(p.root())
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    p.write(".gitignore", ".ordo-hosts/\n");
    git(&["add", "-A"]);
    git(&["commit", "-qm", "init"]);
    p.ordo(&["deploy", "local", "--yes"]).success();
    assert!(
        p.read(".ordo-hosts/web/.ordo/site/state.json")
            .contains("\"commit\": \""),
        "commit recorded"
    );

    p.write("files/robots.txt", "User-agent: *\nDisallow: /private\n");
    let out = p.ordo(&["deploy", "local", "--yes"]).code(2);
    assert!(
        out.stderr.contains("the project has uncommitted changes"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("files/robots.txt"), "{}", out.stderr);
    p.ordo(&["plan", "local"]).success();
    p.ordo(&["deploy", "local", "--yes", "--allow-dirty"]).success();
}

#[test]
fn guards_sources_and_explicit_order() {
    let p = Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\" });\n\
             env.host(\"a\", #{ transport: \"local\", home: \"hosts/a\" }).place(\"late\");\n\
             env.host(\"b\", #{ transport: \"local\", home: \"hosts/b\" }).place(\"early\");\n",
        )
        .file("files/logo.bin", "\u{1}\u{2}binary\u{0}")
        .file(
            "services/s.rhai",
            "let s = service(\"s\");\n\
             s.component(\"late\", |c| {\n    c.after(\"early\");\n    c.add(file(\"logo.bin\", #{ source: \"files/logo.bin\" }));\n    \
             c.add(command(\"init\", #{ run: \"echo init >> log\", unless: \"grep -q init log\" }));\n});\n\
             s.component(\"early\", |c| {\n    c.add(command(\"seed\", #{ run: \"echo seeded > seed\", creates: \"seed\" }));\n});\n",
        );
    let out = p.ordo(&["deploy", "test", "--yes", "--format", "json"]).success();
    let steps = step_events(&out.events());
    let hosts: Vec<&str> = steps.iter().map(|(h, _, _)| h.as_str()).collect();
    assert_eq!(hosts, ["b", "a", "a"], "`after` puts early (on b) first: {steps:?}");
    assert_eq!(
        std::fs::read(p.path("hosts/a/deployment/s/logo.bin")).unwrap(),
        b"\x01\x02binary\x00"
    );
    assert_eq!(p.read("hosts/a/deployment/s/log"), "init\n");
    let again = p.ordo(&["deploy", "test", "--yes"]).success();
    assert!(
        again.stdout.contains("nothing to change"),
        "guards hold: {}",
        again.stdout
    );
    std::fs::remove_file(p.path("hosts/b/deployment/s/seed")).unwrap();
    let plan = p.ordo(&["plan", "test"]).success();
    assert!(
        plan.stdout
            .contains("! b:early command seed (~/deployment/s/seed does not exist)"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_failed_file_write_leaves_nothing_half_written() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a/ok.txt\", \"1\"));\n    c.add(file(\"b/bad.txt\", \"2\"));\n});\n",
    );
    // `b` is a file, so nothing can be written below it (not even by root); `a/ok.txt`
    // is staged first, in the same group.
    p.write("hosts/h/deployment/s/b", "in the way");
    let out = p.ordo(&["deploy", "test", "--yes"]).code(1);
    assert!(
        out.stderr.contains("h:x file b/bad.txt could not be applied"),
        "{}",
        out.stderr
    );
    let left: Vec<_> = std::fs::read_dir(p.path("hosts/h/deployment/s/a"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "the group is all or nothing, and nothing staged is left: {left:?}"
    );
}

#[test]
fn a_home_with_a_trailing_slash_is_still_idempotent() {
    let p = Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\" });\nenv.host(\"h\", #{ transport: \"local\", home: \"hosts/h/\" }).place(\"x\");\n",
        )
        .file("services/s.rhai", "let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.txt\", \"a\")); });\n");
    p.ordo(&["deploy", "test", "--yes"]).success();
    let again = p.ordo(&["deploy", "test", "--yes"]).success();
    assert!(again.stdout.contains("nothing to change"), "{}", again.stdout);
}

#[test]
fn a_failure_skips_dependents_on_other_hosts_and_independent_hosts_finish() {
    let p = Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\" });\n\
             env.host(\"db\", #{ transport: \"local\", home: \"hosts/db\" }).place(\"db\");\n\
             env.host(\"app\", #{ transport: \"local\", home: \"hosts/app\" }).place(\"app\");\n\
             env.host(\"other\", #{ transport: \"local\", home: \"hosts/other\" }).place(\"other\");\n",
        )
        .file(
            "services/s.rhai",
            "let s = service(\"s\");\n\
             s.component(\"db\", |c| {\n    c.add(command(\"migrate\", #{ run: \"exit 5\", creates: \"migrated\" }));\n    c.add(file(\"after-migrate\", \"x\"));\n    c.provide(\"db:dsn\", \"db\");\n});\n\
             s.component(\"app\", |c| {\n    let dsn = c.require_one(\"db:dsn\");\n    c.add(file(\"app.conf\", dsn));\n});\n\
             s.component(\"other\", |c| {\n    c.add(file(\"independent\", \"y\"));\n});\n",
        );
    let out = p.ordo(&["deploy", "test", "--yes", "--format", "json"]).code(1);
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
    assert!(!p.path("hosts/app/deployment/s/app.conf").exists());
    assert_eq!(p.read("hosts/other/deployment/s/independent"), "y");
    let done: Vec<_> = out.events().into_iter().filter(|e| e["event"] == "host_done").collect();
    let of = |h: &str| done.iter().find(|e| e["host"] == h).unwrap().clone();
    assert_eq!(
        (of("db")["failed"].as_u64(), of("db")["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(of("app")["skipped"].as_u64(), Some(1));
    assert_eq!(of("other")["changed"].as_u64(), Some(1));
}
