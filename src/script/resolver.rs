//! Resolves `import` paths: `ordo/<name>` from the standard library embedded in the
//! binary, everything else from the project directory and its library paths.
//! Modules are compiled on first use and cached, so a stdlib module can import
//! another and a module imported twice is evaluated once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

use super::stdlib;
use crate::source::SourceMap;

pub(crate) struct Resolver {
    root: PathBuf,
    library: Vec<PathBuf>,
    sources: SourceMap,
    cache: RwLock<HashMap<String, Shared<Module>>>,
}

impl Resolver {
    pub(crate) fn new(root: &Path, library: Vec<PathBuf>, sources: SourceMap) -> Self {
        Resolver {
            root: root.to_path_buf(),
            library,
            sources,
            cache: RwLock::default(),
        }
    }

    /// Finds the text of a module and the name its spans will carry.
    fn locate(&self, path: &str) -> Option<(String, String)> {
        if let Some(name) = path.strip_prefix("ordo/") {
            let text = stdlib::source(name)?;
            return Some((format!("stdlib/{name}.rhai"), text.to_string()));
        }
        let rel = if Path::new(path).extension().is_some() {
            path.to_string()
        } else {
            format!("{path}.rhai")
        };
        for dir in std::iter::once(&self.root).chain(&self.library) {
            let file = dir.join(&rel);
            if let Ok(text) = std::fs::read_to_string(&file) {
                let shown = file
                    .strip_prefix(&self.root)
                    .map_or_else(|_| file.display().to_string(), |p| p.display().to_string());
                return Some((shown, text));
            }
        }
        None
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        if let Some(m) = self.cache.read().expect("module cache").get(path) {
            return Ok(m.clone());
        }
        let (name, text) = self
            .locate(path)
            .ok_or_else(|| Box::new(EvalAltResult::ErrorModuleNotFound(path.into(), pos)))?;
        self.sources.insert(&name, &text);
        let mut ast = engine
            .compile(&text)
            .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e.into(), pos))?;
        ast.set_source(name);
        let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| EvalAltResult::ErrorInModule(path.into(), e, pos))?;
        module.build_index();
        let module: Shared<Module> = module.into();
        self.cache
            .write()
            .expect("module cache")
            .insert(path.to_string(), module.clone());
        Ok(module)
    }
}
