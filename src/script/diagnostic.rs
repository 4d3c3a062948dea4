//! Turns Rhai's errors into [`Problem`]s: the innermost error becomes the message
//! and primary label (in the file where it happened: a stdlib module, a project
//! module or the script itself) and every function call or import on the way out
//! becomes a label at the user's call site.

use rhai::{EvalAltResult, ParseErrorType};

use super::api::{ProblemValue, Unsatisfied};
use crate::problem::{Kind, Problem};
use crate::source::Span;

/// `file` is the source the outermost position refers to (`None`: use the
/// position's own source where Rhai knows it).
pub(crate) fn from_eval(err: Box<EvalAltResult>, file: Option<&str>) -> Problem {
    if std::env::var_os("ORDO_DEBUG_ERRORS").is_some() {
        eprintln!("rhai error: {err:#?}");
    }
    let mut frames: Vec<(Span, String)> = Vec::new();
    let mut file = file.map(str::to_string);
    let mut err = err;
    loop {
        match *err {
            EvalAltResult::ErrorInFunctionCall(name, source, inner, pos) => {
                if let Some(span) = file.as_deref().and_then(|f| Span::from_rhai(Some(f), pos)) {
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
                if let Some(span) = file.as_deref().and_then(|f| Span::from_rhai(Some(f), pos)) {
                    frames.push((span, format!("while importing `{path}`")));
                }
                file = Some(module_file(&path));
                err = inner;
            }
            _ => break,
        }
    }
    let pos = err.position();
    let here = Span::from_rhai(file.as_deref(), pos);
    let mut problem = root_problem(*err, here.as_ref());
    // The call sites are extra labels; the innermost location stays primary.
    for (span, text) in frames.into_iter().rev() {
        if here.as_ref() != Some(&span) {
            problem = problem.at(Some(&span), text);
        }
    }
    problem
}

/// A parse error of a whole file.
pub(crate) fn from_parse(err: rhai::ParseError, file: &str) -> Problem {
    let here = Span::from_rhai(Some(file), err.1);
    parse_problem(&err.0, here.as_ref())
}

fn module_file(path: &str) -> String {
    match path.strip_prefix("ordo/") {
        Some(name) => format!("stdlib/{name}.rhai"),
        None if path.ends_with(".rhai") => path.to_string(),
        None => format!("{path}.rhai"),
    }
}

fn root_problem(err: EvalAltResult, here: Option<&Span>) -> Problem {
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
        EvalAltResult::ErrorParsing(kind, _) => parse_problem(&kind, here),
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
        EvalAltResult::ErrorStackOverflow(_) => Problem::new(Kind::Script, "calls nest too deeply (stack overflow)")
            .at(here, "here")
            .help("look for a function that calls itself without end"),
        EvalAltResult::ErrorRuntime(value, _) => Problem::new(Kind::Script, format!("script error: {value}")).at(here, "thrown here"),
        other => {
            let mut other = other;
            other.clear_position();
            Problem::new(Kind::Script, other.to_string()).at(here, "here")
        }
    }
}

fn parse_problem(kind: &ParseErrorType, here: Option<&Span>) -> Problem {
    match kind {
        ParseErrorType::VariableUndefined(name) => Problem::new(Kind::Script, format!("undefined variable `{name}`"))
            .at(here, "not defined")
            .help("declare it with `let` before using it, or check the spelling"),
        ParseErrorType::ModuleUndefined(name) => Problem::new(Kind::Script, format!("undefined module `{name}`"))
            .at(here, "not imported")
            .help(format!("import it first: import \"…\" as {name};")),
        other => Problem::new(Kind::Script, format!("syntax error: {other}"))
            .at(here, "here")
            .help("fix the syntax at the marked place; Rhai statements end with `;` and blocks use `{ }`"),
    }
}

/// `fiel (&str | ImmutableString | String, i64)` → `fiel(string, int)`.
fn readable_signature(sig: &str) -> String {
    sig.replace("&str | ImmutableString | String", "string")
        .replace(" (", "(")
        .replace("i64", "int")
        .replace("f64", "float")
        .replace("ordo::script::api::component::ComponentCtx", "Component")
}

/// Type names as a script author knows them.
pub(crate) fn type_name(rhai_name: &str) -> &str {
    match rhai_name {
        "i64" => "integer",
        "f64" => "float",
        "bool" => "boolean",
        "string" | "ImmutableString" => "string",
        "array" => "array",
        "map" => "map",
        "()" => "nothing",
        other => other,
    }
}
