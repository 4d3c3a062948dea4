//! Template rendering with minijinja in strict mode: an undefined variable is an
//! error that names the template line and the script line that used it, never an
//! empty string in a config file; a render that runs away is stopped by
//! minijinja's fuel, with the same two lines.

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
use rhai::{Dynamic, Map};

use super::limits::TEMPLATE_FUEL;
use super::session::Session;
use crate::model::HostPath;
use crate::problem::{Kind, Problem};
use crate::source::Span;

/// Renders `text` (the template `name`) with the host, the component and its
/// attributes in scope; `vars` given in the script win over attributes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn render(
    session: &Session,
    name: &str,
    text: &[u8],
    host: &Dynamic,
    component: &str,
    root: &HostPath,
    attributes: &BTreeMap<String, Dynamic>,
    vars: Map,
    call: Option<&Span>,
) -> Result<String, Problem> {
    let text = std::str::from_utf8(text).map_err(|_| {
        Problem::new(Kind::Script, format!("template `{name}` is not UTF-8 text"))
            .at(call, "used here")
            .help("use file(path, #{ source: … }) for binary files")
    })?;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A bound on the work of one render (time and memory): a runaway loop is an
    // error at its line, not a hang.
    env.set_fuel(Some(TEMPLATE_FUEL));
    // Templates make configuration files of every kind; escaping by file extension
    // (minijinja's default for .html) would silently change their content.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("default syntax is valid"),
    );
    let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in attributes {
        ctx.insert(k.clone(), to_value(v));
    }
    for (k, v) in vars {
        ctx.insert(k.to_string(), to_value(&v));
    }
    ctx.insert("host".into(), to_value(host));
    ctx.insert(
        "component".into(),
        Value::from(Serde(serde_json::json!({ "name": component, "root": root.as_str() }))),
    );
    let result = env
        .template_from_named_str(name, text)
        .and_then(|t| t.render(Value::from(Serde(&ctx))));
    result.map_err(|e| {
        session.sources.insert(name, text);
        let line = e.line().unwrap_or(1) as u32;
        let column = e
            .range()
            .and_then(|r| text.get(..r.start))
            .map_or(1, |before| before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1);
        let here = Span::new(name, line, column);
        if e.kind() == ErrorKind::OutOfFuel {
            return Problem::new(
                Kind::Script,
                format!("template `{name}` did more work than one render may (a limit of {TEMPLATE_FUEL} units of fuel)"),
            )
            .at(Some(&here), "still running here")
            .at(call, "rendered for this step")
            .help("a unit is about one instruction or 64 bytes of text made; look for a loop that runs long or builds much text (a configuration file for a thousand hosts takes tens of thousands)");
        }
        let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
        Problem::new(Kind::Script, format!("template `{name}` failed to render: {}{detail}", e.kind()))
            .at(Some(&here), "here")
            .at(call, "rendered for this step")
            .help("every variable a template uses must be an attribute of the component, a key of the vars map, `host` or `component`")
    })
}

fn to_value(d: &Dynamic) -> Value {
    match rhai::serde::from_dynamic::<serde_json::Value>(d) {
        Ok(v) => Value::from(Serde(v)),
        Err(_) => Value::from(d.to_string()),
    }
}
