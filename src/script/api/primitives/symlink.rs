//! `symlink(..)`: see `primitive/symlink.rs`.

use std::sync::Arc;

use rhai::{Engine, NativeCallContext};

use super::{AddCtx, Resolved, Spec, spec};
use crate::model::HostPath;
use crate::primitive::symlink::{DOC, Symlink};
use crate::script::api::document;
use crate::script::api::{RhaiResult, script_error};

struct SymlinkSpec {
    path: String,
    target: String,
}

impl Spec for SymlinkSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        let path = ctx.path("symlink", &self.path)?;
        if crate::secrets::has_token(&self.target) {
            return Err(script_error(
                ctx.call,
                "a secret cannot be the target of a symlink",
                "link targets are shown in every plan; keep secrets in contents and commands",
            ));
        }
        if let Err(why) = HostPath::check(&self.target).and_then(|()| {
            if self.target.is_empty() {
                Err("it is empty".to_string())
            } else {
                Ok(())
            }
        }) {
            return Err(script_error(
                ctx.call,
                format!(
                    "the target of symlink `{}` cannot be used: {why}",
                    crate::text::visible(&self.path, false)
                ),
                "give a target without newlines, tabs, backslashes, control characters or trailing spaces",
            ));
        }
        Ok(Resolved::of(Arc::new(Symlink {
            name: self.path.clone(),
            path,
            target: self.target.clone(),
        })))
    }
}

pub(super) fn register(engine: &mut Engine) {
    document(
        engine,
        "symlink",
        &["path: string", "target: string", "StepSpec"],
        DOC.summary,
        |ctx: NativeCallContext, path: &str, target: &str| {
            spec(
                &ctx,
                SymlinkSpec {
                    path: path.into(),
                    target: target.into(),
                },
            )
        },
    );
}
