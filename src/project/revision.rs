//! The project as it was at a git revision (`--rev REV`): a temporary checkout of
//! REV made with `git worktree add --detach` (decision 59 says why a worktree and
//! not `git archive`), in which the project is evaluated like any other — its
//! scripts, its `ordo.lock`, its secrets files. The checkout is removed when the
//! [`Revision`] is dropped; one that a killed ordo left is removed by the next
//! `--rev` in the same repository.
//!
//! A REV that is not an ancestor of `HEAD` is refused unless asked for: deploying
//! it would deploy something the current branch never contained.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Project;
use crate::problem::{Kind, Problem};

/// The prefix of a temporary checkout's directory name, followed by ordo's pid.
const PREFIX: &str = "ordo-rev-";

/// A revision of the project, checked out.
#[derive(Debug)]
pub struct Revision {
    /// REV as the user wrote it.
    pub name: String,
    /// The full commit id it names.
    pub commit: String,
    /// It is an ancestor of `HEAD` (or `HEAD` itself).
    pub ancestor: bool,
    /// The current branch (`HEAD` when detached), for messages.
    pub branch: String,
    /// The project's root inside the checkout.
    pub root: PathBuf,
    checkout: PathBuf,
    top: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed")
            .trim()
            .to_string())
    }
}

impl Revision {
    /// Checks out `rev` of `project`'s repository into a temporary directory.
    /// Refused: a REV that names no commit, one that is not an ancestor of `HEAD`
    /// (unless `allow_any`), one in which the project does not exist.
    pub fn checkout(project: &Project, rev: &str, allow_any: bool) -> Result<Revision, Problem> {
        let usage = |message: String, help: &str| Problem::new(Kind::Usage, message).help(help.to_string());
        if rev.is_empty() || rev.starts_with('-') {
            return Err(usage(
                format!("--rev `{rev}` is not a revision"),
                "give a commit, tag or branch: --rev v1.4, --rev HEAD~2, --rev 3f2a9c1",
            ));
        }
        let top = git(&project.root, &["rev-parse", "--show-toplevel"]).map_err(|e| {
            usage(
                format!("--rev needs the project in a git repository: {e}"),
                "--rev deploys the project as a commit of its repository had it; without git there is no such commit",
            )
        })?;
        let top = PathBuf::from(top);
        let top = top.canonicalize().unwrap_or(top);
        let commit = git(
            &top,
            &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")],
        )
        .map_err(|_| {
            usage(
                format!("--rev `{rev}` names no commit of this repository"),
                "check the name (`git log --oneline`); a commit someone else deployed may need a `git fetch` first",
            )
        })?;
        let branch = git(&top, &["symbolic-ref", "--short", "-q", "HEAD"]).unwrap_or_else(|_| "HEAD".to_string());
        let ancestor = Command::new("git")
            .arg("-C")
            .arg(&top)
            .args(["merge-base", "--is-ancestor", &commit, "HEAD"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ancestor && !allow_any {
            return Err(usage(
                format!(
                    "--rev `{rev}` ({}) is not an ancestor of the current branch ({branch})",
                    &commit[..12.min(commit.len())]
                ),
                "deploying it would deploy something this branch never contained; check out the branch it is on, or deploy it anyway with --allow-any-rev",
            ));
        }
        let rel = project
            .root
            .strip_prefix(&top)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        remove_leftovers(&top);
        let checkout = std::env::temp_dir().join(format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            crate::sys::short_hash(format!("{commit}{:?}", std::time::SystemTime::now()).as_bytes())
        ));
        let dir = checkout.to_string_lossy().into_owned();
        // The repository's own hooks (post-checkout) do not run for ordo's checkout.
        git(
            &top,
            &[
                "-c",
                "core.hooksPath=/dev/null",
                "worktree",
                "add",
                "--detach",
                "--quiet",
                &dir,
                &commit,
            ],
        )
        .map_err(|e| {
            Problem::new(Kind::Project, format!("cannot check out `{rev}` into {dir}: {e}")).help(
                "ordo checks a revision out with `git worktree add`, which needs the repository writable and space in the temporary directory",
            )
        })?;
        let revision = Revision {
            name: rev.to_string(),
            commit,
            ancestor,
            branch,
            root: checkout.join(&rel),
            checkout,
            top,
        };
        if !revision.root.join("ordo.rhai").is_file() && !revision.root.join("environments").is_dir() {
            return Err(Problem::new(
                Kind::Usage,
                format!(
                    "the project did not exist at `{rev}`: {} has no environments/",
                    rel.display()
                ),
            )
            .help("give a later revision"));
        }
        Ok(revision)
    }

    /// The commit, short.
    pub fn short(&self) -> &str {
        &self.commit[..12.min(self.commit.len())]
    }
}

impl Drop for Revision {
    fn drop(&mut self) {
        let dir = self.checkout.to_string_lossy().into_owned();
        if git(&self.top, &["worktree", "remove", "--force", &dir]).is_err() {
            let _ = std::fs::remove_dir_all(&self.checkout);
            let _ = git(&self.top, &["worktree", "prune"]);
        }
    }
}

/// Removes the temporary checkouts that runs of ordo which are gone (killed)
/// left in this repository: worktrees under the temporary directory named
/// `ordo-rev-<pid>-…` whose process no longer runs.
fn remove_leftovers(top: &Path) {
    let Ok(list) = git(top, &["worktree", "list", "--porcelain"]) else {
        return;
    };
    let tmp = std::env::temp_dir();
    let mut pruned = false;
    for path in list.lines().filter_map(|l| l.strip_prefix("worktree ")) {
        let path = Path::new(path);
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if path.parent() != Some(tmp.as_path()) || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if path.exists() {
            let _ = git(top, &["worktree", "remove", "--force", &path.to_string_lossy()]);
        } else if !pruned {
            let _ = git(top, &["worktree", "prune"]);
            pruned = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, script: &str) {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script}");
    }

    #[test]
    fn a_revision_is_checked_out_apart_and_removed_with_its_registration() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap().join("deploy");
        std::fs::create_dir_all(root.join("environments")).unwrap();
        std::fs::write(root.join("environments/a.rhai"), "one").unwrap();
        sh(
            repo.path(),
            "git init -q && git add -A && git commit -qm one && git tag one",
        );
        std::fs::write(root.join("environments/a.rhai"), "two").unwrap();
        sh(
            repo.path(),
            "git commit -qam two && git checkout -q -b side one && git commit -q --allow-empty -m side && git checkout -q master 2>/dev/null || git checkout -q main",
        );
        let project = Project { root: root.clone() };
        let r = Revision::checkout(&project, "one", false).unwrap();
        assert!(r.ancestor);
        assert_eq!(
            std::fs::read_to_string(r.root.join("environments/a.rhai")).unwrap(),
            "one"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("environments/a.rhai")).unwrap(),
            "two"
        );
        let checkout = r.checkout.clone();
        drop(r);
        assert!(!checkout.exists());
        let list = git(repo.path(), &["worktree", "list"]).unwrap();
        assert_eq!(list.lines().count(), 1, "{list}");
        // Not on the branch: refused unless asked for.
        let e = Revision::checkout(&project, "side", false).unwrap_err();
        assert!(
            e.message.contains("is not an ancestor of the current branch"),
            "{}",
            e.message
        );
        assert!(!Revision::checkout(&project, "side", true).unwrap().ancestor);
        let e = Revision::checkout(&project, "nope", false).unwrap_err();
        assert!(e.message.contains("names no commit"), "{}", e.message);
        let e = Revision::checkout(&project, "--output=x", false).unwrap_err();
        assert!(e.message.contains("is not a revision"), "{}", e.message);
    }
}
