//! `--format json` for `ordo secrets list|show` and `recipients list`: one object
//! per line with an `event` field, like every other command's JSON output. A line
//! that carries plaintext (`show`) is built in memory that is wiped when dropped.

use serde::Serialize;
use zeroize::Zeroizing;

use super::out;
use crate::problem::{Kind, Problem};
use crate::secrets::SecretBytes;

/// One secret: its name and kind (`list`), with its plaintext (`show`).
#[derive(Serialize)]
pub(super) struct Secret<'a> {
    pub(super) environment: &'a str,
    pub(super) name: &'a str,
    /// `value` or `file`.
    pub(super) kind: &'static str,
    /// A value's text (`show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) value: Option<&'a str>,
    /// A file's bytes, base64 (`show --file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content_base64: Option<&'a str>,
}

/// One public key of `recipients list`.
#[derive(Serialize)]
pub(super) struct Recipient<'a> {
    pub(super) environment: &'a str,
    /// The name in the comment above the key, if any.
    pub(super) name: Option<&'a str>,
    pub(super) key: &'a str,
}

#[derive(Serialize)]
struct Tagged<'a, T> {
    event: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

/// Writes `body` as one `event` line to stdout. `plaintext` is the length of the
/// secret text in it: the line is built without growing (and leaving copies behind).
pub(super) fn event<T: Serialize>(event: &'static str, body: &T, plaintext: usize) -> Result<(), Problem> {
    // JSON escapes a character in at most 6 bytes (`\u0000`).
    let mut line = Vec::with_capacity(plaintext.saturating_mul(6).saturating_add(1024));
    serde_json::to_writer(&mut line, &Tagged { event, body })
        .map_err(|e| Problem::new(Kind::Usage, format!("cannot write JSON: {e}")))?;
    line.push(b'\n');
    out(SecretBytes::new(line).expose())
}

/// A value's plaintext as text for JSON (values are set as UTF-8; one made by hand
/// may not be).
pub(super) fn text<'a>(name: &str, value: &'a SecretBytes) -> Result<&'a str, Problem> {
    std::str::from_utf8(value.expose()).map_err(|_| {
        Problem::new(Kind::Secrets, format!("the value of `{name}` is not UTF-8 text"))
            .help("show it without --format json")
    })
}

/// A file's bytes as base64, in memory wiped when dropped.
pub(super) fn base64(content: &SecretBytes) -> Zeroizing<String> {
    use base64::Engine;
    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(content.expose()))
}
