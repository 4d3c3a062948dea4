//! Turns the final configure run of every root into the [`Model`]: component
//! instances, steps with their `on_change` triggers resolved to step ids, and the
//! ordering links from provide/require and `after`/`before`.

use std::collections::HashMap;

use super::build::{Once, RefTarget, RootBuild, StepBuild, StepRef};
use super::roots::{Root, root_name};
use crate::model::{
    Component, ComponentId, Host, HostId, Id, IdVec, Link, LinkReason, Model, Step, StepId, StepLink, StepLinkReason,
};
use crate::model::{HostPath, Rolling};
use crate::primitive::command::Command;
use crate::primitive::hook::Hook;
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem, Problems};
use crate::script::session::{Declarations, HookDecl, ServiceDecl, Session};
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
    let chosen = match choose_once(decl, roots, svc, &builds) {
        Ok(c) => c,
        Err(p) => return Err(Problems(p)),
    };
    let mut once = OnceSteps::chosen(chosen);
    for (r, build) in builds.into_iter().enumerate() {
        root_comp.push(ComponentId::new(components.len()));
        let root_name = svc.components[roots[r].component].name.clone();
        let (p, o) = add_build(build, r, &root_name, &mut once, &mut components, &mut steps);
        problems.extend(p);
        order.extend(o.into_iter().map(|(other, after, span)| (r, other, after, span)));
    }
    let step_links = once.links();

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
    let rollings = rollings(decl, roots, svc, &root_comp, &mut components, &mut steps, &mut problems);
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
        step_links,
        rollings,
    })
}

/// The hosts of the model, one per declared host, in declaration order.
pub(super) fn model_hosts(decl: &Declarations) -> IdVec<HostId, Host> {
    let env = decl.environment.as_ref().expect("environment");
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
            // A root that is not absolute was reported with the roots.
            root: HostPath::new(&super::roots::root_of_host(env, h, &env.service))
                .unwrap_or_else(|| HostPath::new("~").expect("home")),
            retired: h.retired.is_some(),
            retire_span: h.retired.as_ref().and_then(|r| r.span.clone()),
        })
        .collect()
}

/// An explicit order of a root: the other component, whether this one runs after
/// it, where the script said so.
pub(super) type Order = (String, bool, Option<Span>);

/// The `once` steps across the roots of a model: which root runs each, the id it
/// got, and the steps of other instances that wait for it.
pub(super) struct OnceSteps {
    /// `None`: every instance runs its own (a model of one ad-hoc component).
    chosen: Option<HashMap<OnceKey, usize>>,
    ids: HashMap<OnceKey, StepId>,
    waiters: Vec<(OnceKey, StepId)>,
}

impl OnceSteps {
    fn chosen(chosen: HashMap<OnceKey, usize>) -> Self {
        OnceSteps {
            chosen: Some(chosen),
            ids: HashMap::new(),
            waiters: Vec::new(),
        }
    }

    /// Every `once` step runs where it is declared.
    pub(super) fn everywhere() -> Self {
        OnceSteps {
            chosen: None,
            ids: HashMap::new(),
            waiters: Vec::new(),
        }
    }

    fn skips(&self, key: &OnceKey, root: usize) -> bool {
        self.chosen.as_ref().is_some_and(|c| c.get(key) != Some(&root))
    }

    /// The links from each `once` step to the steps that wait for it.
    pub(super) fn links(self) -> Vec<StepLink> {
        let ids = self.ids;
        self.waiters
            .into_iter()
            .filter_map(|(key, after)| {
                ids.get(&key).map(|&before| StepLink {
                    before,
                    after,
                    reason: StepLinkReason::Once,
                })
            })
            .collect()
    }
}

/// Adds the component instances and steps of root `root` (named `root_name`), with
/// their `on_change`/`reload_on` triggers as step ids; a `once` step that another
/// instance runs gets no id. Returns the problems found and the root's explicit
/// order (`after`/`before`).
pub(super) fn add_build(
    build: RootBuild,
    root: usize,
    root_name: &str,
    once: &mut OnceSteps,
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
            declared: c.declared,
        });
    }
    // Step ids of this build: a `once` step another instance runs gets none.
    let mut ids: Vec<Option<StepId>> = Vec::with_capacity(build.steps.len());
    let mut next = steps.len();
    for s in &build.steps {
        let skipped = s.once.is_some() && once.skips(&once_key(root_name, components, base, s), root);
        if skipped {
            ids.push(None);
        } else {
            ids.push(Some(StepId::new(next)));
            next += 1;
        }
    }
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
    let resolve = |refs: &[StepRef]| -> Vec<StepId> {
        let mut out: Vec<StepId> = Vec::new();
        for t in refs {
            match t.target {
                RefTarget::Step(i) => out.extend(ids[i]),
                RefTarget::Component(c) => out.extend(
                    local_comps
                        .iter()
                        .enumerate()
                        .filter(|(_, sc)| within(**sc, c))
                        .filter_map(|(i, _)| ids[i]),
                ),
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    };
    let mut triggers_all = Vec::new();
    for s in &build.steps {
        let on_change = resolve(&s.on_change);
        let mut reloads = resolve(&s.reload_on);
        // A step named in both asks for the full reaction.
        reloads.retain(|t| !on_change.contains(t));
        let mut triggers = on_change;
        triggers.extend(&reloads);
        triggers.sort_unstable();
        triggers.dedup();
        triggers_all.push((triggers, reloads));
    }
    let problems = same_labels(&build.steps, components, base);
    let mut waiting: Vec<OnceKey> = Vec::new();
    for ((s, (triggers, reloads)), id) in build.steps.into_iter().zip(triggers_all).zip(ids) {
        let Some(id) = id else {
            waiting.push(once_key(root_name, components, base, &s));
            continue;
        };
        if s.once.is_some() {
            once.ids.insert(once_key(root_name, components, base, &s), id);
        }
        // The steps after a skipped `once` step wait for the instance that runs it.
        for key in waiting.drain(..) {
            once.waiters.push((key, id));
        }
        steps.push(Step {
            id,
            host: HostId::new(build.host),
            component: ComponentId::new(base + s.comp),
            action: s.action,
            triggers,
            reloads,
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

/// A `once` step across the instances of a component: the root component's name,
/// the (sub-)component's name and the step's label.
type OnceKey = (String, String, String);

fn once_key(root: &str, components: &IdVec<ComponentId, Component>, base: usize, s: &StepBuild) -> OnceKey {
    (
        root.to_string(),
        components[ComponentId::new(base + s.comp)].name.clone(),
        s.action.label(),
    )
}

/// Which instance (root index) runs each `once` step: the first in placement order,
/// or the first on a host with the role it names.
fn choose_once(
    decl: &Declarations,
    roots: &[Root],
    svc: &ServiceDecl,
    builds: &[RootBuild],
) -> Result<HashMap<OnceKey, usize>, Vec<Problem>> {
    let mut chosen: HashMap<OnceKey, usize> = HashMap::new();
    let mut unmet: HashMap<OnceKey, (String, Option<Span>)> = HashMap::new();
    for (r, build) in builds.iter().enumerate() {
        let root = &svc.components[roots[r].component].name;
        for s in build.steps.iter().filter(|s| s.once.is_some()) {
            let key = (root.clone(), build.components[s.comp].name.clone(), s.action.label());
            if chosen.contains_key(&key) {
                continue;
            }
            let fits = match &s.once {
                Some(Once::Role(role)) => decl.hosts[build.host].roles.iter().any(|x| x == role),
                _ => true,
            };
            if fits {
                unmet.remove(&key);
                chosen.insert(key, r);
            } else if let Some(Once::Role(role)) = &s.once {
                unmet.entry(key).or_insert_with(|| (role.clone(), s.span.clone()));
            }
        }
    }
    if unmet.is_empty() {
        return Ok(chosen);
    }
    let mut problems: Vec<Problem> = unmet
        .into_iter()
        .map(|((root, _, label), (role, span))| {
            Problem::new(
                Kind::Model,
                format!("{label} runs once on a host with role `{role}`, but no host running `{root}` has that role"),
            )
            .at(span.as_ref(), "declared here")
            .help(format!(
                "give one of the hosts that run `{root}` the role: env.host(\"…\", #{{ roles: [\"{role}\"] }})"
            ))
        })
        .collect();
    problems.sort_by(|a, b| a.message.cmp(&b.message));
    Err(problems)
}

/// The rolling policies: batches of each component's instances in placement order,
/// and their hook steps, in a component of their own (`rolling <component>`) on
/// the hook's host.
fn rollings(
    decl: &Declarations,
    roots: &[Root],
    svc: &ServiceDecl,
    root_comp: &[ComponentId],
    components: &mut IdVec<ComponentId, Component>,
    steps: &mut IdVec<StepId, Step>,
    problems: &mut Vec<Problem>,
) -> Vec<Rolling> {
    let mut out = Vec::new();
    for r in &decl.rollings {
        let known: Vec<&str> = svc.components.iter().map(|c| c.name.as_str()).collect();
        if !known.contains(&r.component.as_str()) {
            problems.push(
                Problem::new(
                    Kind::Model,
                    format!(
                        "rolling(\"{}\") names a component service `{}` does not declare",
                        r.component, svc.name
                    ),
                )
                .at(r.span.as_ref(), "")
                .help(format!(
                    "{}components of `{}`: {}",
                    did_you_mean(&r.component, known.iter().copied()),
                    svc.name,
                    list_or_none(&known)
                )),
            );
            continue;
        }
        let instances: Vec<usize> = (0..roots.len())
            .filter(|&i| svc.components[roots[i].component].name == r.component)
            .collect();
        if instances.is_empty() {
            continue;
        }
        let size = crate::model::batch_size(instances.len(), r.batch, r.percent);
        let batches: Vec<Vec<usize>> = instances.chunks(size).map(<[usize]>::to_vec).collect();
        let mut hook_steps = |hook: &Option<HookDecl>, when: &str| -> Vec<Option<StepId>> {
            let Some(h) = hook else {
                return vec![None; batches.len()];
            };
            let Some(&host) = decl.host_index.get(&h.host) else {
                let names: Vec<&str> = decl.hosts.iter().map(|x| x.name.as_str()).collect();
                problems.push(
                    Problem::new(
                        Kind::Model,
                        format!(
                            "the `{when}` hook of rolling(\"{}\") runs on unknown host `{}`",
                            r.component, h.host
                        ),
                    )
                    .at(r.span.as_ref(), "")
                    .help(format!(
                        "{}hosts: {}",
                        did_you_mean(&h.host, names.iter().copied()),
                        list_or_none(&names)
                    )),
                );
                return vec![None; batches.len()];
            };
            let root = roots
                .iter()
                .find(|x| x.host == host)
                .map_or_else(|| HostPath::new("~").expect("home"), |x| x.dir.clone());
            let comp = ComponentId::new(components.len());
            components.push(Component {
                name: format!("rolling {}", r.component),
                host: HostId::new(host),
                parent: None,
                root: root.clone(),
                attributes: Default::default(),
                span: r.span.clone(),
                declared: r.span.clone(),
            });
            batches
                .iter()
                .enumerate()
                .map(|(k, batch)| {
                    let names: Vec<&str> = batch.iter().map(|&i| decl.hosts[roots[i].host].name.as_str()).collect();
                    let addresses: Vec<&str> =
                        batch.iter().map(|&i| decl.hosts[roots[i].host].address.as_str()).collect();
                    let label = format!("{when} batch {}", k + 1);
                    let run = format!(
                        "ORDO_BATCH={} ORDO_BATCHES={} ORDO_HOSTS={} ORDO_ADDRESSES={}; export ORDO_BATCH ORDO_BATCHES ORDO_HOSTS ORDO_ADDRESSES\n{}",
                        k + 1,
                        batches.len(),
                        crate::shell::quote_always(&names.join(" ")),
                        crate::shell::quote_always(&addresses.join(" ")),
                        h.run
                    );
                    let id = StepId::new(steps.len());
                    steps.push(Step {
                        id,
                        host: HostId::new(host),
                        component: comp,
                        action: std::sync::Arc::new(Hook {
                            label: label.clone(),
                            command: Command {
                                name: label,
                                run,
                                cwd: root.clone(),
                                unless: None,
                                creates: None,
                                always: false,
                                timeout: h.timeout,
                                sudo: false,
                            },
                        }),
                        triggers: Vec::new(),
                        reloads: Vec::new(),
                        span: r.span.clone(),
                    });
                    Some(id)
                })
                .collect()
        };
        let before = hook_steps(&r.before, "before");
        let after = hook_steps(&r.after, "after");
        // A batch's `after` hook watches its `before` hook (on the same host: the
        // marker is written there): the pending marker written before the drain
        // makes a deploy that dies in between put the batch back next time, even
        // when nothing else changes.
        for (b, a) in before.iter().zip(&after) {
            if let (Some(b), Some(a)) = (b, a)
                && steps[*a].host == steps[*b].host
            {
                steps[*a].triggers.push(*b);
            }
        }
        out.push(Rolling {
            component: r.component.clone(),
            batches: batches
                .iter()
                .map(|b| b.iter().map(|&i| root_comp[i]).collect())
                .collect(),
            max_failures: r.max_failures,
            before,
            after,
            span: r.span.clone(),
        });
    }
    out
}
