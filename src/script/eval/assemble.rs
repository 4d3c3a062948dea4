//! Turns the final configure run of every root into the [`Model`]: component
//! instances, steps with their `on_change` triggers resolved to step ids, and the
//! ordering links from provide/require and `after`/`before`.

use std::collections::HashMap;

use super::roots::{Root, root_name};
use crate::model::{Component, ComponentId, Host, HostId, Id, IdVec, Link, LinkReason, Model, Step, StepId};
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem, Problems};
use crate::script::api::{RefTarget, RootBuild, StepBuild};
use crate::script::session::{Declarations, ServiceDecl, Session};
use crate::source::Span;

pub(super) fn assemble(
    decl: &Declarations,
    roots: &[Root],
    svc: &ServiceDecl,
    builds: Vec<RootBuild>,
    session: &Session,
    service: &str,
) -> Result<Model, Problems> {
    let env = decl.environment.as_ref().expect("environment");
    let hosts = model_hosts(decl);
    let mut components: IdVec<ComponentId, Component> = IdVec::new();
    let mut steps: IdVec<StepId, Step> = IdVec::new();
    let mut root_comp: Vec<ComponentId> = Vec::with_capacity(builds.len());
    let mut order: Vec<(usize, String, bool, Option<Span>)> = Vec::new();
    let mut problems = Vec::new();
    for (r, build) in builds.into_iter().enumerate() {
        root_comp.push(ComponentId::new(components.len()));
        let (p, o) = add_build(build, &mut components, &mut steps);
        problems.extend(p);
        order.extend(o.into_iter().map(|(other, after, span)| (r, other, after, span)));
    }

    let mut links: IdVec<crate::model::LinkId, Link> = IdVec::new();
    let registry = session.registry();
    let mut keys: Vec<(&String, _)> = registry.keys.iter().collect();
    keys.sort_by_key(|(k, _)| k.as_str());
    for (key, state) in keys {
        for (reader, (_, span)) in &state.readers {
            for provider in state.values.keys() {
                if provider != reader {
                    links.push(Link {
                        before: root_comp[*provider],
                        after: root_comp[*reader],
                        reason: LinkReason::Provides { key: key.clone() },
                        span: span.clone(),
                    });
                }
            }
        }
    }
    let known: Vec<&str> = svc.components.iter().map(|c| c.name.as_str()).collect();
    for (r, other, after, span) in order {
        // A component the service declares but this environment does not run is
        // fine (a partial environment): the order is simply empty.
        if !known.contains(&other.as_str()) {
            problems.push(
                Problem::new(
                    Kind::Model,
                    format!(
                        "`{}` is ordered {} `{other}`, which service `{}` does not declare",
                        root_name(decl, roots, svc, r),
                        if after { "after" } else { "before" },
                        svc.name
                    ),
                )
                .at(span.as_ref(), "")
                .help(format!(
                    "{}components of `{}`: {}",
                    did_you_mean(&other, known.iter().copied()),
                    svc.name,
                    list_or_none(&known)
                )),
            );
            continue;
        }
        let targets: Vec<usize> = (0..roots.len())
            .filter(|&o| svc.components[roots[o].component].name == other && o != r)
            .collect();
        for o in targets {
            let (before, after_c) = if after {
                (root_comp[o], root_comp[r])
            } else {
                (root_comp[r], root_comp[o])
            };
            links.push(Link {
                before,
                after: after_c,
                reason: LinkReason::Explicit,
                span: span.clone(),
            });
        }
    }
    if !problems.is_empty() {
        // A mistake in a component placed on several hosts is reported once.
        let mut seen = std::collections::HashSet::new();
        problems.retain(|p| seen.insert((p.message.clone(), p.location())));
        return Err(Problems(problems));
    }
    Ok(Model {
        environment: env.name.clone(),
        service: service.to_string(),
        hosts,
        components,
        steps,
        links,
    })
}

/// The hosts of the model, one per declared host, in declaration order.
pub(super) fn model_hosts(decl: &Declarations) -> IdVec<HostId, Host> {
    decl.hosts
        .iter()
        .map(|h| Host {
            name: h.name.clone(),
            transport: h.transport.clone(),
            address: h.address.clone(),
            user: h.user.clone(),
            roles: h.roles.clone(),
            data: h.data.clone(),
            span: h.span.clone(),
        })
        .collect()
}

/// An explicit order of a root: the other component, whether this one runs after
/// it, where the script said so.
pub(super) type Order = (String, bool, Option<Span>);

/// Adds one root's component instances and steps (with their `on_change`
/// triggers as step ids); returns the problems found and the root's explicit
/// order (`after`/`before`).
pub(super) fn add_build(
    build: RootBuild,
    components: &mut IdVec<ComponentId, Component>,
    steps: &mut IdVec<StepId, Step>,
) -> (Vec<Problem>, Vec<Order>) {
    let base = components.len();
    for c in build.components {
        components.push(Component {
            name: c.name,
            host: HostId::new(build.host),
            parent: c.parent.map(|p| ComponentId::new(base + p)),
            root: c.dir,
            attributes: c
                .attributes
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        rhai::serde::from_dynamic(v).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect(),
            span: c.span,
        });
    }
    let first_step = steps.len();
    let local_comps: Vec<usize> = build.steps.iter().map(|s| s.comp).collect();
    let within = |comp: usize, target: usize| -> bool {
        // Is local component `comp` the target or one of its descendants?
        let mut c = Some(comp);
        while let Some(x) = c {
            if x == target {
                return true;
            }
            c = components[ComponentId::new(base + x)].parent.map(|p| p.index() - base);
        }
        false
    };
    let mut triggers_all = Vec::new();
    for s in &build.steps {
        let mut triggers: Vec<StepId> = Vec::new();
        for t in &s.on_change {
            match t.target {
                RefTarget::Step(i) => triggers.push(StepId::new(first_step + i)),
                RefTarget::Component(c) => {
                    triggers.extend(
                        local_comps
                            .iter()
                            .enumerate()
                            .filter(|(_, sc)| within(**sc, c))
                            .map(|(i, _)| StepId::new(first_step + i)),
                    );
                }
            }
        }
        triggers.sort_unstable();
        triggers.dedup();
        triggers_all.push(triggers);
    }
    let problems = same_labels(&build.steps, components, base);
    for (s, triggers) in build.steps.into_iter().zip(triggers_all) {
        let id = StepId::new(steps.len());
        steps.push(Step {
            id,
            host: HostId::new(build.host),
            component: ComponentId::new(base + s.comp),
            action: s.action,
            triggers,
            span: s.span,
        });
    }
    (problems, build.order)
}

/// Two steps of one component with the same label (`command migrate` twice) would
/// share their pending marker on the host, and their breadcrumbs could not tell
/// them apart.
fn same_labels(steps: &[StepBuild], components: &IdVec<ComponentId, Component>, base: usize) -> Vec<Problem> {
    let mut first: HashMap<(usize, String), Option<&Span>> = HashMap::new();
    let mut problems = Vec::new();
    for s in steps {
        let label = s.action.label();
        match first.get(&(s.comp, label.clone())) {
            None => {
                first.insert((s.comp, label), s.span.as_ref());
            }
            Some(earlier) => problems.push(
                Problem::new(
                    Kind::Model,
                    format!(
                        "component `{}` has two steps named `{label}`",
                        components[ComponentId::new(base + s.comp)].name
                    ),
                )
                .at(s.span.as_ref(), "added again here")
                .at(*earlier, "first added here")
                .help("give each step of a component its own name (or path)"),
            ),
        }
    }
    problems
}
