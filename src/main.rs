//! The `ordo` binary: parse the command line, hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // The private key must reach no process ordo starts (docs/secrets.md, decision
    // 46): its variables are read here, kept for identity discovery, and removed
    // from ordo's own environment, which every child inherits (local commands and
    // their daemons, the editor, git, ssh masters).
    ordo::secrets::keep_key_variables();
    // SAFETY: `remove_var` is unsound only while another thread may read or write
    // the environment at the same time. None exists yet: this runs first in
    // `main`, before clap, the tokio runtime or any child process.
    #[allow(unsafe_code)]
    unsafe {
        for name in ordo::secrets::KEY_VARIABLES {
            std::env::remove_var(name);
        }
    }
    ordo::run(ordo::cli::Cli::parse())
}
