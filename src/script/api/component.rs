//! The configure context `c` that a component function receives: attributes,
//! `add` for steps, sub-components, `provide`/`require` and explicit ordering.
//! Configure is pure: nothing here touches a host.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::primitives::{AddCtx, StepSpec};
use super::{RhaiResult, call_span, fail, script_error};
use crate::model::{Action, HostPath};
use crate::problem::{Kind, Problem};
use crate::script::diagnostic::type_name;
use crate::script::session::Session;
use crate::source::Span;

static SERIAL: AtomicU64 = AtomicU64::new(1);

/// Everything one root component instance (a component placed on a host) declared in
/// one configure run, sub-components included.
pub(crate) struct RootBuild {
    pub(crate) serial: u64,
    pub(crate) root: usize,
    pub(crate) host: usize,
    pub(crate) host_info: Dynamic,
    pub(crate) service: String,
    pub(crate) environment: String,
    pub(crate) components: Vec<CompBuild>,
    pub(crate) steps: Vec<StepBuild>,
    pub(crate) provides: BTreeMap<String, Vec<(serde_json::Value, Dynamic, Option<Span>)>>,
    /// (component name, this instance runs after it?, span)
    pub(crate) order: Vec<(String, bool, Option<Span>)>,
}

pub(crate) struct CompBuild {
    pub(crate) name: String,
    pub(crate) parent: Option<usize>,
    pub(crate) dir: HostPath,
    pub(crate) span: Option<Span>,
    /// Values given from outside: overrides for a root, the map for a sub-component.
    pub(crate) given: BTreeMap<String, (Dynamic, Option<Span>)>,
    pub(crate) attributes: BTreeMap<String, Dynamic>,
}

pub(crate) struct StepBuild {
    pub(crate) comp: usize,
    pub(crate) action: Action,
    pub(crate) on_change: Vec<StepRef>,
    pub(crate) span: Option<Span>,
}

/// Raised by a strict `require` that found nothing yet; configure retries the root
/// once more providers ran, and reports it only if it never resolves.
#[derive(Clone, Debug)]
pub(crate) struct Unsatisfied {
    pub(crate) key: String,
    pub(crate) span: Option<Span>,
}

/// The `c` of `fn app(c)`: a component of one root build.
#[derive(Clone)]
pub(crate) struct ComponentCtx {
    pub(crate) build: Arc<Mutex<RootBuild>>,
    pub(crate) comp: usize,
}

impl ComponentCtx {
    pub(crate) fn new_root(build: RootBuild) -> Self {
        ComponentCtx {
            build: Arc::new(Mutex::new(build)),
            comp: 0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, RootBuild> {
        self.build.lock().expect("component build poisoned")
    }
}

impl RootBuild {
    pub(crate) fn new(
        root: usize,
        host: usize,
        host_info: Dynamic,
        service: &str,
        environment: &str,
        comp: CompBuild,
    ) -> Self {
        RootBuild {
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            root,
            host,
            host_info,
            service: service.into(),
            environment: environment.into(),
            components: vec![comp],
            steps: Vec::new(),
            provides: BTreeMap::new(),
            order: Vec::new(),
        }
    }
}

/// What `c.add(..)` and `c.component(..)` return: a handle for `on_change` and for
/// reading the resulting path.
#[derive(Clone, Debug)]
pub(crate) struct StepRef {
    pub(crate) serial: u64,
    pub(crate) target: RefTarget,
    pub(crate) path: Option<String>,
    pub(crate) name: String,
    /// What else the step exposes (`venv.bin`, `venv.python`): see `Primitive::exports`.
    pub(crate) exports: Vec<(&'static str, String)>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum RefTarget {
    Step(usize),
    Component(usize),
}

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    engine
        .register_type_with_name::<ComponentCtx>("Component")
        .register_type_with_name::<StepRef>("StepRef")
        .register_get("path", |r: &mut StepRef| {
            r.path.clone().map_or(Dynamic::UNIT, Dynamic::from)
        })
        .register_get("name", |r: &mut StepRef| r.name.clone())
        // `venv.bin`: Rhai falls back to a string indexer for unknown properties.
        .register_indexer_get(
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

    engine.register_get("name", |c: &mut ComponentCtx| {
        let comp = c.comp;
        c.lock().components[comp].name.clone()
    });
    engine.register_get("host", |c: &mut ComponentCtx| c.lock().host_info.clone());
    engine.register_get("root", |c: &mut ComponentCtx| {
        let comp = c.comp;
        c.lock().components[comp].dir.to_string()
    });
    engine.register_get("service", |c: &mut ComponentCtx| c.lock().service.clone());
    engine.register_get("environment", |c: &mut ComponentCtx| c.lock().environment.clone());
    engine.register_fn("path", |c: &mut ComponentCtx, rel: &str| {
        let comp = c.comp;
        c.lock().components[comp].dir.join(rel).to_string()
    });

    engine.register_fn(
        "attr",
        |ctx: NativeCallContext, c: &mut ComponentCtx, name: &str, default: Dynamic| attr(&ctx, c, name, Some(default)),
    );
    engine.register_fn("attr", |ctx: NativeCallContext, c: &mut ComponentCtx, name: &str| {
        attr(&ctx, c, name, None)
    });

    let s = session.clone();
    engine.register_fn(
        "add",
        move |ctx: NativeCallContext, c: &mut ComponentCtx, spec: StepSpec| add(&s, &ctx, c, spec),
    );

    let sub = |ctx: NativeCallContext, c: &mut ComponentCtx, name: &str, f: FnPtr, given: Map| -> RhaiResult<StepRef> {
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
                .map(|(k, v)| (k.to_string(), (v, span.clone())))
                .collect();
            b.components.push(CompBuild {
                name: full,
                parent: Some(c.comp),
                dir: dir.clone(),
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
    };
    engine.register_fn("component", sub);
    engine.register_fn(
        "component",
        move |ctx: NativeCallContext, c: &mut ComponentCtx, name: &str, f: FnPtr| sub(ctx, c, name, f, Map::new()),
    );

    engine.register_fn(
        "provide",
        |ctx: NativeCallContext, c: &mut ComponentCtx, key: &str, value: Dynamic| -> RhaiResult<()> {
            let json: serde_json::Value = rhai::serde::from_dynamic(&value).map_err(|_| {
                script_error(
                    &ctx,
                    format!(
                        "provide(\"{key}\", …) got a {}, which cannot be shared",
                        value.type_name()
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

    let s = session.clone();
    engine.register_fn(
        "require",
        move |ctx: NativeCallContext, c: &mut ComponentCtx, key: &str| -> RhaiResult<Array> {
            require(&s, &ctx, c, key)
        },
    );
    let s = session.clone();
    engine.register_fn(
        "require_one",
        move |ctx: NativeCallContext, c: &mut ComponentCtx, key: &str| -> RhaiResult<Dynamic> {
            let mut values = require(&s, &ctx, c, key)?;
            if values.len() > 1 {
                return Err(script_error(
                    &ctx,
                    format!("require_one(\"{key}\") found {} providers", values.len()),
                    "use c.require(..) to get all of them, or make sure exactly one component provides the key",
                ));
            }
            Ok(values.remove(0))
        },
    );

    engine.register_fn("after", |ctx: NativeCallContext, c: &mut ComponentCtx, other: &str| {
        c.lock().order.push((other.to_string(), true, call_span(&ctx)));
    });
    engine.register_fn("before", |ctx: NativeCallContext, c: &mut ComponentCtx, other: &str| {
        c.lock().order.push((other.to_string(), false, call_span(&ctx)));
    });
}

fn require(s: &Session, ctx: &NativeCallContext, c: &ComponentCtx, key: &str) -> RhaiResult<Array> {
    let root = c.lock().root;
    let span = call_span(ctx);
    let values = s.registry().read(key, root, span.clone());
    if values.is_empty() {
        return Err(Box::new(rhai::EvalAltResult::ErrorRuntime(
            Dynamic::from(Unsatisfied { key: key.into(), span }),
            rhai::Position::NONE,
        )));
    }
    Ok(values)
}

fn attr(ctx: &NativeCallContext, c: &ComponentCtx, name: &str, default: Option<Dynamic>) -> RhaiResult<Dynamic> {
    let mut b = c.lock();
    let comp = &mut b.components[c.comp];
    let value = match (comp.given.get(name), default) {
        (Some((v, _)), Some(d)) => conform(ctx, &comp.name, name, v, &d)?,
        (Some((v, _)), None) => v.clone(),
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
    comp.attributes.insert(name.to_string(), value.clone());
    Ok(value)
}

/// Overrides are typed by their default: an integer attribute takes integers only.
fn conform(ctx: &NativeCallContext, comp: &str, name: &str, given: &Dynamic, default: &Dynamic) -> RhaiResult<Dynamic> {
    if default.is_unit() || given.type_id() == default.type_id() {
        return Ok(given.clone());
    }
    if let (true, Ok(i)) = (default.is_float(), given.as_int()) {
        return Ok(Dynamic::from_float(i as f64));
    }
    Err(script_error(
        ctx,
        format!(
            "attribute `{name}` of `{comp}` is set to a {} but its default is a {}",
            type_name(given.type_name()),
            type_name(default.type_name())
        ),
        format!(
            "give `{name}` a value of type {} (the default is {default})",
            type_name(default.type_name())
        ),
    ))
}

/// An override or sub-component option that configure never read is a typo or a
/// leftover: both are errors, reported at the place that set it.
pub(crate) fn check_unknown_attributes(comp: &CompBuild) -> RhaiResult<()> {
    let mut unknown = comp.given.iter().filter(|(k, _)| !comp.attributes.contains_key(*k));
    let Some((key, (_, span))) = unknown.next() else {
        return Ok(());
    };
    let known: Vec<&str> = comp.attributes.keys().map(String::as_str).collect();
    let hint = super::options::closest(key, known.iter().copied())
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    let list = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    Err(fail(
        Problem::new(
            Kind::Model,
            format!("unknown attribute `{key}` for component `{}`", comp.name),
        )
        .at(span.as_ref(), "set here")
        .at(comp.span.as_ref(), "component configured here")
        .help(format!("{hint}attributes of `{}`: {list}", comp.name)),
    ))
}

fn add(s: &Arc<Session>, ctx: &NativeCallContext, c: &ComponentCtx, spec: StepSpec) -> RhaiResult<StepRef> {
    let (serial, dir, host_info, attributes, component) = {
        let b = c.lock();
        let comp = &b.components[c.comp];
        (
            b.serial,
            comp.dir.clone(),
            b.host_info.clone(),
            comp.attributes.clone(),
            comp.name.clone(),
        )
    };
    let span = spec.span.clone();
    let resolved = spec.spec.resolve(&AddCtx {
        session: s,
        call: ctx,
        dir: &dir,
        host_info: &host_info,
        component: &component,
        attributes: &attributes,
        span: span.as_ref(),
    })?;
    for r in &resolved.on_change {
        if r.serial != serial {
            return Err(script_error(
                ctx,
                format!("`on_change` names `{}`, which belongs to another component", r.name),
                "on_change can only name steps and sub-components of the same component",
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
