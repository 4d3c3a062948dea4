//! The one place that calls Rhai closures after the script that created them has
//! finished: component configure functions, sub-components and custom steps.
//!
//! `FnPtr::call` only finds functions of the main AST, so a closure made inside an
//! imported module would fail later with "function not found". Keeping the native
//! call context of the call that received the closure (which carries the module's
//! functions and imports) and calling within it works everywhere. The API is marked
//! volatile by Rhai, hence this single wrapper.

#![allow(deprecated)]

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext, NativeCallContextStore};

#[derive(Clone)]
pub(crate) struct Callback {
    f: FnPtr,
    origin: std::sync::Arc<NativeCallContextStore>,
    /// The script the closure was written in, for error locations.
    source: Option<String>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Callback")
    }
}

impl Callback {
    pub(crate) fn new(ctx: &NativeCallContext, f: FnPtr) -> Self {
        Callback {
            f,
            origin: std::sync::Arc::new(ctx.store_data()),
            source: ctx.call_source().map(str::to_string),
        }
    }

    pub(crate) fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    pub(crate) fn call(&self, engine: &Engine, arg: Dynamic) -> Result<Dynamic, Box<EvalAltResult>> {
        let ctx = self.origin.create_context(engine);
        self.f.call_within_context::<Dynamic>(&ctx, (arg,))
    }
}
