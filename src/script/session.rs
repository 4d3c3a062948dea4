//! State shared by every function the scripts call during one evaluation: what the
//! environment and service scripts declared, and the provide/require registry that
//! configure fills. Rhai handles (`Environment`, `Host`, `Service`) are small values
//! pointing into it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rhai::{Dynamic, Engine};

use super::callback::Callback;
use crate::model::TransportSpec;
use crate::source::{SourceMap, Span};

pub(crate) struct Session {
    pub(crate) project_root: PathBuf,
    pub(crate) sources: SourceMap,
    pub(crate) decl: Mutex<Declarations>,
    pub(crate) registry: Mutex<Registry>,
    /// Set once the engine is built; custom steps call back into it at deploy time.
    pub(crate) engine: OnceLock<Arc<Engine>>,
    /// Template and file sources read so far, by project-relative name.
    pub(crate) files: Mutex<HashMap<String, Arc<[u8]>>>,
}

impl Session {
    pub(crate) fn new(project_root: PathBuf, sources: SourceMap) -> Arc<Self> {
        Arc::new(Session {
            project_root,
            sources,
            decl: Mutex::default(),
            registry: Mutex::default(),
            engine: OnceLock::new(),
            files: Mutex::default(),
        })
    }

    pub(crate) fn decl(&self) -> MutexGuard<'_, Declarations> {
        self.decl.lock().expect("declarations poisoned")
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().expect("registry poisoned")
    }

    /// Reads a project file (template or file source) once, by project-relative name.
    pub(crate) fn read_project_file(&self, name: &str) -> std::io::Result<Arc<[u8]>> {
        if let Some(bytes) = self.files.lock().expect("files poisoned").get(name) {
            return Ok(bytes.clone());
        }
        let bytes: Arc<[u8]> = std::fs::read(self.project_root.join(name))?.into();
        self.files
            .lock()
            .expect("files poisoned")
            .insert(name.to_string(), bytes.clone());
        Ok(bytes)
    }
}

#[derive(Default)]
pub(crate) struct Declarations {
    pub(crate) project_name: Option<String>,
    pub(crate) library: Vec<PathBuf>,
    pub(crate) environment: Option<EnvDecl>,
    pub(crate) hosts: Vec<HostDecl>,
    pub(crate) host_index: HashMap<String, usize>,
    pub(crate) overrides: Vec<OverrideDecl>,
    pub(crate) services: Vec<ServiceDecl>,
}

pub(crate) struct EnvDecl {
    pub(crate) name: String,
    pub(crate) service: String,
    /// Default root of a component on its host, before `{service}` is filled in.
    pub(crate) root: String,
    pub(crate) user: Option<String>,
    pub(crate) span: Option<Span>,
}

pub(crate) struct HostDecl {
    pub(crate) name: String,
    pub(crate) transport: TransportSpec,
    pub(crate) address: String,
    pub(crate) user: String,
    pub(crate) roles: Vec<String>,
    pub(crate) data: serde_json::Value,
    pub(crate) root: Option<String>,
    pub(crate) span: Option<Span>,
    pub(crate) placements: Vec<Placement>,
}

pub(crate) struct Placement {
    pub(crate) component: String,
    pub(crate) overrides: BTreeMap<String, Dynamic>,
    pub(crate) span: Option<Span>,
}

pub(crate) struct OverrideDecl {
    pub(crate) component: String,
    pub(crate) values: BTreeMap<String, Dynamic>,
    pub(crate) span: Option<Span>,
}

pub(crate) struct ServiceDecl {
    pub(crate) name: String,
    pub(crate) components: Vec<ComponentDecl>,
}

pub(crate) struct ComponentDecl {
    pub(crate) name: String,
    pub(crate) configure: Callback,
}

/// The provide/require registry: which root instance provides what under a key, who
/// read the key and at which version. Configure iterates until no reader saw an
/// outdated version (batou's resolver).
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) keys: HashMap<String, KeyState>,
    /// Keys each root read and provided, so reconfiguring one root touches only its
    /// own keys (linear in the size of the environment, not quadratic).
    read_by: HashMap<usize, Vec<String>>,
    provided_by: HashMap<usize, Vec<String>>,
}

#[derive(Default)]
pub(crate) struct KeyState {
    pub(crate) version: u64,
    /// Provider root → values it provided (in order), each with its span.
    pub(crate) values: BTreeMap<usize, Vec<(serde_json::Value, Dynamic, Option<Span>)>>,
    /// Reader root → (version it saw, span of its first require).
    pub(crate) readers: BTreeMap<usize, (u64, Option<Span>)>,
}

impl Registry {
    /// Values under `key` in provider order, recording that `root` read them.
    pub(crate) fn read(&mut self, key: &str, root: usize, span: Option<Span>) -> Vec<Dynamic> {
        let state = self.keys.entry(key.to_string()).or_default();
        let version = state.version;
        if !state.readers.contains_key(&root) {
            self.read_by.entry(root).or_default().push(key.to_string());
        }
        state
            .readers
            .entry(root)
            .and_modify(|r| r.0 = version)
            .or_insert((version, span));
        state
            .values
            .values()
            .flat_map(|v| v.iter().map(|(_, d, _)| d.clone()))
            .collect()
    }

    /// Replaces everything `root` provides with `provided`; bumps the version of
    /// every key whose values changed.
    pub(crate) fn commit(
        &mut self,
        root: usize,
        provided: BTreeMap<String, Vec<(serde_json::Value, Dynamic, Option<Span>)>>,
    ) {
        let mut touched: Vec<String> = self.provided_by.remove(&root).unwrap_or_default();
        touched.extend(provided.keys().cloned());
        touched.sort();
        touched.dedup();
        let mut provided = provided;
        for key in touched {
            let state = self.keys.entry(key.clone()).or_default();
            let new = provided.remove(&key);
            let old = state.values.get(&root);
            let same = match (&new, old) {
                (Some(n), Some(o)) => n.iter().map(|v| &v.0).eq(o.iter().map(|v| &v.0)),
                (None, None) => true,
                _ => false,
            };
            if new.is_some() {
                self.provided_by.entry(root).or_default().push(key.clone());
            }
            if same {
                continue;
            }
            state.version += 1;
            match new {
                Some(n) => state.values.insert(root, n),
                None => state.values.remove(&root),
            };
        }
    }

    /// Forgets that `root` read anything (before it is configured again).
    pub(crate) fn forget_reader(&mut self, root: usize) {
        for key in self.read_by.remove(&root).unwrap_or_default() {
            if let Some(state) = self.keys.get_mut(&key) {
                state.readers.remove(&root);
            }
        }
    }

    /// Roots that read a key after which it changed.
    pub(crate) fn stale_readers(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .keys
            .values()
            .flat_map(|s| {
                s.readers
                    .iter()
                    .filter(move |(_, (seen, _))| *seen < s.version)
                    .map(|(r, _)| *r)
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
