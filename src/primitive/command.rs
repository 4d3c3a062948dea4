//! `command`: a shell command that runs when it is needed — when a path it
//! `creates` is missing, when its `unless` check fails, when a step it watches
//! (`on_change`) changed, or on every deploy when it says `always`. It runs with
//! `sh -c` in its directory, stdin from /dev/null, umask 022, under a timeout that
//! kills its whole process group.

use std::time::Duration;

use super::{Doc, OptionDoc, Planned, Primitive, StepCtx, timed_out};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, ProbeScript, StepFact};
use crate::shell::{quote_always, word};

#[derive(Debug)]
pub struct Command {
    pub name: String,
    pub run: String,
    pub cwd: HostPath,
    pub unless: Option<String>,
    pub creates: Option<HostPath>,
    /// Runs on every deploy (no guard): declared explicitly by the script.
    pub always: bool,
    /// Overrides the run's default command timeout.
    pub timeout: Option<Duration>,
    /// Runs as root (`sudo -n`); its `unless` check still runs as the login user.
    pub sudo: bool,
}

impl Primitive for Command {
    fn kind(&self) -> &'static str {
        "command"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn reacts_to_changes(&self) -> bool {
        true
    }

    fn privileged(&self) -> bool {
        self.sudo
    }

    fn probe(&self, step: &StepCtx<'_>, probe: &mut ProbeScript) {
        if self.sudo {
            super::privilege::probe(probe);
        }
        if let Some(c) = &self.creates {
            probe.exists(step.id, "creates", c);
        }
        if let Some(u) = &self.unless {
            probe.exit_code(step.id, "unless", &self.cwd, u);
        }
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let planned = self.needed(step, facts)?;
        super::privilege::guard(self.sudo, planned, facts)
    }

    fn apply(&self, step: &StepCtx<'_>, _planned: &Planned, _facts: &Facts, script: &mut ApplyScript) {
        script.function("c", COMMAND_SH);
        let marker = step.marker.map_or_else(|| "''".to_string(), word);
        let timeout = self.timeout.unwrap_or(step.timeout).as_secs().max(1);
        script.line(&format!(
            "c {} {} {} {marker} {timeout}",
            step.id,
            word(&self.cwd),
            quote_always(&self.run)
        ));
    }
}

impl Command {
    /// Whether it must run, before asking whether it may (sudo).
    fn needed(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        if let Some(reason) = step.trigger {
            return Ok(Some(Planned::run(reason)));
        }
        if self.always {
            return Ok(Some(Planned::run("runs on every deploy (always: true)")));
        }
        if let Some(c) = &self.creates
            && facts.step(step.id, "creates").is_none()
        {
            return Ok(Some(Planned::run(format!("{c} does not exist"))));
        }
        if self.unless.is_some() {
            match facts.step(step.id, "unless") {
                Some(StepFact::Code(0)) => {}
                Some(StepFact::Code(c)) if timed_out(*c) => {
                    return Err(format!(
                        "its `unless` check did not finish within {} s and was stopped",
                        step.timeout.as_secs()
                    ));
                }
                Some(StepFact::Code(_)) => return Ok(Some(Planned::run("its `unless` check failed"))),
                Some(StepFact::CannotEnter) => {
                    return Err(format!("its `unless` check cannot enter its directory {}", self.cwd));
                }
                _ => return Err("the probe did not run its `unless` check".into()),
            }
        }
        Ok(None)
    }
}

/// Runs the command in its directory (created if missing) under `timeout`, which
/// kills its process group when time is up; removes its pending marker after it
/// succeeded. The command text goes through a private file, never an argument: a
/// secret in it must not show in the host's process list. In the background
/// (`$P`), so that a stop of the script reaches it through the script's signal trap
/// (timeout's group is not the script's).
const COMMAND_SH: &str = r#"c() {
  pd "$1" "$2"
  printf '%s' "$3" > "$T/cmd"
  ( cd -- "$2" || exit 1; umask 022; tmo 10 "$5" sh "$T/cmd" ) </dev/null >"$O" 2>&1 &
  P=$!; wait "$P"; r=$?; P=; [ -z "$ub" ] || [ "$r" != 143 ] || r=124
  if [ $r -eq 124 ] || [ $r -eq 137 ]; then echo "ordo: stopped after $5 s (timeout)" >> "$O"; fi
  [ $r -eq 0 ] || fail "$1" $r
  [ -z "$4" ] || rm -f -- "$4"
  echo "$1 ok"
}"#;

pub const DOC: Doc = Doc {
    name: "command",
    signatures: &["command(name, #{ run, creates | unless | on_change | always, cwd, timeout, sudo })"],
    summary: "A shell command, run with `sh -c` in the component's root (or `cwd`) when it is needed. \
              It must say when: `creates` (skip when the path exists), `unless` (skip when that check \
              exits 0), `on_change` (run after those steps changed) or `always: true`. A command that \
              fails stops its host; one triggered by a change stays pending on the host until it \
              succeeds. Guards and commands are stopped, with their whole process group, after \
              `timeout` seconds (default: `--timeout`).",
    options: &[
        OptionDoc {
            name: "run",
            kind: "string",
            text: "the shell command",
        },
        OptionDoc {
            name: "creates",
            kind: "string",
            text: "a path the command creates: it runs only while the path is missing",
        },
        OptionDoc {
            name: "unless",
            kind: "string",
            text: "a shell check: the command runs only when it exits non-zero",
        },
        OptionDoc {
            name: "on_change",
            kind: "step or array of steps",
            text: "run after any of these steps (of the same component) changed",
        },
        OptionDoc {
            name: "always",
            kind: "bool",
            text: "run on every deploy",
        },
        OptionDoc {
            name: "cwd",
            kind: "string",
            text: "the directory to run in, relative to the component's root",
        },
        OptionDoc {
            name: "timeout",
            kind: "integer (seconds)",
            text: "stop the command (and its `unless` check) after this long",
        },
        OptionDoc {
            name: "sudo",
            kind: "bool",
            text: "run it as root (`sudo -n`), in a script of its own; `unless` and `creates` are still checked \
                   as the login user. Shown as [sudo] in the plan",
        },
    ],
    example: "c.add(command(\"migrate\", #{ run: \"bin/migrate\", on_change: [conf] }));",
};

/// `command` in [`KINDS`](super::KINDS): it owns no path.
pub const KIND: super::Kind = super::Kind { doc: &DOC, owns: None };

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> Command {
        Command {
            name: "x".into(),
            run: "true".into(),
            cwd: HostPath::new("~/d").unwrap(),
            unless: Some("test -f ok".into()),
            creates: None,
            always: false,
            timeout: None,
            sudo: false,
        }
    }

    fn ctx<'a>(root: &'a HostPath, trigger: Option<&'a str>) -> StepCtx<'a> {
        StepCtx {
            timeout: Duration::from_secs(30),
            ..crate::primitive::testing::ctx_id(2, root, trigger)
        }
    }

    #[test]
    fn unless_decides_and_triggers_win() {
        let root = HostPath::new("~/d").unwrap();
        let ok = Facts::parse("R 2 unless 0\nend\n").unwrap();
        let failed = Facts::parse("R 2 unless 1\nend\n").unwrap();
        let hung = Facts::parse("R 2 unless 124\nend\n").unwrap();
        assert_eq!(cmd().verify(&ctx(&root, None), &ok).unwrap(), None);
        assert!(cmd().verify(&ctx(&root, None), &failed).unwrap().is_some());
        assert!(cmd().verify(&ctx(&root, None), &hung).unwrap_err().contains("30 s"));
        let p = cmd().verify(&ctx(&root, Some("file a changed")), &ok).unwrap().unwrap();
        assert_eq!(p.detail.as_deref(), Some("file a changed"));
    }
}
