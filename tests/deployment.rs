//! The one deploy transaction as both front ends drive it: `ordo deploy` and the
//! REPL's `apply` refuse a conflict with the same problem, ask the same question
//! (about the hosts that change), and report the same events.

use crate::support::terminal::Terminal;
use crate::support::{Test, single_host};

const PROMPT: &str = "ordo:test> ";

#[test]
fn a_conflict_stops_deploy_and_repl_apply_with_the_same_problem() {
    let p = single_host(
        "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"first.txt\", \"1\"));\n    c.add(file(\"etc\", \"a file\"));\n});\n",
    )
    .build();
    std::fs::create_dir_all(p.path("hosts/h/deployment/s/etc")).unwrap();
    let message = "h:x file etc: a directory or special file is in the way";
    let help = "move it away on the host, then deploy again";
    for args in [&["deploy", "test", "--yes"][..], &["repl", "test", "--yes"]] {
        p.test()
            .args(args)
            .stdin("apply(\"x\")\n")
            .status(1)
            .stderr_contains(message)
            .stderr_contains(help)
            .stderr_contains("services/s.rhai:4:11")
            .expect_missing("hosts/h/deployment/s/first.txt")
            .expect_missing("hosts/h/.ordo/s/lock")
            .run();
    }
}

#[test]
fn deploy_and_repl_apply_ask_about_the_hosts_that_change() {
    let service = "let s = service(\"s\");\ns.component(\"app\", |c| {\n    c.add(file(\"app.conf\", \"port = \" + c.attr(\"port\", 8080) + \"\\n\"));\n});\n";
    let p = Test::new()
        .service(service)
        .local_host("web1")
        .place("app")
        .local_host("web2")
        .place("app")
        .build();
    // web2 is up to date: only web1 changes.
    p.test().args(&["deploy", "test", "--yes", "--hosts", "web2"]).run();
    let question = "apply 1 change to 1 host? [y/N]";

    let t = Terminal::start(p.root(), &["deploy", "test"], &[]);
    t.wait_for(question);
    t.type_text("n");
    t.press("Enter");
    t.wait_for("nothing applied");
    let screen = t.wait_for("[exited 0]");
    assert!(!screen.contains("2 hosts?"), "{screen}");

    // Ctrl-C at the question: no, at once (the answer's read is not waited for),
    // the locks released, and the history says nothing was applied.
    let t = Terminal::start(p.root(), &["deploy", "test"], &[]);
    t.wait_for(question);
    t.press("C-c");
    t.wait_for("[exited 130]");
    p.test()
        .args(&["log", "test", "-n", "1"])
        .stdout_contains("not applied on web1, web2")
        .run();

    let t = Terminal::start(p.root(), &["repl", "test"], &[]);
    t.wait_for_prompt(PROMPT);
    t.type_text("apply(\"app\")");
    t.press("Enter");
    t.wait_for(question);
    t.type_text("n");
    t.press("Enter");
    t.wait_for("nothing applied");
    t.wait_for_prompt(PROMPT);
    t.press("C-d");
    t.wait_for("[exited 0]");

    assert!(
        !p.path("hosts/web1/deployment/s/app.conf").exists(),
        "nothing was applied"
    );
    for h in ["web1", "web2"] {
        assert!(!p.path(&format!("hosts/{h}/.ordo/s/lock")).exists(), "no lock on {h}");
    }
}

#[test]
fn deploy_and_repl_apply_report_the_same_transaction() {
    let service = "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(file(\"a.txt\", \"a\"));\n});\n";
    // The events of one transaction, in order, without those only one front end has.
    let transaction = |args: &[&str]| -> Vec<String> {
        let p = single_host(service).build();
        let out = p.test().args(args).stdin("apply(\"x\")\n").run();
        out.events()
            .iter()
            .map(|e| e["event"].as_str().unwrap_or("(a value)").to_string())
            .filter(|e| !matches!(e.as_str(), "start" | "progress" | "host_done" | "result" | "(a value)"))
            .collect()
    };
    let deploy = transaction(&["deploy", "test", "--yes", "--format", "json"]);
    assert_eq!(deploy, ["planned", "plan_done", "step", "summary"]);
    assert_eq!(transaction(&["repl", "test", "--yes", "--format", "json"]), deploy);
}
