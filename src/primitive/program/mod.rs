//! `program`: a supervised long-running process. The script says what runs
//! (command, directory, environment, log, stop signal and timeout, how to reload)
//! and whether it should run; a backend ([`backend`]: supervisord, systemd --user,
//! a plain process) keeps it running. Verify checks, from the one probe, that it
//! runs when it should ([`status`]; its process is known by pid *and* start time,
//! [`identity`]), that it was started from the current definition, and that its
//! health check passes; `restart_on` steps restart it, `reload_on` steps reload it
//! (a signal or a command). Every start, restart and reload waits until the
//! process is there, its health check passes — answered by the program itself
//! ([`listener`]) — and it is still alive: that is what "started" means
//! ([`start`]), and what gates each batch of a rolling update.
//!
//! ordo keeps a record per program in `~/.ordo/<service>/programs/<name>/`: the
//! launcher `run` (the definition as a shell script), a random token that tells
//! this program's processes from any other's, the process the launcher started
//! (`pid`: pid, start time, definition hash), the backend it runs under and its
//! stop settings. The record is the program's managed path: when no step declares
//! the program any more, the removal stops it and deletes the record.

pub mod backend;
pub mod health;
mod identity;
mod listener;
mod start;
mod status;
mod wait;

use std::fmt::Write;

use self::health::Health;
use self::status::Status;
use super::{Change, Doc, Managed, ManagedKind, OptionDoc, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, PathKind, ProbeScript};
use crate::shell::{quote, quote_always, word};

/// Whether the program should run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desired {
    Running,
    Stopped,
}

/// How a program reloads its configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reload {
    /// Send this signal (`HUP`) to its main process.
    Signal(String),
    /// Run this command (`sh -c`, in the program's directory).
    Command(String),
}

#[derive(Debug)]
pub struct Program {
    pub name: String,
    pub command: String,
    pub cwd: HostPath,
    pub env: Vec<(String, String)>,
    pub log: HostPath,
    pub stop_signal: String,
    pub stop_timeout: u64,
    pub reload: Reload,
    pub desired: Desired,
    /// `None`: the first backend the host can run (see [`backend::ALL`]).
    pub backend: Option<&'static dyn backend::Backend>,
    /// A systemd system unit (`/etc/systemd/system`, `User=` the login user),
    /// written and driven as root through `sudo -n`; the program itself still runs
    /// as the login user.
    pub sudo: bool,
    pub health: Option<Health>,
    /// `~/.ordo/<service>/programs/<name>`.
    pub record: HostPath,
}

impl std::fmt::Debug for dyn backend::Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Program {
    /// The launcher's body after the lines the apply script writes itself (the
    /// home directory and the token): what the definition hash covers.
    pub fn launcher(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "exec >> {} 2>&1", word(&self.log));
        let _ = writeln!(s, "cd -- {} || exit 1", word(&self.cwd));
        for (k, v) in &self.env {
            let _ = writeln!(s, "export {k}={}", quote_always(v));
        }
        let _ = writeln!(s, "exec {}", self.command);
        s
    }

    /// The definition's hash: what the running process must have been started with.
    pub fn hash(&self) -> String {
        let reload = match &self.reload {
            Reload::Signal(s) => format!("signal {s}"),
            Reload::Command(c) => format!("command {c}"),
        };
        let mut text = format!(
            "{}\0{}\0{}\0{reload}",
            self.launcher(),
            self.stop_signal,
            self.stop_timeout
        );
        // A program moving between a user and a system unit is restarted (the
        // hash of a program without sudo stays what it was).
        if self.sudo {
            text.push_str("\0system");
        }
        crate::sys::sha256_hex(text.as_bytes())[..16].to_string()
    }

    /// What `pgpick` gets: `auto-sudo` prefers a system unit where systemd runs.
    fn preference(&self) -> &'static str {
        match (self.backend, self.sudo) {
            (Some(b), _) => b.name(),
            (None, true) => "auto-sudo",
            (None, false) => "auto",
        }
    }
}

/// Adds the removal of a program no step declares any more (its record is at
/// `record`): stops it under the backend it runs under, then deletes the record.
pub(crate) fn removal(r: &super::Removal, step: crate::ids::StepId, script: &mut ApplyScript) {
    removal_functions(script);
    script.line(&format!("pg_rm {step} {}", word(&r.path)));
}

/// `pg_rm ID RECORD`: stops the program whose record directory is RECORD (a
/// `./`-relative path) with its backend, then deletes the record.
pub(crate) fn removal_functions(script: &mut ApplyScript) {
    script.function("pg_backends", &backend::all_functions());
    script.function("pg_rm", REMOVE_SH);
}

const REMOVE_SH: &str = r#"pg_rm() {
  I=$1 R=$2 N=${2##*/} b= t= SIG=TERM STOP=10
  : > "$O"
  pgrr "$R" backend token stop > "$O" || fail "$I" 1
  [ ! -f "$R/backend" ] || read -r b < "$R/backend"
  [ ! -f "$R/token" ] || read -r t < "$R/token"
  [ ! -f "$R/stop" ] || read -r SIG STOP < "$R/stop"
  case $b in process|supervisord|systemd) "${b}_remove" ;; esac
  rm -rf -- "$R" > "$O" 2>&1 || fail "$I" 1
  echo "$I ok"
}
"#;

impl Primitive for Program {
    fn kind(&self) -> &'static str {
        "program"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn managed(&self) -> Option<Managed> {
        Some(Managed {
            path: self.record.clone(),
            kind: ManagedKind::Program,
            shareable: None,
        })
    }

    fn reacts_to_changes(&self) -> bool {
        true
    }

    fn sudo(&self) -> bool {
        self.sudo
    }

    fn probe(&self, step: &StepCtx<'_>, probe: &mut ProbeScript) {
        probe.stat(&self.record);
        if self.sudo {
            super::privilege::probe(probe);
        }
        probe.function("hc", health::HEALTH_SH);
        probe.function("pgid", identity::IDENTITY_SH);
        probe.function("pgs", status::STATUS_SH);
        probe.function("pgpick", pick_sh());
        let health = self
            .health
            .as_ref()
            .map_or_else(|| "none 1 '' '' ''".to_string(), |h| h.args(&self.cwd));
        probe.fact(
            step.id,
            "program",
            &format!(
                "pgs {} {} {} {health}",
                word(&self.record),
                self.hash(),
                self.preference()
            ),
        );
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let planned = self.check(step, facts)?;
        super::privilege::guard(self.sudo, planned, facts)
    }

    fn apply(&self, step: &StepCtx<'_>, planned: &Planned, facts: &Facts, script: &mut ApplyScript) {
        self.apply_change(step, planned, facts, script);
    }
}

impl Program {
    /// What verify says before the `sudo -n` check of a system unit.
    fn check(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let st = Status::parse(facts, step);
        if let Some(why) = &st.unreadable {
            return Err(format!(
                "{why}; restore its mode, or remove the record if the program is gone"
            ));
        }
        let recorded = facts.path(&self.record).kind == PathKind::Dir;
        let backend = self
            .backend
            .map(|b| b.name().to_string())
            .or_else(|| st.recorded.clone())
            .or_else(|| st.detected.clone())
            .unwrap_or_else(|| "process".into());
        let run = |action: &str, why: String| Ok(Some(Planned::run(format!("{action}: {why}"))));
        if self.desired == Desired::Stopped {
            return match st.running {
                Some(_) => run("stop", "it should not run".into()),
                None => Ok(None),
            };
        }
        let linger = if st.linger_off && backend == "systemd" && !self.sudo {
            "; lingering is off for the user, so it stops at logout (loginctl enable-linger)"
        } else if self.sudo && backend != "systemd" {
            "; the host runs no systemd, so `sudo: true` is not used"
        } else {
            ""
        };
        let under = if self.sudo && backend == "systemd" {
            "systemd system unit"
        } else {
            backend.as_str()
        };
        let Some((_, hash)) = &st.running else {
            if !recorded {
                return Ok(Some(
                    Planned::new(Change::Create).detail(format!("start: under {under}{linger}")),
                ));
            }
            return run("start", format!("not running (under {under}){linger}"));
        };
        if let Some(old) = st.recorded.as_deref().filter(|old| *old != backend) {
            return run("restart", format!("moves from {old} to {backend}"));
        }
        if *hash != self.hash() {
            return run("restart", "it was started from another definition".into());
        }
        if let Some(reason) = step.trigger {
            return if step.reload_only {
                run("reload", reason.to_string())
            } else {
                run("restart", reason.to_string())
            };
        }
        if let Some(Err(answer)) = &st.health {
            let first = answer.lines().next().unwrap_or("no answer");
            return run("restart", format!("its health check fails ({first})"));
        }
        Ok(None)
    }

    fn apply_change(&self, step: &StepCtx<'_>, planned: &Planned, facts: &Facts, script: &mut ApplyScript) {
        let st = Status::parse(facts, step);
        let action = match &planned.change {
            Change::Create => "start",
            _ => planned
                .detail
                .as_deref()
                .and_then(|d| d.split_once(':'))
                .map_or("restart", |(a, _)| a),
        };
        let backend = self
            .backend
            .map(|b| b.name().to_string())
            .or_else(|| st.recorded.clone())
            .or_else(|| st.detected.clone())
            .unwrap_or_else(|| "process".into());
        script.function("hc", health::HEALTH_SH);
        script.function("pg_backends", &backend::all_functions());
        script.function("pgsock", listener::SOCKET_SH);
        script.function("pa", start::APPLY_SH);
        let (rk, ra) = match &self.reload {
            Reload::Signal(s) => ("signal", s.clone()),
            Reload::Command(c) => ("command", c.clone()),
        };
        let marker = step.marker.map_or_else(|| "''".to_string(), word);
        let log_dir = self.log.split().0;
        script.line(&format!(
            "I={}; A={action}; B={}; OB={}; R={}; N={}; H={}; SIG={}; STOP={}; RK={rk}; RA={}; MK={marker}; LD={}; CW={}; LOG={}; LOGN={}; SU={}",
            step.id,
            quote(&backend),
            quote(st.recorded.as_deref().unwrap_or("")),
            word(&self.record),
            quote(&self.name),
            self.hash(),
            quote(&self.stop_signal),
            self.stop_timeout,
            quote_always(&ra),
            word(&log_dir),
            word(&self.cwd),
            word(&self.log),
            quote_always(self.log.as_str()),
            if self.sudo { "1" } else { "''" },
        ));
        let wait = match (&self.health, action) {
            (_, "stop") | (None, _) => "''".to_string(),
            (Some(h), _) => {
                let socket = listener::args(h).map(|a| format!(" {a}")).unwrap_or_default();
                quote_always(&format!("{} {}{socket}", h.patience(), h.args(&self.cwd)))
            }
        };
        let hash = self.hash();
        let launcher = format!("{}{}", identity::record_line(&self.record, &hash), self.launcher());
        script.line(&format!("pa {} {wait}", quote_always(&launcher)));
    }
}

/// The backend `auto` would pick, as a probe function.
fn pick_sh() -> &'static str {
    static PICK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PICK.get_or_init(backend::pick_sh)
}

pub const DOC: Doc = Doc {
    name: "program",
    signatures: &[
        "program(name, #{ command, cwd, env, log, stop_signal, stop_timeout, reload, state, backend, sudo, health, restart_on, reload_on })",
    ],
    summary: "A supervised long-running process. `command` runs with `exec` in `cwd` (default: the component's root) \
              with `env` added, its output appended to `log`. ordo starts it when it does not run, restarts it when \
              it was started from another definition, when its health check fails, or when a `restart_on` step \
              changed, and reloads it (`reload`: a signal or a command) when only `reload_on` steps changed. Every \
              start, restart and reload waits until its process is there, `health` passes — an `http_check` or \
              `tcp_check` of an address of the host must be answered by a socket of the program's own — and the \
              process is still alive (without `health`, half a second after it was first seen); else the step fails with the end of its log. Its process is known by pid and \
              start time, never by pid alone. `backend` is `supervisord` (a supervisord of \
              the deployment's own, as the service user), `systemd` (a `systemd --user` unit; with `sudo: true` a system unit with `User=`), `process` (setsid, \
              a pid file and a log) or `auto` (the first of these the host can run). A pending restart or reload \
              survives a deploy that dies before it. When no step declares it any more, it is stopped and forgotten.",
    options: &[
        OptionDoc {
            name: "command",
            kind: "string",
            text: "what runs, as one shell command line started with `exec` (so signals reach it)",
        },
        OptionDoc {
            name: "cwd",
            kind: "string",
            text: "its working directory, relative to the component's root",
        },
        OptionDoc {
            name: "env",
            kind: "map",
            text: "environment variables added to its environment",
        },
        OptionDoc {
            name: "log",
            kind: "string",
            text: "where its output goes, relative to the root (default `~/.ordo/<service>/programs/<name>/output.log`)",
        },
        OptionDoc {
            name: "stop_signal",
            kind: "string",
            text: "the signal that stops it (default `TERM`)",
        },
        OptionDoc {
            name: "stop_timeout",
            kind: "integer (seconds)",
            text: "how long it may take to stop before it is killed (default 10)",
        },
        OptionDoc {
            name: "reload",
            kind: "string or map",
            text: "how it reloads: a signal (`\"HUP\"`, the default) or `#{ run: \"command\" }`",
        },
        OptionDoc {
            name: "state",
            kind: "string",
            text: "`running` (default) or `stopped`",
        },
        OptionDoc {
            name: "backend",
            kind: "string",
            text: "`auto` (default), `supervisord`, `systemd` or `process`",
        },
        OptionDoc {
            name: "sudo",
            kind: "bool",
            text: "with `systemd` (or `auto` where systemd runs): a system unit `/etc/systemd/system/ordo-<login user>-<service>-<name>.service` \
                   with `User=`/`Group=` the login user, written and driven as root (`sudo -n`); the program still runs as the login user. \
                   Shown as [sudo] in the plan",
        },
        OptionDoc {
            name: "health",
            kind: "health check",
            text: "what `http_check(..)`, `tcp_check(..)` or `command_check(..)` returned",
        },
        OptionDoc {
            name: "restart_on",
            kind: "step or array of steps",
            text: "restart it (once) after any of these steps of the component changed",
        },
        OptionDoc {
            name: "reload_on",
            kind: "step or array of steps",
            text: "reload it after any of these changed (a restart wins when both are due)",
        },
    ],
    example: "c.add(program(\"app\", #{ command: \"python3 app.py\", restart_on: [code], reload_on: [conf],\n    \
              health: http_check(\"http://127.0.0.1:8000/health\") }));",
};

/// A program no step declares any more: its record directory is found, and
/// removing it stops the program with its backend ([`removal`]).
pub const OWNS: super::Owns = super::Owns {
    kind: ManagedKind::Program,
    found: PathKind::Dir,
    remove: removal,
};

/// `program` in [`KINDS`](super::KINDS).
pub const KIND: super::Kind = super::Kind {
    doc: &DOC,
    owns: Some(&OWNS),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::testing::{ctx, facts};
    use base64::Engine;

    fn program() -> Program {
        Program {
            name: "app".into(),
            command: "python3 app.py --name 'it''s'".into(),
            cwd: HostPath::new("~/d").unwrap(),
            env: vec![("GREETING".into(), "it's -x".into())],
            log: HostPath::new("~/d/log/app.log").unwrap(),
            stop_signal: "TERM".into(),
            stop_timeout: 10,
            reload: Reload::Signal("HUP".into()),
            desired: Desired::Running,
            backend: None,
            sudo: false,
            health: None,
            record: HostPath::new("~/.ordo/s/programs/app").unwrap(),
        }
    }

    #[test]
    fn a_system_unit_is_another_definition_and_prefers_systemd_where_it_runs() {
        let user = program();
        let system = Program {
            sudo: true,
            ..program()
        };
        assert_ne!(user.hash(), system.hash(), "moving between unit kinds restarts");
        assert_eq!(user.preference(), "auto");
        assert_eq!(system.preference(), "auto-sudo");
        let pick = backend::pick_sh();
        assert!(
            pick.contains("auto-sudo) if [ -d /run/systemd/system ] && command -v systemctl"),
            "{pick}"
        );
    }

    fn status(text: &str) -> String {
        format!(
            "V 7 program {}\n",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }

    #[test]
    fn the_launcher_quotes_the_environment_and_execs_the_command() {
        let l = program().launcher();
        assert!(l.contains("export GREETING='it'\\''s -x'\n"), "{l}");
        assert!(l.ends_with("exec python3 app.py --name 'it''s'\n"), "{l}");
        assert!(l.contains("cd -- ./d || exit 1"), "{l}");
    }

    #[test]
    fn verify_starts_restarts_reloads_or_leaves_it() {
        let root = HostPath::new("~/d").unwrap();
        let p = program();
        let rec = [("d", "700", "./.ordo/s/programs/app", "")];
        let none = facts(&[], &[], &status("detected supervisord\n"));
        let first = p.verify(&ctx(&root, None), &none).unwrap().unwrap();
        assert_eq!(first.change, Change::Create);
        assert_eq!(first.detail.as_deref(), Some("start: under supervisord"));

        let current = facts(
            &rec,
            &[],
            &status(&format!("recorded process\nrunning 42 {}\n", p.hash())),
        );
        assert_eq!(p.verify(&ctx(&root, None), &current).unwrap(), None);

        let old = facts(&rec, &[], &status("recorded process\nrunning 42 0000\n"));
        let planned = p.verify(&ctx(&root, None), &old).unwrap().unwrap();
        assert_eq!(
            planned.detail.as_deref(),
            Some("restart: it was started from another definition")
        );

        let mut c = ctx(&root, Some("file app.ini changed"));
        c.reload_only = true;
        assert_eq!(
            p.verify(&c, &current).unwrap().unwrap().detail.as_deref(),
            Some("reload: file app.ini changed")
        );
        c.reload_only = false;
        assert_eq!(
            p.verify(&c, &current).unwrap().unwrap().detail.as_deref(),
            Some("restart: file app.ini changed")
        );

        let sick = facts(
            &rec,
            &[],
            &status(&format!(
                "recorded process\nrunning 42 {}\nhealth fail {}\n",
                p.hash(),
                base64::engine::general_purpose::STANDARD.encode("HTTP 500 from x:\nboom")
            )),
        );
        assert_eq!(
            p.verify(&ctx(&root, None), &sick).unwrap().unwrap().detail.as_deref(),
            Some("restart: its health check fails (HTTP 500 from x:)")
        );
    }

    #[test]
    fn a_stopped_program_is_stopped() {
        let root = HostPath::new("~/d").unwrap();
        let mut p = program();
        p.desired = Desired::Stopped;
        let running = facts(&[], &[], &status("recorded process\nrunning 42 00\n"));
        assert_eq!(
            p.verify(&ctx(&root, None), &running)
                .unwrap()
                .unwrap()
                .detail
                .as_deref(),
            Some("stop: it should not run")
        );
        let gone = facts(&[], &[], &status("recorded process\n"));
        assert_eq!(p.verify(&ctx(&root, None), &gone).unwrap(), None);
    }
}
