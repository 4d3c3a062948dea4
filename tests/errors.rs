//! Bad input gets a clear error: what, where (file:line with the offending line)
//! and what to do. Each case is a snapshot of the exact text `ordo` prints.

use crate::support::{Project, single_host};

/// Runs `ordo check test`, expects exit code 2 and returns stderr.
fn check_fails(p: &Project) -> String {
    let out = p.ordo(&["check", "test"]).code(2);
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", out.stdout);
    p.redact(&out.stderr)
}

#[test]
fn syntax_error() {
    let p = single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a\", \"b\")\n});\n");
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn undefined_variable() {
    let p = single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a\", greeting));\n});\n");
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn unknown_function() {
    let p = single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(fiel(\"a\", \"b\"));\n});\n");
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn missing_module() {
    let p = single_host(
        "import \"components/nope\" as nope;\nlet s = service(\"s\");\ns.component(\"x\", |c| nope::x(c));\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn error_inside_a_module_points_at_the_module_and_the_call() {
    let p = single_host(
        "import \"components/x\" as x;\nlet s = service(\"s\");\ns.component(\"x\", |c| x::configure(c));\n",
    )
    .file(
        "components/x.rhai",
        "fn configure(c) {\n    c.add(file(\"a\", #{ contnet: \"b\" }));\n}\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn unknown_attribute_override() {
    let p = Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\" });\nenv.host(\"h\", #{ transport: \"local\", home: \"hosts/h\" }).place(\"x\");\nenv.override(\"x\", #{ prot: 8080 });\n",
        )
        .file("services/s.rhai", "let s = service(\"s\");\ns.component(\"x\", |c| {\n    let port = c.attr(\"port\", 80);\n    c.add(file(\"port\", `${port}`));\n});\n");
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn override_of_the_wrong_type() {
    let p = Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\" });\nenv.host(\"h\", #{ transport: \"local\", home: \"hosts/h\" }).place(\"x\", #{ port: \"eighty\" });\n",
        )
        .file("services/s.rhai", "let s = service(\"s\");\ns.component(\"x\", |c| {\n    let port = c.attr(\"port\", 80);\n});\n");
    insta::assert_snapshot!(check_fails(&p));
}

const TWO_HOSTS: &str = "let env = environment(\"test\", #{ service: \"s\" });\n\
env.host(\"db1\", #{ transport: \"local\", home: \"hosts/db1\" }).place(\"db\");\n\
env.host(\"web1\", #{ transport: \"local\", home: \"hosts/web1\" }).place(\"app\");\n";

#[test]
fn require_with_no_provider() {
    let p = Project::new().file("environments/test.rhai", TWO_HOSTS).file(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"db\", |c| {\n    c.provide(\"db:url\", \"postgres://db1\");\n});\ns.component(\"app\", |c| {\n    let dsn = c.require_one(\"db:dsn\");\n    let url = c.require_one(\"db:url\");\n});\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn provide_nobody_uses() {
    let p = Project::new().file("environments/test.rhai", TWO_HOSTS).file(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"db\", |c| {\n    c.provide(\"db:dsn\", \"postgres://db1\");\n});\ns.component(\"app\", |c| {\n    c.add(file(\"a\", \"b\"));\n});\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn dependency_cycle_across_two_hosts() {
    let p = Project::new().file("environments/test.rhai", TWO_HOSTS).file(
        "services/s.rhai",
        "let s = service(\"s\");\n\
s.component(\"db\", |c| {\n    c.provide(\"db:dsn\", \"postgres://db1\");\n    let app = c.require_one(\"app:url\");\n    c.add(file(\"db.conf\", `allow ${app}`));\n});\n\
s.component(\"app\", |c| {\n    c.provide(\"app:url\", \"http://web1\");\n    let dsn = c.require_one(\"db:dsn\");\n    c.add(file(\"app.conf\", dsn));\n});\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn requires_that_wait_on_each_other_are_unsatisfied() {
    // Each requires before it provides: neither can ever be configured.
    let p = Project::new().file("environments/test.rhai", TWO_HOSTS).file(
        "services/s.rhai",
        "let s = service(\"s\");\n\
s.component(\"db\", |c| {\n    let app = c.require_one(\"app:url\");\n    c.provide(\"db:dsn\", \"postgres://db1\");\n});\n\
s.component(\"app\", |c| {\n    let dsn = c.require_one(\"db:dsn\");\n    c.provide(\"app:url\", \"http://web1\");\n});\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn component_on_unknown_host() {
    let p = Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\" });\nenv.host(\"web1\", #{ transport: \"local\", home: \"hosts/web1\" });\nenv.place(\"x\", [\"web1\", \"web2\"]);\n",
        )
        .file("services/s.rhai", "let s = service(\"s\");\ns.component(\"x\", |c| {});\n");
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn unknown_component_placed() {
    let p = Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\" });\nenv.host(\"web1\", #{ transport: \"local\", home: \"hosts/web1\" }).place(\"ap\");\n",
        )
        .file("services/s.rhai", "let s = service(\"s\");\ns.component(\"app\", |c| {});\n");
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn template_with_undefined_variable() {
    let p = single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    let port = c.attr(\"port\", 80);\n    c.add(template(\"app.ini\", \"templates/app.ini\"));\n});\n")
        .file("templates/app.ini", "[server]\nport = {{ port }}\nworkers = {{ workers }}\n");
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn endless_loop_hits_the_operation_limit() {
    let p =
        single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    let i = 0;\n    loop { i += 1; }\n});\n");
    let started = std::time::Instant::now();
    let err = check_fails(&p);
    assert!(
        started.elapsed().as_secs() < 60,
        "the limit must stop the loop, not a timeout"
    );
    insta::assert_snapshot!(err);
}

#[test]
fn command_without_a_guard() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(command(\"migrate\", #{ run: \"./migrate\" }));\n});\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn missing_environment_lists_the_known_ones() {
    let p = single_host("let s = service(\"s\");\n");
    let out = p.ordo(&["check", "prod"]).code(2);
    insta::assert_snapshot!(p.redact(&out.stderr));
}

#[test]
fn no_project_here() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::run(dir.path(), &["check", "x"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no ordo project at or above"), "{}", out.stderr);
    assert!(out.stderr.contains("-C DIR"), "{}", out.stderr);
}

#[test]
fn failing_command_stops_its_host_and_names_host_step_and_line() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"before.txt\", \"1\"));\n    c.add(command(\"migrate\", #{ run: \"echo 'table users is locked' >&2; exit 3\", creates: \"migrated\" }));\n    c.add(file(\"after.txt\", \"2\"));\n});\n",
    );
    let out = p.ordo(&["deploy", "test", "--yes"]).code(1);
    assert!(
        p.path("hosts/h/deployment/s/before.txt").exists(),
        "steps before the failure are applied"
    );
    assert!(
        !p.path("hosts/h/deployment/s/after.txt").exists(),
        "steps after the failure do not run"
    );
    assert!(
        out.stdout
            .contains("- h:x file after.txt skipped: h:x command migrate failed"),
        "{}",
        out.stdout
    );
    insta::assert_snapshot!(p.redact(&out.stderr));
}

#[test]
fn error_inside_the_standard_library_points_at_both_places() {
    let p = single_host(
        "import \"ordo/web\" as web;\nlet s = service(\"s\");\ns.component(\"x\", |c| {\n    web::site(c, \"htdocs\", #{ assets: #{} });\n});\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}
