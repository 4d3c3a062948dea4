//! `project(#{ hooks: #{ before_deploy, after_deploy, on_failure } })`: the
//! controller's hooks (decision 61). Each point takes a command (a string), a map
//! `#{ run, environments, secrets, timeout }`, or an array of these.

use rhai::{Array, Dynamic, Map, NativeCallContext};

use super::options::Options;
use super::{RhaiResult, call_span, script_error};
use crate::project::hooks::{Hook, HookPoint, Hooks};

const EXAMPLE: &str =
    "hooks: #{ after_deploy: [\"bin/notify\", #{ run: \"bin/tag\", environments: [\"production\"] }] }";

/// The `hooks` map of `project()`.
pub(super) fn hooks(ctx: &NativeCallContext, v: Dynamic) -> RhaiResult<Hooks> {
    let Some(map) = v.clone().try_cast::<Map>() else {
        return Err(script_error(
            ctx,
            "`hooks` must be a map from a hook point to commands",
            format!("write {EXAMPLE}"),
        ));
    };
    let points: Vec<&str> = HookPoint::ALL.iter().map(|p| p.word()).collect();
    let mut o = Options::new(ctx, "project()'s hooks", map, &points)?;
    let mut out = Hooks::default();
    for point in HookPoint::ALL {
        let Some(v) = o.take(point.word()) else { continue };
        let items = match v.clone().try_cast::<Array>() {
            Some(items) => items,
            None => vec![v],
        };
        for item in items {
            out.list_mut(point).push(hook(ctx, point, item)?);
        }
    }
    Ok(out)
}

fn hook(ctx: &NativeCallContext, point: HookPoint, item: Dynamic) -> RhaiResult<Hook> {
    let empty = |what: &str| {
        script_error(
            ctx,
            format!("a `{}` hook has an empty {what}", point.word()),
            format!("write {EXAMPLE}"),
        )
    };
    if item.is_string() {
        let run = item.to_string();
        if run.trim().is_empty() {
            return Err(empty("command"));
        }
        return Ok(Hook {
            run,
            environments: Vec::new(),
            secrets: Vec::new(),
            timeout: None,
            span: call_span(ctx),
        });
    }
    let Some(map) = item.clone().try_cast::<Map>() else {
        return Err(script_error(
            ctx,
            format!(
                "a `{}` hook must be a command (a string) or a map, not {}",
                point.word(),
                crate::script::errors::type_name(item.type_name())
            ),
            format!("write {EXAMPLE}"),
        ));
    };
    let what = format!("a `{}` hook", point.word());
    let mut h = Options::new(ctx, &what, map, &["run", "environments", "secrets", "timeout"])?;
    let run = h
        .string("run")?
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| empty("`run`"))?;
    let list = |h: &mut Options, key: &str| -> RhaiResult<Vec<String>> {
        let Some(v) = h.take(key) else { return Ok(Vec::new()) };
        let items = v
            .clone()
            .try_cast::<Array>()
            .ok_or_else(|| h.wrong(key, "an array of names", &v))?;
        items
            .into_iter()
            .map(|i| {
                if i.is_string() {
                    Ok(i.to_string())
                } else {
                    Err(h.wrong(key, "an array of names", &i))
                }
            })
            .collect()
    };
    let environments = list(&mut h, "environments")?;
    let secrets = list(&mut h, "secrets")?;
    for s in &secrets {
        // It becomes part of a variable's name.
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(script_error(
                ctx,
                format!("`{s}` cannot name a secret a hook gets"),
                "use the secret's name as `ordo secrets list ENV` shows it",
            ));
        }
    }
    let timeout = match h.take("timeout") {
        None => None,
        Some(t) => match t.as_int() {
            Ok(n) if n > 0 => Some(std::time::Duration::from_secs(n as u64)),
            _ => return Err(h.wrong("timeout", "a number of seconds (> 0)", &t)),
        },
    };
    Ok(Hook {
        run,
        environments,
        secrets,
        timeout,
        span: call_span(ctx),
    })
}
