//! `ordo __complete --index N -- WORDS…` (hidden): the names a shell completes at
//! run time — environments where a command takes `ENV`, hosts and roles after
//! `--hosts`, `component.` and `component.attribute=` after `--set`. The scripts of
//! `ordo completions SHELL` call it with the command line being typed and fall back
//! to the static completions when it prints nothing. It never fails loudly and
//! never reaches the network: hosts and components come from evaluating the
//! environment only when every git library is pinned and in the cache.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::CompleteArgs;
use crate::problem::Problems;
use crate::project::Project;
use crate::project::library;
use crate::script::{self, LibrarySource};

/// Options that take a value (the next word), so that value is not a positional.
const WITH_VALUE: &[&str] = &[
    "-C",
    "--directory",
    "--format",
    "--color",
    "-j",
    "--jobs",
    "--timeout",
    "--set",
    "--set-file",
    "--hosts",
    "--from",
    "--file",
    "--name",
    "-o",
    "--output",
    "--reference",
    "--rev",
    "--to",
    "-n",
];

/// Commands whose first positional is `ENV`, by their path of subcommands.
const ENV_COMMANDS: &[&[&str]] = &[
    &["check"],
    &["plan"],
    &["deploy"],
    &["graph"],
    &["status"],
    &["log"],
    &["rollback"],
    &["run"],
    // Before `hosts`: the first path that matches wins.
    &["hosts", "forget"],
    &["hosts"],
    &["components"],
    &["repl"],
    &["secrets", "edit"],
    &["secrets", "show"],
    &["secrets", "set"],
    &["secrets", "remove"],
    &["secrets", "list"],
    &["secrets", "rekey"],
    &["secrets", "recipients", "list"],
    &["secrets", "recipients", "add"],
    &["secrets", "recipients", "remove"],
];

pub(crate) fn complete(start: &Path, args: &CompleteArgs) -> Result<ExitCode, Problems> {
    let names = candidates(start, &args.words, args.index);
    let mut text = String::new();
    for n in names {
        text.push_str(&n);
        text.push('\n');
    }
    // A closed pipe is fine: the shell stopped listening.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    Ok(ExitCode::SUCCESS)
}

/// The command line as far as completion needs it.
#[derive(Debug, Default, PartialEq)]
struct Line {
    /// `-C DIR`.
    directory: Option<String>,
    /// Positionals other than the word being completed: subcommands, then operands.
    positionals: Vec<String>,
    /// How many positionals come before the word being completed.
    before: usize,
    /// The option whose value is being completed (`--hosts`, `--set`).
    option: Option<String>,
    /// The word being completed (without an `--option=` in front).
    current: String,
}

fn read(words: &[String], index: usize) -> Line {
    let mut line = Line::default();
    let mut i = 1;
    let mut operands_only = false;
    while i < words.len() {
        let word = &words[i];
        let at = i == index;
        if operands_only || !word.starts_with('-') || word == "-" {
            if at {
                line.before = line.positionals.len();
                line.current = word.clone();
            } else {
                line.positionals.push(word.clone());
            }
            i += 1;
            continue;
        }
        if word == "--" {
            operands_only = true;
            i += 1;
            continue;
        }
        // `--hosts=web1,we`, and bash's split of it: `--hosts`, `=`, `web1,we`.
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (word.clone(), None),
        };
        let joined = words.get(i + 1).is_some_and(|w| w == "=");
        let value_at = if joined { i + 2 } else { i + 1 };
        if WITH_VALUE.contains(&name.as_str()) {
            match inline {
                Some(v) => {
                    if at {
                        line.option = Some(name.clone());
                        line.current = v.clone();
                    }
                    if name == "-C" || name == "--directory" {
                        line.directory = Some(v);
                    }
                    i += 1;
                }
                None => {
                    let value = words.get(value_at).cloned().unwrap_or_default();
                    if value_at == index {
                        line.option = Some(name.clone());
                        line.current = value.clone();
                    } else if name == "-C" || name == "--directory" {
                        line.directory = Some(value);
                    }
                    i = value_at + 1;
                }
            }
        } else {
            if at {
                line.current = word.clone();
                line.before = usize::MAX;
            }
            i += 1;
        }
    }
    if index >= words.len() && line.option.is_none() {
        line.before = line.positionals.len();
    }
    line
}

/// Where `ENV` is among the positionals, when the command takes one.
fn env_position(positionals: &[String]) -> Option<usize> {
    ENV_COMMANDS
        .iter()
        .find(|path| path.len() <= positionals.len() && path.iter().zip(positionals).all(|(a, b)| a == b))
        .map(|path| path.len())
}

fn candidates(start: &Path, words: &[String], index: usize) -> Vec<String> {
    let line = read(words, index);
    let start: PathBuf = match &line.directory {
        Some(d) => start.join(d),
        None => start.to_path_buf(),
    };
    let Ok(project) = Project::discover(&start) else {
        return Vec::new();
    };
    let position = env_position(&line.positionals);
    match line.option.as_deref() {
        Some("--hosts") => {
            let Some(env) = position.and_then(|p| line.positionals.get(p)) else {
                return Vec::new();
            };
            hosts(&project, env, &line.current)
        }
        Some("--set") => {
            let env = position.and_then(|p| line.positionals.get(p));
            match env {
                Some(env) => set_values(&project, env, &line.current),
                None => Vec::new(),
            }
        }
        Some(_) => Vec::new(),
        None if position == Some(line.before) && !line.current.starts_with('-') => project
            .environments()
            .into_iter()
            .filter(|e| e.starts_with(&line.current))
            .collect(),
        None => Vec::new(),
    }
}

/// The environment's model, when evaluating it needs no network and writes
/// nothing: every git library pinned for what `ordo.rhai` asks, and in the cache.
fn model(project: &Project, env: &str) -> Option<std::sync::Arc<crate::model::Model>> {
    if !project.environments().iter().any(|e| e == env) {
        return None;
    }
    for d in script::declared_libraries(project).ok()? {
        if let LibrarySource::Git(git) = &d.source {
            let pin = library::pinned(&project.root, git).ok()??;
            if pin.stale_for(git).is_some() || !library::cached(git, &pin.commit) {
                return None;
            }
        }
    }
    let options = script::Options {
        print: std::sync::Arc::new(|_, _| {}),
        ..script::Options::default()
    };
    script::evaluate_with(project, env, options).ok().map(|e| e.model)
}

/// `--hosts web1,we` → `web1,web2`: names and roles, each listed once.
fn hosts(project: &Project, env: &str, current: &str) -> Vec<String> {
    let Some(model) = model(project, env) else {
        return Vec::new();
    };
    let (done, last) = match current.rsplit_once(',') {
        Some((done, last)) => (format!("{done},"), last),
        None => (String::new(), current),
    };
    let taken: Vec<&str> = done.split(',').collect();
    let mut names: Vec<String> = model.hosts.iter().map(|h| h.name.clone()).collect();
    for h in model.hosts.iter() {
        names.extend(h.roles.iter().cloned());
    }
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| n.starts_with(last) && !taken.contains(&n.as_str()))
        .map(|n| format!("{done}{n}"))
        .collect()
}

/// `--set ap` → `app.`; `--set app.p` → `app.port=`.
fn set_values(project: &Project, env: &str, current: &str) -> Vec<String> {
    let Some(model) = model(project, env) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for c in model.components.iter().filter(|c| c.parent.is_none()) {
        let name = match current.split_once('.') {
            None => format!("{}.", c.name),
            Some(_) => {
                for attribute in c.attributes.keys() {
                    out.push(format!("{}.{attribute}=", c.name));
                }
                continue;
            }
        };
        out.push(name);
    }
    out.sort();
    out.dedup();
    out.retain(|n| n.starts_with(current));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn the_word_being_completed_is_found_among_options_and_operands() {
        let w = words("ordo -C dir plan pr");
        let line = read(&w, 4);
        assert_eq!(line.directory.as_deref(), Some("dir"));
        assert_eq!(line.positionals, ["plan"]);
        assert_eq!((line.before, line.current.as_str(), line.option), (1, "pr", None));
        assert_eq!(env_position(&line.positionals), Some(1));

        let w = words("ordo deploy prod --hosts = web1,we");
        let line = read(&w, 5);
        assert_eq!(line.option.as_deref(), Some("--hosts"));
        assert_eq!(line.current, "web1,we");
        assert_eq!(line.positionals, ["deploy", "prod"]);

        let w = words("ordo --set app.po plan prod");
        let line = read(&w, 2);
        assert_eq!(
            (line.option.as_deref(), line.current.as_str()),
            (Some("--set"), "app.po")
        );
        assert_eq!(line.positionals, ["plan", "prod"]);

        // Past the end: a new word.
        let line = read(&words("ordo secrets show"), 3);
        assert_eq!((line.before, line.current.as_str()), (2, ""));
        assert_eq!(env_position(&line.positionals), Some(2));
        // `ordo secrets <TAB>` is not an ENV position.
        let line = read(&words("ordo secrets"), 2);
        assert_ne!(env_position(&line.positionals), Some(line.before));
    }
}
