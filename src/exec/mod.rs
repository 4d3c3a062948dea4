//! Stage 4: run the plan on hosts. Connect to every targeted host first and stop if
//! one is unreachable; probe each host in one round trip; verify in Rust; report the
//! changes; then (for deploy) apply them in plan order, hosts in parallel wherever
//! the plan's edges allow, batching consecutive changes of a host into one script.
//! At the end each host records the deployed fingerprint.

mod apply;
mod change;
mod probe;
mod shell;
pub mod state;

mod hosts;
mod predict;
mod schedule;

pub use change::{Change, Planned};
pub use hosts::{Hosts, connect, unlock};
pub use predict::{HostStatus, Locking, Prediction, predict, read_states};
pub use schedule::{Applied, apply, report_hosts};
pub use state::{HostState, LockInfo};

use crate::model::Model;
use crate::problem::{Kind, Problem};

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// An error on a host's step, pointing at the script line that declared it.
fn step_problem(model: &Model, s: usize, what: String, output: Option<&str>) -> Problem {
    let step = &model.steps[s];
    let host = &model.hosts[step.host].name;
    let mut p = Problem::new(Kind::Step, format!("{} {what}", model.step_path(s)))
        .at(step.span.as_ref(), format!("step declared here, failed on host {host}"));
    p = match output.map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) => p.help(format!("output (last lines):\n{}", tail(o))),
        None => {
            p.help("fix the cause on the host or in the script and deploy again; steps already applied stay applied")
        }
    };
    p
}
