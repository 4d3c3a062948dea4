//! `packages`: OS packages a component needs (or must not have). By default they
//! are a *platform prerequisite*: ordo checks them and, when something is missing,
//! stops the deploy before any change on any host, printing the command an
//! administrator would run. With `sudo: true` ordo installs and removes them itself
//! (`apt-get` / `dnf`, as root through `sudo -n`). The function is not called
//! `package`: that is a reserved word in Rhai.
//!
//! The probe detects the manager and asks about every package of a host in one
//! process (see [`ProbeScript::gather`]); versions are compared in Rust.

pub mod manager;
pub mod version;

use std::fmt;

use manager::{Installed, Manager};

use super::{Change, Doc, OptionDoc, Planned, Primitive, StepCtx};
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, ProbeScript};

/// A version relation, as dpkg writes it (`>=`, `<<`, …; `>` and `<` are strict).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<<" | "<" => Op::Lt,
            "<=" => Op::Le,
            "=" | "==" => Op::Eq,
            ">=" => Op::Ge,
            ">>" | ">" => Op::Gt,
            _ => return None,
        })
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        }
    }

    /// The word `dpkg --compare-versions` takes.
    pub fn dpkg(self) -> &'static str {
        match self {
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Eq => "eq",
            Op::Ge => "ge",
            Op::Gt => "gt",
        }
    }

    /// The operator of an rpm/dnf dependency.
    pub fn rpm(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }

    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Op::Lt => o == Less,
            Op::Le => o != Greater,
            Op::Eq => o == Equal,
            Op::Ge => o != Less,
            Op::Gt => o == Greater,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub op: Op,
    pub version: String,
}

/// One package the host must have: `libpq5`, `libpq5 (>= 15)`, `libpq5 >= 15`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    pub constraint: Option<Constraint>,
}

impl Wanted {
    pub fn parse(text: &str) -> Result<Wanted, String> {
        let text = text.trim();
        let (name, rest) = match text.find(['(', '<', '>', '=', ' ']) {
            Some(i) => (text[..i].trim(), text[i..].trim()),
            None => (text, ""),
        };
        check_name(name)?;
        if rest.is_empty() {
            return Ok(Wanted {
                name: name.into(),
                constraint: None,
            });
        }
        let inner = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(rest)
            .trim();
        let split = inner.find(|c: char| !"<>=".contains(c)).unwrap_or(inner.len());
        let bad = || {
            format!(
                "`{}`: write a version constraint as `name (>= 1.2)` (operators: >=, <=, =, >>, <<, >, <)",
                crate::text::visible(text, false)
            )
        };
        let op = Op::parse(&inner[..split]).ok_or_else(bad)?;
        let version = inner[split..].trim();
        if version.is_empty()
            || !version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+~:_-^".contains(c))
        {
            return Err(bad());
        }
        Ok(Wanted {
            name: name.into(),
            constraint: Some(Constraint {
                op,
                version: version.into(),
            }),
        })
    }
}

impl fmt::Display for Wanted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.constraint {
            Some(c) => write!(f, "{} ({} {})", self.name, c.op.symbol(), c.version),
            None => f.write_str(&self.name),
        }
    }
}

/// Package names as dpkg and rpm allow them (`:arch` for dpkg's multi-arch); never
/// starting with `-`, so they cannot pass for options.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+._:@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("`{}` is not a package name", crate::text::visible(name, false)))
    }
}

#[derive(Debug)]
pub struct Packages {
    /// For the label: what the script listed.
    pub name: String,
    pub present: Vec<Wanted>,
    pub absent: Vec<String>,
    /// Install and remove them (as root); otherwise they are a prerequisite.
    pub sudo: bool,
}

impl Packages {
    pub fn new(present: Vec<Wanted>, absent: Vec<String>, sudo: bool) -> Packages {
        let mut words: Vec<String> = present.iter().map(ToString::to_string).collect();
        words.extend(absent.iter().map(|a| format!("!{a}")));
        Packages {
            name: words.join(", "),
            present,
            absent,
            sudo,
        }
    }

    /// What is wrong on the host: packages to install (with the installed version
    /// when a constraint is not met) and packages to remove.
    fn differences<'a>(&'a self, m: Manager, found: &Installed) -> (Vec<(&'a Wanted, Option<String>)>, Vec<&'a str>) {
        let version = |name: &str| found.versions.get(m.base_name(name)).cloned();
        let install = self
            .present
            .iter()
            .filter_map(|w| match (version(&w.name), &w.constraint) {
                (None, _) => Some((w, None)),
                (Some(v), Some(c)) if !c.op.holds(m.compare(&v, &c.version)) => Some((w, Some(v))),
                _ => None,
            })
            .collect();
        let remove = self
            .absent
            .iter()
            .filter(|a| version(a).is_some())
            .map(String::as_str)
            .collect();
        (install, remove)
    }
}

impl Primitive for Packages {
    fn kind(&self) -> &'static str {
        "packages"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn privileged(&self) -> bool {
        self.sudo
    }

    fn probe(&self, _step: &StepCtx<'_>, probe: &mut ProbeScript) {
        let names = self
            .present
            .iter()
            .map(|w| w.name.clone())
            .chain(self.absent.iter().cloned());
        probe.gather("packages", names, manager::query_sh);
        if self.sudo {
            super::privilege::probe(probe);
        }
    }

    fn verify(&self, _step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let Some(answer) = facts.gathered("packages") else {
            return Err("the probe did not query the host's packages (a bug in ordo)".into());
        };
        let found = manager::parse(&String::from_utf8_lossy(answer));
        let Some(m) = found.manager else {
            return Err(
                "the host has neither dpkg nor rpm, so ordo cannot check its packages; install them by hand \
                 and drop this step for this host"
                    .into(),
            );
        };
        let (install, remove) = self.differences(m, &found);
        if install.is_empty() && remove.is_empty() {
            return Ok(None);
        }
        let mut what = Vec::new();
        if !install.is_empty() {
            let list: Vec<String> = install
                .iter()
                .map(|(w, have)| match have {
                    Some(v) => format!("{w} (has {v})"),
                    None => w.to_string(),
                })
                .collect();
            what.push(format!("install {}", list.join(", ")));
        }
        if !remove.is_empty() {
            what.push(format!("remove {}", remove.join(", ")));
        }
        let what = what.join("; ");
        let Some(installer) = found.installer.as_deref() else {
            let tool = if m == Manager::Dpkg { "apt-get" } else { "dnf" };
            return Err(format!("the host needs: {what}; but it has no {tool} to do that with"));
        };
        let wanted: Vec<&Wanted> = install.iter().map(|(w, _)| *w).collect();
        if !self.sudo {
            return Err(format!(
                "a platform prerequisite is not met: the host needs: {what}. An administrator runs: `{}` (or say `sudo: true` on this step to let ordo do it)",
                m.admin_command(installer, &wanted, &remove)
            ));
        }
        super::privilege::guard(true, Some(Planned::new(Change::Update).detail(what)), facts)
    }

    fn apply(&self, step: &StepCtx<'_>, _planned: &Planned, facts: &Facts, script: &mut ApplyScript) {
        let answer = facts.gathered("packages").unwrap_or_default();
        let found = manager::parse(&String::from_utf8_lossy(answer));
        let (Some(m), Some(installer)) = (found.manager, found.installer.as_deref()) else {
            return;
        };
        let (install, remove) = self.differences(m, &found);
        let wanted: Vec<&Wanted> = install.iter().map(|(w, _)| *w).collect();
        let mut lines = m.apply_lines(step.id, installer, &wanted, &remove);
        lines.push_str(&format!("echo '{} ok'", step.id));
        script.line(&lines);
    }
}

pub const DOC: Doc = Doc {
    name: "packages",
    signatures: &["packages(names)", "packages(names, #{ absent, sudo })"],
    summary: "OS packages the component needs, checked with the host's package manager (dpkg/apt or \
              rpm/dnf, detected; all packages of a host are queried in one process). A name may carry a \
              version constraint: \"libpq5 (>= 15)\" (>=, <=, =, >>, <<; > and < are strict). By default \
              the packages are a platform prerequisite: when one is missing, or one listed in `absent` is \
              installed, the deploy stops before changing anything on any host and prints the command an \
              administrator would run. With `sudo: true` ordo runs it itself, as root through `sudo -n` \
              (apt-get install -y with DEBIAN_FRONTEND=noninteractive, or dnf install -y). The function is \
              `packages`, not `package`: that is a reserved word in Rhai.",
    options: &[
        OptionDoc {
            name: "absent",
            kind: "array of strings",
            text: "packages that must not be installed (removed with `sudo: true`, never purged)",
        },
        OptionDoc {
            name: "sudo",
            kind: "bool",
            text: "install and remove them as root (`sudo -n`) instead of stopping; shown as [sudo] in the plan",
        },
    ],
    example: "c.add(packages([\"libpq5 (>= 15)\", \"curl\"], #{ absent: [\"telnet\"] }));",
};

/// `packages` in [`KINDS`](super::KINDS): it owns no path.
pub const KIND: super::Kind = super::Kind { doc: &DOC, owns: None };

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_path::HostPath;
    use base64::Engine;

    #[test]
    fn names_and_constraints_parse() {
        let w = Wanted::parse("libpq5 (>= 15)").unwrap();
        assert_eq!((w.name.as_str(), w.constraint.as_ref().unwrap().op), ("libpq5", Op::Ge));
        assert_eq!(w.to_string(), "libpq5 (>= 15)");
        assert_eq!(Wanted::parse("libpq5>=15").unwrap(), w);
        assert_eq!(Wanted::parse("libpq5 >= 15").unwrap(), w);
        assert_eq!(Wanted::parse("libc6:amd64").unwrap().name, "libc6:amd64");
        assert_eq!(Wanted::parse("x (<< 2)").unwrap().constraint.unwrap().op, Op::Lt);
        assert!(Wanted::parse("-rf").is_err());
        assert!(Wanted::parse("a; rm -rf /").is_err());
        assert!(Wanted::parse("a (~> 1)").is_err());
        assert!(Wanted::parse("a (>= 1 2)").is_err());
    }

    fn facts(answer: &str, sudo: &str) -> Facts {
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        Facts::parse(&format!(
            "uid 1000\nG packages {}\nG sudo {}\nend\n",
            b(answer),
            b(sudo)
        ))
        .unwrap()
    }

    fn check(p: &Packages, f: &Facts) -> Result<Option<Planned>, String> {
        let root = HostPath::new("~").unwrap();
        p.verify(&crate::primitive::testing::ctx_id(0, &root, None), f)
    }

    #[test]
    fn a_prerequisite_names_the_admin_command() {
        let p = Packages::new(
            vec![Wanted::parse("curl").unwrap(), Wanted::parse("libpq5 (>= 15)").unwrap()],
            vec!["telnet".into()],
            false,
        );
        let host = "manager dpkg\ninstaller apt-get\nlibpq5\tinstall ok installed\t13.2-1\ntelnet\tinstall ok installed\t0.17\n";
        let err = check(&p, &facts(host, "ok\n")).unwrap_err();
        assert!(
            err.contains("install curl, libpq5 (>= 15) (has 13.2-1); remove telnet"),
            "{err}"
        );
        assert!(
            err.contains(
                "`sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y curl libpq5 && \
                 sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y telnet`"
            ),
            "{err}"
        );
        let done =
            "manager dpkg\ninstaller apt-get\ncurl\tinstall ok installed\t7.88\nlibpq5\tinstall ok installed\t15.4-1\n";
        assert_eq!(check(&p, &facts(done, "ok\n")), Ok(None));
    }

    #[test]
    fn with_sudo_it_plans_the_change_when_sudo_works() {
        let p = Packages::new(vec![Wanted::parse("curl").unwrap()], vec![], true);
        let host = "manager rpm\ninstaller dnf\n";
        let planned = check(&p, &facts(host, "ok\n")).unwrap().unwrap();
        assert_eq!(planned.detail.as_deref(), Some("install curl"));
        let err = check(&p, &facts(host, "no deploy\nsudo: a password is required\n")).unwrap_err();
        assert!(err.contains("deploy ALL=(root) NOPASSWD: /bin/sh -s"), "{err}");
    }
}
