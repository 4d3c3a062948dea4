//! The `ordo` binary: parse the command line, hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    ordo::run(ordo::cli::Cli::parse())
}
