//! The package managers ordo speaks: what the probe asks (one `dpkg-query` or
//! `rpm -q` for every package of a host), how its answer reads, and the commands
//! that install and remove — the ones ordo runs with `sudo: true`, and the ones it
//! shows an administrator otherwise. dpkg/apt (`tests/packages.rs`) and rpm/dnf
//! (`tests/rpm.rs`) are tested end to end; yum by the unit tests below only (see
//! docs/software.md).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use super::version;
use super::{Op, Wanted};
use crate::shell::quote;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    Dpkg,
    Rpm,
}

/// What the probe found: the host's package manager, the tool that installs with
/// it, and the installed version of every package asked about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Installed {
    pub manager: Option<Manager>,
    /// `apt-get`, `dnf` or `yum`; none when only the database tool is there.
    pub installer: Option<String>,
    pub versions: HashMap<String, String>,
}

/// The probe's snippet for `names`: the manager first, then one query for all.
/// `rpm -q` prints "package x is not installed" on stdout, which has no tabs and
/// is skipped when read.
pub fn query_sh(names: &BTreeSet<String>) -> String {
    let list: Vec<String> = names.iter().map(|n| quote(n)).collect();
    let list = list.join(" ");
    format!(
        "if command -v dpkg-query >/dev/null 2>&1; then echo 'manager dpkg'; \
         if command -v apt-get >/dev/null 2>&1; then echo 'installer apt-get'; fi; \
         dpkg-query -W -f='${{Package}}\\t${{Status}}\\t${{Version}}\\n' -- {list}; \
         elif command -v rpm >/dev/null 2>&1; then echo 'manager rpm'; \
         if command -v dnf >/dev/null 2>&1; then echo 'installer dnf'; \
         elif command -v yum >/dev/null 2>&1; then echo 'installer yum'; fi; \
         rpm -q --qf '%{{NAME}}\\tinstall ok installed\\t%|EPOCH?{{%{{EPOCH}}:}}|%{{VERSION}}-%{{RELEASE}}\\n' -- {list}; \
         else echo 'manager none'; fi"
    )
}

/// Reads the snippet's output.
pub fn parse(text: &str) -> Installed {
    let mut found = Installed::default();
    for line in text.lines() {
        if let Some(m) = line.strip_prefix("manager ") {
            found.manager = match m.trim() {
                "dpkg" => Some(Manager::Dpkg),
                "rpm" => Some(Manager::Rpm),
                _ => None,
            };
            continue;
        }
        if let Some(i) = line.strip_prefix("installer ") {
            found.installer = Some(i.trim().to_string());
            continue;
        }
        let mut fields = line.split('\t');
        let (Some(name), Some(status), Some(version)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        // `install ok installed`; not `half-installed`, `config-files`, ….
        if status.split_whitespace().last() == Some("installed") && !version.is_empty() {
            found
                .versions
                .entry(name.to_string())
                .or_insert_with(|| version.to_string());
        }
    }
    found
}

impl Manager {
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Manager::Dpkg => version::dpkg(a, b),
            Manager::Rpm => version::rpm(a, b),
        }
    }

    /// The name the database knows the package by: dpkg's answer drops `:arch`.
    pub fn base_name(self, name: &str) -> &str {
        match self {
            Manager::Dpkg => name.split_once(':').map_or(name, |(n, _)| n),
            Manager::Rpm => name,
        }
    }

    /// How the installer is told about one wanted package: apt-get only takes an
    /// exact version (`name=1.2-1`) and installs the candidate otherwise (the
    /// version is checked afterwards); dnf takes the constraint itself.
    fn install_arg(self, w: &Wanted) -> String {
        match (self, &w.constraint) {
            (Manager::Dpkg, Some(c)) if c.op == Op::Eq => format!("{}={}", w.name, c.version),
            (Manager::Dpkg, _) | (Manager::Rpm, None) => w.name.clone(),
            (Manager::Rpm, Some(c)) => format!("{} {} {}", w.name, c.op.rpm(), c.version),
        }
    }

    /// The command an administrator runs: installs, then removals.
    pub fn admin_command(self, installer: &str, install: &[&Wanted], remove: &[&str]) -> String {
        let mut parts = Vec::new();
        let apt = self == Manager::Dpkg;
        if !install.is_empty() {
            let args: Vec<String> = install.iter().map(|w| quote(&self.install_arg(w))).collect();
            parts.push(if apt {
                format!(
                    "sudo env DEBIAN_FRONTEND=noninteractive {installer} install -y {}",
                    args.join(" ")
                )
            } else {
                format!("sudo {installer} install -y {}", args.join(" "))
            });
        }
        if !remove.is_empty() {
            let args: Vec<String> = remove.iter().map(|n| quote(n)).collect();
            parts.push(if apt {
                format!(
                    "sudo env DEBIAN_FRONTEND=noninteractive {installer} remove -y {}",
                    args.join(" ")
                )
            } else {
                format!("sudo {installer} remove -y {}", args.join(" "))
            });
        }
        parts.join(" && ")
    }

    /// The apply lines (run as root): install, check constraints apt could not
    /// express, remove. Package scripts run with umask 022 (the apply script's 077
    /// would make the files they create private) and without a terminal.
    pub fn apply_lines(
        self,
        step: crate::ids::StepId,
        installer: &str,
        install: &[&Wanted],
        remove: &[&str],
    ) -> String {
        let mut s = String::new();
        let run = |s: &mut String, verb: &str, args: Vec<String>| {
            let env = if self == Manager::Dpkg {
                "export DEBIAN_FRONTEND=noninteractive; "
            } else {
                ""
            };
            // apt-get waits for another apt instead of failing at once.
            let lock = if installer == "apt-get" {
                " -o DPkg::Lock::Timeout=300"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "( umask 022; {env}exec {installer} {verb} -y{lock} -- {} ) </dev/null >\"$O\" 2>&1 || fail {step} $?",
                args.join(" ")
            );
        };
        if !install.is_empty() {
            run(
                &mut s,
                "install",
                install.iter().map(|w| quote(&self.install_arg(w))).collect(),
            );
            if self == Manager::Dpkg {
                for w in install {
                    let Some(c) = &w.constraint else { continue };
                    let (name, ver) = (quote(&w.name), quote(&c.version));
                    let why = quote_msg(&format!(
                        "{} is %s after the install, not ({} {}): the host's package sources offer no such version",
                        w.name,
                        c.op.symbol(),
                        c.version
                    ));
                    let _ = writeln!(
                        s,
                        "v=$(dpkg-query -W -f='${{Version}}' -- {name} 2>/dev/null); \
                         dpkg --compare-versions \"$v\" {} {ver} || {{ printf {why} \"$v\" > \"$O\"; fail {step} 1; }}",
                        c.op.dpkg()
                    );
                }
            }
        }
        if !remove.is_empty() {
            run(&mut s, "remove", remove.iter().map(|n| quote(n)).collect());
        }
        s
    }
}

/// A printf format that prints `text` (with one `%s`) and a newline.
fn quote_msg(text: &str) -> String {
    crate::shell::quote_always(&format!("{}\\n", text.replace('\\', "\\\\")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Id, StepId};

    fn wanted(s: &str) -> Wanted {
        Wanted::parse(s).unwrap()
    }

    #[test]
    fn one_query_for_every_package() {
        let names: BTreeSet<String> = ["curl".to_string(), "libpq5".to_string()].into();
        let sh = query_sh(&names);
        assert!(
            sh.contains("dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' -- curl libpq5"),
            "{sh}"
        );
        assert!(sh.contains("rpm -q --qf '%{NAME}\\tinstall ok installed\\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\n' -- curl libpq5"), "{sh}");
    }

    #[test]
    fn reads_dpkg_answers() {
        let found = parse(
            "manager dpkg\ninstaller apt-get\ncurl\tinstall ok installed\t7.88.1-10+deb12u5\n\
             telnet\tdeinstall ok config-files\t0.17+2.4-2\nlibc6\tinstall ok installed\t2.36-9\n\
             libc6\tinstall ok installed\t2.36-9\nbroken\tinstall ok half-installed\t1.0\n",
        );
        assert_eq!(found.manager, Some(Manager::Dpkg));
        assert_eq!(found.installer.as_deref(), Some("apt-get"));
        assert_eq!(
            found.versions.get("curl").map(String::as_str),
            Some("7.88.1-10+deb12u5")
        );
        assert!(
            !found.versions.contains_key("telnet"),
            "config files only is not installed"
        );
        assert!(!found.versions.contains_key("broken"));
        assert_eq!(found.versions.len(), 2);
    }

    #[test]
    fn reads_rpm_answers() {
        let found = parse(
            "manager rpm\ninstaller dnf\nlibpq\tinstall ok installed\t13.11-1.el9\n\
             package curl is not installed\nbash\tinstall ok installed\t1:5.1.8-6.el9\n",
        );
        assert_eq!(found.manager, Some(Manager::Rpm));
        assert_eq!(found.installer.as_deref(), Some("dnf"));
        assert_eq!(found.versions.get("libpq").map(String::as_str), Some("13.11-1.el9"));
        assert_eq!(found.versions.get("bash").map(String::as_str), Some("1:5.1.8-6.el9"));
        assert!(!found.versions.contains_key("curl"));
        assert_eq!(parse("manager none\n").manager, None);
    }

    #[test]
    fn dnf_commands_carry_the_constraints() {
        let (a, b) = (wanted("libpq >= 15"), wanted("curl"));
        let cmd = Manager::Rpm.admin_command("dnf", &[&a, &b], &["telnet"]);
        assert_eq!(
            cmd,
            "sudo dnf install -y 'libpq >= 15' curl && sudo dnf remove -y telnet"
        );
        let lines = Manager::Rpm.apply_lines(StepId::new(4), "dnf", &[&a], &["telnet"]);
        assert_eq!(
            lines,
            "( umask 022; exec dnf install -y -- 'libpq >= 15' ) </dev/null >\"$O\" 2>&1 || fail 4 $?\n\
             ( umask 022; exec dnf remove -y -- telnet ) </dev/null >\"$O\" 2>&1 || fail 4 $?\n"
        );
    }

    #[test]
    fn apt_commands_pin_exact_versions_and_check_the_others() {
        let (a, b) = (wanted("libpq5 (>= 15)"), wanted("hello (= 2.10-3)"));
        let cmd = Manager::Dpkg.admin_command("apt-get", &[&a, &b], &[]);
        assert_eq!(
            cmd,
            "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y libpq5 hello=2.10-3"
        );
        let lines = Manager::Dpkg.apply_lines(StepId::new(2), "apt-get", &[&a], &[]);
        assert!(
            lines.starts_with(
                "( umask 022; export DEBIAN_FRONTEND=noninteractive; exec apt-get install -y -o DPkg::Lock::Timeout=300 -- libpq5 )"
            ),
            "{lines}"
        );
        assert!(lines.contains("dpkg --compare-versions \"$v\" ge 15 ||"), "{lines}");
    }
}
