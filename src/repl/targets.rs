//! Which hosts a REPL call names: a host by name, the hosts a component is placed
//! on (narrowed to one that must run it) — and, when nothing matches, the names
//! that exist.

use crate::model::{HostId, Model};
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem};

/// The host called `name`.
pub(super) fn host_id(model: &Model, name: &str) -> Result<HostId, Problem> {
    model.hosts.ids().find(|&h| model.hosts[h].name == name).ok_or_else(|| {
        let names: Vec<&str> = model.hosts.iter().map(|h| h.name.as_str()).collect();
        Problem::new(
            Kind::Usage,
            format!("no host `{name}` in environment {}", model.environment),
        )
        .help(format!(
            "{}hosts: {}",
            did_you_mean(name, names.iter().copied()),
            list_or_none(&names)
        ))
    })
}

/// The hosts a component is placed on (all of its root instances).
fn placed(model: &Model, component: &str) -> Result<Vec<HostId>, Problem> {
    let mut hosts: Vec<HostId> = model
        .components
        .iter()
        .filter(|c| c.parent.is_none() && c.name == component)
        .map(|c| c.host)
        .collect();
    hosts.dedup();
    if hosts.is_empty() {
        let mut names: Vec<&str> = model
            .components
            .iter()
            .filter(|c| c.parent.is_none())
            .map(|c| c.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        return Err(Problem::new(
            Kind::Usage,
            format!(
                "no component `{component}` is placed in environment {}",
                model.environment
            ),
        )
        .help(format!(
            "{}components: {}",
            did_you_mean(component, names.iter().copied()),
            list_or_none(&names)
        )));
    }
    Ok(hosts)
}

/// `component`'s hosts, narrowed to `host` when given (which must run it).
pub(super) fn component_hosts(model: &Model, component: &str, host: Option<&str>) -> Result<Vec<HostId>, Problem> {
    let placed = placed(model, component)?;
    let Some(host) = host else { return Ok(placed) };
    let id = host_id(model, host)?;
    if placed.contains(&id) {
        Ok(vec![id])
    } else {
        let on: Vec<&str> = placed.iter().map(|&h| model.hosts[h].name.as_str()).collect();
        Err(Problem::new(
            Kind::Usage,
            format!("component `{component}` is not placed on host `{host}`"),
        )
        .help(format!("it runs on: {}", on.join(", "))))
    }
}
