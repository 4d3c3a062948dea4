//! A deployment repository on disk: found by walking up from the working directory
//! (or `-C DIR`), it holds `environments/`, `services/`, `components/`, `templates/`
//! and `files/`. Which of its files shape a deployment is known only after
//! evaluating (`script::Evaluated::inputs`); the git state is asked about those.

use std::path::{Path, PathBuf};

pub mod controller_state;
pub mod failed_hosts;
pub mod hooks;
pub mod library;
pub mod revision;

use crate::problem::{Kind, Problem};

#[derive(Clone, Debug)]
pub struct Project {
    pub root: PathBuf,
}

impl Project {
    /// The nearest directory at or above `start` with `ordo.rhai` or `environments/`.
    pub fn discover(start: &Path) -> Result<Project, Problem> {
        let start = start.canonicalize().map_err(|e| {
            Problem::new(Kind::Project, format!("cannot open {}: {e}", start.display()))
                .help("pass an existing project directory with -C DIR")
        })?;
        let mut dir = Some(start.as_path());
        while let Some(d) = dir {
            if d.join("ordo.rhai").is_file() || d.join("environments").is_dir() {
                return Ok(Project { root: d.to_path_buf() });
            }
            dir = d.parent();
        }
        Err(Problem::new(
            Kind::Project,
            format!("no ordo project at or above {}", start.display()),
        )
        .help("a project has an environments/ directory (or an ordo.rhai file); start from a copy of examples/hello, or pass -C DIR"))
    }

    /// Names of `environments/*.rhai`, sorted.
    pub fn environments(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.root.join("environments"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_suffix(".rhai").map(str::to_string)
            })
            .collect();
        out.sort();
        out
    }
}

/// The project's git state, when it lives in a git working tree.
pub struct GitState {
    pub commit: String,
    /// `git status --porcelain` lines of uncommitted changes inside the project.
    pub dirty: Vec<String>,
}

impl Project {
    /// The commit checked out, and the uncommitted changes among `inputs` (the
    /// files an evaluation read; those outside the repository are not asked about).
    pub fn git(&self, inputs: &[PathBuf]) -> Option<GitState> {
        let git = |dir: &Path, args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        };
        let commit = git(&self.root, &["rev-parse", "HEAD"])?.trim().to_string();
        let top = PathBuf::from(git(&self.root, &["rev-parse", "--show-toplevel"])?.trim());
        let top = top.canonicalize().unwrap_or(top);
        let mut pathspecs: Vec<String> = inputs
            .iter()
            .filter_map(|p| {
                let p = p.canonicalize().ok()?;
                let rel = p.strip_prefix(&top).ok()?;
                Some(format!(":(literal){}", rel.display()))
            })
            .collect();
        pathspecs.sort();
        pathspecs.dedup();
        let dirty = if pathspecs.is_empty() {
            Vec::new()
        } else {
            let mut args = vec!["status", "--porcelain", "--untracked-files=all", "--"];
            args.extend(pathspecs.iter().map(String::as_str));
            git(&top, &args)?.lines().map(str::to_string).collect()
        };
        Some(GitState { commit, dirty })
    }
}
