//! Stage 5: one stream of typed events — what the plan will change, what each step
//! did, per-host and overall summaries, host status, command output, script prints
//! and problems — and interchangeable renderers: plain text for logs and pipes
//! ([`Plain`]), a live view on a terminal ([`Live`]), JSON lines for machines
//! ([`Json`]). Executors and commands never print; every output goes through one
//! [`Reporter`], and [`Redacting`] masks sensitive values before any renderer sees
//! them.

mod fleet;
mod history;
mod json;
mod live;
mod plain;
mod redact;

use serde::{Serialize, Serializer};

pub use json::Json;
pub use live::Live;
pub use plain::Plain;
pub use redact::{Redacting, Redactor};

use crate::model::StepId;
use crate::primitive::{Change, Diff};
use crate::source::Span;

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Start {
        command: String,
        environment: String,
        service: String,
        hosts: usize,
        steps: usize,
        /// `--rev` (and what a rollback goes back to).
        #[serde(skip_serializing_if = "Option::is_none")]
        revision: Option<Revision>,
    },
    /// Something worth saying that is not a step: a lock that was broken, a deploy
    /// running elsewhere, a warning about the scripts.
    Notice {
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        level: Level,
        text: String,
        #[serde(serialize_with = "span_text", skip_serializing_if = "Option::is_none")]
        span: Option<Span>,
    },
    /// One step's verdict from the plan phase (`change` is `"none"` when it is up to
    /// date).
    Planned {
        host: String,
        step: StepId,
        path: String,
        #[serde(serialize_with = "change_word")]
        change: Option<Change>,
        detail: Option<String>,
        diff: Option<Diff>,
        #[serde(serialize_with = "span_text")]
        span: Option<Span>,
        /// The change runs as root (`sudo: true`).
        privileged: bool,
    },
    PlanDone {
        changes: usize,
        unchanged: usize,
        conflicts: usize,
        hosts: usize,
    },
    /// Hosts the run goes on without: they could not be reached, and
    /// `--skip-unreachable` allows it. Nothing is sent to them.
    HostsSkipped { hosts: Vec<SkippedHost> },
    /// A step was applied (or failed, or was skipped).
    Step {
        host: String,
        step: StepId,
        path: String,
        status: StepStatus,
        #[serde(serialize_with = "span_text")]
        span: Option<Span>,
        duration_ms: u64,
        error: Option<String>,
    },
    /// What a step printed although it succeeded (a migration): people should see it.
    StepOutput {
        host: String,
        step: StepId,
        path: String,
        text: String,
    },
    /// The plan of a rolling update: which hosts go in which batch.
    Rolling {
        component: String,
        /// Host names, batch by batch.
        batches: Vec<Vec<String>>,
        max_failures: usize,
        /// `host: command` of the hooks, when there are any.
        before: Option<String>,
        after: Option<String>,
    },
    /// A batch of a rolling update started, passed (its changes done, health
    /// checks included) or failed.
    Batch {
        component: String,
        /// 1-based.
        batch: usize,
        batches: usize,
        hosts: Vec<String>,
        status: BatchStatus,
        /// Since the apply began.
        elapsed_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// What a host is doing now (for live views).
    Progress { host: String, activity: Activity },
    HostDone {
        host: String,
        changed: usize,
        failed: usize,
        skipped: usize,
        round_trips: usize,
    },
    Summary {
        changed: usize,
        unchanged: usize,
        failed: usize,
        skipped: usize,
        hosts: usize,
        duration_ms: u64,
        /// The hosts the run went without (`--skip-unreachable`); left out when none.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        unreachable: Vec<String>,
    },
    /// `ordo check`: the project is consistent.
    Checked { steps: usize, hosts: usize },
    /// `ordo status`: what one host has deployed.
    HostStatus(Box<HostStatus>),
    /// `ordo status`: the hosts do not all run the same version.
    VersionsDiffer {
        versions: usize,
        /// How many entries of the merged deploy history ago the hosts last agreed
        /// (the newest that succeeded on all of them); `None`: none kept did.
        #[serde(skip_serializing_if = "Option::is_none")]
        diverged: Option<usize>,
        /// The run id of that entry.
        #[serde(skip_serializing_if = "Option::is_none")]
        since: Option<String>,
    },
    /// `ordo log`: one run of the merged deploy history (newest first).
    LogEntry(Box<LogEntry>),
    /// `ordo status`, `ordo log`, `ordo rollback`: a host's history does not add
    /// up (lost, edited, cut).
    HistoryProblem { host: String, text: String },
    /// A controller hook ran (`ordo deploy`, `ordo rollback`): its exit code, or
    /// why it did not finish; its output follows as `output` events.
    Hook {
        /// `before_deploy`, `after_deploy` or `on_failure`.
        hook: String,
        command: String,
        code: Option<i32>,
        error: Option<String>,
        duration_ms: u64,
    },
    /// A line a command printed on a host (`ordo run`).
    Output { host: String, stream: Stream, line: String },
    /// A command finished on a host (`ordo run`): its exit code, or why it did not run.
    CommandDone {
        host: String,
        code: Option<i32>,
        error: Option<String>,
    },
    /// `ordo hosts`: one host of the environment.
    Host {
        name: String,
        /// `local` or `ssh`.
        transport: &'static str,
        /// `user@address:port` (ssh) or the home directory (local).
        address: String,
        roles: Vec<String>,
        components: Vec<String>,
        /// `.retire()`: it runs nothing; a deploy tears down what ordo created.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        retired: bool,
    },
    /// `ordo components`: one component and the hosts it is placed on.
    Component { name: String, hosts: Vec<String> },
    /// `ordo libs list`: one library of `ordo.rhai`, in search order.
    Library {
        name: String,
        /// `directory` or `git`.
        kind: &'static str,
        /// The directory (as declared) or the repository URL.
        location: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// The commit `ordo.lock` pins a git library to.
        #[serde(skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        /// The pinned commit is in the cache (the library works offline).
        cached: bool,
        /// How `ordo.rhai` changed since the pin was made (another URL or ref): the
        /// pin is refused until `ordo libs update`.
        #[serde(skip_serializing_if = "Option::is_none")]
        stale: Option<String>,
    },
    /// `ordo libs update`: a pin set or moved.
    LibraryPinned {
        name: String,
        from: Option<String>,
        to: String,
    },
    /// `ordo init`: the files of a new repository.
    Created { path: String },
    /// `print`/`debug` in a script.
    Print {
        text: String,
        #[serde(serialize_with = "span_text", skip_serializing_if = "Option::is_none")]
        span: Option<Span>,
    },
    /// An error — one that ends the run, or a REPL line that failed: people see
    /// the rendered diagnostic on stderr, machines a `problem` event.
    #[serde(rename = "problem")]
    Error {
        #[serde(flatten)]
        report: ProblemReport,
        #[serde(skip)]
        problem: std::sync::Arc<crate::problem::Problem>,
    },
    /// `ordo repl`: the value of a line. `text` is how people see it, `value` the
    /// same as data.
    Result { text: String, value: serde_json::Value },
    /// A problem that stops nothing (a provide nobody requires): people see the
    /// rendered diagnostic on stderr, machines the report.
    Warning {
        #[serde(flatten)]
        report: ProblemReport,
        #[serde(skip)]
        problem: std::sync::Arc<crate::problem::Problem>,
    },
}

/// A host a run went on without, and why it could not be reached.
#[derive(Clone, Debug, Serialize)]
pub struct SkippedHost {
    pub host: String,
    /// The cause in a few words ("connection refused"), when known.
    pub cause: Option<String>,
    pub message: String,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warning,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Unchanged,
    Changed,
    Failed,
    Skipped,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Started,
    Passed,
    Failed,
}

/// What a host is busy with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Activity {
    Connecting,
    Probing,
    Waiting { on: String },
    Applying { step: String },
    Done,
}

impl std::fmt::Display for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Activity::Connecting => f.write_str("connecting"),
            Activity::Probing => f.write_str("probing"),
            Activity::Waiting { on } => write!(f, "waiting for {on}"),
            Activity::Applying { step } => write!(f, "applying {step}"),
            Activity::Done => f.write_str("done"),
        }
    }
}

impl Serialize for Activity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The revision a run evaluates the project at (`--rev`, a rollback).
#[derive(Clone, Debug, Serialize)]
pub struct Revision {
    /// As typed (or the entry's commit, for a rollback).
    pub rev: String,
    pub commit: String,
    /// An ancestor of the current branch.
    pub on_branch: bool,
    pub branch: String,
    /// A rollback: the run whose revision it deploys again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

/// A run in `ordo log`, or a host's current entry in `ordo status`.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    /// The run id (the same on every host it reached).
    pub run: String,
    /// `deploy`, `rollback` or `apply`.
    pub kind: String,
    pub at: String,
    pub by: String,
    pub environment: String,
    pub commit: Option<String>,
    pub dirty: bool,
    /// `--rev` as typed.
    pub rev: Option<String>,
    pub rollback_to: Option<String>,
    /// What a REPL `apply` applied.
    pub what: Option<String>,
    /// `--set` values (masked where they replace or equal a secret).
    pub set: Vec<String>,
    pub fingerprint: String,
    /// Over the hosts it reached: `ok`, `failed`, `interrupted`, `not applied`,
    /// or `unfinished` (a host has no end recorded).
    pub result: String,
    pub hosts: Vec<LogHost>,
    /// How many hosts it targeted.
    pub targeted: usize,
    /// The hosts it went on without because they could not be reached
    /// (`--skip-unreachable`), as the hosts it reached recorded them (up to 20).
    pub unreachable: Vec<String>,
    /// Where the hosts disagree, for people (empty when they agree).
    pub disagreements: Vec<String>,
    /// Changes planned, changed and failed, over its hosts.
    pub planned: usize,
    pub changed: usize,
    pub failed: usize,
    pub duration_ms: Option<u64>,
}

/// A host's part in a run.
#[derive(Clone, Debug, Serialize)]
pub struct LogHost {
    pub host: String,
    /// `None`: no end recorded (killed, or the host was lost).
    pub result: Option<String>,
    /// Its entry number on that host.
    pub seq: Option<u64>,
    pub changed: usize,
    pub failed: usize,
    pub changed_steps: Vec<String>,
    pub failed_steps: Vec<String>,
    pub note: Option<String>,
    pub duration_ms: Option<u64>,
}

/// One host in `ordo status`.
#[derive(Clone, Debug, Serialize)]
pub struct HostStatus {
    pub host: String,
    /// None: never deployed.
    pub deployed: Option<Deployed>,
    /// The newest entry of its deploy history (`None`: it keeps none).
    pub current: Option<LogEntry>,
    /// Who deploys it right now.
    pub locked_by: Option<String>,
    /// The lock's holder ran on this machine and is gone.
    pub stale_lock: bool,
    /// `.retire()`: what `deployed` says is what a deploy would tear down.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Deployed {
    pub fingerprint: String,
    /// The fingerprint is the one this checkout would deploy.
    pub current: bool,
    pub commit: Option<String>,
    /// The deployed tree had uncommitted changes (`deploy --allow-dirty`).
    pub dirty: bool,
    pub environment: String,
    pub ordo_version: String,
    pub deployed_at: String,
    pub deployed_by: String,
    /// `--set` values the deploy was given.
    pub set: Vec<String>,
    /// The git libraries it used, by name, with their pinned commits.
    pub libraries: std::collections::BTreeMap<String, String>,
}

/// A problem as a JSON consumer sees it.
#[derive(Clone, Debug, Serialize)]
pub struct ProblemReport {
    pub severity: &'static str,
    pub code: String,
    pub message: String,
    /// `file:line:col` of the first label, if any.
    pub location: Option<String>,
    pub help: Option<String>,
}

impl ProblemReport {
    pub fn of(p: &crate::problem::Problem) -> Self {
        ProblemReport {
            severity: if p.is_warning() { "warning" } else { "error" },
            code: p.code().to_string(),
            message: p.message.clone(),
            location: p.span().map(ToString::to_string),
            help: p.help.clone(),
        }
    }
}

fn span_text<S: Serializer>(span: &Option<Span>, s: S) -> Result<S::Ok, S::Error> {
    match span {
        Some(span) => s.collect_str(span),
        None => s.serialize_none(),
    }
}

fn change_word<S: Serializer>(change: &Option<Change>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(change.as_ref().map_or("none", Change::word))
}

/// Consumes events; implementations must be usable from several host tasks.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);

    /// One stream of a command's output, whole, as [`Event::Output`] lines (control
    /// characters made visible). Whole, so that redaction sees a secret that spans
    /// lines before the text is split (`Redacting` masks it here first).
    fn output(&self, host: &str, stream: Stream, text: &str) {
        for line in text.lines() {
            self.event(&Event::Output {
                host: host.to_string(),
                stream,
                line: crate::text::visible(line, true),
            });
        }
    }

    /// Waits until everything written has reached its destination.
    fn flush(&self) {}
}

/// Colour codes, used only when colour is on.
pub(crate) mod paint {
    pub(crate) const RESET: &str = "\x1b[0m";
    pub(crate) const GREEN: &str = "\x1b[32m";
    pub(crate) const YELLOW: &str = "\x1b[33m";
    pub(crate) const RED: &str = "\x1b[31m";
    pub(crate) const CYAN: &str = "\x1b[36m";
    pub(crate) const DIM: &str = "\x1b[2m";
    pub(crate) const BOLD: &str = "\x1b[1m";
}

/// One `host` event per host of `model`: the lines of `ordo hosts` and the REPL's
/// `:hosts`, and the data of `hosts()`.
pub(crate) fn host_events(model: &crate::model::Model) -> Vec<Event> {
    model
        .hosts
        .enumerate()
        .map(|(id, host)| {
            let mut components: Vec<String> = model
                .components
                .iter()
                .filter(|c| c.host == id && c.parent.is_none())
                .map(|c| c.name.clone())
                .collect();
            components.dedup();
            let (transport, address) = match &host.transport {
                crate::model::TransportSpec::Local { home } => ("local", home.display().to_string()),
                crate::model::TransportSpec::Ssh { address, port, user } => {
                    let user = user
                        .as_deref()
                        .or((!host.user.is_empty()).then_some(host.user.as_str()));
                    let login = user.map(|u| format!("{u}@")).unwrap_or_default();
                    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                    ("ssh", format!("{login}{address}{port}"))
                }
            };
            Event::Host {
                name: host.name.clone(),
                transport,
                address,
                roles: host.roles.clone(),
                components,
                retired: host.retired,
            }
        })
        .collect()
}
