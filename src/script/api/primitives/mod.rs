//! The Rhai constructors of the primitives, one file per primitive. A constructor
//! checks its options against the primitive's documented option list and returns a
//! [`StepSpec`]; `c.add(spec)` resolves it on the component (root directory,
//! template rendering, project files) into the primitive itself. There is no second
//! enum mirroring the primitives.

mod cache;
mod command;
mod cron;
mod directory;
mod file;
mod migration;
mod packages;
mod program;
mod release_set;
mod resources;
mod step;
mod symlink;
mod virtualenv;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, NativeCallContext};

use super::{RhaiResult, call_span, script_error};
use crate::model::HostPath;
use crate::primitive::Action;
use crate::script::eval::build::{Once, StepRef};
use crate::script::session::Session;
use crate::source::Span;

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    engine.register_type_with_name::<StepSpec>("StepSpec");
    file::register(engine, session);
    directory::register(engine);
    symlink::register(engine);
    command::register(engine);
    program::register(engine);
    migration::register(engine);
    cache::register(engine);
    cron::register(engine);
    step::register(engine);
    packages::register(engine);
    virtualenv::register(engine);
    release_set::register(engine);
    resources::register(engine);
}

/// What a constructor returns: a step not yet placed on a component.
#[derive(Clone)]
pub(crate) struct StepSpec {
    pub(crate) spec: Arc<dyn Spec>,
    pub(crate) span: Option<Span>,
}

impl fmt::Debug for StepSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StepSpec")
    }
}

/// A primitive before it knows its component.
pub(crate) trait Spec: Send + Sync {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved>;

    /// What this spec makes, as a part of each release of a release set
    /// (`releases(..)`'s `files` and `virtualenv`), resolved like `c.add(..)`
    /// would resolve it in `ctx.dir`; `None`: it cannot be part of a release.
    fn release_part(&self, _ctx: &AddCtx<'_>) -> Option<RhaiResult<crate::primitive::release_set::Part>> {
        None
    }
}

/// The component a step is added to.
pub(crate) struct AddCtx<'a> {
    pub(crate) session: &'a Arc<Session>,
    pub(crate) call: &'a NativeCallContext<'a>,
    pub(crate) dir: &'a HostPath,
    pub(crate) host_info: &'a Dynamic,
    pub(crate) component: &'a str,
    /// The service being deployed (programs and cron blocks are named after it).
    pub(crate) service: &'a str,
    pub(crate) attributes: &'a BTreeMap<String, Dynamic>,
    pub(crate) span: Option<&'a Span>,
}

impl AddCtx<'_> {
    /// `content` with the plaintext of the secrets in it (see `secrets::vault`).
    pub(crate) fn reveal(&self, content: &[u8]) -> RhaiResult<crate::secrets::Revealed> {
        match &self.session.vault {
            Some(vault) => vault
                .reveal(content)
                .map_err(|p| super::fail(p.at(self.span, "in this step"))),
            None => Ok(crate::secrets::Revealed {
                bytes: content.to_vec(),
                masked: String::from_utf8_lossy(content).into_owned(),
                secret: false,
            }),
        }
    }

    /// `text` with its secrets revealed, when it is text a command runs: the step
    /// holds secrets then.
    pub(crate) fn reveal_text(&self, text: &str) -> RhaiResult<(String, bool)> {
        let r = self.reveal(text.as_bytes())?;
        let plain = String::from_utf8(r.bytes).map_err(|_| {
            script_error(
                self.call,
                "a secret used in a command is not text",
                "use binary secrets (keys, certificates) as a file's content, and point the command at the file",
            )
        })?;
        Ok((plain, r.secret))
    }

    /// `rel` under the component's root, refused when ordo cannot represent it.
    pub(crate) fn path(&self, what: &str, rel: &str) -> RhaiResult<HostPath> {
        if crate::secrets::has_token(rel) {
            return Err(script_error(
                self.call,
                format!("a secret cannot be part of the path of a {what}"),
                "paths are shown in every plan; keep secrets in contents and commands",
            ));
        }
        if rel.is_empty() {
            return Err(script_error(
                self.call,
                format!("{what} needs a path"),
                "give a path relative to the component's root, or one starting with `/` or `~/`",
            ));
        }
        let path = self.dir.join(rel);
        if let Err(why) = HostPath::check(rel).and_then(|()| HostPath::check(path.as_str())) {
            return Err(script_error(
                self.call,
                format!("{what} `{}` cannot be managed: {why}", crate::text::visible(rel, false)),
                "ordo's scripts and state files are line-based; rename it without newlines, tabs, backslashes, \
                 control characters or trailing spaces",
            ));
        }
        Ok(path)
    }
}

/// A resolved step and what it watches.
pub(crate) struct Resolved {
    pub(crate) action: Action,
    /// Steps whose change makes it run (`on_change`, `restart_on`, `purge_on`).
    pub(crate) on_change: Vec<StepRef>,
    /// Steps whose change only asks for a reload (`reload_on`).
    pub(crate) reload_on: Vec<StepRef>,
    /// It runs on one host only, among all instances of its component.
    pub(crate) once: Option<Once>,
}

impl Resolved {
    pub(crate) fn of(action: Action) -> Self {
        Resolved {
            action,
            on_change: Vec::new(),
            reload_on: Vec::new(),
            once: None,
        }
    }
}

pub(crate) fn spec(ctx: &NativeCallContext, spec: impl Spec + 'static) -> StepSpec {
    StepSpec {
        spec: Arc::new(spec),
        span: call_span(ctx),
    }
}

/// `on_change: [a, b]` or `on_change: a`: steps or sub-components added before.
pub(crate) fn refs(ctx: &NativeCallContext, v: Option<Dynamic>) -> RhaiResult<Vec<StepRef>> {
    refs_named(ctx, "on_change", v)
}

/// Like [`refs`], for an option of another name (`restart_on`, `purge_on`…).
pub(crate) fn refs_named(ctx: &NativeCallContext, option: &str, v: Option<Dynamic>) -> RhaiResult<Vec<StepRef>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let items = if v.is_array() { v.cast::<Array>() } else { vec![v] };
    items
        .into_iter()
        .map(|i| {
            i.clone().try_cast::<StepRef>().ok_or_else(|| {
                script_error(
                    ctx,
                    format!(
                        "`{option}` lists what c.add(..) or c.component(..) returned, not a {}",
                        i.type_name()
                    ),
                    format!("keep the value: `let conf = c.add(template(..));` then `{option}: [conf]`"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::primitive::KINDS;
    use crate::project::Project;
    use crate::script::Interpreter;

    /// The registry's promise: every primitive in `primitive::KINDS` has a Rhai
    /// constructor (a function of its documented name that returns a step), so a
    /// kind added to the list without one fails here.
    #[test]
    fn every_kind_has_a_constructor() {
        let functions = Interpreter::new(&Project {
            root: std::env::temp_dir(),
        })
        .functions();
        let mut missing = Vec::new();
        for kind in KINDS {
            let name = kind.doc.name;
            let constructs = functions
                .iter()
                .any(|f| f.module.is_none() && f.name == name && f.signature.ends_with("-> StepSpec"));
            if !constructs {
                missing.push(name);
            }
        }
        assert!(missing.is_empty(), "primitives without a constructor: {missing:?}");
    }
}
