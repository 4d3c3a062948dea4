//! Option maps (`#{ mode: 0o600, content: "…" }`) taken apart with type checks and a
//! clear error for unknown keys, which are usually typos.

use rhai::{Array, Dynamic, Map, NativeCallContext};

use super::{RhaiResult, script_error};
use crate::problem::suggest::did_you_mean;
use crate::script::errors::{call_span, type_name};
use crate::source::SourceMap;

pub(crate) struct Options<'a> {
    ctx: &'a NativeCallContext<'a>,
    what: &'a str,
    map: Map,
    known: &'a [&'a str],
}

impl<'a> Options<'a> {
    pub(crate) fn new(
        ctx: &'a NativeCallContext<'a>,
        what: &'a str,
        map: Map,
        known: &'a [&'a str],
    ) -> RhaiResult<Self> {
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                return Err(script_error(
                    ctx,
                    format!("unknown option `{key}` for {what}"),
                    format!(
                        "{}{what} takes: {}",
                        did_you_mean(key, known.iter().copied()),
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(Options { ctx, what, map, known })
    }

    pub(crate) fn take(&mut self, key: &str) -> Option<Dynamic> {
        debug_assert!(self.known.contains(&key));
        self.map.remove(key).filter(|v| !v.is_unit())
    }

    pub(crate) fn string(&mut self, key: &str) -> RhaiResult<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(Some(v.to_string())),
            Some(v) => Err(self.wrong(key, "a string", &v)),
        }
    }

    pub(crate) fn bool(&mut self, key: &str) -> RhaiResult<Option<bool>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).map_err(|_| self.wrong(key, "true or false", &v)),
        }
    }

    /// A file mode: an integer (`0o640`) or an octal string (`"0640"`).
    ///
    /// Rhai has no bare octal literals: `mode: 0640` is the decimal number 640
    /// (`--w----r-T`). An integer whose decimal digits look like an octal mode is
    /// refused unless the call shows it was written `0o…`.
    pub(crate) fn mode(&mut self, key: &str) -> RhaiResult<Option<u32>> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        let mode = if let Ok(i) = v.as_int() {
            if looks_octal(i) && !self.written_in_radix(key, i) {
                return Err(script_error(
                    self.ctx,
                    format!(
                        "`{key}: {i}` is the decimal number {i}; write 0o{i} (Rhai has no bare octal literals) or \"0{i}\""
                    ),
                    "modes are octal: 0o640 or \"0640\" is rw-r-----",
                ));
            }
            u32::try_from(i).ok()
        } else if v.is_string() {
            u32::from_str_radix(v.to_string().trim_start_matches("0o"), 8).ok()
        } else {
            None
        };
        match mode {
            Some(m) if m <= 0o7777 => Ok(Some(m)),
            _ => Err(self.wrong(key, "a file mode such as 0o644 or \"0644\"", &v)),
        }
    }

    pub(crate) fn wrong(&self, key: &str, expected: &str, got: &Dynamic) -> Box<rhai::EvalAltResult> {
        script_error(
            self.ctx,
            format!(
                "option `{key}` of {} must be {expected}, not {}",
                self.what,
                type_name(got.type_name())
            ),
            format!("write e.g. `{key}: …` with {expected}"),
        )
    }

    /// Whether the integer `value` of option `key` was written `0o…`, `0x…` or
    /// `0b…`: in the call itself (`mode: 0o640` inside this call's parentheses) or,
    /// for a value built elsewhere, as an octal literal of that value in the
    /// calling script.
    fn written_in_radix(&self, key: &str, value: i64) -> bool {
        let Some(span) = call_span(self.ctx) else { return false };
        let Some(sources) = self.ctx.tag().and_then(|t| t.clone().try_cast::<SourceMap>()) else {
            return false;
        };
        let Some((text, offset, _)) = sources.byte_range(&span) else {
            return false;
        };
        match literal_of(call_text(&text[offset..]), key) {
            Some(literal) => has_radix_prefix(literal),
            None => octal_literals(&text).any(|v| v == value),
        }
    }
}

/// A decimal number a person may have meant as an octal mode: 640, 0640, 755.
/// `what: ["a", "b"]`: an array of strings.
pub(crate) fn strings(ctx: &NativeCallContext, what: &str, v: Dynamic) -> RhaiResult<Vec<String>> {
    let Some(items) = v.clone().try_cast::<Array>() else {
        return Err(script_error(
            ctx,
            format!("`{what}` must be an array of strings"),
            format!("write {what}: [\"a\", \"b\"]"),
        ));
    };
    items
        .into_iter()
        .map(|i| {
            if i.is_string() {
                Ok(i.to_string())
            } else {
                Err(script_error(
                    ctx,
                    format!("`{what}` must be an array of strings"),
                    format!("write {what}: [\"a\", \"b\"]"),
                ))
            }
        })
        .collect()
}

fn looks_octal(i: i64) -> bool {
    i >= 100 && i.to_string().bytes().all(|b| (b'0'..=b'7').contains(&b))
}

fn has_radix_prefix(literal: &str) -> bool {
    let l = literal.to_ascii_lowercase();
    l.starts_with("0o") || l.starts_with("0x") || l.starts_with("0b")
}

/// The text of a call from its function name to its closing parenthesis (string
/// literals skipped), or everything when it does not close.
fn call_text(text: &str) -> &str {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                c if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '`' | '\'' => quote = Some(c),
            '(' => depth += 1,
            ')' if depth <= 1 => return &text[..=i],
            ')' => depth -= 1,
            _ => {}
        }
    }
    text
}

/// The numeric literal after `key:` (or `"key":`) in `text`, as written.
fn literal_of<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    let mut from = 0;
    while let Some(found) = text[from..].find(key) {
        let start = from + found;
        from = start + key.len();
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = text[from..].trim_start_matches('"').trim_start();
        let Some(rest) = rest.strip_prefix(':') else { continue };
        let rest = rest.trim_start();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let literal = &rest[..len];
        if literal.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(literal);
        }
    }
    None
}

/// Values of the `0o…` literals in a script.
fn octal_literals(text: &str) -> impl Iterator<Item = i64> + '_ {
    text.match_indices("0o").filter_map(|(i, _)| {
        let boundary = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let digits: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '_')
            .filter(|c| *c != '_')
            .collect();
        boundary.then(|| i64::from_str_radix(&digits, 8).ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_numbers_that_look_like_modes() {
        assert!(looks_octal(640) && looks_octal(644) && looks_octal(420) && looks_octal(100));
        assert!(!looks_octal(755 + 3) && !looks_octal(99) && !looks_octal(384));
    }

    #[test]
    fn finds_how_a_mode_was_written() {
        let call = call_text(r#"file("a)", #{ content: "x:(", mode: 0o640 }));\nmore(mode: 7)"#);
        assert_eq!(literal_of(call, "mode"), Some("0o640"));
        assert_eq!(literal_of(r#"directory("d", #{ "mode": 644 })"#, "mode"), Some("644"));
        assert_eq!(literal_of("template(a, b, v, #{ filemode: 1, mode: m })", "mode"), None);
        assert_eq!(
            octal_literals("let m = 0o640; let n = x0o7; 0o1_0").collect::<Vec<_>>(),
            vec![0o640, 0o10]
        );
    }
}
