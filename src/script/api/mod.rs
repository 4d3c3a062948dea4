//! The functions and types scripts see. One file per domain; `register` wires them
//! all into an engine. Every function that creates something records the span of
//! its call, so later errors can point at the script line, and carries its
//! signature and documentation (Rhai metadata), so the REPL can complete it and the
//! reference can list it.

mod attribute;
mod component;
mod environment;
mod host;
mod names;
mod options;
pub(crate) mod primitives;
mod project;
mod project_hooks;
mod retire;
mod secret;
mod service;
mod shell;

use std::sync::Arc;

use rhai::Engine;

pub(crate) use names::is_plain_name;

pub(crate) use super::errors::{RhaiResult, call_span, fail, script_error};
pub(crate) use super::register::{document, document_getter};
use super::session::Session;

pub(crate) fn register(engine: &mut Engine, session: &Arc<Session>) {
    project::register(engine, session);
    environment::register(engine, session);
    host::register(engine, session);
    service::register(engine, session);
    component::register(engine, session);
    primitives::register(engine, session);
    shell::register(engine);
    secret::register(engine, session);
    retire::register(engine, session);
}
