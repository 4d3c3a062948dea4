//! `project()`, `environment()`, `service()` and the handles they return: where the
//! service runs (hosts and placements) and what differs per environment (overrides).

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::names::{check_host_word, check_name};
use super::options::Options;
use super::{RhaiResult, call_span, document, document_getter, script_error};
use crate::model::TransportSpec;
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::project::library::GitLibrary;
use crate::script::callback::Callback;
use crate::script::errors::register_type;
use crate::script::session::{
    ComponentDecl, DeclaredLibrary, EnvDecl, HookDecl, HostDecl, LibrarySource, OverrideDecl, Placement, RollingDecl,
    ServiceDecl, Session,
};
use crate::script::stack::{MAX_MODEL_DEPTH, nests_deeper};
use crate::sys::current_user;

/// The environment declared by `environment(..)`; there is one per run.
#[derive(Clone)]
pub(crate) struct EnvHandle;

/// A host of the environment, by index.
#[derive(Clone)]
pub(crate) struct HostHandle(pub(super) usize);

/// A service, by name.
#[derive(Clone)]
pub(crate) struct ServiceHandle(String);

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    register_type::<EnvHandle>(engine, "Environment");
    register_type::<HostHandle>(engine, "Host");
    register_type::<ServiceHandle>(engine, "Service");

    let s = session.clone();
    document(
        engine,
        "project",
        &["options: map", "()"],
        "Project settings, in `ordo.rhai`: `#{ name, library, hooks }`.\n\
         `library` lists where modules, templates and files are searched after the project itself, in order: \
         a directory (relative to the project) as a string, or a git repository as `#{ name, git, ref }` \
         (`ref`: a branch, tag or commit, the default branch when absent), pinned to a commit in `ordo.lock`.\n\
         `hooks` runs commands on the machine that runs ordo around `ordo deploy` and `ordo rollback`: \
         `#{ before_deploy, after_deploy, on_failure }`, each a command, a map `#{ run, environments, secrets, timeout }` \
         or an array of them; see docs/operations.md.",
        move |ctx: NativeCallContext, opts: Map| -> RhaiResult<()> {
            let mut o = Options::new(&ctx, "project()", opts, &["name", "library", "hooks"])?;
            let name = o.string("name")?;
            let library = match o.take("library") {
                None => Vec::new(),
                Some(v) => libraries(&ctx, v)?,
            };
            let hooks = match o.take("hooks") {
                None => crate::project::hooks::Hooks::default(),
                Some(v) => super::project_hooks::hooks(&ctx, v)?,
            };
            let mut decl = s.decl();
            decl.project_name = name;
            decl.libraries = library;
            decl.controller_hooks = hooks;
            Ok(())
        },
    );

    let s = session.clone();
    document(
        engine,
        "environment",
        &["name: string", "options: map", "Environment"],
        "Declares the environment this file describes: `#{ service, user, root }`.\n\
         `service` (required) names the service it deploys; `user` is the default ssh login; `root` the default directory of components on a host (`~/deployment/{service}`).",
        move |ctx: NativeCallContext, name: &str, opts: Map| -> RhaiResult<EnvHandle> {
            check_name(&ctx, "environment", name)?;
            let mut o = Options::new(&ctx, "environment()", opts, &["service", "root", "user"])?;
            let Some(service) = o.string("service")? else {
                return Err(script_error(
                    &ctx,
                    "environment() needs the service it deploys",
                    format!(
                        "write environment(\"{name}\", #{{ service: \"shop\" }}); the service is read from services/shop.rhai"
                    ),
                ));
            };
            check_name(&ctx, "service", &service)?;
            let root = o.string("root")?.unwrap_or_else(|| "~/deployment/{service}".into());
            let user = o.string("user")?;
            if let Some(u) = &user {
                check_host_word(&ctx, "user", u)?;
            }
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

    let host_doc = "Declares a host of the environment and returns it: `#{ transport, address, user, port, home, root, roles, data }`.\n\
                    `transport` is `ssh` (default) or `local`; `home` is the directory standing in for `$HOME` of a local host.";
    let s = session.clone();
    let host_fn =
        move |ctx: NativeCallContext, _env: &mut EnvHandle, name: &str, opts: Map| declare_host(&s, &ctx, name, opts);
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

    // env.place("app", "web1") / env.place("app", ["web1", "web2"]): placement by
    // host name, for environments that declare hosts first and wire them after.
    let place_on_doc = "Places a component on hosts declared before, by name: one name or an array of names.";
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
                return Err(script_error(
                    &ctx,
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
                span: call_span(&ctx),
            });
        }
        Ok(())
    };
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
        place_on.clone(),
    );
    document(
        engine,
        "place",
        &["env: Environment", "component: string", "hosts: string | array", "()"],
        place_on_doc,
        move |ctx: NativeCallContext, env: &mut EnvHandle, component: &str, hosts: Dynamic| {
            place_on(ctx, env, component, hosts, Map::new())
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
        move |ctx: NativeCallContext, _env: &mut EnvHandle, component: &str, opts: Map| -> RhaiResult<()> {
            let mut o = Options::new(&ctx, "rolling()", opts, &["batch", "max_failures", "before", "after"])?;
            let (mut batch, mut percent) = (None, None);
            match o.take("batch") {
                None => {}
                Some(v) if v.is_int() && v.as_int().is_ok_and(|n| n > 0) => {
                    batch = Some(v.as_int().unwrap_or(1) as usize)
                }
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
                let mut h = Options::new(&ctx, &what, map, &["on", "run", "timeout"])?;
                let (Some(host), Some(run)) = (h.string("on")?, h.string("run")?) else {
                    return Err(script_error(
                        &ctx,
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
                    &ctx,
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
                span: call_span(&ctx),
            });
            Ok(())
        },
    );

    let s = session.clone();
    document(
        engine,
        "service",
        &["name: string", "Service"],
        "Declares a service (in `services/<name>.rhai`); add its components with `.component(name, |c| …)`.",
        move |ctx: NativeCallContext, name: &str| -> RhaiResult<ServiceHandle> {
            check_name(&ctx, "service", name)?;
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
    document(
        engine,
        "component",
        &["service: Service", "name: string", "configure: |c| …", "Service"],
        "Adds a component to the service: `configure` is called with the component context `c` for every host the component is placed on.",
        move |ctx: NativeCallContext,
              svc: &mut ServiceHandle,
              name: &str,
              configure: FnPtr|
              -> RhaiResult<ServiceHandle> {
            check_name(&ctx, "component", name)?;
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
            service.components.push(ComponentDecl {
                name: name.to_string(),
                span: call_span(&ctx),
                configure: Callback::new(&ctx, configure),
            });
            Ok(svc.clone())
        },
    );
}

const HOST_OPTIONS: &[&str] = &["transport", "address", "user", "port", "roles", "data", "home", "root"];

fn declare_host(s: &Session, ctx: &NativeCallContext, name: &str, opts: Map) -> RhaiResult<HostHandle> {
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

/// The `library` list of `project()`: paths and git libraries, names unique.
fn libraries(ctx: &NativeCallContext, v: Dynamic) -> RhaiResult<Vec<DeclaredLibrary>> {
    let example =
        "library: [\"../recipes\", #{ name: \"web\", git: \"https://git.example.com/web.git\", ref: \"v1\" }]";
    let Some(items) = v.clone().try_cast::<Array>() else {
        return Err(script_error(
            ctx,
            "`library` must be an array of directories and git libraries",
            format!("write {example}"),
        ));
    };
    let mut out: Vec<DeclaredLibrary> = Vec::new();
    for item in items {
        let library = if item.is_string() {
            let path = item.to_string();
            DeclaredLibrary {
                name: path.clone(),
                source: LibrarySource::Path(path),
                span: call_span(ctx),
            }
        } else if let Some(map) = item.clone().try_cast::<Map>() {
            let mut o = Options::new(ctx, "a git library", map, &["name", "git", "ref"])?;
            let Some(url) = o.string("git")? else {
                return Err(script_error(
                    ctx,
                    "a library map needs `git`, the repository's URL",
                    format!("write {example}; a directory is given as a plain string"),
                ));
            };
            let name = match o.string("name")? {
                Some(n) => n,
                None => default_library_name(&url),
            };
            check_name(ctx, "library", &name)?;
            let reference = o.string("ref")?;
            // Both are passed to git, which would read a leading `-` as an option.
            if url.starts_with('-') || reference.as_deref().is_some_and(|r| r.starts_with('-') || r.is_empty()) {
                return Err(script_error(
                    ctx,
                    format!("library `{name}`: `git` and `ref` cannot be empty or start with `-`"),
                    "give the repository's URL and a branch, tag or commit",
                ));
            }
            DeclaredLibrary {
                name: name.clone(),
                source: LibrarySource::Git(GitLibrary { name, url, reference }),
                span: call_span(ctx),
            }
        } else {
            return Err(script_error(
                ctx,
                format!(
                    "a `library` entry must be a directory (a string) or a git library (a map), not {}",
                    crate::script::errors::type_name(item.type_name())
                ),
                format!("write {example}"),
            ));
        };
        if out.iter().any(|l| l.name == library.name) {
            return Err(script_error(
                ctx,
                format!("library `{}` is declared twice", library.name),
                "give each git library its own `name`",
            ));
        }
        out.push(library);
    }
    Ok(out)
}

/// `web` for `https://host/team/web.git` or `/srv/git/web/`.
fn default_library_name(url: &str) -> String {
    let last = url.trim_end_matches('/').rsplit(['/', ':']).next().unwrap_or(url);
    last.strip_suffix(".git").unwrap_or(last).to_string()
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
