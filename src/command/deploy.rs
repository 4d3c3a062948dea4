//! `ordo plan` and `ordo deploy`: connect, probe (taking the locks), show the plan,
//! confirm, apply, record, release the locks — and release them on Ctrl-C too.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use crate::app::{load, select, ssh_options};
use crate::cli::TargetArgs;
use crate::exec::{self, HostState};
use crate::model::Model;
use crate::plan::Plan;
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::report::{Event, Reporter};

/// A random-enough token that marks this run's locks as ours.
fn run_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    crate::sys::short_hash(format!("{nanos}-{}-{}", std::process::id(), crate::sys::operator()).as_bytes())
}

pub(crate) struct DeployOptions {
    pub(crate) apply: bool,
    pub(crate) yes: bool,
    pub(crate) break_lock: bool,
    pub(crate) allow_dirty: bool,
}

pub(crate) async fn deploy(
    project: &Project,
    args: &TargetArgs,
    opts: DeployOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<ExitCode, Problems> {
    let started = Instant::now();
    let (model, plan, evaluated) = load(project, &args.env).await?;
    // Only the files this evaluation read count: a host home or an edited README
    // does not make the deployment dirty.
    let git = project.git(evaluated.inputs());
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
    let selected = select(&model, &args.hosts)?;
    let targeted: Vec<usize> = (0..model.hosts.len())
        .filter(|&h| selected[h] && !plan.per_host[h].is_empty())
        .collect();
    let mut selected = selected;
    for (h, s) in selected.iter_mut().enumerate() {
        *s = *s && !plan.per_host[h].is_empty();
    }
    reporter.event(&Event::Start {
        command: if opts.apply { "deploy".into() } else { "plan".into() },
        environment: model.environment.clone(),
        service: model.service.clone(),
        hosts: targeted.len(),
        steps: targeted.iter().map(|&h| plan.per_host[h].len()).sum(),
    });
    let hosts = exec::connect(&model, &selected, &ssh_options(project, args)).await?;
    let locking = opts.apply.then(|| exec::Locking {
        info: exec::LockInfo {
            holder: exec::state::operator(),
            pid: std::process::id(),
            environment: model.environment.clone(),
            since: exec::state::now_rfc3339(),
            token: run_token(),
        },
        break_lock: opts.break_lock,
    });
    let record = HostState {
        fingerprint: evaluated.fingerprint().to_string(),
        ordo_version: crate::VERSION.to_string(),
        environment: model.environment.clone(),
        service: model.service.clone(),
        deployed_at: exec::state::now_rfc3339(),
        deployed_by: exec::state::operator(),
        commit: git.map(|g| g.commit),
    };
    let run = Run {
        model: &model,
        plan: &plan,
        hosts: &hosts,
        sources: &evaluated.sources,
        reporter,
        host_count: targeted.len(),
        started,
    };
    let result = tokio::select! {
        r = run.go(&opts, locking.as_ref(), &record) => r,
        _ = tokio::signal::ctrl_c() => Err(Problem::new(Kind::Step, "interrupted (Ctrl-C)")
            .help("steps already applied stay applied (each file is written atomically); run the deploy again to finish")
            .into()),
    };
    if let Some(l) = &locking {
        exec::unlock(&model, &hosts, &l.info).await;
    }
    hosts.close().await;
    result
}

struct Run<'a> {
    model: &'a Arc<Model>,
    plan: &'a Arc<Plan>,
    hosts: &'a exec::Hosts,
    sources: &'a crate::source::SourceMap,
    reporter: Arc<dyn Reporter>,
    host_count: usize,
    started: Instant,
}

impl Run<'_> {
    async fn go(
        &self,
        opts: &DeployOptions,
        locking: Option<&exec::Locking>,
        record: &HostState,
    ) -> Result<ExitCode, Problems> {
        let (model, reporter) = (self.model, &self.reporter);
        let prediction = exec::predict(model, self.plan, self.hosts, &**reporter, locking).await?;
        for (host, holder) in &prediction.broken_locks {
            let who = holder
                .as_ref()
                .map_or_else(|| "(no details recorded)".to_string(), exec::LockInfo::describe);
            reporter.text(&format!("broke the lock on {host} held by {who}"));
        }
        for (host, holder) in &prediction.busy {
            let who = holder
                .as_ref()
                .map_or_else(|| "another deploy".to_string(), exec::LockInfo::describe);
            reporter.text(&format!("note: {host} is being deployed right now by {who}"));
        }
        let conflicts = prediction.conflicts();
        reporter.event(&Event::PlanDone {
            changes: prediction.change_count() - conflicts.len(),
            unchanged: prediction.unchanged,
            conflicts: conflicts.len(),
            hosts: self.host_count,
        });
        if let Some(first) = conflicts.first() {
            let step = &model.steps[first.step];
            let message = match &first.change {
                exec::Change::Conflict { message } => message.clone(),
                _ => String::new(),
            };
            return Err(
                Problem::new(Kind::Step, format!("{}: {message}", model.step_path(first.step)))
                    .at(step.span.as_ref(), "this step")
                    .help("ordo does not delete what it did not create: move it away on the host, then deploy again")
                    .with_sources(self.sources)
                    .into(),
            );
        }
        let Some(lock) = locking else {
            return Ok(ExitCode::SUCCESS);
        };
        let (changes, host_count) = (prediction.change_count(), self.host_count);
        // On a blocking thread, so Ctrl-C at the prompt still releases the locks.
        let confirmed = || async move {
            tokio::task::spawn_blocking(move || confirm(changes, host_count))
                .await
                .map_err(|e| Problems::from(Problem::new(Kind::Usage, format!("confirmation failed: {e}"))))?
        };
        if changes > 0 && !opts.yes && !confirmed().await? {
            reporter.text("nothing applied");
            return Ok(ExitCode::SUCCESS);
        }
        let unchanged = prediction.unchanged;
        let applied = exec::apply(
            model,
            self.plan,
            prediction,
            self.hosts,
            reporter.clone(),
            record,
            &lock.info,
        )
        .await;
        exec::unlock(model, self.hosts, &lock.info).await;
        exec::report_hosts(model, self.hosts, &applied, &**reporter);
        reporter.event(&Event::Summary {
            changed: applied.changed,
            unchanged,
            failed: applied.failed,
            skipped: applied.skipped,
            hosts: self.host_count,
            duration_ms: self.started.elapsed().as_millis() as u64,
        });
        if applied.problems.is_empty() {
            Ok(ExitCode::SUCCESS)
        } else {
            Err(Problems(
                applied
                    .problems
                    .into_iter()
                    .map(|p| p.with_sources(self.sources))
                    .collect(),
            ))
        }
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
    eprint!("apply {changes} changes to {hosts} hosts? [y/N] ");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
