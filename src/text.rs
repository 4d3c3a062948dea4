//! Text for people: untrusted bytes made visible, plurals.

/// Marks the place where ordo cut a window out of longer text (the tail of a
/// command's output, the last lines of an error): a secret may have been cut
/// there. The redactor (`secrets::Redactor`) masks the piece of a secret next to
/// it and shows it as `…`; nothing shows the mark itself. A character of Unicode's
/// private use area, like the secret tokens.
pub const CUT: char = '\u{E002}';

/// The last `n` lines of `text` (without trailing blank space), as they are (line
/// ends included), with [`CUT`] in front when lines were left out.
pub fn last_lines(text: &str, n: usize) -> String {
    let text = text.trim_end();
    if n == 0 {
        return if text.is_empty() {
            String::new()
        } else {
            CUT.to_string()
        };
    }
    match text.match_indices('\n').rev().nth(n - 1) {
        Some((at, _)) => format!("{CUT}{}", &text[at + 1..]),
        None => text.to_string(),
    }
}

/// `text` with control characters replaced by visible escapes (`\u{1b}`), so bytes
/// from a host (file contents, link targets, command output) cannot move the cursor,
/// clear the screen or forge lines on a terminal. With `lines`, newlines and tabs
/// stay (bodies of diffs and output); without, they are escaped too (names).
pub fn visible(text: &str, lines: bool) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && !(lines && (c == '\n' || c == '\t')))
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_control() && !(lines && (c == '\n' || c == '\t')) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// The same for raw bytes (invalid UTF-8 shown as U+FFFD).
pub fn visible_bytes(bytes: &[u8], lines: bool) -> String {
    visible(&String::from_utf8_lossy(bytes), lines)
}

/// `1 host`, `2 hosts`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(visible("a\x1b[31mb", true), "a\\u{1b}[31mb");
        assert_eq!(visible("a\nb\tc", true), "a\nb\tc");
        assert_eq!(visible("a\nb", false), "a\\u{a}b");
        assert_eq!(visible("plain", false), "plain");
        assert_eq!(plural(1, "host"), "1 host");
        assert_eq!(plural(2, "host"), "2 hosts");
    }

    #[test]
    fn last_lines_marks_the_cut() {
        assert_eq!(last_lines("a\nb\nc\n\n", 2), format!("{CUT}b\nc"));
        assert_eq!(last_lines("a\nb", 2), "a\nb");
        assert_eq!(
            last_lines("a\r\nb\r\nc\r\n", 2),
            format!("{CUT}b\r\nc"),
            "line ends stay"
        );
        assert_eq!(last_lines("", 2), "");
    }
}
