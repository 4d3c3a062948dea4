//! What a retired host (`env.host(..).retire()`) may not have. It keeps only how to
//! reach it: a placement, roles, data or a rolling hook on it would be a value that
//! takes no effect, so each is an error at check time, at its script line and the
//! line that retired the host (decision 56).

use crate::problem::{Kind, Problem};
use crate::script::session::{Declarations, HostDecl};

/// One problem per thing a retired host has and must not.
pub(crate) fn check(decl: &Declarations) -> Vec<Problem> {
    let mut problems = Vec::new();
    for host in &decl.hosts {
        let Some(retired) = &host.retired else { continue };
        let name = &host.name;
        let here = |p: Problem| p.at(retired.span.as_ref(), "retired here");
        for p in &host.placements {
            problems.push(here(
                Problem::new(
                    Kind::Model,
                    format!("host `{name}` is retired, but component `{}` is placed on it", p.component),
                )
                .at(p.span.as_ref(), "placed here")
                .help(format!(
                    "a retired host runs nothing: place `{}` on a host that stays, or remove .retire() to keep `{name}`",
                    p.component
                )),
            ));
        }
        for (what, has) in [("roles", !host.roles.is_empty()), ("data", has_data(host))] {
            if has {
                problems.push(here(
                    Problem::new(Kind::Model, format!("host `{name}` is retired, but has `{what}`"))
                        .at(host.span.as_ref(), "declared here")
                        .help(format!(
                            "a retired host keeps only how to reach it (transport, address, user, port, home, root): remove `{what}`"
                        )),
                ));
            }
        }
    }
    for r in &decl.rollings {
        for (when, hook) in [("before", &r.before), ("after", &r.after)] {
            let Some(hook) = hook else { continue };
            let Some(host) = decl.host_index.get(&hook.host).map(|&i| &decl.hosts[i]) else {
                continue;
            };
            let Some(retired) = &host.retired else { continue };
            problems.push(
                Problem::new(
                    Kind::Model,
                    format!(
                        "the `{when}` hook of rolling(\"{}\") runs on host `{}`, which is retired",
                        r.component, hook.host
                    ),
                )
                .at(r.span.as_ref(), "the rolling update")
                .at(retired.span.as_ref(), "retired here")
                .help("run the hook on a host that stays"),
            );
        }
    }
    problems
}

fn has_data(host: &HostDecl) -> bool {
    match &host.data {
        serde_json::Value::Null => false,
        serde_json::Value::Object(m) => !m.is_empty(),
        _ => true,
    }
}
