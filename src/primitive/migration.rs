//! `migration`: a command that changes shared data (a database schema), run on one
//! host per deploy (`once: true`, or the first host with a role), ordered after
//! the steps before it in its component (the new code) and before the steps after
//! it on every host that runs the component (the programs that need the new
//! schema). Its `unless` check says whether anything is pending; after a step it
//! watches (`on_change`) changed, the check runs again right before it, so new
//! code brings its migrations along. Its output is shown.

use std::time::Duration;

use super::{Doc, OptionDoc, Planned, Primitive, StepCtx, timed_out};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, ProbeScript, StepFact};
use crate::shell::{quote_always, word};

#[derive(Debug)]
pub struct Migration {
    pub name: String,
    pub run: String,
    /// Exits 0 when nothing is pending.
    pub unless: Option<String>,
    pub cwd: HostPath,
    pub timeout: Option<Duration>,
}

impl Primitive for Migration {
    fn kind(&self) -> &'static str {
        "migration"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn reacts_to_changes(&self) -> bool {
        true
    }

    fn probe(&self, step: &StepCtx<'_>, probe: &mut ProbeScript) {
        if let Some(u) = &self.unless {
            probe.exit_code(step.id, "unless", &self.cwd, u);
        }
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        if let Some(reason) = step.trigger {
            let detail = match &self.unless {
                Some(_) => format!("{reason}; runs if its check then finds work"),
                None => reason.to_string(),
            };
            return Ok(Some(Planned::run(detail)));
        }
        if self.unless.is_none() {
            return Ok(None);
        }
        match facts.step(step.id, "unless") {
            Some(StepFact::Code(0)) => Ok(None),
            Some(StepFact::Code(c)) if timed_out(*c) => Err(format!(
                "its `unless` check did not finish within {} s and was stopped",
                step.timeout.as_secs()
            )),
            Some(StepFact::Code(_)) => Ok(Some(Planned::run("its check finds pending migrations"))),
            Some(StepFact::CannotEnter) => Err(format!("its `unless` check cannot enter its directory {}", self.cwd)),
            _ => Err("the probe did not run its `unless` check".into()),
        }
    }

    fn apply(&self, step: &StepCtx<'_>, _planned: &Planned, _facts: &Facts, script: &mut ApplyScript) {
        script.function("mg", MIGRATE_SH);
        let marker = step.marker.map_or_else(|| "''".to_string(), word);
        let timeout = self.timeout.unwrap_or(step.timeout).as_secs().max(1);
        script.line(&format!(
            "mg {} {} {} {} {marker} {timeout}",
            step.id,
            word(&self.cwd),
            quote_always(&self.run),
            quote_always(self.unless.as_deref().unwrap_or(""))
        ));
    }
}

/// `mg ID CWD RUN UNLESS MARKER TIMEOUT`: the check, then (if it fails) the
/// migration, its output reported either way.
const MIGRATE_SH: &str = r#"mg() {
  pd "$1" "$2"
  if [ -n "$4" ] && ( cd -- "$2" || exit 1; tmo 10 "$6" sh -c "$4" ) </dev/null >/dev/null 2>&1; then
    echo "nothing to migrate: its check passes" > "$O"
  else
    ( cd -- "$2" || exit 1; umask 022; tmo 10 "$6" sh -c "$3" ) </dev/null >"$O" 2>&1
    r=$?; [ -z "$ub" ] || [ "$r" != 143 ] || r=124
    if [ $r -eq 124 ] || [ $r -eq 137 ]; then echo "ordo: stopped after $6 s (timeout)" >> "$O"; fi
    [ $r -eq 0 ] || fail "$1" $r
  fi
  out "$1"
  [ -z "$5" ] || rm -f -- "$5"
  echo "$1 ok"
}
"#;

pub const DOC: Doc = Doc {
    name: "migration",
    signatures: &["migration(name, #{ run, unless, on_change, once, role, cwd, timeout })"],
    summary: "A data migration, run on one host per deploy — the first that runs the component (`once: true`) or \
              the first with `role` — after the steps before it and before the steps after it on every host of the \
              component. `unless` is a check that exits 0 when nothing is pending; when a step it watches \
              (`on_change`) changed, the check runs again just before it. Its output is shown.",
    options: &[
        OptionDoc {
            name: "run",
            kind: "string",
            text: "the migration command",
        },
        OptionDoc {
            name: "unless",
            kind: "string",
            text: "a check: exits 0 when nothing is pending",
        },
        OptionDoc {
            name: "on_change",
            kind: "step or array of steps",
            text: "check (and migrate) after any of these steps changed",
        },
        OptionDoc {
            name: "once",
            kind: "bool",
            text: "run on the first host of the component only (the default)",
        },
        OptionDoc {
            name: "role",
            kind: "string",
            text: "run on the first host of the component with this role",
        },
        OptionDoc {
            name: "cwd",
            kind: "string",
            text: "the directory to run in, relative to the component's root",
        },
        OptionDoc {
            name: "timeout",
            kind: "integer (seconds)",
            text: "stop the migration (and its check) after this long",
        },
    ],
    example: "c.add(migration(\"schema\", #{ run: \"python3 app.py migrate\", unless: \"python3 app.py migrate --check\",\n    \
              on_change: [code] }));",
};

/// `migration` in [`KINDS`](super::KINDS): it owns no path.
pub const KIND: super::Kind = super::Kind { doc: &DOC, owns: None };
