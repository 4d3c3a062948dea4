//! The one list of primitives, [`KINDS`]: each slice exports one [`Kind`] — its
//! reference documentation and, when its steps own paths on the host, how such a
//! path is found and removed once no step declares it ([`Owns`](super::Owns)).
//! `ordo doc`, the constructors' option checks, the access check and the removal
//! of leftovers all read this list, so a new primitive is one line here (and its
//! slice and its constructor in `script/api/primitives/`).

use super::kind::{Kind, ManagedKind, Owns};
use super::{
    Doc, cache, command, cron, custom, directory, file, migration, packages, program, release_set, resources, symlink,
    virtualenv,
};

/// Every primitive, in the order `ordo doc` lists them. Adding a primitive is one
/// line here.
pub const KINDS: &[&Kind] = &[
    &file::FILE,
    &file::TEMPLATE,
    &directory::KIND,
    &symlink::KIND,
    &command::KIND,
    &program::KIND,
    &migration::KIND,
    &cache::KIND,
    &cron::KIND,
    &custom::KIND,
    &packages::KIND,
    &virtualenv::KIND,
    &release_set::KIND,
    &resources::KIND,
];

/// Every primitive's reference documentation, in [`KINDS`]' order.
pub fn docs() -> impl Iterator<Item = &'static Doc> {
    KINDS.iter().map(|k| k.doc)
}

/// The documentation of the primitive scripts call `name`.
pub fn doc(name: &str) -> Option<&'static Doc> {
    docs().find(|d| d.name == name)
}

/// How a path of `kind` is found and removed: from the slice that owns it.
pub fn owner(kind: ManagedKind) -> &'static Owns {
    KINDS
        .iter()
        .filter_map(|k| k.owns)
        .find(|o| o.kind == kind)
        .expect("every kind of path has a slice that owns it (tests::every_kind_of_path_has_an_owner)")
}

impl ManagedKind {
    /// The kind a host's record names, among the kinds some slice owns.
    pub fn from_word(word: &str) -> Option<ManagedKind> {
        KINDS
            .iter()
            .filter_map(|k| k.owns)
            .map(|o| o.kind)
            .find(|k| k.word() == word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant, by an exhaustive match: a new one fails to compile here
    /// until it is listed.
    fn all_path_kinds() -> Vec<ManagedKind> {
        let all = [
            ManagedKind::File,
            ManagedKind::Directory,
            ManagedKind::Symlink,
            ManagedKind::Program,
            ManagedKind::Cron,
            ManagedKind::Virtualenv,
            ManagedKind::Releases,
        ];
        for k in all {
            match k {
                ManagedKind::File
                | ManagedKind::Directory
                | ManagedKind::Symlink
                | ManagedKind::Program
                | ManagedKind::Cron
                | ManagedKind::Virtualenv
                | ManagedKind::Releases => {}
            }
        }
        all.to_vec()
    }

    #[test]
    fn every_kind_of_path_has_an_owner_and_reads_back_from_records() {
        for kind in all_path_kinds() {
            assert_eq!(owner(kind).kind, kind);
            assert_eq!(ManagedKind::from_word(kind.word()), Some(kind), "{kind:?}");
        }
        // The words hosts' records already hold.
        let words = [
            "file",
            "directory",
            "symlink",
            "program",
            "cron",
            "virtualenv",
            "releases",
        ];
        for word in words {
            assert_eq!(ManagedKind::from_word(word).map(ManagedKind::word), Some(word));
        }
        assert_eq!(ManagedKind::from_word("template"), None);
    }

    #[test]
    fn every_kind_is_listed_once_with_a_documented_function() {
        let mut names: Vec<&str> = docs().map(|d| d.name).collect();
        assert!(names.iter().all(|n| !n.is_empty()));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a primitive listed twice in KINDS");
        for k in KINDS {
            assert!(
                !k.doc.summary.is_empty() && !k.doc.signatures.is_empty(),
                "{}",
                k.doc.name
            );
        }
    }
}
