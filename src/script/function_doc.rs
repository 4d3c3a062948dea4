//! The API as scripts see it, for REPL completion and generated docs: ordo's native
//! functions with the signatures and documentation they were registered with, and
//! the public functions of the standard library with their `///` comments.

use rhai::Engine;

use super::stdlib;

/// A function scripts can call: for completion and the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionDoc {
    /// `file`, or `site` for a module function.
    pub name: String,
    /// `ordo/web` for a standard library function; `None` for ordo's built-ins.
    pub module: Option<String>,
    /// `host(env: Environment, name: string, options: map) -> Host`.
    pub signature: String,
    /// The documentation, without comment markers; may be empty.
    pub doc: String,
}

pub(crate) fn native_functions(engine: &Engine) -> Vec<FunctionDoc> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        #[serde(default)]
        functions: Vec<Function>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Function {
        name: String,
        signature: String,
        #[serde(default)]
        doc_comments: Vec<String>,
    }
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let metadata: Metadata = serde_json::from_str(&json).unwrap_or(Metadata { functions: Vec::new() });
    metadata
        .functions
        .into_iter()
        .map(|f| FunctionDoc {
            signature: readable(&f.signature),
            name: f.name,
            module: None,
            doc: strip_comments(&f.doc_comments),
        })
        .collect()
}

pub(crate) fn stdlib_functions(engine: &Engine) -> Vec<FunctionDoc> {
    let mut out = Vec::new();
    for (module, text) in stdlib::MODULES {
        let Ok(ast) = engine.compile(text) else { continue };
        for f in ast.iter_functions() {
            if f.access == rhai::FnAccess::Private {
                continue;
            }
            out.push(FunctionDoc {
                name: f.name.to_string(),
                module: Some(format!("ordo/{module}")),
                signature: format!("{}({})", f.name, f.params.join(", ")),
                doc: strip_comments(&f.comments.iter().map(ToString::to_string).collect::<Vec<_>>()),
            });
        }
    }
    out
}

/// `get$name(c: Component) -> string` → `c.name -> string`: properties as scripts
/// write them; Rust paths and `Result`s of functions registered without names
/// reduced to the type a script sees.
fn readable(signature: &str) -> String {
    let signature = short_types(signature);
    let Some(rest) = signature.strip_prefix("get$") else {
        return signature;
    };
    let (prop, rest) = rest.split_once('(').unwrap_or((rest, ""));
    let (receiver, ret) = rest.split_once(')').unwrap_or((rest, ""));
    let receiver = receiver.split(':').next().unwrap_or(receiver).trim();
    format!("{receiver}.{prop}{ret}")
}

/// `core::result::Result<a::b::StepSpec,alloc::boxed::Box<…>>` → `StepSpec`.
fn short_types(signature: &str) -> String {
    let signature = match signature.split_once("-> core::result::Result<") {
        Some((head, tail)) => format!("{head}-> {}", tail.split(',').next().unwrap_or(tail)),
        None => signature.to_string(),
    };
    let mut out = String::with_capacity(signature.len());
    for word in signature.split_inclusive(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        let (path, sep) = match word.char_indices().last() {
            Some((i, c)) if !(c.is_alphanumeric() || c == '_' || c == ':') => (&word[..i], &word[i..]),
            _ => (word, ""),
        };
        out.push_str(path.rsplit("::").next().unwrap_or(path));
        out.push_str(sep);
    }
    out
}

fn strip_comments(comments: &[String]) -> String {
    comments
        .iter()
        .flat_map(|c| c.lines())
        .map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("///").or_else(|| l.strip_prefix("/**")).unwrap_or(l);
            let l = l.strip_suffix("*/").unwrap_or(l);
            l.strip_prefix(' ').unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_as_scripts_write_them() {
        assert_eq!(
            readable(
                "file(_: string, _: map) -> core::result::Result<ordo::script::api::primitives::StepSpec,alloc::boxed::Box<rhai::types::error::EvalAltResult>>"
            ),
            "file(_: string, _: map) -> StepSpec"
        );
        assert_eq!(readable("get$root(c: Component) -> string"), "c.root -> string");
    }
}
