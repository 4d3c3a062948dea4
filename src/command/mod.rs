//! One file per subcommand that talks to hosts; `app` dispatches to them.

mod deploy;
mod run;
mod status;

pub(crate) use deploy::{DeployOptions, deploy};
pub(crate) use run::run_command;
pub(crate) use status::status;
