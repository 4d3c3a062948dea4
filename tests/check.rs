//! `ordo check` needs no host: it loads, evaluates and plans.

use crate::support::Project;

#[test]
fn check_counts_steps_and_hosts() {
    let p = Project::example("hello");
    assert_eq!(
        p.ordo(&["check", "local"]).success().stdout,
        "ok: 12 steps on 2 hosts\n"
    );
    // Production hosts are unreachable from here: check never connects.
    assert_eq!(
        p.ordo(&["check", "production"]).success().stdout,
        "ok: 20 steps on 3 hosts\n"
    );
    assert!(!p.path(".ordo-hosts").exists());
}

#[test]
fn check_works_from_a_subdirectory_and_with_dash_c() {
    let p = Project::example("hello");
    let out = crate::support::run(&p.path("components"), &["check", "local"]).success();
    assert_eq!(out.stdout, "ok: 12 steps on 2 hosts\n");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = crate::support::run(elsewhere.path(), &["-C", p.root().to_str().unwrap(), "check", "local"]).success();
    assert_eq!(out.stdout, "ok: 12 steps on 2 hosts\n");
}

#[test]
fn order_is_deterministic_and_follows_declarations() {
    let p = Project::example("hello");
    let a = p.ordo(&["graph", "production"]).success().stdout;
    let b = p.ordo(&["graph", "production"]).success().stdout;
    assert_eq!(a, b);
}

#[test]
fn stdlib_modules_import_each_other() {
    let p = crate::support::single_host(
        "import \"ordo/release\" as release;\nlet s = service(\"s\");\ns.component(\"x\", |c| {\n    let dir = release::prepare(c, \"2.0\");\n    release::activate(c, \"2.0\");\n});\n",
    );
    let out = p.ordo(&["check", "test"]).success();
    assert_eq!(out.stdout, "ok: 3 steps on 1 hosts\n");
}

/// A partial environment ("db only"): the app that requires the database and
/// orders itself after it is not placed here.
#[test]
fn partial_environments_check() {
    let p = crate::support::single_host(
        "let s = service(\"s\");\n\
         s.component(\"x\", |c| {\n\
         \x20   c.provide(\"db:dsn\", \"postgres://h\");\n\
         \x20   let caches = c.require(\"cache:url\", #{ optional: true });\n\
         \x20   let cache = c.require_one(\"cache:url\", #{ optional: true });\n\
         \x20   c.add(file(\"caches\", `${caches.len()} ${type_of(cache)}`));\n\
         \x20   c.before(\"app\");\n\
         });\n\
         s.component(\"app\", |c| {\n\
         \x20   let dsn = c.require_one(\"db:dsn\");\n\
         \x20   c.after(\"x\");\n\
         });\n",
    );
    assert_eq!(p.ordo(&["check", "test"]).success().stdout, "ok: 1 steps on 1 hosts\n");
    p.ordo(&["deploy", "test", "--yes"]).success();
    assert_eq!(p.read("hosts/h/deployment/s/caches"), "0 ()");
}

/// An optional require still waits for a provider that exists.
#[test]
fn optional_require_sees_providers() {
    let p = Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\" });\n\
             env.host(\"a\", #{ transport: \"local\", home: \"hosts/a\" }).place(\"app\");\n\
             env.host(\"b\", #{ transport: \"local\", home: \"hosts/b\" }).place(\"cache\");\n",
        )
        .file(
            "services/s.rhai",
            "let s = service(\"s\");\n\
             s.component(\"app\", |c| {\n\
             \x20   let caches = c.require(\"cache:url\", #{ optional: true });\n\
             \x20   c.add(file(\"caches\", caches.len().to_string()));\n\
             });\n\
             s.component(\"cache\", |c| { c.provide(\"cache:url\", \"redis://b\"); });\n",
        );
    p.ordo(&["deploy", "test", "--yes"]).success();
    assert_eq!(p.read("hosts/a/deployment/s/caches"), "1");
}
