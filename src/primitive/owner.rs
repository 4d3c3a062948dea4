//! `owner:` and `group:` on files and directories (names or numbers; `owner:
//! "user:group"` also works). The probe resolves the names on the host (the
//! controller does not know its users); verify compares them with the path's owner;
//! apply `chown`s the staged file, or the path in place. Giving a path to another
//! user, or to a group the login user is not in, needs root: without `sudo: true`
//! verify says so before anything changes (see `privilege.rs`).

use super::Planned;
use crate::host_path::HostPath;
use crate::ids::StepId;
use crate::shell::probe::{Facts, PathFacts, ProbeScript, StepFact, shell_word};

/// Who a path must belong to: a user, a group, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    pub user: Option<String>,
    pub group: Option<String>,
}

impl Ownership {
    /// From the options `owner` (`user` or `user:group`) and `group`.
    pub fn from_options(owner: Option<&str>, group: Option<&str>) -> Result<Option<Ownership>, String> {
        let (user, inline) = match owner {
            Some(o) => match o.split_once(':') {
                Some((u, g)) => (Some(u), Some(g)),
                None => (Some(o), None),
            },
            None => (None, None),
        };
        if inline.is_some() && group.is_some() {
            return Err("the group is given twice: in `owner: \"user:group\"` and in `group`".into());
        }
        let group = group.or(inline);
        for name in user.iter().chain(group.iter()) {
            if name.is_empty() || name.starts_with('-') || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "`{}` is not a user or group name",
                    crate::text::visible(name, false)
                ));
            }
        }
        Ok((user.is_some() || group.is_some()).then(|| Ownership {
            user: user.map(str::to_string),
            group: group.map(str::to_string),
        }))
    }

    /// `user:group`, `user` or `:group`: what `chown` takes.
    pub fn spec(&self) -> String {
        match (&self.user, &self.group) {
            (Some(u), Some(g)) => format!("{u}:{g}"),
            (Some(u), None) => u.clone(),
            (None, Some(g)) => format!(":{g}"),
            (None, None) => String::new(),
        }
    }
}

/// Asks the probe for the uid and gid the names stand for; without `sudo`, also
/// for the login user's groups (a group of theirs needs no root).
pub(crate) fn probe(step: StepId, o: &Ownership, sudo: bool, probe: &mut ProbeScript) {
    if let Some(user) = &o.user {
        probe.fact(step, "uid", &format!("id -u -- {}", shell_word(user)));
    }
    if let Some(g) = &o.group {
        probe.fact(step, "gid", &format!("getent group -- {} | cut -d: -f3", shell_word(g)));
        if !sudo {
            super::privilege::probe_groups(probe);
        }
    }
}

/// The uid and gid the names stand for on the host; `Err`: a name it does not know.
fn resolve(step: StepId, o: &Ownership, facts: &Facts) -> Result<(Option<u32>, Option<u32>), String> {
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
    let uid = o.user.as_deref().map(|u| number("uid", u)).transpose()?;
    let gid = o.group.as_deref().map(|g| number("gid", g)).transpose()?;
    Ok((uid, gid))
}

/// `Ok(None)`: the owner is right; `Ok(Some(("1000:1000", "app:app")))`: from → to;
/// `Err`: a name the host does not know.
pub(crate) fn verify(
    step: StepId,
    o: &Ownership,
    found: &PathFacts,
    facts: &Facts,
) -> Result<Option<(String, String)>, String> {
    let (uid, gid) = resolve(step, o, facts)?;
    if uid.is_none_or(|u| u == found.uid) && gid.is_none_or(|g| g == found.gid) {
        return Ok(None);
    }
    Ok(Some((format!("{}:{}", found.uid, found.gid), o.spec())))
}

/// Before a change: the names must resolve on the host, and without `sudo: true`
/// be the login user or one of their groups (anything else needs root).
pub(crate) fn check(step: StepId, o: &Ownership, sudo: bool, facts: &Facts) -> Result<(), String> {
    let (uid, gid) = resolve(step, o, facts)?;
    if sudo || facts.uid == Some(0) {
        return Ok(());
    }
    let hint = "changing it needs root: add `sudo: true` to this step (ordo then runs it through `sudo -n`), \
                or leave the owner to the login user";
    if let (Some(uid), Some(user)) = (uid, &o.user)
        && Some(uid) != facts.uid
    {
        return Err(format!("the owner `{user}` is not the login user; {hint}"));
    }
    if let (Some(gid), Some(group)) = (gid, &o.group) {
        let mine = super::privilege::groups(facts).unwrap_or_default();
        if !mine.contains(&gid) {
            return Err(format!(
                "the group `{group}` is not one of the login user's groups; {hint}"
            ));
        }
    }
    Ok(())
}

/// What a path with an optional owner, written as root or not, asks the probe (file,
/// template and directory share it).
pub(crate) fn probe_access(step: StepId, owner: Option<&Ownership>, sudo: bool, p: &mut ProbeScript) {
    if let Some(o) = owner {
        probe(step, o, sudo, p);
    }
    if sudo {
        super::privilege::probe(p);
    }
}

/// The end of such a path's verify: a planned change (not a conflict) needs its
/// owner's names to resolve, and a privileged one a working `sudo -n`.
pub(crate) fn guard(
    step: StepId,
    owner: Option<&Ownership>,
    sudo: bool,
    planned: Option<Planned>,
    facts: &Facts,
) -> Result<Option<Planned>, String> {
    if let (Some(p), Some(o)) = (&planned, owner)
        && !p.change.is_conflict()
    {
        check(step, o, sudo, facts)?;
    }
    super::privilege::guard(sudo, planned, facts)
}

/// Ownership change in place, never through a symlink.
pub(crate) const CHOWN_SH: &str = r#"co() { if [ -L "$2" ]; then say "$1" "changed since the plan: $2 is a symlink now"; fi; chown -- "$3" "$2" >"$O" 2>&1 || fail "$1" 1; echo "$1 ok"; }"#;

pub(crate) fn chown_line(step: StepId, path: &HostPath, o: &Ownership) -> String {
    format!("co {step} {} {}", crate::shell::word(path), shell_word(&o.spec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_group_combine() {
        let o = |u: Option<&str>, g: Option<&str>| Ownership::from_options(u, g);
        assert_eq!(o(None, None), Ok(None));
        assert_eq!(o(Some("app:www"), None).unwrap().unwrap().spec(), "app:www");
        assert_eq!(o(Some("app"), Some("www")).unwrap().unwrap().spec(), "app:www");
        assert_eq!(o(None, Some("www")).unwrap().unwrap().spec(), ":www");
        assert!(o(Some("app:www"), Some("x")).unwrap_err().contains("twice"));
        assert!(o(Some("-rf"), None).is_err());
    }

    #[test]
    fn another_users_file_needs_sudo() {
        use base64::Engine;
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let id = <StepId as crate::ids::Id>::new(1);
        let facts = Facts::parse(&format!(
            "uid 1000\nG groups {}\nV 1 uid {}\nV 1 gid {}\nend\n",
            b("1000 27"),
            b("0\n"),
            b("27\n")
        ))
        .unwrap();
        let root = Ownership::from_options(Some("root"), None).unwrap().unwrap();
        assert!(check(id, &root, false, &facts).unwrap_err().contains("sudo: true"));
        assert_eq!(check(id, &root, true, &facts), Ok(()));
        let group = Ownership::from_options(None, Some("sudo")).unwrap().unwrap();
        assert_eq!(check(id, &group, false, &facts), Ok(()));
    }
}
