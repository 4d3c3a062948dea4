//! `ordo plan` and `ordo deploy` (and `ordo rollback`, which is an ordinary deploy
//! of an earlier revision): what only the command line has — the revision
//! (`--rev`, a temporary checkout), the git check, `--hosts`, the connections, the
//! terminal's prompt, what the hosts record (version, history), the controller's
//! record of the hosts a deploy reached (and the warning for one no longer
//! declared), the controller's hooks (`before_deploy` before any host is
//! contacted, the others once the run is over) — around the one deploy transaction
//! ([`Deployment`]: lock, plan, confirm, apply, record, release), whose locks are
//! released when the run is interrupted (SIGINT, SIGTERM, SIGHUP) too. After a
//! deploy, the hosts it did not finish are kept on the controller for `--hosts
//! @failed`; a run that went on without unreachable hosts (`--skip-unreachable`)
//! exits with 5.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use super::hooks;
use crate::cli::{DeployArgs, PlanArgs, RevArgs, SkipUnreachable, TargetArgs};
use crate::exec::history::{Outcome, Record, RunKind};
use crate::exec::{self, ApplyRequest, Catalog, Confirm, Deployment, Ended, HostState, Request, RunStep, Skip};
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::project::controller_state::ControllerState;
use crate::project::failed_hosts::{self, FailedHosts};
use crate::project::hooks::HookPoint;
use crate::project::revision::Revision;
use crate::report::{Event, Level};
use crate::workspace::Workspace;

/// The exit code of a run that went on without unreachable hosts
/// (`--skip-unreachable`) and otherwise succeeded.
pub(crate) const SKIPPED_HOSTS: u8 = 5;

pub(crate) async fn plan(ws: &Workspace, args: &PlanArgs) -> Result<ExitCode, Problems> {
    let opts = Options {
        apply: false,
        yes: true,
        allow_dirty: true,
        skip: skip(args.skip_unreachable),
        ..Options::default()
    };
    let result = at_revision(ws, &args.rev, &args.target, &opts).await;
    if !args.exit_code {
        return result.map(|r| r.code());
    }
    match result {
        // A host deployed once and no longer declared is drift too.
        Ok(r) if r.changes > 0 || r.undeclared > 0 => Ok(ExitCode::from(2)),
        Ok(r) => Ok(r.code()),
        Err(ps) if ps.kind().exit_code() == 2 => {
            // 2 means "changes" here; an error of that kind exits 1.
            let mut ps = ps;
            for p in &mut ps.0 {
                p.kind = Kind::Step;
            }
            Err(ps)
        }
        Err(ps) => Err(ps),
    }
}

pub(crate) async fn deploy(ws: &Workspace, args: &DeployArgs) -> Result<ExitCode, Problems> {
    let opts = Options {
        apply: true,
        yes: args.yes,
        break_lock: args.break_lock,
        allow_dirty: args.allow_dirty,
        switch_environment: args.switch_environment,
        skip: skip(args.skip_unreachable),
        ..Options::default()
    };
    at_revision(ws, &args.rev, &args.target, &opts).await.map(|r| r.code())
}

fn skip(flag: Option<SkipUnreachable>) -> Skip {
    match flag {
        None => Skip::Never,
        Some(SkipUnreachable::All) => Skip::Any,
        Some(SkipUnreachable::Hosts(n)) => Skip::AtMost(n),
        Some(SkipUnreachable::Percent(p)) => Skip::Percent(p),
    }
}

/// How a run of [`run`] goes.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) apply: bool,
    pub(crate) yes: bool,
    pub(crate) break_lock: bool,
    pub(crate) allow_dirty: bool,
    pub(crate) switch_environment: bool,
    /// A rollback (`ordo rollback`).
    pub(crate) rollback: bool,
    /// The entry a rollback deploys again: its run id and the fingerprint it
    /// recorded (`None`: `--to REV`, a revision rather than an entry).
    pub(crate) entry: Option<(String, String)>,
    /// Which unreachable hosts the run may go on without (`--skip-unreachable`).
    pub(crate) skip: Skip,
}

/// Checks out `--rev` (when given) and runs there; the checkout is removed after.
async fn at_revision(ws: &Workspace, rev: &RevArgs, target: &TargetArgs, opts: &Options) -> Result<Ran, Problems> {
    let Some(name) = &rev.rev else {
        return run(ws, target, opts, None).await;
    };
    let revision = checkout(ws, name, rev.allow_any_rev).await?;
    let at = ws.at_revision(revision.root.clone());
    run(&at, target, opts, Some(&revision)).await
}

/// `rev` of the checkout ordo runs in, in a temporary directory.
pub(crate) async fn checkout(ws: &Workspace, rev: &str, allow_any: bool) -> Result<Revision, Problems> {
    let origin = Project {
        root: ws.origin.root.clone(),
    };
    let rev = rev.to_string();
    Ok(
        tokio::task::spawn_blocking(move || Revision::checkout(&origin, &rev, allow_any))
            .await
            .map_err(|e| Problem::new(Kind::Project, format!("internal error checking out a revision: {e}")))??,
    )
}

/// What a plan or deploy came to.
pub(crate) struct Ran {
    /// The planned changes.
    pub(crate) changes: usize,
    /// Hosts it went on without.
    pub(crate) skipped: usize,
    /// Hosts a deploy reached that the environment no longer declares.
    pub(crate) undeclared: usize,
}

impl Ran {
    pub(crate) fn code(&self) -> ExitCode {
        if self.skipped > 0 {
            ExitCode::from(SKIPPED_HOSTS)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Plans (and applies).
pub(crate) async fn run(
    ws: &Workspace,
    args: &TargetArgs,
    opts: &Options,
    revision: Option<&Revision>,
) -> Result<Ran, Problems> {
    let started = Instant::now();
    let loaded = ws.load_with(&args.env, true).await?;
    // Only the files this evaluation read count: a host home or an edited README
    // does not make the deployment dirty.
    let git = ws.project.git(loaded.evaluated.inputs());
    if let Some(g) = git
        .as_ref()
        .filter(|g| opts.apply && !opts.allow_dirty && !g.dirty.is_empty())
    {
        let shown: Vec<&str> = g.dirty.iter().take(10).map(String::as_str).collect();
        return Err(Problem::new(
            Kind::Usage,
            format!("the project has uncommitted changes:\n{}", shown.join("\n")),
        )
        .help("commit them so every host gets a version you can name, or deploy anyway with --allow-dirty")
        .into());
    }
    let (model, plan) = (&loaded.model, &loaded.plan);
    if let Some((entry, recorded)) = &opts.entry
        && recorded != loaded.evaluated.fingerprint()
    {
        ws.reporter.event(&Event::Notice {
            host: None,
            level: crate::report::Level::Warning,
            text: format!(
                "entry {} recorded fingerprint {recorded}; its revision evaluates to {} now (another ordo version, or a library cache that differs): the plan below says what changes",
                crate::text::visible(&entry[..8.min(entry.len())], false),
                loaded.evaluated.fingerprint()
            ),
            span: None,
        });
    }
    // Never touched, never silent: a host deployed before and deleted since (the
    // controller's record is the checkout's ordo runs in, also at a revision).
    let undeclared = exec::reached::warn_undeclared(&ws.origin, model, &*ws.reporter);
    // A host with no step left is still probed: what ordo created there before,
    // and no step declares now, is removed.
    let targets: Vec<_> = ws.select(model, &args.hosts)?;
    if targets.is_empty() && args.hosts.iter().any(|h| h == failed_hosts::SELECTOR) {
        ws.reporter.event(&Event::Notice {
            host: None,
            level: Level::Info,
            text: format!(
                "no host is left from the last deploy of `{}` ({} names none): nothing to do",
                model.environment,
                failed_hosts::SELECTOR
            ),
            span: None,
        });
        return Ok(Ran {
            changes: 0,
            skipped: 0,
            undeclared,
        });
    }
    let command = match (opts.apply, opts.rollback) {
        (false, _) => "plan",
        (true, false) => "deploy",
        (true, true) => "rollback",
    };
    // A rollback to an entry names the entry; `--rev` and `--to REV` the revision.
    let rev = revision.filter(|_| opts.entry.is_none()).map(|r| r.name.clone());
    let rollback_to = opts.entry.as_ref().map(|(e, _)| e.clone());
    ws.reporter.event(&Event::Start {
        command: command.into(),
        environment: model.environment.clone(),
        service: model.service.clone(),
        hosts: targets.len(),
        steps: targets.iter().map(|&h| plan.per_host[h].len()).sum(),
        revision: revision.map(|r| crate::report::Revision {
            rev: r.name.clone(),
            commit: r.commit.clone(),
            on_branch: r.ancestor,
            branch: r.branch.clone(),
            entry: rollback_to.clone(),
        }),
    });
    let controller_hooks = if opts.apply {
        hooks::declared(ws)?
    } else {
        Default::default()
    };
    // A value typed on the command line that equals a secret is masked in the
    // records (and in the hooks' output): the redactor must know every secret of
    // the environment.
    if !ws.config.sets.is_empty() && opts.apply {
        ws.learn_secrets(&args.env);
    }
    let set = ws.set_records(&loaded.evaluated);
    let dirty = git.as_ref().is_some_and(|g| !g.dirty.is_empty());
    let commit = git.map(|g| g.commit);
    // The run's id is made here so that every hook of the run is told the same.
    let run_id = exec::new_run_id();
    let mut context = hooks::Context {
        environment: model.environment.clone(),
        service: model.service.clone(),
        command: command.to_string(),
        run: run_id.clone(),
        commit: commit.clone(),
        dirty,
        rev: rev.clone(),
        rollback_to: rollback_to.clone(),
        hosts: targets.iter().map(|&h| model.hosts[h].name.clone()).collect(),
        changes: None,
        unchanged: None,
    };
    // Before any host is contacted: a failing hook (a red CI, a deploy freeze)
    // stops the run with no connection, no lock and no history entry anywhere, and
    // no other hook runs.
    if opts.apply {
        hooks::run(ws, &controller_hooks, HookPoint::BeforeDeploy, &context, None).await?;
    }
    // The hosts the run went on without (`--skip-unreachable`), for the exit code
    // and the hooks.
    let mut skipped = Vec::new();
    let (result, ended) = 'run: {
        let hosts = tokio::select! {
            h = ws.connect_skipping(model, &targets, opts.skip) => h.map_err(|ps| retired_unreachable(model, ps)),
            () = ws.cancelled() => Err(interrupted()),
        };
        let hosts = match hosts {
            Ok(h) => h,
            Err(ps) => {
                if opts.apply {
                    // Nothing was changed: the hosts that failed and the others, not deployed.
                    let results = targets
                        .iter()
                        .map(|&h| {
                            let name = &model.hosts[h].name;
                            let why = ps.0.iter().find(|p| p.host.as_deref() == Some(name)).map_or_else(
                                || "not deployed: other hosts could not be reached".to_string(),
                                |p| p.message.lines().next().unwrap_or_default().to_string(),
                            );
                            (name.clone(), Some(why))
                        })
                        .collect::<Vec<_>>();
                    remember_failed(ws, &model.environment, &results);
                }
                break 'run (Err(ps), None);
            }
        };
        let record = HostState {
            fingerprint: loaded.evaluated.fingerprint().to_string(),
            ordo_version: crate::VERSION.to_string(),
            environment: model.environment.clone(),
            service: model.service.clone(),
            deployed_at: crate::sys::now_rfc3339(),
            deployed_by: crate::sys::operator(),
            dirty,
            commit: commit.clone(),
            // The same masking as the history's: a value that replaces or equals a
            // secret is not written to a host.
            set: set.iter().map(|s| s.text.clone()).collect(),
            libraries: loaded.evaluated.libraries.clone(),
        };
        let history = Record {
            kind: if opts.rollback {
                RunKind::Rollback
            } else {
                RunKind::Deploy
            },
            commit: commit.clone(),
            dirty,
            rev: rev.clone(),
            rollback_to: rollback_to.clone(),
            what: None,
            set,
            libraries: loaded.evaluated.libraries.clone(),
            fingerprint: loaded.evaluated.fingerprint().to_string(),
            memory: Some(ws.controller_state(&model.environment)),
        };
        let every_step = |_: &Catalog, _: RunStep| true;
        let mut deployment = Deployment::begin(Request {
            model,
            plan,
            hosts: &hosts,
            reporter: ws.reporter.clone(),
            sources: &loaded.sources,
            keep: &every_step,
            apply: opts.apply.then_some(ApplyRequest {
                break_lock: opts.break_lock,
                switch_environment: opts.switch_environment,
                record: Some(record),
                report_hosts: true,
                history: Some(history),
                run: Some(run_id.clone()),
            }),
            started,
        });
        // An interruption wins over whatever the transaction was about to return;
        // the locks are released by `finish` either way — but only once the
        // transaction has ended: its scripts see the same cancellation and are
        // stopped (SIGTERM, the grace, SIGKILL; each stop bounded), the question
        // gives up. Dropping it at the signal left the stops running on their own
        // while the locks were released and the masters closed under them.
        let result = {
            let driving = drive(&mut deployment, opts);
            tokio::pin!(driving);
            tokio::select! {
                biased;
                () = ws.cancelled() => {
                    let _ = tokio::time::timeout(STOPS_PATIENCE, &mut driving).await;
                    Err(interrupted())
                }
                // The transaction saw the signal first (at the question, say):
                // the same interruption, with its help.
                r = &mut driving => r.map_err(|ps| if ps.kind() == Kind::Interrupted { interrupted() } else { ps }),
            }
        };
        let unfinished = if opts.apply {
            deployment.unfinished(&result)
        } else {
            None
        };
        skipped = deployment.skipped().to_vec();
        let outcome = deployment.outcome().cloned();
        let (result, ended) = deployment.finish(result).await;
        // In a fleet's waves, an unreachable host is found by the plan phase.
        let result = result.map_err(|ps| retired_unreachable(model, ps));
        if let Some(results) = unfinished {
            remember_failed(ws, &model.environment, &results);
        }
        hosts.close().await;
        if let Some(outcome) = outcome {
            note_reached(ws, model, &outcome);
        }
        (result, Some(ended))
    };
    let result = result.map(|changes| Ran {
        changes,
        skipped: skipped.len(),
        undeclared,
    });
    if !opts.apply {
        return result;
    }
    // `before_deploy` ran: whatever happened since, the run gets its end.
    let (finished, failed) = finished(&result, ended.as_ref(), &context.hosts, &skipped, started);
    if let Some(c) = ended.as_ref().and_then(|e| e.counts) {
        context.changes = Some(c.changes);
        context.unchanged = Some(c.unchanged);
    }
    let mut after = Vec::new();
    if failed && let Err(ps) = hooks::run(ws, &controller_hooks, HookPoint::OnFailure, &context, Some(&finished)).await
    {
        after.extend(ps.0);
    }
    if let Err(ps) = hooks::run(ws, &controller_hooks, HookPoint::AfterDeploy, &context, Some(&finished)).await {
        after.extend(ps.0);
    }
    match (result, after.is_empty()) {
        (r, true) => r,
        (Ok(_), false) => Err(Problems(after)),
        (Err(ps), false) => Err(Problems(ps.0.into_iter().chain(after).collect())),
    }
}

/// Keeps the hosts the deploy did not finish for `--hosts @failed`; a record that
/// cannot be written is a warning (the deploy itself is done).
fn remember_failed(ws: &Workspace, env: &str, results: &[(String, Option<String>)]) {
    let state = ControllerState::new(&ws.origin, env);
    if let Err(p) = FailedHosts::update(&state, results, &crate::sys::now_rfc3339()) {
        ws.reporter.event(&Event::Notice {
            host: None,
            level: Level::Warning,
            text: format!("{} (so --hosts @failed cannot name this deploy's hosts)", p.message),
            span: None,
        });
    }
}

/// How the run ended, for the hooks after it, and whether it failed (the command
/// fails: `on_failure` runs). A run whose changes never began is `not_applied` —
/// declined at the prompt (not a failure), or stopped by conflicts, a host locked
/// or unreachable (a failure).
fn finished<T>(
    result: &Result<T, Problems>,
    ended: Option<&Ended>,
    targets: &[String],
    unreachable: &[String],
    started: Instant,
) -> (hooks::Finished, bool) {
    let began = ended.is_some_and(|e| e.applied);
    let failed_steps = ended.map_or(0, |e| e.failed);
    let word = match (result, began, failed_steps) {
        (Err(ps), _, _) if ps.kind() == Kind::Interrupted => "interrupted",
        (_, false, _) => "not_applied",
        (Err(_), true, _) | (Ok(_), true, 1..) => "failed",
        (Ok(_), true, 0) => "ok",
    };
    let finished = hooks::Finished {
        result: word,
        hosts: match ended {
            // A host the run went on without (`--skip-unreachable`) was never
            // planned: `unreachable`, not the `not_applied` of its history's view.
            Some(e) => e
                .hosts
                .iter()
                .map(|(h, o)| {
                    let word = if unreachable.contains(h) {
                        Some(hooks::UNREACHABLE)
                    } else {
                        o.map(Outcome::word)
                    };
                    (h.clone(), word)
                })
                .collect(),
            None => targets.iter().map(|h| (h.clone(), None)).collect(),
        },
        changed: ended.map_or(0, |e| e.changed),
        failed: failed_steps,
        skipped: ended.map_or(0, |e| e.skipped),
        duration_ms: started.elapsed().as_millis() as u64,
    };
    (finished, result.is_err() || failed_steps > 0)
}

/// Keeps what the deploy did on each host in the controller's record (for the
/// warning about a host deleted later, decision 57), and says which retired hosts
/// are torn down now.
fn note_reached(
    ws: &Workspace,
    model: &crate::model::Model,
    outcome: &std::collections::HashMap<crate::model::HostId, exec::Totals>,
) {
    let state = ws.controller_state(&model.environment);
    let mut record = exec::ReachedHosts::read(&state);
    record.note(model, outcome, &crate::sys::now_rfc3339(), &crate::sys::operator());
    if let Err(p) = record.write(&state) {
        let w = p.as_warning();
        ws.reporter.event(&Event::Warning {
            report: crate::report::ProblemReport::of(&w),
            problem: Arc::new(w),
        });
    }
    let mut torn_down: Vec<_> = outcome
        .iter()
        .filter(|(id, totals)| model.hosts[**id].retired && totals.recorded)
        .map(|(id, _)| *id)
        .collect();
    torn_down.sort();
    // Their histories went with the teardown, on purpose: not lost.
    let names: Vec<String> = torn_down.iter().map(|id| model.hosts[*id].name.clone()).collect();
    exec::history::forget(&state, &names);
    for id in torn_down {
        let host = &model.hosts[id];
        ws.reporter.event(&Event::Notice {
            host: Some(host.name.clone()),
            level: crate::report::Level::Info,
            text: format!(
                "{} is torn down: nothing of {} is left there for ordo; its declaration can go",
                host.name, model.service
            ),
            span: host.span.clone(),
        });
    }
}

/// A retired host that cannot be reached stops the run like any other; the help
/// says what to do when it is gone for good.
fn retired_unreachable(model: &crate::model::Model, ps: Problems) -> Problems {
    Problems(
        ps.0.into_iter()
            .map(|mut p| {
                // Connection problems name their host in the message.
                let retired = model.hosts.iter().find(|h| {
                    matches!(p.kind, Kind::Connect | Kind::Unreachable)
                        && h.retired
                        && (p.host.as_deref() == Some(h.name.as_str())
                            || p.message.contains(&format!("host `{}`", h.name)))
                });
                if let Some(h) = retired {
                    let more = format!(
                        "`{}` is retired: if it is gone for good, delete its declaration and run `ordo hosts forget {} {}`; to deploy the other hosts meanwhile, leave it out with --hosts (or go on without it: --skip-unreachable)",
                        h.name, model.environment, h.name
                    );
                    p.help = Some(match p.help.take() {
                        Some(h) => format!("{h}\n{more}"),
                        None => more,
                    });
                }
                p
            })
            .collect(),
    )
}

/// How long an interrupted transaction gets to stop its scripts before the locks
/// are released anyway: a stop's own bound (the grace and an answer from the
/// host), with a margin.
const STOPS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// The transaction after `begin`: plan, then (for deploy) confirm and apply.
async fn drive(deployment: &mut Deployment<'_>, opts: &Options) -> Result<usize, Problems> {
    let prediction = deployment.predict().await?;
    let changes = prediction.counts().changes;
    if !opts.apply {
        deployment.refuse_conflicts(&prediction)?;
        return Ok(changes);
    }
    deployment
        .apply(prediction, confirmation(opts.yes, opts.rollback))
        .await?;
    Ok(changes)
}

pub(crate) fn interrupted() -> Problems {
    Problem::new(Kind::Interrupted, "interrupted")
        .help("steps already applied stay applied (each file is written atomically), and this run's locks were released; run the deploy again to finish")
        .into()
}

/// `--yes`, a prompt on the terminal, or a refusal when there is no terminal. The
/// refusal names the command that was refused: `ordo deploy ENV --yes` after a
/// refused rollback (or `ordo plan ENV` after a deploy of `--rev`) would show or
/// apply the current revision, not the plan above.
fn confirmation(yes: bool, rollback: bool) -> Confirm {
    if yes {
        return Confirm::Yes;
    }
    if !std::io::stdin().is_terminal() {
        let (what, again) = if rollback {
            ("roll back", "ordo rollback ENV --yes, with the same --to and --hosts")
        } else {
            (
                "deploy",
                "ordo deploy ENV --yes, with the same --rev, --hosts and --set",
            )
        };
        return Confirm::Refuse(Box::new(
            Problem::new(
                Kind::Usage,
                format!("refusing to {what} without confirmation: standard input is not a terminal"),
            )
            .help(format!(
                "review the plan above, then run the same command with --yes ({again})"
            )),
        ));
    }
    Confirm::Ask(Arc::new(|question: &str| {
        eprint!("{question}");
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        matches!(line.trim(), "y" | "Y" | "yes")
    }))
}
