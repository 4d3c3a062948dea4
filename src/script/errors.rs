//! The vocabulary every part of `script/` uses to raise errors from inside Rhai: a
//! [`Problem`] travelling through Rhai as a [`ProblemValue`], the [`Unsatisfied`]
//! signal of a `require` that found nothing yet, spans of Rhai positions, and type
//! names as a script author knows them. A leaf: it imports nothing else from
//! `script/`, so the API, the diagnostics and the custom steps can all use it.

use std::collections::BTreeMap;
use std::sync::{OnceLock, RwLock};

use rhai::{Dynamic, Engine, EvalAltResult, NativeCallContext, Position, Variant};

use crate::problem::{Kind, Problem};
use crate::source::Span;

pub(crate) type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// A rich error raised inside a native function; `diagnostic` unwraps it again.
#[derive(Clone, Debug)]
pub(crate) struct ProblemValue(pub(crate) Box<Problem>);

/// Raised by a strict `require` that found nothing yet; configure retries the root
/// once more providers ran, and reports it only if it never resolves.
#[derive(Clone, Debug)]
pub(crate) struct Unsatisfied {
    pub(crate) key: String,
    pub(crate) span: Option<Span>,
}

pub(crate) fn fail(problem: Problem) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(ProblemValue(Box::new(problem))),
        Position::NONE,
    ))
}

/// A script mistake at the current call: message, label and what to do.
pub(crate) fn script_error(
    ctx: &NativeCallContext,
    message: impl Into<String>,
    help: impl Into<String>,
) -> Box<EvalAltResult> {
    fail(
        Problem::new(Kind::Script, message)
            .at(call_span(ctx).as_ref(), "")
            .help(help),
    )
}

/// The span of the script call that invoked a native function.
pub(crate) fn call_span(ctx: &NativeCallContext) -> Option<Span> {
    span_from_rhai(ctx.call_source(), ctx.call_position())
}

/// Builds a span from a Rhai position; `None` when the position is unknown.
pub(crate) fn span_from_rhai(file: Option<&str>, pos: Position) -> Option<Span> {
    let line = pos.line()?;
    Some(Span::new(
        file.unwrap_or("<script>"),
        line as u32,
        pos.position().unwrap_or(1) as u32,
    ))
}

/// Rust type names of the types ordo registers, mapped to the names scripts see.
/// Filled by [`register_type`], so messages never show a Rust path.
fn registered() -> &'static RwLock<BTreeMap<&'static str, &'static str>> {
    static NAMES: OnceLock<RwLock<BTreeMap<&'static str, &'static str>>> = OnceLock::new();
    NAMES.get_or_init(RwLock::default)
}

/// Registers `T` with the engine under `name` and remembers the pair for messages.
pub(crate) fn register_type<T: Variant + Clone>(engine: &mut Engine, name: &'static str) {
    engine.register_type_with_name::<T>(name);
    registered()
        .write()
        .expect("type names poisoned")
        .insert(std::any::type_name::<T>(), name);
}

/// Type names as a script author knows them: `integer`, `string`, `Component`.
pub(crate) fn type_name(rhai_name: &str) -> String {
    match rhai_name {
        "i64" => "integer".into(),
        "f64" => "float".into(),
        "bool" => "boolean".into(),
        "string" | "ImmutableString" | "&str" | "String" => "string".into(),
        "array" => "array".into(),
        "map" => "map".into(),
        "()" => "nothing".into(),
        other => registered()
            .read()
            .expect("type names poisoned")
            .get(other)
            .map_or_else(|| other.to_string(), |n| (*n).to_string()),
    }
}

/// Every registered Rust type path in `text` replaced by its script name.
pub(crate) fn script_type_names(text: &str) -> String {
    let names = registered().read().expect("type names poisoned");
    let mut out = text.to_string();
    for (rust, script) in names.iter() {
        out = out.replace(rust, script);
    }
    out
}
