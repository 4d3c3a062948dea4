//! `environment()` and the `Environment` it returns: where the service runs —
//! its hosts (`env.host(..)`, declared in `host.rs`) and placements by name — and
//! what differs per environment (`override`, `rolling`).

use std::sync::Arc;

use rhai::{Dynamic, Engine, Map, NativeCallContext};

use super::host;
use super::names::{check_host_word, check_name};
use super::options::{Options, strings};
use super::{RhaiResult, call_span, document, script_error};
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::script::errors::register_type;
use crate::script::session::{EnvDecl, HookDecl, OverrideDecl, Placement, RollingDecl, Session};

/// The environment declared by `environment(..)`; there is one per run.
#[derive(Clone)]
pub(crate) struct EnvHandle;

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    register_type::<EnvHandle>(engine, "Environment");

    let s = session.clone();
    document(
        engine,
        "environment",
        &["name: string", "options: map", "Environment"],
        "Declares the environment this file describes: `#{ service, user, root }`.\n\
         `service` (required) names the service it deploys; `user` is the default ssh login; `root` the default directory of components on a host (`~/deployment/{service}`).",
        move |ctx: NativeCallContext, name: &str, opts: Map| declare(&s, &ctx, name, opts),
    );

    let host_doc = "Declares a host of the environment and returns it: `#{ transport, address, user, port, home, root, roles, data }`.\n\
                    `transport` is `ssh` (default) or `local`; `home` is the directory standing in for `$HOME` of a local host.";
    let s = session.clone();
    let host_fn =
        move |ctx: NativeCallContext, _env: &mut EnvHandle, name: &str, opts: Map| host::declare(&s, &ctx, name, opts);
    document(
        engine,
        "host",
        &["env: Environment", "name: string", "options: map", "Host"],
        host_doc,
        host_fn.clone(),
    );
    document(
        engine,
        "host",
        &["env: Environment", "name: string", "Host"],
        host_doc,
        move |ctx: NativeCallContext, env: &mut EnvHandle, name: &str| host_fn(ctx, env, name, Map::new()),
    );

    // env.place("app", "web1") / env.place("app", ["web1", "web2"]): placement by
    // host name, for environments that declare hosts first and wire them after.
    let place_on_doc = "Places a component on hosts declared before, by name: one name or an array of names.";
    let s = session.clone();
    let on_hosts = move |ctx: NativeCallContext,
                         _env: &mut EnvHandle,
                         component: &str,
                         hosts: Dynamic,
                         overrides: Map|
          -> RhaiResult<()> { place_on(&s, &ctx, component, hosts, &overrides) };
    document(
        engine,
        "place",
        &[
            "env: Environment",
            "component: string",
            "hosts: string | array",
            "overrides: map",
            "()",
        ],
        place_on_doc,
        on_hosts.clone(),
    );
    document(
        engine,
        "place",
        &["env: Environment", "component: string", "hosts: string | array", "()"],
        place_on_doc,
        move |ctx: NativeCallContext, env: &mut EnvHandle, component: &str, hosts: Dynamic| {
            on_hosts(ctx, env, component, hosts, Map::new())
        },
    );

    let s = session.clone();
    document(
        engine,
        "override",
        &["env: Environment", "component: string", "values: map", "()"],
        "Overrides attributes of a component on every host that runs it in this environment; a host's placement values, `--set-file` and `--set` win over it.",
        move |ctx: NativeCallContext, _env: &mut EnvHandle, component: &str, values: Map| {
            s.decl().overrides.push(OverrideDecl {
                component: component.to_string(),
                values: values.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                span: call_span(&ctx),
            });
        },
    );

    let s = session.clone();
    document(
        engine,
        "rolling",
        &["env: Environment", "component: string", "options: map", "()"],
        "Updates the hosts of `component` in batches: `#{ batch, max_failures, before, after }`.\n\
         `batch` is a number of hosts (default 1) or a percentage (`\"50%\"`); each batch waits until the one before it is done, health checks included; the rollout stops when more than `max_failures` hosts failed (default 0), leaving the rest as they were. \
         `before` and `after` are `#{ on: \"host\", run: \"command\" }` hooks run on another host around each batch that changes something, with ORDO_BATCH, ORDO_BATCHES, ORDO_HOSTS and ORDO_ADDRESSES set.",
        move |ctx: NativeCallContext, _env: &mut EnvHandle, component: &str, opts: Map| {
            rolling(&s, &ctx, component, opts)
        },
    );
}

/// `env.rolling(component, #{ batch, max_failures, before, after })`.
fn rolling(s: &Session, ctx: &NativeCallContext, component: &str, opts: Map) -> RhaiResult<()> {
    let mut o = Options::new(ctx, "rolling()", opts, &["batch", "max_failures", "before", "after"])?;
    let (mut batch, mut percent) = (None, None);
    match o.take("batch") {
        None => {}
        Some(v) if v.is_int() && v.as_int().is_ok_and(|n| n > 0) => batch = Some(v.as_int().unwrap_or(1) as usize),
        Some(v) if v.is_string() => {
            let text = v.to_string();
            match text.strip_suffix('%').and_then(|n| n.trim().parse::<usize>().ok()) {
                Some(p) if (1..=100).contains(&p) => percent = Some(p),
                _ => return Err(o.wrong("batch", "a number of hosts or a percentage (\"25%\")", &v)),
            }
        }
        Some(v) => return Err(o.wrong("batch", "a number of hosts or a percentage (\"25%\")", &v)),
    }
    let max_failures = match o.take("max_failures") {
        None => 0,
        Some(v) => match v.as_int() {
            Ok(n) if n >= 0 => n as usize,
            _ => return Err(o.wrong("max_failures", "a number of hosts (0 or more)", &v)),
        },
    };
    let mut hook = |key: &str| -> RhaiResult<Option<HookDecl>> {
        let Some(v) = o.take(key) else { return Ok(None) };
        let Some(map) = v.clone().try_cast::<Map>() else {
            return Err(o.wrong(key, "#{ on: \"host\", run: \"command\" }", &v));
        };
        let what = format!("rolling()'s {key}");
        let mut h = Options::new(ctx, &what, map, &["on", "run", "timeout"])?;
        let (Some(host), Some(run)) = (h.string("on")?, h.string("run")?) else {
            return Err(script_error(
                ctx,
                format!("the `{key}` hook of rolling(\"{component}\") needs `on` and `run`"),
                format!("write {key}: #{{ on: \"lb1\", run: \"bin/drain $ORDO_HOSTS\" }}"),
            ));
        };
        let timeout = match h.take("timeout") {
            None => None,
            Some(t) => match t.as_int() {
                Ok(n) if n > 0 => Some(std::time::Duration::from_secs(n as u64)),
                _ => return Err(h.wrong("timeout", "a number of seconds (> 0)", &t)),
            },
        };
        Ok(Some(HookDecl { host, run, timeout }))
    };
    let before = hook("before")?;
    let after = hook("after")?;
    let mut d = s.decl();
    if d.rollings.iter().any(|r| r.component == component) {
        return Err(script_error(
            ctx,
            format!("rolling(\"{component}\") is declared twice"),
            "declare one rolling policy per component",
        ));
    }
    d.rollings.push(RollingDecl {
        component: component.to_string(),
        batch,
        percent,
        max_failures,
        before,
        after,
        span: call_span(ctx),
    });
    Ok(())
}

/// `environment(name, #{ service, user, root })`.
fn declare(s: &Session, ctx: &NativeCallContext, name: &str, opts: Map) -> RhaiResult<EnvHandle> {
    check_name(ctx, "environment", name)?;
    let mut o = Options::new(ctx, "environment()", opts, &["service", "root", "user"])?;
    let Some(service) = o.string("service")? else {
        return Err(script_error(
            ctx,
            "environment() needs the service it deploys",
            format!(
                "write environment(\"{name}\", #{{ service: \"shop\" }}); the service is read from services/shop.rhai"
            ),
        ));
    };
    check_name(ctx, "service", &service)?;
    let root = o.string("root")?.unwrap_or_else(|| "~/deployment/{service}".into());
    let user = o.string("user")?;
    if let Some(u) = &user {
        check_host_word(ctx, "user", u)?;
    }
    let mut d = s.decl();
    if let Some(prev) = &d.environment {
        let first = prev.span.as_ref().map(ToString::to_string).unwrap_or_default();
        return Err(script_error(
            ctx,
            "environment() is called twice",
            format!("a run deploys one environment; the first was declared at {first}"),
        ));
    }
    d.environment = Some(EnvDecl {
        name: name.to_string(),
        service,
        root,
        user,
        span: call_span(ctx),
    });
    Ok(EnvHandle)
}

/// `env.place(component, hosts, overrides)`: placements on hosts declared before,
/// by name, for environments that declare hosts first and wire them after.
fn place_on(s: &Session, ctx: &NativeCallContext, component: &str, hosts: Dynamic, overrides: &Map) -> RhaiResult<()> {
    let names = if hosts.is_string() {
        vec![hosts.to_string()]
    } else {
        strings(ctx, "hosts", hosts)?
    };
    let mut d = s.decl();
    for name in names {
        let Some(&i) = d.host_index.get(&name) else {
            let known: Vec<&str> = d.hosts.iter().map(|h| h.name.as_str()).collect();
            return Err(script_error(
                ctx,
                format!("component `{component}` is placed on unknown host `{name}`"),
                format!(
                    "{}declare the host first with env.host(\"{name}\", #{{ … }}); declared hosts: {}",
                    did_you_mean(&name, known.iter().copied()),
                    list_or_none(&known)
                ),
            ));
        };
        d.hosts[i].placements.push(Placement {
            component: component.to_string(),
            overrides: overrides.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            span: call_span(ctx),
        });
    }
    Ok(())
}
