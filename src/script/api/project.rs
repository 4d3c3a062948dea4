//! `project()`, in `ordo.rhai`: the project's name, its recipe libraries —
//! directories, and git repositories pinned in `ordo.lock` — and its controller hooks.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::names::check_name;
use super::options::Options;
use super::{RhaiResult, call_span, document, script_error};
use crate::project::library::GitLibrary;
use crate::script::session::{DeclaredLibrary, LibrarySource, Session};

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    document(
        engine,
        "project",
        &["options: map", "()"],
        "Project settings, in `ordo.rhai`: `#{ name, library, hooks }`.\n\
         `library` lists where modules, templates and files are searched after the project itself, in order: \
         a directory (relative to the project) as a string, or a git repository as `#{ name, git, ref }` \
         (`ref`: a branch, tag or commit, the default branch when absent), pinned to a commit in `ordo.lock`.\n\
         `hooks` runs commands on the machine that runs ordo around `ordo deploy` and `ordo rollback`: \
         `#{ before_deploy, after_deploy, on_failure }`, each a command, a map `#{ run, environments, secrets, timeout }` \
         or an array of them; see docs/operations.md.",
        move |ctx: NativeCallContext, opts: Map| -> RhaiResult<()> {
            let mut o = Options::new(&ctx, "project()", opts, &["name", "library", "hooks"])?;
            let name = o.string("name")?;
            let library = match o.take("library") {
                None => Vec::new(),
                Some(v) => libraries(&ctx, v)?,
            };
            let hooks = match o.take("hooks") {
                None => crate::project::hooks::Hooks::default(),
                Some(v) => super::project_hooks::hooks(&ctx, v)?,
            };
            let mut decl = s.decl();
            decl.project_name = name;
            decl.libraries = library;
            decl.controller_hooks = hooks;
            Ok(())
        },
    );
}

/// The `library` list of `project()`: paths and git libraries, names unique.
fn libraries(ctx: &NativeCallContext, v: Dynamic) -> RhaiResult<Vec<DeclaredLibrary>> {
    let example =
        "library: [\"../recipes\", #{ name: \"web\", git: \"https://git.example.com/web.git\", ref: \"v1\" }]";
    let Some(items) = v.clone().try_cast::<Array>() else {
        return Err(script_error(
            ctx,
            "`library` must be an array of directories and git libraries",
            format!("write {example}"),
        ));
    };
    let mut out: Vec<DeclaredLibrary> = Vec::new();
    for item in items {
        let library = if item.is_string() {
            let path = item.to_string();
            DeclaredLibrary {
                name: path.clone(),
                source: LibrarySource::Path(path),
                span: call_span(ctx),
            }
        } else if let Some(map) = item.clone().try_cast::<Map>() {
            let mut o = Options::new(ctx, "a git library", map, &["name", "git", "ref"])?;
            let Some(url) = o.string("git")? else {
                return Err(script_error(
                    ctx,
                    "a library map needs `git`, the repository's URL",
                    format!("write {example}; a directory is given as a plain string"),
                ));
            };
            let name = match o.string("name")? {
                Some(n) => n,
                None => default_library_name(&url),
            };
            check_name(ctx, "library", &name)?;
            let reference = o.string("ref")?;
            // Both are passed to git, which would read a leading `-` as an option.
            if url.starts_with('-') || reference.as_deref().is_some_and(|r| r.starts_with('-') || r.is_empty()) {
                return Err(script_error(
                    ctx,
                    format!("library `{name}`: `git` and `ref` cannot be empty or start with `-`"),
                    "give the repository's URL and a branch, tag or commit",
                ));
            }
            DeclaredLibrary {
                name: name.clone(),
                source: LibrarySource::Git(GitLibrary { name, url, reference }),
                span: call_span(ctx),
            }
        } else {
            return Err(script_error(
                ctx,
                format!(
                    "a `library` entry must be a directory (a string) or a git library (a map), not {}",
                    crate::script::errors::type_name(item.type_name())
                ),
                format!("write {example}"),
            ));
        };
        if out.iter().any(|l| l.name == library.name) {
            return Err(script_error(
                ctx,
                format!("library `{}` is declared twice", library.name),
                "give each git library its own `name`",
            ));
        }
        out.push(library);
    }
    Ok(out)
}

/// `web` for `https://host/team/web.git` or `/srv/git/web/`.
fn default_library_name(url: &str) -> String {
    let last = url.trim_end_matches('/').rsplit(['/', ':']).next().unwrap_or(url);
    last.strip_suffix(".git").unwrap_or(last).to_string()
}
