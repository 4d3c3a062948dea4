//! Bad input gets a clear error: what, where (file:line with the offending line)
//! and what to do. Each case is a snapshot of the exact text `ordo` prints.

use crate::support::{Project, Test, single_host};

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

/// `ordo check test` must fail with exit 2 and print nothing on stdout; its stderr,
/// redacted, for an `insta` snapshot named after the test.
fn check_fails_in(p: &crate::support::Project) -> String {
    let out = p.ordo(&["check", "test"]).code(2);
    assert_eq!(out.stdout, "");
    p.redact(&out.stderr)
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

/// A partial environment ("db only") provides what nobody there requires: a
/// warning the evaluation carries, not an error.
#[test]
fn provide_nobody_uses() {
    two_hosts(
        "let s = service(\"s\");\ns.component(\"db\", |c| {\n    c.provide(\"db:dsn\", \"postgres://db1\");\n});\ns.component(\"app\", |c| {\n    c.add(file(\"a\", \"b\"));\n});\n",
    )
    .args(&["check", "test"])
    .stdout("ok: 1 step on 1 host\n")
    .stderr_snapshot("provide_nobody_uses")
    .run();
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
fn a_value_nested_in_itself_stops_at_the_script_time_limit() {
    // A handful of operations per turn, but Rhai measures the whole value on every
    // assignment: quadratic time far inside the operation limit (20,000 turns took
    // 15 s in a release build, more than a minute in a debug build).
    let t = single_host("let s = service(\"s\");\nlet a = [];\nfor i in 0..20000 { a = [a]; }\n")
        .env("ORDO_SCRIPT_TIMEOUT", "2");
    let started = std::time::Instant::now();
    check_fails(t, "a_value_nested_in_itself_stops_at_the_script_time_limit");
    let took = started.elapsed();
    assert!(took.as_secs() < 15, "stopped at the limit of 2 s, not after {took:?}");
}

#[test]
fn a_runaway_template_loop_stops_at_the_fuel_limit() {
    let t = single_host("let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(template(\"app.ini\", \"templates/app.ini\"));\n});\n")
        .file(
            "templates/app.ini",
            "[server]\n{% for i in range(10000) %}{% for j in range(1000) %}{{ i }}{% endfor %}{% endfor %}\n",
        );
    check_fails(t, "a_runaway_template_loop_stops_at_the_fuel_limit");
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

#[test]
fn decimal_mode_that_looks_octal() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a\", #{ content: \"b\", mode: 640 }));\n});\n",
    ).build();
    insta::assert_snapshot!(check_fails_in(&p));
}

#[test]
fn octal_modes_written_in_octal_are_taken() {
    // 0o644 is the decimal 420 and 0o640 is 416: digits that look octal, too.
    let p = single_host(
        "let s = service(\"s\");\nlet common = 0o640;\ns.component(\"x\", |c| {\n    c.add(file(\"a\", #{ content: \"b\", mode: 0o644 }));\n    c.add(directory(\"d\", #{ mode: 0o755 }));\n    let opts = #{ content: \"c\", mode: common };\n    c.add(file(\"c\", opts));\n    c.add(file(\"e\", #{ content: \"e\", mode: \"0640\" }));\n});\n",
    ).build();
    p.ordo(&["deploy", "test", "--yes"]).success();
    let mode = |rel: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p.path(rel)).unwrap().permissions().mode() & 0o7777
    };
    assert_eq!(mode("hosts/h/deployment/s/a"), 0o644);
    assert_eq!(mode("hosts/h/deployment/s/c"), 0o640);
    assert_eq!(mode("hosts/h/deployment/s/e"), 0o640);
}

#[test]
fn circular_import() {
    let p = single_host(
        "import \"components/a\" as a;\nlet s = service(\"s\");\ns.component(\"x\", |c| a::configure(c));\n",
    )
    .file(
        "components/a.rhai",
        "import \"components/b\" as b;\nfn configure(c) { b::configure(c) }\n",
    )
    .file(
        "components/b.rhai",
        "import \"components/a\" as a;\nfn configure(c) {}\n",
    )
    .build();
    let out = p.ordo(&["check", "test"]);
    assert_eq!(out.code, 2, "a diagnostic, not a crash: {}", out.stderr);
    insta::assert_snapshot!(p.redact(&out.stderr));
}

#[test]
fn deeply_nested_values_do_not_abort() {
    // Rhai refuses deep literals itself; values built at run time it prints,
    // compares and drops recursively, which used to overflow ordo's stack.
    let literal = format!(
        "let s = service(\"s\");\nlet x = {}{};\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let out = single_host(&literal).build().ordo(&["check", "test"]);
    assert_eq!(out.code, 2, "{}", &out.stderr[..out.stderr.len().min(500)]);
    assert!(out.stderr.contains("maximum complexity"));

    let built = "let s = service(\"s\");\nlet a = [];\nfor i in 0..3000 { a = [a]; }\nlet b = a;\nif a != b || `${a}`.len() != 6002 { throw \"wrong\"; }\n\
                 s.component(\"x\", |c| {\n    let d = [];\n    for i in 0..3000 { d = [d]; }\n    c.add(file(\"depth\", `${d}`.len().to_string()));\n});\n";
    let p = single_host(built).build();
    p.ordo(&["check", "test"]).success();
    let deep = "let s = service(\"s\");\ns.component(\"x\", |c| {\n    let d = [];\n    for i in 0..100 { d = [d]; }\n    let port = c.attr(\"port\", d);\n});\n";
    let out = single_host(deep).build().ordo(&["check", "test"]).code(2);
    assert!(out.stderr.contains("nests deeper than 64 levels"), "{}", out.stderr);
}

#[test]
fn reserved_word_as_a_variable_name() {
    let p = single_host("let s = service(\"s\");\nlet package = \"nginx\";\n").build();
    insta::assert_snapshot!("reserved_word_package", check_fails_in(&p));
    let p = single_host("let s = service(\"s\");\nlet fn = 1;\n").build();
    insta::assert_snapshot!("reserved_word_fn", check_fails_in(&p));
}

#[test]
fn calls_nest_too_deeply() {
    let p = single_host("let s = service(\"s\");\nfn down(n) { down(n + 1) }\ndown(0);\n").build();
    insta::assert_snapshot!(check_fails_in(&p));
}

#[test]
fn string_over_the_size_limit() {
    let p = single_host("let s = service(\"s\");\nlet text = \"x\";\nloop {\n    text += text;\n}\n").build();
    insta::assert_snapshot!(check_fails_in(&p));
}

#[test]
fn names_that_would_leave_their_directory() {
    let p = single_host("let s = service(\"../..\");\n").build();
    let out = check_fails_in(&p);
    assert!(out.contains("`../..` is not a valid service name"), "{out}");
    let p = Project::new().file(
        "environments/test.rhai",
        "let env = environment(\"test\", #{ service: \"../..\" });\n",
    );
    assert!(check_fails_in(&p).contains("`../..` is not a valid service name"));
    let p = Project::new().file(
        "environments/test.rhai",
        "let env = environment(\"../x\", #{ service: \"s\" });\n",
    );
    assert!(check_fails_in(&p).contains("`../x` is not a valid environment name"));
    let p = single_host("let s = service(\"s\");\ns.component(\"..\", |c| {});\n").build();
    assert!(check_fails_in(&p).contains("`..` is not a valid component name"));
    // An environment named on the command line is a file name too.
    std::fs::create_dir_all(p.path("elsewhere")).unwrap();
    p.write(
        "elsewhere/x.rhai",
        "let env = environment(\"x\", #{ service: \"s\" });\n",
    );
    let out = p.ordo(&["check", "../elsewhere/x"]).code(2);
    assert!(out.stderr.contains("no environment `../elsewhere/x`"), "{}", out.stderr);
}

#[test]
fn host_names_and_addresses_that_ssh_would_take_for_options() {
    let env = |host: &str| {
        Project::new()
            .file(
                "environments/test.rhai",
                &format!("let env = environment(\"test\", #{{ service: \"s\" }});\n{host}\n"),
            )
            .file(
                "services/s.rhai",
                "let s = service(\"s\");\ns.component(\"x\", |c| {});\n",
            )
    };
    let out = check_fails_in(&env("env.host(\"-oProxyCommand=touch${IFS}/tmp/x\").place(\"x\");"));
    assert!(
        out.contains("host name `-oProxyCommand=touch${IFS}/tmp/x` starts with `-`"),
        "{out}"
    );
    let out = check_fails_in(&env(
        "env.host(\"web\", #{ address: \"-oProxyCommand=x\" }).place(\"x\");",
    ));
    assert!(out.contains("address `-oProxyCommand=x` starts with `-`"), "{out}");
    let out = check_fails_in(&env("env.host(\"web\", #{ user: \"-l\" }).place(\"x\");"));
    assert!(out.contains("user `-l` starts with `-`"), "{out}");
}

#[test]
fn hosts_that_are_the_same_place() {
    let p = Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\", user: \"deploy\" });\n\
             env.host(\"a\", #{ transport: \"local\", home: \"hosts/a\" }).place(\"x\");\n\
             env.host(\"b\", #{ transport: \"local\", home: \"hosts/./a\" }).place(\"x\");\n\
             env.host(\"web1\", #{ address: \"10.0.0.1\" }).place(\"x\");\n\
             env.host(\"web2\", #{ address: \"10.0.0.1\", user: \"deploy\" }).place(\"x\");\n\
             env.host(\"web3\", #{ address: \"10.0.0.1\", port: 2222 }).place(\"x\");\n",
        )
        .file(
            "services/s.rhai",
            "let s = service(\"s\");\ns.component(\"x\", |c| {});\n",
        );
    insta::assert_snapshot!(check_fails_in(&p));
}

#[test]
fn two_steps_with_the_same_name() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(command(\"migrate\", #{ run: \"./migrate\", creates: \"a\" }));\n    c.add(command(\"migrate\", #{ run: \"./migrate --again\", creates: \"b\" }));\n});\n",
    ).build();
    insta::assert_snapshot!(check_fails_in(&p));
}

#[test]
fn order_after_a_component_the_service_does_not_declare() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"db\", |c| {});\ns.component(\"x\", |c| {\n    c.after(\"dbb\");\n});\n",
    )
    .build();
    insta::assert_snapshot!(check_fails_in(&p));
}

#[test]
fn sources_outside_the_project() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "id_ed25519").unwrap();
    let secret = outside.path().join("secret");
    let service = |source: &str| {
        format!(
            "let s = service(\"s\");\ns.component(\"x\", |c| {{\n    c.add(file(\"a\", #{{ source: \"{source}\" }}));\n}});\n"
        )
    };
    let p = single_host(&service(secret.to_str().unwrap())).build();
    let out = flat(&check_fails_in(&p));
    assert!(out.contains("outside the project and its library directories"), "{out}");
    let p = single_host(&service("../../../../../../../../etc/passwd")).build();
    assert!(flat(&check_fails_in(&p)).contains("outside the project"));
    // A symbolic link inside the project that points out of it is outside too.
    let p = single_host(&service("files/link")).build();
    std::fs::create_dir_all(p.path("files")).unwrap();
    std::os::unix::fs::symlink(&secret, p.path("files/link")).unwrap();
    assert!(flat(&check_fails_in(&p)).contains("outside the project"));
    let p = single_host("let s = service(\"s\");\n").build();
    let up = format!("../{}/secret", outside.path().file_name().unwrap().to_str().unwrap());
    assert!(p.root().join(&up).exists(), "the test reaches the file");
    p.write(
        "services/s.rhai",
        &format!("let s = service(\"s\");\ns.component(\"x\", |c| {{\n    c.add(template(\"a\", \"{up}\"));\n}});\n"),
    );
    let out = flat(&check_fails_in(&p));
    assert!(out.contains(&format!("template source `{up}` cannot be read")), "{out}");
    assert!(out.contains("outside the project"), "{out}");
}

/// A message as one line: miette wraps long ones at any word.
fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

/// One mistake that hits several hosts is one problem listing them (it used to be
/// printed once per host, each copy under empty `Advice:` headings): a secret
/// missing from the secrets file, and a command failing alike when applied.
#[test]
fn the_same_problem_on_several_hosts_is_shown_once() {
    let p = Test::new()
        .service(
            "let s = service(\"s\");\ns.component(\"app\", |c| {\n    c.add(file(\"app.conf\", \"pw = \" + secret(\"db_password\") + \"\\n\"));\n});\n",
        )
        .environment_line(
            "for h in [\"web1\", \"web2\", \"web3\"] {\n    env.host(h, #{ transport: \"local\", home: `hosts/${h}` }).place(\"app\");\n}",
        )
        .build();
    p.age_recipient("test");
    p.set_secret("test", "other", "x");
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stdout("")
        .stderr_snapshot("the_same_missing_secret_on_three_hosts")
        .run();
    p.write(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"app\", |c| {\n    c.add(command(\"migrate\", #{ run: \"echo broken >&2; exit 3\", always: true }));\n});\n",
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_snapshot("the_same_failed_command_on_three_hosts")
        .run();
}

/// `ORDO_DEBUG_ERRORS` is read once with the configuration and handed to the
/// script layer: with it, the raw Rhai error comes before the problem; without
/// it, only the problem.
#[test]
fn debug_errors_setting_writes_the_raw_rhai_error() {
    let script = "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(fiel(\"a\", \"b\"));\n});\n";
    single_host(script)
        .env("ORDO_DEBUG_ERRORS", "1")
        .args(&["check", "test"])
        .status(2)
        .stdout("")
        .stderr_contains("rhai error: ErrorInFunctionCall(")
        .stderr_contains("ErrorFunctionNotFound(")
        .run();
    single_host(script)
        .args(&["check", "test"])
        .status(2)
        .stdout("")
        .stderr_lacks("rhai error:")
        .run();
}
