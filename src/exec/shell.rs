//! The shell functions that probe and apply scripts are made of. They are sent once
//! at the top of each script, so a step costs one short line, and everything a host
//! needs for a phase travels in one round trip. Output lines are `<step> <tag> …`;
//! file contents and link targets are base64 so spaces and newlines survive.

/// Probe helpers: read-only. The probe forks a constant number of processes per
/// host (one `find` for every managed path, one `sha256sum` for every file), not a
/// few per step: on a busy host, process creation dominates the probe's time.
pub(crate) const PROBE_LIB: &str = r#"old() { printf '%s old ' "$1"; head -c 262145 "$2" | base64 -w0; echo; }
pu() { ( cd "$2" 2>/dev/null && sh -c "$3" ) </dev/null >/dev/null 2>&1; echo "$1 rc $?"; }
pp() { if [ -e "$2" ]; then echo "$1 pending"; fi; }
"#;

/// Apply helpers: each prints `<step> ok` or `<step> fail <code> <base64 output tail>`
/// and the script stops at the first failure.
pub(crate) const APPLY_LIB: &str = r#"HOME=${HOME%/}
O=$(mktemp) || exit 97
SD=
trap 'rm -f "$O"; [ -z "$SD" ] || printf "%s\n" "$SD" | while read -r d; do [ -z "$d" ] || rm -rf "$d"; done' EXIT
fail() { echo "$1 fail $2 $(tail -c 4000 "$O" | base64 -w0)"; exit 1; }
S=.ordo-stage.$$
st() { { [ -d "$2/$S" ] || { mkdir -p "$2/$S" && SD="$SD
$2/$S"; }; } && t="$2/$S/$3"; }
perm() { if [ "$3" != - ]; then chmod "$3" "$t"; elif [ -e "$2" ]; then chmod --reference="$2" "$t"; fi; }
wt() { { st "$1" "$2" "$3" && printf '%s' "$5" > "$t" && perm "$1" "$2/$3" "$4"; } >"$O" 2>&1 || fail "$1" 1; }
wb() { { st "$1" "$2" "$3" && base64 -d > "$t" && perm "$1" "$2/$3" "$4"; } >"$O" 2>&1 || fail "$1" 1; }
md() { { { [ -d "$2" ] || mkdir -p "$2"; } && { [ "$3" = - ] || chmod "$3" "$2"; }; } >"$O" 2>&1 || fail "$1" 1; echo "$1 ok"; }
ln_() { d=${2%/*}; t="$d/.ordo-tmp.$$.${2##*/}"; { { [ -d "$d" ] || mkdir -p "$d"; } && ln -sfn "$3" "$t" && mv -Tf "$t" "$2"; } >"$O" 2>&1 || { rm -f "$t"; fail "$1" 1; }; echo "$1 ok"; }
c() { { [ -d "$2" ] || mkdir -p "$2"; } >"$O" 2>&1 || fail "$1" 1; ( cd "$2" && sh -c "$3" ) </dev/null >"$O" 2>&1; r=$?; [ $r -eq 0 ] || fail "$1" $r; [ -z "$4" ] || rm -f "$4"; echo "$1 ok"; }
mark() { { [ -d "${1%/*}" ] || mkdir -p "${1%/*}"; } && : > "$1"; }
"#;

/// A here-document body: base64 lines of `bytes`, and a terminator that cannot
/// occur in base64.
pub(crate) fn heredoc(bytes: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 + 16);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        out.push('\n');
    }
    out.push_str("ORDO_EOF\n");
    out
}

pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
}
