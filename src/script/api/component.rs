//! The configure context `c` that a component function receives: attributes,
//! `add` for steps, sub-components, `provide`/`require` and explicit ordering.
//! Configure is pure: nothing here touches a host.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::attribute::attr;
use super::names::is_plain_name;
use super::options::Options;
use super::primitives::{AddCtx, StepSpec};
use super::{RhaiResult, call_span, document, document_getter, script_error};
use crate::script::errors::{Unsatisfied, register_type, type_name};
use crate::script::eval::build::{
    CompBuild, ComponentCtx, Given, RefTarget, StepBuild, StepRef, check_unknown_attributes,
};
use crate::script::session::Session;

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    register_type::<ComponentCtx>(engine, "Component");
    register_type::<StepRef>(engine, "StepRef");
    register_step_ref(engine);
    register_properties(engine);
    register_contents(engine, session);
    register_provide_require(engine, session);
    register_order(engine);
}

/// What `c.add(..)` and `c.component(..)` return: `.path`, `.name` and what the
/// step exports (`venv.bin`).
fn register_step_ref(engine: &mut Engine) {
    document_getter(
        engine,
        "path",
        &["step: StepRef", "string"],
        "The path the step manages on the host (a sub-component: its root), or `()`.",
        |r: &mut StepRef| r.path.clone().map_or(Dynamic::UNIT, Dynamic::from),
    );
    document_getter(
        engine,
        "name",
        &["step: StepRef", "string"],
        "The step's name as the script gave it.",
        |r: &mut StepRef| r.name.clone(),
    );
    // `venv.bin`: Rhai falls back to a string indexer for unknown properties.
    engine.register_indexer_get(
        |ctx: NativeCallContext, r: &mut StepRef, key: &str| -> RhaiResult<String> {
            match r.exports.iter().find(|(k, _)| *k == key) {
                Some((_, v)) => Ok(v.clone()),
                None => {
                    let mut known: Vec<&str> = vec!["path", "name"];
                    known.extend(r.exports.iter().map(|(k, _)| *k));
                    Err(script_error(
                        &ctx,
                        format!("`{}` has no `{key}`", r.name),
                        format!("it has: {}", known.join(", ")),
                    ))
                }
            }
        },
    );
}

/// What `c` says about where it is: name, host, root, service, environment,
/// `c.path(rel)`.
fn register_properties(engine: &mut Engine) {
    document_getter(
        engine,
        "name",
        &["c: Component", "string"],
        "The component's name (`app`, or `app/venv` for a sub-component).",
        |c: &mut ComponentCtx| {
            let comp = c.comp;
            c.lock().components[comp].name.clone()
        },
    );
    document_getter(
        engine,
        "host",
        &["c: Component", "map"],
        "The host this instance is placed on: `#{ name, address, user, roles, data }`.",
        |c: &mut ComponentCtx| c.lock().host_info.clone(),
    );
    document_getter(
        engine,
        "root",
        &["c: Component", "string"],
        "The component's root directory on its host; relative step paths resolve here.",
        |c: &mut ComponentCtx| {
            let comp = c.comp;
            c.lock().components[comp].dir.to_string()
        },
    );
    document_getter(
        engine,
        "service",
        &["c: Component", "string"],
        "The name of the service being deployed.",
        |c: &mut ComponentCtx| c.lock().service.clone(),
    );
    document_getter(
        engine,
        "environment",
        &["c: Component", "string"],
        "The name of the environment being deployed.",
        |c: &mut ComponentCtx| c.lock().environment.clone(),
    );
    document(
        engine,
        "path",
        &["c: Component", "rel: string", "string"],
        "`rel` resolved against the component's root (`~/deployment/shop/rel`); absolute and `~/` paths stay as they are.",
        |c: &mut ComponentCtx, rel: &str| {
            let comp = c.comp;
            c.lock().components[comp].dir.join(rel).to_string()
        },
    );
}

/// What a component is made of: its attributes (`c.attr`), steps (`c.add`) and
/// sub-components (`c.component`).
fn register_contents(engine: &mut Engine, session: &Arc<Session>) {
    document(
        engine,
        "attr",
        &["c: Component", "name: string", "default: any", "any"],
        "The attribute `name`: its override if the environment sets one (which must have the default's type), else `default`.",
        {
            let s = session.clone();
            move |ctx: NativeCallContext, c: &mut ComponentCtx, name: &str, default: Dynamic| {
                attr(&s, &ctx, c, name, Some(default))
            }
        },
    );
    document(
        engine,
        "attr",
        &["c: Component", "name: string", "any"],
        "A required attribute: an error when nothing sets it.",
        {
            let s = session.clone();
            move |ctx: NativeCallContext, c: &mut ComponentCtx, name: &str| attr(&s, &ctx, c, name, None)
        },
    );

    let s = session.clone();
    document(
        engine,
        "add",
        &["c: Component", "step: StepSpec", "StepRef"],
        "Adds a step (what `file`, `template`, `directory`, `symlink`, `command` or `step` return) to the component; steps run in the order they are added.\n\
         Returns a handle for `on_change` and its `.path`.",
        move |ctx: NativeCallContext, c: &mut ComponentCtx, spec: StepSpec| add(&s, &ctx, c, spec),
    );

    let sub_doc = "A sub-component `parent/name`, configured by calling `f` with its own context; `attributes` are its attributes.\n\
                   Returns a handle usable in `on_change` (any of its steps changed).";
    document(
        engine,
        "component",
        &["c: Component", "name: string", "f: |s| …", "attributes: map", "StepRef"],
        sub_doc,
        sub_component,
    );
    document(
        engine,
        "component",
        &["c: Component", "name: string", "f: |s| …", "StepRef"],
        sub_doc,
        |ctx: NativeCallContext, c: &mut ComponentCtx, name: &str, f: FnPtr| sub_component(ctx, c, name, f, Map::new()),
    );
}

/// What components share across hosts: `c.provide`, `c.require`, `c.require_one`.
fn register_provide_require(engine: &mut Engine, session: &Arc<Session>) {
    document(
        engine,
        "provide",
        &["c: Component", "key: string", "value: any", "()"],
        "Offers `value` (string, number, boolean, array or map) under `key` to components that require it, on any host; they are ordered after this one.",
        |ctx: NativeCallContext, c: &mut ComponentCtx, key: &str, value: Dynamic| -> RhaiResult<()> {
            let json: serde_json::Value = rhai::serde::from_dynamic(&value).map_err(|_| {
                script_error(
                    &ctx,
                    format!(
                        "provide(\"{key}\", …) got a {}, which cannot be shared",
                        type_name(value.type_name())
                    ),
                    "provide strings, numbers, booleans, arrays or maps",
                )
            })?;
            let span = call_span(&ctx);
            c.lock()
                .provides
                .entry(key.to_string())
                .or_default()
                .push((json, value, span));
            Ok(())
        },
    );
    let require_doc = "All values provided under `key` (an array, in placement order); orders this component after the providers.\n\
                       Nothing provided is an error, unless `#{ optional: true }`: then the array is empty.";
    let s = session.clone();
    document(
        engine,
        "require",
        &["c: Component", "key: string", "array"],
        require_doc,
        move |ctx: NativeCallContext, c: &mut ComponentCtx, key: &str| -> RhaiResult<Array> {
            require(&s, &ctx, c, key, false)
        },
    );
    let s = session.clone();
    document(
        engine,
        "require",
        &["c: Component", "key: string", "options: map", "array"],
        require_doc,
        move |ctx: NativeCallContext, c: &mut ComponentCtx, key: &str, opts: Map| -> RhaiResult<Array> {
            let optional = require_options(&ctx, "require()", opts)?;
            require(&s, &ctx, c, key, optional)
        },
    );
    let require_one_doc = "The one value provided under `key`: none or several is an error.\n\
                           With `#{ optional: true }`, none gives `()`.";
    let s = session.clone();
    document(
        engine,
        "require_one",
        &["c: Component", "key: string", "any"],
        require_one_doc,
        move |ctx: NativeCallContext, c: &mut ComponentCtx, key: &str| -> RhaiResult<Dynamic> {
            require_one(&s, &ctx, c, key, false)
        },
    );
    let s = session.clone();
    document(
        engine,
        "require_one",
        &["c: Component", "key: string", "options: map", "any"],
        require_one_doc,
        move |ctx: NativeCallContext, c: &mut ComponentCtx, key: &str, opts: Map| -> RhaiResult<Dynamic> {
            let optional = require_options(&ctx, "require_one()", opts)?;
            require_one(&s, &ctx, c, key, optional)
        },
    );
}

/// Explicit ordering between components: `c.after(other)`, `c.before(other)`.
fn register_order(engine: &mut Engine) {
    document(
        engine,
        "after",
        &["c: Component", "other: string", "()"],
        "Runs this component after every instance of the component `other` (on any host); nothing when this environment does not run `other`.",
        |ctx: NativeCallContext, c: &mut ComponentCtx, other: &str| {
            c.lock().order.push((other.to_string(), true, call_span(&ctx)));
        },
    );
    document(
        engine,
        "before",
        &["c: Component", "other: string", "()"],
        "Runs this component before every instance of the component `other` (on any host); nothing when this environment does not run `other`.",
        |ctx: NativeCallContext, c: &mut ComponentCtx, other: &str| {
            c.lock().order.push((other.to_string(), false, call_span(&ctx)));
        },
    );
}

/// `c.component(name, |s| …, attributes)`: a sub-component `parent/name`, configured
/// by calling `f` with its own context.
fn sub_component(
    ctx: NativeCallContext,
    c: &mut ComponentCtx,
    name: &str,
    f: FnPtr,
    given: Map,
) -> RhaiResult<StepRef> {
    if !is_plain_name(name) {
        return Err(script_error(
            &ctx,
            format!("`{name}` is not a valid sub-component name"),
            "use letters, digits, `-`, `_` and `.`, starting with a letter, a digit or `_`",
        ));
    }
    let (serial, index, dir) = {
        let mut b = c.lock();
        let parent = &b.components[c.comp];
        let full = format!("{}/{name}", parent.name);
        if b.components.iter().any(|x| x.name == full) {
            return Err(script_error(
                &ctx,
                format!("sub-component `{full}` is added twice"),
                "give each sub-component its own name",
            ));
        }
        let dir = parent.dir.clone();
        let span = call_span(&ctx);
        let given = given
            .into_iter()
            .map(|(k, v)| (k.to_string(), Given::new(v, span.clone())))
            .collect();
        b.components.push(CompBuild {
            name: full,
            parent: Some(c.comp),
            dir: dir.clone(),
            declared: span.clone(),
            span,
            given,
            attributes: BTreeMap::new(),
        });
        (b.serial, b.components.len() - 1, dir)
    };
    let child = ComponentCtx {
        build: c.build.clone(),
        comp: index,
    };
    let _: Dynamic = f.call_within_context(&ctx, (child,))?;
    check_unknown_attributes(&c.lock().components[index])?;
    Ok(StepRef {
        serial,
        target: RefTarget::Component(index),
        path: Some(dir.to_string()),
        name: name.into(),
        exports: Vec::new(),
    })
}

/// `#{ optional: true }` of `require` and `require_one`.
fn require_options(ctx: &NativeCallContext, what: &str, opts: Map) -> RhaiResult<bool> {
    let mut o = Options::new(ctx, what, opts, &["optional"])?;
    Ok(o.bool("optional")?.unwrap_or(false))
}

fn require(s: &Session, ctx: &NativeCallContext, c: &ComponentCtx, key: &str, optional: bool) -> RhaiResult<Array> {
    let root = c.lock().root;
    let span = call_span(ctx);
    // Read even when optional: the read orders this root after providers and
    // configures it again if one shows up later.
    let values = s.registry().read(key, root, span.clone());
    if values.is_empty() && !optional {
        return Err(Box::new(rhai::EvalAltResult::ErrorRuntime(
            Dynamic::from(Unsatisfied { key: key.into(), span }),
            rhai::Position::NONE,
        )));
    }
    Ok(values)
}

fn require_one(
    s: &Session,
    ctx: &NativeCallContext,
    c: &ComponentCtx,
    key: &str,
    optional: bool,
) -> RhaiResult<Dynamic> {
    let mut values = require(s, ctx, c, key, optional)?;
    if values.len() > 1 {
        return Err(script_error(
            ctx,
            format!("require_one(\"{key}\") found {} providers", values.len()),
            "use c.require(..) to get all of them, or make sure exactly one component provides the key",
        ));
    }
    Ok(values.pop().unwrap_or(Dynamic::UNIT))
}

fn add(s: &Arc<Session>, ctx: &NativeCallContext, c: &ComponentCtx, spec: StepSpec) -> RhaiResult<StepRef> {
    let (serial, dir, host_info, attributes, component, service) = {
        let b = c.lock();
        let comp = &b.components[c.comp];
        (
            b.serial,
            comp.dir.clone(),
            b.host_info.clone(),
            comp.attributes.clone(),
            comp.name.clone(),
            b.service.clone(),
        )
    };
    let span = spec.span.clone();
    let resolved = spec.spec.resolve(&AddCtx {
        session: s,
        call: ctx,
        dir: &dir,
        host_info: &host_info,
        component: &component,
        service: &service,
        attributes: &attributes,
        span: span.as_ref(),
    })?;
    if crate::secrets::has_token(&resolved.action.label()) {
        return Err(script_error(
            ctx,
            "a secret cannot be part of a step's name",
            "names are shown in every plan; keep secrets in contents and commands",
        ));
    }
    for r in resolved.on_change.iter().chain(&resolved.reload_on) {
        if r.serial != serial {
            return Err(script_error(
                ctx,
                format!("`{}` is watched here, but belongs to another component", r.name),
                "on_change, restart_on, reload_on and purge_on can only name steps and sub-components of the same component",
            ));
        }
    }
    let path = resolved.action.managed().map(|m| m.path.to_string());
    let name = resolved.action.label();
    let exports = resolved.action.exports();
    let mut b = c.lock();
    b.steps.push(StepBuild {
        comp: c.comp,
        action: resolved.action,
        on_change: resolved.on_change,
        reload_on: resolved.reload_on,
        once: resolved.once,
        span,
    });
    Ok(StepRef {
        serial,
        target: RefTarget::Step(b.steps.len() - 1),
        path,
        name,
        exports,
    })
}
