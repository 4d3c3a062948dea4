//! Resolves `import` paths: `ordo/<name>` from the standard library embedded in the
//! binary, everything else from the project directory and its library paths.
//! Modules are compiled on first use and cached, so a stdlib module can import
//! another and a module imported twice is evaluated once. Every module read is
//! recorded as an input of the fingerprint, and an import chain that comes back to
//! a module still being loaded is an error naming the chain (Rhai itself would
//! recurse until the stack overflows).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

use super::errors::{fail, span_from_rhai};
use super::inputs::Inputs;
use super::session::Library;
use super::stdlib;
use crate::problem::{Kind, Problem};
use crate::source::{SourceMap, Span};

pub(crate) struct Resolver {
    root: PathBuf,
    library: Vec<Library>,
    sources: SourceMap,
    inputs: Arc<Inputs>,
    cache: RwLock<HashMap<String, Shared<Module>>>,
    /// Modules being evaluated right now, outermost first: imports nest.
    loading: Mutex<Vec<Loading>>,
}

struct Loading {
    /// The module's file as shown in messages.
    file: String,
    /// The import that started loading it.
    import: String,
    span: Option<Span>,
}

/// A module found on disk or in the binary.
struct Located {
    /// The name its spans carry: project-relative, or the path itself elsewhere.
    shown: String,
    /// The name the fingerprint records (stable across checkouts).
    stable: String,
    path: Option<PathBuf>,
    text: String,
    /// A file of the standard library or of a recipe library.
    foreign: bool,
}

impl Resolver {
    pub(crate) fn new(root: &Path, library: Vec<Library>, sources: SourceMap, inputs: Arc<Inputs>) -> Self {
        Resolver {
            root: root.to_path_buf(),
            library,
            sources,
            inputs,
            cache: RwLock::default(),
            loading: Mutex::default(),
        }
    }

    fn locate(&self, path: &str) -> Option<Located> {
        if let Some(name) = path.strip_prefix("ordo/") {
            let text = stdlib::source(name)?;
            let shown = format!("stdlib/{name}.rhai");
            return Some(Located {
                stable: shown.clone(),
                shown,
                path: None,
                text: text.to_string(),
                foreign: true,
            });
        }
        let rel = if Path::new(path).extension().is_some() {
            path.to_string()
        } else {
            format!("{path}.rhai")
        };
        let dirs = std::iter::once((None, &self.root)).chain(self.library.iter().map(|l| (Some(&l.declared), &l.dir)));
        for (declared, dir) in dirs {
            let file = dir.join(&rel);
            if let Ok(text) = std::fs::read_to_string(&file) {
                let shown = file
                    .strip_prefix(&self.root)
                    .map_or_else(|_| file.display().to_string(), |p| p.display().to_string());
                let stable = match declared {
                    None => shown.clone(),
                    Some(d) => format!("{d}/{rel}"),
                };
                return Some(Located {
                    shown,
                    stable,
                    path: Some(file),
                    text,
                    foreign: declared.is_some(),
                });
            }
        }
        None
    }

    /// A module found nowhere: every place that was looked at, in order.
    fn not_found(&self, path: &str, span: Option<Span>) -> Problem {
        let problem =
            Problem::new(Kind::Script, format!("module `{path}` not found")).at(span.as_ref(), "imported here");
        if let Some(name) = path.strip_prefix("ordo/") {
            let names: Vec<&str> = stdlib::MODULES.iter().map(|(n, _)| *n).collect();
            return problem.help(format!(
                "{}the standard library has: {}",
                crate::problem::suggest::did_you_mean(name, names.iter().copied()),
                names.iter().map(|n| format!("ordo/{n}")).collect::<Vec<_>>().join(", ")
            ));
        }
        let rel = if Path::new(path).extension().is_some() {
            path.to_string()
        } else {
            format!("{path}.rhai")
        };
        let mut looked = vec![format!("{} (the project)", self.root.join(&rel).display())];
        for l in &self.library {
            let what = match &l.commit {
                Some(c) => format!("git library `{}` at {}", l.declared, &c[..c.len().min(12)]),
                None => format!("library `{}`", l.declared),
            };
            looked.push(format!("{} ({what})", l.dir.join(&rel).display()));
        }
        problem.help(format!(
            "looked in {}; modules are files relative to the project root or a library of ordo.rhai \
             (`project(#{{ library: [..] }})`); the standard library is imported as `ordo/<name>`",
            looked.join(", then ")
        ))
    }

    /// The import chain from the first load of `file` to this import, if `file` is
    /// already being loaded.
    fn circle(&self, file: &str, import: &str, span: Option<Span>) -> Option<Problem> {
        let loading = self.loading.lock().expect("loading poisoned");
        let start = loading.iter().position(|l| l.file == file)?;
        let chain: Vec<&Loading> = loading[start..].iter().collect();
        let mut names: Vec<&str> = chain.iter().map(|l| l.file.as_str()).collect();
        names.push(file);
        let mut problem = Problem::new(Kind::Script, format!("circular import: {}", names.join(" → ")))
            .at(span.as_ref(), format!("imports `{import}` again"));
        for (i, l) in chain.iter().enumerate().skip(1) {
            problem = problem.at(l.span.as_ref(), format!("{} imports `{}`", chain[i - 1].file, l.import));
        }
        Some(problem.help(
            "modules cannot import each other in a circle; move what they share into a module that imports neither",
        ))
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        if let Some(m) = self.cache.read().expect("module cache").get(path) {
            return Ok(m.clone());
        }
        let span = span_from_rhai(source, pos);
        let Some(located) = self.locate(path) else {
            return Err(fail(self.not_found(path, span)));
        };
        if let Some(problem) = self.circle(&located.shown, path, span.clone()) {
            return Err(fail(problem));
        }
        if located.foreign {
            self.sources.insert_foreign(&located.shown, &located.text);
        } else {
            self.sources.insert(&located.shown, &located.text);
        }
        self.inputs
            .record(&located.stable, located.path.as_deref(), located.text.as_bytes());
        let mut ast = engine
            .compile(&located.text)
            .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e.into(), pos))?;
        ast.set_source(located.shown.as_str());
        self.loading.lock().expect("loading poisoned").push(Loading {
            file: located.shown.clone(),
            import: path.to_string(),
            span,
        });
        let evaluated = Module::eval_ast_as_new(Scope::new(), &ast, engine);
        self.loading.lock().expect("loading poisoned").pop();
        let mut module = evaluated.map_err(|e| EvalAltResult::ErrorInModule(path.into(), e, pos))?;
        module.build_index();
        let module: Shared<Module> = module.into();
        self.cache
            .write()
            .expect("module cache")
            .insert(path.to_string(), module.clone());
        Ok(module)
    }
}
