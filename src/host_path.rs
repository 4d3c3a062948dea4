//! Paths on a host. The controller does not know a remote user's home directory, so
//! a path is kept as written (`~/deployment/shop/etc/app.ini` or `/etc/x`) and turned
//! into shell text that expands `$HOME` on the host itself.

use std::fmt;

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct HostPath(String);

impl HostPath {
    /// `raw` must be absolute or start with `~/` (or be `~`).
    pub fn new(raw: &str) -> Option<HostPath> {
        if raw == "~" || raw.starts_with("~/") || raw.starts_with('/') {
            Some(HostPath(normalize(raw)))
        } else {
            None
        }
    }

    /// Resolves `rel` against this directory; absolute and `~` paths stay as they are.
    pub fn join(&self, rel: &str) -> HostPath {
        HostPath::new(rel).unwrap_or_else(|| HostPath(normalize(&format!("{}/{}", self.0, rel))))
    }

    /// The parent directory and the last segment: `~/a/b.txt` → (`~/a`, `b.txt`).
    pub fn split(&self) -> (HostPath, String) {
        match self.0.rsplit_once('/') {
            Some((dir, name)) => {
                let dir = if dir.is_empty() { "/" } else { dir };
                (HostPath(dir.to_string()), name.to_string())
            }
            None => (HostPath("/".into()), self.0.clone()),
        }
    }

    /// Whether this path lies strictly below `dir`.
    pub fn is_below(&self, dir: &HostPath) -> bool {
        let d = dir.0.trim_end_matches('/');
        self.0.len() > d.len() + 1 && self.0.starts_with(d) && self.0.as_bytes()[d.len()] == b'/'
    }

    /// Why `raw` cannot name a path ordo manages, if it cannot: ordo's scripts pass
    /// paths through line-based lists and its state files are line-based, and a name
    /// with a trailing space or a backslash is silently rewritten by some tools.
    pub fn check(raw: &str) -> Result<(), String> {
        for c in raw.chars() {
            let what = match c {
                '\n' => "a newline".to_string(),
                '\t' => "a tab".to_string(),
                '\\' => "a backslash".to_string(),
                c if c.is_control() => format!("a control character ({})", c.escape_unicode()),
                _ => continue,
            };
            return Err(format!("it contains {what}"));
        }
        if raw.split('/').any(|part| part.ends_with(' ')) {
            return Err("a part of it ends with a space".into());
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Shell words that expand to this path on the host, safe for any file name.
    pub fn shell(&self) -> String {
        match self.0.strip_prefix('~') {
            Some("") => "\"$HOME\"".to_string(),
            Some(rest) => format!("\"$HOME\"{}", shell_quote(rest)),
            None => shell_quote(&self.0),
        }
    }

    /// The path with `~` replaced by `home`, for the local transport.
    pub fn resolve(&self, home: &std::path::Path) -> std::path::PathBuf {
        match self.0.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None if self.0 == "~" => home.to_path_buf(),
            None => std::path::PathBuf::from(&self.0),
        }
    }
}

impl fmt::Display for HostPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Removes `.` segments, doubled and trailing slashes; resolves `..` lexically.
fn normalize(raw: &str) -> String {
    let (prefix, rest) = match raw.strip_prefix('~') {
        Some(r) => ("~", r),
        None => ("", raw),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    match (prefix, parts.is_empty()) {
        ("~", true) => "~".to_string(),
        (_, true) => "/".to_string(),
        _ => format!("{prefix}/{}", parts.join("/")),
    }
}

/// Single-quotes `s` for POSIX sh.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_normalizes() {
        let root = HostPath::new("~/deployment/shop").unwrap();
        assert_eq!(root.join("etc/./app.ini").as_str(), "~/deployment/shop/etc/app.ini");
        assert_eq!(root.join("../x").as_str(), "~/deployment/x");
        assert_eq!(root.join("/etc/hosts").as_str(), "/etc/hosts");
        assert_eq!(HostPath::new("~").unwrap().as_str(), "~");
        assert_eq!(HostPath::new("/").unwrap().as_str(), "/");
        assert!(HostPath::new("relative").is_none());
    }

    #[test]
    fn unrepresentable_paths_are_refused() {
        assert!(HostPath::check("etc/app.conf").is_ok());
        assert!(HostPath::check("etc/a b/ü").is_ok());
        assert!(HostPath::check("etc/a\nb").unwrap_err().contains("newline"));
        assert!(HostPath::check("a\\b").unwrap_err().contains("backslash"));
        assert!(HostPath::check("a\u{1b}b").unwrap_err().contains("control"));
        assert!(HostPath::check("dir /x").unwrap_err().contains("space"));
        let root = HostPath::new("~/d").unwrap();
        assert!(root.join("x").is_below(&root));
        assert!(!HostPath::new("~/dx").unwrap().is_below(&root));
        assert!(!root.is_below(&root));
    }

    #[test]
    fn shell_text_expands_home_and_quotes_the_rest() {
        let p = HostPath::new("~/a b/it's").unwrap();
        assert_eq!(p.shell(), r#""$HOME"'/a b/it'\''s'"#);
        assert_eq!(HostPath::new("/etc/x").unwrap().shell(), "/etc/x");
    }
}
