//! Masking secret values in text: the one mechanism every output passes through
//! (`report::Redacting` wraps the reporter with it; `app` renders problems through
//! it). It knows every secret value of the run — decrypted values, earlier values
//! of rotated secrets, the private keys — in the forms a command is likely to echo
//! it (as is, base64, URL-encoded, with control characters made visible), and the
//! tokens that stand for secrets inside script values.
//!
//! **Windows.** Output is kept as windows — the last 4,000 bytes of a failing
//! step, the last megabyte of `ordo run`, the last lines of an error — and a cut
//! can fall inside a secret, leaving a piece that matches no whole value. Whoever
//! cuts marks the place with [`CUT`](crate::text::CUT); here, the longest piece of
//! any secret that touches a mark (a secret's end right after it, a secret's start
//! right before it, or a text between two marks that lies inside a secret) is
//! masked too, and the mark is shown as `…`. Every byte that belongs to any
//! occurrence of any value is masked, also where two values overlap.

use std::sync::{Arc, RwLock};

use aho_corasick::AhoCorasick;
use base64::Engine;

use super::token::{TOKEN_OPEN, show_tokens};
use crate::text::{CUT, visible};

/// What a masked value is replaced with.
pub const MASK: &str = "[redacted]";

/// The shortest piece of a secret at a cut that is masked, like the shortest value:
/// one or two characters match the start of too much ordinary text (a base64
/// form's last two letters, say), and tell little about a secret.
const MIN_PIECE: usize = 3;

/// What a [`CUT`] mark is shown as.
const CUT_SHOWN: &str = "…";

/// Known secret values. Clones share them: values added after a reporter was built
/// are masked by it too.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    inner: Arc<RwLock<Needles>>,
}

#[derive(Debug, Default)]
struct Needles {
    /// Every form of every value, each once.
    all: Vec<String>,
    /// Finds them all in one pass (rebuilt when values are added).
    finder: Option<AhoCorasick>,
}

impl Redactor {
    /// A redactor for these values.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(values: I) -> Self {
        let r = Redactor::default();
        r.add(values);
        r
    }

    /// Masks these values too, from now on. Values shorter than 3 bytes are not
    /// masked inside text (they would mask everything); keep secrets longer.
    pub fn add<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(&self, values: I) {
        let mut needles = self.inner.write().expect("redactor poisoned");
        let before = needles.all.len();
        for v in values {
            let v = v.as_ref();
            if v.is_empty() {
                continue;
            }
            let plain = String::from_utf8_lossy(v).into_owned();
            let b64 = base64::engine::general_purpose::STANDARD.encode(v);
            let forms = [
                visible(&plain, true),
                visible(&plain, false),
                b64.trim_end_matches('=').to_string(),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v),
                url_encode(v),
                plain,
            ];
            for f in forms {
                if f.len() >= 3 && !needles.all.contains(&f) {
                    needles.all.push(f);
                }
            }
        }
        if needles.all.len() != before {
            needles.finder = AhoCorasick::new(&needles.all).ok();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.read().expect("redactor poisoned").all.is_empty()
    }

    /// `text` with every known value masked, every secret token shown as
    /// `[secret:name]`, and every cut mark shown as `…` with the piece of a secret
    /// next to it masked.
    pub fn redact(&self, text: &str) -> String {
        let text = if text.contains(TOKEN_OPEN) {
            show_tokens(text)
        } else {
            text.to_string()
        };
        let needles = self.inner.read().expect("redactor poisoned");
        if !text.contains(CUT) {
            return needles.mask(&text, false, false);
        }
        let pieces: Vec<&str> = text.split(CUT).collect();
        let last = pieces.len() - 1;
        let mut out = String::with_capacity(text.len());
        for (i, piece) in pieces.into_iter().enumerate() {
            if i > 0 {
                out.push_str(CUT_SHOWN);
            }
            out.push_str(&needles.mask(piece, i > 0, i < last));
        }
        out
    }
}

impl Needles {
    /// `text` with every occurrence of every needle masked; with `cut_before` /
    /// `cut_after`, also the longest piece of a needle at that edge.
    fn mask(&self, text: &str, cut_before: bool, cut_after: bool) -> String {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        match &self.finder {
            Some(finder) => spans.extend(finder.find_overlapping_iter(text).map(|m| (m.start(), m.end()))),
            // No automaton (too many values for one): slower, never less.
            None => {
                for n in &self.all {
                    let mut from = 0;
                    while let Some(at) = text[from..].find(n.as_str()) {
                        let start = from + at;
                        spans.push((start, start + n.len()));
                        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
                    }
                }
            }
        }
        if cut_before {
            // A cut inside a character leaves replacement characters first.
            let skip = leading(text, '\u{fffd}');
            let body = &text[skip..];
            let k = self.all.iter().map(|n| head_piece(body, n)).max().unwrap_or(0);
            if k >= MIN_PIECE && !body[..k].trim().is_empty() {
                spans.push((0, skip + k));
            }
        }
        if cut_after {
            let keep = text.len() - trailing(text, '\u{fffd}');
            let body = &text[..keep];
            let k = self.all.iter().map(|n| tail_piece(body, n)).max().unwrap_or(0);
            if k >= MIN_PIECE && !body[keep - k..].trim().is_empty() {
                spans.push((keep - k, text.len()));
            }
        }
        if spans.is_empty() {
            return text.to_string();
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        let mut spans = spans.into_iter().peekable();
        while let Some((start, mut end)) = spans.next() {
            // Overlapping or touching occurrences become one mask.
            while let Some(&(s, e)) = spans.peek() {
                if s > end {
                    break;
                }
                end = end.max(e);
                spans.next();
            }
            // Merged, spans start after the previous one ends.
            out.push_str(&text[at..start]);
            out.push_str(MASK);
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// Bytes of `text` taken by `c` repeated at its start.
fn leading(text: &str, c: char) -> usize {
    text.len() - text.trim_start_matches(c).len()
}

fn trailing(text: &str, c: char) -> usize {
    text.len() - text.trim_end_matches(c).len()
}

/// How much of `body`'s start is a piece of `needle` cut off before it: the
/// longest end of `needle` that `body` starts with, or all of `body` when it lies
/// inside `needle`.
fn head_piece(body: &str, needle: &str) -> usize {
    if body.len() < needle.len() && needle.contains(body) {
        return body.len();
    }
    overlap(needle.as_bytes(), body.as_bytes())
}

/// How much of `body`'s end is a piece of `needle` cut off after it: the longest
/// start of `needle` that `body` ends with, or all of `body` when it lies inside.
fn tail_piece(body: &str, needle: &str) -> usize {
    if body.len() < needle.len() && needle.contains(body) {
        return body.len();
    }
    overlap(body.as_bytes(), needle.as_bytes())
}

/// The length of the longest end of `a` that is also a start of `b`, shorter than
/// `b` (a whole `b` inside `a` is an occurrence, found elsewhere). Knuth–Morris–
/// Pratt over `a` with `b` as the pattern: linear, whatever the bytes.
fn overlap(a: &[u8], b: &[u8]) -> usize {
    let m = b.len().min(a.len());
    if m == 0 {
        return 0;
    }
    let pattern = &b[..m];
    let mut fail = vec![0usize; m];
    let mut k = 0;
    for i in 1..m {
        while k > 0 && pattern[i] != pattern[k] {
            k = fail[k - 1];
        }
        if pattern[i] == pattern[k] {
            k += 1;
        }
        fail[i] = k;
    }
    let mut q = 0;
    for &byte in &a[a.len() - m..] {
        while q > 0 && (q == m || byte != pattern[q]) {
            q = fail[q - 1];
        }
        if byte == pattern[q] {
            q += 1;
        }
    }
    if q == b.len() { fail[q - 1] } else { q }
}

fn url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_values_in_every_form_and_shows_tokens() {
        let r = Redactor::new(["s3cr3t/pw"]);
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t/pw");
        let text = format!("a s3cr3t/pw b {b64} c s3cr3t%2Fpw d \u{e000}secret:db\u{e001}");
        let out = r.redact(&text);
        assert!(
            !out.contains("s3cr3t") && !out.contains(b64.trim_end_matches('=')),
            "{out}"
        );
        assert_eq!(out.matches(MASK).count(), 3, "{out}");
        assert!(out.ends_with("d [secret:db]"), "{out}");
        let later = r.clone();
        r.add(["hunter2"]);
        assert_eq!(later.redact("hunter2"), MASK, "clones share what is added later");
    }

    #[test]
    fn a_value_with_control_characters_is_masked_as_made_visible() {
        let r = Redactor::new(["line one\r\nline\ttwo\x1b"]);
        assert_eq!(
            r.redact(&visible("x line one\r\nline\ttwo\x1b y", true)),
            "x [redacted] y"
        );
        assert_eq!(
            r.redact(&visible("x line one\r\nline\ttwo\x1b y", false)),
            "x [redacted] y"
        );
    }

    #[test]
    fn overlapping_values_are_masked_wholly() {
        let r = Redactor::new(["abcdef", "xyzabc", "defghi"]);
        assert_eq!(r.redact("1 xyzabcdefghi 2"), "1 [redacted] 2");
        assert_eq!(r.redact("abcdefabcdef"), "[redacted]");
        // The same without the automaton.
        r.inner.write().unwrap().finder = None;
        assert_eq!(r.redact("1 xyzabcdefghi 2"), "1 [redacted] 2");
        assert_eq!(r.redact("é abcdef é"), "é [redacted] é");
    }

    #[test]
    fn a_piece_of_a_secret_at_a_cut_is_masked() {
        let r = Redactor::new(["correct-horse-battery"]);
        // A window that starts inside the value: its end is masked.
        assert_eq!(r.redact(&format!("{CUT}rse-battery\nok")), "…[redacted]\nok");
        // One that ends inside it: its start.
        assert_eq!(r.redact(&format!("pw: correct-ho{CUT}")), "pw: [redacted]…");
        // Between two cuts, inside the value.
        assert_eq!(r.redact(&format!("{CUT}t-horse-b{CUT}")), "…[redacted]…");
        // A cut inside a character leaves a replacement character before the piece.
        assert_eq!(
            r.redact(&format!("{CUT}\u{fffd}ttery and more")),
            "…[redacted] and more"
        );
        // Nothing of a value at the cut: nothing masked but the mark.
        assert_eq!(r.redact(&format!("{CUT}plain text")), "…plain text");
        // Whitespace alone is no piece worth a mask, nor are two characters.
        assert_eq!(r.redact(&format!("{CUT}\nnext")), "…\nnext");
        assert_eq!(r.redact(&format!("{CUT}ry: ok")), "…ry: ok");
        assert_eq!(r.redact(&format!("{CUT}ery: ok")), "…[redacted]: ok");
        // Without the mark, a piece is not a value.
        assert_eq!(r.redact("rse-battery"), "rse-battery");
        // A value that ends the text before a cut, whole, and then a piece.
        assert_eq!(
            r.redact(&format!("correct-horse-battery correct{CUT}")),
            "[redacted] [redacted]…"
        );
    }

    #[test]
    fn overlap_is_the_longest_end_that_starts_the_other() {
        assert_eq!(overlap(b"xxabc", b"abcde"), 3);
        assert_eq!(overlap(b"aaaa", b"aaab"), 3);
        assert_eq!(overlap(b"abc", b"abc"), 0, "a whole occurrence is not a piece");
        assert_eq!(overlap(b"abcab", b"abc"), 2);
        assert_eq!(overlap(b"", b"abc"), 0);
        assert_eq!(overlap(b"ab", b"b"), 0);
    }
}
