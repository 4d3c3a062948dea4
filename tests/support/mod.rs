//! A small builder for "project + command → expected output": `Project::new()`
//! lays out files in a temporary directory, `ordo(..)` runs the real binary there.

#![allow(dead_code)]

pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Project {
    dir: tempfile::TempDir,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
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

    /// JSON events of `--format json`.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

impl Project {
    pub fn new() -> Self {
        Project {
            dir: tempfile::Builder::new().prefix("ordo-test").tempdir().expect("tempdir"),
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

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn file(self, rel: &str, content: &str) -> Self {
        self.write(rel, content);
        self
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn ordo(&self, args: &[&str]) -> Output {
        run(self.root(), args)
    }

    /// Output with the temporary directory replaced by `[PROJECT]`, for snapshots.
    pub fn redact(&self, text: &str) -> String {
        let root = self.root().to_string_lossy().to_string();
        let canon = self
            .root()
            .canonicalize()
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default();
        text.replace(&canon, "[PROJECT]").replace(&root, "[PROJECT]")
    }
}

pub fn run(dir: &Path, args: &[&str]) -> Output {
    run_env(dir, args, &[])
}

/// `ordo ARGS` in `dir` with extra environment variables (and never an inherited
/// ORDO_ACCEPT_NEW_HOST_KEYS).
pub fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("ORDO_ACCEPT_NEW_HOST_KEYS")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run ordo");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
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

/// A one-host local environment around the given service script.
pub fn single_host(service: &str) -> Project {
    Project::new()
        .file(
            "environments/test.rhai",
            "let env = environment(\"test\", #{ service: \"s\" });\nenv.host(\"h\", #{ transport: \"local\", home: \"hosts/h\" }).place(\"x\");\n",
        )
        .file("services/s.rhai", service)
}
