//! Bad input gets a clear error: what, where (file:line with the offending line)
//! and what to do. Each case is a snapshot of the exact text `ordo` prints.

use crate::support::{Test, single_host};

/// Runs `ordo check test`: exit code 2, nothing on stdout, and stderr is the
/// snapshot `name`.
#[track_caller]
fn check_fails(t: Test, name: &str) {
    t.args(&["check", "test"])
        .status(2)
        .stdout("")
        .stderr_snapshot(name)
        .run();
}

/// Two local hosts: `db1` with component `db`, `web1` with `app`.
fn two_hosts(service: &str) -> Test {
    Test::new()
        .service(service)
        .local_host("db1")
        .place("db")
        .local_host("web1")
        .place("app")
}

#[test]
fn syntax_error() {
    check_fails(
        single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a\", \"b\")\n});\n"),
        "syntax_error",
    );
}

#[test]
fn undefined_variable() {
    check_fails(
        single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a\", greeting));\n});\n"),
        "undefined_variable",
    );
}

#[test]
fn unknown_function() {
    check_fails(
        single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(fiel(\"a\", \"b\"));\n});\n"),
        "unknown_function",
    );
}

#[test]
fn missing_module() {
    check_fails(
        single_host(
            "import \"components/nope\" as nope;\nlet s = service(\"s\");\ns.component(\"x\", |c| nope::x(c));\n",
        ),
        "missing_module",
    );
}

#[test]
fn error_inside_a_module_points_at_the_module_and_the_call() {
    let t = single_host(
        "import \"components/x\" as x;\nlet s = service(\"s\");\ns.component(\"x\", |c| x::configure(c));\n",
    )
    .file(
        "components/x.rhai",
        "fn configure(c) {\n    c.add(file(\"a\", #{ contnet: \"b\" }));\n}\n",
    );
    check_fails(t, "error_inside_a_module_points_at_the_module_and_the_call");
}

#[test]
fn unknown_attribute_override() {
    let t = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    let port = c.attr(\"port\", 80);\n    c.add(file(\"port\", `${port}`));\n});\n",
    )
    .override_("x", "#{ prot: 8080 }");
    check_fails(t, "unknown_attribute_override");
}

#[test]
fn override_of_the_wrong_type() {
    let t = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| {\n    let port = c.attr(\"port\", 80);\n});\n")
        .local_host("h")
        .place_with("x", "#{ port: \"eighty\" }");
    check_fails(t, "override_of_the_wrong_type");
}

#[test]
fn require_with_no_provider() {
    check_fails(
        two_hosts(
            "let s = service(\"s\");\ns.component(\"db\", |c| {\n    c.provide(\"db:url\", \"postgres://db1\");\n});\ns.component(\"app\", |c| {\n    let dsn = c.require_one(\"db:dsn\");\n    let url = c.require_one(\"db:url\");\n});\n",
        ),
        "require_with_no_provider",
    );
}

#[test]
fn provide_nobody_uses() {
    check_fails(
        two_hosts(
            "let s = service(\"s\");\ns.component(\"db\", |c| {\n    c.provide(\"db:dsn\", \"postgres://db1\");\n});\ns.component(\"app\", |c| {\n    c.add(file(\"a\", \"b\"));\n});\n",
        ),
        "provide_nobody_uses",
    );
}

#[test]
fn dependency_cycle_across_two_hosts() {
    check_fails(
        two_hosts(
            "let s = service(\"s\");\n\
s.component(\"db\", |c| {\n    c.provide(\"db:dsn\", \"postgres://db1\");\n    let app = c.require_one(\"app:url\");\n    c.add(file(\"db.conf\", `allow ${app}`));\n});\n\
s.component(\"app\", |c| {\n    c.provide(\"app:url\", \"http://web1\");\n    let dsn = c.require_one(\"db:dsn\");\n    c.add(file(\"app.conf\", dsn));\n});\n",
        ),
        "dependency_cycle_across_two_hosts",
    );
}

#[test]
fn requires_that_wait_on_each_other_are_unsatisfied() {
    // Each requires before it provides: neither can ever be configured.
    check_fails(
        two_hosts(
            "let s = service(\"s\");\n\
s.component(\"db\", |c| {\n    let app = c.require_one(\"app:url\");\n    c.provide(\"db:dsn\", \"postgres://db1\");\n});\n\
s.component(\"app\", |c| {\n    let dsn = c.require_one(\"db:dsn\");\n    c.provide(\"app:url\", \"http://web1\");\n});\n",
        ),
        "requires_that_wait_on_each_other_are_unsatisfied",
    );
}

#[test]
fn component_on_unknown_host() {
    let t = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| {});\n")
        .local_host("web1")
        .environment_line("env.place(\"x\", [\"web1\", \"web2\"]);");
    check_fails(t, "component_on_unknown_host");
}

#[test]
fn unknown_component_placed() {
    let t = Test::new()
        .service("let s = service(\"s\");\ns.component(\"app\", |c| {});\n")
        .local_host("web1")
        .place("ap");
    check_fails(t, "unknown_component_placed");
}

#[test]
fn template_with_undefined_variable() {
    let t = single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    let port = c.attr(\"port\", 80);\n    c.add(template(\"app.ini\", \"templates/app.ini\"));\n});\n")
        .file("templates/app.ini", "[server]\nport = {{ port }}\nworkers = {{ workers }}\n");
    check_fails(t, "template_with_undefined_variable");
}

#[test]
fn endless_loop_hits_the_operation_limit() {
    let t =
        single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    let i = 0;\n    loop { i += 1; }\n});\n");
    let started = std::time::Instant::now();
    check_fails(t, "endless_loop_hits_the_operation_limit");
    assert!(
        started.elapsed().as_secs() < 60,
        "the limit must stop the loop, not a timeout"
    );
}

#[test]
fn command_without_a_guard() {
    check_fails(
        single_host(
            "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(command(\"migrate\", #{ run: \"./migrate\" }));\n});\n",
        ),
        "command_without_a_guard",
    );
}

#[test]
fn missing_environment_lists_the_known_ones() {
    single_host("let s = service(\"s\");\n")
        .args(&["check", "prod"])
        .status(2)
        .stderr_snapshot("missing_environment_lists_the_known_ones")
        .run();
}

#[test]
fn no_project_here() {
    Test::new()
        .args(&["check", "x"])
        .status(2)
        .stderr_contains("no ordo project at or above")
        .stderr_contains("-C DIR")
        .run();
}

#[test]
fn failing_command_stops_its_host_and_names_host_step_and_line() {
    single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"before.txt\", \"1\"));\n    c.add(command(\"migrate\", #{ run: \"echo 'table users is locked' >&2; exit 3\", creates: \"migrated\" }));\n    c.add(file(\"after.txt\", \"2\"));\n});\n",
    )
    .args(&["deploy", "test", "--yes"])
    .status(1)
    // Steps before the failure are applied, steps after it do not run.
    .expect_file("hosts/h/deployment/s/before.txt", "1")
    .expect_missing("hosts/h/deployment/s/after.txt")
    .stdout(
        "
        deploy test (service s): 3 steps on 1 host
          + h:x file before.txt (mode 0644)  services/s.rhai:3:11
              --- before.txt
              +++ before.txt
              @@ -0,0 +1 @@
              +1
              \\ No newline at end of file
          ! h:x command migrate (~/deployment/s/migrated does not exist)  services/s.rhai:4:11
          + h:x file after.txt (mode 0644)  services/s.rhai:5:11
              --- after.txt
              +++ after.txt
              @@ -0,0 +1 @@
              +2
              \\ No newline at end of file
        plan: 3 to change, 0 unchanged on 1 host
          ✓ h:x file before.txt ([TIME])
          ✗ h:x command migrate failed: exit code 3
          - h:x file after.txt skipped: h:x command migrate failed
          h: 1 changed, 1 failed, 1 skipped (3 round trips)
        failed: 1 changed, 0 unchanged, 1 failed, 1 skipped on 1 host in [TIME]
        ",
    )
    .stderr_snapshot("failing_command_stops_its_host_and_names_host_step_and_line")
    .run();
}

#[test]
fn error_inside_the_standard_library_points_at_both_places() {
    check_fails(
        single_host(
            "import \"ordo/web\" as web;\nlet s = service(\"s\");\ns.component(\"x\", |c| {\n    web::site(c, \"htdocs\", #{ assets: #{} });\n});\n",
        ),
        "error_inside_the_standard_library_points_at_both_places",
    );
}
