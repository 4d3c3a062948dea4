//! The import graph of `src/`, read from the sources as the compiler would resolve
//! them, well enough for circles: an arrow goes from a file to the file that
//! defines an item it names. A name is found through every `use` (grouped imports
//! expanded) and every path in code that starts with `crate::`, `super::`,
//! `self::` or the name of a child module; re-exports (`pub use`) are followed to
//! the file that defines the item, and a re-export is an arrow of its own only
//! where the re-exporting file's code uses the name. Test code (`#[cfg(test)]`
//! modules, items and imports) is left out: a test may look anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files (relative to `src/`) and the arrows between them, each with the names
/// that the first file takes from the second.
pub struct Graph {
    pub files: Vec<String>,
    pub arrows: BTreeMap<(usize, usize), BTreeSet<String>>,
}

impl Graph {
    /// Reads the crate whose root is `src/lib.rs`.
    pub fn read(src: &Path) -> Graph {
        let mut crate_ = Crate {
            src: src.to_path_buf(),
            modules: Vec::new(),
        };
        crate_.load(src.join("lib.rs"), Vec::new(), None);
        crate_.graph()
    }

    /// Every circle: the sets of two or more files that reach each other through
    /// arrows, each with its arrows written `a -> b: names`.
    pub fn circles(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for scc in strongly_connected(self.files.len(), &self.arrows) {
            if scc.len() < 2 {
                continue;
            }
            let inside: BTreeSet<usize> = scc.iter().copied().collect();
            let mut lines = Vec::new();
            for ((a, b), names) in &self.arrows {
                if inside.contains(a) && inside.contains(b) {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    lines.push(format!(
                        "src/{} -> src/{}: {}",
                        self.files[*a],
                        self.files[*b],
                        names.join(", ")
                    ));
                }
            }
            out.push(lines);
        }
        out
    }
}

/// One module (a file: inline modules are part of their file).
struct Module {
    path: Vec<String>,
    file: String,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    /// Items defined at the top of the file.
    defs: BTreeSet<String>,
    uses: Vec<Use>,
    /// Paths in code (not in `use`), with the first segment as written.
    paths: Vec<Vec<String>>,
    /// Identifiers of code outside `use` statements.
    idents: BTreeSet<String>,
}

/// One name a `use` binds (`*` for a glob).
struct Use {
    path: Vec<String>,
    name: String,
    public: bool,
}

struct Crate {
    src: PathBuf,
    modules: Vec<Module>,
}

impl Crate {
    fn load(&mut self, file: PathBuf, path: Vec<String>, parent: Option<usize>) -> usize {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let tokens = tokens(&strip(&text));
        let parsed = parse(&tokens);
        let index = self.modules.len();
        let rel = file.strip_prefix(&self.src).unwrap().to_string_lossy().into_owned();
        self.modules.push(Module {
            path: path.clone(),
            file: rel,
            parent,
            children: BTreeMap::new(),
            defs: parsed.defs,
            uses: parsed.uses,
            paths: parsed.paths,
            idents: parsed.idents,
        });
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = if stem == "mod" || stem == "lib" {
            file.parent().unwrap().to_path_buf()
        } else {
            file.parent().unwrap().join(&stem)
        };
        for child in parsed.children {
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(&child).join("mod.rs");
            let child_file = if flat.exists() { flat } else { nested };
            let mut child_path = path.clone();
            child_path.push(child.clone());
            let c = self.load(child_file, child_path, Some(index));
            self.modules[index].children.insert(child, c);
        }
        index
    }

    fn graph(&self) -> Graph {
        let files: Vec<String> = self.modules.iter().map(|m| m.file.clone()).collect();
        let mut arrows: BTreeMap<(usize, usize), BTreeSet<String>> = BTreeMap::new();
        for (from, m) in self.modules.iter().enumerate() {
            let mut add = |to: Option<(usize, Option<String>)>| {
                if let Some((to, item)) = to
                    && to != from
                    && !self.is_ancestor(to, from)
                {
                    let name = item.unwrap_or_else(|| self.modules[to].path.join("::"));
                    arrows.entry((from, to)).or_default().insert(name);
                }
            };
            for u in &m.uses {
                if u.public && u.name != "*" && !m.idents.contains(&u.name) {
                    continue; // only handed on
                }
                add(self.resolve(from, &u.path, 0));
            }
            for p in &m.paths {
                add(self.resolve(from, p, 0));
            }
        }
        Graph { files, arrows }
    }

    /// `a` holds `b` (a folder's `mod.rs` holds the files of the folder): `b` may
    /// use what `a` defines, the folder's shared vocabulary, without a circle.
    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        let (a, b) = (&self.modules[a].path, &self.modules[b].path);
        a.len() < b.len() && b.starts_with(a)
    }

    /// The module that defines what `path` names, seen from module `from`, and the
    /// item (`None`: the path names the module itself); `None` for other crates.
    fn resolve(&self, from: usize, path: &[String], depth: usize) -> Option<(usize, Option<String>)> {
        if depth > 16 || path.is_empty() {
            return None;
        }
        let (mut m, mut rest) = match path[0].as_str() {
            "crate" => (0, &path[1..]),
            "self" => (from, &path[1..]),
            "super" => {
                let mut m = from;
                let mut rest = path;
                while rest.first().is_some_and(|s| s == "super") {
                    m = self.modules[m].parent?;
                    rest = &rest[1..];
                }
                (m, rest)
            }
            first if self.modules[from].children.contains_key(first) => (from, path),
            first => {
                // A name a `use` of this module brought in: an item
                // (`ManagedKind::File`), or a module (`use crate::x::y; y::z`).
                let u = self.modules[from].uses.iter().find(|u| u.name == first)?;
                match self.resolve(from, &u.path, depth + 1)? {
                    (m, None) => (m, &path[1..]),
                    item => return Some(item),
                }
            }
        };
        while let Some(seg) = rest.first() {
            match self.modules[m].children.get(seg) {
                Some(&child) => {
                    m = child;
                    rest = &rest[1..];
                }
                None => return self.item(m, seg, depth),
            }
        }
        Some((m, None))
    }

    /// Where the item `name` of module `m` is defined: in `m`, or where one of its
    /// `use`s (a re-export) takes it from.
    fn item(&self, m: usize, name: &str, depth: usize) -> Option<(usize, Option<String>)> {
        let module = &self.modules[m];
        let found = |t: usize| Some((t, Some(name.to_string())));
        if module.defs.contains(name) {
            return found(m);
        }
        if let Some(u) = module.uses.iter().find(|u| u.name == name) {
            return self.resolve(m, &u.path, depth + 1).and_then(|(t, _)| found(t));
        }
        for u in module.uses.iter().filter(|u| u.name == "*") {
            if let Some((t, None)) = self.resolve(m, &u.path, depth + 1)
                && let Some(item) = self.item(t, name, depth + 1)
            {
                return Some(item);
            }
        }
        // Not seen (an item a macro defines, say): the module's own file.
        found(m)
    }
}

/// What one file declares and names.
#[derive(Default)]
struct Parsed {
    children: Vec<String>,
    defs: BTreeSet<String>,
    uses: Vec<Use>,
    paths: Vec<Vec<String>>,
    idents: BTreeSet<String>,
}

const ITEM_KEYWORDS: &[&str] = &[
    "struct", "enum", "trait", "fn", "const", "static", "type", "union", "mod",
];

fn parse(t: &[String]) -> Parsed {
    let mut p = Parsed::default();
    let mut depth = 0usize;
    let mut i = 0;
    while i < t.len() {
        let tok = t[i].as_str();
        if tok == "#" && is_cfg_test(&t[i..]) {
            i = skip_item(t, i + 7);
            continue;
        }
        match tok {
            "{" => depth += 1,
            "}" => depth = depth.saturating_sub(1),
            "use" => {
                let public = i > 0 && (t[i - 1] == "pub" || (t[i - 1] == ")" && i >= 4 && t[i - 4] == "pub"))
                    || (i >= 5 && t[i - 1] == ")" && t[i - 5] == "pub");
                let end = t[i..].iter().position(|x| x == ";").map_or(t.len(), |e| i + e);
                let mut out = Vec::new();
                use_tree(&t[i + 1..end], Vec::new(), &mut out);
                p.uses
                    .extend(out.into_iter().map(|(path, name)| Use { path, name, public }));
                i = end + 1;
                continue;
            }
            "mod" if depth == 0 && t.get(i + 2).is_some_and(|x| x == ";") => {
                p.children.push(t[i + 1].clone());
                p.defs.insert(t[i + 1].clone());
                i += 3;
                continue;
            }
            "macro_rules" if t.get(i + 1).is_some_and(|x| x == "!") => {
                if let Some(name) = t.get(i + 2) {
                    p.defs.insert(name.clone());
                }
            }
            k if depth == 0 && ITEM_KEYWORDS.contains(&k) => {
                if let Some(name) = t.get(i + 1).filter(|n| is_ident(n) && !is_keyword(n)) {
                    p.defs.insert(name.clone());
                }
            }
            _ => {}
        }
        if is_ident(tok) && t.get(i + 1).is_some_and(|x| x == "::") && (i == 0 || t[i - 1] != "::") {
            let mut path = vec![tok.to_string()];
            let mut j = i + 1;
            while t.get(j).is_some_and(|x| x == "::") && t.get(j + 1).is_some_and(|x| is_ident(x)) {
                path.push(t[j + 1].clone());
                j += 2;
            }
            if path.len() > 1 {
                p.paths.push(path);
            }
        }
        if is_ident(tok) {
            p.idents.insert(tok.to_string());
        }
        i += 1;
    }
    // Paths in code count when they start where a module does; others name types
    // (`Vec::new`) or other crates.
    let children: BTreeSet<&String> = p.children.iter().collect();
    let bound: BTreeSet<&String> = p.uses.iter().map(|u| &u.name).collect();
    p.paths.retain(|path| {
        let head = &path[0];
        matches!(head.as_str(), "crate" | "super" | "self") || children.contains(head) || bound.contains(head)
    });
    p
}

/// `#[cfg(test)]` at `t[0]`.
fn is_cfg_test(t: &[String]) -> bool {
    let want = ["#", "[", "cfg", "(", "test", ")", "]"];
    t.len() >= want.len() && t.iter().zip(want).all(|(a, b)| a == b)
}

/// The index after the item that starts at `i`: after its `;`, or after its first
/// balanced `{ … }` block.
fn skip_item(t: &[String], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < t.len() {
        match t[i].as_str() {
            ";" if depth == 0 => return i + 1,
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Expands one use tree (`a::b::{c, d::{e as f}, self, *}`) into paths and the
/// names they bind.
fn use_tree(t: &[String], prefix: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    let mut path = prefix;
    let mut i = 0;
    if t.first().is_some_and(|x| x == "::") {
        i = 1;
    }
    while i < t.len() {
        match t[i].as_str() {
            "::" => i += 1,
            "{" => {
                let mut depth = 0;
                let mut start = i + 1;
                for j in i..t.len() {
                    match t[j].as_str() {
                        "{" => depth += 1,
                        "}" => {
                            depth -= 1;
                            if depth == 0 {
                                if j > start {
                                    use_tree(&t[start..j], path.clone(), out);
                                }
                                return;
                            }
                        }
                        "," if depth == 1 => {
                            if j > start {
                                use_tree(&t[start..j], path.clone(), out);
                            }
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            "*" => {
                out.push((path, "*".into()));
                return;
            }
            "as" => {
                if let Some(alias) = t.get(i + 1)
                    && alias != "_"
                {
                    out.push((path, alias.clone()));
                }
                return;
            }
            "self" if !path.is_empty() => i += 1,
            seg => {
                path.push(seg.to_string());
                i += 1;
            }
        }
    }
    if let Some(name) = path.last().cloned() {
        out.push((path, name));
    }
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "fn" | "mut" | "unsafe" | "extern" | "async" | "impl" | "for" | "where" | "dyn"
    )
}

/// Identifiers, `::` and single punctuation characters.
fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

/// The code without comments and without the contents of string and character
/// literals (a literal becomes `""`).
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            'r' | 'b' if raw_string_start(&c, i).is_some() => {
                let (hashes, body) = raw_string_start(&c, i).unwrap();
                i = body;
                while i < c.len() {
                    if c[i] == '"' && (0..hashes).all(|k| c.get(i + 1 + k) == Some(&'#')) {
                        i += 1 + hashes;
                        break;
                    }
                    i += 1;
                }
                out.push_str("\"\"");
            }
            '"' => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            '\'' if c.get(i + 1) == Some(&'\\') => {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            }
            '\'' if c.get(i + 2) == Some(&'\'') => {
                i += 3;
                out.push_str("' '");
            }
            ch => {
                // An identifier that ends in `r` or `b` is not a raw string's start.
                out.push(ch);
                i += 1;
                if ch.is_alphanumeric() || ch == '_' {
                    while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                        out.push(c[i]);
                        i += 1;
                    }
                }
            }
        }
    }
    out
}

/// At `c[i]`, a raw string (`r"`, `r#"`, `br#"`): its number of `#` and where its
/// body starts.
fn raw_string_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if c[j] == 'b' {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

/// Tarjan's strongly connected components.
fn strongly_connected(n: usize, arrows: &BTreeMap<(usize, usize), BTreeSet<String>>) -> Vec<Vec<usize>> {
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in arrows.keys() {
        next[a].push(b);
    }
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, next: &[Vec<usize>], s: &mut State) {
        s.index[v] = Some(s.counter);
        s.low[v] = s.counter;
        s.counter += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &next[v] {
            match s.index[w] {
                None => {
                    visit(w, next, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            scc.sort();
            s.out.push(scc);
        }
    }
    let mut s = State {
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(v, &next, &mut s);
        }
    }
    s.out
}
