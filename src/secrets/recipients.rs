//! `secrets/<env>.recipients`: who can decrypt an environment's secrets. One public
//! key per line — age X25519 (`age1…`), `ssh-ed25519` or `ssh-rsa` — and `#` comment
//! lines naming the person the key below belongs to. The file is committed, so adding
//! or removing a teammate is a reviewed change like any other.

use std::path::Path;
use std::str::FromStr;

use crate::problem::{Kind, Problem};

/// One public key of the file.
pub(crate) struct Recipient {
    /// Canonical text (`age1…`, `ssh-ed25519 AAAA…`): what the stamp hashes and what
    /// `remove` compares.
    pub key: String,
    /// The comment naming its owner (the comment line above, or an SSH key's comment).
    pub name: Option<String>,
    /// Index of the key's line in `RecipientsFile::lines`.
    line: usize,
    parsed: Parsed,
}

pub(crate) enum Parsed {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
}

impl Recipient {
    pub(crate) fn as_age(&self) -> &dyn age::Recipient {
        match &self.parsed {
            Parsed::X25519(r) => r,
            Parsed::Ssh(r) => r,
        }
    }

    /// `alice (age1qy…x4z)` for messages.
    pub(crate) fn describe(&self) -> String {
        let key = short_key(&self.key);
        match &self.name {
            Some(n) => format!("{n} ({key})"),
            None => key,
        }
    }
}

/// `age1qyqszqgp…lc7d` / `ssh-ed25519 AAAAC3Nz…GN`: enough to recognise a key.
pub(crate) fn short_key(key: &str) -> String {
    let (kind, body) = match key.split_once(' ') {
        Some((k, b)) => (format!("{k} "), b),
        None => (String::new(), key),
    };
    if body.len() <= 24 {
        return key.to_string();
    }
    format!("{kind}{}…{}", &body[..12], &body[body.len() - 6..])
}

/// Parses one public key (with an optional trailing comment). The error says why the
/// text is not a usable recipient, without repeating it: it may be a private key.
pub(crate) fn parse_key(text: &str) -> Result<(String, Option<String>, Parsed), String> {
    let text = text.trim();
    if text.contains("AGE-SECRET-KEY-") || text.contains("PRIVATE KEY") {
        return Err("this is a PRIVATE key — never put it in the repository; use its public key (`age1…`, or the `.pub` file of an SSH key)".into());
    }
    let first = text.split_whitespace().next().unwrap_or("");
    let comment = |skip: usize| {
        let rest: Vec<&str> = text.split_whitespace().skip(skip).collect();
        (!rest.is_empty()).then(|| rest.join(" "))
    };
    if first.starts_with("age1") {
        let r = age::x25519::Recipient::from_str(first).map_err(|e| format!("not a valid age public key: {e}"))?;
        return Ok((r.to_string(), comment(1), Parsed::X25519(r)));
    }
    if first.starts_with("ssh-") || first.starts_with("ecdsa-") || first.starts_with("sk-") {
        use age::ssh::ParseRecipientKeyError as E;
        return match age::ssh::Recipient::from_str(text) {
            Ok(r) => Ok((r.to_string(), comment(2), Parsed::Ssh(r))),
            Err(E::Unsupported(t)) => Err(format!(
                "SSH keys of type `{t}` cannot be age recipients; use an ssh-ed25519 or ssh-rsa key, or an age key"
            )),
            Err(E::RsaModulusTooSmall) => Err("this ssh-rsa key is shorter than 2048 bits; age refuses it".into()),
            Err(E::RsaModulusTooLarge) => Err("this ssh-rsa key is longer than age supports (4096 bits)".into()),
            Err(_) => Err("not a valid SSH public key".into()),
        };
    }
    Err("not a public key: expected `age1…`, `ssh-ed25519 AAAA…` or `ssh-rsa AAAA…`".into())
}

/// The recipients file: its lines as written (so edits keep comments and order) and
/// the keys found in them.
pub struct RecipientsFile {
    pub(crate) origin: String,
    lines: Vec<String>,
    pub(crate) keys: Vec<Recipient>,
}

/// What `remove` took out.
#[derive(Debug)]
pub struct Removed {
    pub description: String,
}

impl RecipientsFile {
    /// A new file with a header explaining it.
    pub fn new(env: &str, origin: &str) -> RecipientsFile {
        RecipientsFile {
            origin: origin.to_string(),
            lines: vec![
                format!(
                    "# Who can decrypt the secrets of `{env}`: one public key per line (age1…, ssh-ed25519, ssh-rsa),"
                ),
                format!("# under a comment naming its owner. Change with `ordo secrets recipients add|remove {env}`;"),
                "# after editing by hand run `ordo secrets rekey`.".to_string(),
            ],
            keys: Vec::new(),
        }
    }

    /// Reads and parses `path`; `origin` (`secrets/prod.recipients`) names it in errors.
    pub fn load(path: &Path, origin: &str, env: &str) -> Result<RecipientsFile, Problem> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Problem::new(Kind::Secrets, format!("{origin} does not exist: nobody can read secrets of `{env}` yet"))
                    .help(format!(
                        "add your public key first: `ordo secrets recipients add {env} \"$(cat ~/.ssh/id_ed25519.pub)\"`, or make an age key with `ordo secrets keygen -o ~/.config/ordo/age.key` and add the public key it prints"
                    )));
            }
            Err(e) => return Err(Problem::new(Kind::Secrets, format!("cannot read {origin}: {e}"))),
        };
        Self::parse(&text, origin)
    }

    pub(crate) fn parse(text: &str, origin: &str) -> Result<RecipientsFile, Problem> {
        let mut file = RecipientsFile {
            origin: origin.to_string(),
            lines: text.lines().map(str::to_string).collect(),
            keys: Vec::new(),
        };
        let mut comment: Option<String> = None;
        for (i, line) in file.lines.iter().enumerate() {
            let t = line.trim();
            if t.is_empty() {
                comment = None;
                continue;
            }
            if let Some(c) = t.strip_prefix('#') {
                let c = c.trim();
                comment = (!c.is_empty()).then(|| c.to_string());
                continue;
            }
            let (key, trailing, parsed) = parse_key(t).map_err(|why| {
                Problem::new(Kind::Secrets, format!("{origin}:{}: {why}", i + 1)).help(
                    "one public key per line: `age1…`, `ssh-ed25519 AAAA…` or `ssh-rsa AAAA…`; `#` starts a comment",
                )
            })?;
            if let Some(dup) = file.keys.iter().find(|k| k.key == key) {
                return Err(Problem::new(
                    Kind::Secrets,
                    format!("{origin}:{}: this key is already on line {}", i + 1, dup.line + 1),
                )
                .help("remove one of the two lines"));
            }
            file.keys.push(Recipient {
                key,
                name: comment.take().or(trailing),
                line: i,
                parsed,
            });
        }
        Ok(file)
    }

    pub fn render(&self) -> String {
        let mut out = self.lines.join("\n");
        out.push('\n');
        out
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Short hash of the set of keys: order, comments and names do not count.
    pub fn stamp(&self) -> String {
        let mut keys: Vec<&str> = self.keys.iter().map(|k| k.key.as_str()).collect();
        keys.sort_unstable();
        crate::sys::short_hash(keys.join("\n").as_bytes())
    }

    /// Whether `key` (canonical text, as `Identities::public_keys` gives it) is listed.
    pub fn contains_key(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k.key == key)
    }

    /// Descriptions of every key, in file order.
    pub fn describe(&self) -> Vec<String> {
        self.keys.iter().map(Recipient::describe).collect()
    }

    /// Adds `key` (public key text, maybe with a comment) under a `# name` line.
    /// Returns false when the key is already there.
    pub fn add(&mut self, key: &str, name: Option<&str>) -> Result<bool, Problem> {
        let (canonical, trailing, parsed) = parse_key(key).map_err(|why| {
            Problem::new(Kind::Secrets, format!("cannot add this recipient: {why}"))
                .help("pass a public key: `age1…` (from `ordo secrets keygen`), the line of an SSH `.pub` file, or the path of a `.pub` file")
        })?;
        if self.keys.iter().any(|k| k.key == canonical) {
            return Ok(false);
        }
        let name = name.map(str::to_string).or(trailing);
        if self.lines.last().is_some_and(|l| !l.trim().is_empty()) {
            self.lines.push(String::new());
        }
        if let Some(n) = &name {
            self.lines.push(format!("# {n}"));
        }
        self.lines.push(canonical.clone());
        self.keys.push(Recipient {
            key: canonical,
            name,
            line: self.lines.len() - 1,
            parsed,
        });
        Ok(true)
    }

    /// Removes the key that `what` names: the key itself (with or without its type
    /// and comment), or the name in its comment. The comment lines right above the key
    /// go with it.
    pub fn remove(&mut self, what: &str) -> Result<Removed, Problem> {
        let what = what.trim();
        let as_key = parse_key(what).ok().map(|(k, _, _)| k);
        let matches: Vec<usize> = self
            .keys
            .iter()
            .enumerate()
            .filter(|(_, k)| {
                as_key.as_deref() == Some(k.key.as_str())
                    || k.key.split_whitespace().last() == Some(what)
                    || k.name.as_deref() == Some(what)
            })
            .map(|(i, _)| i)
            .collect();
        let index = match matches.as_slice() {
            [i] => *i,
            [] => {
                return Err(
                    Problem::new(Kind::Secrets, format!("`{what}` is not a recipient in {}", self.origin)).help(
                        format!(
                            "recipients: {}; name one by its key or by the name in its comment",
                            crate::problem::suggest::list_or_none(&self.describe())
                        ),
                    ),
                );
            }
            several => {
                let names: Vec<String> = several.iter().map(|i| self.keys[*i].describe()).collect();
                return Err(Problem::new(
                    Kind::Secrets,
                    format!("`{what}` names {} recipients in {}", several.len(), self.origin),
                )
                .help(format!("name one by its key: {}", names.join(", "))));
            }
        };
        let line = self.keys[index].line;
        let mut first = line;
        while first > 0 && self.lines[first - 1].trim_start().starts_with('#') && !self.is_header(first - 1) {
            first -= 1;
        }
        let removed = self.keys.remove(index);
        self.lines.drain(first..=line);
        let mut gone = line + 1 - first;
        // A blank line left doubled where the key was.
        if first > 0
            && first < self.lines.len()
            && self.lines[first - 1].trim().is_empty()
            && self.lines[first].trim().is_empty()
        {
            self.lines.remove(first);
            gone += 1;
        }
        for k in &mut self.keys {
            if k.line > line {
                k.line -= gone;
            }
        }
        Ok(Removed {
            description: removed.describe(),
        })
    }

    /// Comment lines at the very top, before any blank line: the file's header, which
    /// belongs to no key.
    fn is_header(&self, line: usize) -> bool {
        self.lines[..=line].iter().all(|l| l.trim_start().starts_with('#'))
            && self.lines.get(line + 1).is_some_and(|l| l.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@laptop";

    fn age_key() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }

    #[test]
    fn parses_names_from_comments() {
        let a = age_key();
        let text = format!("# header\n\n# Bob Builder\n{a}\n\n{ED}\n");
        let f = RecipientsFile::parse(&text, "r").unwrap();
        assert_eq!(f.keys.len(), 2);
        assert_eq!(f.keys[0].name.as_deref(), Some("Bob Builder"));
        assert_eq!(f.keys[1].name.as_deref(), Some("alice@laptop"));
        assert!(f.keys[1].key.starts_with("ssh-ed25519 AAAA") && !f.keys[1].key.contains("alice"));
        assert_eq!(f.render(), text);
    }

    #[test]
    fn stamp_ignores_order_and_comments() {
        let (a, b) = (age_key(), age_key());
        let one = RecipientsFile::parse(&format!("# x\n{a}\n{b}\n"), "r").unwrap();
        let two = RecipientsFile::parse(&format!("{b}\n# y\n{a}\n"), "r").unwrap();
        let three = RecipientsFile::parse(&format!("{a}\n"), "r").unwrap();
        assert_eq!(one.stamp(), two.stamp());
        assert_ne!(one.stamp(), three.stamp());
    }

    #[test]
    fn refuses_private_keys_and_junk_with_the_line() {
        let sk = age::x25519::Identity::generate();
        let secret = age::secrecy::ExposeSecret::expose_secret(&sk.to_string()).to_string();
        let e = RecipientsFile::parse(&format!("# me\n{secret}\n"), "secrets/p.recipients")
            .err()
            .unwrap();
        assert!(
            e.message.starts_with("secrets/p.recipients:2: this is a PRIVATE key"),
            "{}",
            e.message
        );
        assert!(!e.message.contains(&secret));
        let e = RecipientsFile::parse("hello\n", "r").err().unwrap();
        assert!(e.message.starts_with("r:1: not a public key"), "{}", e.message);
        let e = RecipientsFile::parse("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHFliOyIZs1gxGF3fmDxFykQhE88wy6AKDGFBfn0R6ZuvRmENABZQa9+pj9hMki+LX0qDJbmHTiWDbYv/cmFt/Q=\n", "r").err().unwrap();
        assert!(
            e.message.contains("`ecdsa-sha2-nistp256` cannot be age recipients"),
            "{}",
            e.message
        );
    }

    #[test]
    fn add_and_remove_keep_the_rest() {
        let (a, b) = (age_key(), age_key());
        let mut f = RecipientsFile::new("prod", "r");
        assert!(f.add(&a, Some("alice")).unwrap());
        assert!(f.add(&b, Some("bob")).unwrap());
        assert!(!f.add(&a, Some("alice again")).unwrap());
        assert!(f.add(ED, None).unwrap());
        let text = f.render();
        assert!(text.contains(&format!("\n# alice\n{a}\n\n# bob\n{b}\n")), "{text}");
        // Re-parsing what was written gives the same keys and names.
        let g = RecipientsFile::parse(&text, "r").unwrap();
        assert_eq!(g.describe(), f.describe());

        let removed = f.remove("bob").unwrap();
        assert!(removed.description.starts_with("bob ("));
        let text = f.render();
        assert!(!text.contains(&b) && !text.contains("bob"), "{text}");
        assert!(text.starts_with("# Who can decrypt"), "{text}");
        // By key, with its comment, and by the base64 alone.
        f.remove(ED).unwrap();
        assert_eq!(f.len(), 1);
        assert!(
            f.remove("carol")
                .unwrap_err()
                .message
                .contains("`carol` is not a recipient")
        );
        let keep = f.render();
        assert!(keep.contains("# alice\n") && keep.contains(&a), "{keep}");
        assert!(!keep.contains("\n\n\n"), "{keep:?}");
    }

    #[test]
    fn shortens_keys_for_messages() {
        assert_eq!(short_key("age1abc"), "age1abc");
        let s = short_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN");
        assert_eq!(s, "ssh-ed25519 AAAAC3NzaC1l…Z6isGN");
    }
}
