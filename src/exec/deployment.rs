//! The deploy transaction, one for every front end: `ordo plan`, `ordo deploy` and
//! the REPL's `plan`, `diff`, `check` and `apply` all drive a [`Deployment`]:
//!
//! - [`Deployment::begin`]: the run's identity — its lock token and lock record,
//!   its start; no round trip yet.
//! - [`Deployment::predict`]: one probe per host, which takes the deploy lock in
//!   the same round trip when the deployment applies; verify; the steps it covers
//!   reported, and the `plan_done` counts.
//! - [`Deployment::apply`]: conflicts refused, the [`Confirm`] policy asked, the
//!   covered steps applied, the hosts' records written (a deploy) or left alone (a
//!   partial apply), the locks released, `host_done` and the `summary`.
//! - [`Deployment::end`]: whatever happened before (a failure, an interruption),
//!   every lock this run may still hold is released, within a grace period.
//!
//! The front ends differ only in what they pass in — which steps ([`Keep`]), what
//! the hosts record, how to confirm (a terminal prompt, the REPL's line editor,
//! `--yes`) — and in how they connect and react to an interruption.
//!
//! The deploy history plugs in here (decision 58): `begin` makes the run's
//! [`Writer`] from the front end's [`Record`], the probe begins each host's entry
//! with the lock, and whichever script releases a host's lock ends it — the host's
//! last apply script, or the unlock of [`Deployment::apply`] and
//! [`Deployment::end`] with each host's [`Ending`]. The controller's hooks run in
//! the front end, around the transaction (decision 61): `before_deploy` before any
//! host is contacted (told the run's id, [`ApplyRequest::run`]), the others after
//! [`Deployment::finish`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::catalog::Keep;
use super::history::{Ended, Endings, Record, Writer};
use super::hosts::{Hosts, Released, unlock};
use super::lock::LockInfo;
use super::lock::Locking;
use super::outcome::Outcome;
use super::predict::predict;
use super::prediction::Prediction;
use super::schedule::{Finish, Totals, apply, report_hosts};
use super::settle::Settle;
use super::state::HostState;
use crate::model::{HostId, Model};
use crate::plan::Plan;
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Event, Level, Reporter};
use crate::source::SourceMap;
use crate::text::plural;

/// How long releasing the locks may take at the end (after an interruption too).
const UNLOCK_GRACE: Duration = Duration::from_secs(15);

/// Whether a deployment asks before it changes anything.
pub enum Confirm {
    /// Apply without asking (`--yes`).
    Yes,
    /// Nobody to ask: a deployment with changes stops with this problem.
    Refuse(Box<Problem>),
    /// Ask this question: `true` applies. Answered on a blocking thread, so an
    /// interruption meanwhile still ends the deployment and releases its locks.
    Ask(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

/// What a deployment that applies asks of the hosts.
pub struct ApplyRequest {
    /// Remove the lock of a deploy that died first.
    pub break_lock: bool,
    /// Deploy onto hosts that another environment deployed last.
    pub switch_environment: bool,
    /// What each host records at the end; `None` for a partial apply (one
    /// component or ad-hoc step, from the REPL), which leaves the records alone.
    pub record: Option<HostState>,
    /// One `host_done` event per host at the end: its totals and the round trips
    /// of its connection — of this run when the connection is the run's own (the
    /// REPL's outlive an apply, so it leaves them out).
    pub report_hosts: bool,
    /// What the hosts' deploy histories record of this run; `None`: nothing.
    pub history: Option<Record>,
    /// The run's id ([`new_run_id`]) when the front end made it before (its
    /// `before_deploy` hooks were told it); `None`: the deployment makes one.
    pub run: Option<String>,
}

impl ApplyRequest {
    /// Some steps applied over connections that outlive the apply (the REPL's):
    /// no lock broken, no environment switched, the hosts' records and their
    /// `host_done` left out.
    pub fn partial() -> ApplyRequest {
        ApplyRequest {
            break_lock: false,
            switch_environment: false,
            record: None,
            report_hosts: false,
            history: None,
            run: None,
        }
    }
}

/// What a front end asks a deployment to cover.
pub struct Request<'a> {
    pub model: &'a Arc<Model>,
    pub plan: &'a Arc<Plan>,
    /// The targeted hosts, connected.
    pub hosts: &'a Hosts,
    pub reporter: Arc<dyn Reporter>,
    /// The scripts' texts, for the problems it returns.
    pub sources: &'a SourceMap,
    /// The steps it shows, counts and applies.
    pub keep: &'a Keep,
    /// `None`: look only — no lock is taken and nothing is applied.
    pub apply: Option<ApplyRequest>,
    /// When the front end started (the summary's duration counts from here).
    pub started: Instant,
}

/// One deploy transaction over connected hosts.
pub struct Deployment<'a> {
    request: Request<'a>,
    locking: Option<Locking>,
    finish: Arc<Finish>,
    report_hosts: bool,
    /// How the run ends on each host, as far as it is known (for the histories
    /// and the front end's hooks).
    endings: Endings,
    /// Time spent waiting for an answer to the confirmation, which the summary's
    /// duration leaves out.
    waited: Duration,
    /// What happened on each host, as far as the run got.
    results: Outcome,
    /// The hosts the run goes on without (`--skip-unreachable`).
    skipped: Vec<String>,
    /// What the apply did on each host it reached, once it ran.
    reached: Option<HashMap<HostId, Totals>>,
    ended: bool,
}

impl<'a> Deployment<'a> {
    /// The run's lock token and lock record; nothing is sent yet.
    pub fn begin(mut request: Request<'a>) -> Deployment<'a> {
        let applying = request.apply.take();
        let token = applying.as_ref().and_then(|a| a.run.clone()).unwrap_or_else(new_run_id);
        let locking = applying.as_ref().map(|a| Locking {
            info: LockInfo {
                holder: crate::sys::operator(),
                pid: std::process::id(),
                environment: request.model.environment.clone(),
                since: crate::sys::now_rfc3339(),
                token: token.clone(),
            },
            break_lock: a.break_lock,
            switch_environment: a.switch_environment,
            history: None,
        });
        let report_hosts = applying.as_ref().is_some_and(|a| a.report_hosts);
        let (record, history) = match applying {
            Some(a) => (a.record, a.history),
            None => (None, None),
        };
        let history = history.map(|h| {
            Arc::new(Writer::new(
                h,
                &token,
                &request.model.environment,
                &request.model.service,
                (
                    request.hosts.iter().map(|h| h.name.clone()).collect(),
                    request.model.hosts.len(),
                ),
                request.started,
            ))
        });
        let locking = locking.map(|mut l| {
            l.history = history.clone();
            l
        });
        let finish = Arc::new(Finish { record, token, history });
        Deployment {
            request,
            locking,
            finish,
            report_hosts,
            endings: Endings::default(),
            waited: Duration::ZERO,
            results: Outcome::default(),
            skipped: Vec::new(),
            reached: None,
            ended: false,
        }
    }

    /// The run's id: its lock token, the id of its entry in the hosts' histories.
    pub fn run_id(&self) -> &str {
        &self.finish.token
    }

    /// The plan phase: probes every host (taking its lock when the deployment
    /// applies; a host with nothing to do is let go at once, its history entry
    /// ended), verifies, reports the covered steps and the `plan_done` counts.
    pub async fn predict(&mut self) -> Result<Prediction, Problems> {
        let r = &self.request;
        let settle = Arc::new(Settle::new(r.model, self.locking.clone(), self.finish.record.clone()));
        let prediction = match predict(r.model, r.plan, r.hosts, &r.reporter, settle, r.keep).await {
            Ok(p) => p,
            Err(ps) => {
                self.results.stopped(r.hosts, &ps);
                return Err(self.sourced(ps));
            }
        };
        self.results.skipped(&prediction.skipped);
        self.skipped = prediction.skipped.iter().map(|s| s.name.clone()).collect();
        if let Some(w) = &self.finish.history {
            w.went_on_without(&self.skipped);
        }
        let counts = prediction.counts();
        self.endings.planned(&prediction);
        r.reporter.event(&Event::PlanDone {
            changes: counts.changes,
            unchanged: counts.unchanged,
            conflicts: counts.conflicts,
            hosts: r.hosts.len() - self.skipped.len(),
        });
        Ok(prediction)
    }

    /// The hosts the run goes on without (`--skip-unreachable`), known after
    /// `predict`.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Each targeted host by name: `None` when the deploy is done there, else why
    /// not; `None` when there is nothing to record. Call after `end` with its result.
    pub fn unfinished<T>(&self, result: &Result<T, Problems>) -> Option<Vec<(String, Option<String>)>> {
        self.results.per_host(self.request.hosts, result)
    }

    /// Every conflict of the prediction, each at its step.
    pub fn refuse_conflicts(&self, prediction: &Prediction) -> Result<(), Problems> {
        let catalog = &prediction.catalog;
        let conflicts = prediction.conflicts();
        if conflicts.is_empty() {
            return Ok(());
        }
        let problems = conflicts
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
        Err(self.sourced(Problems(problems)))
    }

    /// Applies the prediction after asking `confirm`: conflicts stop it first; a
    /// partial apply with nothing to change stops there, a deploy goes on to record
    /// the version. Returns how many steps changed, or `None` when nothing was
    /// applied.
    pub async fn apply(&mut self, prediction: Prediction, confirm: Confirm) -> Result<Option<usize>, Problems> {
        if let Err(ps) = self.refuse_conflicts(&prediction) {
            self.results.stopped(self.request.hosts, &ps);
            return Err(ps);
        }
        if self.locking.is_none() {
            return Err(Problem::new(Kind::Step, "a deployment that looks only cannot apply (a bug in ordo)").into());
        }
        let counts = prediction.counts();
        if counts.changes == 0 && self.finish.record.is_none() {
            self.notice("nothing to apply");
            self.endings.nothing_to_apply();
            return Ok(None);
        }
        if counts.changes > 0
            && !self
                .confirmed(confirm, counts.changes, prediction.changed_hosts())
                .await?
        {
            self.notice("nothing applied");
            self.endings.not_applied("declined at the prompt");
            return Ok(None);
        }
        self.endings.began();
        let r = &self.request;
        let applied = apply(r.plan, prediction, r.hosts, r.reporter.clone(), self.finish.clone()).await;
        self.endings.applied(r.hosts, &applied);
        let mut problems = applied.problems.clone();
        self.reached = Some(applied.per_host.clone());
        // Released before `host_done`, so its round trips are complete.
        problems.extend(self.release().await);
        self.results.applied(r.hosts, &applied, &problems);
        if self.report_hosts {
            report_hosts(r.hosts, &applied, &*r.reporter, &self.skipped);
        }
        r.reporter.event(&Event::Summary {
            changed: applied.changed,
            unchanged: counts.unchanged,
            failed: applied.failed,
            skipped: applied.skipped,
            hosts: r.hosts.len() - self.skipped.len(),
            duration_ms: r.started.elapsed().saturating_sub(self.waited).as_millis() as u64,
            unreachable: self.skipped.clone(),
        });
        if problems.is_empty() {
            Ok(Some(applied.changed))
        } else {
            Err(self.sourced(Problems(problems)))
        }
    }

    /// What the apply did on each host it reached (`recorded`: the host confirmed
    /// its records, or a retired host its teardown); `None` until an apply ran.
    /// Front ends keep what they need of it (the controller's record of hosts).
    pub fn outcome(&self) -> Option<&HashMap<HostId, Totals>> {
        self.reached.as_ref()
    }

    /// Releases every lock this run may still hold (within a grace period) and
    /// adds what went wrong doing so to `result`.
    pub async fn end<T>(self, result: Result<T, Problems>) -> Result<T, Problems> {
        self.finish(result).await.0
    }

    /// [`Deployment::end`], and how the run ended on each host (for the hooks that
    /// run after it). Each host still locked gets the end of its history entry:
    /// interrupted, or not applied and why.
    pub async fn finish<T>(mut self, result: Result<T, Problems>) -> (Result<T, Problems>, Ended) {
        self.ended = true;
        let applies = self.locking.is_some();
        if !applies {
            return (
                result,
                self.endings.ended(&self.finish.token, self.request.hosts, false),
            );
        }
        self.endings.settle(self.request.hosts, result.as_ref().map(|_| ()));
        let released = match tokio::time::timeout(UNLOCK_GRACE, self.release()).await {
            Ok(ps) => ps,
            Err(_) => vec![Problem::new(Kind::Step, "releasing the deploy locks took too long")
                .help("run `ordo status ENV` to see which hosts are still locked; remove a dead run's lock with --break-lock")],
        };
        if let Some(w) = &self.finish.history {
            let begun: Vec<String> = self
                .request
                .hosts
                .iter()
                .filter(|h| h.history().is_some_and(|p| p.begun))
                .map(|h| h.name.clone())
                .collect();
            w.remember(&begun);
        }
        let ended = self.endings.ended(&self.finish.token, self.request.hosts, true);
        if released.is_empty() {
            return (result, ended);
        }
        let mut problems = result.err().map(|ps| ps.0).unwrap_or_default();
        problems.extend(released);
        (Err(Problems(problems)), ended)
    }

    /// Releases the locks still held, each after the end of its host's history
    /// entry. Hosts whose history did not take it are said so.
    async fn release(&self) -> Vec<Problem> {
        let r = &self.request;
        let none = |_: &super::HostRun| String::new();
        let lines = self
            .finish
            .history
            .as_ref()
            .map(|w| self.endings.end_lines(w, &r.model.service));
        let before: &dyn Fn(&super::HostRun) -> String = match &lines {
            Some(l) => l,
            None => &none,
        };
        let Released { problems, unrecorded } = unlock(r.model, r.hosts, &self.finish.token, before).await;
        for host in unrecorded {
            r.reporter.event(&super::history::unrecorded(&host, &r.model.service));
        }
        problems
    }

    async fn confirmed(&mut self, confirm: Confirm, changes: usize, hosts: usize) -> Result<bool, Problems> {
        let yes = match confirm {
            Confirm::Yes => true,
            Confirm::Refuse(p) => return Err((*p).into()),
            Confirm::Ask(ask) => {
                let question = format!(
                    "apply {} to {}? [y/N] ",
                    plural(changes, "change"),
                    plural(hosts, "host")
                );
                // The progress lines go before the question.
                self.request.reporter.flush();
                let asked = Instant::now();
                // Ctrl-C at the question is "no", at once: the read of the answer
                // blocks a thread the runtime's shutdown leaves behind.
                let cancel = &self.request.hosts.settings.cancel;
                let answer = tokio::select! {
                    a = tokio::task::spawn_blocking(move || ask(&question)) => {
                        a.map_err(|e| Problem::new(Kind::Usage, format!("confirmation failed: {e}")))?
                    }
                    () = cancel.cancelled() => false,
                };
                self.waited += asked.elapsed();
                answer
            }
        };
        // A signal at the question is an interruption, not a "no": said by the
        // transaction itself, whoever else watches the signal (a front end that
        // looked a moment before the signal came would otherwise take the
        // transaction's "nothing applied" for the run's end, exit 0).
        if self.request.hosts.settings.cancel.is_cancelled() {
            return Err(Problem::new(Kind::Interrupted, "interrupted at the question: nothing was applied").into());
        }
        Ok(yes)
    }

    fn notice(&self, text: &str) {
        self.request.reporter.event(&Event::Notice {
            host: None,
            level: Level::Info,
            text: text.to_string(),
            span: None,
        });
    }

    fn sourced(&self, ps: Problems) -> Problems {
        Problems(ps.0.into_iter().map(|p| p.with_sources(self.request.sources)).collect())
    }
}

impl Drop for Deployment<'_> {
    fn drop(&mut self) {
        // Locks are released by `end`, which is async: a front end that forgets it
        // is a bug the tests must catch.
        debug_assert!(
            self.ended || self.locking.is_none() || std::thread::panicking(),
            "a deployment that takes locks must be ended"
        );
    }
}

/// A run's id: a random-enough token that marks its locks as ours, and the id of
/// its entry in the hosts' histories.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    crate::sys::short_hash(format!("{nanos}-{}-{}", std::process::id(), crate::sys::operator()).as_bytes())
}

#[cfg(test)]
mod tests {
    //! The transaction on a local host in a temporary home, without a front end.

    use std::path::Path;
    use std::sync::Mutex;

    use super::*;
    use crate::exec::{Catalog, RunStep, Settings, connect};
    use crate::model::{HostId, Id, TransportSpec};
    use crate::transport::{CancelToken, SshOptions};

    #[derive(Default)]
    struct Events(Mutex<Vec<Event>>);

    impl Reporter for Events {
        fn event(&self, event: &Event) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    impl Events {
        /// The texts of the notices and the paths of the `planned` events.
        fn texts(&self) -> (Vec<String>, Vec<String>) {
            let (mut notices, mut planned) = (Vec::new(), Vec::new());
            for e in self.0.lock().unwrap().iter() {
                match e {
                    Event::Notice { text, .. } => notices.push(text.clone()),
                    Event::Planned { path, .. } => planned.push(path.clone()),
                    _ => {}
                }
            }
            (notices, planned)
        }
    }

    /// Host `a`, local in a temporary home, with directories `x` and `y` of
    /// component `s`, connected.
    struct Fixture {
        home: tempfile::TempDir,
        model: Arc<Model>,
        plan: Arc<Plan>,
        hosts: Hosts,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let home = tempfile::tempdir().unwrap();
            let mut model = crate::plan::tests::model(&["a"], &[("s", 0)], &[(0, "x"), (0, "y")], &[]);
            model.hosts[HostId::new(0)].transport = TransportSpec::Local {
                home: home.path().into(),
            };
            let settings = Settings {
                ssh: SshOptions::default_for(Path::new("/nonexistent")),
                jobs: 2,
                timeout: Duration::from_secs(60),
                cancel: CancelToken::new(),
                masters: 64,
                skip: crate::exec::Skip::Never,
            };
            let hosts = connect(&model, &[HostId::new(0)], &settings).await.unwrap();
            let plan = Arc::new(Plan::build(&model).unwrap());
            Fixture {
                home,
                model: Arc::new(model),
                plan,
                hosts,
            }
        }

        fn path(&self, rel: &str) -> std::path::PathBuf {
            self.home.path().join(rel)
        }

        /// A deployment of the `keep` steps that reports to `events`.
        fn begin<'a>(&'a self, events: &Arc<Events>, keep: &'a Keep, apply: bool) -> Deployment<'a> {
            static SOURCES: std::sync::LazyLock<SourceMap> = std::sync::LazyLock::new(SourceMap::default);
            Deployment::begin(Request {
                model: &self.model,
                plan: &self.plan,
                hosts: &self.hosts,
                reporter: events.clone(),
                sources: &SOURCES,
                keep,
                apply: apply.then(ApplyRequest::partial),
                started: Instant::now(),
            })
        }
    }

    fn every(_: &Catalog, _: RunStep) -> bool {
        true
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_declined_question_applies_nothing_and_the_end_releases_the_lock() {
        let f = Fixture::new().await;
        let events = Arc::new(Events::default());
        let mut d = f.begin(&events, &every, true);
        let prediction = d.predict().await.unwrap();
        let lock = f.path(".ordo/s/lock");
        assert!(lock.is_dir(), "the probe took the lock");
        let asked = Arc::new(Mutex::new(Vec::new()));
        let seen = asked.clone();
        let ask = Confirm::Ask(Arc::new(move |q: &str| {
            seen.lock().unwrap().push(q.to_string());
            false
        }));
        let result = d.apply(prediction, ask).await;
        assert_eq!(result.unwrap(), None);
        assert_eq!(*asked.lock().unwrap(), ["apply 2 changes to 1 host? [y/N] "]);
        assert_eq!(events.texts().0, ["nothing applied"]);
        assert!(!f.path("d").exists(), "nothing was applied");
        assert!(lock.is_dir(), "held until the end");
        d.end(Ok(())).await.unwrap();
        assert!(!lock.exists(), "released by the end");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_signal_at_the_question_is_an_interruption_not_a_no() {
        let f = Fixture::new().await;
        let events = Arc::new(Events::default());
        let mut d = f.begin(&events, &every, true);
        let prediction = d.predict().await.unwrap();
        // The answer's read never returns: the signal alone ends the question.
        let (_hold, held) = std::sync::mpsc::channel::<()>();
        let held = Mutex::new(held);
        let ask = Confirm::Ask(Arc::new(move |_: &str| {
            let _ = held.lock().unwrap().recv_timeout(std::time::Duration::from_secs(30));
            true
        }));
        let cancel = f.hosts.settings.cancel.clone();
        let signal = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            cancel.cancel();
        });
        let asked = Instant::now();
        let result = d.apply(prediction, ask).await;
        signal.await.unwrap();
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(10),
            "not waited for the read"
        );
        assert_eq!(result.as_ref().unwrap_err().kind(), Kind::Interrupted);
        assert!(
            events.texts().0.is_empty(),
            "no \"nothing applied\": {:?}",
            events.texts().0
        );
        assert!(!f.path("d").exists(), "nothing was applied");
        let ended = d.end(result).await;
        assert_eq!(ended.unwrap_err().kind(), Kind::Interrupted);
        assert!(!f.path(".ordo/s/lock").exists(), "released by the end");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn only_the_kept_steps_are_shown_counted_and_applied() {
        let f = Fixture::new().await;
        let events = Arc::new(Events::default());
        let only_x = |c: &Catalog, s: RunStep| c.path(s).ends_with(" x");
        let mut d = f.begin(&events, &only_x, true);
        let prediction = d.predict().await.unwrap();
        assert_eq!(events.texts().1, ["a:s directory x"]);
        let counts = prediction.counts();
        assert_eq!((counts.changes, counts.unchanged, counts.hosts), (1, 0, 1));
        let applied = d.apply(prediction, Confirm::Yes).await;
        let result = d.end(applied).await;
        assert_eq!(result.unwrap(), Some(1));
        assert!(f.path("d/0/x").is_dir());
        assert!(!f.path("d/0/y").exists(), "not kept, not applied");
        assert!(
            !f.path(".ordo/s/state.json").exists(),
            "a partial apply records nothing"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_refusal_stops_only_a_deployment_that_would_change_something() {
        let f = Fixture::new().await;
        let refuse = || Confirm::Refuse(Box::new(Problem::new(Kind::Usage, "nobody to ask")));
        let events = Arc::new(Events::default());
        let mut d = f.begin(&events, &every, true);
        let prediction = d.predict().await.unwrap();
        let refused = d.apply(prediction, refuse()).await;
        let result = d.end(refused).await;
        assert_eq!(result.unwrap_err().0[0].message, "nobody to ask");
        assert!(!f.path("d").exists());
        assert!(!f.path(".ordo/s/lock").exists());

        let mut d = f.begin(&events, &every, true);
        let prediction = d.predict().await.unwrap();
        let applied = d.apply(prediction, Confirm::Yes).await;
        d.end(applied).await.unwrap();
        let events = Arc::new(Events::default());
        let mut d = f.begin(&events, &every, true);
        let prediction = d.predict().await.unwrap();
        let nothing = d.apply(prediction, refuse()).await;
        assert_eq!(d.end(nothing).await.unwrap(), None);
        assert_eq!(events.texts().0, ["nothing to apply"]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_deployment_that_looks_only_takes_no_lock_and_cannot_apply() {
        let f = Fixture::new().await;
        let events = Arc::new(Events::default());
        let mut d = f.begin(&events, &every, false);
        let prediction = d.predict().await.unwrap();
        assert!(!f.path(".ordo/s/lock").exists());
        assert_eq!(prediction.counts().changes, 2);
        assert!(d.apply(prediction, Confirm::Yes).await.is_err());
        d.end(Ok(())).await.unwrap();
        assert!(!f.path("d").exists());
    }
}
