//! ordo: deploy services made of components spread over several hosts.
//!
//! The crate follows the data flow of a deployment, one direction only:
//! `script` (load + evaluate Rhai) → `model` → `plan` → `exec` + `transport` → `report`.
//! `app` composes the stages for each subcommand; `main.rs` only calls [`run`].
//! See `src/README.md` for a map of the modules.

pub mod app;
pub mod cli;
mod command;
pub mod doc;
pub mod exec;
pub mod host_path;
pub mod ids;
pub mod model;
pub mod plan;
pub mod primitive;
pub mod problem;
pub mod project;
pub mod repl;
pub mod report;
pub mod script;
pub mod secrets;
pub mod shell;
pub mod source;
pub mod sys;
pub mod text;
pub mod transport;
pub mod workspace;

/// The version recorded on every host next to the project's fingerprint.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub use app::run;
