//! The controller's hooks around `ordo deploy` and `ordo rollback` (decision 61):
//! the commands `ordo.rhai` declares (`project(#{ hooks })`, read from the checkout
//! ordo runs in, also with `--rev`), run on this machine with `sh -c` in that
//! checkout — `before_deploy` before any host is contacted (a failure stops the
//! run: no host connected, locked or recorded), `on_failure` then `after_deploy`
//! once it ended.
//!
//! A hook gets the run in `ORDO_*` variables and, as one JSON object, on stdin.
//! It runs through the local transport, so it has what every script ordo starts
//! has: a process group of its own stopped on timeout or Ctrl-C (before the
//! deploy) and when ordo dies, the age key out of its environment, its output
//! kept as the last MiB of each stream and shown through the one redaction point.
//! It sees a decrypted secret only when the hook names it (`secrets: [..]`).

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;

use crate::problem::{Kind, Problem, Problems};
use crate::project::hooks::{Hook, HookPoint, Hooks};
use crate::report::{Event, Stream};
use crate::transport::{CancelToken, ExecOptions, Local, OutputPolicy, Transport};
use crate::workspace::Workspace;

/// What every hook of a run is told (the point and, after the deploy, the
/// result are added per call).
#[derive(Clone, Debug)]
pub(crate) struct Context {
    pub(crate) environment: String,
    pub(crate) service: String,
    /// `deploy` or `rollback`.
    pub(crate) command: String,
    pub(crate) run: String,
    pub(crate) commit: Option<String>,
    pub(crate) dirty: bool,
    /// `--rev` as typed.
    pub(crate) rev: Option<String>,
    pub(crate) rollback_to: Option<String>,
    /// The targeted hosts, in host order.
    pub(crate) hosts: Vec<String>,
    /// The plan's counts; `None` before the plan (`before_deploy`, or a run that
    /// stopped before it): the variables are unset, the JSON has `null`.
    pub(crate) changes: Option<usize>,
    pub(crate) unchanged: Option<usize>,
}

/// How the deploy ended, for the hooks after it.
#[derive(Clone, Debug)]
pub(crate) struct Finished {
    /// `ok`, `failed`, `interrupted` or `not_applied` (no change began: declined,
    /// conflicts, a host locked or unreachable).
    pub(crate) result: &'static str,
    /// Each host and how the run ended there (`None`: never planned).
    pub(crate) hosts: Vec<(String, Option<&'static str>)>,
    pub(crate) changed: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
    pub(crate) duration_ms: u64,
}

/// The hooks of `ordo.rhai` in the checkout ordo runs in; a broken `ordo.rhai`
/// is the error it would be anyway.
pub(crate) fn declared(ws: &Workspace) -> Result<Hooks, Problems> {
    if !ws.origin.root.join("ordo.rhai").is_file() {
        return Ok(Hooks::default());
    }
    crate::script::declared_hooks(&ws.origin)
}

/// Runs the hooks of `point` for the run. `before_deploy`: the first failure
/// stops (and is the result), Ctrl-C stops it. The others all run, after an
/// interruption too (a second signal ends ordo and them); their failures are
/// returned together.
pub(crate) async fn run(
    ws: &Workspace,
    hooks: &Hooks,
    point: HookPoint,
    ctx: &Context,
    result: Option<&Finished>,
) -> Result<(), Problems> {
    let list = hooks.at(point, &ctx.environment);
    if list.is_empty() {
        return Ok(());
    }
    let mut problems = Vec::new();
    for hook in list {
        if let Err(p) = run_one(ws, hook, point, ctx, result).await {
            problems.push(p);
            if point == HookPoint::BeforeDeploy {
                break;
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

async fn run_one(
    ws: &Workspace,
    hook: &Hook,
    point: HookPoint,
    ctx: &Context,
    result: Option<&Finished>,
) -> Result<(), Problem> {
    let started = Instant::now();
    let secrets = secrets(ws, hook, ctx)?;
    let script = script(ws, hook, point, ctx, result, &secrets);
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let local = Local::new(&format!("{} hook", point.word()), home);
    let cancel = if point == HookPoint::BeforeDeploy {
        ws.settings().cancel
    } else {
        // After the deploy, an interruption has happened already; the timeout and
        // a second signal still end the hook.
        CancelToken::new()
    };
    let options = ExecOptions::default()
        .timeout(hook.timeout.unwrap_or(ws.config.timeout))
        .output(OutputPolicy::Tail { keep_bytes: 1 << 20 })
        .cancel(&cancel);
    let out = local.exec(script, &options).await;
    let label = format!("{} hook", point.word());
    let (code, error) = match &out {
        Ok(o) => (Some(o.code), None),
        Err(e) => (None, Some(e.problem().message)),
    };
    ws.reporter.event(&Event::Hook {
        hook: point.word().to_string(),
        command: hook.run.clone(),
        code,
        error: error.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
    });
    if let Ok(o) = &out {
        ws.reporter.output(&label, Stream::Stdout, &o.stdout);
        ws.reporter.output(&label, Stream::Stderr, &o.stderr);
    }
    let failed = |why: String| {
        let mut p = Problem::new(
            Kind::Step,
            format!(
                "the {} hook `{}` {why}",
                point.word(),
                crate::text::visible(&hook.run, false)
            ),
        )
        .help(match point {
            HookPoint::BeforeDeploy => {
                "no host was contacted; fix the hook (ordo.rhai, `hooks`) or what it checks, then deploy again"
            }
            _ => "the deploy itself is over (see its summary); the hook's output is above",
        });
        if let Some(span) = &hook.span {
            p = p.at(Some(span), "declared here");
        }
        p
    };
    match (code, error) {
        (Some(0), _) => Ok(()),
        (Some(c), _) => Err(failed(format!("failed with exit code {c}"))),
        (None, Some(e)) => Err(failed(format!("did not finish: {e}"))),
        (None, None) => Err(failed("did not finish".into())),
    }
}

/// The secrets the hook names, decrypted (from the checkout ordo runs in) — and
/// only those.
fn secrets(ws: &Workspace, hook: &Hook, ctx: &Context) -> Result<Vec<(String, Vec<u8>)>, Problem> {
    if hook.secrets.is_empty() {
        return Ok(Vec::new());
    }
    let store = crate::secrets::SecretStore::open(&ws.origin.root, &ctx.environment)?;
    let ids = crate::secrets::Identities::discover()?;
    let all = crate::secrets::decrypt_masked(&store, &ids, &ws.redactor)?;
    hook.secrets
        .iter()
        .map(|name| {
            all.value(name)
                .map(|v| (name.clone(), v.expose().to_vec()))
                .ok_or_else(|| {
                    Problem::new(
                        Kind::Secrets,
                        format!(
                            "a hook asks for secret `{name}`, which environment `{}` does not have",
                            ctx.environment
                        ),
                    )
                    .help(format!(
                        "add it with `ordo secrets set {} {name}`, or remove it from the hook",
                        ctx.environment
                    ))
                })
        })
        .collect()
}

/// `ORDO_SECRET_DB_PASSWORD` for `db_password` (`db.password`, `db-password`).
fn secret_variable(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("ORDO_SECRET_{upper}")
}

/// A host's result for the hooks when the run went on without it
/// (`--skip-unreachable`): it was never planned, nothing was recorded there.
pub(crate) const UNREACHABLE: &str = "unreachable";

/// The variables a hook gets, and the same as JSON.
fn variables(
    point: HookPoint,
    ctx: &Context,
    result: Option<&Finished>,
) -> (BTreeMap<&'static str, String>, serde_json::Value) {
    let mut v = BTreeMap::new();
    v.insert("ORDO_HOOK", point.word().to_string());
    v.insert("ORDO_ENVIRONMENT", ctx.environment.clone());
    v.insert("ORDO_SERVICE", ctx.service.clone());
    v.insert("ORDO_COMMAND", ctx.command.clone());
    v.insert("ORDO_RUN", ctx.run.clone());
    v.insert("ORDO_REVISION", ctx.commit.clone().unwrap_or_default());
    v.insert("ORDO_DIRTY", if ctx.dirty { "1" } else { "0" }.to_string());
    v.insert("ORDO_REV", ctx.rev.clone().unwrap_or_default());
    v.insert("ORDO_ROLLBACK_TO", ctx.rollback_to.clone().unwrap_or_default());
    v.insert("ORDO_BY", crate::sys::operator());
    v.insert("ORDO_HOSTS", ctx.hosts.join(" "));
    // Unknown before the plan: unset rather than a 0 that would be a lie.
    if let (Some(changes), Some(unchanged)) = (ctx.changes, ctx.unchanged) {
        v.insert("ORDO_CHANGES", changes.to_string());
        v.insert("ORDO_UNCHANGED", unchanged.to_string());
    }
    let mut j = json!({
        "hook": point.word(),
        "environment": ctx.environment,
        "service": ctx.service,
        "command": ctx.command,
        "run": ctx.run,
        "revision": ctx.commit,
        "dirty": ctx.dirty,
        "rev": ctx.rev,
        "rollback_to": ctx.rollback_to,
        "by": crate::sys::operator(),
        "changes": ctx.changes,
        "unchanged": ctx.unchanged,
    });
    match result {
        None => {
            j["hosts"] = json!(ctx.hosts.iter().map(|h| json!({ "host": h })).collect::<Vec<_>>());
        }
        Some(r) => {
            v.insert("ORDO_RESULT", r.result.to_string());
            v.insert("ORDO_CHANGED", r.changed.to_string());
            v.insert("ORDO_FAILED", r.failed.to_string());
            v.insert("ORDO_SKIPPED", r.skipped.to_string());
            v.insert("ORDO_DURATION_MS", r.duration_ms.to_string());
            // The hosts a `--skip-unreachable` run went on without: the result is
            // about the others, so they are said apart (empty when none).
            let unreachable: Vec<&str> = r
                .hosts
                .iter()
                .filter(|(_, w)| *w == Some(UNREACHABLE))
                .map(|(h, _)| h.as_str())
                .collect();
            v.insert("ORDO_UNREACHABLE", unreachable.join(" "));
            j["result"] = json!(r.result);
            j["changed"] = json!(r.changed);
            j["failed"] = json!(r.failed);
            j["skipped"] = json!(r.skipped);
            j["duration_ms"] = json!(r.duration_ms);
            j["hosts"] = json!(
                r.hosts
                    .iter()
                    .map(|(h, result)| json!({ "host": h, "result": result }))
                    .collect::<Vec<_>>()
            );
        }
    }
    (v, j)
}

/// The script the local transport runs: into the checkout, the variables, then
/// the hook with the JSON on its stdin (one line, so no line of it can end the
/// here-document early).
fn script(
    ws: &Workspace,
    hook: &Hook,
    point: HookPoint,
    ctx: &Context,
    result: Option<&Finished>,
    secrets: &[(String, Vec<u8>)],
) -> String {
    let q = crate::shell::quote_always;
    let (vars, json) = variables(point, ctx, result);
    let mut s = format!("cd -- {} || exit 97\n", q(&ws.origin.root.to_string_lossy()));
    for (k, v) in vars {
        s.push_str(&format!("export {k}={}\n", q(&v)));
    }
    for (name, value) in secrets {
        s.push_str(&format!(
            "export {}={}\n",
            secret_variable(name),
            q(&String::from_utf8_lossy(value))
        ));
    }
    s.push_str(&format!(
        "sh -c {} ordo-hook <<'ORDO_HOOK_INPUT'\n{}\nORDO_HOOK_INPUT\n",
        q(&hook.run),
        serde_json::to_string(&json).expect("JSON serialises")
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_become_variable_names() {
        assert_eq!(secret_variable("db_password"), "ORDO_SECRET_DB_PASSWORD");
        assert_eq!(secret_variable("chat.token-2"), "ORDO_SECRET_CHAT_TOKEN_2");
    }
}
