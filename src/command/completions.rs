//! `ordo completions SHELL` and `ordo man`: shell completions and the man page,
//! generated from the clap definitions, so they cannot drift from the command line.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::problem::{Kind, Problem, Problems};

pub(crate) fn completions(args: &CompletionsArgs) -> Result<ExitCode, Problems> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "ordo", &mut out);
    write(&out)
}

pub(crate) fn man() -> Result<ExitCode, Problems> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Problem::new(Kind::Usage, format!("cannot render the man page: {e}")))?;
    write(&out)
}

fn write(bytes: &[u8]) -> Result<ExitCode, Problems> {
    // A closed pipe is fine.
    let _ = std::io::stdout().lock().write_all(bytes);
    Ok(ExitCode::SUCCESS)
}
