//! The commands around the language: `ordo init`, the listings, completions and the
//! man page.

use crate::support::Test;

#[test]
fn init_makes_a_repository_that_deploys_at_once_and_then_has_nothing_to_change() {
    let p = Test::new().build();
    p.test()
        .args(&["init", "shop"])
        .stdout_contains("created shop/services/shop.rhai")
        .stdout_contains("next: cd shop && ordo deploy local --yes")
        .run();
    let repo = p.path("shop");
    p.test()
        .current_dir(&repo)
        .args(&["deploy", "local", "--yes"])
        .stdout_contains("done: 3 changed, 0 unchanged, 0 failed, 0 skipped on 1 host")
        .expect_file(
            "shop/.ordo-hosts/app/deployment/shop/etc/app.conf",
            "# app on app, managed by ordo\nport = 8080\n",
        )
        .run();
    p.test()
        .current_dir(&repo)
        .args(&["deploy", "local", "--yes"])
        .stdout_contains("nothing to change: 3 steps on 1 host up to date")
        .run();
    p.test()
        .current_dir(&repo)
        .args(&["check", "production"])
        .stdout("ok: 3 steps on 1 host\n")
        .run();
    p.test()
        .current_dir(&repo)
        .args(&["secrets", "list", "production"])
        .run();
    // Not over an existing repository.
    p.test()
        .args(&["init", "shop"])
        .status(2)
        .stderr_contains("shop is not empty")
        .run();
}

#[test]
fn hosts_and_components_are_listed_for_people_and_machines() {
    let p = Test::example("hello").build();
    p.test()
        .args(&["hosts", "production"])
        .stdout(
            "
            api1  ssh site@api1.example.com  roles: backend  components: api
            web1  ssh site@web1.example.com  roles: frontend  components: web
            web2  ssh site@web2.example.com  roles: frontend  components: web
            ",
        )
        .run();
    p.test()
        .args(&["components", "production", "--format", "json"])
        .stdout(
            r#"
            {"event":"component","name":"api","hosts":["api1"]}
            {"event":"component","name":"web","hosts":["web1","web2"]}
            "#,
        )
        .run();
}

#[test]
fn completions_and_the_man_page_are_generated() {
    let p = Test::new().build();
    for shell in ["bash", "zsh", "fish"] {
        let out = p.test().args(&["completions", shell]).run();
        assert!(
            out.stdout.contains("deploy") && out.stdout.contains("break-lock"),
            "{shell}"
        );
    }
    let man = p.test().args(&["man"]).run();
    assert!(
        man.stdout.starts_with(".ie") && man.stdout.contains(".TH ordo 1"),
        "{}",
        man.stdout
    );
}

#[test]
fn values_from_the_command_line_are_typed_checked_and_recorded() {
    let p = Test::new()
        .service(
            "let s = service(\"s\");\ns.component(\"app\", |c| {\n    let port = c.attr(\"port\", 8080);\n    let title = c.attr(\"title\", \"x\");\n    c.add(file(\"app.conf\", `port = ${port}` + \"\\n\" + `title = ${title}` + \"\\n\"));\n});\n",
        )
        .local_host("h")
        .place("app")
        .file("vars.toml", "[app]\ntitle = \"from a file\"\n")
        .build();
    p.test()
        .args(&[
            "deploy",
            "test",
            "--yes",
            "--set",
            "app.port=8081",
            "--set-file",
            "vars.toml",
        ])
        .expect_file("hosts/h/deployment/s/app.conf", "port = 8081\ntitle = from a file\n")
        .run();
    p.test()
        .args(&["status", "test"])
        .stdout_contains("--set app.port=8081 --set app.title=\"from a file\"")
        .run();
    // Typed like an override: an integer attribute takes integers.
    p.test()
        .args(&["check", "test", "--set", "app.port=\"8081\""])
        .status(2)
        .stderr_contains("attribute `port` of `app` is set to a string but its default is an integer")
        .stderr_contains("--set app.port=\"8081\"")
        .run();
    // An unknown attribute is the same error as an unknown override.
    p.test()
        .args(&["check", "test", "--set", "app.prot=1"])
        .status(2)
        .stderr_contains("unknown attribute `prot` for component `app`")
        .stderr_contains("did you mean `port`?")
        .run();
    p.test()
        .args(&["check", "test", "--set", "port=1"])
        .status(2)
        .stderr_contains("expected component.attribute=value")
        .run();
}
