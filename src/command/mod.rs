//! One file per subcommand that talks to hosts; `app` dispatches to them.

mod deploy;
mod run;
mod secrets;
mod status;

pub(crate) use deploy::{DeployOptions, deploy};
pub(crate) use run::run_command;
pub(crate) use secrets::secrets;
pub(crate) use status::status;
