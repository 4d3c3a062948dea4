//! Stage 4: run the plan on hosts. Reach every targeted host before anything
//! changes and stop if one is unreachable (unless `--skip-unreachable` allows going
//! on without it); probe each host in one round trip (taking its deploy lock in the
//! same trip); verify in Rust, generically over the primitives; report the changes;
//! then (for deploy) apply them in plan order, hosts in parallel wherever the plan's
//! edges allow, batching consecutive changes of a host into one script. At the end
//! each host records the deployed fingerprint and what ordo created. A fleet of more
//! ssh hosts than the run keeps masters is reached in waves: a host connects when
//! it is probed, is let go at once when it has nothing to do, and keeps only its
//! plan (not its connection) until the apply.
//!
//! | file | what |
//! |---|---|
//! | `history/` | the deploy history each host keeps: its lines, read back and checked, merged into one timeline |
//! | `deployment.rs` | [`Deployment`]: the one deploy transaction (begin → predict → apply → end) that `ordo plan`/`deploy` and the REPL drive |
//! | `catalog.rs` | [`RunStep`] and the [`Catalog`]: every step of a run (declared, or a removal) and what each is |
//! | `hosts.rs` | one [`HostRun`] per targeted host; connect, unlock, the custom-step bridge |
//! | `limits.rs` | [`fan_out`]: every phase over many hosts, bounded by `--jobs`; the [`Budget`] of jobs and masters within the descriptor limit |
//! | `masters.rs` | the live ssh masters of a run, at most twice `--jobs`: a lease per script, the least recently used closed first |
//! | `settle.rs` | a host let go in its probe wave: nothing to do, nothing any other host can add |
//! | `reach.rs` | unreachable hosts: the default stop, `--skip-unreachable`, the plan's ties that forbid skipping a host |
//! | `outcome.rs` | what a deploy did on each host, for `--hosts @failed` |
//! | `lock.rs` | the deploy lock: taken in the probe, stale detection, release |
//! | `probe.rs` | the probe script of a host and what it found |
//! | `verify.rs` | verify of one host: triggers, pending markers, paths in the way, removals (a retired host's records last) |
//! | `predict.rs` | the plan phase over all hosts, its events (a retired host's teardown header) |
//! | `prediction.rs` | [`Prediction`]: what the plan phase found, per host |
//! | `reached.rs` | [`ReachedHosts`]: the controller's record of the hosts deploys reached, and the warning for one no longer declared |
//! | `rolling.rs` | rolling updates in the plan phase: which hooks run, the rollout events |
//! | `schedule/` | the apply phase: cross-host waits, batches, the failure policy |
//! | `state.rs` | what ordo keeps on a host |
//! | `status.rs` | `ordo status`: each host's record and lock, read by the probe |

mod catalog;
mod deployment;
pub mod history;
mod hosts;
mod limits;
pub mod lock;
mod masters;
mod outcome;
mod predict;
mod prediction;
mod probe;
mod reach;
pub mod reached;
mod rolling;
mod schedule;
mod settle;
pub mod state;
mod status;
mod verify;

pub use catalog::{Catalog, Keep, RemovalId, RemovalStep, RunStep};
pub use deployment::{ApplyRequest, Confirm, Deployment, Request, new_run_id};
pub use history::Ended;
pub use hosts::{HostRun, Hosts, Released, Settings, connect, connects_as_it_goes, transport_for, unlock};
pub use limits::{Budget, fan_out};
pub use lock::{LockInfo, LockStatus, Locking};
pub use prediction::{Counts, HostPlan, PlannedStep, Prediction};
pub use reach::{Skip, Skipped};
pub use reached::ReachedHosts;
pub use schedule::{Applied, Finish, Totals};
pub use state::HostState;
pub use status::{HostStatus, read_states};

use crate::text::visible;

/// The last lines of a command's output, made safe to print (the cut marked for
/// the redactor).
pub(crate) fn tail(text: &str) -> String {
    visible(&crate::text::last_lines(text, 10), true)
}
