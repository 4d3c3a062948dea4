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

/// A partial environment ("db only") provides what nobody there requires: a
/// warning the evaluation carries, not an error.
#[test]
fn provide_nobody_uses() {
    let p = Project::new().file("environments/test.rhai", TWO_HOSTS).file(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"db\", |c| {\n    c.provide(\"db:dsn\", \"postgres://db1\");\n});\ns.component(\"app\", |c| {\n    c.add(file(\"a\", \"b\"));\n});\n",
    );
    p.ordo(&["check", "test"]).success();
    let evaluated = evaluate(&p, "test");
    assert_eq!(evaluated.warnings.len(), 1);
    insta::assert_snapshot!(render(&evaluated.warnings[0]));
}

/// Evaluates in-process (for what the command line does not show yet).
fn evaluate(p: &Project, env: &str) -> ordo::script::Evaluated {
    let project = ordo::project::Project {
        root: p.root().to_path_buf(),
    };
    ordo::script::evaluate(&project, env).unwrap_or_else(|e| panic!("{:?}", e.0))
}

/// A problem as ordo prints it (no colour, 100 columns).
fn render(problem: &ordo::problem::Problem) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false)
        .render_report(&mut out, problem)
        .expect("render");
    out
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

#[test]
fn decimal_mode_that_looks_octal() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a\", #{ content: \"b\", mode: 640 }));\n});\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn octal_modes_written_in_octal_are_taken() {
    // 0o644 is the decimal 420 and 0o640 is 416: digits that look octal, too.
    let p = single_host(
        "let s = service(\"s\");\nlet common = 0o640;\ns.component(\"x\", |c| {\n    c.add(file(\"a\", #{ content: \"b\", mode: 0o644 }));\n    c.add(directory(\"d\", #{ mode: 0o755 }));\n    let opts = #{ content: \"c\", mode: common };\n    c.add(file(\"c\", opts));\n    c.add(file(\"e\", #{ content: \"e\", mode: \"0640\" }));\n});\n",
    );
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
    );
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
    let out = single_host(&literal).ordo(&["check", "test"]);
    assert_eq!(out.code, 2, "{}", &out.stderr[..out.stderr.len().min(500)]);
    assert!(out.stderr.contains("maximum complexity"));

    let built = "let s = service(\"s\");\nlet a = [];\nfor i in 0..3000 { a = [a]; }\nlet b = a;\nif a != b || `${a}`.len() != 6002 { throw \"wrong\"; }\n\
                 s.component(\"x\", |c| {\n    let d = [];\n    for i in 0..3000 { d = [d]; }\n    c.add(file(\"depth\", `${d}`.len().to_string()));\n});\n";
    let p = single_host(built);
    p.ordo(&["check", "test"]).success();
    let deep = "let s = service(\"s\");\ns.component(\"x\", |c| {\n    let d = [];\n    for i in 0..100 { d = [d]; }\n    let port = c.attr(\"port\", d);\n});\n";
    let out = single_host(deep).ordo(&["check", "test"]).code(2);
    assert!(out.stderr.contains("nests deeper than 64 levels"), "{}", out.stderr);
}

#[test]
fn reserved_word_as_a_variable_name() {
    let p = single_host("let s = service(\"s\");\nlet package = \"nginx\";\n");
    insta::assert_snapshot!("reserved_word_package", check_fails(&p));
    let p = single_host("let s = service(\"s\");\nlet fn = 1;\n");
    insta::assert_snapshot!("reserved_word_fn", check_fails(&p));
}

#[test]
fn calls_nest_too_deeply() {
    let p = single_host("let s = service(\"s\");\nfn down(n) { down(n + 1) }\ndown(0);\n");
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn string_over_the_size_limit() {
    let p = single_host("let s = service(\"s\");\nlet text = \"x\";\nloop {\n    text += text;\n}\n");
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn names_that_would_leave_their_directory() {
    let p = single_host("let s = service(\"../..\");\n");
    let out = check_fails(&p);
    assert!(out.contains("`../..` is not a valid service name"), "{out}");
    let p = Project::new().file(
        "environments/test.rhai",
        "let env = environment(\"test\", #{ service: \"../..\" });\n",
    );
    assert!(check_fails(&p).contains("`../..` is not a valid service name"));
    let p = Project::new().file(
        "environments/test.rhai",
        "let env = environment(\"../x\", #{ service: \"s\" });\n",
    );
    assert!(check_fails(&p).contains("`../x` is not a valid environment name"));
    let p = single_host("let s = service(\"s\");\ns.component(\"..\", |c| {});\n");
    assert!(check_fails(&p).contains("`..` is not a valid component name"));
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
    let out = check_fails(&env("env.host(\"-oProxyCommand=touch${IFS}/tmp/x\").place(\"x\");"));
    assert!(
        out.contains("host name `-oProxyCommand=touch${IFS}/tmp/x` starts with `-`"),
        "{out}"
    );
    let out = check_fails(&env(
        "env.host(\"web\", #{ address: \"-oProxyCommand=x\" }).place(\"x\");",
    ));
    assert!(out.contains("address `-oProxyCommand=x` starts with `-`"), "{out}");
    let out = check_fails(&env("env.host(\"web\", #{ user: \"-l\" }).place(\"x\");"));
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
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn two_steps_with_the_same_name() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(command(\"migrate\", #{ run: \"./migrate\", creates: \"a\" }));\n    c.add(command(\"migrate\", #{ run: \"./migrate --again\", creates: \"b\" }));\n});\n",
    );
    insta::assert_snapshot!(check_fails(&p));
}

#[test]
fn order_after_a_component_the_service_does_not_declare() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"db\", |c| {});\ns.component(\"x\", |c| {\n    c.after(\"dbb\");\n});\n",
    );
    insta::assert_snapshot!(check_fails(&p));
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
    let p = single_host(&service(secret.to_str().unwrap()));
    let out = flat(&check_fails(&p));
    assert!(out.contains("outside the project and its library directories"), "{out}");
    let p = single_host(&service("../../../../../../../../etc/passwd"));
    assert!(flat(&check_fails(&p)).contains("outside the project"));
    // A symbolic link inside the project that points out of it is outside too.
    let p = single_host(&service("files/link"));
    std::fs::create_dir_all(p.path("files")).unwrap();
    std::os::unix::fs::symlink(&secret, p.path("files/link")).unwrap();
    assert!(flat(&check_fails(&p)).contains("outside the project"));
    let p = single_host("");
    let up = format!("../{}/secret", outside.path().file_name().unwrap().to_str().unwrap());
    assert!(p.root().join(&up).exists(), "the test reaches the file");
    p.write(
        "services/s.rhai",
        &format!("let s = service(\"s\");\ns.component(\"x\", |c| {{\n    c.add(template(\"a\", \"{up}\"));\n}});\n"),
    );
    let out = flat(&check_fails(&p));
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
