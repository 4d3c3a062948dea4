//! "Did you mean …?" hints and lists of known names, for errors about names a user
//! typed: options, attributes, components, hosts, keys.

/// The known word nearest to `word`, if it is a plausible typo.
pub fn closest<'k>(word: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    known
        .into_iter()
        .map(|k| (distance(word, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// "did you mean `x`? " (with a trailing space) or "", to put in front of a help text.
pub fn did_you_mean<'k>(word: &str, known: impl IntoIterator<Item = &'k str>) -> String {
    closest(word, known)
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default()
}

/// `a, b, c`, or `none` for an empty list.
pub fn list_or_none<S: AsRef<str>>(known: &[S]) -> String {
    if known.is_empty() {
        "none".to_string()
    } else {
        known.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
    }
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_words_only() {
        assert_eq!(closest("contnet", ["content", "source", "mode"]), Some("content"));
        assert_eq!(closest("xyz", ["content", "source"]), None);
        assert_eq!(did_you_mean("mdoe", ["mode"]), "did you mean `mode`? ");
        assert_eq!(list_or_none::<&str>(&[]), "none");
        assert_eq!(list_or_none(&["a", "b"]), "a, b");
    }
}
