//! The line editor's helper: completion of API functions (shown with their
//! signatures), host, component and attribute names inside a string, `:`
//! commands and their arguments; and multi-line input while a bracket, a string
//! or a comment is still open. [`complete_input`] decides the latter for scripted
//! input too.

use std::sync::{Arc, RwLock};

use rustyline::completion::{Completer, Pair};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper, Highlighter, Hinter};

/// The `:` commands.
pub(crate) const COMMANDS: &[(&str, &str)] = &[
    (
        ":help",
        ":help [NAME]  the REPL's functions and commands, or what NAME does",
    ),
    (":hosts", ":hosts  the hosts of the environment"),
    (":env", ":env NAME  load another environment (closes the connections)"),
    (
        ":reload",
        ":reload  read the project's files again (keeps the connections)",
    ),
    (":quit", ":quit  end the session (also Ctrl-D)"),
];

/// What can be completed; refreshed when an environment is loaded.
#[derive(Default)]
pub(crate) struct Names {
    /// (name, signature), sorted by name.
    pub(crate) functions: Vec<(String, String)>,
    pub(crate) hosts: Vec<String>,
    pub(crate) components: Vec<String>,
    pub(crate) attributes: Vec<String>,
    pub(crate) environments: Vec<String>,
}

#[derive(Helper, Hinter, Highlighter)]
pub(crate) struct ReplHelper {
    pub(crate) names: Arc<RwLock<Names>>,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        Ok(complete(&self.names.read().expect("names poisoned"), line, pos))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if complete_input(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

fn pairs<'a>(words: impl Iterator<Item = (&'a str, &'a str)>, prefix: &str) -> Vec<Pair> {
    let mut out: Vec<Pair> = Vec::new();
    for (word, display) in words {
        if word.starts_with(prefix) && !out.iter().any(|p| p.replacement == word && p.display == display) {
            out.push(Pair {
                display: display.to_string(),
                replacement: word.to_string(),
            });
        }
    }
    out
}

/// The completions at `pos`: where the replaced word starts, and the candidates.
pub(crate) fn complete(names: &Names, line: &str, pos: usize) -> (usize, Vec<Pair>) {
    let before = &line[..pos];
    if let Some(rest) = before.strip_prefix(':') {
        return match rest.split_once(' ') {
            None => (0, pairs(COMMANDS.iter().map(|(c, _)| (*c, *c)), before)),
            Some(("help", arg)) => (
                pos - arg.len(),
                dedup_names(pairs(
                    names.functions.iter().map(|(n, _)| (n.as_str(), n.as_str())),
                    arg,
                )),
            ),
            Some(("env", arg)) => (
                pos - arg.len(),
                pairs(names.environments.iter().map(|e| (e.as_str(), e.as_str())), arg),
            ),
            Some(_) => (pos, Vec::new()),
        };
    }
    if let Some(open) = open_string(before) {
        let word = &before[open..];
        let all = names
            .hosts
            .iter()
            .chain(&names.components)
            .chain(&names.attributes)
            .map(|n| (n.as_str(), n.as_str()));
        return (open, pairs(all, word));
    }
    let start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + before[i..].chars().next().map_or(1, char::len_utf8));
    let word = &before[start..];
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return (pos, Vec::new());
    }
    // After a dot, a method or property; elsewhere any function.
    (
        start,
        pairs(names.functions.iter().map(|(n, sig)| (n.as_str(), sig.as_str())), word),
    )
}

/// One candidate per name: a function with several signatures is offered once
/// when only its name is wanted.
fn dedup_names(mut pairs: Vec<Pair>) -> Vec<Pair> {
    pairs.dedup_by(|a, b| a.replacement == b.replacement);
    pairs
}

/// Where the string literal open at the end of `text` starts its contents.
fn open_string(text: &str) -> Option<usize> {
    let scan = scan(text);
    scan.string_start
}

struct Scan {
    depth: i64,
    string_start: Option<usize>,
    in_comment: bool,
}

/// Brackets, strings and comments of Rhai source, as far as multi-line input
/// needs them.
fn scan(text: &str) -> Scan {
    let mut depth = 0i64;
    let mut string: Option<(char, usize)> = None;
    let mut block_comment = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if block_comment {
            if c == '*' && chars.peek().is_some_and(|(_, n)| *n == '/') {
                chars.next();
                block_comment = false;
            }
            continue;
        }
        if let Some((quote, _)) = string {
            match c {
                '\\' if quote != '`' => {
                    chars.next();
                }
                c if c == quote => string = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '`' => string = Some((c, i + 1)),
            '\'' => {
                // A character literal: 'x' or '\n'.
                if let Some((_, '\\')) = chars.next() {
                    chars.next();
                }
                chars.next();
            }
            '/' if chars.peek().is_some_and(|(_, n)| *n == '/') => {
                for (_, n) in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek().is_some_and(|(_, n)| *n == '*') => {
                chars.next();
                block_comment = true;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    Scan {
        depth,
        string_start: string.map(|(_, start)| start),
        in_comment: block_comment,
    }
}

/// Whether `text` is a whole input: no bracket, string or block comment left
/// open. A `:` command is always whole. Too many closing brackets count as whole:
/// the parser says what is wrong.
pub(crate) fn complete_input(text: &str) -> bool {
    if text.trim_start().starts_with(':') {
        return true;
    }
    let s = scan(text);
    s.depth <= 0 && s.string_start.is_none() && !s.in_comment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            functions: vec![
                ("facts".into(), "facts(host: string) -> map".into()),
                ("file".into(), "file(path: string, content: string) -> StepSpec".into()),
                ("host".into(), "host(pattern: string) -> Hosts".into()),
                ("hosts".into(), "hosts() -> array".into()),
            ],
            hosts: vec!["web1".into(), "web2".into(), "db1".into()],
            components: vec!["app".into()],
            attributes: vec!["port".into()],
            environments: vec!["prod".into(), "test".into()],
        }
    }

    fn words(line: &str) -> (usize, Vec<String>) {
        let (start, pairs) = complete(&names(), line, line.len());
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn completes_functions_names_and_commands() {
        assert_eq!(words("let x = fac"), (8, vec!["facts".into()]));
        assert_eq!(words("hos"), (0, vec!["host".into(), "hosts".into()]));
        assert_eq!(words("facts(\"we"), (7, vec!["web1".into(), "web2".into()]));
        assert_eq!(words("attrs(\"app\", \"d"), (14, vec!["db1".into()]));
        assert_eq!(words(":re"), (0, vec![":reload".into()]));
        assert_eq!(words(":env p"), (5, vec!["prod".into()]));
        assert_eq!(words(":help ho"), (6, vec!["host".into(), "hosts".into()]));
        assert_eq!(words("1"), (1, vec![]));
    }

    #[test]
    fn input_is_whole_when_nothing_is_open() {
        assert!(complete_input("let x = 1;"));
        assert!(complete_input(":help file"));
        assert!(!complete_input("fn f() {"));
        assert!(!complete_input("let s = \"a"));
        assert!(!complete_input("let s = `a\nb"));
        assert!(complete_input("let s = \"{\";"));
        assert!(complete_input("let c = '{'; // {"));
        assert!(!complete_input("/* a"));
        assert!(complete_input("foo())"));
    }
}
