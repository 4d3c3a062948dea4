//! `step(..)`: a custom step with verify/update written in Rhai (see
//! `primitive/custom.rs` and `script/custom.rs`).

use std::sync::Arc;

use rhai::{Engine, FnPtr, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, refs, spec};
use crate::primitive::custom::{Custom, DOC};
use crate::script::api::document;
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, script_error};
use crate::script::callback::Callback;
use crate::script::custom::RhaiStep;
use crate::script::eval::build::StepRef;

struct CustomSpec {
    name: String,
    verify: Callback,
    update: Callback,
    on_change: Vec<StepRef>,
}

impl Spec for CustomSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        let step = RhaiStep::new(
            ctx.session.clone(),
            self.verify.clone(),
            self.update.clone(),
            ctx.dir.to_string(),
        );
        Ok(Resolved {
            action: Arc::new(Custom {
                name: self.name.clone(),
                step: Arc::new(step),
            }),
            on_change: self.on_change.clone(),
            reload_on: Vec::new(),
            once: None,
        })
    }
}

pub(super) fn register(engine: &mut Engine) {
    document(
        engine,
        "step",
        &["name: string", "options: map", "StepSpec"],
        DOC.summary,
        |ctx: NativeCallContext, name: &str, opts: Map| -> RhaiResult<StepSpec> {
            let names = DOC.option_names();
            let mut o = Options::new(&ctx, "step()", opts, &names)?;
            let mut callback = |key: &str| -> RhaiResult<Callback> {
                match o.take(key) {
                    Some(f) if f.is_fnptr() => Ok(Callback::new(&ctx, f.cast::<FnPtr>())),
                    Some(f) => Err(o.wrong(key, "a function such as |host| { … }", &f)),
                    None => Err(script_error(
                        &ctx,
                        format!("step(\"{name}\") needs `{key}`"),
                        "write step(\"name\", #{ verify: |host| host.try_run(\"test -e x\").ok, update: |host| host.run(\"touch x\") })",
                    )),
                }
            };
            let verify = callback("verify")?;
            let update = callback("update")?;
            let on_change = refs(&ctx, o.take("on_change"))?;
            Ok(spec(
                &ctx,
                CustomSpec {
                    name: name.into(),
                    verify,
                    update,
                    on_change,
                },
            ))
        },
    );
}
