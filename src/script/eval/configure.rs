//! Configure every root (a component placed on a host) until provide/require is
//! stable, then check the result: unknown overrides and unsatisfied requires are
//! errors; a provide nobody requires is a warning (a partial environment, "db
//! only", is legitimate). Produces the [`Model`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult};

use super::Configured;
use super::assemble::assemble;
use super::build::{CompBuild, ComponentCtx, RootBuild, check_unknown_attributes};
use super::hosts::colliding;
use super::roots::{Root, host_info, root_name, roots};
use crate::model::HostPath;
use crate::problem::suggest::{closest, did_you_mean};
use crate::problem::{Kind, Problem, Problems};
use crate::script::diagnostic;
use crate::script::errors::Unsatisfied;
use crate::script::session::{Declarations, ServiceDecl, Session};

/// Rounds after which configure gives up on values that keep changing.
const MAX_ROUNDS: usize = 50;

enum Outcome {
    Done(RootBuild),
    Unsatisfied(Unsatisfied),
    Failed(Problem),
}

pub(crate) fn configure(engine: &Engine, session: &Arc<Session>, service: &str) -> Result<Configured, Problems> {
    // Taken while component functions run (they may call API functions that lock
    // the declarations), and put back after, for the REPL.
    let decl = std::mem::take(&mut *session.decl());
    let result = configure_all(engine, session, service, &decl);
    *session.decl() = decl;
    result
}

fn configure_all(
    engine: &Engine,
    session: &Arc<Session>,
    service: &str,
    decl: &Declarations,
) -> Result<Configured, Problems> {
    let env = decl.environment.as_ref().expect("environment checked by caller");
    let svc = decl
        .services
        .iter()
        .find(|s| s.name == service)
        .expect("service checked by caller");
    let collisions = colliding(decl);
    if !collisions.is_empty() {
        return Err(Problems(collisions));
    }
    let retired = super::retired::check(decl);
    if !retired.is_empty() {
        return Err(Problems(retired));
    }
    let roots = roots(decl, svc)?;
    let host_infos: Vec<Dynamic> = decl.hosts.iter().map(host_info).collect();

    let run = |r: usize| -> Outcome {
        let root = &roots[r];
        let comp = &svc.components[root.component];
        // Problems name their host: the same one on several hosts is shown once.
        let host = &decl.hosts[root.host].name;
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
                declared: comp.span.clone(),
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
                Err(e) => Outcome::Failed(diagnostic::from_eval(e, None, &session.sources).on_host(host)),
            },
            Err(e) => match unsatisfied(&e) {
                Some(u) => Outcome::Unsatisfied(u),
                None => {
                    let p = diagnostic::from_eval(e, comp.configure.source(), &session.sources).on_host(host);
                    // Unless the placement is already labelled (its overrides are the error).
                    let labelled = root
                        .span
                        .as_ref()
                        .is_some_and(|s| p.labels.iter().any(|l| &l.span == s));
                    Outcome::Failed(if labelled {
                        p
                    } else {
                        p.at(root.span.as_ref(), format!("`{}` placed on `{host}` here", comp.name))
                    })
                }
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
            return Err(unresolved(decl, &roots, svc, &outcomes, session, round >= MAX_ROUNDS));
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
    let warnings = unused_provides(decl, &roots, svc, session);
    let model = assemble(decl, &roots, svc, builds, session, service)?;
    Ok(Configured { model, warnings })
}

fn placeholder() -> CompBuild {
    CompBuild {
        name: String::new(),
        parent: None,
        dir: HostPath::new("/").expect("root path"),
        span: None,
        declared: None,
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

fn unresolved(
    decl: &Declarations,
    roots: &[Root],
    svc: &ServiceDecl,
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
        p = match closest(&u.key, provided.iter().copied()) {
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

fn unused_provides(decl: &Declarations, roots: &[Root], svc: &ServiceDecl, session: &Session) -> Vec<Problem> {
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
            let hint = did_you_mean(key, required.iter().copied());
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
                    "{hint}that is fine where another environment uses it; otherwise require it with c.require(\"{key}\") where it is needed, or remove the provide"
                )),
            );
        }
    }
    out
}
