//! Roots: a component placed on a host, the unit that configure runs and that the
//! plan orders across hosts. Built from the declarations with every source of an
//! attribute's value in one order (decision 39): environment-wide overrides, then
//! the placement's values, then `--set-file`, then `--set`; both configure and
//! assemble read them.

use std::collections::{BTreeMap, HashMap};

use rhai::{Dynamic, Map};

use super::build::Given;
use crate::model::HostPath;
use crate::problem::suggest::did_you_mean;
use crate::problem::{Kind, Problem, Problems};
use crate::script::session::{Declarations, EnvDecl, HostDecl, ServiceDecl};
use crate::source::Span;

pub(crate) struct Root {
    pub(crate) host: usize,
    pub(crate) component: usize,
    pub(crate) given: BTreeMap<String, Given>,
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

/// One root per placement, its values from every source in precedence order.
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
    // What overrides a component's values must name one that some host runs.
    let targets = decl
        .overrides
        .iter()
        .map(|o| (&o.component, &o.span, "override"))
        .chain(decl.command_line.iter().map(|v| {
            let what = if v.raw.is_some() { "--set" } else { "--set-file value" };
            (&v.component, &v.span, what)
        }));
    for (component, span, what) in targets {
        if !known.contains(&component.as_str()) {
            problems.push(unknown(component, span.as_ref(), &format!("{what} for component")));
        } else if !decl
            .hosts
            .iter()
            .any(|h| h.placements.iter().any(|p| &p.component == component))
        {
            problems.push(
                Problem::new(
                    Kind::Model,
                    format!("{what} for component `{component}`, which no host runs"),
                )
                .at(span.as_ref(), "")
                .help(format!(
                    "place it on a host with env.host(\"…\").place(\"{component}\"), or remove the {what}"
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
            let mut given: BTreeMap<String, Given> = BTreeMap::new();
            for o in decl.overrides.iter().filter(|o| o.component == p.component) {
                for (k, v) in &o.values {
                    Given::new(v.clone(), o.span.clone()).over(&mut given, k);
                }
            }
            for (k, v) in &p.overrides {
                Given::new(v.clone(), p.span.clone()).over(&mut given, k);
            }
            for v in decl.command_line.iter().filter(|v| v.component == p.component) {
                let value = Given {
                    raw: v.raw.clone(),
                    ..Given::new(v.value.clone(), v.span.clone())
                };
                value.over(&mut given, &v.attribute);
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
