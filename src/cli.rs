//! The command line, as plain clap types. `app` turns them into work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ordo",
    version,
    about = "Deploy services made of components spread over several hosts, described in Rhai."
)]
pub struct Cli {
    /// Run as if started in DIR (the project is found at or above it).
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,

    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load, evaluate and plan without touching any host: errors, or "ok: N steps on M hosts".
    Check(EnvArgs),
    /// Probe the hosts and show every change a deploy would make, with diffs. Changes nothing.
    Plan(TargetArgs),
    /// Plan, then apply the changes.
    Deploy(DeployArgs),
    /// Print the plan's step graph as Graphviz DOT.
    Graph(EnvArgs),
    /// Show what each host has deployed: fingerprint, when, by whom, who deploys now.
    Status(TargetArgs),
    /// Run a shell command on hosts in parallel; output grouped per host.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// The command (after `--`), run with `sh -c` in the service user's home.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The environment: environments/<ENV>.rhai.
    pub env: String,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The environment: environments/<ENV>.rhai.
    pub env: String,

    /// Only these hosts: comma-separated names, globs (web*) or roles.
    #[arg(long, value_delimiter = ',')]
    pub hosts: Vec<String>,

    /// Trust the SSH host key of hosts seen for the first time (accept-new). A key
    /// that changed is refused regardless. Also: ORDO_ACCEPT_NEW_HOST_KEYS=1.
    #[arg(long)]
    pub accept_new_host_keys: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Apply without asking for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Remove another deploy's lock on the hosts first (when that deploy died).
    #[arg(long)]
    pub break_lock: bool,

    /// Deploy from a git working tree with uncommitted changes.
    #[arg(long)]
    pub allow_dirty: bool,
}
