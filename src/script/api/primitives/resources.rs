//! `resources(..)`: see `primitive/resources.rs`.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, spec};
use crate::primitive::resources::{DOC, Disk, Resources, parse_size};
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, script_error};

struct ResourcesSpec {
    /// (path as written, bytes)
    disk: Vec<(Option<String>, u64)>,
    memory: Option<u64>,
    cpus: Option<u64>,
    ports: Vec<u16>,
    sudo: bool,
}

impl Spec for ResourcesSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        let disk = self
            .disk
            .iter()
            .map(|(path, free)| {
                Ok(Disk {
                    path: match path {
                        Some(p) => ctx.path("resources disk", p)?,
                        None => ctx.dir.clone(),
                    },
                    free: *free,
                })
            })
            .collect::<RhaiResult<Vec<_>>>()?;
        let mut r = Resources {
            name: String::new(),
            disk,
            memory: self.memory,
            cpus: self.cpus,
            ports: self.ports.clone(),
            sudo: self.sudo,
        };
        r.name = r.describe();
        Ok(Resolved::of(Arc::new(r)))
    }
}

fn size(ctx: &NativeCallContext, what: &str, v: &Dynamic) -> RhaiResult<u64> {
    let parsed = if let Ok(i) = v.as_int() {
        u64::try_from(i).ok()
    } else if v.is_string() {
        parse_size(&v.to_string())
    } else {
        None
    };
    parsed.ok_or_else(|| {
        script_error(
            ctx,
            format!("{what} must be a size such as \"5 GiB\" or \"512 MiB\", not {v}"),
            "units: KiB, MiB, GiB, TiB (or K, M, G, T), KB, MB, GB, TB; a plain number is bytes",
        )
    })
}

fn build(ctx: &NativeCallContext, opts: Map) -> RhaiResult<StepSpec> {
    let names = DOC.option_names();
    let mut o = Options::new(ctx, "resources()", opts, &names)?;
    let mut disk = Vec::new();
    if let Some(d) = o.take("disk") {
        let items = if d.is_array() { d.cast::<Array>() } else { vec![d] };
        for item in items {
            let Some(mut m) = item.clone().try_cast::<Map>() else {
                return Err(o.wrong("disk", "#{ path: \"~\", free: \"5 GiB\" } (or an array of them)", &item));
            };
            let free = m.remove("free").ok_or_else(|| {
                script_error(
                    ctx,
                    "`disk` needs `free`",
                    "write disk: #{ path: \"~\", free: \"5 GiB\" }",
                )
            })?;
            let free = size(ctx, "`free`", &free)?;
            let path = match m.remove("path") {
                Some(p) if p.is_string() => Some(p.to_string()),
                Some(p) => return Err(o.wrong("disk", "a map whose `path` is a string", &p)),
                None => None,
            };
            if let Some(k) = m.keys().next() {
                return Err(script_error(
                    ctx,
                    format!("unknown key `{k}` in `disk`"),
                    "`disk` takes `path` and `free`",
                ));
            }
            disk.push((path, free));
        }
    }
    let memory = o.take("memory").map(|m| size(ctx, "`memory`", &m)).transpose()?;
    let cpus = match o.take("cpus") {
        None => None,
        Some(v) => match v.as_int() {
            Ok(n) if n > 0 => Some(n.unsigned_abs()),
            _ => return Err(o.wrong("cpus", "a number of CPUs (> 0)", &v)),
        },
    };
    let mut ports = Vec::new();
    if let Some(p) = o.take("ports") {
        let items = if p.is_array() { p.cast::<Array>() } else { vec![p] };
        for item in items {
            match item
                .as_int()
                .ok()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|&n| n > 0)
            {
                Some(port) => ports.push(port),
                None => return Err(o.wrong("ports", "an array of TCP ports (1–65535)", &item)),
            }
        }
    }
    let sudo = o.bool("sudo")?.unwrap_or(false);
    if disk.is_empty() && memory.is_none() && cpus.is_none() && ports.is_empty() {
        return Err(script_error(ctx, "resources(..) asks for nothing", DOC.example));
    }
    Ok(spec(
        ctx,
        ResourcesSpec {
            disk,
            memory,
            cpus,
            ports,
            sudo,
        },
    ))
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("resources", |ctx: NativeCallContext, opts: Map| build(&ctx, opts));
}
