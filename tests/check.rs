//! `ordo check` needs no host: it loads, evaluates and plans.

use crate::support::{Project, Test, single_host};

#[test]
fn check_counts_steps_and_hosts() {
    let p = Test::example("hello").build();
    p.test()
        .args(&["check", "local"])
        .stdout("ok: 12 steps on 2 hosts\n")
        .run();
    // Production hosts are unreachable from here: check never connects.
    p.test()
        .args(&["check", "production"])
        .stdout("ok: 20 steps on 3 hosts\n")
        .expect_missing(".ordo-hosts")
        .run();
}

#[test]
fn check_works_from_a_subdirectory_and_with_dash_c() {
    let p = Test::example("hello").build();
    p.test()
        .current_dir("components")
        .args(&["check", "local"])
        .stdout("ok: 12 steps on 2 hosts\n")
        .run();
    let elsewhere = tempfile::tempdir().unwrap();
    p.test()
        .current_dir(elsewhere.path())
        .args(&["-C", p.root().to_str().unwrap(), "check", "local"])
        .stdout("ok: 12 steps on 2 hosts\n")
        .run();
}

#[test]
fn order_is_deterministic_and_follows_declarations() {
    let p = Test::example("hello").build();
    let a = p.test().args(&["graph", "production"]).run().stdout;
    let b = p.test().args(&["graph", "production"]).run().stdout;
    assert_eq!(a, b);
}

#[test]
fn stdlib_modules_import_each_other() {
    single_host(
        "import \"ordo/release\" as release;\nlet s = service(\"s\");\ns.component(\"x\", |c| {\n    let dir = release::prepare(c, \"2.0\");\n    release::activate(c, \"2.0\");\n});\n",
    )
    .args(&["check", "test"])
    .stdout("ok: 3 steps on 1 host\n")
    .run();
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
    )
    .build();
    assert_eq!(p.ordo(&["check", "test"]).success().stdout, "ok: 1 step on 1 host\n");
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
