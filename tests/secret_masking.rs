//! What output masks besides the current secret values, and what never leaves ordo:
//! the private key (not inherited by any process ordo starts, masked when a host
//! prints it, a key file others can read is said), the part of a secret that an
//! output window cut off, and the earlier values of a rotated secret.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use crate::support::sshd::TestHosts;
use crate::support::{Project, Test, single_host};

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
    for (var, value) in [
        ("ORDO_AGE_KEY", key.as_str()),
        ("ORDO_AGE_IDENTITY", id.to_str().unwrap()),
    ] {
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
    for (var, value) in [
        ("ORDO_AGE_KEY", key.as_str()),
        ("ORDO_AGE_IDENTITY", id.to_str().unwrap()),
    ] {
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
    let (p, _) =
        with_key("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"pw\", secret(\"pw\"))); });\n");
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
    assert_eq!(
        out.stderr.matches("is accessible by others (mode 0640)").count(),
        1,
        "{}",
        out.stderr
    );
}

/// A value no message of ordo's contains any 5 characters of.
const ROTATING: &str = "Zq7-Kp2w-Vx9m-Lr4t-Hb8n";

/// Every piece of `secret` 5 characters long or more that `text` shows.
fn pieces_shown(text: &str, secret: &str) -> Vec<String> {
    let mut shown = Vec::new();
    for start in 0..secret.len() {
        for end in start + 5..=secret.len() {
            let piece = &secret[start..end];
            if text.contains(piece) && !shown.iter().any(|s: &String| s.contains(piece)) {
                shown.retain(|s: &String| !piece.contains(s.as_str()));
                shown.push(piece.to_string());
            }
        }
    }
    shown
}

#[track_caller]
fn assert_no_piece(what: &str, text: &str, secret: &str) {
    let shown = pieces_shown(text, secret);
    assert!(
        shown.is_empty(),
        "{what} shows {shown:?} of the secret:\n{}",
        tail(text)
    );
}

/// The end of a long text, for failure messages.
fn tail(text: &str) -> &str {
    let mut from = text.len().saturating_sub(3000);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..]
}

/// Issue "Trustworthy unattended", item 10: a failing step's output is kept as its
/// last 4,000 bytes; a cut inside a secret printed the rest of it, in human and
/// JSON output.
#[test]
fn a_secret_cut_by_the_window_of_a_failing_step_is_masked() {
    // The secret, then 3,988 bytes: the window starts 12 bytes before its end.
    let service = format!(
        r#"let s = service("s");
s.component("x", |c| {{
    c.add(command("leak", #{{ run: `head -c 100 /dev/zero | tr '\0' a; printf '%s' ${{shell_quote(secret("pw"))}}; head -c {} /dev/zero | tr '\0' x; exit 3`, always: true }}));
}});
"#,
        4000 - 12
    );
    // Over ssh: the window is cut on the host.
    let hosts = TestHosts::start(&["t1"]);
    let p = Test::new()
        .service(&service)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    let key = p.age_recipient("prod");
    p.set_secret("prod", "pw", ROTATING);
    for format in ["human", "json"] {
        let out = p
            .test()
            .args(&["deploy", "prod", "--yes", "--format", format])
            .env("ORDO_AGE_KEY", &key)
            .status(1)
            .run();
        let all = format!("{}{}", out.stdout, out.stderr);
        // miette may wrap the line after the `…` of the cut.
        assert!(
            all.contains("…") && all.contains("[redacted]xxxx"),
            "{}",
            &all[..all.len().min(3000)]
        );
        assert_no_piece("a failing step's output", &all, ROTATING);
    }
}

/// The same for `ordo run`, whose output is kept as the last megabyte of each
/// stream.
#[test]
fn a_secret_cut_by_the_window_of_ordo_run_is_masked() {
    let (p, key) =
        with_key("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"pw\", secret(\"pw\"))); });\n");
    p.set_secret("test", "pw", ROTATING);
    p.test()
        .args(&["deploy", "test", "--yes"])
        .env("ORDO_AGE_KEY", &key)
        .run();
    // The secret, then a megabyte less 12 bytes: the window starts inside it.
    let command = format!(
        "printf '%s' \"$(cat deployment/s/pw)\"; head -c {} /dev/zero | tr '\\0' x",
        (1 << 20) - 12
    );
    for format in ["human", "json"] {
        let out = p
            .test()
            .args(&["run", "test", "--format", format, "--", &command])
            .env("ORDO_AGE_KEY", &key)
            .run();
        assert!(
            out.stdout.contains("…[redacted]xxxx"),
            "{}",
            &out.stdout[..300.min(out.stdout.len())]
        );
        assert_no_piece("`ordo run`'s output", &out.stdout, ROTATING);
    }
}

/// A secret file of many lines (a key, with Windows line ends): `ordo run` masked
/// each line on its own, so none of them, and a failing custom step's error keeps
/// its last ten lines, which cut the file.
#[test]
fn a_secret_that_spans_lines_is_masked_in_line_output_and_tails() {
    let lines: Vec<String> = (0..15).map(|i| format!("K{i:02}-{ROTATING}-{i:02}")).collect();
    let content = lines.join("\r\n") + "\r\n";
    let p = single_host(
        r#"let s = service("s");
s.component("x", |c| {
    c.add(file("key.pem", secret_file("key")));
    c.add(step("show", #{ verify: |host| false, update: |host| { host.run("cat key.pem; exit 3"); } }));
});
"#,
    )
    .build();
    let key = p.age_recipient("test");
    p.test()
        .args(&["secrets", "set", "test", "--file", "key"])
        .stdin(&content)
        .run();
    for format in ["human", "json"] {
        let out = p
            .test()
            .args(&["deploy", "test", "--yes", "--format", format])
            .env("ORDO_AGE_KEY", &key)
            .status(1)
            .run();
        let all = format!("{}{}", out.stdout, out.stderr);
        // (JSON leaves the failed command's output out of the step's problem.)
        assert!(format == "json" || all.contains("…[redacted]"), "{all}");
        for line in &lines {
            assert!(
                !all.contains(&line[..8]),
                "a failing step's last lines show `{line}`:\n{all}"
            );
        }
        let out = p
            .test()
            .args(&["run", "test", "--format", format, "--", "cat deployment/s/key.pem"])
            .env("ORDO_AGE_KEY", &key)
            .stdout_contains("[redacted]")
            .run();
        for line in &lines {
            assert!(
                !out.stdout.contains(&line[..8]),
                "`ordo run` shows `{line}`:\n{}",
                out.stdout
            );
        }
    }
}

/// Issue "Trustworthy unattended", item 12: after `ordo secrets set` and before
/// the deploy, `ordo run` showed the value still on the host, because only the
/// values decrypted in this run were masked. Earlier values in git's history are
/// masked too: before the new one is committed, and after.
#[test]
fn the_earlier_value_of_a_rotated_secret_is_masked() {
    let (p, key) =
        with_key("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(file(\"pw\", secret(\"pw\"))); });\n");
    let (old, new) = ("old-Zq7-Kp2w-Vx9m", "new-Lr4t-Hb8n-Cd3f");
    p.set_secret("test", "pw", old);
    std::fs::remove_file(p.path("id.age")).unwrap();
    p.git(&["init", "-q"]);
    p.git(&["add", "-A"]);
    p.git(&["commit", "-qm", "first value"]);
    p.test()
        .args(&["deploy", "test", "--yes"])
        .env("ORDO_AGE_KEY", &key)
        .run();
    p.set_secret("test", "pw", new);
    let run = |when: &str| {
        for format in ["human", "json"] {
            let out = p
                .test()
                .args(&[
                    "run",
                    "test",
                    "--format",
                    format,
                    "--",
                    "cat deployment/s/pw; echo; echo end",
                ])
                .env("ORDO_AGE_KEY", &key)
                .stdout_contains("[redacted]")
                .stdout_contains("end")
                .run();
            assert_no_piece(&format!("`ordo run` {when}"), &out.stdout, old);
        }
    };
    run("before the new value is committed");
    p.git(&["commit", "-qam", "rotated"]);
    run("after the new value is committed");
    // Deployed, the host holds the new value, masked as ever.
    p.test()
        .args(&["deploy", "test", "--yes"])
        .env("ORDO_AGE_KEY", &key)
        .run();
    let out = p
        .test()
        .args(&["run", "test", "--", "cat deployment/s/pw"])
        .env("ORDO_AGE_KEY", &key)
        .stdout("\n            ── h (ok)\n            [redacted]\n            ")
        .run();
    assert_no_piece("`ordo run` after the deploy", &out.stdout, new);
}
