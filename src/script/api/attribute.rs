//! Attribute values: `c.attr(name, default)` and where its value comes from. Every
//! source of a value — an environment's `override`, a host's placement, a
//! `--set-file`, a `--set` — is checked against the default's type, the one that
//! wins as much as those it overrides, so no value given anywhere is dropped
//! without a word (decision 39 orders the sources).

use rhai::{Dynamic, NativeCallContext};

use super::{RhaiResult, call_span, fail, script_error};
use crate::problem::{Kind, Problem};
use crate::script::errors::type_name;
use crate::script::eval::build::{ComponentCtx, Given};
use crate::script::session::Session;
use crate::script::stack::{MAX_MODEL_DEPTH, nests_deeper};

/// `c.attr(name, default)` and `c.attr(name)`. A command-line value that
/// replaces a value holding a secret is noted in the session (records mask it).
pub(super) fn attr(
    session: &Session,
    ctx: &NativeCallContext,
    c: &ComponentCtx,
    name: &str,
    default: Option<Dynamic>,
) -> RhaiResult<Dynamic> {
    let mut b = c.build.lock().expect("component build poisoned");
    let comp = &mut b.components[c.comp];
    if let Some(given) = comp.given.get(name)
        && given.span.as_ref().is_some_and(|s| &*s.file == COMMAND_LINE)
        && (default.as_ref().is_some_and(holds_secret) || given.overridden.iter().any(|g| holds_secret(&g.value)))
    {
        session
            .secret_sets
            .lock()
            .expect("secret sets poisoned")
            .insert(format!("{}.{name}", comp.name));
    }
    let value = match (comp.given.get(name), default) {
        (Some(given), Some(d)) => {
            let value = conform(ctx, &comp.name, name, given, &d)?;
            for lower in &given.overridden {
                let _ = conform(ctx, &comp.name, name, lower, &d)?;
            }
            value
        }
        (Some(given), None) => given.value.clone(),
        (None, Some(d)) => d,
        (None, None) => {
            return Err(script_error(
                ctx,
                format!(
                    "component `{}` needs attribute `{name}`, and nothing sets it",
                    comp.name
                ),
                format!(
                    "set it in the environment: env.override(\"{}\", #{{ {name}: … }}), or give a default: c.attr(\"{name}\", …)",
                    comp.name
                ),
            ));
        }
    };
    if nests_deeper(&value, MAX_MODEL_DEPTH) {
        return Err(script_error(
            ctx,
            format!(
                "attribute `{name}` of `{}` nests deeper than {MAX_MODEL_DEPTH} levels",
                comp.name
            ),
            "attributes are configuration values; keep them flat enough to read",
        ));
    }
    comp.attributes.insert(name.to_string(), value.clone());
    Ok(value)
}

/// The source name of command-line values (see `interpreter::command_line_overrides`).
const COMMAND_LINE: &str = "<command line>";

/// Whether a value holds a secret's token anywhere inside it.
fn holds_secret(value: &Dynamic) -> bool {
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return crate::secrets::has_token(&s);
    }
    if let Some(a) = value.read_lock::<rhai::Array>() {
        return a.iter().any(holds_secret);
    }
    if let Some(m) = value.read_lock::<rhai::Map>() {
        return m.values().any(holds_secret);
    }
    false
}

/// Values are typed by their default: an integer attribute takes integers only; a
/// string attribute takes a `--set` value as written.
fn conform(ctx: &NativeCallContext, comp: &str, name: &str, given: &Given, default: &Dynamic) -> RhaiResult<Dynamic> {
    let value = &given.value;
    if default.is_unit() || value.type_id() == default.type_id() {
        return Ok(value.clone());
    }
    if let (true, Some(raw)) = (default.is_string(), &given.raw) {
        return Ok(Dynamic::from(raw.clone()));
    }
    if let (true, Ok(i)) = (default.is_float(), value.as_int()) {
        return Ok(Dynamic::from_float(i as f64));
    }
    let (given_type, default_type) = (type_name(value.type_name()), type_name(default.type_name()));
    let (a_given, a_default) = (with_article(&given_type), with_article(&default_type));
    Err(fail(
        Problem::new(
            Kind::Script,
            format!("attribute `{name}` of `{comp}` is set to {a_given} but its default is {a_default}"),
        )
        .at(given.span.as_ref(), format!("set to {a_given} here"))
        .at(call_span(ctx).as_ref(), format!("the default here is {a_default}"))
        .help(format!(
            "give `{name}` a value of type {default_type} (the default is {default})"
        )),
    ))
}

/// "an integer", "a string".
fn with_article(word: &str) -> String {
    let article = if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {word}")
}
