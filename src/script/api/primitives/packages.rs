//! `packages(..)`: see `primitive/packages/`.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, spec};
use crate::primitive::packages::{DOC, Packages, Wanted, check_name};
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, script_error};

struct PackagesSpec {
    present: Vec<Wanted>,
    absent: Vec<String>,
    sudo: bool,
}

impl Spec for PackagesSpec {
    fn resolve(&self, _ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        Ok(Resolved::of(Arc::new(Packages::new(
            self.present.clone(),
            self.absent.clone(),
            self.sudo,
        ))))
    }
}

/// A list of strings (or one string), each checked by `check`.
pub(super) fn strings<T>(
    ctx: &NativeCallContext,
    what: &str,
    value: Dynamic,
    check: impl Fn(&str) -> Result<T, String>,
) -> RhaiResult<Vec<T>> {
    let items = if value.is_array() {
        value.cast::<Array>()
    } else {
        vec![value]
    };
    items
        .into_iter()
        .map(|item| {
            let text = item.clone().into_immutable_string().map_err(|t| {
                script_error(
                    ctx,
                    format!("{what} lists strings, not a {t}"),
                    format!("write {what} as [\"a\", \"b\"]"),
                )
            })?;
            check(&text).map_err(|why| script_error(ctx, format!("in {what}: {why}"), DOC.example))
        })
        .collect()
}

fn build(ctx: &NativeCallContext, names: Dynamic, opts: Map) -> RhaiResult<StepSpec> {
    let option_names = DOC.option_names();
    let mut o = Options::new(ctx, "packages()", opts, &option_names)?;
    let present = strings(ctx, "packages(..)", names, Wanted::parse)?;
    let absent = match o.take("absent") {
        Some(v) => strings(ctx, "`absent`", v, |n| check_name(n).map(|()| n.to_string()))?,
        None => Vec::new(),
    };
    let sudo = o.bool("sudo")?.unwrap_or(false);
    if present.is_empty() && absent.is_empty() {
        return Err(script_error(
            ctx,
            "packages(..) lists no packages",
            "write packages([\"curl\"]) or packages([], #{ absent: [\"telnet\"] })",
        ));
    }
    if let Some(both) = present.iter().find(|w| absent.contains(&w.name)) {
        return Err(script_error(
            ctx,
            format!("package `{}` is both wanted and in `absent`", both.name),
            "list it once",
        ));
    }
    Ok(spec(ctx, PackagesSpec { present, absent, sudo }))
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("packages", |ctx: NativeCallContext, names: Dynamic| {
        build(&ctx, names, Map::new())
    });
    engine.register_fn("packages", |ctx: NativeCallContext, names: Dynamic, opts: Map| {
        build(&ctx, names, opts)
    });
}
