//! The shell side of ordo: everything ordo does on a host is a POSIX `sh` script sent
//! on stdin (decision 1). This module builds those scripts — the probe that learns a
//! host's state in one round trip ([`probe`]) and the apply scripts that change it
//! ([`apply`]) — and reads their output back. Primitives describe what they need
//! through these builders; they never write raw protocol lines themselves.
//!
//! Rules every generated line follows (the host is hostile ground):
//! - paths are validated when the script is evaluated (no newlines, tabs, backslashes
//!   or control characters, see `HostPath::check`) and passed after `--` or as `./x`
//!   and `/x` forms, which never start with `-`;
//! - everything the host says about itself (link targets, file contents, lock
//!   holders, errors) comes back base64-encoded, so no crafted name can forge a line;
//! - scripts run under `umask 077` and stage files in private `mktemp -d`
//!   directories, created with their final mode before any content is written.

pub mod apply;
pub mod probe;
pub mod userland;

use base64::Engine;

use crate::host_path::HostPath;

/// Single-quotes `s` for POSIX sh when it needs quoting.
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c)) {
        return s.to_string();
    }
    quote_always(s)
}

/// Single-quotes `s` even when it needs no quoting (empty contents, say).
pub fn quote_always(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The path as the scripts name it: relative to the home directory (`./x`, the
/// scripts run in `$HOME`) or absolute. Neither form can start with `-`.
pub fn word(path: &HostPath) -> String {
    quote(&relative(path))
}

/// `~/a/b` → `./a/b`, `~` → `.`, `/x` → `/x`.
pub fn relative(path: &HostPath) -> String {
    match path.as_str().strip_prefix('~') {
        Some("") => ".".into(),
        Some(rest) => format!(".{rest}"),
        None => path.as_str().to_string(),
    }
}

/// A here-document body: base64 lines of `bytes`, and a terminator that cannot
/// occur in base64.
pub fn heredoc(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 + 16);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        out.push('\n');
    }
    out.push_str("ORDO_EOF\n");
    out
}

pub fn decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
}

/// Which end of a text a host-side window keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keep {
    /// `tail -c <window + 1>`: the end.
    End,
    /// `head -c <window + 1>`: the start.
    Start,
}

/// Text a script sent as a window of `window` bytes, asked for with one byte
/// more (`tail -c`/`head -c` of `window + 1`) so that a cut shows: then the extra
/// byte and a character split by the cut are dropped, and the cut is marked with
/// [`CUT`](crate::text::CUT) for the redactor (a secret may have been cut there).
pub(crate) fn window(mut bytes: Vec<u8>, window: usize, keep: Keep) -> String {
    if bytes.len() <= window {
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let cut = crate::text::CUT;
    match keep {
        Keep::End => {
            bytes.drain(..bytes.len() - window);
            // Continuation bytes of a character that started before the cut.
            let partial = bytes.iter().take(3).take_while(|&&b| b & 0xc0 == 0x80).count();
            format!("{cut}{}", String::from_utf8_lossy(&bytes[partial..]))
        }
        Keep::Start => {
            bytes.truncate(window);
            let text = String::from_utf8_lossy(&bytes);
            // A character the cut split shows as one replacement character at the end.
            let text = text.strip_suffix('\u{fffd}').unwrap_or(&text);
            format!("{text}{cut}")
        }
    }
}

/// Octal text of a mode for `chmod`/`mkdir -m`.
pub fn mode(mode: u32) -> String {
    format!("{mode:04o}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_marks_its_cut() {
        use crate::text::CUT;
        assert_eq!(window(b"abc".to_vec(), 3, Keep::End), "abc");
        assert_eq!(window(b"abcd".to_vec(), 3, Keep::End), format!("{CUT}bcd"));
        assert_eq!(window(b"abcd".to_vec(), 3, Keep::Start), format!("abc{CUT}"));
        // A character split by the cut is left out.
        assert_eq!(window("aé".as_bytes().to_vec(), 1, Keep::End), format!("{CUT}"));
        assert_eq!(window("xéab".as_bytes().to_vec(), 3, Keep::End), format!("{CUT}ab"));
        assert_eq!(window("aéb".as_bytes().to_vec(), 2, Keep::Start), format!("a{CUT}"));
    }

    #[test]
    fn quoting_survives_every_character() {
        assert_eq!(quote("a/b.c"), "a/b.c");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("-x"), "-x");
        assert_eq!(quote_always("x"), "'x'");
    }

    #[test]
    fn paths_never_start_with_a_dash() {
        let p = HostPath::new("~/-rf").unwrap();
        assert_eq!(word(&p), "./-rf");
        assert_eq!(relative(&HostPath::new("~").unwrap()), ".");
        assert_eq!(word(&HostPath::new("/etc/a b").unwrap()), "'/etc/a b'");
    }
}
