//! Whether the login user may make a step's change at all: a step that writes a
//! path (file, template, directory, symlink, virtualenv, the records of programs
//! and cron blocks — every [`Primitive::managed`] path) without `sudo: true` is
//! checked in the plan, so that a path the login user cannot write is a problem
//! before anything changes on any host, not a `mktemp: Permission denied` half-way
//! through a deploy (decision 48).
//!
//! What matters is how the change is made: a path is created or replaced by a
//! rename inside its directory (a staged file, a staged symlink, `mkdir`, a build
//! directory), so the directory must be writable — or, when it does not exist
//! yet, its nearest existing ancestor, which the change creates it in. In a sticky
//! directory of another user (`/tmp`) only the login user's own entries may be
//! replaced. A mode or owner changed in place needs the path's owner (or root).
//! A virtualenv is updated inside itself, so it must be writable too. The probe
//! answers with the shell's `test` builtin for the login user, which is exact
//! (ACLs, read-only mounts, root) and forks nothing ([`ProbeScript::writable`]).

use std::collections::HashSet;

use super::{Change, ManagedKind, Planned, Primitive};
use crate::host_path::HostPath;
use crate::shell::probe::{Access, Facts, PathKind, ProbeScript};

/// Asks the probe what [`guard`] needs to know about `action`'s path.
pub(crate) fn probe(action: &dyn Primitive, probe: &mut ProbeScript) {
    let Some(m) = action.managed().filter(|_| !action.privileged()) else {
        return;
    };
    probe.stat(&m.path);
    probe.writable(&m.path.split().0);
    if matches!(m.kind, ManagedKind::Virtualenv | ManagedKind::Releases) {
        probe.writable(&m.path);
    }
}

/// The check of one host's steps, in plan order: it remembers the directories
/// that earlier steps create or change (a `directory` with `sudo: true` and
/// `owner:` the login user, say), whose directory steps answer for them — a
/// path below one is not refused for what the probe saw there before.
#[derive(Default)]
pub(crate) struct Guard {
    changing: HashSet<String>,
}

impl Guard {
    /// `Err` when `planned` (not a conflict) is a change the login user cannot
    /// make: what stops it and what to do. `root` is the step's component root.
    pub(crate) fn check(
        &mut self,
        action: &dyn Primitive,
        root: &HostPath,
        planned: Option<Planned>,
        facts: &Facts,
    ) -> Result<Option<Planned>, String> {
        let verdict = guard(action, root, planned, facts, &self.changing);
        if let (Ok(Some(p)), Some(m)) = (&verdict, action.managed())
            && m.kind == ManagedKind::Directory
            && !p.change.is_conflict()
        {
            self.changing.insert(m.path.as_str().to_string());
        }
        verdict
    }
}

fn guard(
    action: &dyn Primitive,
    root: &HostPath,
    planned: Option<Planned>,
    facts: &Facts,
    changing: &HashSet<String>,
) -> Result<Option<Planned>, String> {
    let Some(p) = planned.as_ref().filter(|p| !p.change.is_conflict()) else {
        return Ok(planned);
    };
    let Some(m) = action.managed().filter(|_| !action.privileged()) else {
        return Ok(planned);
    };
    let denied = match p.change {
        Change::Create | Change::Update => in_directory(&m.path, facts, changing).or_else(|| {
            // A virtualenv is updated in place: pip and uv write inside it; a
            // release set builds its releases inside its directory.
            (matches!(m.kind, ManagedKind::Virtualenv | ManagedKind::Releases) && p.change == Change::Update)
                .then(|| match facts.access(&m.path) {
                    Some(Access::Writable | Access::Sticky) => None,
                    Some(_) => Some(Denied::Directory(format!(
                        "{} may not write in {}, which an install writes into",
                        login(facts),
                        m.path
                    ))),
                    None => Some(Denied::Directory(not_asked(&m.path))),
                })
                .flatten()
        }),
        Change::Mode { .. } | Change::Owner { .. } => {
            let found = facts.path(&m.path);
            (facts.uid != Some(0) && found.kind != PathKind::Absent && Some(found.uid) != facts.uid).then(|| {
                Denied::Owner(format!(
                    "{} belongs to uid {}, not to {}: only its owner or root may change its {}",
                    m.path,
                    found.uid,
                    login(facts),
                    p.change.word()
                ))
            })
        }
        Change::Run { .. } | Change::Remove | Change::Conflict { .. } => None,
    };
    let Some(denied) = denied else {
        return Ok(planned.map(|p| replaced(p, &m.path, m.kind, facts)));
    };
    let sudo = super::doc(action.kind()).is_some_and(|d| d.options.iter().any(|o| o.name == "sudo"));
    let other = match &denied {
        Denied::Owner(_) => format!("give {} to the login user on the host", m.path),
        Denied::Directory(_) if m.path.is_below(root) => {
            "give the component a root the login user may write (the default is ~/deployment/<service>)".to_string()
        }
        Denied::Directory(_) => format!("use a path under the component's root ({root})"),
    };
    let why = match denied {
        Denied::Owner(w) | Denied::Directory(w) => w,
    };
    Err(if sudo {
        format!("{why}; add `sudo: true` to the step (ordo then writes it as root through `sudo -n`), or {other}")
    } else {
        format!("{why}; {other} (a {} step cannot run as root)", action.kind())
    })
}

/// A file or symlink of another user that the login user may replace (its
/// directory is the login user's to write): the new one is the login user's,
/// which the plan says.
fn replaced(p: Planned, path: &HostPath, kind: ManagedKind, facts: &Facts) -> Planned {
    let found = facts.path(path);
    let theirs = p.change == Change::Update
        && matches!(kind, ManagedKind::File | ManagedKind::Symlink)
        && found.kind != PathKind::Absent
        && facts.uid.is_some_and(|u| u != 0 && u != found.uid);
    if !theirs {
        return p;
    }
    let note = format!(
        "replaces a {} of uid {}: the new one is the login user's",
        kind.word(),
        found.uid
    );
    let detail = match &p.detail {
        Some(d) => format!("{d}; {note}"),
        None => note,
    };
    p.detail(detail)
}

/// Why the login user may not make a change: the directory it happens in, or the
/// path's owner.
enum Denied {
    Directory(String),
    Owner(String),
}

/// Why `path` cannot be created or replaced in its directory, if it cannot.
/// Not for what an earlier step changes on the way (see [`Guard`]).
fn in_directory(path: &HostPath, facts: &Facts, changing: &HashSet<String>) -> Option<Denied> {
    let dir = path.split().0;
    let Some(access) = facts.access(&dir) else {
        return Some(Denied::Directory(not_asked(&dir)));
    };
    let nearest = match access {
        Access::Writable => return None,
        Access::Sticky => dir.as_str().to_string(),
        Access::ReadOnly { nearest } | Access::NotDir { nearest } => shown(nearest),
    };
    let mut on_the_way = dir.clone();
    loop {
        if changing.contains(on_the_way.as_str()) {
            return None;
        }
        let up = on_the_way.split().0;
        if on_the_way.as_str() == nearest || up == on_the_way {
            break;
        }
        on_the_way = up;
    }
    let who = login(facts);
    match access {
        Access::Writable => None,
        Access::Sticky => {
            let found = facts.path(path);
            (found.kind != PathKind::Absent && facts.uid != Some(0) && Some(found.uid) != facts.uid).then(|| {
                Denied::Owner(format!(
                    "{dir} is a sticky directory of another user and {path} belongs to uid {}: {who} may not replace it",
                    found.uid
                ))
            })
        }
        Access::ReadOnly { nearest } => {
            let nearest = shown(nearest);
            Some(Denied::Directory(if nearest == dir.as_str() {
                format!("{who} may not write in {dir}")
            } else {
                format!("{dir} does not exist, and {who} may not create it: {nearest} is not writable for them")
            }))
        }
        Access::NotDir { nearest } => Some(Denied::Directory(format!(
            "{} is not a directory (or a dangling symlink), so {dir} cannot be created",
            shown(nearest)
        ))),
    }
}

fn not_asked(dir: &HostPath) -> String {
    format!("the probe did not check whether {dir} is writable (a bug in ordo)")
}

/// `the login user `deploy``, or with its uid when the host did not say its name.
fn login(facts: &Facts) -> String {
    match (&facts.login, facts.uid) {
        (Some(name), _) => format!("the login user `{name}`"),
        (None, Some(uid)) => format!("the login user (uid {uid})"),
        (None, None) => "the login user".to_string(),
    }
}

/// A path in the scripts' form (`./x`, `.`, `/x`) as the plan shows paths.
fn shown(form: &str) -> String {
    match form.strip_prefix('.') {
        Some("") => "~".to_string(),
        Some(rest) if rest.starts_with('/') => format!("~{rest}"),
        _ => form.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::directory::Directory;
    use crate::primitive::symlink::Symlink;
    use base64::Engine;

    fn facts(stats: &[u8], w: &str) -> Facts {
        let b = base64::engine::general_purpose::STANDARD.encode(stats);
        Facts::parse(&format!("uid 1000\nF {b}\n{w}end\n")).unwrap()
    }

    fn dir(path: &str, sudo: bool) -> Directory {
        Directory {
            name: path.into(),
            path: HostPath::new(path).unwrap(),
            mode: None,
            owner: None,
            sudo,
        }
    }

    fn root() -> HostPath {
        HostPath::new("~/deployment/s").unwrap()
    }

    /// One step checked alone.
    fn check(action: &dyn Primitive, planned: Option<Planned>, f: &Facts) -> Result<Option<Planned>, String> {
        Guard::default().check(action, &root(), planned, f)
    }

    #[test]
    fn a_directory_an_earlier_step_makes_answers_for_the_paths_below_it() {
        let f = facts(b"", "W w /opt/app/etc\t/opt\nW w /opt/app\t/opt\n");
        let mut g = Guard::default();
        let create = || Some(Planned::new(Change::Create));
        assert!(g.check(&dir("/opt/app", true), &root(), create(), &f).is_ok());
        assert!(
            g.check(&dir("/opt/app/etc/conf", false), &root(), create(), &f).is_ok(),
            "/opt/app is made by the step before"
        );
        assert!(
            Guard::default()
                .check(&dir("/opt/app/etc/conf", false), &root(), create(), &f)
                .is_err()
        );
    }

    #[test]
    fn creating_in_a_directory_the_login_user_may_not_write_is_refused() {
        let f = facts(b"", "W w /etc\t/etc\n");
        let err = check(&dir("/etc/app", false), Some(Planned::new(Change::Create)), &f).unwrap_err();
        assert!(
            err.starts_with("the login user (uid 1000) may not write in /etc; "),
            "{err}"
        );
        assert!(err.contains("add `sudo: true` to the step"), "{err}");
        assert!(err.contains("under the component's root (~/deployment/s)"), "{err}");
        assert_eq!(
            check(&dir("/etc/app", true), Some(Planned::new(Change::Create)), &f),
            Ok(Some(Planned::new(Change::Create))),
            "a privileged step is written as root"
        );
        assert_eq!(
            check(&dir("/etc/app", false), None, &f),
            Ok(None),
            "nothing to change needs nothing"
        );
    }

    #[test]
    fn a_missing_parent_names_the_ancestor_that_stops_it() {
        let f = facts(b"", "W w /opt/app/etc\t/opt\nW d ./x\t./file\n");
        let err = check(&dir("/opt/app/etc/conf", false), Some(Planned::new(Change::Create)), &f).unwrap_err();
        assert!(
            err.starts_with(
                "/opt/app/etc does not exist, and the login user (uid 1000) may not create it: /opt is not writable"
            ),
            "{err}"
        );
        let link = Symlink {
            name: "x/l".into(),
            path: HostPath::new("~/x/l").unwrap(),
            target: "t".into(),
        };
        let err = check(&link, Some(Planned::new(Change::Create)), &f).unwrap_err();
        assert!(err.starts_with("~/file is not a directory"), "{err}");
        assert!(
            err.contains("(a symlink step cannot run as root)"),
            "a symlink has no `sudo` option: {err}"
        );
    }

    #[test]
    fn modes_of_other_users_paths_and_sticky_directories_need_the_owner() {
        let stats = b"d 755 0 0 ./deployment/s/var\0\0l 777 0 0 /tmp/l\0t\0";
        let f = facts(stats, "W y ./deployment/s\t./deployment/s\nW t /tmp\t/tmp\n");
        let mode = Planned::new(Change::Mode { from: 0o755, to: 0o750 });
        let err = check(&dir("~/deployment/s/var", false), Some(mode), &f).unwrap_err();
        assert!(
            err.contains("belongs to uid 0, not to the login user (uid 1000)"),
            "{err}"
        );
        let link = |p: &str| Symlink {
            name: p.into(),
            path: HostPath::new(p).unwrap(),
            target: "t".into(),
        };
        let err = check(&link("/tmp/l"), Some(Planned::new(Change::Update)), &f).unwrap_err();
        let home = facts(b"l 777 0 0 ./l\0t\0", "W y .\t.\n");
        let p = check(&link("~/l"), Some(Planned::new(Change::Update)), &home)
            .unwrap()
            .unwrap();
        assert_eq!(
            p.detail.as_deref(),
            Some("replaces a symlink of uid 0: the new one is the login user's"),
            "allowed, and said"
        );
        assert!(err.contains("/tmp is a sticky directory of another user"), "{err}");
        assert!(
            check(&link("/tmp/new"), Some(Planned::new(Change::Create)), &f).is_ok(),
            "a new entry in a sticky directory is the login user's own"
        );
    }
}
