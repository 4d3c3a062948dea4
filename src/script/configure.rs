//! Configure every root (a component placed on a host) until provide/require is
//! stable, then check the result: unknown overrides, unsatisfied requires and unused
//! provides are errors. Produces the [`Model`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, Map};

use super::api::{CompBuild, ComponentCtx, RootBuild, Unsatisfied, check_unknown_attributes};
use super::assemble::assemble;
use super::diagnostic;
use super::session::{Declarations, Session};
use crate::model::{HostPath, Model};
use crate::problem::{Kind, Problem, Problems};
use crate::source::Span;

/// Rounds after which configure gives up on values that keep changing.
const MAX_ROUNDS: usize = 50;

pub(super) struct Root {
    host: usize,
    pub(super) component: usize,
    given: BTreeMap<String, (Dynamic, Option<Span>)>,
    span: Option<Span>,
    dir: HostPath,
}

enum Outcome {
    Done(RootBuild),
    Unsatisfied(Unsatisfied),
    Failed(Problem),
}

pub(crate) fn configure(engine: &Engine, session: &Arc<Session>, service: &str) -> Result<Model, Problems> {
    let decl = std::mem::take(&mut *session.decl());
    let env = decl.environment.as_ref().expect("environment checked by caller");
    let svc_index = decl
        .services
        .iter()
        .position(|s| s.name == service)
        .expect("service checked by caller");
    let svc = &decl.services[svc_index];
    let roots = roots(&decl, svc_index)?;
    let host_infos: Vec<Dynamic> = decl.hosts.iter().map(host_info).collect();

    let run = |r: usize| -> Outcome {
        let root = &roots[r];
        let comp = &svc.components[root.component];
        let build = RootBuild::new(
            r,
            root.host,
            host_infos[root.host].clone(),
            service,
            &env.name,
            CompBuild {
                name: comp.name.clone(),
                parent: None,
                dir: root.dir.clone(),
                span: root.span.clone(),
                given: root.given.clone(),
                attributes: BTreeMap::new(),
            },
        );
        let ctx = ComponentCtx::new_root(build);
        session.registry().forget_reader(r);
        let result = comp.configure.call(engine, Dynamic::from(ctx.clone()));
        let build = std::mem::replace(
            &mut *ctx.build.lock().expect("build poisoned"),
            RootBuild::new(r, root.host, Dynamic::UNIT, "", "", placeholder()),
        );
        let mut build = build;
        session.registry().commit(r, std::mem::take(&mut build.provides));
        match result {
            Ok(_) => match check_unknown_attributes(&build.components[0]) {
                Ok(()) => Outcome::Done(build),
                Err(e) => Outcome::Failed(diagnostic::from_eval(e, None)),
            },
            Err(e) => match unsatisfied(&e) {
                Some(u) => Outcome::Unsatisfied(u),
                None => Outcome::Failed(diagnostic::from_eval(e, comp.configure.source()).at(
                    root.span.as_ref(),
                    format!("`{}` placed on `{}` here", comp.name, decl.hosts[root.host].name),
                )),
            },
        }
    };

    let mut outcomes: Vec<Option<Outcome>> = (0..roots.len()).map(|_| None).collect();
    let mut working: Vec<usize> = (0..roots.len()).collect();
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    for round in 0.. {
        for &r in &working {
            outcomes[r] = Some(run(r));
        }
        let failed: Vec<Problem> = outcomes
            .iter()
            .filter_map(|o| match o {
                Some(Outcome::Failed(p)) => Some(p.clone()),
                _ => None,
            })
            .collect();
        if !failed.is_empty() {
            return Err(Problems(failed));
        }
        let mut next: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o, Some(Outcome::Unsatisfied(_))))
            .map(|(i, _)| i)
            .collect();
        next.extend(session.registry().stale_readers());
        next.sort_unstable();
        next.dedup();
        if next.is_empty() {
            break;
        }
        if !seen.insert(next.clone()) || round >= MAX_ROUNDS {
            return Err(unresolved(&decl, &roots, svc, &outcomes, session, round >= MAX_ROUNDS));
        }
        working = next;
    }

    let builds: Vec<RootBuild> = outcomes
        .into_iter()
        .map(|o| match o {
            Some(Outcome::Done(b)) => b,
            _ => unreachable!("every root configured"),
        })
        .collect();
    let unused = unused_provides(&decl, &roots, svc, session);
    if !unused.is_empty() {
        return Err(Problems(unused));
    }
    assemble(&decl, &roots, svc, builds, session, service)
}

fn placeholder() -> CompBuild {
    CompBuild {
        name: String::new(),
        parent: None,
        dir: HostPath::new("/").expect("root path"),
        span: None,
        given: BTreeMap::new(),
        attributes: BTreeMap::new(),
    }
}

fn unsatisfied(e: &EvalAltResult) -> Option<Unsatisfied> {
    match e.unwrap_inner() {
        EvalAltResult::ErrorRuntime(v, _) if v.is::<Unsatisfied>() => Some(v.clone().cast::<Unsatisfied>()),
        _ => None,
    }
}

/// One root per placement, with environment-wide overrides under placement ones.
fn roots(decl: &Declarations, svc_index: usize) -> Result<Vec<Root>, Problems> {
    let env = decl.environment.as_ref().expect("environment");
    let svc = &decl.services[svc_index];
    let known: Vec<&str> = svc.components.iter().map(|c| c.name.as_str()).collect();
    let mut problems = Vec::new();
    let unknown = |name: &str, span: Option<&Span>, what: &str| {
        let hint = super::api::closest(name, known.iter().copied())
            .map(|k| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        Problem::new(
            Kind::Model,
            format!("{what} `{name}`, which service `{}` does not declare", svc.name),
        )
        .at(span, "")
        .help(format!("{hint}components of `{}`: {}", svc.name, known.join(", ")))
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
        let root_text = host
            .root
            .clone()
            .unwrap_or_else(|| env.root.clone())
            .replace("{service}", &svc.name);
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

fn host_info(h: &super::session::HostDecl) -> Dynamic {
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

pub(super) fn root_name(decl: &Declarations, roots: &[Root], svc: &super::session::ServiceDecl, r: usize) -> String {
    format!(
        "{}:{}",
        decl.hosts[roots[r].host].name, svc.components[roots[r].component].name
    )
}

fn unresolved(
    decl: &Declarations,
    roots: &[Root],
    svc: &super::session::ServiceDecl,
    outcomes: &[Option<Outcome>],
    session: &Session,
    too_many_rounds: bool,
) -> Problems {
    let registry = session.registry();
    let provided: Vec<&str> = registry
        .keys
        .iter()
        .filter(|(_, s)| !s.values.is_empty())
        .map(|(k, _)| k.as_str())
        .collect();
    let mut problems: Vec<Problem> = Vec::new();
    for (r, o) in outcomes.iter().enumerate() {
        let Some(Outcome::Unsatisfied(u)) = o else { continue };
        let mut p = Problem::new(
            Kind::Model,
            format!(
                "`{}` requires `{}`, but no component provides it",
                root_name(decl, roots, svc, r),
                u.key
            ),
        )
        .at(u.span.as_ref(), "required here");
        p = match super::api::closest(&u.key, provided.iter().copied()) {
            Some(near) => {
                let (provider, span) = registry.keys[near].values.iter().next().map(|(pr, v)| (*pr, v[0].2.clone())).expect("provided");
                p.at(span.as_ref(), format!("`{}` provides `{near}`", root_name(decl, roots, svc, provider)))
                    .help(format!("did you mean `{near}`? Otherwise place a component that calls c.provide(\"{}\", …)", u.key))
            }
            None => p.help(format!(
                "place a component that calls c.provide(\"{}\", …) on some host of this environment; \
                 if one does, but only after a require that waits on this component, move its provide above that require",
                u.key
            )),
        };
        problems.push(p);
    }
    if problems.is_empty() || too_many_rounds {
        problems.push(Problem::new(Kind::Model, "provide/require does not settle: values keep changing between rounds").help(
            "a provided value must not depend on something it changes itself; look for components that require and provide the same key",
        ));
    }
    Problems(problems)
}

fn unused_provides(
    decl: &Declarations,
    roots: &[Root],
    svc: &super::session::ServiceDecl,
    session: &Session,
) -> Vec<Problem> {
    let registry = session.registry();
    let required: Vec<&str> = registry
        .keys
        .iter()
        .filter(|(_, s)| !s.readers.is_empty())
        .map(|(k, _)| k.as_str())
        .collect();
    let mut out = Vec::new();
    let mut keys: Vec<(&String, _)> = registry.keys.iter().collect();
    keys.sort_by_key(|(k, _)| k.as_str());
    for (key, state) in keys {
        if !state.readers.is_empty() {
            continue;
        }
        for (provider, values) in &state.values {
            let hint = super::api::closest(key, required.iter().copied())
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            out.push(
                Problem::new(
                    Kind::Model,
                    format!(
                        "`{}` provides `{key}`, but no component requires it",
                        root_name(decl, roots, svc, *provider)
                    ),
                )
                .at(values[0].2.as_ref(), "provided here")
                .help(format!(
                    "{hint}require it with c.require(\"{key}\") where it is needed, or remove the provide"
                )),
            );
        }
    }
    out
}
