//! `directory(..)`: see `primitive/directory.rs`.

use std::sync::Arc;

use rhai::{Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, spec};
use crate::primitive::directory::{DOC, Directory};
use crate::primitive::owner::Ownership;
use crate::script::api::RhaiResult;
use crate::script::api::document;
use crate::script::api::options::Options;

struct DirectorySpec {
    path: String,
    mode: Option<u32>,
    owner: Option<Ownership>,
    sudo: bool,
}

impl Spec for DirectorySpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        Ok(Resolved::of(Arc::new(Directory {
            path: ctx.path("directory", &self.path)?,
            name: self.path.clone(),
            mode: self.mode,
            owner: self.owner.clone(),
            sudo: self.sudo,
        })))
    }
}

pub(super) fn register(engine: &mut Engine) {
    document(
        engine,
        "directory",
        &["path: string", "StepSpec"],
        DOC.summary,
        |ctx: NativeCallContext, path: &str| {
            spec(
                &ctx,
                DirectorySpec {
                    path: path.into(),
                    mode: None,
                    owner: None,
                    sudo: false,
                },
            )
        },
    );
    document(
        engine,
        "directory",
        &["path: string", "options: map", "StepSpec"],
        DOC.summary,
        |ctx: NativeCallContext, path: &str, opts: Map| -> RhaiResult<StepSpec> {
            let names = DOC.option_names();
            let mut o = Options::new(&ctx, "directory()", opts, &names)?;
            let mode = o.mode("mode")?;
            let owner = super::file::ownership(&ctx, &mut o)?;
            let sudo = o.bool("sudo")?.unwrap_or(false);
            Ok(spec(
                &ctx,
                DirectorySpec {
                    path: path.into(),
                    mode,
                    owner,
                    sudo,
                },
            ))
        },
    );
}
