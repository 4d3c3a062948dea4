//! Recipe libraries from git, pinned. `ordo.rhai` declares them
//! (`project(#{ library: [#{ name: "web", git: "https://…", ref: "v1" }] })`); the
//! commit each one resolves to is recorded in `ordo.lock` next to it, so every
//! checkout of the project deploys the same recipes until someone moves the pin
//! (`ordo libs update`). Repositories are fetched with the system `git` into a cache
//! (`$XDG_CACHE_HOME/ordo`, else `~/.cache/ordo`) — a bare clone per URL and an
//! extracted tree per pinned commit — so a project works offline once its pins
//! were fetched. A pin the cache lacks is fetched; when that fails (offline), the
//! error says which library, which commit, and what to do. A pin made for another
//! URL or ref than `ordo.rhai` declares is an error until `ordo libs update`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::problem::{Kind, Problem};

/// The lock file, at the project's root.
pub const LOCK_FILE: &str = "ordo.lock";

/// A git library as `ordo.rhai` declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitLibrary {
    pub name: String,
    pub url: String,
    /// A branch, tag or commit; the remote's default branch when absent.
    pub reference: Option<String>,
}

/// What `ordo.lock` records for one library.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pin {
    pub git: String,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub commit: String,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct LockFile {
    #[serde(default)]
    libraries: BTreeMap<String, Pin>,
}

fn lock_path(root: &Path) -> PathBuf {
    root.join(LOCK_FILE)
}

fn read_lock(root: &Path) -> Result<LockFile, Problem> {
    let broken = |why: String| {
        Problem::new(Kind::Project, format!("{LOCK_FILE} cannot be read: {why}")).help(
            "it is written by ordo (`ordo libs update`); restore it from git, or delete it to pin every library anew",
        )
    };
    match std::fs::read_to_string(lock_path(root)) {
        Ok(text) => {
            let lock: LockFile = toml::from_str(&text).map_err(|e| broken(e.to_string()))?;
            // The commit names a directory of the cache and is passed to git.
            for (name, pin) in &lock.libraries {
                let hex = pin.commit.len() >= 40 && pin.commit.bytes().all(|b| b.is_ascii_hexdigit());
                if !hex {
                    return Err(broken(format!("the commit of `{name}` is not a full commit id")));
                }
            }
            Ok(lock)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockFile::default()),
        Err(e) => Err(Problem::new(Kind::Project, format!("{LOCK_FILE} cannot be read: {e}"))),
    }
}

fn write_lock(root: &Path, lock: &LockFile) -> Result<(), Problem> {
    let text = format!(
        "# The commits ordo.rhai's git libraries are pinned to. Written by ordo; move a pin\n\
         # with `ordo libs update [NAME]`. Commit this file.\n\n{}",
        toml::to_string(lock).expect("the lock file serialises")
    );
    let path = lock_path(root);
    let tmp = root.join(format!(".{LOCK_FILE}.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Problem::new(Kind::Project, format!("cannot write {}: {e}", path.display())))
}

/// The pin `ordo.lock` has for a library of `lib`'s name, if any — for whatever
/// URL and ref it was made (see [`Pin::stale_for`]).
pub fn pinned(root: &Path, lib: &GitLibrary) -> Result<Option<Pin>, Problem> {
    Ok(read_lock(root)?.libraries.remove(&lib.name))
}

impl Pin {
    /// How `ordo.rhai` changed since this pin was made for `lib` — another URL or
    /// another ref — or `None` when the pin is still the answer to what it asks.
    pub fn stale_for(&self, lib: &GitLibrary) -> Option<String> {
        let shown = |r: &Option<String>| match r {
            Some(r) => format!("ref `{r}`"),
            None => "the default branch".to_string(),
        };
        let mut changes = Vec::new();
        if self.git != lib.url {
            changes.push(format!("git {} (the pin is for {})", lib.url, self.git));
        }
        if self.reference != lib.reference {
            changes.push(format!(
                "{} (the pin is for {})",
                shown(&lib.reference),
                shown(&self.reference)
            ));
        }
        (!changes.is_empty()).then(|| changes.join(" and "))
    }
}

/// A git library ready to read.
#[derive(Clone, Debug)]
pub struct Checkout {
    /// Its tree at the pinned commit, in the cache.
    pub dir: PathBuf,
    pub commit: String,
    /// The library had no pin: this load pinned it (and wrote `ordo.lock`).
    pub pinned_now: bool,
}

/// `lib` at its pinned commit. A pin made for another URL or ref than `ordo.rhai`
/// declares now is an error — the commands that load a project never move a pin,
/// only `ordo libs update` does. A library without a pin is pinned (fetching it),
/// as Cargo writes a new dependency into `Cargo.lock` — unless `locked` (a
/// revision of the project, `--rev`: it deploys the commits it pinned, or none);
/// a pinned commit the cache lacks is fetched.
pub fn checkout(root: &Path, lib: &GitLibrary, locked: bool) -> Result<Checkout, Problem> {
    let (commit, pinned_now) = match pinned(root, lib)? {
        Some(pin) => {
            if let Some(change) = pin.stale_for(lib) {
                return Err(Problem::new(
                    Kind::Project,
                    format!(
                        "library `{}`: ordo.rhai asks for {change}; {LOCK_FILE} still pins commit {}",
                        lib.name, pin.commit
                    ),
                )
                .help(format!(
                    "run `ordo libs update {}` to pin what ordo.rhai asks for now (then commit {LOCK_FILE}), or undo the change in ordo.rhai; nothing loads the old commit in the meantime",
                    lib.name
                )));
            }
            (pin.commit, false)
        }
        None if locked => {
            return Err(Problem::new(
                Kind::Project,
                format!("library `{}` has no pin in this revision's {LOCK_FILE}", lib.name),
            )
            .help(
                "a revision deploys the library commits it pinned, and this one pinned none for it (it was deployed with an uncommitted ordo.lock, or never); deploy a revision whose ordo.lock pins it",
            ));
        }
        None => {
            let commit = resolve(lib, true)?;
            let mut lock = read_lock(root)?;
            lock.libraries.insert(
                lib.name.clone(),
                Pin {
                    git: lib.url.clone(),
                    reference: lib.reference.clone(),
                    commit: commit.clone(),
                },
            );
            write_lock(root, &lock)?;
            (commit, true)
        }
    };
    let dir = extracted(lib, &commit)?;
    Ok(Checkout {
        dir,
        commit,
        pinned_now,
    })
}

/// Moves the pins of `names` (all when empty) to what their refs point at now.
/// Returns (name, old commit, new commit). Updating all also drops the pins of
/// libraries `ordo.rhai` no longer declares.
pub fn update(
    root: &Path,
    libs: &[GitLibrary],
    names: &[String],
) -> Result<Vec<(String, Option<String>, String)>, Problem> {
    for n in names {
        if !libs.iter().any(|l| &l.name == n) {
            let known: Vec<&str> = libs.iter().map(|l| l.name.as_str()).collect();
            return Err(
                Problem::new(Kind::Usage, format!("no git library `{n}` in ordo.rhai")).help(format!(
                    "{}git libraries: {}",
                    crate::problem::suggest::did_you_mean(n, known.iter().copied()),
                    crate::problem::suggest::list_or_none(&known)
                )),
            );
        }
    }
    let mut lock = read_lock(root)?;
    if names.is_empty() {
        lock.libraries.retain(|name, _| libs.iter().any(|l| &l.name == name));
    }
    let mut moved = Vec::new();
    for lib in libs.iter().filter(|l| names.is_empty() || names.contains(&l.name)) {
        let commit = resolve(lib, true)?;
        extracted(lib, &commit)?;
        let old = lock.libraries.get(&lib.name).map(|p| p.commit.clone());
        lock.libraries.insert(
            lib.name.clone(),
            Pin {
                git: lib.url.clone(),
                reference: lib.reference.clone(),
                commit: commit.clone(),
            },
        );
        moved.push((lib.name.clone(), old, commit));
    }
    write_lock(root, &lock)?;
    Ok(moved)
}

/// Whether `lib` at `commit` is in the cache, ready to use offline.
pub fn cached(lib: &GitLibrary, commit: &str) -> bool {
    extracted_dir(lib, commit).is_dir()
}

/// The cache directory of ordo.
fn cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("ordo")
}

fn bare(lib: &GitLibrary) -> PathBuf {
    cache()
        .join("git")
        .join(format!("{}.git", crate::sys::short_hash(lib.url.as_bytes())))
}

fn git(args: &[&str], dir: Option<&Path>) -> Result<String, String> {
    let mut cmd = Command::new("git");
    // A URL of the `ext::` transport runs a command; a library is only fetched.
    cmd.args(["-c", "protocol.ext.allow=never"]);
    if let Some(d) = dir {
        cmd.arg("--git-dir").arg(d);
    }
    let out = cmd
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        // git's first line says what failed; the rest is advice for its own users.
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed")
            .trim()
            .to_string())
    }
}

/// Fetches `lib` into its bare clone in the cache.
fn fetch(lib: &GitLibrary) -> Result<(), Problem> {
    let dir = bare(lib);
    let fail = |why: String| {
        Problem::new(
            Kind::Project,
            format!("library `{}` cannot be fetched from {}: {why}", lib.name, lib.url),
        )
        .help("check the URL and your network (and, for a private repository, your git credentials); once fetched, a library works offline")
    };
    if !dir.join("HEAD").exists() {
        std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
        git(&["init", "--bare", "--quiet"], Some(&dir)).map_err(fail)?;
    }
    git(
        &[
            "fetch",
            "--quiet",
            "--force",
            "--tags",
            "--",
            &lib.url,
            "+HEAD:refs/ordo/HEAD",
            "+refs/heads/*:refs/heads/*",
        ],
        Some(&dir),
    )
    .map_err(fail)?;
    Ok(())
}

/// The commit `lib`'s ref points at (fetching first when `fetch_first`).
fn resolve(lib: &GitLibrary, fetch_first: bool) -> Result<String, Problem> {
    if fetch_first {
        fetch(lib)?;
    }
    let reference = lib.reference.as_deref().unwrap_or("refs/ordo/HEAD");
    git(
        &["rev-parse", "--verify", "--quiet", &format!("{reference}^{{commit}}")],
        Some(&bare(lib)),
    )
    .map_err(|_| {
        Problem::new(
            Kind::Project,
            format!(
                "library `{}`: `{reference}` is not a branch, tag or commit of {}",
                lib.name, lib.url
            ),
        )
        .help("check `ref` in ordo.rhai")
    })
}

fn extracted_dir(lib: &GitLibrary, commit: &str) -> PathBuf {
    cache()
        .join("libs")
        .join(crate::sys::short_hash(lib.url.as_bytes()))
        .join(commit)
}

/// The tree of `lib` at `commit`, extracted once into the cache.
fn extracted(lib: &GitLibrary, commit: &str) -> Result<PathBuf, Problem> {
    let dir = extracted_dir(lib, commit);
    if dir.is_dir() {
        return Ok(dir);
    }
    let has = |c: &str| git(&["cat-file", "-e", &format!("{c}^{{commit}}")], Some(&bare(lib))).is_ok();
    if !has(commit) {
        fetch(lib).map_err(|p| {
            Problem::new(
                Kind::Project,
                format!(
                    "library `{}` is pinned to commit {commit} in {LOCK_FILE}, which is not in the cache and cannot be fetched",
                    lib.name
                ),
            )
            .help(format!(
                "fetch it once while online (any ordo command that loads the project does), or move the pin with `ordo libs update {}`; the fetch said: {}",
                lib.name, p.message
            ))
        })?;
        if !has(commit) {
            return Err(Problem::new(
                Kind::Project,
                format!(
                    "library `{}`: commit {commit} pinned in {LOCK_FILE} is not in {}",
                    lib.name, lib.url
                ),
            )
            .help(format!(
                "the history was rewritten upstream? Move the pin with `ordo libs update {}`",
                lib.name
            )));
        }
    }
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)
        .map_err(|e| Problem::new(Kind::Project, format!("cannot create {}: {e}", tmp.display())))?;
    let archive = Command::new("git")
        .arg("--git-dir")
        .arg(bare(lib))
        .args(["archive", "--format=tar", commit])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut git| {
            let tar = Command::new("tar")
                .arg("-x")
                .arg("-C")
                .arg(&tmp)
                .stdin(git.stdout.take().expect("piped"))
                .status()?;
            let g = git.wait()?;
            Ok(g.success() && tar.success())
        });
    match archive {
        Ok(true) => std::fs::rename(&tmp, &dir)
            .map(|()| dir)
            .map_err(|e| Problem::new(Kind::Project, format!("cannot write the library cache: {e}"))),
        _ => Err(Problem::new(
            Kind::Project,
            format!("library `{}`: commit {commit} could not be extracted", lib.name),
        )
        .help(format!("remove {} and try again", cache().display()))),
    }
}
