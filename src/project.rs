//! A deployment repository on disk: found by walking up from the working directory
//! (or `-C DIR`), it holds `environments/`, `services/`, `components/`, `templates/`
//! and `files/`. Its inputs are hashed into the fingerprint every host records.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::problem::{Kind, Problem};

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

    /// sha256 over every input file (path and content, sorted by path) and the ordo
    /// version: two hosts with the same fingerprint got the same deployment.
    pub fn fingerprint(&self) -> String {
        let mut files = Vec::new();
        collect(&self.root, &self.root, &mut files);
        files.sort();
        let mut h = Sha256::new();
        h.update(crate::VERSION.as_bytes());
        for rel in files {
            if let Ok(bytes) = std::fs::read(self.root.join(&rel)) {
                h.update(rel.to_string_lossy().as_bytes());
                h.update([0]);
                h.update((bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
        }
        let digest = h.finalize();
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>()
    }
}

/// The project's git state, when it lives in a git working tree.
pub struct GitState {
    pub commit: String,
    /// `git status --porcelain` lines of uncommitted changes inside the project.
    pub dirty: Vec<String>,
}

impl Project {
    pub fn git(&self) -> Option<GitState> {
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(&self.root)
                .args(args)
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        };
        let commit = git(&["rev-parse", "HEAD"])?.trim().to_string();
        let dirty = git(&["status", "--porcelain", "--", "."])?
            .lines()
            .map(str::to_string)
            .collect();
        Some(GitState { commit, dirty })
    }
}

/// Files that make up the project: hidden entries (`.git`, `.ordo-hosts`) and build
/// output (`target`) are not inputs.
fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => collect(root, &path, out),
            Ok(t) if t.is_file() => {
                if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_path_buf());
                }
            }
            _ => {}
        }
    }
}
