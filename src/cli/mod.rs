//! The command line, as plain clap types. [`config::Config`] resolves them (and the
//! `ORDO_*` environment variables) once, before any work.

pub mod config;
pub mod sets;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `ordo --version`: the package version and, when built from a git checkout of
/// ordo, the commit (`0.1.0 (git 16ec595e1d2a)`, `-dirty` with uncommitted
/// sources); see `build.rs`.
pub const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), env!("ORDO_BUILD"));

#[derive(Debug, Parser)]
#[command(
    name = "ordo",
    version = LONG_VERSION,
    about = "Deploy services made of components spread over several hosts, described in Rhai."
)]
pub struct Cli {
    /// Run as if started in DIR (the project is found at or above it).
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,

    /// Output format: text for people, or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human, env = "ORDO_FORMAT")]
    pub format: Format,

    /// When to use colour (NO_COLOR in the environment also turns it off).
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, env = "ORDO_COLOR")]
    pub color: Color,

    /// How many hosts to work on at once (connect, probe, apply, run).
    #[arg(long, short = 'j', global = true, value_name = "N", env = "ORDO_JOBS", default_value_t = config::DEFAULT_JOBS,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,

    /// How long a command or guard may run on a host before it is stopped with its
    /// whole process group (a command's own `timeout:` wins).
    #[arg(long, global = true, value_name = "SECONDS", env = "ORDO_TIMEOUT", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// How long one evaluation of the scripts, one REPL line or one call of a custom
    /// step may compute before it is stopped with an error (waits for hosts do not count).
    #[arg(long, global = true, value_name = "SECONDS", env = "ORDO_SCRIPT_TIMEOUT",
          default_value_t = crate::script::DEFAULT_SCRIPT_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub script_timeout: u64,

    /// Trust the SSH host key of hosts seen for the first time (accept-new). A key
    /// that changed is refused regardless.
    #[arg(long, global = true, env = "ORDO_ACCEPT_NEW_HOST_KEYS", value_parser = clap::builder::FalseyValueParser::new())]
    pub accept_new_host_keys: bool,

    /// Set an attribute for this run: `--set app.port=8081` (repeatable; the value
    /// is read as TOML, else as a string, and as written where the default is a
    /// string). Wins over every other value; recorded on the hosts a deploy changes.
    #[arg(long, global = true, value_name = "COMPONENT.ATTRIBUTE=VALUE")]
    pub set: Vec<String>,

    /// Attribute values from a TOML file: one table per component (`[app]` then
    /// `port = 8081`). Wins over the scripts' values, not over `--set`.
    #[arg(long, global = true, value_name = "FILE")]
    pub set_file: Vec<PathBuf>,

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
    Check(CheckArgs),
    /// Probe the hosts and show every change a deploy would make, with diffs. Changes nothing.
    Plan(PlanArgs),
    /// Plan, then apply the changes.
    Deploy(DeployArgs),
    /// Print the plan's step graph as Graphviz DOT.
    Graph(EnvArgs),
    /// Show what each host has deployed: its current entry of the deploy history
    /// (revision, by whom, when, result), the deployed fingerprint, who deploys now,
    /// and how long ago the hosts diverged when they differ.
    Status(TargetArgs),
    /// The hosts' deploy histories merged into one timeline: one line per deploy,
    /// with the hosts it reached and where they disagree.
    Log(LogArgs),
    /// Deploy again the revision of the previous successful entry of the deploy
    /// history (or of ENTRY, or REV): an ordinary deploy, planned and confirmed.
    Rollback(RollbackArgs),
    /// Run a shell command on hosts in parallel; output grouped per host.
    Run(RunArgs),
    /// List the hosts of an environment: transport, address, roles, components,
    /// whether retired; or forget a host deleted from it.
    Hosts(HostsArgs),
    /// List the components placed in an environment, and on which hosts.
    Components(EnvArgs),
    /// An interactive session with the environment loaded and its hosts one call
    /// away; with a script on standard input, evaluates it line by line.
    Repl(ReplArgs),
    /// The recipe libraries of `ordo.rhai`: list them with their pins, or move the
    /// pins of git libraries to what their refs point at now.
    Libs(LibsArgs),
    /// Create a new deployment repository (service, component, `local` and
    /// `production` environments) that `ordo deploy local --yes` deploys at once.
    Init(InitArgs),
    /// Print shell completions (`ordo completions bash > /etc/bash_completion.d/ordo`).
    Completions(CompletionsArgs),
    /// Print the man page (`ordo man | man -l -`).
    Man,
    /// Print the reference of a DSL function, primitive, standard library module or
    /// subcommand; without NAME, list every name.
    Doc(DocArgs),
    /// Write Rhai definition files (`.d.rhai`) of the whole API into DIR, for the
    /// Rhai language server in an editor.
    Definitions(DefinitionsArgs),
    /// Passwords, tokens and keys of an environment, encrypted with age in secrets/.
    Secrets(SecretsArgs),
    /// The names a shell completes at run time (environments, hosts, components),
    /// for the scripts of `ordo completions`.
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The position of the word being completed in WORDS (0: the program).
    #[arg(long)]
    pub index: usize,
    /// The command line being typed, split into words by the shell.
    #[arg(last = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Decrypt into a private temporary file, run $EDITOR, encrypt what changed.
    Edit {
        /// The environment: secrets/<ENV>.secrets.
        env: String,
        /// Edit the secret file secrets/<ENV>/<FILE>.age instead of the values.
        file: Option<String>,
        /// Start from this text (kept by an edit that could not be saved) instead of
        /// the stored secrets; removed once saved.
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
    },
    /// Print decrypted secrets: all values, one value, or a file. The one command that
    /// prints plaintext.
    Show {
        env: String,
        /// Only this value, printed alone.
        key: Option<String>,
        /// Print the secret file NAME, byte for byte.
        #[arg(long, value_name = "NAME", conflicts_with = "key")]
        file: Option<String>,
    },
    /// Set a value (or with --file, a secret file) from standard input, never from
    /// the command line. A single trailing newline of a value is dropped.
    Set {
        env: String,
        /// The value's name.
        #[arg(required_unless_present = "file")]
        key: Option<String>,
        /// Set the secret file NAME to the bytes read from stdin.
        #[arg(long, value_name = "NAME", conflicts_with = "key")]
        file: Option<String>,
    },
    /// Remove a value or a secret file.
    Remove { env: String, name: String },
    /// List the names of values and files; needs no key.
    List { env: String },
    /// Who can decrypt: list, add or remove public keys (re-encrypts everything).
    Recipients(RecipientsArgs),
    /// Encrypt everything again to the keys the recipients files list now (after
    /// editing one by hand): all environments, or ENV.
    Rekey {
        env: Option<String>,
        /// Also environments already encrypted to their current recipients.
        #[arg(long)]
        force: bool,
    },
    /// Make a new age key: the private key to stdout (or -o FILE, mode 0600), the
    /// public key to share on stderr.
    Keygen {
        /// Write the private key to this file (refuses to overwrite), e.g.
        /// ~/.config/ordo/age.key.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RecipientsArgs {
    #[command(subcommand)]
    pub command: RecipientsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RecipientsCommand {
    /// The keys that can decrypt ENV's secrets.
    List { env: String },
    /// Add a public key (age1…, an SSH public key line, or a .pub file) and
    /// re-encrypt everything to it.
    Add {
        env: String,
        /// The public key; several words are joined (an unquoted SSH key line works).
        #[arg(required = true, num_args = 1.., value_name = "KEY")]
        key: Vec<String>,
        /// Who the key belongs to, written as a comment above it.
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a key (by the key, or by the name in its comment) and re-encrypt
    /// everything without it.
    Remove {
        env: String,
        #[arg(required = true, num_args = 1.., value_name = "KEY")]
        key: Vec<String>,
    },
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
pub struct ReplArgs {
    /// The environment to load: environments/<ENV>.rhai (later: `:env NAME`).
    pub env: Option<String>,

    /// Let apply(..) change hosts without asking (the only way to apply from a
    /// script on standard input).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory to create the repository in (created if missing; must be empty).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// The service's name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct DocArgs {
    /// What to document: `file`, `c.attr`… `attr`, `ordo/web`, `deploy`.
    pub name: Option<String>,

    /// Write the generated reference (dsl.md, stdlib.md, cli.md) into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with = "name")]
    pub reference: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LibsArgs {
    #[command(subcommand)]
    pub command: LibsCommand,
}

#[derive(Debug, Subcommand)]
pub enum LibsCommand {
    /// The libraries, in search order: directories, and git libraries with the
    /// commit `ordo.lock` pins and whether it is in the cache (usable offline).
    List,
    /// Fetch git libraries and pin them to the commit their `ref` points at now,
    /// in `ordo.lock` (all when no NAME is given). Commit `ordo.lock` afterwards.
    Update {
        /// Git libraries to move (by name).
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct DefinitionsArgs {
    /// The directory to write the `.d.rhai` files into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The environment: environments/<ENV>.rhai.
    pub env: String,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct HostsArgs {
    /// The environment: environments/<ENV>.rhai.
    #[arg(required = true)]
    pub env: Option<String>,

    #[command(subcommand)]
    pub command: Option<HostsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum HostsCommand {
    /// Forget a host that a deploy reached and the environment no longer declares:
    /// ordo stops warning about it. Nothing on the host changes — whatever ordo put
    /// there keeps running; to tear it down instead, declare it retired and deploy.
    Forget {
        /// The environment: environments/<ENV>.rhai.
        env: String,
        /// The host's name, as the warning gives it.
        host: String,
    },
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The environment: environments/<ENV>.rhai.
    pub env: String,

    /// Only these hosts: comma-separated names, globs (web*) or roles; `@failed`
    /// for the hosts where the last deploy of the environment did not finish.
    #[arg(long, value_delimiter = ',')]
    pub hosts: Vec<String>,
}

/// `--rev`: the deployment repository as it was at a git revision.
#[derive(Debug, Args, Default)]
pub struct RevArgs {
    /// Evaluate the deployment repository as it was at this git revision (a commit,
    /// tag or branch), from a temporary checkout: its scripts, its ordo.lock, its
    /// secrets files.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,

    /// Accept a --rev that is not an ancestor of the current branch.
    #[arg(long, requires = "rev")]
    pub allow_any_rev: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The environment: environments/<ENV>.rhai.
    pub env: String,

    #[command(flatten)]
    pub rev: RevArgs,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Only the newest N deploys.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    pub max_count: Option<usize>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The environment: environments/<ENV>.rhai.
    pub env: String,

    /// The entry to go back to (a run id from `ordo log`, or its first characters),
    /// or any git revision; default: the newest entry before the current one that
    /// succeeded on every host.
    #[arg(long, value_name = "ENTRY|REV")]
    pub to: Option<String>,

    /// Apply without asking for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Remove another deploy's lock on the hosts first (when that deploy died).
    #[arg(long)]
    pub break_lock: bool,

    /// Accept a revision that is not an ancestor of the current branch.
    #[arg(long)]
    pub allow_any_rev: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub rev: RevArgs,

    /// Exit with 2 when there are changes (0 when none), for CI drift checks; an
    /// error that would exit 2 exits 1 instead.
    #[arg(long, alias = "detailed-exitcode")]
    pub exit_code: bool,

    /// Go on without hosts that cannot be reached: at most N of them, or P percent
    /// of the targeted hosts (alone: any number, as long as one is reached). Only
    /// hosts the network cannot reach — never one whose host key or login is
    /// refused, nor one the plan ties to other hosts (provide/require, ordering).
    /// They are named in the plan and the summary, nothing is recorded on them,
    /// and ordo exits with 5.
    #[arg(long, value_name = "N|P%", num_args = 0..=1, require_equals = true, default_missing_value = "all",
          value_parser = parse_skip)]
    pub skip_unreachable: Option<SkipUnreachable>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub rev: RevArgs,

    /// Apply without asking for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Remove another deploy's lock on the hosts first (when that deploy died).
    #[arg(long)]
    pub break_lock: bool,

    /// Deploy from a git working tree with uncommitted changes to the project's inputs.
    #[arg(long)]
    pub allow_dirty: bool,

    /// Deploy onto hosts that another environment of the service deployed last.
    #[arg(long)]
    pub switch_environment: bool,

    /// Go on without hosts that cannot be reached: at most N of them, or P percent
    /// of the targeted hosts (alone: any number, as long as one is reached). Only
    /// hosts the network cannot reach — never one whose host key or login is
    /// refused, nor one the plan ties to other hosts (provide/require, ordering).
    /// They are named in the plan and the summary, nothing is recorded on them,
    /// and ordo exits with 5.
    #[arg(long, value_name = "N|P%", num_args = 0..=1, require_equals = true, default_missing_value = "all",
          value_parser = parse_skip)]
    pub skip_unreachable: Option<SkipUnreachable>,
}

/// `--skip-unreachable[=N|P%]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipUnreachable {
    /// Any number of hosts, as long as one is reached.
    All,
    Hosts(usize),
    Percent(u8),
}

fn parse_skip(text: &str) -> Result<SkipUnreachable, String> {
    let bad = || format!("`{text}` is not a number of hosts (5) or a percentage of them (10%)");
    if text == "all" {
        return Ok(SkipUnreachable::All);
    }
    match text.strip_suffix('%') {
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= 100 => Ok(SkipUnreachable::Percent(p)),
            _ => Err(bad()),
        },
        None => text.parse().map(SkipUnreachable::Hosts).map_err(|_| bad()),
    }
}
