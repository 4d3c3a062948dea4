//! `ordo plan` and `ordo deploy`: connect, probe (taking the locks), show the plan,
//! confirm, apply, record, release the locks — and release them when the run is
//! interrupted (SIGINT, SIGTERM, SIGHUP) too.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::{DeployArgs, PlanArgs, TargetArgs};
use crate::exec::{self, Finish, HostState, Hosts, LockInfo, Locking, Prediction};
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Event, Level};
use crate::text::plural;
use crate::workspace::{Loaded, Workspace};

/// How long releasing the locks may take after an interruption.
const UNLOCK_GRACE: Duration = Duration::from_secs(15);

pub(crate) async fn plan(ws: &Workspace, args: &PlanArgs) -> Result<ExitCode, Problems> {
    let opts = Options {
        apply: false,
        yes: true,
        break_lock: false,
        allow_dirty: true,
        switch_environment: false,
    };
    let result = run(ws, &args.target, &opts).await;
    if !args.exit_code {
        return result.map(|_| ExitCode::SUCCESS);
    }
    match result {
        Ok(0) => Ok(ExitCode::SUCCESS),
        Ok(_) => Ok(ExitCode::from(2)),
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
    };
    run(ws, &args.target, &opts).await.map(|_| ExitCode::SUCCESS)
}

struct Options {
    apply: bool,
    yes: bool,
    break_lock: bool,
    allow_dirty: bool,
    switch_environment: bool,
}

/// A random-enough token that marks this run's locks as ours.
fn run_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    crate::sys::short_hash(format!("{nanos}-{}-{}", std::process::id(), crate::sys::operator()).as_bytes())
}

/// Plans (and applies); returns the number of planned changes.
async fn run(ws: &Workspace, args: &TargetArgs, opts: &Options) -> Result<usize, Problems> {
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
    // A host with no step left is still probed: what ordo created there before,
    // and no step declares now, is removed.
    let targets: Vec<_> = ws.select(model, &args.hosts)?;
    ws.reporter.event(&Event::Start {
        command: if opts.apply { "deploy".into() } else { "plan".into() },
        environment: model.environment.clone(),
        service: model.service.clone(),
        hosts: targets.len(),
        steps: targets.iter().map(|&h| plan.per_host[h].len()).sum(),
    });
    let hosts = tokio::select! {
        h = ws.connect(model, &targets) => h?,
        () = ws.cancelled() => return Err(interrupted()),
    };
    let token = run_token();
    let locking = opts.apply.then(|| Locking {
        info: LockInfo {
            holder: crate::sys::operator(),
            pid: std::process::id(),
            environment: model.environment.clone(),
            since: crate::sys::now_rfc3339(),
            token: token.clone(),
        },
        break_lock: opts.break_lock,
        switch_environment: opts.switch_environment,
    });
    let finish = Arc::new(Finish {
        record: Some(HostState {
            fingerprint: loaded.evaluated.fingerprint().to_string(),
            ordo_version: crate::VERSION.to_string(),
            environment: model.environment.clone(),
            service: model.service.clone(),
            deployed_at: crate::sys::now_rfc3339(),
            deployed_by: crate::sys::operator(),
            dirty: git.as_ref().is_some_and(|g| !g.dirty.is_empty()),
            commit: git.map(|g| g.commit),
            set: ws.config.sets.iter().map(|s| s.text.clone()).collect(),
            libraries: loaded.evaluated.libraries.clone(),
        }),
        token: token.clone(),
    });
    let go = Run {
        ws,
        loaded: &loaded,
        hosts: &hosts,
        host_count: targets.len(),
        started,
    };
    let result = tokio::select! {
        r = go.go(opts, locking.as_ref(), finish) => r,
        () = ws.cancelled() => Err(interrupted()),
    };
    let mut result = result;
    if opts.apply {
        // Whatever happened: release every lock this run may hold.
        let problems = match tokio::time::timeout(UNLOCK_GRACE, exec::unlock(model, &hosts, &token)).await {
            Ok(ps) => ps,
            Err(_) => vec![Problem::new(Kind::Step, "releasing the deploy locks took too long")
                .help("run `ordo status ENV` to see which hosts are still locked; remove a dead run's lock with --break-lock")],
        };
        if !problems.is_empty() {
            result = Err(match result {
                Ok(_) => Problems(problems),
                Err(Problems(mut ps)) => {
                    ps.extend(problems);
                    Problems(ps)
                }
            });
        }
    }
    hosts.close().await;
    result
}

fn interrupted() -> Problems {
    Problem::new(Kind::Interrupted, "interrupted")
        .help("steps already applied stay applied (each file is written atomically), and this run's locks were released; run the deploy again to finish")
        .into()
}

struct Run<'a> {
    ws: &'a Workspace,
    loaded: &'a Loaded,
    hosts: &'a Hosts,
    host_count: usize,
    started: Instant,
}

impl Run<'_> {
    async fn go(&self, opts: &Options, locking: Option<&Locking>, finish: Arc<Finish>) -> Result<usize, Problems> {
        let (model, reporter) = (&self.loaded.model, &self.ws.reporter);
        let prediction = exec::predict(model, &self.loaded.plan, self.hosts, reporter, locking)
            .await
            .map_err(|ps| self.with_sources(ps))?;
        let conflicts = prediction.conflicts().len();
        let changes = prediction.change_count() - conflicts;
        reporter.event(&Event::PlanDone {
            changes,
            unchanged: prediction.unchanged,
            conflicts,
            hosts: self.host_count,
        });
        if conflicts > 0 {
            return Err(self.conflict_problems(&prediction));
        }
        if locking.is_none() {
            return Ok(changes);
        }
        let host_count = self.host_count;
        // On a blocking thread, so an interruption at the prompt still releases the locks.
        if changes > 0 && !opts.yes {
            let confirmed = tokio::task::spawn_blocking(move || confirm(changes, host_count))
                .await
                .map_err(|e| Problems::from(Problem::new(Kind::Usage, format!("confirmation failed: {e}"))))??;
            if !confirmed {
                reporter.event(&Event::Notice {
                    host: None,
                    level: Level::Info,
                    text: "nothing applied".into(),
                    span: None,
                });
                return Ok(changes);
            }
        }
        let unchanged = prediction.unchanged;
        let applied = exec::apply(
            &self.loaded.plan,
            prediction,
            self.hosts,
            reporter.clone(),
            finish.clone(),
        )
        .await;
        let mut problems = applied.problems.clone();
        problems.extend(exec::unlock(model, self.hosts, &finish.token).await);
        exec::report_hosts(self.hosts, &applied, &**reporter);
        reporter.event(&Event::Summary {
            changed: applied.changed,
            unchanged,
            failed: applied.failed,
            skipped: applied.skipped,
            hosts: self.host_count,
            duration_ms: self.started.elapsed().as_millis() as u64,
        });
        if problems.is_empty() {
            Ok(changes)
        } else {
            Err(self.with_sources(Problems(problems)))
        }
    }

    fn with_sources(&self, ps: Problems) -> Problems {
        Problems(ps.0.into_iter().map(|p| p.with_sources(&self.loaded.sources)).collect())
    }

    /// Every conflict, each at its step.
    fn conflict_problems(&self, prediction: &Prediction) -> Problems {
        let catalog = &prediction.catalog;
        let problems = prediction
            .conflicts()
            .into_iter()
            .map(|p| {
                let message = match &p.planned.change {
                    crate::primitive::Change::Conflict { message } => message.clone(),
                    _ => String::new(),
                };
                Problem::new(Kind::Step, format!("{}: {message}", catalog.path(p.step)))
                    .at(catalog.span(p.step), "this step")
                    .on_host(&catalog.model.hosts[catalog.host(p.step)].name)
                    .help("ordo does not delete what it did not create: move it away on the host, then deploy again")
            })
            .collect();
        self.with_sources(Problems(problems))
    }
}

fn confirm(changes: usize, hosts: usize) -> Result<bool, Problems> {
    if !std::io::stdin().is_terminal() {
        return Err(Problem::new(
            Kind::Usage,
            "refusing to deploy without confirmation: standard input is not a terminal",
        )
        .help("review the plan (ordo plan ENV), then run ordo deploy ENV --yes")
        .into());
    }
    eprint!(
        "apply {} to {}? [y/N] ",
        plural(changes, "change"),
        plural(hosts, "host")
    );
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
