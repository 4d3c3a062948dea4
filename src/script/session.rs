//! State shared by every function the scripts call during one evaluation: what the
//! environment and service scripts declared, the provide/require registry that
//! configure fills, and the inputs read so far. Rhai handles (`Environment`, `Host`,
//! `Service`) are small values pointing into it.
//!
//! The engine's registered functions hold the session, so the session holds the
//! engine only weakly: whoever owns the evaluation owns the engine, and dropping it
//! frees both.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, Weak};

use rhai::{Dynamic, Engine};

use super::callback::Callback;
use super::inputs::Inputs;
use super::registry::Registry;
use crate::model::TransportSpec;
use crate::source::{SourceMap, Span};

pub(crate) struct Session {
    pub(crate) project_root: PathBuf,
    pub(crate) sources: SourceMap,
    pub(crate) inputs: Arc<Inputs>,
    /// Library directories declared by `ordo.rhai`.
    pub(crate) library: RwLock<Vec<Library>>,
    pub(crate) decl: Mutex<Declarations>,
    pub(crate) registry: Mutex<Registry>,
    /// Set once the engine is built; custom steps call back into it at deploy time.
    pub(crate) engine: OnceLock<Weak<Engine>>,
    /// Template and file sources read so far, by project-relative name.
    pub(crate) files: Mutex<HashMap<String, Arc<[u8]>>>,
    /// Where `print` and `debug` go.
    pub(crate) print: super::PrintSink,
    /// The environment's secrets (none before an environment is known).
    pub(crate) vault: Option<Arc<crate::secrets::Vault>>,
    /// Live hosts, while a REPL line runs (and only then: configure stays pure).
    pub(crate) live: RwLock<Option<Arc<dyn super::repl::live::Live>>>,
    /// `component.attribute` of command-line values that replace a secret: the
    /// history keeps them masked.
    pub(crate) secret_sets: Mutex<std::collections::BTreeSet<String>>,
    /// What a local host's relative `home` is relative to, when not the project
    /// (`--rev`: the checkout ordo runs in, not the revision's temporary one).
    pub(crate) local_root: OnceLock<PathBuf>,
}

impl Session {
    pub(crate) fn new(project_root: PathBuf, sources: SourceMap) -> Arc<Self> {
        Session::with(project_root, sources, super::stderr_sink(), None)
    }

    pub(crate) fn with(
        project_root: PathBuf,
        sources: SourceMap,
        print: super::PrintSink,
        vault: Option<Arc<crate::secrets::Vault>>,
    ) -> Arc<Self> {
        Arc::new(Session {
            project_root,
            sources,
            inputs: Arc::default(),
            library: RwLock::default(),
            decl: Mutex::default(),
            registry: Mutex::default(),
            engine: OnceLock::new(),
            files: Mutex::default(),
            print,
            vault,
            live: RwLock::new(None),
            secret_sets: Mutex::default(),
            local_root: OnceLock::new(),
        })
    }

    pub(crate) fn decl(&self) -> MutexGuard<'_, Declarations> {
        self.decl.lock().expect("declarations poisoned")
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().expect("registry poisoned")
    }

    /// Live hosts, when a REPL line is running.
    pub(crate) fn live(&self) -> Option<Arc<dyn super::repl::live::Live>> {
        self.live.read().expect("live poisoned").clone()
    }

    /// The engine of this evaluation, while its owner keeps it.
    pub(crate) fn engine(&self) -> Weak<Engine> {
        self.engine.get().cloned().unwrap_or_default()
    }

    /// Reads a project file (template or file source) once, by project-relative
    /// name. Only files inside the project or a declared library directory are
    /// read (symbolic links resolved): whatever is read is shipped to hosts, and a
    /// checkout must not be able to send `~/.ssh/id_ed25519` or `/etc/shadow`.
    pub(crate) fn read_project_file(&self, name: &str) -> std::io::Result<Arc<[u8]>> {
        self.read_file_in(&self.project_root, name)
    }

    /// Reads a template or file source for a step declared in `source` (the script
    /// file of the call): a module of a library finds the library's own files first,
    /// then the project's.
    pub(crate) fn read_source(&self, name: &str, source: Option<&str>) -> std::io::Result<Arc<[u8]>> {
        if let Some(dir) = source.and_then(|s| self.library_dir_of(s))
            && dir.join(name).exists()
        {
            return self.read_file_in(&dir, name);
        }
        self.read_project_file(name)
    }

    /// The git libraries in use, by name, with their pinned commits.
    pub(crate) fn git_pins(&self) -> BTreeMap<String, String> {
        self.library
            .read()
            .expect("library poisoned")
            .iter()
            .filter_map(|l| Some((l.declared.clone(), l.commit.clone()?)))
            .collect()
    }

    /// Warnings for the git libraries this load pinned.
    pub(crate) fn new_pins(&self) -> Vec<crate::problem::Problem> {
        self.library
            .read()
            .expect("library poisoned")
            .iter()
            .filter_map(|l| l.pinned_now.clone())
            .collect()
    }

    /// The library directory a script file (as diagnostics name it) lies in.
    fn library_dir_of(&self, source: &str) -> Option<PathBuf> {
        let path = self.project_root.join(source).canonicalize().ok()?;
        self.library
            .read()
            .expect("library poisoned")
            .iter()
            .filter_map(|l| l.dir.canonicalize().ok())
            .find(|d| path.starts_with(d))
    }

    fn read_file_in(&self, dir: &Path, name: &str) -> std::io::Result<Arc<[u8]>> {
        let key = format!("{}\0{name}", dir.display());
        if let Some(bytes) = self.files.lock().expect("files poisoned").get(&key) {
            return Ok(bytes.clone());
        }
        let path = dir.join(name).canonicalize()?;
        let Some(stable) = self.confined(&path) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "it resolves to {}, outside the project and its library directories; \
                     ordo only ships files of the project",
                    path.display()
                ),
            ));
        };
        let bytes: Arc<[u8]> = std::fs::read(&path)?.into();
        self.inputs.record(&stable, Some(&path), &bytes);
        self.files.lock().expect("files poisoned").insert(key, bytes.clone());
        Ok(bytes)
    }

    /// The stable name of a canonical path inside the project or a library
    /// directory; `None` outside all of them.
    fn confined(&self, path: &Path) -> Option<String> {
        let inside = |dir: &Path| {
            let dir = dir.canonicalize().ok()?;
            path.strip_prefix(&dir)
                .ok()
                .map(|rel| rel.to_string_lossy().into_owned())
        };
        if let Some(rel) = inside(&self.project_root) {
            return Some(rel);
        }
        self.library
            .read()
            .expect("library poisoned")
            .iter()
            .find_map(|l| inside(&l.dir).map(|rel| format!("{}/{rel}", l.declared)))
    }
}

/// A directory of `project(#{ library: [..] })`: modules, templates and files
/// shared between projects.
#[derive(Clone, Debug)]
pub(crate) struct Library {
    /// As written in `ordo.rhai` (stable across checkouts, for the fingerprint):
    /// the path of a directory, the name of a git library.
    pub(crate) declared: String,
    pub(crate) dir: PathBuf,
    /// The commit a git library is pinned to.
    pub(crate) commit: Option<String>,
    /// The warning that this load pinned it (it was new in `ordo.rhai`).
    pub(crate) pinned_now: Option<crate::problem::Problem>,
}

/// A library as `ordo.rhai` declares it, before git libraries are fetched.
#[derive(Clone, Debug)]
pub struct DeclaredLibrary {
    /// The path as written, or the git library's name.
    pub name: String,
    pub source: LibrarySource,
    pub(crate) span: Option<Span>,
}

#[derive(Clone, Debug)]
pub enum LibrarySource {
    /// A directory, relative to the project.
    Path(String),
    Git(crate::project::library::GitLibrary),
}

#[derive(Default)]
pub(crate) struct Declarations {
    pub(crate) project_name: Option<String>,
    pub(crate) libraries: Vec<DeclaredLibrary>,
    pub(crate) environment: Option<EnvDecl>,
    pub(crate) hosts: Vec<HostDecl>,
    pub(crate) host_index: HashMap<String, usize>,
    pub(crate) overrides: Vec<OverrideDecl>,
    /// `--set-file` values, then `--set` values: above every value a script gives.
    pub(crate) command_line: Vec<CommandLineValue>,
    pub(crate) services: Vec<ServiceDecl>,
    pub(crate) rollings: Vec<RollingDecl>,
    /// `project(#{ hooks })`: commands on the controller around a deploy.
    pub(crate) controller_hooks: crate::project::hooks::Hooks,
}

/// `env.rolling(component, #{ batch, max_failures, before, after })`.
pub(crate) struct RollingDecl {
    pub(crate) component: String,
    /// Hosts per batch, or a percentage of them.
    pub(crate) batch: Option<usize>,
    pub(crate) percent: Option<usize>,
    pub(crate) max_failures: usize,
    pub(crate) before: Option<HookDecl>,
    pub(crate) after: Option<HookDecl>,
    pub(crate) span: Option<Span>,
}

/// A hook of a rolling update: a command on another host.
#[derive(Clone)]
pub(crate) struct HookDecl {
    pub(crate) host: String,
    pub(crate) run: String,
    pub(crate) timeout: Option<std::time::Duration>,
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
    /// `.retire()` was called (where): the host is torn down, nothing placed.
    pub(crate) retired: Option<Retired>,
}

/// Where a host was retired (`env.host(..).retire()`).
#[derive(Clone, Debug)]
pub(crate) struct Retired {
    pub(crate) span: Option<Span>,
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

/// One value from the command line, a line of the `<command line>` source.
pub(crate) struct CommandLineValue {
    pub(crate) component: String,
    pub(crate) attribute: String,
    pub(crate) value: Dynamic,
    /// `--set`'s text after `=` (a string attribute takes it as written); none for
    /// `--set-file`, whose TOML says the type.
    pub(crate) raw: Option<String>,
    pub(crate) span: Option<Span>,
}

pub(crate) struct ServiceDecl {
    pub(crate) name: String,
    pub(crate) components: Vec<ComponentDecl>,
}

pub(crate) struct ComponentDecl {
    pub(crate) name: String,
    /// The `s.component(..)` call.
    pub(crate) span: Option<Span>,
    pub(crate) configure: Callback,
}
