//! Turns Rhai's errors into [`Problem`]s: the innermost error becomes the message
//! and primary label (in the file where it happened: a stdlib module, a project
//! module or the script itself) and every function call or import on the way out
//! becomes a label at the user's call site.

use rhai::{EvalAltResult, ParseErrorType};

use super::clock::TimeUp;
use super::errors::{ProblemValue, Unsatisfied, script_type_names, span_from_rhai};
use super::limits::{DEFAULT_SCRIPT_TIMEOUT, MAX_ARRAY_SIZE, MAX_CALL_LEVELS, MAX_MAP_SIZE, MAX_STRING_SIZE};
use crate::problem::{Kind, Problem};
use crate::source::{SourceMap, Span};

/// `file` is the source the outermost position refers to (`None`: use the
/// position's own source where Rhai knows it). `sources` holds the texts, to name
/// the word at a position.
pub(crate) fn from_eval(err: Box<EvalAltResult>, file: Option<&str>, sources: &SourceMap) -> Problem {
    if super::limits::debug_errors() {
        eprintln!("rhai error: {err:#?}");
    }
    let mut frames: Vec<(Span, String)> = Vec::new();
    let mut file = file.map(str::to_string);
    let mut err = err;
    loop {
        match *err {
            EvalAltResult::ErrorInFunctionCall(name, source, inner, pos) => {
                if let Some(span) = file.as_deref().and_then(|f| span_from_rhai(Some(f), pos)) {
                    let name = if name.starts_with("anon$") {
                        "closure".to_string()
                    } else {
                        format!("`{name}`")
                    };
                    frames.push((span, format!("in this call to {name}")));
                }
                if !source.is_empty() {
                    file = Some(source);
                }
                err = inner;
            }
            EvalAltResult::ErrorInModule(path, inner, pos) => {
                if let Some(span) = file.as_deref().and_then(|f| span_from_rhai(Some(f), pos)) {
                    frames.push((span, format!("while importing `{path}`")));
                }
                file = Some(module_file(&path));
                err = inner;
            }
            _ => break,
        }
    }
    let pos = err.position();
    let here = span_from_rhai(file.as_deref(), pos);
    if let Some(problem) = recipe_error(&err, here.as_ref(), &frames) {
        return problem;
    }
    let mut problem = root_problem(*err, here.as_ref(), sources);
    // The call sites are extra labels; the innermost location stays primary, and a
    // place the problem already labels keeps its own text.
    for (span, text) in frames.into_iter().rev() {
        if !problem.labels.iter().any(|l| l.span == span) {
            problem = problem.at(Some(&span), text);
        }
    }
    problem
}

/// A recipe of the standard library that `throw`s is telling its caller what to
/// write differently (`proxy::nginx: `listen` is missing: …`): the caller's lines
/// are the places to show, not the recipe's insides, which would fill the screen
/// with library source. Other errors keep every frame.
fn recipe_error(err: &EvalAltResult, here: Option<&Span>, frames: &[(Span, String)]) -> Option<Problem> {
    let in_stdlib = |s: &Span| s.file.starts_with("stdlib/");
    let EvalAltResult::ErrorRuntime(value, _) = err else {
        return None;
    };
    if value.is::<ProblemValue>() || value.is::<Unsatisfied>() || !here.is_some_and(in_stdlib) {
        return None;
    }
    let here = here?;
    // The module the caller called: where the outermost call inside the standard
    // library was made (a recipe calling `ordo/options`), else where it threw.
    let called = frames.iter().map(|(s, _)| s).find(|s| in_stdlib(s)).unwrap_or(here);
    let module = called.file.trim_start_matches("stdlib/").trim_end_matches(".rhai");
    let mut problem = Problem::new(Kind::Script, value.to_string()).help(format!(
        "raised at {}:{}; `ordo doc ordo/{module}` documents its functions and options",
        here.file, here.line
    ));
    for (span, text) in frames.iter().rev().filter(|(s, _)| !in_stdlib(s)) {
        if !problem.labels.iter().any(|l| &l.span == span) {
            problem = problem.at(Some(span), text.clone());
        }
    }
    Some(problem)
}

/// A parse error of a whole file.
pub(crate) fn from_parse(err: rhai::ParseError, file: &str, sources: &SourceMap) -> Problem {
    let here = span_from_rhai(Some(file), err.1);
    parse_problem(&err.0, here.as_ref(), sources)
}

fn module_file(path: &str) -> String {
    match path.strip_prefix("ordo/") {
        Some(name) => format!("stdlib/{name}.rhai"),
        None if path.ends_with(".rhai") => path.to_string(),
        None => format!("{path}.rhai"),
    }
}

fn root_problem(err: EvalAltResult, here: Option<&Span>, sources: &SourceMap) -> Problem {
    match err {
        EvalAltResult::ErrorRuntime(value, _) if value.is::<ProblemValue>() => {
            let mut p = *value.cast::<ProblemValue>().0;
            if p.labels.is_empty() {
                p = p.at(here, "");
            }
            p
        }
        EvalAltResult::ErrorRuntime(value, _) if value.is::<Unsatisfied>() => {
            let u = value.cast::<Unsatisfied>();
            Problem::new(Kind::Model, format!("nothing provides `{}`", u.key)).at(u.span.as_ref(), "required here")
        }
        EvalAltResult::ErrorParsing(kind, _) => parse_problem(&kind, here, sources),
        EvalAltResult::ErrorVariableNotFound(name, _) => Problem::new(Kind::Script, format!("undefined variable `{name}`"))
            .at(here, "not defined")
            .help("declare it with `let` before using it, or check the spelling"),
        EvalAltResult::ErrorFunctionNotFound(sig, _) => Problem::new(Kind::Script, format!("unknown function `{}`", readable_signature(&sig)))
            .at(here, "no such function")
            .help("check the name and the argument types; functions of an imported module are called as `alias::name(..)`; docs/dsl.md lists ordo's functions"),
        EvalAltResult::ErrorModuleNotFound(path, _) => Problem::new(Kind::Script, format!("module `{path}` not found"))
            .at(here, "imported here")
            .help(format!(
                "project modules are files relative to the project root (`{path}` → {}); the standard library is imported as `ordo/<name>` ({})",
                module_file(&path),
                super::stdlib::MODULES.iter().map(|(n, _)| format!("ordo/{n}")).collect::<Vec<_>>().join(", ")
            )),
        EvalAltResult::ErrorPropertyNotFound(name, _) => Problem::new(Kind::Script, format!("no property `{name}` here"))
            .at(here, "not found")
            .help(format!(
                "a map given to this code has no key `{name}` (check the options the function documents), \
                 or the value has no property of that name"
            )),
        EvalAltResult::ErrorTooManyOperations(_) => Problem::new(Kind::Script, "the script ran too long (operation limit reached)")
            .at(here, "still running here")
            .help("look for an endless loop; scripts only describe the deployment and should finish at once"),
        EvalAltResult::ErrorTerminated(token, _) if token.is::<TimeUp>() => {
            let limit = token.cast::<TimeUp>().limit;
            Problem::new(
                Kind::Script,
                format!("the script ran longer than the limit of {} s", limit.as_secs()),
            )
            .at(here, "still running here")
            .help(format!(
                "look for a loop that runs long, or one that nests a value in itself (`a = [a]`: Rhai measures \
                 the whole value on every change); scripts only describe the deployment and finish in well \
                 under a second. A script that really needs longer: --script-timeout SECONDS (or \
                 ORDO_SCRIPT_TIMEOUT; default {} s)",
                DEFAULT_SCRIPT_TIMEOUT.as_secs()
            ))
        }
        EvalAltResult::ErrorStackOverflow(_) => Problem::new(
            Kind::Script,
            format!("calls nest too deeply (more than {MAX_CALL_LEVELS} levels)"),
        )
        .at(here, "here")
        .help("look for a function that calls itself without end"),
        EvalAltResult::ErrorDataTooLarge(what, _) => too_large(&what, here),
        EvalAltResult::ErrorRuntime(value, _) => Problem::new(Kind::Script, format!("script error: {value}")).at(here, "thrown here"),
        other => {
            let mut other = other;
            other.clear_position();
            Problem::new(Kind::Script, script_type_names(&other.to_string())).at(here, "here")
        }
    }
}

/// A value past one of the engine's size limits, named with the limit.
fn too_large(what: &str, here: Option<&Span>) -> Problem {
    let message = if what.contains("string") {
        format!(
            "a string grew longer than the limit of {} MiB ({MAX_STRING_SIZE} bytes)",
            MAX_STRING_SIZE >> 20
        )
    } else if what.contains("map") {
        format!("a map grew past the limit of {MAX_MAP_SIZE} entries (nested maps included)")
    } else {
        format!("an array grew past the limit of {MAX_ARRAY_SIZE} elements (nested arrays included)")
    };
    Problem::new(Kind::Script, message)
        .at(here, "built here")
        .help("look for a loop that keeps growing a value; large contents belong in project files: file(path, #{ source: \"files/…\" })")
}

fn parse_problem(kind: &ParseErrorType, here: Option<&Span>, sources: &SourceMap) -> Problem {
    let word = here.and_then(|s| sources.word_at(s));
    match kind {
        ParseErrorType::VariableUndefined(name) => Problem::new(Kind::Script, format!("undefined variable `{name}`"))
            .at(here, "not defined")
            .help("declare it with `let` before using it, or check the spelling"),
        ParseErrorType::ModuleUndefined(name) => Problem::new(Kind::Script, format!("undefined module `{name}`"))
            .at(here, "not imported")
            .help(format!("import it first: import \"…\" as {name};")),
        ParseErrorType::Reserved(name) => reserved(name, here),
        ParseErrorType::VariableExpected | ParseErrorType::FnMissingName | ParseErrorType::FnMissingParams(_)
            if word.as_deref().is_some_and(is_keyword) =>
        {
            reserved(word.as_deref().unwrap_or_default(), here)
        }
        other => Problem::new(Kind::Script, format!("syntax error: {other}"))
            .at(here, "here")
            .help("fix the syntax at the marked place; Rhai statements end with `;` and blocks use `{ }`"),
    }
}

fn reserved(word: &str, here: Option<&Span>) -> Problem {
    Problem::new(
        Kind::Script,
        format!("`{word}` is a reserved word in Rhai and cannot be used as a name"),
    )
    .at(here, "reserved word")
    .help(format!("choose another name, such as `{word}_name` or `my_{word}`"))
}

/// Rhai's keywords, which the parser reports as "expecting a name" rather than as
/// reserved (its reserved words, `package` or `var`, it reports itself).
fn is_keyword(word: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "as",
        "break",
        "call",
        "catch",
        "const",
        "continue",
        "curry",
        "debug",
        "do",
        "else",
        "eval",
        "export",
        "false",
        "fn",
        "Fn",
        "for",
        "global",
        "if",
        "import",
        "in",
        "is_def_fn",
        "is_def_var",
        "is_shared",
        "let",
        "loop",
        "print",
        "private",
        "return",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "type_of",
        "until",
        "while",
    ];
    KEYWORDS.contains(&word)
}

/// `fiel (&str | ImmutableString | String, i64)` → `fiel(string, int)`, with ordo's
/// own types under the names scripts know them by.
fn readable_signature(sig: &str) -> String {
    script_type_names(
        &sig.replace("&str | ImmutableString | String", "string")
            .replace(" (", "(")
            .replace("i64", "int")
            .replace("f64", "float"),
    )
}
