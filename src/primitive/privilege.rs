//! What a privileged step (`sudo: true`) needs before anything changes: that
//! `sudo -n` will run ordo's shell on the host. The probe asks once per host
//! (running exactly what the transport runs later, an empty `sudo -n /bin/sh -s`);
//! a step that has something to change and would meet a password prompt stops the
//! deploy in verify, on every host, before any change — naming the host (the
//! executor adds it), the step and the sudoers line. Steps with nothing to change
//! need no sudo.
//!
//! Ownership changes follow the same rule: chown to another user (or chgrp to a
//! group the login user is not in) needs root, so without `sudo: true` verify
//! says so instead of failing half-way.

use std::collections::BTreeSet;

use super::Planned;
use crate::shell::probe::{Facts, ProbeScript};

/// Asks the probe whether `sudo -n` would run ordo's shell (once per host).
pub(crate) fn probe(probe: &mut ProbeScript) {
    probe.gather("sudo", [], sudo_sh);
}

/// Asks the probe for the login user's groups (once per host).
pub(crate) fn probe_groups(probe: &mut ProbeScript) {
    probe.gather("groups", [], |_| "id -G".to_string());
}

/// The same command the transport runs for a privileged script, fed an empty
/// script: nothing runs as root, but a password prompt, a missing rule or a
/// missing sudo shows. As root (uid 0) ordo needs no sudo.
fn sudo_sh(_: &BTreeSet<String>) -> String {
    "if [ \"$(id -u)\" = 0 ]; then echo ok; \
     elif s=$(sudo -n /bin/sh -s </dev/null 2>&1); then echo ok; \
     else echo \"no $(id -un)\"; printf '%s\\n' \"$s\" | head -n 3; fi"
        .to_string()
}

/// `Ok` when a privileged change can run; otherwise why not and what to do.
pub(crate) fn check(facts: &Facts) -> Result<(), String> {
    let Some(answer) = facts.gathered("sudo") else {
        return Err("the probe did not check `sudo -n` (a bug in ordo)".into());
    };
    let text = String::from_utf8_lossy(answer);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    if first == "ok" {
        return Ok(());
    }
    let user = first.strip_prefix("no ").unwrap_or("<login user>");
    let said: Vec<&str> = lines.map(str::trim).filter(|l| !l.is_empty()).collect();
    let said = if said.is_empty() {
        "no reason given".to_string()
    } else {
        crate::text::visible(&said.join(" "), false)
    };
    let rule = format!("{user} ALL=(root) NOPASSWD: /bin/sh -s");
    let missing = said.contains("not found") || said.contains("No such file");
    Err(if missing {
        format!(
            "it runs as root (sudo: true), but the host has no sudo ({said}). Install sudo there and allow `{user}` to run ordo's shell as root: `visudo -f /etc/sudoers.d/ordo` \
             with the line `{rule}`"
        )
    } else {
        format!(
            "it runs as root (sudo: true), but `sudo -n` would ask for a password or refuses ({said}). ordo never types passwords: allow `{user}` to run ordo's shell \
             as root with `visudo -f /etc/sudoers.d/ordo` on the host and the line `{rule}` \
             (root access for `{user}`: give it only to a deployment user)"
        )
    })
}

/// A privileged step's verdict: a change needs a working `sudo -n`.
pub(crate) fn guard(sudo: bool, planned: Option<Planned>, facts: &Facts) -> Result<Option<Planned>, String> {
    if sudo && planned.as_ref().is_some_and(|p| !p.change.is_conflict()) {
        check(facts)?;
    }
    Ok(planned)
}

/// The login user's groups (gids), when the probe was asked for them.
pub(crate) fn groups(facts: &Facts) -> Option<Vec<u32>> {
    let text = String::from_utf8_lossy(facts.gathered("groups")?).into_owned();
    Some(text.split_whitespace().filter_map(|g| g.parse().ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn facts(answer: &str) -> Facts {
        let b = base64::engine::general_purpose::STANDARD.encode(answer);
        Facts::parse(&format!("uid 1000\nG sudo {b}\nend\n")).unwrap()
    }

    #[test]
    fn a_prompting_sudo_names_the_sudoers_line() {
        assert_eq!(check(&facts("ok\n")), Ok(()));
        let err = check(&facts("no deploy\nsudo: a password is required\n")).unwrap_err();
        assert!(err.contains("sudo: a password is required"), "{err}");
        assert!(err.contains("deploy ALL=(root) NOPASSWD: /bin/sh -s"), "{err}");
        let err = check(&facts("no deploy\nsh: 1: sudo: not found\n")).unwrap_err();
        assert!(err.contains("has no sudo"), "{err}");
    }

    #[test]
    fn only_changes_need_sudo() {
        let refused = facts("no deploy\nsudo: a password is required\n");
        assert_eq!(guard(true, None, &refused), Ok(None));
        assert!(guard(true, Some(Planned::new(super::super::Change::Update)), &refused).is_err());
        assert!(guard(false, Some(Planned::new(super::super::Change::Update)), &refused).is_ok());
    }
}
