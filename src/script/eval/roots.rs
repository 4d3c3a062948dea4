//! Roots: a component placed on a host, the unit that configure runs and that the
//! plan orders across hosts. Built from the declarations with environment-wide
//! overrides under placement ones; both configure and assemble read them.

use std::collections::{BTreeMap, HashMap};

use rhai::{Dynamic, Map};

use crate::model::HostPath;
use crate::problem::suggest::did_you_mean;
use crate::problem::{Kind, Problem, Problems};
use crate::script::session::{Declarations, EnvDecl, HostDecl, ServiceDecl};
use crate::source::Span;

pub(crate) struct Root {
    pub(crate) host: usize,
    pub(crate) component: usize,
    pub(crate) given: BTreeMap<String, (Dynamic, Option<Span>)>,
    pub(crate) span: Option<Span>,
    pub(crate) dir: HostPath,
}

/// `host:component`, how messages name a root.
pub(crate) fn root_name(decl: &Declarations, roots: &[Root], svc: &ServiceDecl, r: usize) -> String {
    format!(
        "{}:{}",
        decl.hosts[roots[r].host].name, svc.components[roots[r].component].name
    )
}

/// One root per placement, with environment-wide overrides under placement ones.
pub(crate) fn roots(decl: &Declarations, svc: &ServiceDecl) -> Result<Vec<Root>, Problems> {
    let env = decl.environment.as_ref().expect("environment");
    let known: Vec<&str> = svc.components.iter().map(|c| c.name.as_str()).collect();
    let mut problems = Vec::new();
    let unknown = |name: &str, span: Option<&Span>, what: &str| {
        Problem::new(
            Kind::Model,
            format!("{what} `{name}`, which service `{}` does not declare", svc.name),
        )
        .at(span, "")
        .help(format!(
            "{}components of `{}`: {}",
            did_you_mean(name, known.iter().copied()),
            svc.name,
            known.join(", ")
        ))
    };
    for o in &decl.overrides {
        if !known.contains(&o.component.as_str()) {
            problems.push(unknown(&o.component, o.span.as_ref(), "override for component"));
        } else if !decl
            .hosts
            .iter()
            .any(|h| h.placements.iter().any(|p| p.component == o.component))
        {
            problems.push(
                Problem::new(
                    Kind::Model,
                    format!("override for component `{}`, which no host runs", o.component),
                )
                .at(o.span.as_ref(), "")
                .help(format!(
                    "place it on a host with env.host(\"…\").place(\"{}\"), or remove the override",
                    o.component
                )),
            );
        }
    }
    let mut roots = Vec::new();
    for (h, host) in decl.hosts.iter().enumerate() {
        let root_text = root_of_host(env, host, &svc.name);
        let Some(dir) = HostPath::new(&root_text) else {
            problems.push(
                Problem::new(
                    Kind::Model,
                    format!("root `{root_text}` of host `{}` is not absolute", host.name),
                )
                .at(host.span.as_ref().or(env.span.as_ref()), "")
                .help("a root starts with `/` or `~/` (the service user's home)"),
            );
            continue;
        };
        let mut placed: HashMap<&str, &Option<Span>> = HashMap::new();
        for p in &host.placements {
            let Some(component) = svc.components.iter().position(|c| c.name == p.component) else {
                problems.push(unknown(
                    &p.component,
                    p.span.as_ref(),
                    &format!("host `{}` places component", host.name),
                ));
                continue;
            };
            if let Some(first) = placed.insert(&p.component, &p.span) {
                problems.push(
                    Problem::new(
                        Kind::Model,
                        format!("component `{}` is placed on host `{}` twice", p.component, host.name),
                    )
                    .at(p.span.as_ref(), "placed again here")
                    .at(first.as_ref(), "first placed here")
                    .help("place a component once per host"),
                );
                continue;
            }
            let mut given: BTreeMap<String, (Dynamic, Option<Span>)> = BTreeMap::new();
            for o in decl.overrides.iter().filter(|o| o.component == p.component) {
                for (k, v) in &o.values {
                    given.insert(k.clone(), (v.clone(), o.span.clone()));
                }
            }
            for (k, v) in &p.overrides {
                given.insert(k.clone(), (v.clone(), p.span.clone()));
            }
            roots.push(Root {
                host: h,
                component,
                given,
                span: p.span.clone(),
                dir: dir.clone(),
            });
        }
    }
    if problems.is_empty() {
        Ok(roots)
    } else {
        Err(Problems(problems))
    }
}

/// The root directory of components on `host`, as written (`~/deployment/shop`).
pub(crate) fn root_of_host(env: &EnvDecl, host: &HostDecl, service: &str) -> String {
    host.root
        .clone()
        .unwrap_or_else(|| env.root.clone())
        .replace("{service}", service)
}

/// `c.host`: what a component may know about its host.
pub(crate) fn host_info(h: &HostDecl) -> Dynamic {
    let mut m = Map::new();
    m.insert("name".into(), h.name.clone().into());
    m.insert("address".into(), h.address.clone().into());
    m.insert("user".into(), h.user.clone().into());
    m.insert(
        "roles".into(),
        Dynamic::from_array(h.roles.iter().map(|r| r.clone().into()).collect()),
    );
    m.insert("data".into(), rhai::serde::to_dynamic(&h.data).unwrap_or(Dynamic::UNIT));
    Dynamic::from_map(m)
}
