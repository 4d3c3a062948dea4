//! What a deploy does with a release set, from what the probe found (verify and
//! apply decide the same): which release it activates — the active one, a kept
//! one to switch to, or one to build, under which name — and which releases it
//! prunes. A release is taken as kept only when its marker says it was finished
//! with this content, its files still have the declared content and its
//! virtualenv was built with the host's interpreter as it is now.

use super::ReleaseSet;
use super::found::{Current, Found, OnHost};
use crate::primitive::virtualenv::Host;
use crate::shell::probe::Facts;

/// What happens to the release being activated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Work {
    /// It is the active release, as declared: nothing to build or switch.
    Active,
    /// A finished release on the host: `current` is switched to it.
    Switch,
    /// Built, then switched to. `replace`: why a directory of that name (ordo's)
    /// goes first; `why`: why it is not built under the version's own name.
    Build {
        replace: Option<String>,
        why: Option<String>,
    },
}

/// Why a release goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Prune {
    /// Older than the `keep` activated last.
    Old,
    /// A build that did not finish.
    Unfinished,
}

#[derive(Debug)]
pub(super) struct Decision {
    /// The release's name.
    pub(super) target: String,
    pub(super) work: Work,
    /// The active release before this deploy.
    pub(super) previous: Option<String>,
    pub(super) prune: Vec<(String, Prune)>,
    /// The record after the deploy: the releases kept, the latest activated first.
    pub(super) order: Vec<String>,
    /// The host's interpreter and tool, when the releases have a virtualenv.
    pub(super) host: Option<Host>,
}

#[derive(Debug)]
pub(super) enum Verdict {
    Decided(Box<Decision>),
    /// Something ordo does not replace is in the way.
    Conflict(String),
}

pub(super) fn decide(set: &ReleaseSet, on: &OnHost, current: &Current, facts: &Facts, host: Option<Host>) -> Verdict {
    if *current == Current::InTheWay {
        return Verdict::Conflict(format!(
            "{} is a file or a directory; ordo switches a symlink there (move it away)",
            set.current()
        ));
    }
    let previous = match current {
        Current::Release(name) => Some(name.clone()),
        _ => None,
    };
    let [primary, alternate] = set.names();
    let fits = |name: &str| fits(set, on, name, facts, host.as_ref());
    let (target, work) = if fits(&primary).is_ok() {
        (primary, None)
    } else if fits(&alternate).is_ok() {
        (alternate, None)
    } else {
        let unfinished = "the last build of it did not finish".to_string();
        match (on.releases.get(&primary), on.releases.get(&alternate)) {
            (None, _) => (primary, Some((None, None))),
            (Some(Found::Unfinished), _) => (primary, Some((Some(unfinished), None))),
            (Some(_), found) => {
                let why = match fits(&primary) {
                    Err(why) => Some(format!("{primary} on the host {why}")),
                    Ok(()) => None,
                };
                match found {
                    None => (alternate, Some((None, why))),
                    Some(Found::Unfinished) => (alternate, Some((Some(unfinished), why))),
                    Some(Found::Finished(_)) => {
                        let replace = fits(&alternate).err().map(|w| format!("the release on the host {w}"));
                        (alternate, Some((replace, why)))
                    }
                    Some(Found::Foreign | Found::Link) => {
                        return Verdict::Conflict(format!(
                            "{} and {} are not releases ordo built (no {} in them); move them away",
                            set.release(&primary),
                            set.release(&alternate),
                            super::MARKER
                        ));
                    }
                }
            }
        }
    };
    let work = match work {
        None if previous.as_deref() == Some(target.as_str()) => Work::Active,
        None => Work::Switch,
        Some((replace, why)) => Work::Build { replace, why },
    };
    // The order of activations: this one, the active one (whatever the record
    // says: someone may have pointed `current` elsewhere), then the record's,
    // then finished releases the record does not know (newest name first).
    let finished = |n: &String| matches!(on.releases.get(n), Some(Found::Finished(_)));
    let mut order = vec![target.clone()];
    for n in previous.iter().chain(&on.order).filter(|n| finished(n)) {
        if !order.contains(n) {
            order.push(n.clone());
        }
    }
    for n in on.releases.keys().rev().filter(|n| finished(n)) {
        if !order.contains(n) {
            order.push(n.clone());
        }
    }
    let kept: Vec<String> = order.iter().take(set.keep).cloned().collect();
    let mut prune: Vec<(String, Prune)> = order
        .iter()
        .filter(|n| !kept.contains(n))
        .map(|n| (n.clone(), Prune::Old))
        .collect();
    for (n, found) in &on.releases {
        if *found == Found::Unfinished && *n != target && previous.as_ref() != Some(n) {
            prune.push((n.clone(), Prune::Unfinished));
        }
    }
    let order = order.into_iter().filter(|n| kept.contains(n)).collect();
    Verdict::Decided(Box::new(Decision {
        target,
        work,
        previous,
        prune,
        order,
        host,
    }))
}

/// Whether the release `name` on the host is this content, finished and whole;
/// `Err` says why not ("has other content", "was built with python 3.10").
fn fits(set: &ReleaseSet, on: &OnHost, name: &str, facts: &Facts, host: Option<&Host>) -> Result<(), String> {
    let m = match on.releases.get(name) {
        Some(Found::Finished(m)) => m,
        Some(Found::Unfinished) => return Err("did not finish building".into()),
        Some(Found::Foreign | Found::Link) => {
            return Err(format!("is not a release ordo built (no {})", super::MARKER));
        }
        None => return Err("is not there".into()),
    };
    if m.content != set.content || m.version != set.version {
        return Err("has other content".into());
    }
    if let (Some(v), Some(h)) = (&set.venv, host) {
        let built = m.python.as_deref().unwrap_or("?");
        let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
        if built != h.python {
            return Err(format!("was built with {built}, the host now has {}", h.python));
        }
        let was = m.pyversion.as_deref().unwrap_or("?");
        if minor(was) != h.minor {
            return Err(format!("was built with python {was}, the host now has {}", h.version));
        }
        if !m.venv {
            return Err(format!("has no working {}/bin/python", v.rel));
        }
    }
    for f in &set.files {
        if facts.path(&set.release(name).join(&f.name)).sha.as_deref() != Some(f.sha.as_str()) {
            return Err(format!("was changed since it was built ({} differs)", f.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::found::Marker;
    use super::super::{example, text_file};
    use super::*;
    use crate::primitive::testing::facts;

    fn finished(set: &ReleaseSet, version: &str) -> Found {
        let content = if version == set.version {
            set.content.clone()
        } else {
            format!("other {version}")
        };
        Found::Finished(Marker {
            version: version.into(),
            content,
            ..Marker::default()
        })
    }

    fn on(entries: &[(&str, Found)], order: &[&str]) -> OnHost {
        OnHost {
            releases: entries.iter().map(|(n, f)| (n.to_string(), f.clone())).collect(),
            order: order.iter().map(|n| n.to_string()).collect(),
            tools: String::new(),
        }
    }

    fn decided(v: Verdict) -> Decision {
        match v {
            Verdict::Decided(d) => *d,
            Verdict::Conflict(c) => panic!("conflict: {c}"),
        }
    }

    #[test]
    fn a_new_version_is_built_and_the_oldest_beyond_keep_pruned_never_the_active_one() {
        let set = example(Vec::new(), None);
        let host = on(
            &[
                ("1.1", finished(&set, "1.1")),
                ("1.2", finished(&set, "1.2")),
                ("1.3", finished(&set, "1.3")),
            ],
            &["1.3", "1.2", "1.1"],
        );
        let d = decided(decide(
            &set,
            &host,
            &Current::Release("1.3".into()),
            &facts(&[], &[], ""),
            None,
        ));
        assert_eq!(
            (d.target.as_str(), &d.work),
            (
                "1.4",
                &Work::Build {
                    replace: None,
                    why: None
                }
            )
        );
        assert_eq!(d.order, ["1.4", "1.3", "1.2"]);
        assert_eq!(d.prune, [("1.1".to_string(), Prune::Old)]);
    }

    #[test]
    fn a_kept_release_is_switched_to_and_nothing_is_built() {
        let set = example(Vec::new(), None);
        let host = on(
            &[("1.4", finished(&set, "1.4")), ("1.5", finished(&set, "1.5"))],
            &["1.5", "1.4"],
        );
        let d = decided(decide(
            &set,
            &host,
            &Current::Release("1.5".into()),
            &facts(&[], &[], ""),
            None,
        ));
        assert_eq!((d.target.as_str(), &d.work), ("1.4", &Work::Switch));
        assert_eq!(d.order, ["1.4", "1.5"]);
        assert!(d.prune.is_empty());
        let again = decided(decide(
            &set,
            &host,
            &Current::Release("1.4".into()),
            &facts(&[], &[], ""),
            None,
        ));
        assert_eq!(again.work, Work::Active);
    }

    #[test]
    fn the_active_release_is_kept_and_counts_toward_keep() {
        let mut set = example(Vec::new(), None);
        set.keep = 2;
        // The record lost track: the active release is the oldest it knows.
        let host = on(
            &[
                ("1.1", finished(&set, "1.1")),
                ("1.2", finished(&set, "1.2")),
                ("1.3", finished(&set, "1.3")),
            ],
            &["1.3", "1.2", "1.1"],
        );
        let d = decided(decide(
            &set,
            &host,
            &Current::Release("1.1".into()),
            &facts(&[], &[], ""),
            None,
        ));
        assert_eq!(d.order, ["1.4", "1.1"], "keep counts the active release");
        assert_eq!(
            d.prune,
            [("1.3".to_string(), Prune::Old), ("1.2".to_string(), Prune::Old)]
        );
    }

    #[test]
    fn an_unfinished_build_is_never_kept() {
        let set = example(vec![text_file("app.ini", "x")], None);
        let host = on(
            &[
                ("1.4", Found::Unfinished),
                ("1.3", finished(&set, "1.3")),
                ("0.9", Found::Unfinished),
            ],
            &["1.3"],
        );
        let d = decided(decide(
            &set,
            &host,
            &Current::Release("1.3".into()),
            &facts(&[], &[], ""),
            None,
        ));
        assert_eq!(d.target, "1.4");
        assert!(matches!(&d.work, Work::Build { replace: Some(why), .. } if why.contains("did not finish")));
        assert_eq!(d.prune, [("0.9".to_string(), Prune::Unfinished)]);
    }

    #[test]
    fn other_content_for_the_same_version_is_a_new_release_beside_it() {
        let set = example(vec![text_file("app.ini", "port = 2\n")], None);
        let [_, alternate] = set.names();
        let host = on(&[("1.4", finished(&set, "other"))], &["1.4"]);
        let d = decided(decide(
            &set,
            &host,
            &Current::Release("1.4".into()),
            &facts(&[], &[], ""),
            None,
        ));
        assert_eq!(d.target, alternate);
        assert!(
            matches!(&d.work, Work::Build { replace: None, why: Some(w) } if w == "1.4 on the host has other content")
        );
        assert_eq!(d.order, [alternate.as_str(), "1.4"]);
    }

    #[test]
    fn a_release_changed_on_the_host_is_not_kept() {
        let set = example(vec![text_file("app.ini", "port = 2\n")], None);
        let host = on(&[("1.4", finished(&set, "1.4"))], &["1.4"]);
        let same = crate::sys::sha256_hex(b"port = 2\n");
        let whole = facts(
            &[("f", "644", "./d/app/releases/1.4/app.ini", "")],
            &[(&same, "./d/app/releases/1.4/app.ini")],
            "",
        );
        let d = decided(decide(&set, &host, &Current::Release("1.4".into()), &whole, None));
        assert_eq!(d.work, Work::Active);
        let edited = facts(
            &[("f", "644", "./d/app/releases/1.4/app.ini", "")],
            &[(&"0".repeat(64), "./d/app/releases/1.4/app.ini")],
            "",
        );
        let d = decided(decide(&set, &host, &Current::Release("1.4".into()), &edited, None));
        assert!(
            matches!(&d.work, Work::Build { why: Some(w), .. } if w.contains("app.ini differs")),
            "{:?}",
            d.work
        );
    }

    #[test]
    fn something_else_in_the_way_of_current_is_a_conflict() {
        let set = example(Vec::new(), None);
        assert!(matches!(
            decide(&set, &on(&[], &[]), &Current::InTheWay, &facts(&[], &[], ""), None),
            Verdict::Conflict(_)
        ));
    }
}
