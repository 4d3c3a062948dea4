//! `project()`, `environment()`, `service()` and the handles they return: where the
//! service runs (hosts and placements) and what differs per environment (overrides).

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::options::{Options, closest};
use super::{RhaiResult, call_span, script_error};
use crate::model::TransportSpec;
use crate::script::callback::Callback;
use crate::script::session::{ComponentDecl, EnvDecl, HostDecl, OverrideDecl, Placement, ServiceDecl, Session};

/// The environment declared by `environment(..)`; there is one per run.
#[derive(Clone)]
pub(crate) struct EnvHandle;

/// A host of the environment, by index.
#[derive(Clone)]
pub(crate) struct HostHandle(usize);

/// A service, by name.
#[derive(Clone)]
pub(crate) struct ServiceHandle(String);

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    engine
        .register_type_with_name::<EnvHandle>("Environment")
        .register_type_with_name::<HostHandle>("Host")
        .register_type_with_name::<ServiceHandle>("Service");

    let s = session.clone();
    engine.register_fn("project", move |ctx: NativeCallContext, opts: Map| -> RhaiResult<()> {
        let mut o = Options::new(&ctx, "project()", opts, &["name", "library"])?;
        let name = o.string("name")?;
        let library = match o.take("library") {
            None => Vec::new(),
            Some(v) => strings(&ctx, "library", v)?,
        };
        let mut d = s.decl();
        d.project_name = name;
        d.library = library.into_iter().map(|l| s.project_root.join(l)).collect();
        Ok(())
    });

    let s = session.clone();
    engine.register_fn(
        "environment",
        move |ctx: NativeCallContext, name: &str, opts: Map| -> RhaiResult<EnvHandle> {
            let mut o = Options::new(&ctx, "environment()", opts, &["service", "root", "user"])?;
            let Some(service) = o.string("service")? else {
                return Err(script_error(
                    &ctx,
                    "environment() needs the service it deploys",
                    format!("write environment(\"{name}\", #{{ service: \"shop\" }}); the service is read from services/shop.rhai"),
                ));
            };
            let root = o.string("root")?.unwrap_or_else(|| "~/deployment/{service}".into());
            let user = o.string("user")?;
            let mut d = s.decl();
            if let Some(prev) = &d.environment {
                let first = prev.span.as_ref().map(ToString::to_string).unwrap_or_default();
                return Err(script_error(
                    &ctx,
                    "environment() is called twice",
                    format!("a run deploys one environment; the first was declared at {first}"),
                ));
            }
            d.environment = Some(EnvDecl {
                name: name.to_string(),
                service,
                root,
                user,
                span: call_span(&ctx),
            });
            Ok(EnvHandle)
        },
    );

    let s = session.clone();
    let host_fn =
        move |ctx: NativeCallContext, _env: &mut EnvHandle, name: &str, opts: Map| declare_host(&s, &ctx, name, opts);
    engine.register_fn("host", host_fn.clone());
    engine.register_fn(
        "host",
        move |ctx: NativeCallContext, env: &mut EnvHandle, name: &str| host_fn(ctx, env, name, Map::new()),
    );

    let s = session.clone();
    let place = move |ctx: NativeCallContext, h: &mut HostHandle, component: &str, overrides: Map| {
        let overrides: BTreeMap<String, Dynamic> = overrides.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        s.decl().hosts[h.0].placements.push(Placement {
            component: component.to_string(),
            overrides,
            span: call_span(&ctx),
        });
        h.clone()
    };
    engine.register_fn("place", place.clone());
    engine.register_fn(
        "place",
        move |ctx: NativeCallContext, h: &mut HostHandle, component: &str| place(ctx, h, component, Map::new()),
    );
    let s = session.clone();
    engine.register_get("name", move |h: &mut HostHandle| s.decl().hosts[h.0].name.clone());

    // env.place("app", "web1") / env.place("app", ["web1", "web2"]): placement by
    // host name, for environments that declare hosts first and wire them after.
    let s = session.clone();
    let place_on = move |ctx: NativeCallContext,
                         _env: &mut EnvHandle,
                         component: &str,
                         hosts: Dynamic,
                         overrides: Map|
          -> RhaiResult<()> {
        let names = if hosts.is_string() {
            vec![hosts.to_string()]
        } else {
            strings(&ctx, "hosts", hosts)?
        };
        let mut d = s.decl();
        for name in names {
            let Some(&i) = d.host_index.get(&name) else {
                let known: Vec<&str> = d.hosts.iter().map(|h| h.name.as_str()).collect();
                let hint = closest(&name, known.iter().copied())
                    .map(|k| format!("did you mean `{k}`? "))
                    .unwrap_or_default();
                let list = if known.is_empty() {
                    "none yet".to_string()
                } else {
                    known.join(", ")
                };
                return Err(script_error(
                    &ctx,
                    format!("component `{component}` is placed on unknown host `{name}`"),
                    format!("{hint}declare the host first with env.host(\"{name}\", #{{ … }}); declared hosts: {list}"),
                ));
            };
            d.hosts[i].placements.push(Placement {
                component: component.to_string(),
                overrides: overrides.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
                span: call_span(&ctx),
            });
        }
        Ok(())
    };
    engine.register_fn("place", place_on.clone());
    engine.register_fn(
        "place",
        move |ctx: NativeCallContext, env: &mut EnvHandle, component: &str, hosts: Dynamic| {
            place_on(ctx, env, component, hosts, Map::new())
        },
    );

    let s = session.clone();
    engine.register_fn(
        "override",
        move |ctx: NativeCallContext, _env: &mut EnvHandle, component: &str, values: Map| {
            s.decl().overrides.push(OverrideDecl {
                component: component.to_string(),
                values: values.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                span: call_span(&ctx),
            });
        },
    );

    let s = session.clone();
    engine.register_fn(
        "service",
        move |ctx: NativeCallContext, name: &str| -> RhaiResult<ServiceHandle> {
            let mut d = s.decl();
            if d.services.iter().any(|svc| svc.name == name) {
                return Err(script_error(
                    &ctx,
                    format!("service `{name}` is declared twice"),
                    "declare each service once, in services/<name>.rhai",
                ));
            }
            d.services.push(ServiceDecl {
                name: name.to_string(),
                components: Vec::new(),
            });
            Ok(ServiceHandle(name.to_string()))
        },
    );

    let s = session.clone();
    engine.register_fn(
        "component",
        move |ctx: NativeCallContext,
              svc: &mut ServiceHandle,
              name: &str,
              configure: FnPtr|
              -> RhaiResult<ServiceHandle> {
            let mut d = s.decl();
            let service = d
                .services
                .iter_mut()
                .find(|x| x.name == svc.0)
                .expect("service handle without service");
            if service.components.iter().any(|c| c.name == name) {
                return Err(script_error(
                    &ctx,
                    format!("component `{name}` is declared twice in service `{}`", svc.0),
                    "give each component of a service its own name",
                ));
            }
            if name.is_empty() || name.contains(['/', ':', ' ']) {
                return Err(script_error(
                    &ctx,
                    format!("`{name}` is not a valid component name"),
                    "use letters, digits, `-` and `_` (no `/`, `:` or spaces)",
                ));
            }
            service.components.push(ComponentDecl {
                name: name.to_string(),
                configure: Callback::new(&ctx, configure),
            });
            Ok(svc.clone())
        },
    );
}

const HOST_OPTIONS: &[&str] = &["transport", "address", "user", "port", "roles", "data", "home", "root"];

fn declare_host(s: &Session, ctx: &NativeCallContext, name: &str, opts: Map) -> RhaiResult<HostHandle> {
    let mut o = Options::new(ctx, "host()", opts, HOST_OPTIONS)?;
    let transport_kind = o.string("transport")?.unwrap_or_else(|| "ssh".into());
    let address = o.string("address")?;
    let user = o.string("user")?;
    let home = o.string("home")?;
    let root = o.string("root")?;
    let port = match o.take("port") {
        None => None,
        Some(v) => Some(
            v.as_int()
                .ok()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| o.wrong("port", "a port number", &v))?,
        ),
    };
    let roles = match o.take("roles") {
        None => Vec::new(),
        Some(v) => strings(ctx, "roles", v)?,
    };
    let data = match o.take("data") {
        None => serde_json::Value::Object(serde_json::Map::new()),
        Some(v) => rhai::serde::from_dynamic(&v).map_err(|e| {
            script_error(
                ctx,
                format!("host data must be plain values: {e}"),
                "use strings, numbers, arrays and maps",
            )
        })?,
    };
    let transport = match transport_kind.as_str() {
        "local" => {
            let home = match home {
                Some(h) => s.project_root.join(h),
                None => std::env::var_os("HOME")
                    .map(Into::into)
                    .ok_or_else(|| script_error(ctx, "HOME is not set", "give the local host a `home` directory"))?,
            };
            TransportSpec::Local { home }
        }
        "ssh" => TransportSpec::Ssh {
            address: address.clone().unwrap_or_else(|| name.to_string()),
            port,
            user: user.clone(),
        },
        other => {
            let hint = closest(other, ["local", "ssh"])
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(script_error(
                ctx,
                format!("unknown transport `{other}` for host `{name}`"),
                format!("{hint}transports are `ssh` (the default) and `local`"),
            ));
        }
    };
    let mut d = s.decl();
    if d.environment.is_none() {
        return Err(script_error(
            ctx,
            "host() before environment()",
            "declare the environment first",
        ));
    }
    if let Some(&i) = d.host_index.get(name) {
        let first = d.hosts[i].span.as_ref().map(ToString::to_string).unwrap_or_default();
        return Err(script_error(
            ctx,
            format!("host `{name}` is declared twice"),
            format!("it was first declared at {first}; add placements to that host with .place(..)"),
        ));
    }
    let env_user = d.environment.as_ref().and_then(|e| e.user.clone());
    let is_local = matches!(transport, TransportSpec::Local { .. });
    let user = user
        .or(env_user)
        .unwrap_or_else(|| if is_local { current_user() } else { String::new() });
    let address = address.unwrap_or_else(|| if is_local { "localhost".into() } else { name.to_string() });
    let index = d.hosts.len();
    d.hosts.push(HostDecl {
        name: name.to_string(),
        transport,
        address,
        user,
        roles,
        data,
        root,
        span: call_span(ctx),
        placements: Vec::new(),
    });
    d.host_index.insert(name.to_string(), index);
    Ok(HostHandle(index))
}

fn strings(ctx: &NativeCallContext, what: &str, v: Dynamic) -> RhaiResult<Vec<String>> {
    let Some(items) = v.clone().try_cast::<Array>() else {
        return Err(script_error(
            ctx,
            format!("`{what}` must be an array of strings"),
            format!("write {what}: [\"a\", \"b\"]"),
        ));
    };
    items
        .into_iter()
        .map(|i| {
            if i.is_string() {
                Ok(i.to_string())
            } else {
                Err(script_error(
                    ctx,
                    format!("`{what}` must be an array of strings"),
                    format!("write {what}: [\"a\", \"b\"]"),
                ))
            }
        })
        .collect()
}

pub(crate) use crate::sys::current_user;
