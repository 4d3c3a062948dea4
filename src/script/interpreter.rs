//! The scripts of a project with a lifecycle: evaluate an environment, evaluate
//! one more line against what is loaded (the REPL: variables and functions of
//! earlier lines persist), reload after files changed, and list the API with its
//! documentation (completion, generated docs).
//!
//! One evaluation is a [`Runtime`]: its engine, its session and the REPL's scope.
//! The engine's functions hold the session and the session holds the engine only
//! weakly, so dropping the runtime frees all of it; a reload replaces it.

use std::path::Path;
#[cfg(test)]
use std::sync::Weak;
use std::sync::{Arc, Mutex};

use rhai::{AST, Dynamic, Engine, Scope};

use super::api::is_plain_name;
use super::eval::Configured;
use super::function_doc::{self, FunctionDoc};
use super::repl::live::{self, Live};
use super::repl::shown;
use super::resolver::Resolver;
use super::session::{Library, LibrarySource, Session};
use super::stack::{self, Deep};
use super::{Evaluated, diagnostic, engine, eval};
use crate::problem::suggest::list_or_none;
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::source::SourceMap;

pub struct Interpreter {
    project: Project,
    env: Option<String>,
    loaded: Option<Arc<Runtime>>,
    options: super::Options,
    live: Option<Arc<dyn Live>>,
}

/// What an [`Interpreter`] has loaded (the environment's name and its runtime),
/// kept aside while another load is tried: the REPL goes back to it when `:env`
/// or `:reload` fails, so a typo loses neither the environment nor the
/// variables of earlier lines.
pub struct Loaded {
    env: Option<String>,
    runtime: Option<Arc<Runtime>>,
}

/// The value of a REPL line.
#[derive(Clone, Debug)]
pub struct Value {
    /// As `print` would show it.
    pub text: String,
    /// The same as data (maps, arrays, numbers…); a value that has no data form is
    /// its text.
    pub data: serde_json::Value,
    /// The function that made it (`run`, `plan`, `apply`…) already reported it.
    pub reported: bool,
}

/// One evaluation's engine and session, and the REPL state on top of them. Its
/// values may nest deeply: dropped on a script thread.
pub(crate) struct Runtime(Deep<Parts>);

struct Parts {
    engine: Arc<Engine>,
    session: Arc<Session>,
    repl: Mutex<Repl>,
}

/// What REPL lines see: the variables of the environment and service scripts
/// and of earlier lines, and the functions they defined.
struct Repl {
    scope: Scope<'static>,
    functions: AST,
    lines: usize,
}

impl Interpreter {
    pub fn new(project: &Project) -> Self {
        Interpreter::with_options(project, super::Options::default())
    }

    pub fn with_options(project: &Project, options: super::Options) -> Self {
        Interpreter {
            project: Project {
                root: project.root.clone(),
            },
            env: None,
            loaded: None,
            options,
            live: None,
        }
    }

    /// Live hosts for the REPL functions (`host(..).run`, `facts`, `plan`…) of
    /// later lines; they are reachable only while a line runs.
    pub fn set_live(&mut self, live: Option<Arc<dyn Live>>) {
        self.live = live;
    }

    /// Loads `ordo.rhai` (if any), `environments/<env>.rhai` and the service it
    /// names, then configures every component placed on a host. What was loaded
    /// before is dropped first; what this loads stays for [`Self::eval_line`], even
    /// when it fails.
    pub fn evaluate(&mut self, env: &str) -> Result<Evaluated, Problems> {
        self.loaded = None;
        self.env = Some(env.to_string());
        let project = &self.project;
        let options = self.options.clone();
        let (sources, parts, result) = stack::run(|| load(project, Some(env), options));
        let runtime = parts.map(|p| Arc::new(Runtime(Deep::new(p))));
        self.loaded = runtime.clone();
        let attach = |ps: Vec<Problem>| ps.into_iter().map(|p| p.with_sources(&sources)).collect::<Vec<_>>();
        let new_pins = runtime.as_ref().map(|r| r.0.session.new_pins()).unwrap_or_default();
        match (result, runtime) {
            (Ok(configured), Some(runtime)) => Ok(Evaluated {
                libraries: runtime.0.session.git_pins(),
                secret_sets: {
                    let sets = runtime.0.session.secret_sets.lock().expect("secret sets poisoned");
                    sets.clone()
                },
                model: Arc::new(configured.model),
                warnings: attach(new_pins.into_iter().chain(configured.warnings).collect()),
                inputs: runtime.0.session.inputs.snapshot(),
                sources,
                _runtime: runtime,
            }),
            (Err(Problems(ps)), _) => Err(Problems(attach(ps.into_iter().chain(new_pins).collect()))),
            (Ok(_), None) => unreachable!("a configured model has a runtime"),
        }
    }

    /// What is loaded now, for [`Self::restore`] after a later load failed.
    pub fn loaded(&self) -> Loaded {
        Loaded {
            env: self.env.clone(),
            runtime: self.loaded.clone(),
        }
    }

    /// Goes back to what [`Self::loaded`] kept, dropping what was loaded since.
    pub fn restore(&mut self, kept: Loaded) {
        self.env = kept.env;
        self.loaded = kept.runtime;
    }

    /// Evaluates the environment loaded last again, reading every file anew.
    pub fn reload(&mut self) -> Result<Evaluated, Problems> {
        let Some(env) = self.env.clone() else {
            return Err(
                Problem::new(Kind::Usage, "nothing to reload: no environment was loaded")
                    .help("load one first")
                    .into(),
            );
        };
        self.evaluate(&env)
    }

    /// Evaluates `line` against the loaded state (or a bare engine with only
    /// `ordo.rhai` run, when no environment is loaded). Returns the value of the
    /// last expression as text, `None` for `()`. Errors point at the line, named
    /// `<repl:N>`.
    pub fn eval_line(&mut self, line: &str) -> Result<Option<String>, Problems> {
        self.eval(line).map(|v| v.map(|v| v.text))
    }

    /// Like [`Self::eval_line`], with the value as data too.
    pub fn eval(&mut self, line: &str) -> Result<Option<Value>, Problems> {
        if self.loaded.is_none() {
            let project = &self.project;
            let options = self.options.clone();
            let (sources, parts, result) = stack::run(|| load(project, None, options));
            let Some(parts) = parts else {
                let Problems(ps) = result.err().unwrap_or_else(|| Problems(Vec::new()));
                return Err(Problems(ps.into_iter().map(|p| p.with_sources(&sources)).collect()));
            };
            self.loaded = Some(Arc::new(Runtime(Deep::new(parts))));
        }
        let runtime = self.loaded.clone().expect("loaded above");
        let live = self.live.clone();
        stack::run(|| runtime.0.eval_line(line, live))
    }

    /// Rhai definition files (`.d.rhai`) of ordo's built-in API, for the Rhai
    /// language server: file name and content.
    pub fn definitions(&self) -> Vec<(String, String)> {
        let root = self.project.root.clone();
        stack::run(move || {
            let session = Session::new(root.clone(), SourceMap::default());
            let resolver = Resolver::new(&root, Vec::new(), session.sources.clone(), session.inputs.clone());
            let engine = engine::build(&session, resolver);
            engine
                .definitions()
                .with_headers(true)
                .iter_files()
                .map(|(name, text)| (name.to_string(), text))
                .collect()
        })
    }

    /// Every function scripts can call: ordo's built-ins with their signatures and
    /// documentation, and the public functions of the standard library with their
    /// `///` comments. Sorted by module, then name.
    pub fn functions(&self) -> Vec<FunctionDoc> {
        let loaded = self.loaded.clone();
        let root = self.project.root.clone();
        stack::run(move || {
            let engine = match &loaded {
                Some(r) => r.0.engine.clone(),
                None => {
                    let session = Session::new(root.clone(), SourceMap::default());
                    let resolver = Resolver::new(&root, Vec::new(), session.sources.clone(), session.inputs.clone());
                    Arc::new(engine::build(&session, resolver))
                }
            };
            let mut out = function_doc::native_functions(&engine);
            out.extend(function_doc::stdlib_functions(&engine));
            out.sort_by(|a, b| (&a.module, &a.name, &a.signature).cmp(&(&b.module, &b.name, &b.signature)));
            out
        })
    }

    /// The engine and session of the current load, for tests that check they are
    /// freed.
    #[cfg(test)]
    fn weak(&self) -> Option<(Weak<Engine>, Weak<Session>)> {
        self.loaded
            .as_ref()
            .map(|r| (Arc::downgrade(&r.0.engine), Arc::downgrade(&r.0.session)))
    }
}

impl Parts {
    fn eval_line(&self, line: &str, live: Option<Arc<dyn Live>>) -> Result<Option<Value>, Problems> {
        let sources = &self.session.sources;
        let mut repl = self.repl.lock().expect("repl poisoned");
        repl.lines += 1;
        let name = format!("<repl:{}>", repl.lines);
        sources.insert(&name, line);
        let fail = |p: Problem| Problems::from(p.with_sources(sources));
        let mut ast = self
            .engine
            .compile_with_scope(&repl.scope, line)
            .map_err(|e| fail(diagnostic::from_parse(e, &name, sources)))?;
        ast.set_source(name.as_str());
        // Earlier lines' functions, then this line's statements (and functions).
        let mut program = repl.functions.merge(&ast);
        program.set_source(name.as_str());
        let Repl { scope, .. } = &mut *repl;
        let live = live.map(|l| Arc::new(live::Waiting(l)) as Arc<dyn Live>);
        *self.session.live.write().expect("live poisoned") = live;
        let result = self.engine.eval_ast_with_scope::<Dynamic>(scope, &program);
        *self.session.live.write().expect("live poisoned") = None;
        program.clear_statements();
        repl.functions = program;
        let value = result.map_err(|e| fail(diagnostic::from_eval(e, Some(&name), sources)))?;
        if value.is_unit() {
            return Ok(None);
        }
        let (text, data, reported) = match shown(&value) {
            // ordo's REPL types print as their data: Rhai would print a type name.
            Some((data, reported)) => {
                let text = match &data {
                    serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_string) => items
                        .iter()
                        .filter_map(serde_json::Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                (text, data, reported)
            }
            None => {
                let text = value.to_string();
                let data = rhai::serde::from_dynamic::<serde_json::Value>(&value)
                    .unwrap_or_else(|_| serde_json::Value::String(text.clone()));
                (text, data, false)
            }
        };
        Ok(Some(Value { text, data, reported }))
    }
}

/// Runs the project's scripts: `ordo.rhai`, then (with an environment) the
/// environment, its service, and configure. Returns what was loaded, which the
/// REPL may use even when the result is an error.
fn load(
    project: &Project,
    env: Option<&str>,
    options: super::Options,
) -> (SourceMap, Option<Parts>, Result<Configured, Problems>) {
    let root = &project.root;
    let sources = SourceMap::default();
    // An environment name that cannot name secrets cannot name an environment
    // either: that error comes from loading the environment, with its own words.
    let vault = env
        .and_then(|e| crate::secrets::Vault::new(root, e, options.decrypt, options.redactor.clone()).ok())
        .map(Arc::new);
    let session = Session::with(root.clone(), sources.clone(), options.print, vault);
    if let Some(r) = options.local_root {
        let _ = session.local_root.set(r);
    }
    // ordo.rhai first: it may add library paths the resolver needs.
    let bootstrap = engine::build(
        &session,
        Resolver::new(root, Vec::new(), session.sources.clone(), session.inputs.clone()),
    );
    if root.join("ordo.rhai").exists()
        && let Err(e) = run_file(&bootstrap, &session, root, "ordo.rhai", &mut Scope::new())
    {
        return (sources, None, Err(e));
    }
    drop(bootstrap);
    let library = match open_libraries(&session, root, options.locked) {
        Ok(l) => l,
        Err(e) => return (sources, None, Err(e)),
    };
    session.library.write().expect("library poisoned").clone_from(&library);
    let engine = Arc::new(engine::build(
        &session,
        Resolver::new(root, library, session.sources.clone(), session.inputs.clone()),
    ));
    let _ = session.engine.set(Arc::downgrade(&engine));
    let mut scope = Scope::new();
    let mut functions = AST::empty();
    let result = match env {
        Some(env) => run_environment(
            project,
            env,
            &engine,
            &session,
            &mut scope,
            &mut functions,
            &options.sets,
        ),
        None => Err(Problems(Vec::new())),
    };
    let parts = Parts {
        engine,
        session,
        repl: Mutex::new(Repl {
            scope,
            functions,
            lines: 0,
        }),
    };
    (sources, Some(parts), result)
}

fn run_environment(
    project: &Project,
    env: &str,
    engine: &Arc<Engine>,
    session: &Arc<Session>,
    scope: &mut Scope<'static>,
    functions: &mut AST,
    sets: &[super::SetValue],
) -> Result<Configured, Problems> {
    let root = &project.root;
    let env_file = format!("environments/{env}.rhai");
    if !is_plain_name(env) || !root.join(&env_file).is_file() {
        return Err(
            Problem::new(Kind::Project, format!("no environment `{env}` in {}", root.display()))
                .help(format!(
                    "environments are files environments/<name>.rhai; this project has: {}",
                    list_or_none(&project.environments())
                ))
                .into(),
        );
    }
    *functions += run_file(engine, session, root, &env_file, scope)?;
    let Some(service) = session.decl().environment.as_ref().map(|e| e.service.clone()) else {
        return Err(
            Problem::new(Kind::Script, format!("{env_file} does not call environment()"))
                .help(format!(
                    "start it with: let env = environment(\"{env}\", #{{ service: \"<name>\" }});"
                ))
                .into(),
        );
    };
    let declared = session.decl().services.iter().any(|s| s.name == service);
    if !declared {
        let file = format!("services/{service}.rhai");
        if !root.join(&file).exists() {
            let span = session.decl().environment.as_ref().and_then(|e| e.span.clone());
            return Err(
                Problem::new(Kind::Project, format!("service `{service}` is not declared"))
                    .at(span.as_ref(), "named here")
                    .help(format!("create {file} with: let svc = service(\"{service}\");"))
                    .into(),
            );
        }
        *functions += run_file(engine, session, root, &file, scope)?;
        if !session.decl().services.iter().any(|s| s.name == service) {
            return Err(
                Problem::new(Kind::Script, format!("{file} does not declare service `{service}`"))
                    .help(format!("add: let svc = service(\"{service}\");"))
                    .into(),
            );
        }
    }
    command_line_overrides(session, sets)?;
    eval::configure(engine, session, &service)
}

/// `--set-file` and `--set` values: above the scripts' own (decision 39), each
/// pointing at its line of a `<command line>` source (so errors show it), and part
/// of what the fingerprint covers.
fn command_line_overrides(session: &Session, sets: &[super::SetValue]) -> Result<(), Problems> {
    if sets.is_empty() {
        return Ok(());
    }
    const SOURCE: &str = "<command line>";
    let mut text = String::new();
    let mut decl = session.decl();
    // Files first, `--set` last: the later of two values wins.
    let ordered = sets
        .iter()
        .filter(|s| s.raw().is_none())
        .chain(sets.iter().filter(|s| s.raw().is_some()));
    for (i, set) in ordered.enumerate() {
        let prefix = match &set.origin {
            super::SetOrigin::Flag { .. } => "--set ".to_string(),
            super::SetOrigin::File(path) => format!(
                "--set-file {}: ",
                crate::text::visible(&path.display().to_string(), false)
            ),
        };
        text.push_str(&format!("{prefix}{}\n", set.text));
        let value = rhai::serde::to_dynamic(&set.value)
            .map_err(|e| Problem::new(Kind::Usage, format!("{prefix}{}: {e}", set.text)))?;
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let column = u32::try_from(prefix.chars().count() + 1).unwrap_or(u32::MAX);
        decl.command_line.push(crate::script::session::CommandLineValue {
            component: set.component.clone(),
            attribute: set.attribute.clone(),
            value,
            raw: set.raw().map(str::to_string),
            span: Some(crate::source::Span::new(SOURCE, line, column)),
        });
    }
    session.sources.insert(SOURCE, &text);
    session.inputs.record(SOURCE, None, text.as_bytes());
    Ok(())
}

/// The libraries `ordo.rhai` declared, as directories to search: a git library is
/// checked out at the commit `ordo.lock` pins (pinned first when it has none). The
/// lock file is an input: moving a pin changes the fingerprint, and an uncommitted
/// pin makes the checkout dirty.
fn open_libraries(session: &Session, root: &Path, locked: bool) -> Result<Vec<Library>, Problems> {
    let declared = session.decl().libraries.clone();
    let mut out: Vec<Library> = Vec::with_capacity(declared.len());
    for d in &declared {
        out.push(match &d.source {
            LibrarySource::Path(path) => Library {
                declared: path.clone(),
                dir: root.join(path),
                commit: None,
                pinned_now: None,
            },
            LibrarySource::Git(git) => {
                // A fetch waits for the network: not the scripts' time.
                let checkout = match super::clock::waiting(|| crate::project::library::checkout(root, git, locked)) {
                    Ok(c) => c,
                    Err(p) => {
                        // Pins this load wrote before the failure are news all the same.
                        let mut ps = vec![p.at(d.span.as_ref(), "declared here")];
                        ps.extend(out.iter().filter_map(|l| l.pinned_now.clone()));
                        return Err(Problems(ps));
                    }
                };
                Library {
                    declared: d.name.clone(),
                    dir: checkout.dir,
                    pinned_now: checkout
                        .pinned_now
                        .then(|| new_pin(git, &checkout.commit, d.span.as_ref())),
                    commit: Some(checkout.commit),
                }
            }
        });
    }
    if out.iter().any(|l| l.commit.is_some()) {
        let lock = root.join(crate::project::library::LOCK_FILE);
        let bytes = std::fs::read(&lock)
            .map_err(|e| Problem::new(Kind::Project, format!("cannot read {}: {e}", lock.display())))?;
        session
            .inputs
            .record(crate::project::library::LOCK_FILE, Some(&lock), &bytes);
    }
    Ok(out)
}

/// The warning that a load pinned a git library new in `ordo.rhai`: `ordo.lock`
/// changed, and the user commits it (or not) knowingly.
fn new_pin(lib: &crate::project::library::GitLibrary, commit: &str, span: Option<&crate::source::Span>) -> Problem {
    let what = match &lib.reference {
        Some(r) => format!("`{r}`"),
        None => "the default branch".to_string(),
    };
    Problem::new(
        Kind::Project,
        format!(
            "library `{}` was not pinned: pinned it to commit {} ({what} now) in {}",
            lib.name,
            &commit[..12.min(commit.len())],
            crate::project::library::LOCK_FILE
        ),
    )
    .at(span, "new here")
    .help(format!(
        "commit {} so every checkout uses this commit; `ordo libs update {}` moves it later",
        crate::project::library::LOCK_FILE,
        lib.name
    ))
    .as_warning()
}

/// The libraries `ordo.rhai` declares (running only `ordo.rhai`; nothing is
/// fetched), for `ordo libs`.
pub fn declared_libraries(project: &Project) -> Result<Vec<super::DeclaredLibrary>, Problems> {
    project_settings(project).map(|(libraries, _)| libraries)
}

/// The controller's hooks `ordo.rhai` declares (none without one).
pub fn declared_hooks(project: &Project) -> Result<crate::project::hooks::Hooks, Problems> {
    project_settings(project).map(|(_, hooks)| hooks)
}

/// `ordo.rhai` alone: its libraries and hooks.
fn project_settings(
    project: &Project,
) -> Result<(Vec<super::DeclaredLibrary>, crate::project::hooks::Hooks), Problems> {
    let root = project.root.clone();
    stack::run(move || {
        let sources = SourceMap::default();
        let session = Session::new(root.clone(), sources.clone());
        let engine = engine::build(
            &session,
            Resolver::new(&root, Vec::new(), session.sources.clone(), session.inputs.clone()),
        );
        if root.join("ordo.rhai").exists() {
            run_file(&engine, &session, &root, "ordo.rhai", &mut Scope::new())
                .map_err(|Problems(ps)| Problems(ps.into_iter().map(|p| p.with_sources(&sources)).collect()))?;
        }
        let decl = session.decl();
        Ok((decl.libraries.clone(), decl.controller_hooks.clone()))
    })
}

/// Runs one script file in `scope`; returns its functions (statements cleared).
fn run_file(
    engine: &Engine,
    session: &Session,
    root: &Path,
    name: &str,
    scope: &mut Scope<'static>,
) -> Result<AST, Problems> {
    let path = root.join(name);
    let text =
        std::fs::read_to_string(&path).map_err(|e| Problem::new(Kind::Project, format!("cannot read {name}: {e}")))?;
    session.sources.insert(name, &text);
    session.inputs.record(name, Some(&path), text.as_bytes());
    let mut ast = engine
        .compile(&text)
        .map_err(|e| diagnostic::from_parse(e, name, &session.sources))?;
    ast.set_source(name);
    engine
        .run_ast_with_scope(scope, &ast)
        .map_err(|e| diagnostic::from_eval(e, Some(name), &session.sources))?;
    ast.clear_statements();
    Ok(ast)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let project = Project {
            root: dir.path().to_path_buf(),
        };
        (dir, project)
    }

    fn messages(problems: &Problems) -> Vec<String> {
        problems.0.iter().map(|p| p.message.clone()).collect()
    }

    const ENV: &str = "let env = environment(\"test\", #{ service: \"s\" });\n\
                       env.host(\"h\", #{ transport: \"local\", home: \"hosts/h\" }).place(\"x\");\n";
    const SERVICE: &str = "let s = service(\"s\");\n\
                           s.component(\"x\", |c| {\n\
                           \x20   c.add(step(\"remember\", #{ verify: |host| true, update: |host| { host.run(\"true\"); } }));\n\
                           \x20   c.add(template(\"a.ini\", \"templates/a.ini\"));\n\
                           });\n";

    #[test]
    fn reloading_frees_the_previous_evaluation() {
        let (_dir, project) = project(&[
            ("environments/test.rhai", ENV),
            ("services/s.rhai", SERVICE),
            ("templates/a.ini", "port = 1\n"),
        ]);
        let mut interpreter = Interpreter::new(&project);
        let mut old: Vec<(Weak<Engine>, Weak<Session>)> = Vec::new();
        interpreter.evaluate("test").unwrap_or_else(|e| panic!("{:?}", e.0));
        for _ in 0..50 {
            let evaluated = interpreter.reload().unwrap_or_else(|e| panic!("{:?}", e.0));
            assert_eq!(evaluated.model.steps.len(), 2);
            drop(evaluated);
            old.push(interpreter.weak().expect("loaded"));
        }
        let current = old.pop().expect("50 reloads");
        for (engine, session) in &old {
            assert!(engine.upgrade().is_none(), "an old engine is still alive");
            assert!(session.upgrade().is_none(), "an old session is still alive");
        }
        assert!(current.0.upgrade().is_some(), "the current load stays for the REPL");
        drop(interpreter);
        assert!(current.0.upgrade().is_none() && current.1.upgrade().is_none());
    }

    #[test]
    fn an_evaluation_keeps_its_engine_for_custom_steps() {
        let (_dir, project) = project(&[
            ("environments/test.rhai", ENV),
            ("services/s.rhai", SERVICE),
            ("templates/a.ini", "port = 1\n"),
        ]);
        let mut interpreter = Interpreter::new(&project);
        let evaluated = interpreter.evaluate("test").unwrap_or_else(|e| panic!("{:?}", e.0));
        let (engine, session) = interpreter.weak().expect("loaded");
        drop(interpreter);
        assert!(engine.upgrade().is_some(), "the model's custom steps still need it");
        drop(evaluated);
        assert!(engine.upgrade().is_none() && session.upgrade().is_none());
    }

    #[test]
    fn repl_lines_see_earlier_lines_and_the_environment() {
        let (_dir, project) = project(&[
            ("environments/test.rhai", ENV),
            ("services/s.rhai", SERVICE),
            ("templates/a.ini", "port = 1\n"),
        ]);
        let mut interpreter = Interpreter::new(&project);
        interpreter.evaluate("test").unwrap_or_else(|e| panic!("{:?}", e.0));
        assert_eq!(interpreter.eval_line("let x = 40;").map_err(|e| messages(&e)), Ok(None));
        assert_eq!(
            interpreter.eval_line("fn twice(n) { n * 2 }").map_err(|e| messages(&e)),
            Ok(None)
        );
        assert_eq!(
            interpreter.eval_line("twice(x) + 2").map_err(|e| messages(&e)),
            Ok(Some("82".into()))
        );
        assert_eq!(
            interpreter.eval_line("env.host(\"h\").name").ok(),
            None,
            "h is declared twice"
        );
        assert_eq!(
            interpreter.eval_line("type_of(s)").map_err(|e| messages(&e)),
            Ok(Some("Service".into()))
        );
        let err = interpreter.eval_line("x +").expect_err("a syntax error");
        assert_eq!(err.0[0].location(), "<repl:6>:1:4");
        let err = interpreter.eval_line("nope(1)").expect_err("an unknown function");
        assert_eq!(err.0[0].location(), "<repl:7>:1:1");
        assert!(err.0[0].message.contains("nope(int)"), "{}", err.0[0].message);
    }

    #[test]
    fn a_repl_without_environment_has_the_api() {
        let (_dir, project) = project(&[]);
        let mut interpreter = Interpreter::new(&project);
        assert_eq!(
            interpreter.eval_line("shell_quote(\"it's\")").map_err(|e| messages(&e)),
            Ok(Some("'it'\\''s'".into()))
        );
    }

    #[test]
    fn functions_carry_their_documentation() {
        let (_dir, project) = project(&[]);
        let functions = Interpreter::new(&project).functions();
        let find = |module: Option<&str>, name: &str| {
            functions
                .iter()
                .find(|f| f.module.as_deref() == module && f.name == name)
                .unwrap_or_else(|| panic!("{name} is listed"))
        };
        let require = find(None, "require");
        assert!(require.signature.contains("key: string"), "{}", require.signature);
        assert!(require.doc.contains("optional"), "{}", require.doc);
        for name in [
            "environment",
            "host",
            "place",
            "override",
            "service",
            "component",
            "attr",
            "provide",
            "after",
        ] {
            assert!(!find(None, name).doc.is_empty(), "{name} is documented");
        }
        let site = find(Some("ordo/web"), "site");
        assert_eq!(site.signature, "site(c, dir, spec)");
        assert!(site.doc.starts_with("Adds the document root"), "{}", site.doc);
        assert!(
            functions.iter().any(|f| f.signature.starts_with("c.root")),
            "properties read as properties"
        );
    }
}
