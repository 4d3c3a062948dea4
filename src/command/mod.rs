//! One file per subcommand. Each receives the [`Workspace`](crate::workspace::Workspace)
//! (configuration, project, reporter) and returns an exit code or problems; none
//! imports `app`.

pub(crate) mod check;
pub(crate) mod completions;
pub(crate) mod components;
pub(crate) mod deploy;
pub(crate) mod doc;
pub(crate) mod graph;
pub(crate) mod hooks;
pub(crate) mod hosts;
pub(crate) mod init;
pub(crate) mod libs;
pub(crate) mod log;
pub(crate) mod names;
pub(crate) mod repl;
pub(crate) mod rollback;
pub(crate) mod run;
pub(crate) mod secrets;
pub(crate) mod status;
pub(crate) mod timeline;
