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

/// A service whose `app` writes its `port` (an integer) and `version` (a string).
const APP: &str = "let s = service(\"s\");\ns.component(\"app\", |c| {\n    let port = c.attr(\"port\", 8080);\n    let version = c.attr(\"version\", \"1.0\");\n    c.add(file(\"app.conf\", `port = ${port}, version = ${version}` + \"\\n\"));\n});\n";

/// Decision 39: component default < `env.override` < the host's placement <
/// `--set-file` < `--set`. A value typed on the command line is never outvoted by
/// a script, and is type-checked even where a host gives its own value.
#[test]
fn a_set_value_wins_over_a_per_host_value_and_is_type_checked_there() {
    let p = Test::new()
        .service(APP)
        .local_host("h")
        .place_with("app", "#{ port: 18801 }")
        .override_("app", "#{ port: 18800, version: \"2.0\" }")
        .build();
    p.test()
        .args(&["deploy", "test", "--yes", "--set", "app.port=18811"])
        .expect_file("hosts/h/deployment/s/app.conf", "port = 18811, version = 2.0\n")
        .run();
    p.test()
        .args(&["plan", "test", "--set", "app.port=abc"])
        .status(2)
        .stderr_contains("attribute `port` of `app` is set to a string but its default is an integer")
        .stderr_contains("--set app.port=abc")
        .run();
    // Without `--set`, the host's value wins over the environment's.
    p.test()
        .args(&["deploy", "test", "--yes"])
        .expect_file("hosts/h/deployment/s/app.conf", "port = 18801, version = 2.0\n")
        .run();
}

#[test]
fn a_string_attribute_takes_a_set_value_as_written() {
    let p = Test::new().service(APP).local_host("h").place("app").build();
    p.test()
        .args(&["deploy", "test", "--yes", "--set", "app.version=1.10"])
        .expect_file("hosts/h/deployment/s/app.conf", "port = 8080, version = 1.10\n")
        .run();
    p.test()
        .args(&["status", "test"])
        .stdout_contains("--set app.version=1.10")
        .run();
    // A number attribute still takes numbers only.
    p.test()
        .args(&["check", "test", "--set", "app.port=1.10"])
        .status(2)
        .stderr_contains("attribute `port` of `app` is set to a float but its default is an integer")
        .run();
}

#[test]
fn set_wins_over_set_file_and_an_overridden_value_is_still_type_checked() {
    let p = Test::new()
        .service(APP)
        .local_host("h")
        .place_with("app", "#{ port: 18801 }")
        .file("vars.toml", "[app]\nport = 18802\nversion = \"3.0\"\n")
        .file("wrong.toml", "[app]\nport = \"18803\"\n")
        .build();
    p.test()
        .args(&["deploy", "test", "--yes", "--set-file", "vars.toml"])
        .expect_file("hosts/h/deployment/s/app.conf", "port = 18802, version = 3.0\n")
        .run();
    p.test()
        .args(&[
            "deploy",
            "test",
            "--yes",
            "--set",
            "app.port=18811",
            "--set-file",
            "vars.toml",
        ])
        .expect_file("hosts/h/deployment/s/app.conf", "port = 18811, version = 3.0\n")
        .run();
    // The wrong value in the file loses to `--set`, and is an error all the same.
    p.test()
        .args(&["check", "test", "--set-file", "wrong.toml", "--set", "app.port=18811"])
        .status(2)
        .stderr_contains("attribute `port` of `app` is set to a string but its default is an integer")
        .stderr_contains("--set-file wrong.toml: app.port=\"18803\"")
        .run();
    // Two `--set` of one attribute: one of them would be dropped.
    p.test()
        .args(&["check", "test", "--set", "app.port=1", "--set", "app.port=2"])
        .status(2)
        .stderr_contains("`app.port` is set twice: --set app.port=1 and --set app.port=2")
        .run();
    p.test()
        .args(&["check", "test", "--set", "apx.port=1"])
        .status(2)
        .stderr_contains("--set for component `apx`, which service `s` does not declare")
        .run();
}

/// `--set-file /etc/shadow` printed a password hash line: a file that is not TOML
/// is reported by position only.
#[test]
fn a_set_file_that_is_not_toml_is_reported_without_quoting_it() {
    let p = Test::new()
        .service(APP)
        .local_host("h")
        .place("app")
        .file("shadow", "root:$6$salt$secrethash:19000:0:99999:7:::\n")
        .build();
    p.test()
        .args(&["check", "test", "--set-file", "shadow"])
        .status(2)
        .stderr_contains("--set-file shadow: not TOML (line 1, column 43)")
        .stderr_lacks("secrethash")
        .run();
}

/// `ordo --version` names the commit it was built from (`build.rs`), and is the
/// plain package version when it was not built from a git checkout of ordo.
#[test]
fn version_names_the_commit_it_was_built_from() {
    let source = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(source)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let checkout = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
        std::path::Path::new(&top).canonicalize().ok() == std::path::Path::new(source).canonicalize().ok()
    });
    let out = Test::new().build().test().args(&["--version"]).run();
    match git(&["rev-parse", "HEAD"]).filter(|_| checkout) {
        Some(head) => {
            let prefix = format!("ordo {} (git ", ordo::VERSION);
            assert!(out.stdout.starts_with(&prefix), "{:?}", out.stdout);
            assert!(out.stdout.contains(&head[..12]), "{} in {:?}", &head[..12], out.stdout);
            assert!(out.stdout.ends_with(")\n"), "{:?}", out.stdout);
        }
        None => assert_eq!(out.stdout, format!("ordo {}\n", ordo::VERSION)),
    }
}

/// `ordo plan <TAB>` completed no environment names: the completion scripts ask
/// `ordo __complete` for the names only the project knows.
#[test]
fn completion_offers_environments_hosts_and_components() {
    let p = Test::new()
        .service(APP)
        .local_host("web1")
        .place("app")
        .host("db1", "#{ transport: \"local\", home: \"hosts/db1\", roles: [\"db\"] }")
        .file("environments/staging.rhai", "")
        .build();
    let names = |words: &[&str], index: &str| {
        let mut args = vec!["__complete", "--index", index, "--"];
        args.extend(words);
        p.test().args(&args).run().stdout
    };
    assert_eq!(names(&["ordo", "plan", ""], "2"), "staging\ntest\n");
    assert_eq!(names(&["ordo", "-C", ".", "deploy", "t"], "4"), "test\n");
    assert_eq!(names(&["ordo", "secrets", "show", ""], "3"), "staging\ntest\n");
    assert_eq!(names(&["ordo", "plan", "test", ""], "3"), "", "ENV is given");
    assert_eq!(names(&["ordo", "plan", "test", "--hosts", ""], "4"), "db\ndb1\nweb1\n");
    assert_eq!(
        names(&["ordo", "plan", "test", "--hosts=web1,d"], "3"),
        "web1,db\nweb1,db1\n"
    );
    assert_eq!(names(&["ordo", "deploy", "test", "--set", "a"], "4"), "app.\n");
    assert_eq!(
        names(&["ordo", "deploy", "test", "--set", "app.v"], "4"),
        "app.version=\n"
    );
    // Outside a project, and for an environment that does not load: nothing.
    assert_eq!(names(&["ordo", "-C", "/", "plan", ""], "4"), "");
    assert_eq!(names(&["ordo", "plan", "staging", "--hosts", ""], "4"), "");

    // The bash script, in a real bash: the names where they belong, clap's
    // completions elsewhere.
    let script = p.test().args(&["completions", "bash"]).run().stdout;
    p.write("ordo.bash", &script);
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_ordo")).parent().unwrap();
    let complete = |line: &str| {
        let out = std::process::Command::new("bash")
            .arg("--norc")
            .arg("-c")
            .arg(
                r#"source ./ordo.bash
                read -ra COMP_WORDS <<< "$1"
                [[ $1 == *" " ]] && COMP_WORDS+=("")
                COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
                COMP_LINE=$1 COMP_POINT=${#1}
                _ordo_names ordo "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
                printf '%s\n' "${COMPREPLY[@]}""#,
            )
            .arg("bash")
            .arg(line)
            .current_dir(p.root())
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(complete("ordo plan "), "staging\ntest\n");
    assert_eq!(complete("ordo status te"), "test\n");
    assert_eq!(complete("ordo deploy test --hosts w"), "web1\n");
    assert_eq!(complete("ordo pla"), "plan\n");
    assert_eq!(complete("ordo plan test --exit"), "--exit-code\n");
    // The plumbing is not offered as a subcommand.
    assert_eq!(complete("ordo __"), "\n");
}

/// The zsh and fish scripts call back the same way (checked in a real zsh, with
/// compsys' `compadd` recorded, and a real fish's `complete -C`).
#[test]
fn zsh_and_fish_completion_offer_the_project_names() {
    let p = Test::new().service(APP).local_host("web1").place("app").build();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_ordo")).parent().unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let shell = |program: &str, script: &str, line: &str| {
        // zsh takes `$0` first, fish does not.
        let zero = (program == "zsh").then_some(program);
        let out = std::process::Command::new(program)
            .args(["-c", script])
            .args(zero)
            .arg(line)
            .current_dir(p.root())
            .env("PATH", &path)
            .output()
            .unwrap_or_else(|e| panic!("{program} is missing (test.sh installs it): {e}"));
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    p.write("_ordo", &p.test().args(&["completions", "zsh"]).run().stdout);
    // `compdef` and `compadd` exist only under compsys: stand-ins that record.
    let zsh = |line: &str| {
        shell(
            "zsh",
            r#"compdef() { }
            compadd() { print -r -- "compadd ${@[1,${@[(i)--]}-1]}: ${@[${@[(i)--]}+1,-1]}" }
            source ./_ordo
            _ordo_clap() { print -r -- "clap" }
            words=(${(z)1})
            [[ $1 == *" " ]] && words+=("")
            CURRENT=${#words}
            _ordo"#,
            line,
        )
    };
    assert_eq!(zsh("ordo plan "), "compadd -Q: test\n");
    assert_eq!(zsh("ordo deploy test --set a"), "compadd -Q -S : app.\n");
    assert_eq!(zsh("ordo deploy test --hosts w"), "compadd -Q: web1\n");
    assert_eq!(zsh("ordo pla"), "clap\n");

    p.write("ordo.fish", &p.test().args(&["completions", "fish"]).run().stdout);
    let fish = |line: &str| shell("fish", "source ./ordo.fish; complete -C $argv[1]", line);
    assert_eq!(fish("ordo plan "), "test\n");
    assert_eq!(
        fish("ordo deploy test --hosts w"),
        "web1\tOnly these hosts: comma-separated names, globs (web*) or roles; `@failed` for the hosts where the last deploy of the environment did not finish\n"
    );
    assert!(fish("ordo pla").starts_with("plan\t"));
    assert_eq!(fish("ordo __"), "");
}
