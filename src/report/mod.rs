//! Stage 5: one stream of events (what the plan will change, what each step did,
//! per-host and overall summaries) and interchangeable renderers: human text for
//! people, JSON lines for machines. Executors never print.

mod human;
mod json;

use serde::Serialize;

pub use human::Human;
pub use json::Json;

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Start {
        command: String,
        environment: String,
        service: String,
        hosts: usize,
        steps: usize,
    },
    /// One step's verdict from the plan phase.
    Planned {
        host: String,
        step: usize,
        path: String,
        change: String,
        detail: Option<String>,
        diff: Option<String>,
        span: Option<String>,
    },
    PlanDone {
        changes: usize,
        unchanged: usize,
        conflicts: usize,
        hosts: usize,
    },
    /// A step was applied (or failed, or was skipped).
    Step {
        host: String,
        step: usize,
        path: String,
        status: StepStatus,
        span: Option<String>,
        duration_ms: u64,
        error: Option<String>,
    },
    /// What a host is doing now (for live views).
    Progress { host: String, activity: String },
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
    },
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Unchanged,
    Changed,
    Failed,
    Skipped,
}

/// Consumes events; implementations must be usable from several host tasks.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);
    /// A line of free text (`ordo check` results, status tables).
    fn text(&self, line: &str);
}
