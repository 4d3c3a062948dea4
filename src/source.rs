//! Where things were written: every model node and every diagnostic carries a [`Span`]
//! (file, line, column) and the [`SourceMap`] keeps the text of every script that was
//! loaded, so errors can print the offending line with a caret.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

/// A position in a script: file name as shown to the user (relative to the project,
/// or `stdlib/<name>.rhai`), 1-based line and character column.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl Span {
    pub fn new(file: impl Into<Arc<str>>, line: u32, column: u32) -> Self {
        Span {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Texts of all loaded scripts, by the name their spans use. Shared between the
/// module resolver (which adds stdlib and project modules as they are imported) and
/// the diagnostics renderer.
#[derive(Clone, Default)]
pub struct SourceMap {
    texts: Arc<RwLock<HashMap<Arc<str>, Arc<str>>>>,
    /// Files of the embedded standard library and of recipe libraries: code the
    /// project calls, not code it wrote.
    foreign: Arc<RwLock<std::collections::HashSet<Arc<str>>>>,
}

impl fmt::Debug for SourceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts = self.texts.read().expect("source map poisoned");
        let mut names: Vec<&Arc<str>> = texts.keys().collect();
        names.sort();
        f.debug_set().entries(names).finish()
    }
}

impl SourceMap {
    /// Adds a file of the standard library or of a recipe library.
    pub fn insert_foreign(&self, name: &str, text: &str) {
        self.insert(name, text);
        self.foreign.write().expect("source map poisoned").insert(name.into());
    }

    /// Whether `name` is a file of the standard library or of a recipe library.
    pub fn is_foreign(&self, name: &str) -> bool {
        self.foreign.read().expect("source map poisoned").contains(name)
    }

    pub fn insert(&self, name: &str, text: &str) {
        self.texts
            .write()
            .expect("source map poisoned")
            .insert(name.into(), text.into());
    }

    pub fn get(&self, name: &str) -> Option<Arc<str>> {
        self.texts.read().expect("source map poisoned").get(name).cloned()
    }

    /// Byte offset and length of the token at `span`, for miette labels.
    pub fn byte_range(&self, span: &Span) -> Option<(Arc<str>, usize, usize)> {
        let text = self.get(&span.file)?;
        let offset = byte_offset(&text, span.line as usize, span.column as usize)?;
        let rest = &text[offset..];
        let len = token_len(rest);
        Some((text, offset, len))
    }

    /// The identifier-like word at `span` (`package` in `let package = 1;`).
    pub fn word_at(&self, span: &Span) -> Option<String> {
        let (text, offset, len) = self.byte_range(span)?;
        Some(text[offset..offset + len].to_string()).filter(|w| !w.is_empty())
    }
}

fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    if start > text.len() {
        return None;
    }
    let line_text = text[start..].lines().next().unwrap_or("");
    let col = line_text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_text.len(), |(i, _)| i);
    Some(start + col)
}

/// Length of an identifier-like token (or one character) so a label underlines a word.
fn token_len(rest: &str) -> usize {
    let ident: usize = rest
        .char_indices()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .map(|(_, c)| c.len_utf8())
        .sum();
    if ident > 0 {
        ident
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_offsets_count_characters_not_bytes() {
        let text = "let a = 1;\nlet ü = x;\n";
        assert_eq!(byte_offset(text, 2, 9), Some(11 + 9));
        assert_eq!(byte_offset(text, 1, 1), Some(0));
    }

    #[test]
    fn labels_cover_the_identifier() {
        let map = SourceMap::default();
        map.insert("a.rhai", "let x = foo(1);");
        let (_, off, len) = map.byte_range(&Span::new("a.rhai", 1, 9)).unwrap();
        assert_eq!((off, len), (8, 3));
    }
}
