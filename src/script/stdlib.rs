//! The standard library written in Rhai (`stdlib/*.rhai`), compiled into the binary
//! and imported as `ordo/<name>`.

/// Every embedded module: name (as imported after `ordo/`) and source text.
pub const MODULES: &[(&str, &str)] = &[
    ("options", include_str!("../../stdlib/options.rhai")),
    ("paths", include_str!("../../stdlib/paths.rhai")),
    ("postgres", include_str!("../../stdlib/postgres.rhai")),
    ("proxy", include_str!("../../stdlib/proxy.rhai")),
    ("pyapp", include_str!("../../stdlib/pyapp.rhai")),
    ("release", include_str!("../../stdlib/release.rhai")),
    ("web", include_str!("../../stdlib/web.rhai")),
];

pub(crate) fn source(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
