//! The functions and types scripts see. One file per domain; `register` wires them
//! all into an engine. Every function that creates something records the span of
//! its call, so later errors can point at the script line.

mod component;
mod environment;
mod options;
mod primitives;

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, NativeCallContext, Position};

pub(crate) use component::{
    CompBuild, ComponentCtx, RefTarget, RootBuild, StepRef, Unsatisfied, check_unknown_attributes,
};

pub(crate) use options::closest;

use super::session::Session;
use crate::problem::{Kind, Problem};
use crate::source::Span;

pub(crate) type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub(crate) fn register(engine: &mut Engine, session: &Arc<Session>) {
    environment::register(engine, session);
    component::register(engine, session);
    primitives::register(engine, session);
}

/// The span of the script call that invoked a native function.
pub(crate) fn call_span(ctx: &NativeCallContext) -> Option<Span> {
    Span::from_rhai(ctx.call_source(), ctx.call_position())
}

/// A rich error raised inside a native function; `diagnostic` unwraps it again.
#[derive(Clone, Debug)]
pub(crate) struct ProblemValue(pub(crate) Box<Problem>);

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
