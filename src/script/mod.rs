//! Stage 1 and 2: load the project's Rhai scripts and evaluate them into a
//! [`Model`]. Rhai lives here and nowhere else; what leaves is plain Rust.
//!
//! [`Interpreter`] is the entry point with a lifecycle (evaluate, one more REPL
//! line, reload, list the API); [`evaluate`] is the one-shot form the commands use.

mod api;
mod callback;
mod clock;
mod custom;
mod diagnostic;
mod engine;
mod errors;
mod eval;
mod function_doc;
mod inputs;
mod interpreter;
mod limits;
mod register;
mod registry;
mod repl;
mod resolver;
mod session;
mod stack;
pub mod stdlib;
mod template;

use std::path::PathBuf;
use std::sync::Arc;

use crate::model::Model;
use crate::problem::{Problem, Problems};
use crate::project::Project;
use crate::source::SourceMap;

pub use function_doc::FunctionDoc;
pub use interpreter::{Interpreter, Value, declared_hooks, declared_libraries};
pub use limits::{
    DEFAULT_SCRIPT_TIMEOUT, MAX_ARRAY_SIZE, MAX_CALL_LEVELS, MAX_MAP_SIZE, MAX_OPERATIONS, MAX_STRING_SIZE,
    TEMPLATE_FUEL, set_debug_errors, set_script_timeout,
};
pub use repl::live;
pub use session::{DeclaredLibrary, LibrarySource};

/// The evaluated project. Keeps the scripts' engine alive: custom steps call back
/// into it at deploy time.
pub struct Evaluated {
    pub model: Arc<Model>,
    pub sources: SourceMap,
    /// Worth showing, not worth stopping for: a provide no component requires (a
    /// partial environment). Sources attached, ready to render.
    pub warnings: Vec<Problem>,
    /// The git libraries used, by name, with the commit each is pinned to.
    pub libraries: std::collections::BTreeMap<String, String>,
    /// `component.attribute` of the command-line values (`--set`, `--set-file`)
    /// that replace a value holding a secret: records of the run mask them.
    pub secret_sets: std::collections::BTreeSet<String>,
    inputs: inputs::Fingerprint,
    _runtime: Arc<interpreter::Runtime>,
}

impl Evaluated {
    /// 16 hex digits over the ordo version and every input of this evaluation:
    /// two hosts with the same fingerprint got the same deployment.
    pub fn fingerprint(&self) -> &str {
        &self.inputs.hash
    }

    /// The files on disk this evaluation read (scripts, modules, templates, file
    /// sources), library files outside the project included.
    pub fn inputs(&self) -> &[PathBuf] {
        &self.inputs.paths
    }

    /// The inputs by the names the fingerprint records (project-relative,
    /// `<library>/<path>`, `stdlib/<name>.rhai`), sorted.
    pub fn input_names(&self) -> &[String] {
        &self.inputs.names
    }
}

/// Loads `ordo.rhai` (if any), `environments/<env>.rhai` and the service it names,
/// then configures every component placed on a host.
pub fn evaluate(project: &Project, env: &str) -> Result<Evaluated, Problems> {
    Interpreter::new(project).evaluate(env)
}

/// Evaluates with `options` (where prints go, whether secrets are decrypted).
pub fn evaluate_with(project: &Project, env: &str, options: Options) -> Result<Evaluated, Problems> {
    Interpreter::with_options(project, options).evaluate(env)
}

/// How an evaluation treats its surroundings.
#[derive(Clone)]
pub struct Options {
    /// Where the scripts' `print` and `debug` go.
    pub print: PrintSink,
    /// Decrypt the secrets the steps use (plan, deploy), or only check their names
    /// (check: no key needed).
    pub decrypt: bool,
    /// Learns every secret value decrypted, before anything can print it.
    pub redactor: crate::secrets::Redactor,
    /// Attribute values from the command line (`--set`, `--set-file`): overrides
    /// applied after the environment's own.
    pub sets: Vec<SetValue>,
    /// Git libraries must be pinned in `ordo.lock` already (a revision of the
    /// project, `--rev`): none is pinned on first use.
    pub locked: bool,
    /// What a local host's relative `home` is relative to instead of the project:
    /// places on this machine are where the checkout ordo runs in says (`--rev`).
    pub local_root: Option<PathBuf>,
}

/// One `--set component.attribute=value`, or one value of a `--set-file`.
#[derive(Clone, Debug, PartialEq)]
pub struct SetValue {
    pub component: String,
    pub attribute: String,
    pub value: serde_json::Value,
    /// As the user wrote it, for messages and the host's record.
    pub text: String,
    pub origin: SetOrigin,
}

/// Where a [`SetValue`] came from: `--set` wins over `--set-file` (decision 39).
#[derive(Clone, Debug, PartialEq)]
pub enum SetOrigin {
    /// `--set`, with the text after `=`: an attribute whose default is a string
    /// takes it as written (`1.10` stays `1.10`).
    Flag { raw: String },
    /// A `--set-file`: its TOML says each value's type.
    File(PathBuf),
}

impl SetValue {
    /// The text after `=` of a `--set`.
    pub fn raw(&self) -> Option<&str> {
        match &self.origin {
            SetOrigin::Flag { raw } => Some(raw),
            SetOrigin::File(_) => None,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            print: stderr_sink(),
            decrypt: false,
            redactor: crate::secrets::Redactor::default(),
            sets: Vec::new(),
            locked: false,
            local_root: None,
        }
    }
}

/// Where a script's `print(..)` and `debug(..)` go: the text, and for `debug` the
/// script position.
pub type PrintSink = std::sync::Arc<dyn Fn(&str, Option<crate::source::Span>) + Send + Sync>;

/// The default sink: standard error.
pub(crate) fn stderr_sink() -> PrintSink {
    std::sync::Arc::new(|text, span| match span {
        Some(span) => eprintln!("{span}: {text}"),
        None => eprintln!("{text}"),
    })
}
