//! What the probe found of a release set on the host: each entry of its
//! `releases` directory (a release ordo finished, one whose build did not finish,
//! or something ordo did not make), the order the releases were activated in,
//! and where `current` points. The host may be hostile: names that are not
//! plain, and records that do not parse, count for nothing.

use std::collections::BTreeMap;

use crate::shell::probe::{PathFacts, PathKind};

/// One entry of the `releases` directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// Its marker says it was finished.
    Finished(Marker),
    /// Its marker says `building` (or is not one ordo writes): a build that did
    /// not finish. Ordo's, never taken as kept.
    Unfinished,
    /// A directory without ordo's marker: not ordo's, left alone.
    Foreign,
    /// A symlink: not ordo's, left alone.
    Link,
}

/// The marker of a finished release.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Marker {
    pub(super) version: String,
    pub(super) content: String,
    /// The interpreter its virtualenv was built with, and its version.
    pub(super) python: Option<String>,
    pub(super) pyversion: Option<String>,
    /// Its virtualenv's `bin/python` is there and executable.
    pub(super) venv: bool,
}

/// What the probe's fact says.
#[derive(Debug, Default)]
pub(super) struct OnHost {
    pub(super) releases: BTreeMap<String, Found>,
    /// The record of activations, the latest first.
    pub(super) order: Vec<String>,
    /// The interpreter's and the tools' lines, for the virtualenv.
    pub(super) tools: String,
}

/// Where `current` points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Current {
    Absent,
    /// `releases/<name>`, as ordo writes it.
    Release(String),
    /// Some other target: replaced by the switch.
    Elsewhere,
    /// A file or a directory: ordo does not replace it.
    InTheWay,
}

impl Current {
    pub(super) fn of(found: &PathFacts) -> Current {
        match found.kind {
            PathKind::Absent => Current::Absent,
            PathKind::Link => {
                let target = found.target.as_deref().unwrap_or_default();
                match std::str::from_utf8(target)
                    .ok()
                    .and_then(|t| t.strip_prefix("releases/"))
                {
                    Some(name) if plain(name) => Current::Release(name.to_string()),
                    _ => Current::Elsewhere,
                }
            }
            PathKind::File | PathKind::Dir | PathKind::Other => Current::InTheWay,
        }
    }
}

/// A name ordo gives a release: letters, digits, `.`, `_`, `-` and `+`, not
/// starting with `.` or `-` (so never an option, never hidden, never `..`).
pub(crate) fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(['.', '-'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
}

impl OnHost {
    /// Reads the fact's lines (see `shell::probe`): `order <name>`, `release
    /// <name>` with its `marker <line>`s and `venv ok`, `foreign <name>`, `link
    /// <name>`; any other line is the interpreter's and the tools'.
    pub(super) fn read(text: &str) -> OnHost {
        let mut on = OnHost::default();
        let mut open: Option<(String, Vec<String>, bool)> = None;
        let close = |on: &mut OnHost, open: &mut Option<(String, Vec<String>, bool)>| {
            if let Some((name, lines, venv)) = open.take() {
                on.releases.insert(name, marker(&lines, venv));
            }
        };
        for line in text.lines() {
            let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
            match tag {
                "marker" => {
                    if let Some((_, lines, _)) = &mut open {
                        lines.push(rest.to_string());
                    }
                }
                "venv" if rest == "ok" => {
                    if let Some((_, _, venv)) = &mut open {
                        *venv = true;
                    }
                }
                "release" | "foreign" | "link" | "odd" | "order" => {
                    close(&mut on, &mut open);
                    if !plain(rest) {
                        continue;
                    }
                    match tag {
                        "release" => open = Some((rest.to_string(), Vec::new(), false)),
                        "foreign" => {
                            on.releases.insert(rest.to_string(), Found::Foreign);
                        }
                        "link" => {
                            on.releases.insert(rest.to_string(), Found::Link);
                        }
                        "order" if !on.order.iter().any(|n| n == rest) => on.order.push(rest.to_string()),
                        _ => {}
                    }
                }
                _ => {
                    close(&mut on, &mut open);
                    on.tools.push_str(line);
                    on.tools.push('\n');
                }
            }
        }
        close(&mut on, &mut open);
        on
    }
}

/// A release's marker: finished when its first line says so and it names a
/// version and a content hash.
fn marker(lines: &[String], venv: bool) -> Found {
    if lines.first().map(String::as_str) != Some("ordo-release 1") {
        return Found::Unfinished;
    }
    let get = |key: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .map(str::to_string)
    };
    let (Some(version), Some(content)) = (get("version"), get("content")) else {
        return Found::Unfinished;
    };
    Found::Finished(Marker {
        version,
        content,
        python: get("python"),
        pyversion: get("pyversion"),
        venv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fact_is_read_and_what_is_not_plain_is_dropped() {
        let on = OnHost::read(
            "order 1.3\norder 1.2\norder ../x\norder 1.3\n\
             release 1.3\nmarker ordo-release 1\nmarker version 1.3\nmarker content abc\nmarker python /usr/bin/python3\nmarker pyversion 3.11.2\nvenv ok\n\
             release 1.4\nmarker building\n\
             release 1.5\nmarker ordo-release 1\nmarker version 1.5\n\
             release 1.6\n\
             foreign old\nlink 1.0\nodd\nrelease .hidden\nmarker ordo-release 1\n\
             python /usr/bin/python3\nversion Python 3.11.2\n",
        );
        assert_eq!(on.order, ["1.3", "1.2"]);
        assert_eq!(
            on.releases["1.3"],
            Found::Finished(Marker {
                version: "1.3".into(),
                content: "abc".into(),
                python: Some("/usr/bin/python3".into()),
                pyversion: Some("3.11.2".into()),
                venv: true,
            })
        );
        assert_eq!(on.releases["1.4"], Found::Unfinished);
        assert_eq!(on.releases["1.5"], Found::Unfinished, "no content: not finished");
        assert_eq!(on.releases["1.6"], Found::Unfinished, "an empty marker");
        assert_eq!(on.releases["old"], Found::Foreign);
        assert_eq!(on.releases["1.0"], Found::Link);
        assert!(!on.releases.contains_key(".hidden"));
        assert_eq!(on.tools, "python /usr/bin/python3\nversion Python 3.11.2\n");
    }

    #[test]
    fn current_is_a_release_only_in_the_form_ordo_writes() {
        let link = |t: &[u8]| PathFacts {
            kind: PathKind::Link,
            mode: 0o777,
            uid: 0,
            gid: 0,
            target: Some(t.to_vec()),
            sha: None,
            old: None,
        };
        assert_eq!(Current::of(&link(b"releases/1.4")), Current::Release("1.4".into()));
        assert_eq!(Current::of(&link(b"releases/../x")), Current::Elsewhere);
        assert_eq!(Current::of(&link(b"/srv/app")), Current::Elsewhere);
        let dir = PathFacts {
            kind: PathKind::Dir,
            ..link(b"")
        };
        assert_eq!(Current::of(&dir), Current::InTheWay);
    }
}
