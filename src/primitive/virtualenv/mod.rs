//! `virtualenv`: a Python environment the deployment owns, built from its
//! requirements — from a wheelhouse of the project (uploaded with the same staged,
//! checked writes as files; only changed wheels travel) with `--no-index
//! --find-links`, or from the host's index settings.
//!
//! Verify needs no pip: the probe reads the interpreter's version (`python
//! --version`, the one process a virtualenv adds to a probe) and the record ordo
//! leaves in the environment (`.ordo-venv`: interpreter, version, hash of the
//! requirements and wheels). A different interpreter path or major.minor version
//! rebuilds; a different hash updates; otherwise nothing runs.
//!
//! Building must not pay for bootstrapping pip (decisions, "Software assembly"):
//! `uv` when the host has it (`uv venv` + `uv pip install --offline`), else
//! `python -m venv --without-pip` and the pip wheel Debian bundles
//! (`/usr/share/python-wheels`), run from the wheel by the new environment's
//! interpreter, else `ensurepip`.

mod build;
mod found;
pub mod requirements;

use std::sync::Arc;

use build::BUILD_SH;
pub(crate) use found::Host;
use found::{Decision, Found, Tool, Work, version};

use super::{Change, Doc, Managed, ManagedKind, OptionDoc, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::{ApplyScript, Expect};
use crate::shell::probe::{Facts, PathKind, ProbeScript, StepFact};
use crate::shell::{heredoc, quote, quote_always, word};
use crate::sys::sha256_hex;

/// Which interpreter builds the environment: a command looked up on the host's
/// PATH (`python3.11`) or a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interpreter {
    Command(String),
    Path(HostPath),
}

impl Interpreter {
    fn word(&self) -> String {
        match self {
            Interpreter::Command(c) => quote(c),
            Interpreter::Path(p) => word(p),
        }
    }

    fn shown(&self) -> String {
        match self {
            Interpreter::Command(c) => c.clone(),
            Interpreter::Path(p) => p.to_string(),
        }
    }
}

/// How to build: `Auto` takes the fastest the host offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installer {
    Auto,
    Uv,
    Pip,
    Ensurepip,
}

impl Installer {
    pub fn parse(s: &str) -> Option<Installer> {
        Some(match s {
            "auto" => Installer::Auto,
            "uv" => Installer::Uv,
            "pip" => Installer::Pip,
            "ensurepip" => Installer::Ensurepip,
            _ => return None,
        })
    }
}

/// One wheel of the project's wheelhouse.
#[derive(Clone, Debug)]
pub struct Wheel {
    pub name: String,
    pub content: Arc<[u8]>,
    pub sha: String,
}

impl Wheel {
    pub fn new(name: String, content: Arc<[u8]>) -> Wheel {
        Wheel {
            sha: sha256_hex(&content),
            name,
            content,
        }
    }
}

#[derive(Debug)]
pub struct Virtualenv {
    pub name: String,
    pub path: HostPath,
    pub python: Interpreter,
    /// The requirements file's text.
    pub requirements: Arc<[u8]>,
    /// Where the wheels go on the host, and the wheels.
    pub wheelhouse: Option<(HostPath, Vec<Wheel>)>,
    pub installer: Installer,
    /// Where uv is, when not on PATH, `~/.local/bin` or `~/.cargo/bin`.
    pub uv: Option<Interpreter>,
}

impl Virtualenv {
    /// What the environment is built from: requirements and wheels. A change
    /// updates the environment.
    pub fn hash(&self) -> String {
        let mut text = Vec::new();
        text.extend_from_slice(b"requirements\0");
        text.extend_from_slice(&self.requirements);
        text.extend_from_slice(b"\0wheels\0");
        match &self.wheelhouse {
            Some((_, wheels)) => {
                for w in wheels {
                    text.extend_from_slice(format!("{} {}\n", w.name, w.sha).as_bytes());
                }
            }
            None => text.extend_from_slice(b"the host's index\n"),
        }
        sha256_hex(&text)
    }

    fn probe_sh(&self) -> String {
        let v = word(&self.path);
        format!(
            "{}if [ -L {v} ] || {{ [ -e {v} ] && [ ! -d {v} ]; }}; then echo 'env other'; elif [ -x {v}/bin/python ]; then echo 'env ok'; elif [ -d {v} ]; then echo 'env broken'; else echo 'env absent'; fi\n\
             if [ -f {v}/.ordo-venv ]; then while IFS= read -r l || [ -n \"$l\" ]; do printf 'record %s\\n' \"$l\"; done < {v}/.ordo-venv; fi\n",
            self.tools_sh()
        )
    }

    /// What the probe asks about the host's interpreter and the tools that can
    /// build (the interpreter's `--version` is the one process): `python`,
    /// `version`, `uv` and `pipwheel` lines. Needs [`WHICH_SH`] as `wh`.
    pub(crate) fn tools_sh(&self) -> String {
        let mut s = format!(
            "wh {py}; if [ -n \"$wp\" ]; then p=$wp; printf 'python %s\\nversion ' \"$p\"; \"$p\" --version 2>&1; else echo 'python -'; fi\n",
            py = self.python.word()
        );
        if matches!(self.installer, Installer::Auto | Installer::Uv) {
            match &self.uv {
                Some(uv) => s.push_str(&format!("wh {}; [ -z \"$wp\" ] || echo \"uv $wp\"\n", uv.word())),
                None => s.push_str(
                    "wh uv; if [ -n \"$wp\" ]; then echo \"uv $wp\"; elif [ -x ./.local/bin/uv ]; then echo \"uv $PWD/.local/bin/uv\"; \
                     elif [ -x ./.cargo/bin/uv ]; then echo \"uv $PWD/.cargo/bin/uv\"; fi\n",
                ),
            }
        }
        if matches!(self.installer, Installer::Auto | Installer::Pip) {
            s.push_str("for w in /usr/share/python-wheels/pip-*.whl; do if [ -f \"$w\" ]; then echo \"pipwheel $w\"; fi; done\n");
        }
        s
    }

    fn tool(&self, found: &Found) -> Result<Tool, String> {
        let uv = found.uv.clone().map(Tool::Uv);
        let wheel = found.pip_wheel.clone().map(Tool::PipWheel);
        match self.installer {
            Installer::Auto => Ok(uv.or(wheel).unwrap_or(Tool::Ensurepip)),
            Installer::Uv => uv.ok_or_else(|| {
                format!(
                    "`installer: \"uv\"`, but the host has no uv ({}); install it (`pip install uv` into a \
                     tool location, or uv's installer), or drop `installer` to build with pip",
                    match &self.uv {
                        Some(u) => format!("`{}` is not there", u.shown()),
                        None => "not on PATH, ~/.local/bin or ~/.cargo/bin".to_string(),
                    }
                )
            }),
            Installer::Pip => Ok(wheel.unwrap_or(Tool::Ensurepip)),
            Installer::Ensurepip => Ok(Tool::Ensurepip),
        }
    }

    /// The wheels whose content on the host differs from the project's.
    pub(crate) fn wheels_to_upload<'a>(&'a self, facts: &Facts) -> Vec<&'a Wheel> {
        let Some((dir, wheels)) = &self.wheelhouse else {
            return Vec::new();
        };
        wheels
            .iter()
            .filter(|w| {
                let found = facts.path(&dir.join(&w.name));
                found.kind != PathKind::File || found.sha.as_deref() != Some(w.sha.as_str())
            })
            .collect()
    }

    /// The interpreter the host has, its version and the tool that builds, from
    /// the answer to [`tools_sh`](Self::tools_sh): what verify refuses when the
    /// host cannot build (no interpreter, no uv where it is asked for).
    fn host(&self, found: &Found) -> Result<Host, String> {
        let Some(python) = found.python.clone() else {
            return Err(format!(
                "the interpreter `{}` is not on the host (looked up on the PATH of a non-interactive login); \
                 install it, or give `python` as a path",
                self.python.shown()
            ));
        };
        let said = found.version.as_deref().unwrap_or("");
        let Some((full, minor)) = version(said) else {
            return Err(format!(
                "`{python} --version` said `{}`, which is not a Python version",
                crate::text::visible(said, false)
            ));
        };
        let tool = self.tool(found)?;
        Ok(Host {
            python,
            version: full,
            minor,
            tool,
        })
    }

    /// The host's interpreter and tool for a release set, which builds a new
    /// environment in each release (decision 62): `answer` is what
    /// [`tools_sh`](Self::tools_sh) printed.
    pub(crate) fn host_for_release(&self, answer: &str) -> Result<Host, String> {
        self.host(&Found::read(answer))
    }

    /// What must happen, from the probe's answer (verify and apply agree on it).
    fn decide(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Decision, String> {
        let found = self.found(step, facts)?;
        let Host {
            python,
            version: full,
            minor,
            tool,
        } = self.host(&found)?;
        let work = match found.env.as_str() {
            "other" => Work::Conflict(format!(
                "{} is a symlink or not a directory (ordo builds the environment itself)",
                self.path
            )),
            "absent" => Work::Create,
            _ if found.record.is_empty() => Work::Conflict(format!(
                "{} exists, but ordo did not build it (no .ordo-venv record): move it away, or give the \
                 virtualenv another path",
                self.path
            )),
            _ if found.record.first().map(String::as_str) == Some("building") => {
                Work::Rebuild("the last build did not finish".into())
            }
            "ok" => {
                let old_python = found.recorded("python").unwrap_or("?");
                let old = found.recorded("version").unwrap_or("?");
                if old_python != python {
                    Work::Rebuild(format!("built with {old_python}, now {python}"))
                } else if version(&format!("Python {old}")).map(|(_, m)| m) != Some(minor) {
                    Work::Rebuild(format!("python {old} → {full}"))
                } else if found.recorded("hash") != Some(self.hash().as_str()) {
                    Work::Update
                } else {
                    Work::Nothing
                }
            }
            _ => Work::Rebuild("its python no longer runs".into()),
        };
        Ok(Decision {
            work,
            python,
            version: full,
            tool,
        })
    }

    fn found(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Found, String> {
        match facts.step(step.id, "venv") {
            Some(StepFact::Value(v)) => Ok(Found::read(&String::from_utf8_lossy(v))),
            _ => Err("the probe did not look at the environment (a bug in ordo)".into()),
        }
    }
}

impl Primitive for Virtualenv {
    fn kind(&self) -> &'static str {
        "virtualenv"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn managed(&self) -> Option<Managed> {
        Some(Managed {
            path: self.path.clone(),
            kind: ManagedKind::Virtualenv,
            shareable: None,
        })
    }

    fn exports(&self) -> Vec<(&'static str, String)> {
        vec![
            ("bin", self.path.join("bin").to_string()),
            ("python", self.path.join("bin/python").to_string()),
        ]
    }

    fn probe(&self, step: &StepCtx<'_>, probe: &mut ProbeScript) {
        probe.function("wh", WHICH_SH);
        probe.fact(step.id, "venv", &self.probe_sh());
        if let Some((dir, wheels)) = &self.wheelhouse {
            for w in wheels {
                probe.hash(&dir.join(&w.name), &w.sha, false);
            }
        }
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let d = self.decide(step, facts)?;
        let uploads = match self.wheels_to_upload(facts).len() {
            0 => String::new(),
            1 => ", 1 wheel to upload".to_string(),
            n => format!(", {n} wheels to upload"),
        };
        let building = format!("python {}, {}{uploads}", d.version, d.tool.shown());
        Ok(match d.work {
            Work::Nothing => None,
            Work::Conflict(why) => Some(Planned::conflict(why)),
            Work::Create => Some(Planned::new(Change::Create).detail(building)),
            Work::Rebuild(why) => Some(Planned::new(Change::Update).detail(format!("rebuild: {why}; {building}"))),
            Work::Update => Some(Planned::new(Change::Update).detail(format!(
                "requirements changed: install again with {}{uploads}",
                d.tool.shown()
            ))),
        })
    }

    fn apply(&self, step: &StepCtx<'_>, _planned: &Planned, facts: &Facts, script: &mut ApplyScript) {
        let Ok(Decision {
            work,
            python,
            version: full,
            tool,
        }) = self.decide(step, facts)
        else {
            return;
        };
        let mode = match work {
            Work::Nothing | Work::Conflict(_) => return,
            Work::Create => "create",
            Work::Rebuild(_) => "rebuild",
            Work::Update => "update",
        };
        // Changed wheels first, staged and checked like files.
        if let Some((dir, _)) = &self.wheelhouse {
            for w in self.wheels_to_upload(facts) {
                let target = dir.join(&w.name);
                let was = facts.path(&target);
                let expect = match (was.kind, &was.sha) {
                    (PathKind::File, Some(sha)) => Expect::File { sha: sha.clone() },
                    _ => Expect::Absent,
                };
                script.file(step.id, &target, w.content.clone(), 0o644, None, expect);
            }
        }
        self.build(step.id, step.timeout, &self.path, mode, &python, &full, &tool, script);
        script.line(&format!("echo '{} ok'", step.id));
    }
}

impl Virtualenv {
    /// The line that builds (`mode` create or rebuild) or updates the environment
    /// at `path` with `tool`; the wheels must be in the wheelhouse directory
    /// already. It fails the step `id` on an error and says nothing otherwise.
    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        id: crate::ids::StepId,
        timeout: std::time::Duration,
        path: &HostPath,
        mode: &str,
        python: &str,
        full: &str,
        tool: &Tool,
        script: &mut ApplyScript,
    ) {
        let (wheelhouse, keep) = match &self.wheelhouse {
            Some((dir, wheels)) => (
                word(dir),
                wheels.iter().map(|w| w.name.as_str()).collect::<Vec<_>>().join("\n"),
            ),
            None => ("''".into(), String::new()),
        };
        let record = format!(
            "ordo-venv 1\npython {python}\nversion {full}\nhash {}\ninstaller {}\n",
            self.hash(),
            tool.shown()
        );
        let requirements = format!("\"$T/r{id}\"");
        script.function("vb", BUILD_SH);
        script.line(&format!(
            "base64 -d > {requirements} <<'ORDO_EOF' || fail {id} 1\n{}vb {id} {timeout} {} {} {} {wheelhouse} {mode} {requirements} {} {}",
            heredoc(&self.requirements),
            word(path),
            quote(python),
            quote(&tool.arg()),
            quote_always(&record),
            quote_always(&keep),
            timeout = timeout.as_secs().max(1),
        ));
    }

    /// The line that builds a new environment at `path` for a release set
    /// (decision 62), with what [`host_for_release`](Self::host_for_release)
    /// found; the wheels must be in the wheelhouse directory already.
    pub(crate) fn build_for_release(
        &self,
        id: crate::ids::StepId,
        timeout: std::time::Duration,
        path: &HostPath,
        host: &Host,
        script: &mut ApplyScript,
    ) {
        self.build(
            id,
            timeout,
            path,
            "create",
            &host.python,
            &host.version,
            &host.tool,
            script,
        );
    }
}

/// `wh NAME`: sets `wp` to the absolute path `command -v NAME` would find (a
/// command on PATH, or a path when NAME has a `/`), or to nothing. The PATH
/// walk uses builtins only: `$(command -v ..)` forks a subshell, and the uv path
/// paid one more of those per probe than the pip path (decision 49).
pub(crate) const WHICH_SH: &str = r#"wh() { wp=; case $1 in */*) [ -d "$1" ] || [ ! -x "$1" ] || wp=$1 ;; *) wo=$IFS; IFS=:; set -f; for wd in $PATH; do wd=${wd:-.}; if [ -f "$wd/$1" ] && [ -x "$wd/$1" ]; then wp=$wd/$1; break; fi; done; set +f; IFS=$wo ;; esac; case $wp in ''|/*) ;; *) wp=$PWD/${wp#./} ;; esac; }"#;

/// Removes an environment no step declares any more — only when it holds ordo's
/// record (ordo built it), with everything in it — and the wheels ordo uploaded
/// next to it (`<path>.wheels/*.whl`, then the directory if that emptied it).
pub(crate) fn removal(r: &super::Removal, step: crate::ids::StepId, script: &mut ApplyScript) {
    script.function("rv_", REMOVE_SH);
    script.line(&format!("rv_ {step} {}", crate::shell::word(&r.path)));
}

const REMOVE_SH: &str = r#"rv_() {
  if [ -d "$2" ] && [ ! -L "$2" ] && [ -f "$2/.ordo-venv" ] && [ ! -L "$2/.ordo-venv" ]; then
    rm -rf -- "$2" >"$O" 2>&1 || fail "$1" 1
  fi
  if [ -d "$2.wheels" ] && [ ! -L "$2.wheels" ]; then
    for w in "$2.wheels"/*.whl; do if [ -f "$w" ] && [ ! -L "$w" ]; then rm -f -- "$w"; fi; done
    rmdir -- "$2.wheels" 2>/dev/null || :
  fi
  echo "$1 ok"
}"#;

pub const DOC: Doc = Doc {
    name: "virtualenv",
    signatures: &[
        "virtualenv(path)",
        "virtualenv(path, #{ python, requirements, wheelhouse, installer, uv })",
    ],
    summary: "A Python virtual environment at `path` (relative to the component's root), owned by the \
              deployment. Verify runs no pip: it compares the interpreter (path and major.minor version) and \
              a hash of the requirements and wheels with what ordo recorded in the environment \
              (`.ordo-venv`); a different interpreter rebuilds it, different requirements or wheels \
              install again, otherwise nothing runs. With a `wheelhouse`, its wheels are uploaded next to \
              the environment (`venv.wheels` for `venv`; only changed ones travel, and the host's copy \
              mirrors the project's) and installed with `--no-index --find-links`; without one, pip or uv use the \
              host's index settings. Built with `uv` when the host has it, else `python -m venv \
              --without-pip` and the pip wheel Debian bundles in /usr/share/python-wheels, else \
              `ensurepip`. What `c.add(..)` returns has `.path`, `.bin` and `.python`.",
    options: &[
        OptionDoc {
            name: "python",
            kind: "string",
            text: "the interpreter: a command on the host's PATH (\"python3.11\") or a path; default \"python3\"",
        },
        OptionDoc {
            name: "requirements",
            kind: "array of strings, or string",
            text: "requirement lines ([\"app==1.2\"]), or a requirements/lock file of the project \
                   (\"requirements.lock\"); hashes (--hash) work, includes (-r) do not",
        },
        OptionDoc {
            name: "wheelhouse",
            kind: "string",
            text: "a directory of the project holding the wheels to install from (no index is used); \
                   every requirement must have a wheel there (an equal version when pinned), which \
                   `ordo check` verifies",
        },
        OptionDoc {
            name: "installer",
            kind: "\"auto\", \"uv\", \"pip\" or \"ensurepip\"",
            text: "force a way of building: \"pip\" is the bundled pip wheel, else ensurepip; default \"auto\" \
                   (uv, then the bundled wheel, then ensurepip)",
        },
        OptionDoc {
            name: "uv",
            kind: "string",
            text: "where uv is on the host, when it is not on PATH, ~/.local/bin or ~/.cargo/bin",
        },
    ],
    example: "let venv = c.add(virtualenv(\"venv\", #{ requirements: \"requirements.lock\", wheelhouse: \"wheels\" }));",
};

/// A virtualenv no step declares any more is removed with everything in it,
/// while it still holds ordo's record ([`removal`]).
pub const OWNS: super::Owns = super::Owns {
    kind: ManagedKind::Virtualenv,
    found: PathKind::Dir,
    remove: removal,
};

/// `virtualenv` in [`KINDS`](super::KINDS).
pub const KIND: super::Kind = super::Kind {
    doc: &DOC,
    owns: Some(&OWNS),
};

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn env() -> Virtualenv {
        Virtualenv {
            name: "venv".into(),
            path: HostPath::new("~/app/venv").unwrap(),
            python: Interpreter::Command("python3".into()),
            requirements: b"hello==1.0\n".to_vec().into(),
            wheelhouse: None,
            installer: Installer::Auto,
            uv: None,
        }
    }

    fn check(v: &Virtualenv, answer: &str) -> Result<Option<Planned>, String> {
        let b = base64::engine::general_purpose::STANDARD.encode(answer);
        let facts = Facts::parse(&format!("uid 1000\nV 3 venv {b}\nend\n")).unwrap();
        let root = HostPath::new("~/app").unwrap();
        v.verify(&crate::primitive::testing::ctx_id(3, &root, None), &facts)
    }

    #[test]
    fn the_record_decides_between_nothing_update_and_rebuild() {
        let v = env();
        let host = "python /usr/bin/python3\nversion Python 3.11.2\nuv /usr/local/bin/uv\n";
        let p = check(&v, &format!("{host}env absent\n")).unwrap().unwrap();
        assert_eq!(
            (p.change, p.detail.as_deref()),
            (Change::Create, Some("python 3.11.2, uv"))
        );
        let record = |python: &str, version: &str, hash: &str| {
            format!(
                "{host}env ok\nrecord ordo-venv 1\nrecord python {python}\nrecord version {version}\nrecord hash {hash}\n"
            )
        };
        assert_eq!(
            check(&v, &record("/usr/bin/python3", "3.11.7", &v.hash())),
            Ok(None),
            "patch versions keep it"
        );
        let p = check(&v, &record("/usr/bin/python3", "3.11.2", "old"))
            .unwrap()
            .unwrap();
        assert!(p.detail.unwrap().starts_with("requirements changed"));
        let p = check(&v, &record("/usr/bin/python3", "3.10.12", &v.hash()))
            .unwrap()
            .unwrap();
        assert!(p.detail.unwrap().starts_with("rebuild: python 3.10.12 → 3.11.2"));
        let p = check(&v, &record("/opt/py/bin/python3", "3.11.2", &v.hash()))
            .unwrap()
            .unwrap();
        assert!(p.detail.unwrap().starts_with("rebuild: built with /opt/py/bin/python3"));
        let p = check(&v, &format!("{host}env ok\nrecord building\n")).unwrap().unwrap();
        assert!(p.detail.unwrap().contains("did not finish"));
    }

    #[test]
    fn someone_elses_environment_is_not_touched() {
        let host = "python /usr/bin/python3\nversion Python 3.11.2\nenv ok\n";
        assert!(check(&env(), host).unwrap().unwrap().change.is_conflict());
        let err = check(&env(), "python -\nenv absent\n").unwrap_err();
        assert!(err.contains("`python3` is not on the host"), "{err}");
    }

    #[test]
    fn finding_the_tools_forks_nothing_whichever_the_installer() {
        for installer in [Installer::Auto, Installer::Uv, Installer::Pip, Installer::Ensurepip] {
            for uv in [None, Some(Interpreter::Path(HostPath::new("~/bin/uv").unwrap()))] {
                let v = Virtualenv { installer, uv, ..env() };
                let sh = v.probe_sh();
                assert!(!sh.contains("$(") && !sh.contains('`'), "{installer:?}: {sh}");
            }
        }
    }

    #[test]
    fn the_path_walk_finds_what_command_v_finds() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let make = |rel: &str, mode: u32| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        make("a/tool", 0o644);
        std::fs::create_dir_all(dir.path().join("b/tool")).unwrap();
        make("c d/tool", 0o755);
        make("e/tool", 0o755);
        let script = format!(
            "{WHICH_SH}\nwh tool; echo \"1 $wp\"; wh nothing; echo \"2 $wp\"; wh ./e/tool; echo \"3 $wp\"; wh ./a/tool; echo \"4 $wp\"; for f in /*; do :; done; echo \"5 $f\""
        );
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path())
            .env("PATH", "a:b:c d:e:/nonexistent*")
            .output()
            .unwrap();
        let base = dir.path().display();
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..4],
            [
                format!("1 {base}/c d/tool").as_str(),
                "2 ",
                format!("3 {base}/e/tool").as_str(),
                "4 ",
            ]
        );
        assert_ne!(lines[4], "5 /*", "globbing is back on after the walk");
    }

    #[test]
    fn the_fastest_tool_wins_unless_told() {
        let both = Found::read("uv /u/uv\npipwheel /usr/share/python-wheels/pip-23.0.1-py3-none-any.whl\n");
        let mut v = env();
        assert_eq!(v.tool(&both), Ok(Tool::Uv("/u/uv".into())));
        v.installer = Installer::Pip;
        assert!(matches!(v.tool(&both), Ok(Tool::PipWheel(_))));
        v.installer = Installer::Uv;
        assert!(v.tool(&Found::read("")).unwrap_err().contains("has no uv"));
        v.installer = Installer::Auto;
        assert_eq!(v.tool(&Found::read("")), Ok(Tool::Ensurepip));
    }
}
