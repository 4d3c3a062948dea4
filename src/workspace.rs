//! What every command that works on a project shares: the resolved configuration,
//! the project, the reporter, and the three steps "load an environment", "select
//! hosts" and "connect" — in one place, so commands never reach back into `app`.

use std::sync::Arc;

use crate::cli::config::Config;
use crate::exec::{self, Hosts, Settings};
use crate::model::{HostId, Model};
use crate::plan::Plan;
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::project::failed_hosts::{self, FailedHosts};
use crate::report::{Event, Reporter};
use crate::script;
use crate::source::SourceMap;
use crate::transport::{CancelToken, SshOptions};

/// A loaded and planned environment.
pub struct Loaded {
    pub model: Arc<Model>,
    pub plan: Arc<Plan>,
    pub sources: SourceMap,
    /// Keeps the interpreter alive: custom steps call back into it at deploy time.
    pub evaluated: script::Evaluated,
}

#[derive(Clone)]
pub struct Workspace {
    pub config: Config,
    /// The project evaluated: the checkout ordo runs in, or (`--rev`) a revision's
    /// temporary checkout.
    pub project: Project,
    /// The checkout ordo runs in: where its `ssh_config` is, what the controller's
    /// records are kept for, where hooks run.
    pub origin: Project,
    pub reporter: Arc<dyn Reporter>,
    cancel: CancelToken,
    /// Learns every secret decrypted during the run; the reporter masks them.
    pub redactor: crate::secrets::Redactor,
    /// What the run may take of the controller, decided on first use.
    budget: std::sync::OnceLock<exec::Budget>,
    /// The project is a revision (`--rev`): git libraries must be pinned already.
    locked: bool,
}

impl Workspace {
    /// Finds the project. `cancel` turns true when the run is interrupted.
    pub fn open(
        config: Config,
        reporter: Arc<dyn Reporter>,
        cancel: CancelToken,
        redactor: crate::secrets::Redactor,
    ) -> Result<Self, Problems> {
        let project = Project::discover(&config.directory)?;
        Ok(Workspace {
            config,
            origin: Project {
                root: project.root.clone(),
            },
            project,
            reporter,
            cancel,
            redactor,
            budget: std::sync::OnceLock::new(),
            locked: false,
        })
    }

    /// The same run on the project as it is in `root`, a revision's checkout
    /// (`--rev`): evaluated there, with its own pins and secrets; connected, hooked
    /// and remembered as the checkout ordo runs in.
    pub fn at_revision(&self, root: std::path::PathBuf) -> Workspace {
        Workspace {
            config: self.config.clone(),
            project: Project { root },
            origin: Project {
                root: self.origin.root.clone(),
            },
            reporter: self.reporter.clone(),
            cancel: self.cancel.clone(),
            redactor: self.redactor.clone(),
            budget: self.budget.clone(),
            locked: true,
        }
    }

    /// The run's `--set` and `--set-file` values as hosts keep them (the deploy
    /// history, the version record): a value that replaces a secret (the
    /// attribute's script value holds one) or equals one (the redactor knows every
    /// secret the run decrypted) is masked.
    pub fn set_records(&self, evaluated: &script::Evaluated) -> Vec<crate::exec::history::SetRecord> {
        self.config
            .sets
            .iter()
            .map(|s| {
                let key = format!("{}.{}", s.component, s.attribute);
                let redacted = self.redactor.redact(&s.text);
                let replaces_secret = evaluated.secret_sets.contains(&key);
                crate::exec::history::SetRecord {
                    text: if replaces_secret {
                        format!("{key}={}", crate::secrets::MASK)
                    } else {
                        redacted.clone()
                    },
                    file: s.raw().is_none(),
                    masked: replaces_secret || redacted != s.text,
                }
            })
            .collect()
    }

    /// What this machine keeps about environment `env` of the project (keyed by
    /// the checkout ordo runs in, also for `--rev`).
    pub fn controller_state(&self, env: &str) -> crate::project::controller_state::ControllerState {
        crate::project::controller_state::ControllerState::new(&self.origin, env)
    }

    /// Resolves when the run is interrupted (SIGINT, SIGTERM, SIGHUP).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// Evaluates the environment on a blocking thread (Rhai is synchronous), plans
    /// it, and reports the model's warnings. Secrets are checked by name only.
    pub async fn load(&self, env: &str) -> Result<Loaded, Problems> {
        self.load_with(env, false).await
    }

    /// Like [`Self::load`], with `decrypt`: the steps that use secrets get their
    /// plaintext (plan, deploy), which needs a key.
    pub async fn load_with(&self, env: &str, decrypt: bool) -> Result<Loaded, Problems> {
        let root = self.project.root.clone();
        let env = env.to_string();
        // A script's print/debug is output like any other: through the reporter.
        let reporter = self.reporter.clone();
        let print: script::PrintSink = Arc::new(move |text, span| {
            reporter.event(&Event::Print {
                text: text.to_string(),
                span,
            });
        });
        let options = script::Options {
            print,
            decrypt,
            redactor: self.redactor.clone(),
            sets: self.config.sets.clone(),
            locked: self.locked,
            local_root: self.locked.then(|| self.origin.root.clone()),
        };
        let evaluated = tokio::task::spawn_blocking(move || script::evaluate_with(&Project { root }, &env, options))
            .await
            .map_err(|e| Problem::new(Kind::Script, format!("internal error while evaluating: {e}")))??;
        let plan = Plan::build(&evaluated.model)
            .map_err(|Problems(ps)| Problems(ps.into_iter().map(|p| p.with_sources(&evaluated.sources)).collect()))?;
        for w in &evaluated.warnings {
            let w = w.clone().as_warning();
            self.reporter.event(&Event::Warning {
                report: crate::report::ProblemReport::of(&w),
                problem: Arc::new(w),
            });
        }
        Ok(Loaded {
            model: evaluated.model.clone(),
            plan: Arc::new(plan),
            sources: evaluated.sources.clone(),
            evaluated,
        })
    }

    /// Teaches the redactor the environment's secret values, for commands whose
    /// output comes from hosts without the deploy having decrypted them (`ordo run`,
    /// `status`): whatever a host echoes is masked. Without a key (or without
    /// secrets) nothing is learned, and a warning says so when there are secrets.
    pub fn learn_secrets(&self, env: &str) {
        let Ok(store) = crate::secrets::SecretStore::open(&self.project.root, env) else {
            return;
        };
        if !store.exists() || store.names().is_ok_and(|n| n.is_empty()) {
            return;
        }
        let decrypted = crate::secrets::Identities::discover()
            .and_then(|ids| crate::secrets::decrypt_masked(&store, &ids, &self.redactor));
        match decrypted {
            Ok(_) => {}
            Err(p) => self.reporter.event(&Event::Notice {
                host: None,
                level: crate::report::Level::Warning,
                text: format!(
                    "the secrets of `{env}` could not be decrypted ({}), so output from the hosts cannot be masked",
                    p.message
                ),
                span: None,
            }),
        }
    }

    /// `--hosts`: names, globs or roles (all hosts when empty); an entry that matches
    /// nothing is an error. Hosts in model order.
    pub fn select(&self, model: &Model, patterns: &[String]) -> Result<Vec<HostId>, Problems> {
        if patterns.is_empty() {
            return Ok(model.hosts.ids().collect());
        }
        let mut selected = vec![false; model.hosts.len()];
        for pattern in patterns {
            if pattern == failed_hosts::SELECTOR {
                for h in self.failed_hosts(model)? {
                    selected[crate::model::Id::index(h)] = true;
                }
                continue;
            }
            let glob = globset::Glob::new(pattern)
                .map_err(|e| Problem::new(Kind::Usage, format!("--hosts: `{pattern}` is not a valid pattern: {e}")))?
                .compile_matcher();
            let mut any = false;
            for (i, h) in model.hosts.enumerate() {
                if glob.is_match(&h.name) || h.roles.iter().any(|r| r == pattern) {
                    selected[crate::model::Id::index(i)] = true;
                    any = true;
                }
            }
            if !any {
                let names: Vec<&str> = model.hosts.iter().map(|h| h.name.as_str()).collect();
                return Err(
                    Problem::new(Kind::Usage, format!("--hosts: `{pattern}` matches no host and no role"))
                        .help(format!(
                            "{}hosts of {}: {}",
                            crate::problem::suggest::did_you_mean(pattern, names.iter().copied()),
                            model.environment,
                            names.join(", ")
                        ))
                        .into(),
                );
            }
        }
        Ok(model
            .hosts
            .ids()
            .filter(|h| selected[crate::model::Id::index(*h)])
            .collect())
    }

    /// `--hosts @failed`: the hosts where the last deploy of the environment did
    /// not finish, as this machine recorded them. A recorded host that is no
    /// longer in the environment is named in a warning.
    fn failed_hosts(&self, model: &Model) -> Result<Vec<HostId>, Problems> {
        let state = self.controller_state(&model.environment);
        let Some(record) = FailedHosts::read(&state) else {
            return Err(Problem::new(
                Kind::Usage,
                format!(
                    "--hosts {}: no deploy of `{}` from this checkout has recorded which hosts it did not finish",
                    failed_hosts::SELECTOR,
                    model.environment
                ),
            )
            .help(format!(
                "{} names the hosts where the last `ordo deploy {}` failed, skipped or stopped; ordo keeps that record in {}",
                failed_hosts::SELECTOR,
                model.environment,
                state.dir().display()
            ))
            .into());
        };
        let mut ids = Vec::new();
        for name in record.hosts.keys() {
            match model.hosts.enumerate().find(|(_, h)| &h.name == name) {
                Some((id, _)) => ids.push(id),
                None => self.reporter.event(&Event::Notice {
                    host: None,
                    level: crate::report::Level::Warning,
                    text: format!(
                        "host `{name}` did not finish the last deploy of `{}` but is no longer in the environment; left out",
                        model.environment
                    ),
                    span: None,
                }),
            }
        }
        Ok(ids)
    }

    /// How this run reaches hosts. The descriptor limit is read (and raised when
    /// the run needs more, as far as the hard limit allows) once: `--jobs` that do
    /// not fit are reduced, and said so.
    pub fn settings(&self) -> Settings {
        // How hosts are reached is today's question, also for an older revision.
        let mut ssh = SshOptions::default_for(&self.origin.root);
        ssh.accept_new_host_keys = self.config.accept_new_host_keys;
        ssh.connect_timeout = self.config.connect_timeout;
        let budget = *self.budget.get_or_init(|| {
            let budget = exec::Budget::of_process(self.config.jobs);
            if budget.jobs < self.config.jobs {
                self.reporter.event(&Event::Notice {
                    host: None,
                    level: crate::report::Level::Warning,
                    text: format!(
                        "--jobs {} needs more file descriptors than the limit of {} allows (ulimit -n; its hard limit could not be raised further): working on {} at once",
                        self.config.jobs,
                        budget.descriptors,
                        crate::text::plural(budget.jobs, "host")
                    ),
                    span: None,
                });
            }
            budget
        });
        Settings {
            ssh,
            jobs: budget.jobs,
            timeout: self.config.timeout,
            cancel: self.cancel.clone(),
            masters: budget.masters,
            skip: exec::Skip::Never,
        }
    }

    /// Connects to `targets`, all before anything changes (a fleet of more ssh
    /// hosts than the run keeps masters connects as it goes).
    pub async fn connect(&self, model: &Model, targets: &[HostId]) -> Result<Hosts, Problems> {
        self.connect_skipping(model, targets, exec::Skip::Never).await
    }

    /// [`Self::connect`], going on without as many unreachable hosts as `skip` allows.
    pub async fn connect_skipping(
        &self,
        model: &Model,
        targets: &[HostId],
        skip: exec::Skip,
    ) -> Result<Hosts, Problems> {
        let settings = Settings {
            skip,
            ..self.settings()
        };
        // A fleet's ssh hosts connect as they are worked on (their progress says so then).
        let now: Vec<HostId> = if exec::connects_as_it_goes(model, targets, &settings) {
            targets
                .iter()
                .copied()
                .filter(|&h| !matches!(model.hosts[h].transport, crate::model::TransportSpec::Ssh { .. }))
                .collect()
        } else {
            targets.to_vec()
        };
        for &h in &now {
            self.reporter.event(&Event::Progress {
                host: model.hosts[h].name.clone(),
                activity: crate::report::Activity::Connecting,
            });
        }
        let hosts = exec::connect(model, targets, &settings).await;
        for &h in &now {
            self.reporter.event(&Event::Progress {
                host: model.hosts[h].name.clone(),
                activity: crate::report::Activity::Done,
            });
        }
        hosts
    }
}
