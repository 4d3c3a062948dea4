//! `owner:` on files and directories: `user` or `user:group`, names or numbers. The
//! probe resolves the names on the host (the controller does not know its users);
//! verify compares them with the path's owner; apply `chown`s the staged file, or the
//! path in place. Changing ownership to another user needs root on the host.

use crate::host_path::HostPath;
use crate::ids::StepId;
use crate::shell::probe::{Facts, PathFacts, ProbeScript, StepFact, shell_word};

/// Asks the probe for the uid (and gid) `owner` names.
pub(crate) fn probe(step: StepId, owner: &str, probe: &mut ProbeScript) {
    let (user, group) = split(owner);
    probe.fact(step, "uid", &format!("id -u -- {}", shell_word(user)));
    if let Some(g) = group {
        probe.fact(step, "gid", &format!("getent group -- {} | cut -d: -f3", shell_word(g)));
    }
}

/// `Ok(None)`: the owner is right; `Ok(Some(("1000:1000", "app:app")))`: from → to;
/// `Err`: a name the host does not know.
pub(crate) fn verify(
    step: StepId,
    owner: &str,
    found: &PathFacts,
    facts: &Facts,
) -> Result<Option<(String, String)>, String> {
    let (user, group) = split(owner);
    let number = |key: &str, name: &str| -> Result<u32, String> {
        match facts.step(step, key) {
            Some(StepFact::Value(v)) => String::from_utf8_lossy(v).trim().parse().map_err(|_| {
                format!(
                    "the host has no {} `{name}`",
                    if key == "uid" { "user" } else { "group" }
                )
            }),
            _ => Err(format!("the host did not resolve `{name}`")),
        }
    };
    let uid = number("uid", user)?;
    let gid = group.map(|g| number("gid", g)).transpose()?;
    if found.uid == uid && gid.is_none_or(|g| g == found.gid) {
        return Ok(None);
    }
    Ok(Some((format!("{}:{}", found.uid, found.gid), owner.to_string())))
}

/// Ownership change in place, never through a symlink.
pub(crate) const CHOWN_SH: &str = r#"co() { if [ -L "$2" ]; then say "$1" "changed since the plan: $2 is a symlink now"; fi; chown -- "$3" "$2" >"$O" 2>&1 || fail "$1" 1; echo "$1 ok"; }"#;

pub(crate) fn chown_line(step: StepId, path: &HostPath, owner: &str) -> String {
    format!("co {step} {} {}", crate::shell::word(path), shell_word(owner))
}

fn split(owner: &str) -> (&str, Option<&str>) {
    match owner.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (owner, None),
    }
}
