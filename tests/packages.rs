//! `packages` against the real dpkg/apt of this machine, over ssh: a tiny `.deb`
//! built with `dpkg-deb`, served from a `file:` apt repository the test creates
//! (trusted, updated on its own), installed through a sudoers rule the test
//! writes. A missing prerequisite stops every host before any change and names
//! the command; `sudo: true` installs, a second deploy is a no-op; version
//! constraints and `absent` both ways. Everything it adds to the machine (the
//! package, the apt source and its lists) is removed again, also when it fails.
//! rpm/dnf: `tests/rpm.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::support::sshd::TestHosts;
use crate::support::sudo::SudoRule;
use crate::support::{Project, Test};

/// A `file:` apt repository with one throw-away package, known to apt only
/// while this lives.
struct AptRepo {
    dir: tempfile::TempDir,
    package: String,
    list: PathBuf,
}

impl AptRepo {
    fn new() -> AptRepo {
        for tool in ["/usr/bin/dpkg-deb", "/usr/bin/apt-get"] {
            assert!(
                Path::new(tool).is_file(),
                "{tool} is missing: the package tests need dpkg and apt (Debian)"
            );
        }
        let dir = tempfile::Builder::new().prefix("ordo-apt").tempdir_in("/tmp").unwrap();
        // apt reads it as its sandbox user.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let package = format!("ordo-test-{}", std::process::id());
        let list = PathBuf::from(format!("/etc/apt/sources.list.d/{package}.list"));
        std::fs::write(&list, format!("deb [trusted=yes] file:{} ./\n", dir.path().display())).unwrap();
        AptRepo { dir, package, list }
    }

    /// Adds version `version` of the package and tells apt (only this source).
    fn publish(&self, version: &str) {
        let root = self.dir.path().join(format!("build-{version}"));
        std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
        std::fs::write(
            root.join("DEBIAN/control"),
            format!(
                "Package: {}\nVersion: {version}\nArchitecture: all\nMaintainer: ordo tests <tests@example.invalid>\n\
                 Description: throw-away package of ordo's tests\n",
                self.package
            ),
        )
        .unwrap();
        let deb = format!("{}_{version}_all.deb", self.package);
        run(Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group"])
            .arg(&root)
            .arg(self.dir.path().join(&deb)));
        std::fs::remove_dir_all(&root).unwrap();
        let mut index = String::new();
        let mut debs: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "deb"))
            .collect();
        debs.sort();
        for path in debs {
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let version = name.split('_').nth(1).unwrap();
            index.push_str(&format!(
                "Package: {}\nVersion: {version}\nArchitecture: all\nMaintainer: ordo tests <tests@example.invalid>\n\
                 Filename: ./{name}\nSize: {}\nSHA256: {:x}\nDescription: throw-away package of ordo's tests\n\n",
                self.package,
                bytes.len(),
                Sha256::digest(&bytes)
            ));
        }
        std::fs::write(self.dir.path().join("Packages"), index).unwrap();
        run(Command::new("apt-get")
            .args([
                "update",
                "-qq",
                "-o",
                "APT::Get::List-Cleanup=0",
                "-o",
                "Dir::Etc::sourceparts=-",
            ])
            .arg("-o")
            .arg(format!("Dir::Etc::sourcelist={}", self.list.display())));
    }

    /// The installed version, if any.
    fn installed(&self) -> Option<String> {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f=${Status} ${Version}", "--", &self.package])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.strip_prefix("install ok installed ").map(str::to_string)
    }
}

impl Drop for AptRepo {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", &self.package]).output();
        let _ = std::fs::remove_file(&self.list);
        // apt's copy of the index, named after the repository's path.
        let mangled = self.dir.path().display().to_string().replace('/', "_");
        if let Ok(entries) = std::fs::read_dir("/var/lib/apt/lists") {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&format!("{mangled}_")) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

pub(crate) fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The service of the package tests, shared with the rpm/dnf host's (`rpm.rs`).
pub(crate) const SERVICE: &str = r#"let s = service("s");
s.component("x", |c| {
    c.add(file("a.txt", "a\n"));
    c.add(packages(c.attr("want", []), #{ absent: c.attr("absent", []), sudo: c.attr("sudo", false) }));
});
s.component("y", |c| { c.add(file("b.txt", "b\n")); });
"#;

/// Replaces the override of `x` in the environment.
pub(crate) fn want(p: &Project, attrs: &str) {
    let env = p.read("environments/prod.rhai");
    let start = env.find("env.override(\"x\"").unwrap();
    let end = start + env[start..].find('\n').unwrap();
    p.write(
        "environments/prod.rhai",
        &format!("{}env.override(\"x\", {attrs});{}", &env[..start], &env[end..]),
    );
}

fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace() && *c != '│').collect()
}

#[track_caller]
pub(crate) fn fails_with(p: &std::sync::Arc<Project>, wanted: &[&str]) {
    let out = p.test().args(&["deploy", "prod", "--yes"]).failure().run();
    for w in wanted {
        assert!(
            squash(&out.stderr).contains(&squash(w)),
            "missing {w:?} in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn packages_are_a_prerequisite_or_installed_with_sudo() {
    let repo = AptRepo::new();
    repo.publish("1.0");
    let pkg = repo.package.clone();
    let hosts = TestHosts::start(&["t1", "t2"]);
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .ssh_hosts(&hosts, &["t2"])
        .place("y")
        .override_("x", &format!("#{{ want: [\"{pkg}\"] }}"))
        .build();
    let (a, b) = (
        hosts.home("t1").join("deployment/s/a.txt"),
        hosts.home("t2").join("deployment/s/b.txt"),
    );

    // A prerequisite: nothing changes anywhere, and the admin's command is named.
    fails_with(
        &p,
        &[
            &format!(
                "t1:x packages {pkg} cannot be verified: a platform prerequisite is not met: the host needs: install {pkg}."
            ),
            &format!("An administrator runs: `sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y {pkg}`"),
            "nothing was changed on any host",
        ],
    );
    assert!(!a.exists() && !b.exists());
    assert_eq!(repo.installed(), None);

    // With sudo: installed, shown as privileged; then nothing to do.
    let _rule = SudoRule::allow(hosts.user("t1"));
    want(&p, &format!("#{{ want: [\"{pkg}\"], sudo: true }}"));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains(&format!("~ t1:x packages {pkg} [sudo] (install {pkg})"))
        .run();
    assert_eq!(repo.installed().as_deref(), Some("1.0"));
    assert!(a.exists() && b.exists());
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 3 steps on 2 hosts up to date")
        .run();

    // Constraints: met is nothing to do; unmet is a prerequisite naming the version.
    want(&p, &format!("#{{ want: [\"{pkg} (>= 1.0)\"] }}"));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    want(&p, &format!("#{{ want: [\"{pkg} (>= 2.0)\"] }}"));
    fails_with(&p, &[&format!("the host needs: install {pkg} (>= 2.0) (has 1.0)")]);

    // A newer version in the repository: sudo upgrades to it.
    repo.publish("2.0");
    want(&p, &format!("#{{ want: [\"{pkg} (>= 2.0)\"], sudo: true }}"));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains(&format!("(install {pkg} (>= 2.0) (has 1.0))"))
        .run();
    assert_eq!(repo.installed().as_deref(), Some("2.0"));

    // What apt cannot reach is caught after the install, not believed.
    want(&p, &format!("#{{ want: [\"{pkg} (<< 2.0)\"], sudo: true }}"));
    fails_with(
        &p,
        &[&format!(
            "{pkg} is 2.0 after the install, not (<< 2.0): the host's package sources offer no such version"
        )],
    );

    // absent: a prerequisite names the removal; with sudo it is removed.
    want(&p, &format!("#{{ absent: [\"{pkg}\"] }}"));
    fails_with(
        &p,
        &[&format!(
            "the host needs: remove {pkg}. An administrator runs: `sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y {pkg}`"
        )],
    );
    assert_eq!(repo.installed().as_deref(), Some("2.0"));
    want(&p, &format!("#{{ absent: [\"{pkg}\"], sudo: true }}"));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains(&format!("~ t1:x packages !{pkg} [sudo] (remove {pkg})"))
        .run();
    assert_eq!(repo.installed(), None);
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
}
