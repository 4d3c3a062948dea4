//! Secrets in scripts, end to end over real SSH hosts: a secret used in a template,
//! a file, a command's arguments and through provide/require reaches the hosts that
//! use it, and nowhere else — not in any output (human or JSON) of check, plan,
//! deploy, status and run, not in a failing command's error, not in ordo's state on
//! the hosts, not on a host that does not use it, not in the argv of any process
//! while the deploy runs — and its file is 0600 from its first byte.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;

use crate::support::sshd::TestHosts;
use crate::support::{Project, Test};

/// Characters a naive quoting or encoding would break: a quote, a slash, spaces.
const SECRET: &str = "Xs3cr'3t Pa55/w0rd!";

const SERVICE: &str = r#"let s = service("s");
s.component("db", |c| {
    c.add(template("db.conf", "templates/db.conf", #{ pw: secret("db_password") }));
    c.add(file("db.pw", secret("db_password")));
    c.add(command("init", #{ run: `test "$(cat db.pw)" = ${shell_quote(secret("db_password"))} && touch inited`, creates: "inited" }));
    c.provide("db:dsn", `postgres://app:${secret("db_password")}@t1/app`);
});
s.component("app", |c| {
    let dsn = c.require_one("db:dsn");
    c.add(file("app.dsn", dsn));
});
s.component("web", |c| {
    c.add(file("index.html", "hello\n"));
});
"#;

/// Every form of the secret that must never show up.
fn forms() -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    let mut url = String::new();
    for b in SECRET.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    vec![
        SECRET.to_string(),
        b64.trim_end_matches('=').to_string(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET),
        url,
    ]
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    for f in forms() {
        assert!(!text.contains(&f), "the secret ({f}) shows in {what}:\n{text}");
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&p, out),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

/// Samples the argv of every process and the modes of files named `db.pw` under
/// `home` until stopped.
struct Watch {
    stop: Arc<AtomicBool>,
    argv: Arc<Mutex<BTreeSet<String>>>,
    modes: Arc<Mutex<BTreeSet<u32>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn start(home: &Path) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let argv = Arc::new(Mutex::new(BTreeSet::new()));
        let modes = Arc::new(Mutex::new(BTreeSet::new()));
        let (s, a, m, home) = (stop.clone(), argv.clone(), modes.clone(), home.to_path_buf());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
                        a.lock()
                            .unwrap()
                            .insert(String::from_utf8_lossy(&cmdline).replace('\0', " "));
                    }
                }
                let mut files = Vec::new();
                files_under(&home, &mut files);
                for f in files.iter().filter(|f| f.file_name().is_some_and(|n| n == "db.pw")) {
                    if let Ok(meta) = std::fs::symlink_metadata(f) {
                        m.lock().unwrap().insert(meta.permissions().mode() & 0o7777);
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Watch {
            stop,
            argv,
            modes,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (BTreeSet<String>, BTreeSet<u32>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (
            std::mem::take(&mut *self.argv.lock().unwrap()),
            std::mem::take(&mut *self.modes.lock().unwrap()),
        )
    }
}

/// The project with `prod` secrets: a key made by `ordo secrets keygen`, the
/// secret set from stdin. Returns the project and the private key (for
/// `ORDO_AGE_KEY`, as CI would pass it).
fn project(hosts: &TestHosts) -> (Arc<Project>, String) {
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(hosts, &["t1"])
        .place("db")
        .ssh_hosts(hosts, &["t2"])
        .place("app")
        .ssh_hosts(hosts, &["t3"])
        .place("web")
        .file("templates/db.conf", "listen = 5432\npassword = {{ pw }}\n")
        .build();
    let private = p.age_recipient("prod");
    p.set_secret("prod", "db_password", SECRET);
    std::fs::remove_file(p.path("id.age")).unwrap();
    (p, private)
}

#[test]
fn a_secret_reaches_only_the_hosts_that_use_it_and_no_output() {
    let hosts = TestHosts::start(&["t1", "t2", "t3"]);
    let (p, key) = project(&hosts);
    let mut seen = String::new();
    // No key is needed to check: names are in clear.
    let out = p
        .test()
        .args(&["check", "prod"])
        .stdout("ok: 5 steps on 3 hosts\n")
        .run();
    seen += &out.stdout;
    for format in ["human", "json"] {
        let out = p
            .test()
            .args(&["plan", "prod", "--format", format])
            .env("ORDO_AGE_KEY", &key)
            .stdout_contains("[secret:db_password]")
            .run();
        seen += &out.stdout;
        seen += &out.stderr;
    }
    let watch = Watch::start(hosts.home("t1"));
    let out = p
        .test()
        .args(&["deploy", "prod", "--yes", "--format", "json"])
        .env("ORDO_AGE_KEY", &key)
        .run();
    let (argv, modes) = watch.finish();
    seen += &out.stdout;
    seen += &out.stderr;
    for line in &argv {
        assert_clean("the argv of a process during the deploy", line);
    }
    assert_eq!(
        modes,
        BTreeSet::from([0o600]),
        "db.pw was only ever seen with mode 0600"
    );

    // The hosts that use it have the plaintext, privately.
    let t1 = hosts.home("t1").join("deployment/s");
    assert_eq!(std::fs::read_to_string(t1.join("db.pw")).unwrap(), SECRET);
    assert!(t1.join("inited").exists(), "the command got the secret as one argument");
    assert_eq!(
        std::fs::metadata(t1.join("db.conf")).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let t2 = hosts.home("t2").join("deployment/s");
    assert_eq!(
        std::fs::read_to_string(t2.join("app.dsn")).unwrap(),
        format!("postgres://app:{SECRET}@t1/app")
    );
    assert_eq!(
        std::fs::metadata(t2.join("app.dsn")).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // ordo's state and markers on every host, and every file of the host that does
    // not use it, hold no form of it.
    for alias in ["t1", "t2", "t3"] {
        let mut files = Vec::new();
        files_under(&hosts.home(alias).join(".ordo"), &mut files);
        if alias == "t3" {
            files_under(hosts.home(alias), &mut files);
        }
        assert!(!files.is_empty());
        for f in files {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            assert_clean(&format!("{} on {alias}", f.display()), &text);
        }
    }

    // Nothing to change the second time; status and run show no plaintext either,
    // even when a host echoes it.
    let out = p
        .test()
        .args(&["deploy", "prod", "--yes"])
        .env("ORDO_AGE_KEY", &key)
        .stdout_contains("nothing to change")
        .run();
    seen += &out.stdout;
    for format in ["human", "json"] {
        let out = p
            .test()
            .args(&["status", "prod", "--format", format])
            .env("ORDO_AGE_KEY", &key)
            .run();
        seen += &out.stdout;
        let out = p
            .test()
            .args(&[
                "run",
                "prod",
                "--format",
                format,
                "--",
                "cat deployment/s/*.pw deployment/s/*.dsn 2>/dev/null; cat deployment/s/db.pw 2>/dev/null | base64",
            ])
            .env("ORDO_AGE_KEY", &key)
            .stdout_contains("[redacted]")
            .run();
        seen += &out.stdout;
        seen += &out.stderr;
    }
    assert_clean("the output of check, plan, deploy, status and run", &seen);
}

#[test]
fn a_failing_command_that_echoes_a_secret_shows_it_masked() {
    let hosts = TestHosts::start(&["t1"]);
    let p = Test::new()
        .service(
            "let s = service(\"s\");\ns.component(\"x\", |c| {\n    c.add(command(\"leak\", #{ run: `echo ${shell_quote(secret(\"db_password\"))}; printf %s ${shell_quote(secret(\"db_password\"))} | base64; exit 3`, always: true }));\n});\n",
        )
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    let key = p.age_recipient("prod");
    p.set_secret("prod", "db_password", SECRET);
    for format in ["human", "json"] {
        let out = p
            .test()
            .args(&["deploy", "prod", "--yes", "--format", format])
            .env("ORDO_AGE_KEY", &key)
            .status(1)
            .run();
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(all.contains("[redacted]"), "{all}");
        assert_clean("a failing command's error", &all);
    }
}

#[test]
fn secret_names_are_checked_without_a_key() {
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a\", secret(\"db_pasword\"))); });\n")
        .local_host("h")
        .place("x")
        .build();
    p.age_recipient("test");
    p.set_secret("test", "db_password", SECRET);
    std::fs::remove_file(p.path("id.age")).unwrap();
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("no secret `db_pasword` in secrets/test.secrets (environment `test`)")
        .stderr_contains("did you mean `db_password`?")
        .run();
    // Without any key, a deploy says what it tried.
    p.write(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a\", secret(\"db_password\"))); });\n",
    );
    p.test().args(&["check", "test"]).run();
    p.test()
        .args(&["plan", "test"])
        .env("HOME", p.root().to_str().unwrap())
        .status(2)
        .stderr_contains("ORDO_AGE_KEY")
        .run();
}

/// The REPL decrypts what its lines use and redacts what it prints: a secret's
/// value, a command's output that echoes it, a file's diff, the JSON results.
#[test]
fn the_repl_never_prints_a_secret() {
    let p = Test::new()
        .service(
            "let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"a.conf\", \"pw = \" + secret(\"db_password\") + \"\\n\")); });\n",
        )
        .local_host("h")
        .place("x")
        .build();
    let key = p.age_recipient("test");
    p.set_secret("test", "db_password", SECRET);
    let lines = "let pw = secret(\"db_password\");\npw\nprint(pw)\n`in a string: ${pw}`\n\
                 host(\"h\").run(\"echo \" + shell_quote(pw)).stdout\ndiff(\"x\", \"h\")\napply(\"x\", \"h\")\n";
    for format in ["human", "json"] {
        // Absent again: the plan shows the masked diff of its creation.
        let _ = std::fs::remove_file(p.path("hosts/h/deployment/s/a.conf"));
        let out = p
            .test()
            .args(&["repl", "test", "--yes", "--format", format])
            .env("ORDO_AGE_KEY", &key)
            .stdin(lines)
            .run();
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("[secret:db_password]") || all.contains("[redacted]"),
            "{all}"
        );
        assert!(
            all.contains("pw = [secret:db_password]"),
            "the diff is shown, masked: {all}"
        );
        assert!(all.contains("[redacted]"), "what the host echoed is redacted: {all}");
        assert_clean(&format!("the REPL's {format} output"), &all);
    }
    // It was delivered, though.
    assert_eq!(p.read("hosts/h/deployment/s/a.conf"), format!("pw = {SECRET}\n"));
}
