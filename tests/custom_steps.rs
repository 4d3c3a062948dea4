//! Custom steps (`step(name, #{ verify, update })`): a command that fails fails the
//! step unless the script asks for its result, and every command runs in a
//! directory that is defined and exists.

use crate::support::{Project, single_host};

#[test]
fn a_failing_host_run_fails_the_step() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(step(\"migrate\", #{\n        verify: |host| false,\n        update: |host| { host.run(\"echo checking; echo 'disk full' >&2; exit 3\"); host.run(\"touch after\"); },\n    }));\n});\n",
    ).build();
    let out = p.ordo(&["deploy", "test", "--yes"]).code(1);
    assert!(
        !p.path("hosts/h/deployment/s/after").exists(),
        "the update stopped at the failure"
    );
    insta::assert_snapshot!(p.redact(&out.stderr));
}

#[test]
fn try_run_and_check_false_return_the_result() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(step(\"codes\", #{\n        verify: |host| host.try_run(\"test -e codes\").ok,\n        update: |host| {\n            let a = host.try_run(\"echo out; exit 4\");\n            let b = host.run(\"exit 5\", #{ check: false });\n            let out = a.stdout;\n            out.trim();\n            host.run(`echo ${a.code} ${b.code} ${a.ok} ${out} > codes`);\n        },\n    }));\n});\n",
    ).build();
    p.ordo(&["deploy", "test", "--yes"]).success();
    assert_eq!(p.read("hosts/h/deployment/s/codes"), "4 5 false out\n");
    let second = p.ordo(&["deploy", "test", "--yes"]).success();
    assert!(second.stdout.contains("nothing to change"), "{}", second.stdout);
}

#[test]
fn commands_run_in_the_root_or_an_empty_directory() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(step(\"where\", #{\n        verify: |host| { let r = host.run(\"pwd; ls -A | wc -l\"); print(`verify in ${r.stdout}`); host.try_run(\"test -e done\").ok },\n        update: |host| { let r = host.run(\"pwd\"); print(`update in ${r.stdout}`); host.run(\"touch done\"); },\n    }));\n});\n",
    ).build();
    let out = p.ordo(&["deploy", "test", "--yes"]).success();
    let line = |prefix: &str| {
        let at = out
            .stderr
            .find(prefix)
            .unwrap_or_else(|| panic!("{prefix}: {}", out.stderr));
        out.stderr[at + prefix.len()..].lines().next().unwrap().to_string()
    };
    let verify_dir = line("verify in ");
    let home = p.root().canonicalize().unwrap().join("hosts/h");
    assert_ne!(verify_dir, "/", "never the filesystem root");
    assert_ne!(std::path::Path::new(&verify_dir), home, "never the home directory");
    assert!(
        out.stderr.contains(&format!("verify in {verify_dir}\n0\n")),
        "an empty directory: {}",
        out.stderr
    );
    assert!(!std::path::Path::new(&verify_dir).exists(), "removed after verify");
    assert_eq!(
        std::path::Path::new(&line("update in ")),
        home.join("deployment/s"),
        "update creates the root"
    );
    // Once the root exists, verify runs there too.
    let out = p.ordo(&["plan", "test"]).success();
    assert!(
        out.stderr
            .contains(&format!("verify in {}\n", home.join("deployment/s").display())),
        "{}",
        out.stderr
    );
}

/// A provided value with a `'` in it, pasted into a command of the example, used
/// to run code on the web host.
#[test]
fn provided_values_stay_inert_in_commands() {
    let p = Project::example("hello");
    let address = "x';touch${IFS}pwned;'";
    let env = p.read("environments/local.rhai").replace(
        "home: \".ordo-hosts/api\",",
        &format!("home: \".ordo-hosts/api\", address: \"{address}\","),
    );
    assert!(env.contains(address), "the example declares the api host as expected");
    p.write("environments/local.rhai", &env);
    p.ordo(&["deploy", "local", "--yes"]).success();
    let root = p.path(".ordo-hosts/web/deployment/site");
    assert!(!root.join("pwned").exists(), "the value ran as code");
    assert_eq!(
        std::fs::read_to_string(root.join("api-url.txt")).unwrap(),
        format!("http://{address}:8081/\n")
    );
}
