//! `ordo check` needs no host: it loads, evaluates and plans.

use crate::support::{Test, single_host};

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
