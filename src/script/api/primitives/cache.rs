//! `cache(..)`: see `primitive/cache.rs`.

use std::sync::Arc;

use rhai::{Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, refs_named, spec};
use crate::primitive::cache::{self, Cache};
use crate::script::api::RhaiResult;
use crate::script::api::options::Options;
use crate::script::eval::build::StepRef;

struct CacheSpec {
    path: String,
    mode: Option<u32>,
    purge_on: Vec<StepRef>,
}

impl Spec for CacheSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        Ok(Resolved {
            action: Arc::new(Cache {
                name: self.path.clone(),
                path: ctx.path("cache", &self.path)?,
                mode: self.mode,
                purge_on: self.purge_on.iter().map(|r| r.name.clone()).collect(),
            }),
            on_change: self.purge_on.clone(),
            reload_on: Vec::new(),
            once: None,
        })
    }
}

pub(super) fn register(engine: &mut Engine) {
    let cache_fn = |ctx: NativeCallContext, path: &str, opts: Map| -> RhaiResult<StepSpec> {
        let names = cache::DOC.option_names();
        let mut o = Options::new(&ctx, "cache()", opts, &names)?;
        let mode = o.mode("mode")?;
        let purge_on = refs_named(&ctx, "purge_on", o.take("purge_on"))?;
        Ok(spec(
            &ctx,
            CacheSpec {
                path: path.into(),
                mode,
                purge_on,
            },
        ))
    };
    engine.register_fn("cache", cache_fn);
    engine.register_fn("cache", move |ctx: NativeCallContext, path: &str| {
        cache_fn(ctx, path, Map::new())
    });
}
