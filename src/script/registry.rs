//! The provide/require registry (batou's resolver): which root provides what under
//! a key, who read the key and at which version. Configure iterates until no reader
//! saw an outdated version.

use std::collections::{BTreeMap, HashMap};

use rhai::Dynamic;

use crate::source::Span;

/// The provide/require registry: which root instance provides what under a key, who
/// read the key and at which version. Configure iterates until no reader saw an
/// outdated version (batou's resolver).
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) keys: HashMap<String, KeyState>,
    /// Keys each root read and provided, so reconfiguring one root touches only its
    /// own keys (linear in the size of the environment, not quadratic).
    read_by: HashMap<usize, Vec<String>>,
    provided_by: HashMap<usize, Vec<String>>,
}

#[derive(Default)]
pub(crate) struct KeyState {
    pub(crate) version: u64,
    /// Provider root → values it provided (in order), each with its span.
    pub(crate) values: BTreeMap<usize, Vec<(serde_json::Value, Dynamic, Option<Span>)>>,
    /// Reader root → (version it saw, span of its first require).
    pub(crate) readers: BTreeMap<usize, (u64, Option<Span>)>,
}

impl Registry {
    /// Values under `key` in provider order, recording that `root` read them.
    pub(crate) fn read(&mut self, key: &str, root: usize, span: Option<Span>) -> Vec<Dynamic> {
        let state = self.keys.entry(key.to_string()).or_default();
        let version = state.version;
        if !state.readers.contains_key(&root) {
            self.read_by.entry(root).or_default().push(key.to_string());
        }
        state
            .readers
            .entry(root)
            .and_modify(|r| r.0 = version)
            .or_insert((version, span));
        state
            .values
            .values()
            .flat_map(|v| v.iter().map(|(_, d, _)| d.clone()))
            .collect()
    }

    /// Replaces everything `root` provides with `provided`; bumps the version of
    /// every key whose values changed.
    pub(crate) fn commit(
        &mut self,
        root: usize,
        provided: BTreeMap<String, Vec<(serde_json::Value, Dynamic, Option<Span>)>>,
    ) {
        let mut touched: Vec<String> = self.provided_by.remove(&root).unwrap_or_default();
        touched.extend(provided.keys().cloned());
        touched.sort();
        touched.dedup();
        let mut provided = provided;
        for key in touched {
            let state = self.keys.entry(key.clone()).or_default();
            let new = provided.remove(&key);
            let old = state.values.get(&root);
            let same = match (&new, old) {
                (Some(n), Some(o)) => n.iter().map(|v| &v.0).eq(o.iter().map(|v| &v.0)),
                (None, None) => true,
                _ => false,
            };
            if new.is_some() {
                self.provided_by.entry(root).or_default().push(key.clone());
            }
            if same {
                continue;
            }
            state.version += 1;
            match new {
                Some(n) => state.values.insert(root, n),
                None => state.values.remove(&root),
            };
        }
    }

    /// Forgets that `root` read anything (before it is configured again).
    pub(crate) fn forget_reader(&mut self, root: usize) {
        for key in self.read_by.remove(&root).unwrap_or_default() {
            if let Some(state) = self.keys.get_mut(&key) {
                state.readers.remove(&root);
            }
        }
    }

    /// Roots that read a key after which it changed.
    pub(crate) fn stale_readers(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .keys
            .values()
            .flat_map(|s| {
                s.readers
                    .iter()
                    .filter(move |(_, (seen, _))| *seen < s.version)
                    .map(|(r, _)| *r)
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
