//! What `ordo check` refuses before any host is touched: two steps managing one
//! path (item 1), paths and link targets ordo cannot represent (item 10) — and
//! `ordo plan --exit-code` for CI (item 12).

use super::service;
use crate::support::{Test, single_host};

#[test]
fn two_steps_managing_one_path_are_a_check_time_error() {
    // The same path from two components, written once relative to the root and
    // once from the home with `..` and a trailing slash.
    let two_components = "let s = service(\"s\");\n\
        s.component(\"x\", |c| {\n  c.add(file(\"etc/app.conf\", \"a\"));\n});\n\
        s.component(\"y\", |c| {\n  c.add(file(\"~/deployment/s/tmp/../etc/app.conf/\", \"b\"));\n});\n";
    Test::new()
        .service(two_components)
        .local_host("h")
        .place("x")
        .place("y")
        .args(&["check", "test"])
        .status(2)
        .stdout("")
        .stderr_snapshot("two_components_one_path")
        .run();
    // The same component twice, and a directory and a file on one path.
    for (steps, what) in [
        (
            "  c.add(file(\"a\", \"1\"));\n  c.add(file(\"./a\", \"2\"));\n",
            "both manage",
        ),
        (
            "  c.add(directory(\"a\"));\n  c.add(file(\"a\", \"2\"));\n",
            "both manage",
        ),
        (
            "  c.add(symlink(\"a\", \"b\"));\n  c.add(directory(\"a/\"));\n",
            "both manage",
        ),
    ] {
        single_host(&service(steps))
            .args(&["check", "test"])
            .status(2)
            .stderr_contains(what)
            .stderr_contains("`~/deployment/s/a` on host `h`")
            .stderr_contains("services/s.rhai:3:9")
            .stderr_contains("╰── and this one")
            .stderr_contains("╰── this step")
            .run();
    }
}

#[test]
fn a_path_below_a_managed_file_or_symlink_is_a_check_time_error() {
    single_host(&service(
        "  c.add(file(\"etc\", \"a file\"));\n  c.add(file(\"etc/app.conf\", \"below it\"));\n",
    ))
    .args(&["check", "test"])
    .status(2)
    .stdout("")
    .stderr_snapshot("path_below_a_file")
    .run();
    single_host(&service(
        "  c.add(symlink(\"current\", \"releases/1\"));\n  c.add(file(\"current/app.conf\", \"x\"));\n",
    ))
    .args(&["check", "test"])
    .status(2)
    .stderr_contains("write through a symlink")
    .run();
}

#[test]
fn the_same_directory_declared_twice_with_the_same_mode_is_fine() {
    single_host(&service(
        "  c.add(directory(\"etc\", #{ mode: 0o750 }));\n  c.add(directory(\"etc/\", #{ mode: 0o750 }));\n",
    ))
    .args(&["check", "test"])
    .stdout("ok: 2 steps on 1 host\n")
    .run();
    single_host(&service(
        "  c.add(directory(\"etc\", #{ mode: 0o750 }));\n  c.add(directory(\"etc/\", #{ mode: 0o700 }));\n",
    ))
    .args(&["check", "test"])
    .status(2)
    .stderr_contains("both manage `~/deployment/s/etc`")
    .run();
}

#[test]
fn paths_and_targets_ordo_cannot_represent_are_a_check_time_error() {
    for (step, what) in [
        (
            r#"file("a\nb", "x")"#,
            "file `a\\u{a}b` cannot be managed: it contains a newline",
        ),
        (
            r#"file("a\tb", "x")"#,
            "file `a\\u{9}b` cannot be managed: it contains a tab",
        ),
        (
            r#"file("a\\b", "x")"#,
            "file `a\\b` cannot be managed: it contains a backslash",
        ),
        (
            r#"file("a\x1b[2Jb", "x")"#,
            "cannot be managed: it contains a control character (\\u{1b})",
        ),
        (
            r#"file("a ", "x")"#,
            "file `a ` cannot be managed: a part of it ends with a space",
        ),
        (
            r#"directory("d /x")"#,
            "directory `d /x` cannot be managed: a part of it ends with a space",
        ),
        (
            r#"symlink("l", "x\ny")"#,
            "the target of symlink `l` cannot be used: it contains a newline",
        ),
        (
            r#"symlink("l", "x\x7f")"#,
            "the target of symlink `l` cannot be used: it contains a control character (\\u{7f})",
        ),
        (
            r#"command("c", #{ run: "true", creates: "a\nb" })"#,
            "creates `a\\u{a}b` cannot be managed: it contains a newline",
        ),
        (
            r#"command("c", #{ run: "true", creates: "x", cwd: "d\tx" })"#,
            "cwd `d\\u{9}x` cannot be managed: it contains a tab",
        ),
    ] {
        single_host(&service(&format!("  c.add({step});\n")))
            .args(&["check", "test"])
            .status(2)
            .stdout("")
            .stderr_contains(what)
            // Where (the script's line is shown), and what to do.
            .stderr_contains("─[services/s.rhai:")
            .stderr_contains(&format!(" 3 │   c.add({step});"))
            .stderr_contains("without newlines, tabs,")
            .run();
    }
}

#[test]
fn plan_exit_code_tells_ci_whether_there_are_changes() {
    let p = single_host(&service("  c.add(file(\"a.txt\", \"a\"));\n")).build();
    p.test()
        .args(&["plan", "test", "--exit-code"])
        .status(2)
        .stdout_contains("plan: 1 to change")
        .expect_missing("hosts/h/deployment")
        .run();
    p.test().args(&["plan", "test", "--detailed-exitcode"]).status(2).run();
    p.test().args(&["deploy", "test", "--yes"]).run();
    p.test()
        .args(&["plan", "test", "--exit-code"])
        .stdout(
            "
            plan test (service s): 1 step on 1 host
            nothing to change: 1 step on 1 host up to date
            ",
        )
        .run();
    // An error is 1 with --exit-code, never 2 (which means "changes").
    p.write(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"x\", |c| { nope });\n",
    );
    p.test().args(&["plan", "test", "--exit-code"]).status(1).run();
    p.test().args(&["plan", "test"]).status(2).run();
}
