//! The command line, as plain clap types. `app` turns them into work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "ordo", version, about = "Deploy services made of components spread over several hosts, described in Rhai.")]
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
    /// Show what each host has deployed: fingerprint, when, by whom.
    Status(TargetArgs),
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
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Apply without asking for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}
