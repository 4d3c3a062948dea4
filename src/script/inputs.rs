//! What shaped a deployment, recorded while evaluating: every script run, module
//! imported (project, library and standard library), template and file read. Their
//! hash is the fingerprint each host records, and their paths are what the git
//! check looks at, so neither depends on files that did not take part (a README,
//! ordo's own `.ordo-hosts/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

#[derive(Default)]
pub(crate) struct Inputs {
    /// By the name that is stable across checkouts: project-relative, the library
    /// path as declared plus the module's path in it, or `stdlib/<name>.rhai`.
    files: Mutex<BTreeMap<String, Input>>,
}

#[derive(Clone)]
struct Input {
    /// Where it was read on this machine; `None` for the embedded standard library.
    path: Option<PathBuf>,
    len: u64,
    digest: [u8; 32],
}

impl Inputs {
    /// Records the exact bytes that were read (not the file as it is later), so
    /// the fingerprint describes what was evaluated.
    pub(crate) fn record(&self, name: &str, path: Option<&Path>, bytes: &[u8]) {
        let input = Input {
            path: path.map(Path::to_path_buf),
            len: bytes.len() as u64,
            digest: Sha256::digest(bytes).into(),
        };
        self.files
            .lock()
            .expect("inputs poisoned")
            .insert(name.to_string(), input);
    }

    pub(crate) fn snapshot(&self) -> Fingerprint {
        let files = self.files.lock().expect("inputs poisoned");
        let mut h = Sha256::new();
        h.update(crate::VERSION.as_bytes());
        for (name, input) in files.iter() {
            h.update([0]);
            h.update(name.as_bytes());
            h.update([0]);
            h.update(input.len.to_le_bytes());
            h.update(input.digest);
        }
        let digest = h.finalize();
        Fingerprint {
            hash: digest.iter().take(8).map(|b| format!("{b:02x}")).collect(),
            names: files.keys().cloned().collect(),
            paths: files.values().filter_map(|i| i.path.clone()).collect(),
        }
    }
}

/// The inputs of one evaluation, fixed when it finished.
#[derive(Clone, Debug)]
pub(crate) struct Fingerprint {
    /// 16 hex digits over the ordo version and every input (name, length, sha256).
    pub(crate) hash: String,
    pub(crate) names: Vec<String>,
    pub(crate) paths: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_covers_names_and_contents_only() {
        let a = Inputs::default();
        a.record("services/s.rhai", Some(Path::new("/x/services/s.rhai")), b"let s = 1;");
        a.record("stdlib/web.rhai", None, b"fn site() {}");
        let b = Inputs::default();
        b.record("stdlib/web.rhai", None, b"fn site() {}");
        b.record(
            "services/s.rhai",
            Some(Path::new("/elsewhere/services/s.rhai")),
            b"let s = 1;",
        );
        assert_eq!(
            a.snapshot().hash,
            b.snapshot().hash,
            "order and checkout path do not matter"
        );
        assert_eq!(a.snapshot().hash.len(), 16);
        b.record("templates/a.ini", Some(Path::new("/elsewhere/templates/a.ini")), b"");
        assert_ne!(a.snapshot().hash, b.snapshot().hash, "an extra input matters");
        assert_eq!(b.snapshot().paths.len(), 2, "the stdlib has no path on disk");
    }
}
