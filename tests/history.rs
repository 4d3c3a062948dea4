//! Operating over time: every deploy leaves an entry in each host's history
//! (success, failure, Ctrl-C, a killed ordo, a deploy that changes nothing),
//! `ordo log` merges the hosts' histories and says what does not add up, `ordo
//! status` shows each host's current entry, `--rev` deploys the repository as a
//! revision had it, `ordo rollback` is an ordinary deploy of an earlier entry, and
//! the controller's hooks run around a deploy. Over real sshd test hosts.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::sshd::TestHosts;
use crate::support::{Project, Test};

/// `a.txt` with the attribute `text`; with `fail`, a command that fails; with
/// `hold`, a command that waits a minute (after touching `~/holding`).
const SERVICE: &str = r#"let s = service("s");
s.component("x", |c| {
    c.add(file("a.txt", c.attr("text", "one\n")));
    if c.attr("fail", false) { c.add(command("boom", #{ run: "echo broken >&2; exit 3", always: true })); }
    if c.attr("hold", false) { c.add(command("hold", #{ run: "touch ~/holding; sleep 60", always: true })); }
});
"#;

/// Commits everything; returns the commit.
fn commit(p: &Project, message: &str) -> String {
    p.git(&["add", "-A"]);
    p.git(&["commit", "-qm", message]);
    p.git(&["rev-parse", "HEAD"])
}

/// A git repository around `SERVICE` on ssh hosts `aliases` (the ssh_config the
/// harness writes and ordo's records on the controller, `.state/`, stay out of
/// git: they are this machine's).
fn project(hosts: &TestHosts, aliases: &[&str]) -> Arc<Project> {
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(hosts, aliases)
        .place("x")
        .file(".gitignore", "ssh_config\n.state/\n")
        .build();
    p.git(&["init", "-q"]);
    commit(&p, "one");
    p
}

/// ordo in `p`, not waited for.
fn spawn(p: &Project, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(args)
        .current_dir(p.root())
        .env("NO_COLOR", "1")
        // As the harness's runs: the controller's records stay with the project.
        .env("XDG_STATE_HOME", p.root().join(".state"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ordo")
}

#[track_caller]
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// Lines, each with its newline (an expected text that starts with spaces cannot
/// be an unindented block).
fn lines(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Whether the redacted `text` holds `wanted`.
#[track_caller]
fn assert_redacted_contains(p: &Project, text: &str, wanted: &str) {
    let text = p.redact(text);
    assert!(text.contains(wanted), "lacks {wanted:?}:\n{text}");
}

fn entries(out: &crate::support::Output) -> Vec<serde_json::Value> {
    out.events().into_iter().filter(|e| e["event"] == "log_entry").collect()
}

/// Issue "Operating over time", item 1: a deploy that succeeds, one that changes
/// nothing, one whose step fails, one stopped by Ctrl-C and one whose ordo is
/// killed each leave an entry on every host they locked, and `ordo log` shows
/// them as one timeline.
#[test]
fn every_deploy_is_recorded_on_each_host_it_locked_whatever_its_end() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts, &["t1", "t2"]);
    let head = p.git(&["rev-parse", "HEAD"]);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    p.test()
        .args(&["deploy", "prod", "--yes", "--set", "x.fail=true"])
        .status(1)
        .run();
    let mut held = spawn(&p, &["deploy", "prod", "--yes", "--set", "x.hold=true"]);
    wait_for(&hosts.home("t1").join("holding"));
    wait_for(&hosts.home("t2").join("holding"));
    signal(&held, "-INT");
    assert_eq!(held.wait().unwrap().code(), Some(130));
    p.test()
        .args(&["log", "prod"])
        .stdout(&lines(&[
            "  [RUN]  [DATE]  deploy   commit [COMMIT] --set x.hold=true  by [OPERATOR]: interrupted on t1, t2 (2 planned) in [TIME]",
            "  [RUN]  [DATE]  deploy   commit [COMMIT] --set x.fail=true  by [OPERATOR]: failed on t1, t2 (0 changed, 2 failed) in [TIME]",
            "  [RUN]  [DATE]  deploy   commit [COMMIT]  by [OPERATOR]: ok on t1, t2 (nothing changed) in [TIME]",
            "  [RUN]  [DATE]  deploy   commit [COMMIT]  by [OPERATOR]: ok on t1, t2 (2 changed) in [TIME]",
        ]))
        .run();
    let json = p.test().args(&["log", "prod", "--format", "json"]).run();
    let e = entries(&json);
    assert_eq!(e.len(), 4);
    for (i, entry) in e.iter().enumerate() {
        assert_eq!(entry["commit"], head.as_str());
        assert_eq!(entry["dirty"], false);
        for h in entry["hosts"].as_array().unwrap() {
            assert_eq!(h["seq"], 4 - i as u64, "entries are numbered on each host: {entry}");
        }
    }
    assert_eq!(e[1]["result"], "failed");
    assert_eq!(
        e[1]["hosts"][0]["failed_steps"],
        serde_json::json!(["t1:x command boom"])
    );
    assert_eq!(
        e[3]["hosts"][1]["changed_steps"],
        serde_json::json!(["t2:x file a.txt"])
    );
    assert_eq!(e[2]["hosts"][0]["result"], "ok");
    assert_eq!(e[2]["changed"], 0, "a deploy that changed nothing has an entry too");

    // A killed ordo leaves the begin of its entry: shown, not completed by guessing.
    for alias in ["t1", "t2"] {
        std::fs::remove_file(hosts.home(alias).join("holding")).unwrap();
    }
    let mut killed = spawn(&p, &["deploy", "prod", "--yes", "--set", "x.hold=true"]);
    wait_for(&hosts.home("t1").join("holding"));
    wait_for(&hosts.home("t2").join("holding"));
    signal(&killed, "-KILL");
    killed.wait().unwrap();
    let status = p.test().args(&["status", "prod"]).run();
    assert_redacted_contains(
        &p,
        &status.stdout,
        "  current entry [RUN]: deploy by [OPERATOR] at [DATE], commit [COMMIT] --set x.hold=true: no end recorded (ordo was killed, or lost the host)",
    );
    p.test().args(&["deploy", "prod", "--yes", "--break-lock"]).run();
    p.test()
        .args(&["log", "prod", "-n", "2"])
        .stdout(&lines(&[
            "  [RUN]  [DATE]  deploy   commit [COMMIT]  by [OPERATOR]: ok on t1, t2 (nothing changed) in [TIME]",
            "  [RUN]  [DATE]  deploy   commit [COMMIT] --set x.hold=true  by [OPERATOR]: unfinished on t1, t2 (no end recorded: ordo was killed, or lost the host)",
        ]))
        .run();
    // Reading some hosts, runs are not "missing" from the others.
    p.test()
        .args(&["log", "prod", "--hosts", "t2", "-n", "1"])
        .stdout("  [RUN]  [DATE]  deploy   commit [COMMIT]  by [OPERATOR]: ok on t2 (nothing changed) in [TIME]\n")
        .run();
    let status = p.test().args(&["status", "prod", "--format", "json"]).run();
    let current: Vec<_> = status
        .events()
        .into_iter()
        .filter(|e| e["event"] == "host_status")
        .map(|e| e["current"].clone())
        .collect();
    assert_eq!(current.len(), 2);
    assert!(
        current
            .iter()
            .all(|c| c["result"] == "ok" && c["commit"] == head.as_str()),
        "{current:?}"
    );
}

/// Issue "Operating over time", item 1: a history that was edited or lost says
/// so; the timeline shows what is there and invents nothing.
#[test]
fn a_history_that_was_edited_or_lost_says_so() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts, &["t1", "t2"]);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    p.test().args(&["deploy", "prod", "--yes", "--set", "x.text=two"]).run();
    let history = |alias: &str| hosts.home(alias).join(".ordo/s/history");
    // t1: someone rewrites who deployed; t2: the history is deleted.
    let text = std::fs::read_to_string(history("t1")).unwrap();
    std::fs::write(history("t1"), text.replacen("x.text=two", "x.text=three", 1)).unwrap();
    std::fs::remove_file(history("t2")).unwrap();
    p.test()
        .args(&["log", "prod"])
        .stdout(
            "
            warning: t1: its deploy history does not add up: line 4: the begin line of entry 2 was changed
            warning: t2: its deploy history does not add up: the history file is gone, but history.last still names entry 2: the history was lost
            ! [RUN]  [DATE]  deploy   commit [COMMIT] --set x.text=three  by [OPERATOR]: ok on t1 (1 changed) in [TIME] — hosts disagree: reached 1 of the 2 hosts it targeted
            ! [RUN]  [DATE]  deploy   commit [COMMIT]  by [OPERATOR]: ok on t1 (1 changed) in [TIME] — hosts disagree: reached 1 of the 2 hosts it targeted
            ",
        )
        .run();
    // Everything of t2's gone: this machine still remembers what it began there.
    std::fs::remove_file(hosts.home("t2").join(".ordo/s/history.last")).unwrap();
    p.test()
        .args(&["log", "prod", "-n", "0"])
        .stdout(&lines(&[
            "warning: t1: its deploy history does not add up: line 4: the begin line of entry 2 was changed",
            "warning: t2: its deploy history does not add up: this machine began run [RUN] here at [DATE], and the host has no history of it: the history was lost",
        ]))
        .run();
}

/// A git library with one template; `commit` returns its new commit.
struct Library {
    dir: std::path::PathBuf,
}

impl Library {
    fn new(top: &Path) -> Library {
        let lib = Library { dir: top.join("lib") };
        std::fs::create_dir_all(lib.dir.join("lib")).unwrap();
        lib.run(&["init", "-q", "-b", "main"]);
        std::fs::write(
            lib.dir.join("lib/greet.rhai"),
            "fn greeting(c) { c.add(template(\"greeting.txt\", \"greeting.txt\")); }\n",
        )
        .unwrap();
        lib
    }

    fn commit(&self, greeting: &str) -> String {
        std::fs::write(self.dir.join("greeting.txt"), greeting).unwrap();
        self.run(&["add", "-A"]);
        self.run(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]);
        self.run(&["rev-parse", "HEAD"])
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// Issue "Operating over time", item 2: `--rev` evaluates the repository as it
/// was at REV — its scripts (a step added since is not there), its `ordo.lock`
/// (a pin moved since is not used, from the cache, offline), its secrets — and
/// records REV; a REV off the current branch is refused unless asked for.
#[test]
fn deploy_rev_evaluates_the_repository_as_it_was() {
    let hosts = TestHosts::start(&["t1"]);
    let top = tempfile::tempdir().unwrap();
    let cache = top.path().join("cache");
    let cache = cache.to_str().unwrap();
    let lib = Library::new(top.path());
    lib.commit("v1 from the library\n");
    let service = r#"import "lib/greet" as greet;
let s = service("s");
s.component("x", |c| {
    greet::greeting(c);
    c.add(file("pw", secret("pw")));
});
"#;
    let p = Test::new()
        .file(
            "ordo.rhai",
            &format!(
                "project(#{{ library: [#{{ name: \"greet\", git: \"file://{}\" }}] }});\n",
                lib.dir.display()
            ),
        )
        .service(service)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .file(".gitignore", "ssh_config\nid.age\n.state/\n")
        .build();
    let key = p.age_recipient("prod");
    p.set_secret("prod", "pw", "first secret");
    p.git(&["init", "-q"]);
    let ordo = |args: &[&str]| {
        p.test()
            .env("XDG_CACHE_HOME", cache)
            .env("ORDO_AGE_KEY", &key)
            .args(args)
    };
    ordo(&["check", "prod"]).run();
    let a = commit(&p, "a");
    // Since A: a step added, the pin moved, the secret changed.
    lib.commit("v2 from the library\n");
    ordo(&["libs", "update"]).run();
    p.write(
        "services/s.rhai",
        &service.replace(
            "greet::greeting(c);",
            "greet::greeting(c);\n    c.add(file(\"added.txt\", \"new\"));",
        ),
    );
    p.set_secret("prod", "pw", "second secret");
    commit(&p, "b");
    let home = hosts.home("t1").join("deployment/s");

    // The library's repository is gone: the pin of A is in the cache already.
    std::fs::rename(&lib.dir, top.path().join("moved")).unwrap();
    ordo(&["plan", "prod", "--rev", &a[..10]])
        .stdout_contains(&format!(
            "plan prod (service s) at {} (commit {}): 2 steps on 1 host",
            &a[..10],
            &a[..12]
        ))
        .stdout_lacks("added.txt")
        .run();
    ordo(&["deploy", "prod", "--yes", "--rev", &a[..10]])
        .expect_file(home.join("greeting.txt"), "v1 from the library\n")
        .expect_file(home.join("pw"), "first secret")
        .expect_missing(home.join("added.txt"))
        .run();
    std::fs::rename(top.path().join("moved"), &lib.dir).unwrap();
    let json = ordo(&["log", "prod", "--format", "json"]).run();
    let e = entries(&json);
    assert_eq!(e[0]["commit"], a.as_str());
    assert_eq!(e[0]["rev"], &a[..10]);
    assert_eq!(e[0]["dirty"], false);
    assert!(
        std::fs::read_to_string(hosts.home("t1").join(".ordo/s/state.json"))
            .unwrap()
            .contains(&a),
        "the version record names A"
    );
    // The current checkout deploys what it says now.
    ordo(&["plan", "prod"])
        .stdout_contains("+ t1:x file added.txt")
        .stdout_contains("+v2 from the library")
        .run();
    ordo(&["check", "prod", "--rev", &a])
        .stdout("at [COMMIT] (commit [COMMIT])\nok: 2 steps on 1 host\n")
        .run();

    // Off the current branch: refused, unless asked for (and then said).
    p.git(&["checkout", "-q", "-b", "side", &a]);
    p.write("side.txt", "x");
    let side = commit(&p, "side");
    p.git(&["checkout", "-q", "main"]);
    ordo(&["plan", "prod", "--rev", "side"])
        .status(2)
        .stderr_contains(&format!(
            "--rev `side` ({}) is not an ancestor of the current branch (main)",
            &side[..12]
        ))
        .stderr_contains("--allow-any-rev")
        .run();
    ordo(&["plan", "prod", "--rev", "side", "--allow-any-rev"])
        .stdout_contains(&format!(
            "plan prod (service s) at side (commit {}), not on the current branch main: 2 steps on 1 host",
            &side[..12]
        ))
        .run();
    ordo(&["plan", "prod", "--rev", "nope"])
        .status(2)
        .stderr_contains("--rev `nope` names no commit of this repository")
        .run();
    // No temporary checkout is left registered.
    assert_eq!(p.git(&["worktree", "list"]).lines().count(), 1);

    // The controller's record is the checkout's, not the temporary one's: a
    // history lost after a --rev deploy is noticed.
    std::fs::remove_file(hosts.home("t1").join(".ordo/s/history")).unwrap();
    std::fs::remove_file(hosts.home("t1").join(".ordo/s/history.last")).unwrap();
    let log = ordo(&["log", "prod"]).run();
    assert_redacted_contains(
        &p,
        &log.stdout,
        "warning: t1: its deploy history does not add up: this machine began run [RUN] here",
    );
}

/// Issue "Operating over time", item 3: a rollback goes back to the previous
/// successful entry — its commit and its `--set` values — shows the plan `ordo
/// plan --rev` shows, and applies exactly that.
#[test]
fn a_rollback_applies_the_plan_it_shows() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts, &["t1", "t2"]);
    let a = p.git(&["rev-parse", "HEAD"]);
    p.test()
        .args(&["deploy", "prod", "--yes", "--set", "x.text=from a"])
        .run();
    p.write(
        "services/s.rhai",
        &SERVICE.replace(
            "c.add(file(\"a.txt\"",
            "c.add(file(\"b.txt\", \"b\"));\n    c.add(file(\"a.txt\"",
        ),
    );
    commit(&p, "b");
    p.test().args(&["deploy", "prod", "--yes"]).run();

    let planned = |out: &crate::support::Output| -> Vec<String> {
        out.events()
            .iter()
            .filter(|e| e["event"] == "planned" && e["change"] != "none")
            .map(|e| format!("{} {} {} {}", e["path"], e["change"], e["detail"], e["diff"]))
            .collect()
    };
    let plan = p
        .test()
        .args(&[
            "plan",
            "prod",
            "--rev",
            &a,
            "--set",
            "x.text=from a",
            "--format",
            "json",
        ])
        .run();
    // Without --yes and a terminal: refused, and the help repeats the rollback
    // (a deploy with --yes would apply the current revision instead).
    p.test()
        .args(&["rollback", "prod"])
        .status(2)
        .stderr_contains("refusing to roll back without confirmation")
        .stderr_contains("ordo rollback ENV --yes")
        .run();
    let rollback = p.test().args(&["rollback", "prod", "--yes", "--format", "json"]).run();
    assert_eq!(
        planned(&rollback),
        planned(&plan),
        "the rollback shows the plan of its revision"
    );
    assert_eq!(
        planned(&plan).len(),
        4,
        "b.txt removed and a.txt rewritten on both hosts: {:?}",
        planned(&plan)
    );
    let applied: Vec<String> = rollback
        .events()
        .iter()
        .filter(|e| e["event"] == "step" && e["status"] == "changed")
        .map(|e| e["path"].to_string())
        .collect();
    let mut shown: Vec<String> = rollback
        .events()
        .iter()
        .filter(|e| e["event"] == "planned" && e["change"] != "none")
        .map(|e| e["path"].to_string())
        .collect();
    let mut applied_sorted = applied.clone();
    applied_sorted.sort();
    shown.sort();
    assert_eq!(applied_sorted, shown, "it applies what it showed, nothing else");
    for alias in ["t1", "t2"] {
        let home = hosts.home(alias).join("deployment/s");
        assert_eq!(std::fs::read_to_string(home.join("a.txt")).unwrap(), "from a");
        assert!(!home.join("b.txt").exists());
    }
    p.test()
        .args(&["log", "prod", "-n", "1"])
        .stdout("  [RUN]  [DATE]  rollback commit [COMMIT] (back to [RUN]) --set x.text=from a  by [OPERATOR]: ok on t1, t2 (4 changed) in [TIME]\n")
        .run();
    // The entry it went back to recorded the same fingerprint: no warning, and a
    // second plan of that revision changes nothing.
    p.test()
        .args(&["plan", "prod", "--rev", &a, "--set", "x.text=from a"])
        .stdout_contains("nothing to change")
        .run();
}

/// Issue "Operating over time", item 3: when no earlier entry succeeded on every
/// host, a rollback refuses and lists the candidates; `--to` picks one.
#[test]
fn a_rollback_refuses_when_the_hosts_disagree_and_lists_the_candidates() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts, &["t1", "t2"]);
    p.test()
        .args(&["deploy", "prod", "--yes", "--hosts", "t1", "--set", "x.text=only t1"])
        .run();
    p.test()
        .args(&["deploy", "prod", "--yes", "--hosts", "t2", "--set", "x.text=only t2"])
        .run();
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let out = p.test().args(&["rollback", "prod", "--yes"]).status(2).run();
    let stderr = p.redact(&out.stderr);
    assert!(
        stderr
            .contains("no earlier deploy of prod succeeded on every host; the hosts' histories disagree. Candidates:"),
        "{stderr}"
    );
    let candidates: Vec<&str> = stderr.lines().filter(|l| l.contains(": ok on ")).collect();
    assert_eq!(candidates.len(), 2, "{stderr}");
    assert!(
        candidates[0].ends_with("ok on t2") && candidates[1].ends_with("ok on t1"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(hosts.home("t1").join("deployment/s/a.txt")).unwrap(),
        "one\n",
        "nothing changed"
    );
    let json = p.test().args(&["log", "prod", "--format", "json"]).run();
    let oldest = entries(&json).last().unwrap()["run"].as_str().unwrap().to_string();
    let head = p.git(&["rev-parse", "HEAD"]);
    p.test()
        .args(&["rollback", "prod", "--yes", "--to", &oldest[..8]])
        .stdout_contains(&format!(
            "rollback prod (service s) to entry {} (commit {}): 2 steps on 2 hosts",
            &oldest[..8],
            &head[..12]
        ))
        .expect_file(hosts.home("t1").join("deployment/s/a.txt"), "only t1")
        .expect_file(hosts.home("t2").join("deployment/s/a.txt"), "only t1")
        .run();
}

/// A host that leaves the environment takes its history with it, and that is no
/// disagreement: once a retired host is torn down (its records, the history among
/// them, go), `ordo log` neither warns that its history was lost nor marks the
/// runs that reached it, before and after its declaration goes; a rollback still
/// finds the earlier entries complete.
#[test]
fn a_retired_host_takes_its_history_along_without_a_disagreement() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts, &["t1", "t2"]);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    p.test().args(&["deploy", "prod", "--yes", "--set", "x.text=two"]).run();
    let line = "env.host(\"t2\", #{ address: \"t2\" })";
    let env = p.read("environments/prod.rhai");
    assert!(env.contains(&format!("{line}.place(\"x\");")), "{env}");
    p.write(
        "environments/prod.rhai",
        &env.replace(&format!("{line}.place(\"x\");"), &format!("{line}.retire();")),
    );
    commit(&p, "retire t2");
    p.test()
        .args(&["deploy", "prod", "--yes", "--set", "x.text=two"])
        .stdout_contains("t2 is torn down")
        .run();
    assert!(
        !hosts.home("t2").join(".ordo/s").exists(),
        "the history went with the records"
    );
    let clean = |out: &crate::support::Output| {
        let text = p.redact(&format!("{}{}", out.stdout, out.stderr));
        assert!(!text.contains("warning"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with('!')), "{text}");
        assert_eq!(text.lines().count(), 3, "{text}");
    };
    clean(&p.test().args(&["log", "prod"]).run());
    let status = p.test().args(&["status", "prod"]).run();
    assert!(!p.redact(&status.stderr).contains("warning"), "{}", status.stderr);
    assert!(!status.stdout.contains("hosts differ"), "{}", status.stdout);

    // Its declaration goes: the same story.
    let env = p.read("environments/prod.rhai");
    p.write(
        "environments/prod.rhai",
        &env.lines()
            .filter(|l| !l.starts_with("env.host(\"t2\""))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    commit(&p, "t2 is gone");
    clean(&p.test().args(&["log", "prod"]).run());
    let json = p.test().args(&["log", "prod", "--format", "json"]).run();
    let e = entries(&json);
    assert!(
        e.iter()
            .all(|e| e["disagreements"].as_array().is_none_or(Vec::is_empty)),
        "{e:?}"
    );
    // The newest entry (the teardown) deployed what the current checkout has
    // minus t2; the rollback goes back to the first deploy, complete on t1, the
    // one host left.
    p.test()
        .args(&["deploy", "prod", "--yes", "--set", "x.text=three"])
        .run();
    p.test()
        .args(&["rollback", "prod", "--yes"])
        .stdout_contains("rollback prod (service s) to entry")
        .expect_file(hosts.home("t1").join("deployment/s/a.txt"), "two")
        .run();
}

/// `ordo hosts forget` forgets what this machine began on the host too: a host of
/// that name declared again later (a new machine, an empty home) starts a history
/// of its own rather than one said to be lost.
#[test]
fn a_forgotten_host_declared_again_starts_a_history_of_its_own() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = project(&hosts, &["t1", "t2"]);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let env = p.read("environments/prod.rhai");
    p.write(
        "environments/prod.rhai",
        &env.lines()
            .filter(|l| !l.starts_with("env.host(\"t2\""))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    commit(&p, "t2 is gone");
    p.test()
        .args(&["hosts", "forget", "prod", "t2"])
        .stdout_contains("forgot t2")
        .run();
    // A new machine under the old name.
    std::fs::remove_dir_all(hosts.home("t2").join(".ordo")).unwrap();
    p.write("environments/prod.rhai", &env);
    commit(&p, "t2 is back");
    let log = p.test().args(&["log", "prod"]).run();
    assert!(!p.redact(&log.stdout).contains("warning"), "{}", log.stdout);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let json = p.test().args(&["log", "prod", "--format", "json"]).run();
    assert!(
        json.events().iter().all(|e| e["event"] != "history_problem"),
        "{}",
        json.stdout
    );
}

/// Issue "Operating over time", item 5: `before_deploy` runs before any host is
/// contacted and a failure stops the deploy there;
/// `on_failure` and `after_deploy` run after it with its result; a hook gets the
/// run in variables and on stdin, never the age key, a secret only when it names
/// it — and what it prints goes through the redaction point.
#[test]
fn hooks_run_around_a_deploy_with_its_result_and_their_output_masked() {
    let hosts = TestHosts::start(&["t1"]);
    let p = Test::new()
        .file(
            "ordo.rhai",
            r#"project(#{ hooks: #{
    before_deploy: "test ! -e stop-before || exit 3; echo before $ORDO_COMMAND $ORDO_ENVIRONMENT changes=$ORDO_CHANGES",
    on_failure: "echo failed: $ORDO_RESULT",
    after_deploy: [
        "echo after $ORDO_RESULT on $ORDO_HOSTS; cat > hook-input.json; env > hook-env.txt",
        #{ run: "echo the secret is $ORDO_SECRET_PW", secrets: ["pw"] },
        #{ run: "echo never here", environments: ["staging"] },
    ],
} });
"#,
        )
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    let key = p.age_recipient("prod");
    p.set_secret("prod", "pw", "hunter2-but-longer");
    let ordo = |args: &[&str]| p.test().env("ORDO_AGE_KEY", &key).args(args);

    p.write("stop-before", "");
    ordo(&["deploy", "prod", "--yes"])
        .status(1)
        .stdout_contains("── before_deploy hook `test ! -e stop-before || exit 3; echo before $ORDO_COMMAND $ORDO_ENVIRONMENT changes=$ORDO_CHANGES` (exit 3)")
        .stdout_lacks("after")
        .stderr_contains("the before_deploy hook `test ! -e stop-before")
        .stderr_contains("failed with exit code 3")
        .stderr_contains("no host was contacted")
        .expect_missing(hosts.home("t1").join("deployment/s/a.txt"))
        .expect_missing(hosts.home("t1").join(".ordo/s/lock"))
        .expect_missing(hosts.home("t1").join(".ordo/s/history"))
        .run();

    std::fs::remove_file(p.path("stop-before")).unwrap();
    let out = ordo(&["deploy", "prod", "--yes"])
        .stdout_contains("before deploy prod changes=\n")
        .stdout_contains("after ok on t1\n")
        .stdout_contains("the secret is [redacted]\n")
        .stdout_lacks("hunter2")
        .stdout_lacks("never here")
        .stdout_lacks("failed:")
        .run();
    assert!(out.stdout.find("before deploy").unwrap() < out.stdout.find("✓ t1:x file a.txt").unwrap());
    let input: serde_json::Value = serde_json::from_str(&p.read("hook-input.json")).unwrap();
    assert_eq!(input["hook"], "after_deploy");
    assert_eq!(input["result"], "ok");
    assert_eq!(input["hosts"], serde_json::json!([{ "host": "t1", "result": "ok" }]));
    assert_eq!(input["changed"], 1);
    let env = p.read("hook-env.txt");
    assert!(
        env.contains("ORDO_RESULT=ok\n") && env.contains("ORDO_HOSTS=t1\n"),
        "{env}"
    );
    assert!(
        !env.contains("ORDO_AGE") && !env.contains("AGE-SECRET-KEY") && !env.contains("ORDO_SECRET"),
        "{env}"
    );
    assert!(!env.contains("hunter2"), "{env}");

    // A failing deploy: on_failure, then after_deploy, with its result.
    ordo(&["deploy", "prod", "--yes", "--set", "x.fail=true"])
        .status(1)
        .stdout_contains("failed: failed\n")
        .stdout_contains("after failed on t1\n")
        .run();
    // A failing after_deploy hook fails the command, saying the deploy is done.
    p.write("ordo.rhai", "project(#{ hooks: #{ after_deploy: \"exit 5\" } });\n");
    ordo(&["deploy", "prod", "--yes"])
        .status(1)
        .stdout_contains("nothing to change")
        .stderr_contains("the after_deploy hook `exit 5` failed with exit code 5")
        .stderr_contains("the deploy itself is over")
        .run();
}

/// Issue 18, item 5: `before_deploy` runs before any host is contacted (a
/// rollback has read the hosts' histories, to know its revision, and nothing
/// more). It is told the run (the same id as the hooks after it, the revision, the
/// target hosts; no plan counts: `null`), and when it fails the run stops there,
/// naming the hook: no connection (an unreachable host goes unnoticed), no lock
/// and no history line on any host, no other hook.
#[test]
fn a_failing_before_deploy_hook_stops_the_run_before_any_host_is_contacted() {
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = Test::new()
        .file(
            "ordo.rhai",
            r#"project(#{ hooks: #{
    before_deploy: "cat > before.json; test ! -e stop || exit 3",
    on_failure: "touch failure-hook",
    after_deploy: "cat > after.json",
} });
"#,
        )
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1", "t2"])
        .place("x")
        .file(".gitignore", "ssh_config\n.state/\nstop\n*.json\nfailure-hook\n")
        .build();
    p.git(&["init", "-q"]);
    commit(&p, "one");
    let json = |name: &str| -> serde_json::Value { serde_json::from_str(&p.read(name)).unwrap() };
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let (before, after) = (json("before.json"), json("after.json"));
    assert_eq!(before["hook"], "before_deploy");
    assert_eq!(before["run"], after["run"], "one run id for every hook of the run");
    assert_eq!(before["revision"], after["revision"]);
    assert_eq!(before["hosts"], serde_json::json!([{ "host": "t1" }, { "host": "t2" }]));
    assert_eq!(
        (&before["changes"], &before["unchanged"]),
        (&serde_json::Value::Null, &serde_json::Value::Null)
    );
    assert_eq!(
        (after["changes"].as_u64(), after["result"].as_str()),
        (Some(2), Some("ok"))
    );
    p.test().args(&["deploy", "prod", "--yes", "--set", "x.text=two"]).run();
    let history = |alias: &str| std::fs::read_to_string(hosts.home(alias).join(".ordo/s/history")).unwrap();
    let recorded = (history("t1"), history("t2"));
    std::fs::remove_file(p.path("after.json")).unwrap();

    p.write("stop", "");
    let refused = |command: &str| {
        p.test()
            .args(&[command, "prod", "--yes"])
            .status(1)
            .stderr_contains(
                "the before_deploy hook `cat > before.json; test ! -e stop || exit 3` failed with exit code 3",
            )
            .stderr_contains("no host was contacted")
            .stderr_lacks("t2")
            .expect_missing(hosts.home("t1").join(".ordo/s/lock"))
            .expect_missing(hosts.home("t2").join(".ordo/s/lock"))
            .expect_missing(p.path("after.json"))
            .expect_missing(p.path("failure-hook"))
            .run();
        assert_eq!(history("t1"), recorded.0, "{command}: no history line");
        let before = json("before.json");
        assert_eq!(before["command"], command);
        assert_eq!(before["hosts"], serde_json::json!([{ "host": "t1" }, { "host": "t2" }]));
        before
    };
    hosts.kill("t2");
    refused("deploy");
    hosts.restart("t2");
    let before = refused("rollback");
    assert_eq!(history("t2"), recorded.1, "no history line");
    // The entry and revision it would have deployed again: the first deploy's.
    assert_eq!(before["rollback_to"], after["run"]);
    assert_eq!(before["revision"], after["revision"]);
}

/// Issue 18, item 5: once `before_deploy` ran, the run gets its end: a deploy
/// that never began its changes runs `after_deploy` with the result
/// `not_applied` (and the plan's counts when there was a plan), and `on_failure`
/// first when ordo fails (here: no terminal to confirm on; a host unreachable).
#[test]
fn hooks_after_a_deploy_that_changed_nothing_are_told_not_applied() {
    let hosts = TestHosts::start(&["t1"]);
    let p = Test::new()
        .file(
            "ordo.rhai",
            r#"project(#{ hooks: #{
    on_failure: "echo failure hook: $ORDO_RESULT",
    after_deploy: "echo after hook: $ORDO_RESULT changes=${ORDO_CHANGES-unset}; cat > after.json",
} });
"#,
        )
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    // Without --yes and without a terminal: refused after the plan.
    p.test()
        .args(&["deploy", "prod"])
        .status(2)
        .stderr_contains("refusing to deploy without confirmation")
        .stdout_contains("failure hook: not_applied\n")
        .stdout_contains("after hook: not_applied changes=1\n")
        .expect_missing(hosts.home("t1").join("deployment/s/a.txt"))
        .run();
    let after: serde_json::Value = serde_json::from_str(&p.read("after.json")).unwrap();
    assert_eq!(
        after["hosts"],
        serde_json::json!([{ "host": "t1", "result": "not applied" }])
    );
    // A host that cannot be reached: no plan, so no counts.
    hosts.kill("t1");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(3)
        .stdout_contains("failure hook: not_applied\n")
        .stdout_contains("after hook: not_applied changes=unset\n")
        .run();
    let after: serde_json::Value = serde_json::from_str(&p.read("after.json")).unwrap();
    assert_eq!(after["hosts"], serde_json::json!([{ "host": "t1", "result": null }]));
    assert_eq!(after["changes"], serde_json::Value::Null);
    hosts.restart("t1");
}

/// Issue "Operating over time", item 5: a REPL `apply` records history, and runs
/// no hook.
#[test]
fn a_repl_apply_records_history_and_runs_no_hook() {
    let hosts = TestHosts::start(&["t1"]);
    let p = Test::new()
        .file(
            "ordo.rhai",
            "project(#{ hooks: #{ before_deploy: \"touch hooked\", after_deploy: \"touch hooked\" } });\n",
        )
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    p.test().args(&["repl", "prod", "--yes"]).stdin("apply(\"x\")\n").run();
    assert!(!p.path("hooked").exists(), "no hook ran");
    p.test()
        .args(&["log", "prod"])
        .stdout("  [RUN]  [DATE]  apply    no commit (x)  by [OPERATOR]: ok on t1 (1 changed) in [TIME]\n")
        .run();
}

/// Issue "Operating over time", item 1: the history is never a secret — a `--set`
/// value that replaces a secret, or equals one, is masked there and in the
/// version record.
#[test]
fn set_values_that_are_secrets_are_masked_in_the_records() {
    let hosts = TestHosts::start(&["t1"]);
    let service = r#"let s = service("s");
s.component("x", |c| {
    c.add(file("token", c.attr("token", secret("token"))));
    c.add(file("note", c.attr("note", "plain")));
});
"#;
    let p = Test::new()
        .service(service)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    let key = p.age_recipient("prod");
    p.set_secret("prod", "token", "the-real-token-value");
    p.write(".gitignore", "ssh_config\nid.age\n.state/\n");
    p.git(&["init", "-q"]);
    commit(&p, "one");
    p.test()
        .env("ORDO_AGE_KEY", &key)
        .args(&[
            "deploy",
            "prod",
            "--yes",
            "--set",
            "x.token=typed-instead",
            "--set",
            "x.note=the-real-token-value",
        ])
        .run();
    let dir = hosts.home("t1").join(".ordo/s");
    for file in ["history", "history.last", "state.json"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            !text.contains("typed-instead") && !text.contains("the-real-token-value"),
            "{file}: {text}"
        );
    }
    let history = std::fs::read_to_string(dir.join("history")).unwrap();
    assert!(
        history.contains(r#"{"text":"x.token=[redacted]","masked":true}"#),
        "{history}"
    );
    assert!(
        history.contains(r#"{"text":"x.note=[redacted]","masked":true}"#),
        "{history}"
    );
    // A rollback to that entry cannot give the values again by itself.
    p.test()
        .env("ORDO_AGE_KEY", &key)
        .args(&["deploy", "prod", "--yes"])
        .run();
    p.test()
        .env("ORDO_AGE_KEY", &key)
        .args(&["rollback", "prod", "--yes"])
        .status(2)
        .stderr_contains("was deployed with values the history keeps masked: x.token=[redacted], x.note=[redacted]")
        .run();
}

/// 249 entries ordo could have written on `host` of `environment`, chained: the
/// history's text and its last end line.
fn chained_history(environment: &str, host: &str) -> (String, String) {
    use ordo::exec::history::{Begin, End, Line, Outcome, RunKind, VERSION, hash};
    // 249 entries ordo could have written, chained.
    let mut text = String::new();
    let mut last = String::new();
    for seq in 1..=249u64 {
        let run = format!("{seq:016x}");
        let begin = Line::Begin(Begin {
            v: VERSION,
            run: run.clone(),
            kind: RunKind::Deploy,
            environment: environment.into(),
            by: "someone@elsewhere".into(),
            at: format!("2020-01-01T00:{:02}:{:02}Z", seq / 60, seq % 60),
            ordo: "0".into(),
            commit: None,
            dirty: false,
            rev: None,
            rollback_to: None,
            what: None,
            set: Vec::new(),
            libraries: Default::default(),
            fingerprint: "f".into(),
            hosts: 1,
            targets: vec![host.into()],
            environment_hosts: 1,
        })
        .text();
        let end = Line::End(End {
            v: VERSION,
            run,
            seq,
            prev: (seq > 1).then(|| hash(&last)),
            begin: hash(&begin),
            result: Outcome::Ok,
            note: None,
            changes: 0,
            unchanged: 1,
            changed: 0,
            failed: 0,
            skipped: 0,
            changed_steps: Vec::new(),
            failed_steps: Vec::new(),
            unreachable: Vec::new(),
            duration_ms: Some(5),
        })
        .text();
        text.push_str(&format!("{begin}\n{end}\n"));
        last = end;
    }
    (text, last)
}

/// Issue "Operating over time", item 1: the history is bounded. Past 200 entries,
/// every 50th trims the file to its last 400 lines under the lock — and what is
/// left still reads without a finding (the trim is not taken for a cut).
#[test]
fn the_history_keeps_its_last_entries_and_still_adds_up() {
    let p = crate::support::single_host(SERVICE).build();
    let (text, last) = chained_history("test", "h");
    p.write("hosts/h/.ordo/s/history", &text);
    p.write("hosts/h/.ordo/s/history.last", &format!("{last}\n"));
    p.test().args(&["log", "test", "-n", "0"]).stdout("").run();
    p.test().args(&["deploy", "test", "--yes"]).run();
    let kept = p.read("hosts/h/.ordo/s/history");
    assert_eq!(kept.lines().count(), 400, "trimmed to its last 400 lines");
    let json = p.test().args(&["log", "test", "--format", "json"]).run();
    let e = entries(&json);
    assert_eq!(e.len(), 200);
    assert_eq!(e[0]["hosts"][0]["seq"], 250);
    assert_eq!(e[199]["hosts"][0]["seq"], 51);
    assert!(
        json.events().iter().all(|e| e["event"] != "history_problem"),
        "{}",
        json.stdout
    );
}

/// The history's shell runs under BusyBox `ash` with BusyBox's utilities: the
/// begin line in the probe, the trim past 200 entries, an end line whose duration
/// the host computes from its uptime (a deploy that changed something), one the
/// unlock writes (a failed deploy), and `ordo log`/`status` reading it back.
#[test]
fn the_history_is_written_trimmed_and_read_on_a_busybox_host() {
    let hosts = TestHosts::setup().busybox().start(&["t1"]);
    let p = project(&hosts, &["t1"]);
    let (text, last) = chained_history("prod", "t1");
    let dir = hosts.home("t1").join(".ordo/s");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("history"), text).unwrap();
    std::fs::write(dir.join("history.last"), format!("{last}\n")).unwrap();
    let user = hosts.user("t1");
    assert!(
        Command::new("chown")
            .args([
                "-R",
                &format!("{user}:"),
                &hosts.home("t1").join(".ordo").to_string_lossy()
            ])
            .status()
            .unwrap()
            .success()
    );
    p.test().args(&["deploy", "prod", "--yes"]).run();
    assert_eq!(
        std::fs::read_to_string(dir.join("history")).unwrap().lines().count(),
        400,
        "trimmed to its last 400 lines"
    );
    p.test()
        .args(&["deploy", "prod", "--yes", "--set", "x.fail=true"])
        .status(1)
        .run();
    p.test()
        .args(&["log", "prod", "-n", "2"])
        .stdout(&lines(&[
            "  [RUN]  [DATE]  deploy   commit [COMMIT] --set x.fail=true  by [OPERATOR]: failed on t1 (0 changed, 1 failed) in [TIME]",
            "  [RUN]  [DATE]  deploy   commit [COMMIT]  by [OPERATOR]: ok on t1 (1 changed) in [TIME]",
        ]))
        .run();
    let json = p.test().args(&["log", "prod", "--format", "json"]).run();
    assert!(
        json.events().iter().all(|e| e["event"] != "history_problem"),
        "{}",
        json.stdout
    );
    let e = entries(&json);
    assert_eq!(e.len(), 201);
    assert_eq!(e[0]["hosts"][0]["seq"], 251);
    let d = &e[1]["hosts"][0]["duration_ms"];
    assert!(d.as_u64().is_some_and(|d| d < 60_000), "the host's own duration: {d}");
    let status = p.test().args(&["status", "prod"]).run();
    assert_redacted_contains(
        &p,
        &status.stdout,
        "current entry [RUN]: deploy by [OPERATOR] at [DATE], commit [COMMIT] --set x.fail=true: failed",
    );
}
