//! Custom steps: verify and update closures written in Rhai, called at deploy time
//! on a blocking thread with a `host` value whose `run(cmd)` executes on the host.

use std::sync::Arc;

use rhai::{Dynamic, EvalAltResult, Map};

use super::callback::Callback;
use super::session::Session;
use crate::model::{CustomStep, HostIo};
use crate::problem::{Kind, Problem};

pub(crate) struct RhaiStep {
    session: Arc<Session>,
    verify: Callback,
    update: Callback,
    root: String,
}

impl std::fmt::Debug for RhaiStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RhaiStep")
    }
}

impl RhaiStep {
    pub(crate) fn new(session: Arc<Session>, verify: Callback, update: Callback, root: String) -> Self {
        RhaiStep {
            session,
            verify,
            update,
            root,
        }
    }

    fn call(&self, f: &Callback, host: Arc<dyn HostIo>) -> Result<Dynamic, Problem> {
        let engine = self.session.engine.get().expect("engine is set before deploy");
        let handle = HostHandle {
            io: host,
            root: self.root.clone(),
        };
        f.call(engine, Dynamic::from(handle))
            .map_err(|e| super::diagnostic::from_eval(e, f.source()).with_sources(&self.session.sources))
    }
}

impl CustomStep for RhaiStep {
    fn verify(&self, host: Arc<dyn HostIo>) -> Result<bool, Problem> {
        let v = self.call(&self.verify, host)?;
        v.as_bool().map_err(|t| {
            Problem::new(Kind::Script, format!("verify returned a {t}, not true or false"))
                .help("verify returns true when the host is already right")
        })
    }

    fn update(&self, host: Arc<dyn HostIo>) -> Result<(), Problem> {
        self.call(&self.update, host).map(|_| ())
    }
}

/// The `host` a custom step's closure receives.
#[derive(Clone)]
pub(crate) struct HostHandle {
    io: Arc<dyn HostIo>,
    root: String,
}

pub(crate) fn register(engine: &mut rhai::Engine) {
    engine.register_type_with_name::<HostHandle>("HostIo");
    engine.register_get("root", |h: &mut HostHandle| h.root.clone());
    engine.register_get("name", |h: &mut HostHandle| h.io.host_name().to_string());
    engine.register_fn(
        "run",
        |h: &mut HostHandle, cmd: &str| -> Result<Map, Box<EvalAltResult>> {
            // Commands run in the component's root when it exists, so relative paths work.
            let root = crate::model::HostPath::new(&h.root)
                .map(|p| p.shell())
                .unwrap_or_default();
            let out = h.io.run(&format!("cd {root} 2>/dev/null\n{cmd}")).map_err(|p| {
                Box::new(EvalAltResult::ErrorRuntime(
                    Dynamic::from(super::api::ProblemValue(Box::new(p))),
                    rhai::Position::NONE,
                ))
            })?;
            let mut m = Map::new();
            m.insert("ok".into(), Dynamic::from_bool(out.code == 0));
            m.insert("code".into(), Dynamic::from_int(i64::from(out.code)));
            m.insert("stdout".into(), out.stdout.into());
            m.insert("stderr".into(), out.stderr.into());
            Ok(m)
        },
    );
}
