//! `ordo secrets`: age-encrypted values and files per environment, edited through a
//! private draft, shared with the keys in a recipients file. Each test drives the real
//! binary with its own `HOME` per teammate, real age keys (made by `ordo secrets
//! keygen`) and real SSH keys (made by `ssh-keygen`).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Project;

/// A teammate: a home directory of their own (keys, runtime dir for drafts).
struct User {
    home: tempfile::TempDir,
}

impl User {
    fn new() -> User {
        let home = tempfile::Builder::new().prefix("ordo-home").tempdir().expect("home");
        std::fs::create_dir_all(home.path().join("run")).expect("run dir");
        std::fs::set_permissions(home.path().join("run"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        User { home }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    /// A new age key in `~/.config/ordo/age.key`; returns the public key.
    fn keygen(&self, p: &Project) -> String {
        let key = self.path(".config/ordo/age.key");
        let out = self
            .ordo(p, &["secrets", "keygen", "-o", key.to_str().unwrap()])
            .success();
        let public = out.stdout.trim().to_string();
        assert!(public.starts_with("age1"), "{public}");
        public
    }

    /// An SSH key of `kind` in `~/.ssh/id_<kind>`; returns the public key line.
    fn ssh_keygen(&self, kind: &str, passphrase: &str) -> String {
        let key = self.path(&format!(".ssh/id_{kind}"));
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", "someone@laptop", "-f"])
            .arg(&key);
        if kind == "rsa" {
            cmd.args(["-b", "2048"]);
        }
        let status = cmd
            .status()
            .expect("ssh-keygen (openssh-client) is needed for these tests");
        assert!(status.success());
        std::fs::read_to_string(key.with_extension("pub"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Writes an editor script (`sh`, gets the draft's path as `$1`) and returns its path.
    fn editor(&self, name: &str, body: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, format!("#!/bin/sh\nset -e\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn ordo(&self, p: &Project, args: &[&str]) -> Out {
        self.ordo_with(p, args, &[], None)
    }

    fn ordo_in(&self, p: &Project, args: &[&str], stdin: &[u8]) -> Out {
        self.ordo_with(p, args, &[], Some(stdin))
    }

    fn command(&self, p: &Project, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ordo"));
        cmd.args(args)
            .current_dir(p.root())
            .env("NO_COLOR", "1")
            .env("HOME", self.home.path())
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("EDITOR", "false")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("ORDO_AGE_KEY")
            .env_remove("ORDO_AGE_IDENTITY")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied());
        cmd
    }

    fn ordo_with(&self, p: &Project, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Out {
        let mut child = self
            .command(p, args, env)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ordo");
        if let Some(bytes) = stdin {
            child.stdin.take().unwrap().write_all(bytes).unwrap();
        }
        let out = child.wait_with_output().expect("wait for ordo");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Drafts of edits left in this user's runtime dir.
    fn drafts(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in std::fs::read_dir(self.path("run")).unwrap().flatten() {
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                out.push(f.path());
            }
        }
        out
    }
}

fn project() -> Project {
    let p = Project::new();
    p.write("environments/prod.rhai", "");
    p.write("environments/staging.rhai", "");
    p
}

/// What one `ordo` run printed (these tests drive the binary with a teammate's own
/// environment, so they do not use the `Test` builder).
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "ordo failed:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A project whose `prod` secrets alice can read: two values.
fn alices_project() -> (Project, User, String) {
    let p = project();
    let alice = User::new();
    let key = alice.keygen(&p);
    alice
        .ordo(&p, &["secrets", "recipients", "add", "prod", &key, "--name", "alice"])
        .success();
    alice
        .ordo_in(&p, &["secrets", "set", "prod", "db_password"], b"hunter2\n")
        .success();
    alice
        .ordo_in(&p, &["secrets", "set", "prod", "api_token"], b"tok-123")
        .success();
    (p, alice, key)
}

/// stderr with miette's wrapping undone: wrapped lines joined by one space.
fn flat(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_start().trim_start_matches('│').trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every file under `secrets/`, by relative path.
fn snapshot(p: &Project) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(p.root(), &p.path("secrets"), &mut out);
    out
}

#[test]
fn set_show_and_edit_round_trip() {
    let (p, alice, _) = alices_project();
    assert_eq!(
        alice
            .ordo(&p, &["secrets", "show", "prod", "db_password"])
            .success()
            .stdout,
        "hunter2\n"
    );
    assert_eq!(
        alice.ordo(&p, &["secrets", "show", "prod"]).success().stdout,
        "db_password = hunter2\napi_token = tok-123\n"
    );
    let stored = p.read("secrets/prod.secrets");
    assert!(!stored.contains("hunter2") && !stored.contains("tok-123"), "{stored}");
    assert!(
        stored.contains("\ndb_password = YWdl") && stored.contains("\napi_token = YWdl"),
        "{stored}"
    );

    // Change one value in the editor: exactly its line changes in the stored file.
    let editor = alice.editor(
        "ed.sh",
        r#"sed -i 's/^db_password = .*/db_password = correct horse/' "$1""#,
    );
    let out = alice
        .ordo_with(&p, &["secrets", "edit", "prod"], &[("EDITOR", &editor)], None)
        .success();
    assert!(flat(&out.stderr).contains("changed `db_password`"), "{}", out.stderr);
    let after = p.read("secrets/prod.secrets");
    let changed: Vec<(&str, &str)> = stored.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].0.starts_with("db_password = ") && changed[0].1.starts_with("db_password = "));
    assert_eq!(stored.lines().count(), after.lines().count());

    // Add a value with a line break (JSON-quoted) and delete one.
    let editor = alice.editor(
        "ed2.sh",
        r#"sed -i '/^api_token = /d' "$1"; printf 'ca = "line one\\nline two"\n' >> "$1""#,
    );
    let out = alice
        .ordo_with(&p, &["secrets", "edit", "prod"], &[("EDITOR", &editor)], None)
        .success();
    assert!(
        flat(&out.stderr).contains("added `ca`; removed `api_token`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        alice.ordo(&p, &["secrets", "show", "prod", "ca"]).success().stdout,
        "line one\nline two\n"
    );
    assert_eq!(
        alice.ordo(&p, &["secrets", "list", "prod"]).success().stdout,
        "value  db_password\nvalue  ca\n"
    );

    // A secret file: bytes in, the same bytes out; stored as armoured age.
    let pem = b"-----BEGIN PRIVATE KEY-----\nMIIE\x00\xff\n-----END PRIVATE KEY-----\n";
    alice
        .ordo_in(&p, &["secrets", "set", "prod", "--file", "tls.key"], pem)
        .success();
    let stored = p.read("secrets/prod/tls.key.age");
    assert!(
        stored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") && !stored.contains("MIIE"),
        "{stored}"
    );
    let out = alice
        .command(&p, &["secrets", "show", "prod", "--file", "tls.key"], &[])
        .output()
        .unwrap();
    assert_eq!(out.stdout, pem);
    // Editing the file in place.
    let editor = alice.editor("ed3.sh", r#"sed -i 's/MIIE/MIIF/' "$1""#);
    alice
        .ordo_with(
            &p,
            &["secrets", "edit", "prod", "tls.key"],
            &[("EDITOR", &editor)],
            None,
        )
        .success();
    let out = alice
        .command(&p, &["secrets", "show", "prod", "--file", "tls.key"], &[])
        .output()
        .unwrap();
    assert_eq!(
        out.stdout,
        b"-----BEGIN PRIVATE KEY-----\nMIIF\x00\xff\n-----END PRIVATE KEY-----\n"
    );
    assert!(alice.drafts().is_empty(), "drafts left behind: {:?}", alice.drafts());
}

/// `ordo secrets list|show` (and `recipients list`) printed text under `--format
/// json`: each now prints one event object per line.
#[test]
fn list_and_show_speak_json_when_asked() {
    let (p, alice, key) = alices_project();
    alice
        .ordo_in(&p, &["secrets", "set", "prod", "--file", "tls.key"], b"\x00\xffkey\n")
        .success();
    let lines = |out: Out| -> Vec<serde_json::Value> {
        out.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} in {:?}", out.stdout)))
            .collect()
    };
    let secret = |name: &str, kind: &str| serde_json::json!({ "event": "secret", "environment": "prod", "name": name, "kind": kind });
    let with = |mut v: serde_json::Value, field: &str, value: &str| {
        v[field] = value.into();
        v
    };
    assert_eq!(
        lines(
            alice
                .ordo(&p, &["secrets", "list", "prod", "--format", "json"])
                .success()
        ),
        [
            secret("db_password", "value"),
            secret("api_token", "value"),
            secret("tls.key", "file")
        ]
    );
    assert_eq!(
        lines(
            alice
                .ordo(&p, &["--format", "json", "secrets", "show", "prod"])
                .success()
        ),
        [
            with(secret("db_password", "value"), "value", "hunter2"),
            with(secret("api_token", "value"), "value", "tok-123"),
            secret("tls.key", "file"),
        ]
    );
    assert_eq!(
        lines(
            alice
                .ordo(&p, &["secrets", "show", "prod", "api_token", "--format", "json"])
                .success()
        ),
        [with(secret("api_token", "value"), "value", "tok-123")]
    );
    assert_eq!(
        lines(
            alice
                .ordo(
                    &p,
                    &["secrets", "show", "prod", "--file", "tls.key", "--format", "json"]
                )
                .success()
        ),
        [with(secret("tls.key", "file"), "content_base64", "AP9rZXkK")]
    );
    assert_eq!(
        lines(
            alice
                .ordo(&p, &["secrets", "recipients", "list", "prod", "--format", "json"])
                .success()
        ),
        [serde_json::json!({ "event": "recipient", "environment": "prod", "name": "alice", "key": key })]
    );
    // Errors are JSON too.
    let out = alice
        .ordo(&p, &["secrets", "show", "prod", "nope", "--format", "json"])
        .code(2);
    assert_eq!(lines(out)[0]["message"], "`prod` has no secret `nope`");
}

#[test]
fn an_unchanged_edit_leaves_every_file_byte_identical() {
    let (p, alice, _) = alices_project();
    alice
        .ordo_in(&p, &["secrets", "set", "prod", "--file", "tls.crt"], b"CERT")
        .success();
    let before = snapshot(&p);
    let out = alice
        .ordo_with(&p, &["secrets", "edit", "prod"], &[("EDITOR", "true")], None)
        .success();
    assert!(flat(&out.stderr).contains("no changes"), "{}", out.stderr);
    // The text changes (a comment goes) but no value does: every ciphertext is kept.
    let editor = alice.editor("ed.sh", r#"sed -i '1d' "$1""#);
    let out = alice
        .ordo_with(&p, &["secrets", "edit", "prod"], &[("EDITOR", &editor)], None)
        .success();
    assert!(flat(&out.stderr).contains("no changes"), "{}", out.stderr);
    alice
        .ordo_with(&p, &["secrets", "edit", "prod", "tls.crt"], &[("EDITOR", "true")], None)
        .success();
    // Setting a value to what it is already.
    let out = alice
        .ordo_in(&p, &["secrets", "set", "prod", "api_token"], b"tok-123\n")
        .success();
    assert!(flat(&out.stderr).contains("no changes"), "{}", out.stderr);
    assert_eq!(snapshot(&p), before);
}

#[test]
fn an_edit_that_cannot_be_saved_is_kept_and_the_error_says_where() {
    let (p, alice, _) = alices_project();
    let recipients = p.read("secrets/prod.recipients");
    let before = snapshot(&p);
    // The recipients file breaks while the editor is open (a bad merge, say).
    let editor = alice.editor(
        "ed.sh",
        r#"sed -i 's/^db_password = .*/db_password = new-value/' "$1"; echo 'not a key' >> "$RECIPIENTS""#,
    );
    let rpath = p.path("secrets/prod.recipients");
    let out = alice
        .ordo_with(
            &p,
            &["secrets", "edit", "prod"],
            &[("EDITOR", &editor), ("RECIPIENTS", rpath.to_str().unwrap())],
            None,
        )
        .code(2);
    assert!(
        flat(&out.stderr).contains("secrets/prod.recipients:7: not a public key"),
        "{}",
        out.stderr
    );
    let drafts = alice.drafts();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    let kept = &drafts[0];
    assert!(
        out.stderr
            .contains(&format!("your edited text is kept in\n  {}\n", kept.display())),
        "{}",
        out.stderr
    );
    assert!(flat(&out.stderr).contains("--from"), "{}", out.stderr);
    assert_eq!(std::fs::metadata(kept).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(kept)
            .unwrap()
            .contains("db_password = new-value")
    );
    assert!(
        !flat(&out.stderr).contains("new-value") && !flat(&out.stderr).contains("hunter2"),
        "{}",
        out.stderr
    );

    // Nothing was written but the broken recipients line.
    let mut expected = before.clone();
    expected.insert(
        "secrets/prod.recipients".into(),
        format!("{recipients}not a key\n").into_bytes(),
    );
    assert_eq!(snapshot(&p), expected);

    // Fixed, the kept text is saved, and its file removed.
    p.write("secrets/prod.recipients", &recipients);
    let kept_arg = kept.to_str().unwrap();
    let out = alice
        .ordo_with(
            &p,
            &["secrets", "edit", "prod", "--from", kept_arg],
            &[("EDITOR", "true")],
            None,
        )
        .success();
    assert!(flat(&out.stderr).contains("changed `db_password`"), "{}", out.stderr);
    assert_eq!(
        alice
            .ordo(&p, &["secrets", "show", "prod", "db_password"])
            .success()
            .stdout,
        "new-value\n"
    );
    assert!(!kept.exists() && alice.drafts().is_empty());

    // A recipients file without any key: same outcome.
    p.write("secrets/prod.recipients", "# nobody\n");
    let editor = alice.editor("ed2.sh", r#"echo 'x = 1' >> "$1""#);
    // With no key listed, the edit refuses before opening the editor.
    let out = alice
        .ordo_with(&p, &["secrets", "edit", "prod"], &[("EDITOR", &editor)], None)
        .code(2);
    assert!(
        flat(&out.stderr).contains("secrets/prod.recipients lists no key"),
        "{}",
        out.stderr
    );
    assert!(alice.drafts().is_empty());
}

#[test]
fn recipients_add_and_remove_reencrypt_everything() {
    let (p, alice, alice_key) = alices_project();
    alice
        .ordo_in(&p, &["secrets", "set", "prod", "--file", "tls.key"], b"KEY")
        .success();
    let bob = User::new();
    let bob_key = bob.keygen(&p);
    let out = bob.ordo(&p, &["secrets", "show", "prod"]).code(2);
    assert!(
        flat(&out.stderr).contains("none of your keys is one of its recipients"),
        "{}",
        out.stderr
    );

    let before = snapshot(&p);
    let out = alice
        .ordo(&p, &["secrets", "recipients", "add", "prod", &bob_key, "--name", "bob"])
        .success();
    assert!(
        flat(&out.stderr).contains("re-encrypted 3 secrets of `prod` to 2 keys"),
        "{}",
        out.stderr
    );
    let after = snapshot(&p);
    for file in [
        "secrets/prod.secrets",
        "secrets/prod/tls.key.age",
        "secrets/prod.recipients",
    ] {
        assert_ne!(before[file], after[file], "{file} was not rewritten");
    }
    assert_eq!(
        bob.ordo(&p, &["secrets", "show", "prod"]).success().stdout,
        "db_password = hunter2\napi_token = tok-123\n"
    );
    assert_eq!(
        bob.ordo(&p, &["secrets", "show", "prod", "--file", "tls.key"])
            .success()
            .stdout,
        "KEY"
    );
    let listed = alice
        .ordo(&p, &["secrets", "recipients", "list", "prod"])
        .success()
        .stdout;
    assert_eq!(listed, format!("alice  {alice_key}\nbob    {bob_key}\n"));

    // Bob rotates alice out, by name.
    let out = bob
        .ordo(&p, &["secrets", "recipients", "remove", "prod", "alice"])
        .success();
    assert!(flat(&out.stderr).contains("removed alice (age1"), "{}", out.stderr);
    assert!(
        flat(&out.stderr).contains("could read these secrets until now"),
        "{}",
        out.stderr
    );
    assert!(!p.read("secrets/prod.recipients").contains(&alice_key));
    let out = alice.ordo(&p, &["secrets", "show", "prod", "db_password"]).code(2);
    assert!(
        out.stderr
            .contains("cannot decrypt `db_password` in secrets/prod.secrets"),
        "{}",
        out.stderr
    );
    assert!(
        flat(&out.stderr).contains("recipients of `prod`: bob (age1"),
        "{}",
        out.stderr
    );
    let out = alice
        .ordo(&p, &["secrets", "show", "prod", "--file", "tls.key"])
        .code(2);
    assert!(
        flat(&out.stderr).contains("cannot decrypt secrets/prod/tls.key.age"),
        "{}",
        out.stderr
    );
    assert_eq!(
        bob.ordo(&p, &["secrets", "show", "prod", "api_token"]).success().stdout,
        "tok-123\n"
    );

    // The last key cannot go.
    let out = bob
        .ordo(&p, &["secrets", "recipients", "remove", "prod", &bob_key])
        .code(2);
    assert!(
        flat(&out.stderr).contains("is the last recipient of `prod`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_hand_edited_recipients_file_is_caught_up_by_rekey() {
    let (p, alice, _) = alices_project();
    let bob = User::new();
    let bob_key = bob.keygen(&p);
    let mut r = p.read("secrets/prod.recipients");
    r.push_str(&format!("\n# bob\n{bob_key}\n"));
    p.write("secrets/prod.recipients", &r);
    // Listing needs no key and tells that a rekey is due.
    let out = bob.ordo(&p, &["secrets", "list", "prod"]).success();
    assert_eq!(out.stdout, "value  db_password\nvalue  api_token\n");
    assert!(
        flat(&out.stderr).contains("run `ordo secrets rekey prod`"),
        "{}",
        out.stderr
    );
    bob.ordo(&p, &["secrets", "show", "prod"]).code(2);
    let out = alice.ordo(&p, &["secrets", "rekey"]).success();
    assert!(
        flat(&out.stderr).contains("`prod`: re-encrypted 2 secrets to 2 keys"),
        "{}",
        out.stderr
    );
    assert_eq!(
        bob.ordo(&p, &["secrets", "show", "prod", "db_password"])
            .success()
            .stdout,
        "hunter2\n"
    );
    let before = snapshot(&p);
    let out = alice.ordo(&p, &["secrets", "rekey", "prod"]).success();
    assert!(flat(&out.stderr).contains("already encrypted"), "{}", out.stderr);
    assert_eq!(snapshot(&p), before);
}

#[test]
fn a_missing_or_wrong_key_says_what_was_tried() {
    let (p, _alice, _) = alices_project();
    let nobody = User::new();
    let out = nobody.ordo(&p, &["secrets", "show", "prod"]).code(2);
    let home = nobody.home.path().display().to_string();
    for tried in [
        "no private key found to decrypt the secrets with".to_string(),
        "ORDO_AGE_IDENTITY: not set".into(),
        "ORDO_AGE_KEY: not set".into(),
        format!("{home}/.config/ordo/age.key: not found"),
        format!("{home}/.config/age/keys.txt: not found"),
        format!("{home}/.ssh/id_ed25519: not found"),
        format!("{home}/.ssh/id_rsa: not found"),
        "ordo secrets keygen".into(),
    ] {
        assert!(flat(&out.stderr).contains(&tried), "`{tried}` missing:\n{}", out.stderr);
    }

    // A key that is not a recipient: the file, every key tried, who can read it.
    let eve = User::new();
    let eve_key = eve.keygen(&p);
    let secret = std::fs::read_to_string(eve.path(".config/ordo/age.key")).unwrap();
    let out = nobody
        .ordo_with(
            &p,
            &["secrets", "show", "prod", "db_password"],
            &[("ORDO_AGE_KEY", &secret)],
            None,
        )
        .code(2);
    assert!(
        out.stderr
            .contains("cannot decrypt `db_password` in secrets/prod.secrets"),
        "{}",
        out.stderr
    );
    assert!(
        flat(&out.stderr).contains(&format!("ORDO_AGE_KEY: {}", &eve_key[..12])),
        "{}",
        out.stderr
    );
    assert!(
        flat(&out.stderr).contains("recipients of `prod`: alice (age1"),
        "{}",
        out.stderr
    );
    assert!(!flat(&out.stderr).contains("AGE-SECRET-KEY"), "{}", out.stderr);
    // The same key from a file named by ORDO_AGE_IDENTITY.
    let file = eve.path(".config/ordo/age.key");
    let out = nobody
        .ordo_with(
            &p,
            &["secrets", "show", "prod"],
            &[("ORDO_AGE_IDENTITY", file.to_str().unwrap())],
            None,
        )
        .code(2);
    assert!(
        out.stderr
            .contains(&format!("ORDO_AGE_IDENTITY={}: age1", file.display())),
        "{}",
        out.stderr
    );
    let out = nobody
        .ordo_with(
            &p,
            &["secrets", "show", "prod"],
            &[("ORDO_AGE_IDENTITY", "/nonexistent/key")],
            None,
        )
        .code(2);
    assert!(
        out.stderr
            .contains("ORDO_AGE_IDENTITY=/nonexistent/key: cannot read the key"),
        "{}",
        out.stderr
    );

    // A passphrase-protected SSH key is named as such.
    nobody.ssh_keygen("ed25519", "a passphrase");
    let out = nobody.ordo(&p, &["secrets", "show", "prod"]).code(2);
    assert!(
        flat(&out.stderr).contains(".ssh/id_ed25519: protected by a passphrase"),
        "{}",
        out.stderr
    );

    // An environment without secrets says how to start.
    let out = nobody.ordo(&p, &["secrets", "show", "staging"]).code(2);
    assert!(
        flat(&out.stderr).contains("the environment `staging` has no secrets"),
        "{}",
        out.stderr
    );
    assert!(
        flat(&out.stderr).contains("ordo secrets set staging NAME"),
        "{}",
        out.stderr
    );
    // And a typo in the environment is not a new environment.
    let out = nobody.ordo_in(&p, &["secrets", "set", "prodd", "x"], b"1").code(2);
    assert!(flat(&out.stderr).contains("did you mean `prod`?"), "{}", out.stderr);
    assert!(!p.path("secrets/prodd.secrets").exists());
}

#[test]
fn ssh_keys_are_recipients_and_identities() {
    let p = project();
    let bob = User::new();
    let bob_key = bob.ssh_keygen("ed25519", "");
    let carol = User::new();
    let carol_key = carol.ssh_keygen("rsa", "");
    // Bob adds his .pub file; carol's key line is passed unquoted, as words.
    bob.ordo(
        &p,
        &[
            "secrets",
            "recipients",
            "add",
            "prod",
            bob.path(".ssh/id_ed25519.pub").to_str().unwrap(),
        ],
    )
    .success();
    bob.ordo_in(&p, &["secrets", "set", "prod", "token"], b"s3cret")
        .success();
    let mut args = vec!["secrets", "recipients", "add", "prod"];
    args.extend(carol_key.split(' '));
    bob.ordo(&p, &args).success();
    let listed = bob
        .ordo(&p, &["secrets", "recipients", "list", "prod"])
        .success()
        .stdout;
    let without_comment = |k: &str| k.rsplit_once(' ').unwrap().0.to_string();
    assert!(
        listed.contains(&without_comment(&bob_key)) && listed.contains(&without_comment(&carol_key)),
        "{listed}"
    );
    assert_eq!(
        bob.ordo(&p, &["secrets", "show", "prod", "token"]).success().stdout,
        "s3cret\n"
    );
    assert_eq!(
        carol.ordo(&p, &["secrets", "show", "prod", "token"]).success().stdout,
        "s3cret\n"
    );
}

#[test]
fn values_never_travel_on_the_command_line() {
    let (p, alice, _) = alices_project();
    // There is no argument for a value.
    let out = alice.ordo(&p, &["secrets", "set", "prod", "token", "hunter3"]).code(2);
    assert!(flat(&out.stderr).contains("unexpected argument"), "{}", out.stderr);
    assert!(
        !alice
            .ordo(&p, &["secrets", "list", "prod"])
            .success()
            .stdout
            .contains("value  token\n")
    );
    // An empty stdin sets nothing.
    let out = alice.ordo_in(&p, &["secrets", "set", "prod", "token"], b"").code(2);
    assert!(flat(&out.stderr).contains("stdin was empty"), "{}", out.stderr);

    // The editor gets a path to a private file, not the values.
    let log = alice.path("editor.log");
    let editor = alice.editor(
        "ed.sh",
        &format!(
            r#"echo "args: $*" > {log}; stat -c '%a' "$1" >> {log}; stat -c '%a' "$(dirname "$1")" >> {log}"#,
            log = log.display()
        ),
    );
    alice
        .ordo_with(&p, &["secrets", "edit", "prod"], &[("EDITOR", &editor)], None)
        .success();
    let logged = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logged.lines().collect();
    assert_eq!(lines.len(), 3, "{logged}");
    assert!(!logged.contains("hunter2") && !logged.contains("tok-123"), "{logged}");
    let draft = lines[0].strip_prefix("args: ").unwrap();
    assert!(
        draft.starts_with(alice.path("run/ordo-secrets-").to_str().unwrap()),
        "{draft}"
    );
    assert_eq!(&lines[1..], ["600", "700"]);
    assert!(!Path::new(draft).exists());
}

#[test]
fn a_second_editor_is_refused_while_the_first_edits() {
    let (p, alice, key) = alices_project();
    let started = alice.path("started");
    let release = alice.path("release");
    let editor = alice.editor(
        "slow.sh",
        &format!(
            r#"touch {started}; while [ ! -e {release} ]; do sleep 0.05; done; sed -i 's/^api_token = .*/api_token = rotated/' "$1""#,
            started = started.display(),
            release = release.display()
        ),
    );
    let mut first = alice
        .command(&p, &["secrets", "edit", "prod"], &[("EDITOR", &editor)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the first editor never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let bob = User::new();
    let out = bob
        .ordo_with(&p, &["secrets", "edit", "prod"], &[("EDITOR", "true")], None)
        .code(4);
    assert!(
        flat(&out.stderr).contains("the secrets of `prod` are in use by"),
        "{}",
        out.stderr
    );
    assert!(flat(&out.stderr).contains("editing since"), "{}", out.stderr);
    assert!(
        flat(&out.stderr).contains(&format!("pid {}", first.id())),
        "{}",
        out.stderr
    );
    alice.ordo_in(&p, &["secrets", "set", "prod", "x"], b"1").code(4);
    // Another environment is not affected.
    alice
        .ordo(&p, &["secrets", "recipients", "add", "staging", &key])
        .success();

    std::fs::write(&release, "").unwrap();
    let status = first.wait().unwrap();
    assert!(status.success());
    assert!(!p.path("secrets/.prod.lock").exists());
    assert_eq!(
        alice
            .ordo(&p, &["secrets", "show", "prod", "api_token"])
            .success()
            .stdout,
        "rotated\n"
    );
    alice.ordo_in(&p, &["secrets", "set", "prod", "x"], b"1").success();
}

#[test]
fn keygen_prints_a_key_and_never_overwrites_one() {
    let p = project();
    let u = User::new();
    let out = u.ordo(&p, &["secrets", "keygen"]).success();
    assert!(out.stdout.contains("\nAGE-SECRET-KEY-1"), "{}", out.stdout);
    assert!(out.stdout.contains("# public key: age1"), "{}", out.stdout);
    let key = u.path("k/age.key");
    u.ordo(&p, &["secrets", "keygen", "-o", key.to_str().unwrap()])
        .success();
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let before = std::fs::read(&key).unwrap();
    let out = u.ordo(&p, &["secrets", "keygen", "-o", key.to_str().unwrap()]).code(2);
    assert!(flat(&out.stderr).contains("exists already"), "{}", out.stderr);
    assert_eq!(std::fs::read(&key).unwrap(), before);
}
