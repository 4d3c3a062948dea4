//! What output masks besides the current secret values, and what never leaves ordo:
//! the private key (not inherited by any process ordo starts, masked when a host
//! prints it, a key file others can read is said), the part of a secret that an
//! output window cut off, and the earlier values of a rotated secret.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use crate::support::{Project, single_host};

/// A local host `h` whose component writes what its command, its guard and a
/// custom step see in their environment, and starts a daemon that does the same.
const ENV_SPY: &str = r#"let s = service("s");
s.component("x", |c| {
    c.add(file("pw", secret("pw")));
    c.add(command("spy", #{ run: "env > ~/command.env; (sleep 1; env > ~/daemon.env) >/dev/null 2>&1 &", unless: "env > ~/guard.env; false" }));
    c.add(step("custom", #{ verify: |host| { host.run("env > ~/custom.env"); true }, update: |host| {} }));
});
"#;

/// A project around `service` on local host `h` with a key for `test`, the key
/// kept in `id.age`, and the secret `pw` set.
fn with_key(service: &str) -> (Arc<Project>, String) {
    let p = single_host(service).build();
    let key = p.age_recipient("test");
    p.set_secret("test", "pw", "correct-horse-battery");
    (p, key)
}

fn key_line(key: &str) -> String {
    key.lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .expect("an age key line")
        .to_string()
}

/// The content of `path` once it is there and ends with a newline (a daemon
/// writes it a moment after the deploy).
#[track_caller]
fn wait_for(path: &std::path::Path) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match std::fs::read_to_string(path) {
            Ok(text) if text.ends_with('\n') => return text,
            other => assert!(std::time::Instant::now() < deadline, "{}: {other:?}", path.display()),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[track_caller]
fn assert_no_key(what: &str, text: &str, key: &str) {
    let line = key_line(key);
    for needle in ["ORDO_AGE_KEY", "ORDO_AGE_IDENTITY", line.as_str(), &line.to_lowercase()] {
        assert!(!text.contains(needle), "{what} holds `{needle}`:\n{text}");
    }
}

/// Issue "Trustworthy unattended", item 11: `ordo run local -- env` printed the
/// key, and every command, guard, custom step and daemon inherited it.
#[test]
fn the_age_key_reaches_no_process_ordo_starts() {
    let (p, key) = with_key(ENV_SPY);
    let id = p.path("id.age");
    for (var, value) in [("ORDO_AGE_KEY", key.as_str()), ("ORDO_AGE_IDENTITY", id.to_str().unwrap())] {
        let out = p.test().args(&["run", "test", "--", "env"]).env(var, value).run();
        assert!(out.stdout.contains("HOME="), "{}", out.stdout);
        assert_no_key("the environment of `ordo run local -- env`", &out.stdout, &key);
        let out = p.test().args(&["deploy", "test", "--yes"]).env(var, value).run();
        assert!(out.stdout.contains("done: "), "{}", out.stdout);
        let home = p.path("hosts/h");
        for file in ["command.env", "guard.env", "custom.env", "daemon.env"] {
            let text = wait_for(&home.join(file));
            assert!(text.contains("HOME="), "{file}: {text}");
            assert_no_key(file, &text, &key);
            std::fs::remove_file(home.join(file)).unwrap();
        }
        // The command runs again: its guard never says done.
    }
}

/// The private key is a secret too: a host that prints it shows `[redacted]`,
/// whether ordo got it in `ORDO_AGE_KEY` or as the file `ORDO_AGE_IDENTITY` names,
/// and whether or not the run decrypts anything.
#[test]
fn a_printed_private_key_is_masked() {
    let (p, key) = with_key(ENV_SPY);
    let id = p.path("id.age");
    let cat = format!("cat {}", id.display());
    for (var, value) in [("ORDO_AGE_KEY", key.as_str()), ("ORDO_AGE_IDENTITY", id.to_str().unwrap())] {
        for format in ["human", "json"] {
            let out = p
                .test()
                .args(&["run", "test", "--format", format, "--", &cat])
                .env(var, value)
                .stdout_contains("[redacted]")
                .run();
            assert_no_key("the output of `ordo run -- cat <key file>`", &out.stdout, &key);
        }
    }
    // A project without secrets decrypts nothing; the key is masked all the same.
    let q = single_host("let s = service(\"s\");\ns.component(\"x\", |c| {});\n").build();
    let out = q
        .test()
        .args(&["run", "test", "--", &cat])
        .env("ORDO_AGE_KEY", &key)
        .stdout_contains("[redacted]")
        .run();
    assert_no_key("the output of a project without secrets", &out.stdout, &key);
}

/// Issue "Trustworthy unattended", item 13: a key file others can read was used
/// without a word. It is still used, with a warning that says how to fix it.
#[test]
fn a_key_file_others_can_read_is_warned_about() {
    let (p, _) = with_key("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"pw\", secret(\"pw\"))); });\n");
    let id = p.path("id.age");
    let show = |mode: u32| {
        std::fs::set_permissions(&id, std::fs::Permissions::from_mode(mode)).unwrap();
        p.test()
            .args(&["secrets", "show", "test", "pw"])
            .env("ORDO_AGE_IDENTITY", id.to_str().unwrap())
            .stdout("correct-horse-battery\n")
            .run()
    };
    let out = show(0o644);
    assert_eq!(
        p.redact(&out.stderr),
        "warning: the private key file [PROJECT]/id.age is accessible by others (mode 0644): anyone who can read it can decrypt the secrets; make it private with `chmod 600 [PROJECT]/id.age`\n"
    );
    let out = show(0o600);
    assert_eq!(out.stderr, "");
    // A deploy says it too (once), and goes on.
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = p
        .test()
        .args(&["plan", "test"])
        .env("ORDO_AGE_IDENTITY", id.to_str().unwrap())
        .run();
    assert_eq!(out.stderr.matches("is accessible by others (mode 0640)").count(), 1, "{}", out.stderr);
}
