//! `packages` with rpm and dnf, end to end over ssh: the test host's `PATH` hides
//! dpkg and apt (`Setup::no_dpkg`), so the probe finds rpm and dnf; a throw-away
//! `.rpm` (noarch, `AutoReqProv: no`) is built in the test with `rpmbuild`, served
//! from a `file://` repository made with `createrepo_c` and known to dnf only while
//! the test runs. Debian's rpm keeps its database per user unless `%_dbpath` is set
//! system-wide, which `test.sh` does (`/etc/rpm/macros.ordo-test`; docs/hosts.md
//! says what a RHEL host does instead). The same story as the dpkg test
//! (`tests/packages.rs`): a prerequisite names dnf's command, `sudo: true` installs
//! and upgrades, constraints, `absent`, and a package no repository has.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::packages::{SERVICE, fails_with, run, want};
use crate::support::Test;
use crate::support::sshd::TestHosts;
use crate::support::sudo::SudoRule;

const RPM_MACROS: &str = "/etc/rpm/macros.ordo-test";

/// A `file://` dnf repository with one throw-away package, known to dnf only while
/// this lives; the package is removed again when it is dropped.
struct RpmRepo {
    dir: tempfile::TempDir,
    package: String,
    repo_file: PathBuf,
}

impl RpmRepo {
    fn new() -> RpmRepo {
        for tool in [
            "/usr/bin/rpm",
            "/usr/bin/rpmbuild",
            "/usr/bin/dnf",
            "/usr/bin/createrepo_c",
        ] {
            assert!(
                Path::new(tool).is_file(),
                "{tool} is missing: the rpm tests need rpm, dnf and createrepo-c (./test.sh installs them)"
            );
        }
        let dbpath = Command::new("rpm").args(["--eval", "%_dbpath"]).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&dbpath.stdout).trim(),
            "/var/lib/rpm",
            "rpm's database must be system-wide for the rpm tests ({RPM_MACROS}; ./test.sh writes it)"
        );
        let dir = tempfile::Builder::new().prefix("ordo-rpm").tempdir_in("/tmp").unwrap();
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::create_dir(dir.path().join("repo")).unwrap();
        let package = format!("ordo-test-{}", crate::support::sshd::random_name(6));
        let repo_file = PathBuf::from(format!("/etc/yum.repos.d/{package}.repo"));
        std::fs::create_dir_all("/etc/yum.repos.d").unwrap();
        std::fs::write(
            &repo_file,
            format!(
                "[{package}]\nname=ordo tests\nbaseurl=file://{}/repo\ngpgcheck=0\nenabled=1\nmetadata_expire=0\n",
                dir.path().display()
            ),
        )
        .unwrap();
        RpmRepo {
            dir,
            package,
            repo_file,
        }
    }

    /// Builds version `version` of the package and publishes it with the others.
    fn publish(&self, version: &str) {
        let top = self.dir.path().join("build");
        let spec = self.dir.path().join(format!("{}.spec", self.package));
        std::fs::write(
            &spec,
            format!(
                "Name: {}\nVersion: {version}\nRelease: 1\nSummary: throw-away package of ordo's tests\nLicense: MIT\n\
                 BuildArch: noarch\nAutoReqProv: no\n%description\nthrow-away package of ordo's tests\n\
                 %install\nmkdir -p %{{buildroot}}/usr/share/{0}\necho {version} > %{{buildroot}}/usr/share/{0}/version\n\
                 %files\n/usr/share/{0}/version\n",
                self.package
            ),
        )
        .unwrap();
        run(Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg("-bb")
            .arg(&spec));
        let rpm = top.join(format!("RPMS/noarch/{}-{version}-1.noarch.rpm", self.package));
        std::fs::copy(&rpm, self.dir.path().join("repo").join(rpm.file_name().unwrap())).unwrap();
        run(Command::new("createrepo_c").arg("-q").arg(self.dir.path().join("repo")));
    }

    /// The installed `version-release`, if any, as the rpm database says.
    fn installed(&self) -> Option<String> {
        let out = Command::new("rpm")
            .args(["-q", "--qf", "%{VERSION}-%{RELEASE}", "--", &self.package])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for RpmRepo {
    fn drop(&mut self) {
        let _ = Command::new("rpm").args(["-e", "--", &self.package]).output();
        let _ = std::fs::remove_file(&self.repo_file);
        // dnf's cache of the repository, named after its id.
        if let Ok(entries) = std::fs::read_dir("/var/cache/dnf") {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&self.package) {
                    let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
                }
            }
        }
    }
}

#[test]
fn packages_with_rpm_and_dnf_are_a_prerequisite_or_installed_with_sudo() {
    let repo = RpmRepo::new();
    repo.publish("1.0");
    let pkg = repo.package.clone();
    let hosts = TestHosts::setup().no_dpkg().start(&["t1", "t2"]);
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

    // A prerequisite: nothing changes anywhere, and dnf's command is named.
    fails_with(
        &p,
        &[
            &format!(
                "t1:x packages {pkg} cannot be verified: a platform prerequisite is not met: the host needs: install {pkg}."
            ),
            &format!("An administrator runs: `sudo dnf install -y {pkg}`"),
            "nothing was changed on any host",
        ],
    );
    assert!(!a.exists() && !b.exists());
    assert_eq!(repo.installed(), None);

    // With sudo: dnf installs it, the login user's rpm -q sees it; then nothing to do.
    let _rule = SudoRule::allow(hosts.user("t1"));
    want(&p, &format!("#{{ want: [\"{pkg}\"], sudo: true }}"));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains(&format!("~ t1:x packages {pkg} [sudo] (install {pkg})"))
        .run();
    assert_eq!(repo.installed().as_deref(), Some("1.0-1"));
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
    fails_with(
        &p,
        &[
            &format!("the host needs: install {pkg} (>= 2.0) (has 1.0-1)"),
            &format!("An administrator runs: `sudo dnf install -y '{pkg} >= 2.0'`"),
        ],
    );

    // A newer version in the repository: sudo upgrades to it, dnf taking the constraint.
    repo.publish("2.0");
    want(&p, &format!("#{{ want: [\"{pkg} (>= 2.0)\"], sudo: true }}"));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains(&format!("(install {pkg} (>= 2.0) (has 1.0-1))"))
        .run();
    assert_eq!(repo.installed().as_deref(), Some("2.0-1"));

    // A version no repository offers: dnf's own refusal fails the step.
    want(&p, &format!("#{{ want: [\"{pkg} (>= 3.0)\"], sudo: true }}"));
    fails_with(&p, &[&format!("No match for argument: {pkg} >= 3.0")]);
    assert_eq!(repo.installed().as_deref(), Some("2.0-1"));

    // A package that no repository has at all.
    let missing = format!("{pkg}-missing");
    want(&p, &format!("#{{ want: [\"{missing}\"], sudo: true }}"));
    let out = p.test().args(&["deploy", "prod", "--yes"]).failure().run();
    assert!(
        out.stdout
            .contains(&format!("~ t1:x packages {missing} [sudo] (install {missing})"))
            && out
                .stderr
                .contains(&format!("t1:x packages {missing} could not be applied"))
            && out.stderr.contains(&format!("No match for argument: {missing}")),
        "{}{}",
        out.stdout,
        out.stderr
    );

    // absent: a prerequisite names the removal; with sudo it is removed.
    want(&p, &format!("#{{ absent: [\"{pkg}\"] }}"));
    fails_with(
        &p,
        &[&format!(
            "the host needs: remove {pkg}. An administrator runs: `sudo dnf remove -y {pkg}`"
        )],
    );
    assert_eq!(repo.installed().as_deref(), Some("2.0-1"));
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

#[test]
fn the_rpm_test_host_finds_rpm_and_dnf_and_not_dpkg() {
    let hosts = TestHosts::setup().no_dpkg().start(&["t1"]);
    let p = Test::new()
        .service("let s = service(\"s\");\ns.component(\"x\", |c| {});\n")
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    p.test()
        .args(&[
            "run",
            "prod",
            "--",
            "for c in dpkg-query apt-get rpm dnf; do command -v $c; done | sed 's|.*/||'",
        ])
        .stdout_contains("rpm\ndnf")
        .stdout_lacks("dpkg")
        .stdout_lacks("apt-get")
        .run();
}
