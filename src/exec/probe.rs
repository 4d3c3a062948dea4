//! The probe of one host: the primitives' questions, the parents of managed paths
//! (so nothing is written through a symlinked directory), pending markers, the lock,
//! the recorded state and the list of what ordo created — one script, one round trip.

use std::time::Duration;

use super::lock::{self, LockInfo, LockStatus};
use super::state::{HostState, Owned, owned_file, pending_marker, reload_marker, state_dir, state_file};
use crate::model::{HostId, HostPath, Model, StepId};
use crate::plan::Plan;
use crate::primitive::StepCtx;
use crate::shell::probe::{Facts, ProbeError, ProbeScript};
use crate::shell::word;

/// What a probe found, beyond the facts of the steps.
pub(super) struct HostProbe {
    pub(super) facts: Facts,
    pub(super) lock: LockStatus,
    pub(super) state: Option<HostState>,
    pub(super) owned: Vec<Owned>,
    /// A retired host's: what its state directory holds besides the lock (names).
    pub(super) left: Vec<String>,
    /// Paths the host's list of what ordo created names outside the roots, which
    /// no step declares: not removed (the list is the host's word), but said.
    pub(super) outside: Vec<HostPath>,
}

/// The directories between a component's root (exclusive) and a managed path
/// (exclusive): ordo must not write through any of them if it is a symlink.
pub(super) fn parents_below(path: &HostPath, root: &HostPath) -> Vec<HostPath> {
    if !path.is_below(root) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut dir = path.split().0;
    while dir.is_below(root) {
        out.push(dir.clone());
        dir = dir.split().0;
    }
    out
}

/// The probe script of `host` (its steps in plan order); `lock` takes the deploy
/// lock; `history`: lines that run once the lock is taken (or right away when
/// none is) — the deploy history's begin line, or reading the history.
pub(super) fn script(
    model: &Model,
    plan: &Plan,
    host: HostId,
    lock: Option<&LockInfo>,
    history: &str,
    timeout: Duration,
) -> String {
    let mut probe = ProbeScript::new(timeout);
    let state = super::state::state_dir(&model.service);
    for &s in &plan.per_host[host] {
        let step = &model.steps[s];
        let root = &model.components[step.component].root;
        let ctx = StepCtx {
            id: s,
            root,
            trigger: None,
            reload_only: false,
            marker: None,
            timeout,
            state: &state,
        };
        step.action.probe(&ctx, &mut probe);
        crate::primitive::access::probe(step.action.as_ref(), &mut probe);
        // Custom steps' commands run in the root, which their update needs to exist.
        if step.action.controller().is_some() {
            probe.stat(root);
        }
        if let Some(m) = step.action.managed() {
            for p in parents_below(&m.path, root) {
                probe.stat(&p);
            }
        }
        if watches(model, s) {
            probe.exists(s, "pending", &pending_marker(model, s));
            if !step.reloads.is_empty() {
                probe.exists(s, "pending-reload", &reload_marker(model, s));
            }
        }
    }
    probe.owned(&owned_file(&model.service));
    let mut head = lock::probe_head(&model.service, lock);
    head.push_str(history);
    // Unreadable, the host would count as never deployed: taken over by any
    // environment, its records forgotten.
    head.push_str(&crate::shell::probe::record_line("state", &state_file(&model.service)));
    if model.hosts[host].retired {
        // What the teardown's last step removes: everything but the lock.
        let d = word(&state_dir(&model.service));
        head.push_str(&format!(
            "if [ -d {d} ]; then printf 'left '; for f in {d}/* {d}/.[!.]* {d}/..?*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then [ \"$f\" = {d}/lock ] || printf '%s\\n' \"${{f##*/}}\"; fi; done | base64 -w0; echo; fi\n"
        ));
    }
    probe.render(&head)
}

/// Whether a step runs when steps it watches change (and so has a pending marker).
pub(super) fn watches(model: &Model, s: StepId) -> bool {
    let step = &model.steps[s];
    !step.triggers.is_empty() && step.action.reacts_to_changes()
}

/// Reads a probe's output. The lock status is read first and returned even when the
/// rest cannot be read, so a lock that was taken is always known.
pub(super) fn parse(model: &Model, stdout: &str) -> (LockStatus, Result<HostProbe, ProbeError>) {
    let lock_lines: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(t, _)| *t == "lock")
        .map(|(t, r)| (t.to_string(), r.to_string()))
        .collect();
    let (lock, _) = lock::status(&lock_lines);
    let facts = match Facts::parse(stdout) {
        Ok(f) => f,
        Err(e) => return (lock, Err(e)),
    };
    let state = match facts.extra.iter().find(|(t, _)| t == "state") {
        None => None,
        Some((_, rest)) => {
            let read = crate::shell::decode(rest)
                .ok_or_else(|| "not base64".to_string())
                .and_then(|b| serde_json::from_slice::<HostState>(&b).map_err(|e| e.to_string()));
            match read {
                Ok(s) => Some(s),
                Err(e) => {
                    let file = state_file(&model.service);
                    return (
                        lock,
                        Err(ProbeError(
                            format!("{file}, the record of the last deploy, is not one ordo wrote: {e}"),
                            Some(
                                "ordo reads it to know what this host runs and which environment deployed it; restore it, or remove it if the host should count as never deployed"
                                    .to_string(),
                            ),
                        )),
                    );
                }
            }
        }
    };
    // What ordo created is removed only below a directory the model names as a
    // component's or a host's root — so that a host whose last component moved
    // away, or a retired host, is cleaned up too — or ordo's own state directory
    // (the records of programs and cron blocks). A record elsewhere is not trusted.
    let mut roots: Vec<HostPath> = model
        .components
        .iter()
        .map(|c| c.root.clone())
        .chain(model.hosts.iter().map(|h| h.root.clone()))
        .chain([state_dir(&model.service)])
        .collect();
    roots.sort();
    roots.dedup();
    let owned = facts
        .owned
        .as_deref()
        .map(|t| Owned::parse(t, &roots))
        .unwrap_or_default();
    let anywhere = [HostPath::new("/").expect("root"), HostPath::new("~").expect("home")];
    let outside = facts
        .owned
        .as_deref()
        .map(|t| Owned::parse(t, &anywhere))
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.path)
        .filter(|p| !owned.iter().any(|o| &o.path == p))
        .collect();
    let left = facts
        .extra
        .iter()
        .find(|(t, _)| t == "left")
        .and_then(|(_, rest)| crate::shell::decode(rest))
        .map(|b| String::from_utf8_lossy(&b).lines().map(str::to_string).collect())
        .unwrap_or_default();
    (
        lock.clone(),
        Ok(HostProbe {
            facts,
            lock,
            state,
            owned,
            left,
            outside,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_below_the_root() {
        let root = HostPath::new("~/d").unwrap();
        let got = parents_below(&root.join("a/b/c.conf"), &root);
        let want: Vec<HostPath> = ["~/d/a/b", "~/d/a"].iter().map(|p| HostPath::new(p).unwrap()).collect();
        assert_eq!(got, want);
        assert!(parents_below(&root.join("x"), &root).is_empty());
        assert!(parents_below(&HostPath::new("/etc/x").unwrap(), &root).is_empty());
    }
}
