//! The resolved configuration of one run: the command line and the `ORDO_*`
//! environment variables (through clap's `env`), decided once before any work —
//! colour per stream, output format, `--jobs`, timeouts, SSH options. Nothing below
//! reads the environment for these again.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::{Cli, Color, Format};

/// How many hosts ordo works on at once unless `--jobs` says otherwise: enough for
/// hundreds of hosts to finish quickly, few enough that the controller and jump
/// hosts (sshd's `MaxStartups`) are not swamped.
pub const DEFAULT_JOBS: u16 = 32;

#[derive(Clone, Debug)]
pub struct Config {
    pub directory: PathBuf,
    pub format: Format,
    /// Escape codes on stdout (renderers, live progress lines).
    pub stdout_color: bool,
    /// Escape codes on stderr (diagnostics).
    pub stderr_color: bool,
    /// A live progress view: human output on a terminal.
    pub live: bool,
    pub jobs: usize,
    /// How long a command or guard may run.
    pub timeout: Duration,
    /// How long a piece of script work may compute.
    pub script_timeout: Duration,
    pub accept_new_host_keys: bool,
    pub connect_timeout: Duration,
    /// `ORDO_DEBUG_ERRORS` set: every Rhai error is also written raw to standard
    /// error, before it becomes a problem (for debugging ordo itself).
    pub debug_errors: bool,
    /// `--set` and `--set-file` values.
    pub sets: Vec<crate::script::SetValue>,
}

impl Config {
    pub fn from_cli(cli: &Cli) -> Result<Config, crate::problem::Problem> {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |terminal: bool| match cli.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => terminal && !no_color,
        };
        let stdout_terminal = std::io::stdout().is_terminal();
        Ok(Config {
            sets: super::sets::parse(&cli.set, &cli.set_file)?,
            directory: cli.directory.clone().unwrap_or_else(|| PathBuf::from(".")),
            format: cli.format,
            stdout_color: cli.format == Format::Human && decide(stdout_terminal),
            stderr_color: decide(std::io::stderr().is_terminal()),
            live: cli.format == Format::Human && stdout_terminal,
            jobs: usize::from(cli.jobs),
            timeout: Duration::from_secs(cli.timeout),
            script_timeout: Duration::from_secs(cli.script_timeout),
            accept_new_host_keys: cli.accept_new_host_keys,
            connect_timeout: Duration::from_secs(10),
            debug_errors: std::env::var_os("ORDO_DEBUG_ERRORS").is_some(),
        })
    }
}
