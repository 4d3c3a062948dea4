//! `plan`, `diff`, `check` and `apply` of the REPL: the executor's plan phase
//! (`exec::predict`) over the session's connections, showing only the steps asked
//! about — one component, or the steps of an ad-hoc trial — and, for `apply`, the
//! deploy lock, the confirmation and the apply phase restricted to those steps.
//! The hosts' records (deployed fingerprint, the list of what ordo created) are
//! left as the last deploy wrote them; what an apply creates is still appended to
//! that list, so a later deploy removes what no step declares.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::live::{Env, LiveHosts, interrupted, one};
use crate::exec::{self, Catalog, Finish, Hosts, LockInfo, Locking, Prediction, Settings};
use crate::model::{HostId, Model, StepId};
use crate::plan::Plan;
use crate::primitive::{Change, Planned};
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Event, Level, Reporter};
use crate::script::live::Summary;

/// How long releasing the locks may take after an apply.
const UNLOCK_GRACE: Duration = Duration::from_secs(15);

/// Whether `apply` asks before changing anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Confirm {
    /// On the terminal.
    Ask,
    /// `--yes`.
    Yes,
    /// The input is a script: nobody to ask.
    Refuse,
}

/// Which steps of a run are shown and applied.
pub(crate) type Keep<'a> = dyn Fn(&Catalog, StepId) -> bool + Send + Sync + 'a;

/// The steps of `component` (its sub-components and removals of what it created
/// included); every step when `None`.
pub(crate) fn component_filter(component: Option<&str>) -> Box<Keep<'static>> {
    let Some(component) = component.map(str::to_string) else {
        return Box::new(|_, _| true);
    };
    Box::new(move |catalog: &Catalog, s: StepId| {
        let model = &catalog.model;
        match s.index().checked_sub(model.steps.len()) {
            None => model.components[model.root_of(model.steps[s].component)].name == component,
            Some(i) => catalog
                .extra
                .get(i)
                .is_some_and(|e| e.component.split('/').next() == Some(component.as_str())),
        }
    })
}

/// Passes on every event but the plan's own step lines: the REPL shows the
/// steps asked about itself.
struct WithoutPlanned(Arc<dyn Reporter>);

impl Reporter for WithoutPlanned {
    fn event(&self, event: &Event) {
        if !matches!(event, Event::Planned { .. }) {
            self.0.event(event);
        }
    }
}

/// Reports the kept steps of the prediction, in plan order per host (removals
/// last), and counts them.
fn show(reporter: &dyn Reporter, plan: &Plan, prediction: &Prediction, keep: &Keep<'_>) -> Summary {
    let catalog = &prediction.catalog;
    let model = &catalog.model;
    let mut summary = Summary {
        hosts: prediction.hosts.len(),
        ..Summary::default()
    };
    for h in &prediction.hosts {
        let planned: HashMap<StepId, &Planned> = h.planned.iter().map(|p| (p.step, &p.planned)).collect();
        let removals = h
            .planned
            .iter()
            .map(|p| p.step)
            .filter(|s| s.index() >= model.steps.len());
        for s in plan.per_host[h.host].iter().copied().chain(removals) {
            if !keep(catalog, s) {
                continue;
            }
            let p = planned.get(&s);
            match p.map(|p| &p.change) {
                None => summary.unchanged += 1,
                Some(Change::Conflict { .. }) => summary.conflicts += 1,
                Some(_) => summary.changes += 1,
            }
            reporter.event(&Event::Planned {
                host: model.hosts[h.host].name.clone(),
                step: s,
                path: catalog.path(s),
                change: p.map(|p| p.change.clone()),
                detail: p.and_then(|p| p.detail.clone()),
                diff: p.and_then(|p| p.diff.clone()),
                span: catalog.span(s).cloned(),
                privileged: catalog.action(s).sudo(),
            });
        }
    }
    reporter.event(&Event::PlanDone {
        changes: summary.changes,
        unchanged: summary.unchanged,
        conflicts: summary.conflicts,
        hosts: summary.hosts,
    });
    summary
}

async fn predict(
    live: &LiveHosts,
    env: &Env,
    model: &Arc<Model>,
    plan: &Arc<Plan>,
    hosts: &Hosts,
    locking: Option<&Locking>,
    settings: &Settings,
) -> Result<Prediction, Problem> {
    let quiet: Arc<dyn Reporter> = Arc::new(WithoutPlanned(live.reporter.clone()));
    tokio::select! {
        p = exec::predict(model, plan, hosts, &quiet, locking) => p.map_err(|ps| one(ps).with_sources(&env.sources)),
        () = settings.cancel.cancelled() => Err(interrupted()),
    }
}

/// What a deploy of the kept steps would change on `targets`; read-only.
pub(crate) fn preview(
    live: &LiveHosts,
    env: &Env,
    model: &Arc<Model>,
    plan: &Arc<Plan>,
    targets: &[HostId],
    keep: &Keep<'_>,
) -> Result<Summary, Problem> {
    let settings = live.settings();
    let result = live.handle.block_on(async {
        let hosts = live.connect(model, targets, &settings).await?;
        predict(live, env, model, plan, &hosts, None, &settings).await
    });
    live.reporter.flush();
    Ok(show(&*live.reporter, plan, &result?, keep))
}

/// A random-enough token that marks this apply's locks as ours.
fn run_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    crate::sys::short_hash(format!("repl-{nanos}-{}-{}", std::process::id(), crate::sys::operator()).as_bytes())
}

/// Applies the kept steps on `targets`: lock, plan, confirm, apply, release.
pub(crate) fn apply(
    live: &LiveHosts,
    env: &Env,
    model: &Arc<Model>,
    plan: &Arc<Plan>,
    targets: &[HostId],
    keep: &Keep<'_>,
) -> Result<Summary, Problem> {
    if live.confirm == Confirm::Refuse {
        return Err(Problem::new(
            Kind::Usage,
            "refusing to apply without confirmation: the REPL reads its lines from standard input, not a terminal",
        )
        .help("look at what it would change with check(..) or diff(..); to apply from a script, run `ordo repl ENV --yes`"));
    }
    let settings = live.settings();
    let token = run_token();
    let locking = Locking {
        info: LockInfo {
            holder: crate::sys::operator(),
            pid: std::process::id(),
            environment: model.environment.clone(),
            since: crate::sys::now_rfc3339(),
            token: token.clone(),
        },
        break_lock: false,
        switch_environment: false,
    };
    let hosts = live.handle.block_on(live.connect(model, targets, &settings))?;
    let result = locked(live, env, model, plan, &hosts, keep, &locking, &settings);
    // Whatever happened: release every lock this apply may hold.
    let released = live.handle.block_on(async {
        tokio::time::timeout(UNLOCK_GRACE, exec::unlock(model, &hosts, &token))
            .await
            .unwrap_or_else(|_| {
                vec![Problem::new(Kind::Step, "releasing the deploy locks took too long").help(
                    "run `ordo status ENV` to see which hosts are still locked; remove a dead run's lock with --break-lock",
                )]
            })
    });
    live.reporter.flush();
    match (result, released.is_empty()) {
        (r, true) => r,
        (Ok(_), false) => Err(one(Problems(released))),
        (Err(p), false) => Err(released.into_iter().fold(p, Problem::related)),
    }
}

#[allow(clippy::too_many_arguments)]
fn locked(
    live: &LiveHosts,
    env: &Env,
    model: &Arc<Model>,
    plan: &Arc<Plan>,
    hosts: &Hosts,
    keep: &Keep<'_>,
    locking: &Locking,
    settings: &Settings,
) -> Result<Summary, Problem> {
    let mut prediction = live
        .handle
        .block_on(predict(live, env, model, plan, hosts, Some(locking), settings))?;
    live.reporter.flush();
    let mut summary = show(&*live.reporter, plan, &prediction, keep);
    if summary.conflicts > 0 {
        return Err(Problem::new(
            Kind::Step,
            format!(
                "{} in the way; nothing was applied",
                crate::text::plural(summary.conflicts, "conflict")
            ),
        )
        .help("ordo does not delete what it did not create: move it away on the host, then apply again"));
    }
    let note = |text: &str| {
        live.reporter.event(&Event::Notice {
            host: None,
            level: Level::Info,
            text: text.to_string(),
            span: None,
        });
    };
    if summary.changes == 0 {
        note("nothing to apply");
        return Ok(summary);
    }
    let changed_hosts = prediction
        .hosts
        .iter()
        .filter(|h| h.planned.iter().any(|p| keep(&prediction.catalog, p.step)))
        .count();
    let yes = match live.confirm {
        Confirm::Yes => true,
        Confirm::Refuse => false,
        Confirm::Ask => ask(&format!(
            "apply {} to {}? [y/N] ",
            crate::text::plural(summary.changes, "change"),
            crate::text::plural(changed_hosts, "host")
        )),
    };
    if !yes || settings.cancel.is_cancelled() {
        note("nothing applied");
        return Ok(summary);
    }
    let catalog = prediction.catalog.clone();
    for h in &mut prediction.hosts {
        h.planned.retain(|p| keep(&catalog, p.step));
    }
    let started = std::time::Instant::now();
    let finish = Arc::new(Finish {
        record: None,
        token: locking.info.token.clone(),
    });
    let unchanged = prediction.unchanged;
    let applied = live
        .handle
        .block_on(exec::apply(plan, prediction, hosts, live.reporter.clone(), finish));
    live.reporter.flush();
    live.reporter.event(&Event::Summary {
        changed: applied.changed,
        unchanged: summary.unchanged.min(unchanged),
        failed: applied.failed,
        skipped: applied.skipped,
        hosts: changed_hosts,
        duration_ms: started.elapsed().as_millis() as u64,
    });
    if !applied.problems.is_empty() {
        return Err(one(Problems(applied.problems)).with_sources(&env.sources));
    }
    summary.applied = Some(applied.changed);
    Ok(summary)
}

/// Asks on the terminal; Ctrl-C and Ctrl-D say no.
fn ask(prompt: &str) -> bool {
    let Ok(mut editor) = rustyline::DefaultEditor::new() else {
        return false;
    };
    matches!(editor.readline(prompt).as_deref().map(str::trim), Ok("y" | "Y" | "yes"))
}
