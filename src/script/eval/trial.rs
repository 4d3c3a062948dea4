//! An ad-hoc component for the REPL's `check` and `apply`: a step, or a closure
//! `|c| …`, configured on one host the way a placed component is (the host's
//! root, its `c.host`, no overrides), and assembled into a model of its own that
//! holds only it. The model keeps every host of the environment, so host ids mean
//! the same as in the environment's model.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::assemble::{OnceSteps, add_build, model_hosts};
use super::build::{CompBuild, ComponentCtx, RootBuild};
use super::roots::{host_info, root_of_host};
use crate::model::{HostPath, IdVec, Model};
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem, Problems};
use crate::script::session::Session;

/// The name of the ad-hoc component in breadcrumbs (`web1:repl file a.txt`).
const TRIAL_COMPONENT: &str = "repl";

/// Builds the ad-hoc component on `host`: `fill` adds its steps to the context it
/// is given. Errors of `fill` are returned as they are (script errors).
pub(crate) fn trial<E>(
    session: &Arc<Session>,
    host: &str,
    fill: impl FnOnce(ComponentCtx) -> Result<(), E>,
) -> Result<Result<Model, Problems>, E> {
    let prepared = {
        let d = session.decl();
        match (&d.environment, d.host_index.get(host)) {
            (None, _) => Err(Problem::new(Kind::Usage, "no environment is loaded")
                .help("load one with :env NAME, or start the REPL with `ordo repl ENV`")),
            (Some(_), None) => {
                let known: Vec<&str> = d.hosts.iter().map(|h| h.name.as_str()).collect();
                Err(
                    Problem::new(Kind::Usage, format!("no host `{host}` in this environment")).help(format!(
                        "{}hosts: {}",
                        did_you_mean(host, known.iter().copied()),
                        list_or_none(&known)
                    )),
                )
            }
            (Some(_), Some(&h)) if d.hosts[h].retired.is_some() => Err(Problem::new(
                Kind::Usage,
                format!("host `{host}` is retired: nothing is applied there but its teardown"),
            )
            .help("`ordo deploy ENV` tears it down; try the component on another host")),
            (Some(env), Some(&h)) => {
                let decl = &d.hosts[h];
                let root = root_of_host(env, decl, &env.service);
                match HostPath::new(&root) {
                    Some(dir) => Ok((h, host_info(decl), dir, env.name.clone(), env.service.clone())),
                    None => Err(
                        Problem::new(Kind::Model, format!("root `{root}` of host `{host}` is not absolute"))
                            .help("a root starts with `/` or `~/` (the service user's home)"),
                    ),
                }
            }
        }
    };
    let (h, info, dir, environment, service) = match prepared {
        Ok(p) => p,
        Err(p) => return Ok(Err(p.into())),
    };
    let comp = |dir: HostPath| CompBuild {
        name: TRIAL_COMPONENT.to_string(),
        parent: None,
        dir,
        span: None,
        declared: None,
        given: BTreeMap::new(),
        attributes: BTreeMap::new(),
    };
    // Not a root of the environment: its requires read the environment's provides
    // but no configure round ever runs it again.
    let ctx = ComponentCtx::new_root(RootBuild::new(
        usize::MAX,
        h,
        info,
        &service,
        &environment,
        comp(dir.clone()),
    ));
    fill(ctx.clone())?;
    // The script may keep `c`: take the build out instead of unwrapping it.
    let build = std::mem::replace(
        &mut *ctx.build.lock().expect("build poisoned"),
        RootBuild::new(usize::MAX, h, rhai::Dynamic::UNIT, "", "", comp(dir)),
    );
    let mut components = IdVec::new();
    let mut steps = IdVec::new();
    let mut once = OnceSteps::everywhere();
    let (problems, _order) = add_build(build, 0, TRIAL_COMPONENT, &mut once, &mut components, &mut steps);
    if !problems.is_empty() {
        return Ok(Err(Problems(problems)));
    }
    if steps.is_empty() {
        return Ok(Err(Problem::new(Kind::Usage, "the ad-hoc component adds no step")
            .help("add steps in the closure: |c| { c.add(file(\"a.txt\", \"hello\")); }")
            .into()));
    }
    Ok(Ok(Model {
        environment,
        service,
        hosts: model_hosts(&session.decl()),
        components,
        steps,
        links: IdVec::new(),
        step_links: once.links(),
        rollings: Vec::new(),
    }))
}
