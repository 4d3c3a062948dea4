//! `src/README.md` read as data: its layer table (which the import checks use)
//! and its map of files and folders (which must name every file of `src/`), so
//! the map cannot drift from the code without a test failing.

use std::collections::BTreeMap;
use std::path::Path;

/// The README's layer table: each top-level module and its layer.
pub fn layers(readme: &str) -> Vec<(String, u8)> {
    let section = section(readme, "## Layers");
    let mut out = Vec::new();
    for cells in rows(section) {
        let Ok(layer) = cells[0].parse::<u8>() else { continue };
        // The module names are the code spans before any `—` comment.
        let names = cells[1].split('—').next().unwrap_or("");
        for name in code_spans(names) {
            out.push((name, layer));
        }
    }
    out
}

/// The map's rows: the path in the first column (`exec/`, `script/mod.rs`) and
/// the text of the row.
pub fn map(readme: &str) -> BTreeMap<String, String> {
    let section = section(readme, "## Files and folders");
    rows(section)
        .into_iter()
        .filter_map(|cells| {
            let path = code_spans(&cells[0]).into_iter().next()?;
            Some((path, cells[1..].join(" | ")))
        })
        .collect()
}

/// Every file of `src/` (paths relative to it, `/`-separated) that the map does
/// not name: a file is on the map when it has a row of its own, or when the row
/// of its nearest folder names the rest of its path — each folder as `name/`
/// and the file as `name.rs` (a `mod.rs` is its folder's own file), or names
/// that rest whole (`local/tests.rs`).
pub fn missing(map: &BTreeMap<String, String>, files: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for file in files {
        if map.contains_key(file) {
            continue;
        }
        let Some(folder) = map
            .keys()
            .filter(|k| k.ends_with('/') && file.starts_with(k.as_str()))
            .max_by_key(|k| k.len())
        else {
            out.push(file.clone());
            continue;
        };
        let named = code_spans(&map[folder]);
        if named.iter().any(|n| n == &file[folder.len()..]) {
            continue;
        }
        let rest: Vec<&str> = file[folder.len()..].split('/').collect();
        let (name, dirs) = rest.split_last().unwrap();
        let dirs_named = dirs.iter().all(|d| named.contains(&format!("{d}/")));
        let file_named = *name == "mod.rs" || named.iter().any(|n| n == name);
        if !(dirs_named && file_named) {
            out.push(file.clone());
        }
    }
    out
}

/// The map's rows whose path is neither a file nor a folder of `src/`.
pub fn stale(map: &BTreeMap<String, String>, src: &Path) -> Vec<String> {
    map.keys()
        .filter(|k| {
            let p = src.join(k.trim_end_matches('/'));
            if k.ends_with('/') { !p.is_dir() } else { !p.is_file() }
        })
        .cloned()
        .collect()
}

fn section<'a>(readme: &'a str, heading: &str) -> &'a str {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("src/README.md has no `{heading}` section"));
    let rest = &readme[start + heading.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

/// The cells of each body row of the section's tables (header and rule left out).
fn rows(section: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut header = true;
    for line in section.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            header = true;
            continue;
        }
        if header {
            header = false;
            continue;
        }
        if line.starts_with("|--") || line.starts_with("|---") || line.starts_with("|:") {
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        if cells.len() >= 2 {
            out.push(cells);
        }
    }
    out
}

/// The texts between backticks.
fn code_spans(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}
