//! The requirements against the wheelhouse, on the controller: a requirement no
//! wheel of the project's wheelhouse can satisfy would fail only when pip or uv
//! run on the host (`--no-index`: nothing else to install from), after other
//! changes were made. Checked when the step is added, so `ordo check` refuses it
//! with the requirement, its line and the wheelhouse (decision 49).
//!
//! - `name==version` (and `===`): a wheel of that name whose version is equal
//!   under PEP 440 (`1.0` is `1.0.0`, `1.0rc1` is `1.0-rc.1`; a local label
//!   `+x` counts only when the pin has one).
//! - Any other requirement naming a distribution (`name`, `name>=1.2`): a wheel
//!   of that name, any version (ordo does not decide which version pip picks).
//! - Not checked: requirements with an environment marker (`; python_version <
//!   "3.12"`: the host decides whether they apply), URLs, paths and options
//!   lines. Nor what the wheels themselves require, nor their platform tags.
//!
//! Names compare as PEP 503 normalises them (case, and runs of `-`, `_`, `.`);
//! wheel file names are `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`
//! (PEP 427).

/// A requirement the wheelhouse has no wheel for.
#[derive(Debug, PartialEq, Eq)]
pub struct Missing {
    /// As written (without options and comments).
    pub requirement: String,
    /// Its (first) line in the requirements text, from 1.
    pub line: usize,
    /// Wheels of the same name, at other versions.
    pub others: Vec<String>,
}

/// The requirements of `text` that none of `wheels` (file names) satisfies.
pub fn missing(text: &str, wheels: &[&str]) -> Vec<Missing> {
    let parsed: Vec<(String, &str)> = wheels.iter().filter_map(|w| wheel_name(w)).collect();
    let mut out = Vec::new();
    for (line, requirement) in logical_lines(text) {
        let Some(req) = Requirement::parse(&requirement) else {
            continue;
        };
        let same_name: Vec<&str> = parsed.iter().filter(|(n, _)| *n == req.name).map(|(_, v)| *v).collect();
        let satisfied = match &req.pin {
            None => !same_name.is_empty(),
            Some(pin) => same_name.iter().any(|v| pin.matches(v)),
        };
        if !satisfied {
            let others = wheels
                .iter()
                .filter(|w| {
                    w.strip_suffix(".whl")
                        .and_then(|s| s.split('-').next())
                        .is_some_and(|n| normalize(n) == req.name)
                })
                .map(|w| w.to_string())
                .collect();
            out.push(Missing {
                requirement,
                line,
                others,
            });
        }
    }
    out
}

/// Which of `wheels` (file names) an install of `text` could use: all but the
/// wheels of a distribution that every requirement naming it pins to another
/// version. A release's identity counts only these (decision 63), so a
/// wheelhouse that grows with the next version's wheels leaves the releases
/// built before as they were.
pub fn usable(text: &str, wheels: &[&str]) -> Vec<bool> {
    let reqs: Vec<Requirement> = logical_lines(text)
        .into_iter()
        .filter_map(|(_, l)| Requirement::parse(&l))
        .collect();
    wheels
        .iter()
        .map(|w| {
            let Some((name, version)) = wheel_name(w) else {
                return true;
            };
            let naming: Vec<&Requirement> = reqs.iter().filter(|r| r.name == name).collect();
            naming.is_empty() || naming.iter().any(|r| r.pin.as_ref().is_none_or(|p| p.matches(version)))
        })
        .collect()
}

/// A wheel file's distribution name (normalised) and version (PEP 427).
fn wheel_name(file: &str) -> Option<(String, &str)> {
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    (parts.len() == 5 || parts.len() == 6).then(|| (normalize(parts[0]), parts[1]))
}

/// The logical lines (backslash continuations joined) without comments and
/// per-requirement options (`--hash=…`), with the number of their first line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (continued, body) = match raw.trim_end().strip_suffix('\\') {
            Some(body) => (true, body),
            None => (false, raw),
        };
        let entry = current.get_or_insert_with(|| (i + 1, String::new()));
        entry.1.push_str(body);
        entry.1.push(' ');
        if !continued && let Some((n, line)) = current.take() {
            out.push((n, clean(&line)));
        }
    }
    if let Some((n, line)) = current {
        out.push((n, clean(&line)));
    }
    out.retain(|(_, l)| !l.is_empty());
    out
}

/// Without a comment (`#` at the start or after whitespace) and options after
/// the requirement (` --hash=…`).
fn clean(line: &str) -> String {
    let mut end = line.len();
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let after_space = i == 0 || bytes[i - 1].is_ascii_whitespace();
        if after_space
            && (*b == b'#' || (line[i..].starts_with("--") && i > 0) || (line[i..].starts_with("-") && i == 0))
        {
            end = i;
            break;
        }
    }
    line[..end].trim().to_string()
}

/// A requirement that names a distribution, with its pin if it has one.
struct Requirement {
    name: String,
    pin: Option<Pin>,
}

enum Pin {
    /// `==`: equal under PEP 440.
    Equal(Version),
    /// `===`: the same text.
    Exact(String),
}

impl Pin {
    fn matches(&self, wheel_version: &str) -> bool {
        match self {
            Pin::Exact(v) => v.eq_ignore_ascii_case(wheel_version),
            Pin::Equal(pin) => match Version::parse(wheel_version) {
                Some(v) => pin.equals(&v),
                None => false,
            },
        }
    }
}

impl Requirement {
    /// `None` for what is not checked: markers, URLs, paths, options, empty lines.
    fn parse(line: &str) -> Option<Requirement> {
        if line.contains(';') || line.contains("://") || line.contains('@') || line.starts_with(['.', '/', '-']) {
            return None;
        }
        let end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
            .unwrap_or(line.len());
        let (name, mut rest) = line.split_at(end);
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return None;
        }
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('[') {
            rest = after.split_once(']')?.1.trim_start();
        }
        let spec: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
        let pin = if let Some(v) = spec.strip_prefix("===") {
            (!v.is_empty() && !v.contains(',')).then(|| Pin::Exact(v.to_string()))
        } else if let Some(v) = spec.strip_prefix("==") {
            // `==1.*` and `==1.0,!=…` are ranges: the name alone is checked.
            (!v.contains(['*', ',']))
                .then(|| Version::parse(v).map(Pin::Equal))
                .flatten()
        } else {
            None
        };
        Some(Requirement {
            name: normalize(name),
            pin,
        })
    }
}

/// PEP 503: lower case, every run of `-`, `_` and `.` one `-`.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A PEP 440 version, as far as equality needs it.
#[derive(Debug, PartialEq, Eq)]
struct Version {
    epoch: u64,
    /// Without trailing zeros: `1.0` and `1` are the same release.
    release: Vec<u64>,
    pre: Option<(&'static str, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Option<String>,
}

impl Version {
    fn parse(text: &str) -> Option<Version> {
        let lower = text.trim().to_ascii_lowercase();
        let (public, local) = match lower.split_once('+') {
            Some((p, l)) if !l.is_empty() => (p.to_string(), Some(l.replace(['-', '_'], "."))),
            Some(_) => return None,
            None => (lower, None),
        };
        let mut s = public.strip_prefix('v').unwrap_or(&public);
        let mut epoch = 0;
        if let Some((e, rest)) = s.split_once('!') {
            epoch = e.parse().ok()?;
            s = rest;
        }
        let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let mut release = Vec::new();
        loop {
            let n = digits(s);
            if n == 0 {
                return None;
            }
            release.push(s[..n].parse().ok()?);
            s = &s[n..];
            match s.strip_prefix('.') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => s = rest,
                _ => break,
            }
        }
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let sep = |s: &str| s.strip_prefix(['.', '-', '_']).unwrap_or(s).to_string();
        let number = |s: &mut String| -> u64 {
            let rest = sep(s);
            let n = digits(&rest);
            let value = rest[..n].parse().unwrap_or(0);
            *s = rest[n..].to_string();
            value
        };
        let mut s = s.to_string();
        let mut pre = None;
        let t = sep(&s);
        for (words, kind) in [
            (&["alpha", "a"][..], "a"),
            (&["beta", "b"][..], "b"),
            (&["preview", "pre", "rc", "c"][..], "rc"),
        ] {
            if let Some(w) = words.iter().find(|w| t.starts_with(**w)) {
                let mut rest = t[w.len()..].to_string();
                pre = Some((kind, number(&mut rest)));
                s = rest;
                break;
            }
        }
        let mut post = None;
        if let Some(rest) = s
            .strip_prefix('-')
            .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        {
            let mut rest = rest.to_string();
            post = Some(number(&mut rest));
            s = rest;
        } else {
            let t = sep(&s);
            if let Some(w) = ["post", "rev", "r"].iter().find(|w| t.starts_with(**w)) {
                let mut rest = t[w.len()..].to_string();
                post = Some(number(&mut rest));
                s = rest;
            }
        }
        let mut dev = None;
        let t = sep(&s);
        if let Some(rest) = t.strip_prefix("dev") {
            let mut rest = rest.to_string();
            dev = Some(number(&mut rest));
            s = rest;
        }
        s.is_empty().then_some(Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// `==`: a pin without a local label matches any local label.
    fn equals(&self, candidate: &Version) -> bool {
        let public = |v: &Version| (v.epoch, v.release.clone(), v.pre, v.post, v.dev);
        public(self) == public(candidate) && (self.local.is_none() || self.local == candidate.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHEELS: &[&str] = &[
        "Flask-3.0.2-py3-none-any.whl",
        "zope.interface-6.1-cp311-cp311-manylinux_2_17_x86_64.whl",
        "typing_extensions-4.9.0-py3-none-any.whl",
        "app-1.0.0rc1+deb12-1-py3-none-any.whl",
    ];

    fn names(text: &str) -> Vec<(String, usize)> {
        missing(text, WHEELS)
            .into_iter()
            .map(|m| (m.requirement, m.line))
            .collect()
    }

    #[test]
    fn pinned_requirements_need_a_wheel_of_an_equal_version() {
        let text = "# the lock\nflask==3.0.2\nZope-Interface == 6.1.0  # normalised\n\
                    typing-extensions==4.9.0 \\\n    --hash=sha256:abc\napp==1.0.0-rc.1\nflask==3.0.1\n";
        assert_eq!(names(text), [("flask==3.0.1".to_string(), 7)]);
        let m = &missing("flask==3.0.1\n", WHEELS)[0];
        assert_eq!(m.others, ["Flask-3.0.2-py3-none-any.whl"]);
    }

    #[test]
    fn only_wheels_a_pin_excludes_are_unusable() {
        let wheels = [
            "app-1.0-py3-none-any.whl",
            "app-2.0-py3-none-any.whl",
            "dep-1.0-py3-none-any.whl",
            "odd.whl",
        ];
        assert_eq!(usable("app==1.0\n", &wheels), [true, false, true, true]);
        assert_eq!(usable("app>=1.0\n", &wheels), [true, true, true, true]);
        assert_eq!(usable("app==1.0\napp\n", &wheels), [true, true, true, true]);
        assert_eq!(
            usable("app==3.0 ; python_version < '3'\n", &wheels),
            [true, true, true, true]
        );
    }

    #[test]
    fn unpinned_requirements_need_a_wheel_of_that_name() {
        let text = "flask>=3\nzope_interface\nrequests\nrequests[socks]==2.31\n";
        assert_eq!(
            names(text),
            [("requests".to_string(), 3), ("requests[socks]==2.31".to_string(), 4)]
        );
    }

    #[test]
    fn what_the_host_decides_is_not_checked() {
        let text = "-r base.txt\n--index-url https://x\nnumpy==1.26 ; python_version < \"3.9\"\n\
                    pkg @ https://example.com/pkg.whl\n./local/pkg\n-e .\n\n   \n";
        assert_eq!(names(text), Vec::<(String, usize)>::new());
    }

    #[test]
    fn versions_compare_as_pep_440_says() {
        let v = |s: &str| Version::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert!(v("1.0").equals(&v("1.0.0")));
        assert!(v("1.0").equals(&v("1.0+local.1")));
        assert!(!v("1.0+a").equals(&v("1.0+b")));
        assert!(v("1.0rc1").equals(&v("1.0-RC.1")));
        assert!(v("2.0.post1").equals(&v("2.0-1")));
        assert!(v("1.0.dev0").equals(&v("1.0dev")));
        assert!(v("1!2.0").equals(&v("1!2")));
        assert!(!v("1.0").equals(&v("1.0.1")));
        assert!(!v("1.0a1").equals(&v("1.0b1")));
        assert!(!v("1.0").equals(&v("1!1.0")));
        assert_eq!(Version::parse("1.0junk"), None);
    }
}
