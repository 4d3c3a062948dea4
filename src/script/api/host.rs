//! A `Host` of the environment: its declaration (`env.host(name, #{ … })`, the
//! connection details and what the host is for), its placements
//! (`.place(component)`) and its name. `host.retire()` is `retire.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Dynamic, Engine, Map, NativeCallContext};

use super::names::check_host_word;
use super::options::{Options, strings};
use super::{RhaiResult, call_span, document, document_getter, script_error};
use crate::model::TransportSpec;
use crate::problem::suggest::did_you_mean;
use crate::script::errors::register_type;
use crate::script::session::{HostDecl, Placement, Session};
use crate::script::stack::{MAX_MODEL_DEPTH, nests_deeper};
use crate::sys::current_user;

/// A host of the environment, by index.
#[derive(Clone)]
pub(crate) struct HostHandle(pub(super) usize);

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    register_type::<HostHandle>(engine, "Host");

    let place_doc = "Places a component of the service on this host, with attribute overrides for it here; returns the host, so placements chain.";
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
    document(
        engine,
        "place",
        &["host: Host", "component: string", "overrides: map", "Host"],
        place_doc,
        place.clone(),
    );
    document(
        engine,
        "place",
        &["host: Host", "component: string", "Host"],
        place_doc,
        move |ctx: NativeCallContext, h: &mut HostHandle, component: &str| place(ctx, h, component, Map::new()),
    );
    let s = session.clone();
    document_getter(
        engine,
        "name",
        &["host: Host", "string"],
        "The host's name.",
        move |h: &mut HostHandle| s.decl().hosts[h.0].name.clone(),
    );
}

const HOST_OPTIONS: &[&str] = &["transport", "address", "user", "port", "roles", "data", "home", "root"];

/// `env.host(name, options)`: declares a host of the environment.
pub(super) fn declare(s: &Session, ctx: &NativeCallContext, name: &str, opts: Map) -> RhaiResult<HostHandle> {
    check_host_word(ctx, "host name", name)?;
    let mut o = Options::new(ctx, "host()", opts, HOST_OPTIONS)?;
    let transport_kind = o.string("transport")?.unwrap_or_else(|| "ssh".into());
    let address = o.string("address")?;
    let user = o.string("user")?;
    let home = o.string("home")?;
    let root = o.string("root")?;
    if let Some(a) = &address {
        check_host_word(ctx, "address", a)?;
    }
    if let Some(u) = &user {
        check_host_word(ctx, "user", u)?;
    }
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
        Some(v) if nests_deeper(&v, MAX_MODEL_DEPTH) => {
            return Err(script_error(
                ctx,
                format!("host data nests deeper than {MAX_MODEL_DEPTH} levels"),
                "host data describes the host; keep it flat enough to read",
            ));
        }
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
                Some(h) => s.local_root.get().unwrap_or(&s.project_root).join(h),
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
            return Err(script_error(
                ctx,
                format!("unknown transport `{other}` for host `{name}`"),
                format!(
                    "{}transports are `ssh` (the default) and `local`",
                    did_you_mean(other, ["local", "ssh"])
                ),
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
        retired: None,
    });
    d.host_index.insert(name.to_string(), index);
    Ok(HostHandle(index))
}
