//! What every integration test needs: a project in a temporary directory, the
//! `Test` builder that runs the real `ordo` binary on it and checks its output,
//! the one redaction all snapshots share, and real ssh hosts. `tests/README.md`
//! shows how to write a test with them.

// A toolbox: not every feature module uses every tool.
#![allow(dead_code)]

pub mod environment;
pub mod processes;
pub mod redact;
pub mod sshd;
pub mod sudo;
pub mod terminal;
mod test;
pub mod wheel;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use test::Test;

/// A project on disk: a temporary directory, removed when the last `Test` or
/// `Output` holding it goes.
pub struct Project {
    dir: tempfile::TempDir,
    /// ordo's records on the controller (`XDG_STATE_HOME` of every run): one
    /// directory per project, so tests neither share records nor leave them in
    /// the home of whoever runs them.
    state: tempfile::TempDir,
    /// Literal → placeholder, for `redact`: the directory itself, then whatever
    /// the test adds (the ssh test hosts' homes, users, ports).
    redactions: Mutex<Vec<(String, String)>>,
}

impl Project {
    pub fn new() -> Self {
        // In /tmp, not $TMPDIR: then the path has one length everywhere, and miette
        // wraps a message that holds it at the same place on every machine.
        let dir = tempfile::Builder::new()
            .prefix("ordo-test")
            .tempdir_in("/tmp")
            .expect("tempdir in /tmp");
        let mut redactions = Vec::new();
        if let Ok(canon) = dir.path().canonicalize() {
            redactions.push((canon.display().to_string(), "[PROJECT]".to_string()));
        }
        redactions.push((dir.path().display().to_string(), "[PROJECT]".to_string()));
        let state = tempfile::Builder::new()
            .prefix("ordo-state")
            .tempdir_in("/tmp")
            .expect("tempdir in /tmp");
        redactions.push((state.path().display().to_string(), "[STATE]".to_string()));
        Project {
            dir,
            state,
            redactions: Mutex::new(redactions),
        }
    }

    /// A copy of `examples/<name>`.
    pub fn example(name: &str) -> Self {
        let p = Project::new();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name),
            p.root(),
        );
        p
    }

    /// A further command on this project.
    pub fn test(self: &Arc<Self>) -> Test {
        Test::on(self)
    }

    /// Makes an age key pair (`ordo secrets keygen -o id.age` in the project) and
    /// makes its public key a recipient of `env`'s secrets; returns the private key
    /// (for `ORDO_AGE_KEY`). The key file stays at `id.age`.
    pub fn age_recipient(self: &Arc<Self>, env: &str) -> String {
        let key = self.path("id.age");
        let public = self
            .test()
            .args(&["secrets", "keygen", "-o", key.to_str().unwrap()])
            .run()
            .stdout;
        self.test()
            .args(&["secrets", "recipients", "add", env, public.trim()])
            .run();
        std::fs::read_to_string(&key).unwrap()
    }

    /// `ordo secrets set ENV NAME` with `value` on stdin.
    pub fn set_secret(self: &Arc<Self>, env: &str, name: &str, value: &str) {
        self.test().args(&["secrets", "set", env, name]).stdin(value).run();
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `git` in the project with a fixed identity and `main` as the first
    /// branch; fails the test with git's message when it fails. Returns its output.
    pub fn git(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(self.root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// `text` as snapshots and exact expectations see it (`redact::redact` with
    /// this project's literals).
    pub fn redact(&self, text: &str) -> String {
        redact::redact(text, &self.redactions.lock().expect("redactions"))
    }

    pub fn add_redactions(&self, more: Vec<(String, String)>) {
        self.redactions.lock().expect("redactions").extend(more);
    }
}

impl Project {
    /// Writes a file (builder form, for tests that lay out a project by hand).
    pub fn file(self, rel: &str, content: &str) -> Self {
        self.write(rel, content);
        self
    }

    /// `ordo ARGS` in the project, unchecked: for tests that assert on the output
    /// themselves (use `Test` where an exact expectation reads better).
    pub fn ordo(&self, args: &[&str]) -> Ran {
        run_with(self.root(), args, Some(self.state_dir()))
    }

    /// Where ordo keeps its records of this project on the controller
    /// (`XDG_STATE_HOME`).
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }
}

/// `ordo ARGS` in `dir`, with the environment every test uses.
pub fn run_in(dir: &std::path::Path, args: &[&str]) -> Ran {
    run_with(dir, args, None)
}

fn run_with(dir: &std::path::Path, args: &[&str], state: Option<&Path>) -> Ran {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ordo"));
    if let Some(state) = state {
        command.env("XDG_STATE_HOME", state);
    }
    let out = command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("ORDO_ACCEPT_NEW_HOST_KEYS")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run ordo");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What one unchecked run of ordo printed.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "ordo failed:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// What one run of ordo printed, after the `Test` checked it.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub project: Arc<Project>,
}

impl Output {
    /// JSON events of `--format json`.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// A further command on the same project.
    pub fn test(&self) -> Test {
        Test::on(&self.project)
    }
}

/// `text` must equal `tests/snapshots/main__<module>__<name>.snap`, where
/// `<module>` is the stem of `caller_file` (the test module), as the snapshots
/// `insta::assert_snapshot!` names from inside a test module.
#[track_caller]
pub fn assert_snapshot(caller_file: &str, name: &str, description: &str, text: &str) {
    let module = Path::new(caller_file)
        .file_stem()
        .expect("caller file")
        .to_string_lossy()
        .into_owned();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(description);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(format!("main__{module}__{name}"), text));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read example") {
        let e = e.expect("entry");
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).expect("copy");
        }
    }
}

/// A one-host local environment `test` (host `h`, component `x`) around the given
/// service script.
pub fn single_host(service: &str) -> Test {
    Test::new().service(service).local_host("h").place("x")
}
