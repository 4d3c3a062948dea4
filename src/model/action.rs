//! What a step does on its host. The built-in actions are data that the executor
//! turns into batched shell; [`Action::Custom`] holds verify/update code written in
//! Rhai behind the [`CustomStep`] trait, so the model stays free of Rhai types.

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::HostPath;
use crate::problem::Problem;

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Action {
    File {
        /// The path as the script wrote it, for display.
        name: String,
        path: HostPath,
        #[serde(serialize_with = "digest")]
        content: Arc<[u8]>,
        mode: Option<u32>,
        /// The template it was rendered from, if any.
        template: Option<String>,
    },
    Directory {
        name: String,
        path: HostPath,
        mode: Option<u32>,
    },
    Symlink {
        name: String,
        path: HostPath,
        target: String,
    },
    Command {
        name: String,
        run: String,
        cwd: HostPath,
        unless: Option<String>,
        creates: Option<HostPath>,
        /// Runs on every deploy (no guard): declared explicitly by the script.
        always: bool,
    },
    Custom {
        name: String,
        #[serde(skip)]
        step: Arc<dyn CustomStep>,
    },
}

impl Action {
    /// `file etc/app.ini`, `command migrate`: the step's name in breadcrumbs.
    pub fn label(&self) -> String {
        match self {
            Action::File {
                name,
                template: Some(_),
                ..
            } => format!("template {name}"),
            Action::File { name, .. } => format!("file {name}"),
            Action::Directory { name, .. } => format!("directory {name}"),
            Action::Symlink { name, .. } => format!("symlink {name}"),
            Action::Command { name, .. } => format!("command {name}"),
            Action::Custom { name, .. } => format!("step {name}"),
        }
    }

    /// The path this action manages, if it manages one.
    pub fn path(&self) -> Option<&HostPath> {
        match self {
            Action::File { path, .. } | Action::Directory { path, .. } | Action::Symlink { path, .. } => Some(path),
            Action::Command { .. } | Action::Custom { .. } => None,
        }
    }
}

fn digest<S: Serializer>(content: &Arc<[u8]>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&sha256_hex(content))
}

pub use crate::sys::sha256_hex;

/// Output of a command run on a host: the transport's type.
pub use crate::transport::RunOutput;

/// What a custom step's code may do with its host: run commands (synchronously; the
/// executor calls custom steps on blocking threads).
pub trait HostIo: Send + Sync {
    fn host_name(&self) -> &str;
    fn run(&self, command: &str) -> Result<RunOutput, Problem>;
}

/// A step whose verify and update are written by the user (in Rhai).
pub trait CustomStep: Send + Sync + fmt::Debug {
    /// `Ok(true)` when the host is already right and update need not run.
    fn verify(&self, host: Arc<dyn HostIo>) -> Result<bool, Problem>;
    fn update(&self, host: Arc<dyn HostIo>) -> Result<(), Problem>;
}
