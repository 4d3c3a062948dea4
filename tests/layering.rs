//! The dependency direction of `src/README.md`, checked: every module may use only
//! modules below it. A `use crate::…` that points up (the executor reaching into
//! the script layer, say) fails here with the file and the line.

use std::path::Path;

mod imports;
mod map;

/// Each top-level module and its layer, from `src/README.md`'s layer table.
fn layers() -> Vec<(String, u8)> {
    let layers = map::layers(&readme());
    assert!(
        layers.len() > 10,
        "src/README.md's layer table was not read: {layers:?}"
    );
    layers
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/README.md")).unwrap()
}

fn visit(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            visit(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_uses_a_module_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    files.sort();
    let layers = layers();
    let layer = |module: &str| layers.iter().find(|(m, _)| m == module).map(|(_, l)| *l);
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let top = top.trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(own) = layer(&top) else {
            unknown.push(top);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let used: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if used == top || used.is_empty() || used == "VERSION" || used == "run" {
                    continue;
                }
                match layer(&used) {
                    Some(l) if l < own => {}
                    Some(l) => wrong.push(format!(
                        "src/{}:{}: `{top}` (layer {own}) uses `crate::{used}` (layer {l})",
                        rel.display(),
                        n + 1
                    )),
                    None => unknown.push(used),
                }
            }
        }
    }
    unknown.sort();
    unknown.dedup();
    assert!(
        unknown.is_empty(),
        "modules missing from src/README.md's layer table: {unknown:?}"
    );
    assert!(wrong.is_empty(), "imports against the direction:\n{}", wrong.join("\n"));
}

/// No two files reach each other through imports, in any folder: a circle means
/// neither can be read, changed or tested without the other.
#[test]
fn no_files_import_each_other_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let circles = imports::Graph::read(&src).circles();
    let text: Vec<String> = circles.iter().map(|c| c.join("\n")).collect();
    assert!(
        circles.is_empty(),
        "files that import each other:\n\n{}",
        text.join("\n\n")
    );
}

/// `ORDO_*` variables are configuration: read once, in `cli/`, and handed down as
/// settings, so no layer below decides on its own what the user asked for.
#[test]
fn ordo_variables_are_read_only_with_the_configuration() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        if rel.starts_with("cli") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains("var_os(\"ORDO_") || line.contains("var(\"ORDO_") {
                wrong.push(format!("src/{}:{}: {}", rel.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "ORDO_ variables read outside cli/:\n{}",
        wrong.join("\n")
    );
}

/// `src/README.md`'s map names every file of `src/`, and every path it names
/// exists: a file added, moved or removed without its line fails here.
#[test]
fn the_map_names_every_file() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    let files: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/"))
        .collect();
    let map = map::map(&readme());
    let missing = map::missing(&map, &files);
    assert!(
        missing.is_empty(),
        "files src/README.md's map does not name (add each to its folder's row):\n{}",
        missing.join("\n")
    );
    let stale = map::stale(&map, &src);
    assert!(
        stale.is_empty(),
        "src/README.md's map names paths that do not exist: {stale:?}"
    );
}

/// Calls of the redactor that mask data, not output: (file below `src/`, the
/// function that calls it, why). Each must still be there (a stale entry fails).
const MASKS_DATA_NOT_OUTPUT: &[(&str, &str, &str)] = &[(
    "workspace.rs",
    "set_records",
    "masks the `--set` values that hosts keep in their deploy history: data written to \
     hosts, read back by later runs, never shown by this one",
)];

/// Secrets are masked in one place, the redacting reporter: every output —
/// events, command output, the problems that end a run — goes through it, so no
/// other code calls the redactor (and none can forget to). The exceptions are
/// named, with their reason, in [`MASKS_DATA_NOT_OUTPUT`].
#[test]
fn only_the_redacting_reporter_masks_output() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    let mut wrong = Vec::new();
    let mut used = vec![false; MASKS_DATA_NOT_OUTPUT.len()];
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        if rel.starts_with("secrets") || rel == Path::new("report/redact.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        // The function a line is in: the last `fn name(` above it.
        let mut function = "";
        for (n, line) in code.lines().enumerate() {
            if let Some((_, rest)) = line.split_once("fn ")
                && let Some((name, _)) = rest.split_once(['(', '<'])
                && !name.is_empty()
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
            {
                function = name;
            }
            if line.contains(".redact(") {
                let excepted = MASKS_DATA_NOT_OUTPUT
                    .iter()
                    .position(|(f, func, _)| rel == Path::new(f) && function == *func);
                match excepted {
                    Some(i) => used[i] = true,
                    None => wrong.push(format!("src/{}:{}: {}", rel.display(), n + 1, line.trim())),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "output masked outside report/redact.rs:\n{}",
        wrong.join("\n")
    );
    let stale: Vec<_> = MASKS_DATA_NOT_OUTPUT
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|((f, func, _), _)| format!("src/{f}: {func}"))
        .collect();
    assert!(
        stale.is_empty(),
        "named exceptions that no longer call the redactor: {stale:?}"
    );
}

/// No Rust code runs the external `kill` with a process group (`kill -SIG -PGID`):
/// procps-ng 4.0.2's kill reads `-PGID` as its first digit, so `kill -TERM -1234`
/// is `kill(-1)` — as root (the tests run as root) every process there is, the test
/// runner and CI with it. Process groups are signalled with
/// `rustix::process::kill_process_group`; host scripts use their shell's built-in
/// `kill`, which reads the whole number.
#[test]
fn no_external_kill_signals_a_process_group() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches"] {
        if root.join(dir).is_dir() {
            visit(&root.join(dir), &mut files);
        }
    }
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (at, _) in text.match_indices("new(\"kill\")") {
            // The operands after the first (the signal): none may be `-{…}`.
            let call = text[at..].split(';').next().unwrap_or("");
            if call
                .split(".arg(")
                .skip(2)
                .any(|a| a.trim_start().starts_with("format!(\"-"))
            {
                let line = text[..at].lines().count();
                wrong.push(format!("{}:{line}", file.strip_prefix(root).unwrap().display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the external kill given a process group (use kill_process_group): {wrong:?}"
    );
}
