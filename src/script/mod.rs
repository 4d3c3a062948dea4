//! Stage 1 and 2: load the project's Rhai scripts and evaluate them into a
//! [`Model`]. Rhai lives here and nowhere else; what leaves is plain Rust.

mod api;
mod assemble;
mod callback;
mod configure;
mod custom;
mod diagnostic;
mod engine;
mod resolver;
mod session;
pub mod stdlib;
mod template;

use std::sync::Arc;

use crate::model::Model;
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::source::SourceMap;

pub use engine::MAX_OPERATIONS;

/// The evaluated project. Keeps the script session alive: custom steps call back
/// into the engine at deploy time.
pub struct Evaluated {
    pub model: Arc<Model>,
    pub sources: SourceMap,
    _session: Arc<session::Session>,
}

/// Loads `ordo.rhai` (if any), `environments/<env>.rhai` and the service it names,
/// then configures every component placed on a host.
pub fn evaluate(project: &Project, env: &str) -> Result<Evaluated, Problems> {
    let sources = SourceMap::default();
    let session = session::Session::new(project.root.clone(), sources.clone());
    let result = evaluate_in(project, env, &session);
    result
        .map(|model| Evaluated {
            model: Arc::new(model),
            sources: sources.clone(),
            _session: session.clone(),
        })
        .map_err(|Problems(ps)| Problems(ps.into_iter().map(|p| p.with_sources(&sources)).collect()))
}

fn evaluate_in(project: &Project, env: &str, session: &Arc<session::Session>) -> Result<Model, Problems> {
    // ordo.rhai first: it may add library paths the resolver needs.
    let settings = project.root.join("ordo.rhai");
    let bootstrap = engine::build(
        session,
        resolver::Resolver::new(&project.root, Vec::new(), session.sources.clone()),
    );
    if settings.exists() {
        run_file(&bootstrap, session, project, "ordo.rhai")?;
    }
    let library = session.decl().library.clone();
    let engine = Arc::new(engine::build(
        session,
        resolver::Resolver::new(&project.root, library, session.sources.clone()),
    ));
    let _ = session.engine.set(engine.clone());

    let env_file = format!("environments/{env}.rhai");
    if !project.root.join(&env_file).exists() {
        let known = project.environments();
        let list = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        return Err(Problem::new(
            Kind::Project,
            format!("no environment `{env}` in {}", project.root.display()),
        )
        .help(format!(
            "environments are files environments/<name>.rhai; this project has: {list}"
        ))
        .into());
    }
    run_file(&engine, session, project, &env_file)?;
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
        if !project.root.join(&file).exists() {
            let span = session.decl().environment.as_ref().and_then(|e| e.span.clone());
            return Err(
                Problem::new(Kind::Project, format!("service `{service}` is not declared"))
                    .at(span.as_ref(), "named here")
                    .help(format!("create {file} with: let svc = service(\"{service}\");"))
                    .into(),
            );
        }
        run_file(&engine, session, project, &file)?;
        if !session.decl().services.iter().any(|s| s.name == service) {
            return Err(
                Problem::new(Kind::Script, format!("{file} does not declare service `{service}`"))
                    .help(format!("add: let svc = service(\"{service}\");"))
                    .into(),
            );
        }
    }
    configure::configure(&engine, session, &service)
}

fn run_file(engine: &rhai::Engine, session: &session::Session, project: &Project, name: &str) -> Result<(), Problems> {
    let text = std::fs::read_to_string(project.root.join(name))
        .map_err(|e| Problem::new(Kind::Project, format!("cannot read {name}: {e}")))?;
    session.sources.insert(name, &text);
    let mut ast = engine.compile(&text).map_err(|e| diagnostic::from_parse(e, name))?;
    ast.set_source(name);
    engine
        .run_ast(&ast)
        .map_err(|e| diagnostic::from_eval(e, Some(name)).into())
}
