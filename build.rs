//! Records which commit ordo is built from, for `ordo --version`: `ORDO_BUILD` is
//! ` (git <describe>)` — `git describe --tags --always --abbrev=12`, with `-dirty`
//! when the sources differ from that commit — or empty when this is not a git
//! checkout of ordo itself (a source tarball, no `git` installed), so the version
//! then reads exactly as Cargo.toml says.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What makes the binary: a change here is a dirty build, a change elsewhere
/// (docs, tests) is not.
const SOURCES: &[&str] = &["src", "stdlib", "build.rs", "Cargo.toml", "Cargo.lock"];

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for s in SOURCES {
        println!("cargo:rerun-if-changed={s}");
    }
    let suffix = describe(&dir).map(|d| format!(" (git {d})")).unwrap_or_default();
    println!("cargo:rustc-env=ORDO_BUILD={suffix}");
}

fn git(dir: &Path, args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    ))
}

fn describe(dir: &Path) -> Option<String> {
    // Only ordo's own repository: a tarball unpacked inside another repository
    // must not take that one's commit.
    let (ok, top) = git(dir, &["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| {
        a.canonicalize()
            .ok()
            .zip(b.canonicalize().ok())
            .is_some_and(|(a, b)| a == b)
    };
    if !ok || !same(Path::new(&top), dir) {
        return None;
    }
    // Moving HEAD (a commit, a checkout) runs this again. Only files that exist:
    // Cargo reruns a build script for a missing one every time (and rebuilds ordo).
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(
        git(dir, &["symbolic-ref", "-q", "HEAD"])
            .filter(|(ok, _)| *ok)
            .map(|(_, r)| r),
    );
    for what in &watched {
        if let Some((true, path)) = git(dir, &["rev-parse", "--git-path", what])
            && dir.join(&path).exists()
        {
            println!("cargo:rerun-if-changed={}", dir.join(path).display());
        }
    }
    let (ok, described) = git(dir, &["describe", "--tags", "--always", "--abbrev=12"])?;
    if !ok || described.is_empty() {
        return None;
    }
    // `git diff --quiet` exits 1 on a difference, and never writes the index.
    let mut diff = vec!["diff", "--quiet", "HEAD", "--"];
    diff.extend(SOURCES);
    let dirty = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(&diff)
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?
        .code()
        == Some(1);
    Some(if dirty { format!("{described}-dirty") } else { described })
}
