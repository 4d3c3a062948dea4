//! `ordo repl [ENV]`: hands the workspace to the REPL, which runs its loop on this
//! thread outside the async runtime (the line editor blocks) and reaches the
//! runtime through its handle.

use std::process::ExitCode;

use crate::cli::ReplArgs;
use crate::problem::Problems;
use crate::repl::{self, Options};
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &ReplArgs) -> Result<ExitCode, Problems> {
    let handle = tokio::runtime::Handle::current();
    let options = Options {
        env: args.env.clone(),
        yes: args.yes,
    };
    tokio::task::block_in_place(|| repl::run(ws, &options, handle))
}
