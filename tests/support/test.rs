//! `Test`: one integration test as "project + hosts + command → expected output",
//! in the style of casey/just's `tests/test.rs`. The builder lays out the project
//! (service, generated environment, files, ssh test hosts), runs the real `ordo`
//! binary once, and checks every expectation in one place, so a failing test
//! prints all that went wrong next to the whole output.

use std::io::Write;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::environment::{self, Environment};
use super::sshd::TestHosts;
use super::{Output, Project};

#[must_use = "a Test does nothing until `.run()` (or `.build()`)"]
pub struct Test {
    project: Arc<Project>,
    service: Option<(String, String)>,
    environment: Option<Environment>,
    ssh_config: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    current_dir: Option<PathBuf>,
    status: Status,
    stdout: Option<String>,
    stderr: Option<String>,
    contains: Vec<(Stream, bool, String)>,
    files: Vec<(PathBuf, String)>,
    missing: Vec<PathBuf>,
    snapshots: Vec<(Stream, String)>,
}

#[derive(Clone, Copy)]
enum Status {
    Code(i32),
    Failure,
}

#[derive(Clone, Copy, PartialEq)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl Test {
    /// An empty project in a fresh temporary directory.
    pub fn new() -> Self {
        Test::on(&Arc::new(Project::new()))
    }

    /// A copy of `examples/<name>`.
    pub fn example(name: &str) -> Self {
        Test::on(&Arc::new(Project::example(name)))
    }

    /// A further command on a project that earlier tests already built (and maybe
    /// deployed): `project.test()` says the same.
    pub fn on(project: &Arc<Project>) -> Self {
        Test {
            project: Arc::clone(project),
            service: None,
            environment: None,
            ssh_config: None,
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            current_dir: None,
            status: Status::Code(0),
            stdout: None,
            stderr: None,
            contains: Vec::new(),
            files: Vec::new(),
            missing: Vec::new(),
            snapshots: Vec::new(),
        }
    }

    pub fn project(&self) -> &Arc<Project> {
        &self.project
    }

    // ---- the project ----

    /// `services/<name>.rhai`, the name taken from the script's `service("<name>")`.
    #[track_caller]
    pub fn service(mut self, script: &str) -> Self {
        let name = script
            .split("service(\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no `service(\"<name>\")` in the service script:\n{script}"));
        self.service = Some((name.to_string(), script.to_string()));
        self
    }

    /// The environment's name (default `test`).
    pub fn environment(mut self, name: &str) -> Self {
        self.env_mut().name = name.to_string();
        self
    }

    /// A host on the local transport, its home `hosts/<name>` in the project.
    pub fn local_host(self, name: &str) -> Self {
        let options = environment::local(name);
        self.host(name, &options)
    }

    /// A host with the given Rhai options map (`#{ roles: ["lb"] }`).
    pub fn host(mut self, name: &str, options: &str) -> Self {
        self.env_mut().host(name, options);
        self
    }

    /// A host per alias of the ssh test hosts, reached through the `ssh_config`
    /// written into the project; their homes, users, ports and directories are
    /// redacted from then on. A following `place` puts a component on each.
    pub fn ssh_hosts(mut self, hosts: &TestHosts, aliases: &[&str]) -> Self {
        let list: Vec<(&str, String)> = aliases.iter().map(|a| (*a, environment::ssh(a))).collect();
        self.env_mut().hosts(&list);
        self.with_ssh_config(hosts)
    }

    /// The `ssh_config` and redactions of the test hosts, without adding hosts to
    /// the environment (for hosts declared with `host`).
    pub fn with_ssh_config(mut self, hosts: &TestHosts) -> Self {
        if self.ssh_config.is_none() {
            self.ssh_config = Some(hosts.ssh_config());
            self.project.add_redactions(hosts.redactions());
        }
        self
    }

    /// More `ssh_config` text after the test hosts' blocks.
    pub fn ssh_config(mut self, text: &str) -> Self {
        self.ssh_config.get_or_insert_with(String::new).push_str(text);
        self
    }

    /// Places a component on the hosts of the last host call.
    #[track_caller]
    pub fn place(mut self, component: &str) -> Self {
        self.env_mut().place(component, None);
        self
    }

    /// `place` with attributes (a Rhai map: `#{ port: 8080 }`).
    #[track_caller]
    pub fn place_with(mut self, component: &str, attrs: &str) -> Self {
        self.env_mut().place(component, Some(attrs));
        self
    }

    /// `env.override(component, attrs)`.
    pub fn override_(mut self, component: &str, attrs: &str) -> Self {
        self.env_mut().override_(component, attrs);
        self
    }

    /// Any other line of the environment script, in order with the others.
    pub fn environment_line(mut self, rhai: &str) -> Self {
        self.env_mut().line(rhai);
        self
    }

    /// Writes a file of the project now (parents created).
    pub fn file(self, rel: &str, content: &str) -> Self {
        self.project.write(rel, content);
        self
    }

    /// Replaces `literal` with `placeholder` in every redacted output of this
    /// project (a port the test picked, say).
    pub fn redact(self, literal: &str, placeholder: &str) -> Self {
        self.project
            .add_redactions(vec![(literal.to_string(), placeholder.to_string())]);
        self
    }

    fn env_mut(&mut self) -> &mut Environment {
        self.environment.get_or_insert_with(|| Environment::new("test"))
    }

    // ---- the command ----

    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(ToString::to_string));
        self
    }

    /// An environment variable for ordo (which never inherits `RUST_LOG` or
    /// `ORDO_ACCEPT_NEW_HOST_KEYS`, and always gets `NO_COLOR=1`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Standard input (otherwise `/dev/null`).
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_string());
        self
    }

    /// Where ordo runs: relative to the project root, or absolute.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.current_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    // ---- what must come out ----

    /// The exit code (default 0).
    pub fn status(mut self, code: i32) -> Self {
        self.status = Status::Code(code);
        self
    }

    /// Any exit code but 0.
    pub fn failure(mut self) -> Self {
        self.status = Status::Failure;
        self
    }

    /// All of stdout, redacted (see `redact.rs`). A text starting with a newline
    /// is unindented first, so expectations can be written as indented blocks.
    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = Some(unindent(text));
        self
    }

    /// All of stderr, redacted; unindented like `stdout`.
    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = Some(unindent(text));
        self
    }

    /// stdout contains `text`, as ordo printed it (not redacted: for values the
    /// test knows, such as a pid or a port).
    pub fn stdout_contains(mut self, text: &str) -> Self {
        self.contains.push((Stream::Stdout, true, text.to_string()));
        self
    }

    pub fn stderr_contains(mut self, text: &str) -> Self {
        self.contains.push((Stream::Stderr, true, text.to_string()));
        self
    }

    pub fn stdout_lacks(mut self, text: &str) -> Self {
        self.contains.push((Stream::Stdout, false, text.to_string()));
        self
    }

    pub fn stderr_lacks(mut self, text: &str) -> Self {
        self.contains.push((Stream::Stderr, false, text.to_string()));
        self
    }

    /// After the run, the file (relative to the project root, or absolute) holds
    /// exactly `content`, redacted; unindented like `stdout`.
    pub fn expect_file(mut self, path: impl AsRef<Path>, content: &str) -> Self {
        self.files.push((path.as_ref().to_path_buf(), unindent(content)));
        self
    }

    /// After the run, nothing exists at the path.
    pub fn expect_missing(mut self, path: impl AsRef<Path>) -> Self {
        self.missing.push(path.as_ref().to_path_buf());
        self
    }

    /// Redacted stdout is the snapshot `tests/snapshots/main__<module>__<name>.snap`
    /// (`<module>` is the test file that calls `run`).
    pub fn snapshot(mut self, name: &str) -> Self {
        self.snapshots.push((Stream::Stdout, name.to_string()));
        self
    }

    /// Redacted stderr is the snapshot `main__<module>__<name>`.
    pub fn stderr_snapshot(mut self, name: &str) -> Self {
        self.snapshots.push((Stream::Stderr, name.to_string()));
        self
    }

    // ---- running ----

    /// Writes the service, the environment and the `ssh_config` without running
    /// anything: for tests that run several commands on one project
    /// (`project.test()…run()` each).
    pub fn build(mut self) -> Arc<Project> {
        self.write_setup();
        self.project
    }

    fn write_setup(&mut self) {
        if let Some(env) = &self.environment {
            let service = self.service.as_ref().map_or_else(
                || panic!("the environment needs a service: call .service(..)"),
                |(name, _)| name.as_str(),
            );
            self.project
                .write(&format!("environments/{}.rhai", env.name), &env.render(service));
        }
        if let Some((name, script)) = &self.service {
            self.project.write(&format!("services/{name}.rhai"), script);
        }
        if let Some(config) = &self.ssh_config {
            self.project.write("ssh_config", config);
        }
        self.environment = None;
        self.service = None;
        self.ssh_config = None;
    }

    /// Runs ordo and checks every expectation; a mismatch panics with all of
    /// them and the whole output.
    #[track_caller]
    pub fn run(mut self) -> Output {
        let caller = Location::caller();
        self.write_setup();
        let out = self.spawn();
        let redacted_stdout = self.project.redact(&out.stdout);
        let redacted_stderr = self.project.redact(&out.stderr);
        let mut failures = Vec::new();
        match self.status {
            Status::Code(code) if out.code != code => {
                failures.push(format!("exit code {}, expected {code}", out.code));
            }
            Status::Failure if out.code == 0 => failures.push("exit code 0, expected a failure".into()),
            _ => {}
        }
        for (stream, expected, actual) in [
            (Stream::Stdout, &self.stdout, &redacted_stdout),
            (Stream::Stderr, &self.stderr, &redacted_stderr),
        ] {
            if let Some(expected) = expected
                && expected != actual
            {
                failures.push(format!(
                    "{} differs (- expected, + actual, redacted):\n{}\nredacted {0}:\n{actual}",
                    stream.name(),
                    diff(expected, actual)
                ));
            }
        }
        for (stream, wanted, text) in &self.contains {
            let haystack = match stream {
                Stream::Stdout => &out.stdout,
                Stream::Stderr => &out.stderr,
            };
            let found = haystack.contains(text.as_str()) || unwrapped(haystack).contains(&unwrapped(text));
            if found != *wanted {
                let verb = if *wanted { "lacks" } else { "contains" };
                failures.push(format!("{} {verb} {text:?}", stream.name()));
            }
        }
        for (path, expected) in &self.files {
            let full = self.project.root().join(path);
            match std::fs::read_to_string(&full) {
                Ok(content) => {
                    let content = self.project.redact(&content);
                    if &content != expected {
                        failures.push(format!(
                            "{} differs (- expected, + actual, redacted):\n{}",
                            path.display(),
                            diff(expected, &content)
                        ));
                    }
                }
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
        for path in &self.missing {
            if self.project.root().join(path).symlink_metadata().is_ok() {
                failures.push(format!("{} exists", path.display()));
            }
        }
        assert!(
            failures.is_empty(),
            "ordo {:?} (called from {caller}):\n\n{}\n\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            failures.join("\n\n"),
            out.stdout,
            out.stderr
        );
        for (stream, name) in &self.snapshots {
            let text = match stream {
                Stream::Stdout => &redacted_stdout,
                Stream::Stderr => &redacted_stderr,
            };
            super::assert_snapshot(caller.file(), name, &format!("ordo {}", self.args.join(" ")), text);
        }
        Output {
            code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
            project: self.project,
        }
    }

    fn spawn(&self) -> Raw {
        let dir = match &self.current_dir {
            Some(d) => self.project.root().join(d),
            None => self.project.root().to_path_buf(),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_ordo"))
            .args(&self.args)
            .current_dir(dir)
            .env("XDG_STATE_HOME", self.project.state_dir())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("ORDO_ACCEPT_NEW_HOST_KEYS")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ordo");
        if let Some(text) = &self.stdin {
            let mut stdin = child.stdin.take().expect("piped stdin");
            // ordo may exit before reading it all; that is for the expectations to judge.
            let _ = stdin.write_all(text.as_bytes());
        }
        let out = child.wait_with_output().expect("wait for ordo");
        Raw {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

struct Raw {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A text starting with a newline, without that newline and without the
/// indentation its lines share; any other text as it is.
fn unindent(text: &str) -> String {
    let Some(body) = text.strip_prefix('\n') else {
        return text.to_string();
    };
    let indent = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in body.split_inclusive('\n') {
        if line.trim().is_empty() {
            out.push_str(if line.ends_with('\n') { "\n" } else { "" });
        } else {
            out.push_str(&line[indent..]);
        }
    }
    out
}

fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

#[test]
fn unindent_strips_the_shared_indentation_of_a_block() {
    assert_eq!(unindent("as is\n"), "as is\n");
    assert_eq!(
        unindent(
            "
            plan x
              + a
            done
            "
        ),
        "plan x\n  + a\ndone\n"
    );
    assert_eq!(unindent("\n  a\n\n  b\n"), "a\n\nb\n");
}

#[test]
#[should_panic(expected = "stdout differs")]
fn a_wrong_stdout_fails_the_test() {
    Test::new().args(&["check", "x"]).status(2).stdout("ok\n").run();
}

/// `text` with the line breaks and gutters of a wrapped diagnostic taken out
/// (`\n  │ ` and runs of spaces become one space), so that an expected phrase
/// matches wherever the renderer (100 columns) happened to wrap it.
fn unwrapped(text: &str) -> String {
    text.split_whitespace()
        .filter(|word| *word != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
#[should_panic(expected = "exit code 2, expected 0")]
fn a_wrong_exit_code_fails_the_test() {
    Test::new().args(&["check", "x"]).run();
}

#[test]
#[should_panic(expected = "stderr lacks \"no such text\"")]
fn a_missing_text_fails_the_test() {
    Test::new()
        .args(&["check", "x"])
        .status(2)
        .stderr_contains("no such text")
        .run();
}

#[test]
#[should_panic(expected = "environments/test.rhai differs")]
fn a_wrong_file_fails_the_test() {
    Test::new()
        .service("let s = service(\"s\");\n")
        .local_host("h")
        .args(&["check", "test"])
        .expect_file("environments/test.rhai", "something else")
        .run();
}
