//! The plan as Graphviz DOT: one cluster per host, edges labelled with their reason; a
//! retired host is a cluster with one dashed node, its teardown.

use std::fmt::Write;

use super::{EdgeReason, Plan};
use crate::model::{LinkReason, Model};

pub fn to_dot(model: &Model, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "digraph \"{}\" {{",
        escape(&format!("{}/{}", model.service, model.environment))
    );
    let _ = writeln!(out, "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];");
    for (h, steps) in plan.per_host.enumerate() {
        if model.hosts[h].retired {
            // Its steps are known only on the host: what ordo created there.
            let _ = writeln!(
                out,
                "  subgraph \"cluster_{h}\" {{\n    label=\"{} (retired)\";\n    retired_{h} [label=\"teardown:\\nwhat ordo created here\", style=dashed];\n  }}",
                escape(&model.hosts[h].name)
            );
            continue;
        }
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  subgraph \"cluster_{h}\" {{\n    label=\"{}\";",
            escape(&model.hosts[h].name)
        );
        for &s in steps {
            let step = &model.steps[s];
            let label = format!(
                "{}\\n{}",
                escape(&model.components[step.component].name),
                escape(&step.action.label())
            );
            let _ = writeln!(out, "    s{s} [label=\"{label}\"];");
        }
        let _ = writeln!(out, "  }}");
    }
    for e in &plan.edges {
        let attrs = match &e.reason {
            EdgeReason::Sequence => String::new(),
            EdgeReason::Trigger => " [style=dashed, label=\"on change\"]".into(),
            EdgeReason::Once => " [color=darkgreen, label=\"once\"]".into(),
            EdgeReason::Batch { component, batch } => format!(
                " [color=orange, style=bold, label=\"{} batch {batch}\"]",
                escape(component)
            ),
            EdgeReason::Link { link } => match &model.links[*link].reason {
                LinkReason::Provides { key } => format!(" [color=blue, label=\"{}\"]", escape(key)),
                LinkReason::Explicit => " [color=gray, label=\"after\"]".into(),
            },
        };
        let _ = writeln!(out, "  s{} -> s{}{attrs};", e.from, e.to);
    }
    out.push_str("}\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
