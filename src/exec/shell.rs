//! The shell functions that probe and apply scripts are made of. They are sent once
//! at the top of each script, so a step costs one short line, and everything a host
//! needs for a phase travels in one round trip. Output lines are `<step> <tag> …`;
//! file contents and link targets are base64 so spaces and newlines survive.

/// Probe helpers: read-only.
pub(crate) const PROBE_LIB: &str = r#"pf() { if [ -L "$2" ]; then echo "$1 link"; elif [ -f "$2" ]; then s=$(sha256sum < "$2"); s=${s%% *}; echo "$1 file $s $(stat -c %a "$2")"; if [ "$s" != "$3" ] && [ "$(stat -c %s "$2")" -le 262144 ]; then printf '%s old ' "$1"; base64 -w0 < "$2"; echo; fi; elif [ -e "$2" ]; then echo "$1 other"; else echo "$1 absent"; fi; }
pd() { if [ -L "$2" ]; then echo "$1 link"; elif [ -d "$2" ]; then echo "$1 dir $(stat -c %a "$2")"; elif [ -e "$2" ]; then echo "$1 other"; else echo "$1 absent"; fi; }
pl() { if [ -L "$2" ]; then printf '%s link ' "$1"; readlink "$2" | tr -d '\n' | base64 -w0; echo; elif [ -e "$2" ]; then echo "$1 other"; else echo "$1 absent"; fi; }
pe() { if [ -e "$2" ] || [ -L "$2" ]; then echo "$1 exists"; else echo "$1 absent"; fi; }
pu() { ( cd "$2" 2>/dev/null && sh -c "$3" ) </dev/null >/dev/null 2>&1; echo "$1 rc $?"; }
pp() { if [ -e "$2" ]; then echo "$1 pending"; fi; }
"#;

/// Apply helpers: each prints `<step> ok` or `<step> fail <code> <base64 output tail>`
/// and the script stops at the first failure.
pub(crate) const APPLY_LIB: &str = r#"O=$(mktemp) || exit 97
trap 'rm -f "$O"' EXIT
fail() { echo "$1 fail $2 $(tail -c 4000 "$O" | base64 -w0)"; exit 1; }
w() { d=$(dirname "$2"); t="$d/.ordo-tmp.$$.$(basename "$2")"; { mkdir -p "$d" && base64 -d > "$t" && { if [ "$3" != - ]; then chmod "$3" "$t"; elif [ -e "$2" ]; then chmod "$(stat -c %a "$2")" "$t"; fi; } && mv -f "$t" "$2"; } >"$O" 2>&1 || { rm -f "$t"; fail "$1" 1; }; echo "$1 ok"; }
md() { { mkdir -p "$2" && { [ "$3" = - ] || chmod "$3" "$2"; }; } >"$O" 2>&1 || fail "$1" 1; echo "$1 ok"; }
ln_() { d=$(dirname "$2"); t="$d/.ordo-tmp.$$.$(basename "$2")"; { mkdir -p "$d" && ln -sfn "$3" "$t" && mv -Tf "$t" "$2"; } >"$O" 2>&1 || { rm -f "$t"; fail "$1" 1; }; echo "$1 ok"; }
c() { { [ -d "$2" ] || mkdir -p "$2"; } >"$O" 2>&1 || fail "$1" 1; ( cd "$2" && sh -c "$3" ) </dev/null >"$O" 2>&1; r=$?; [ $r -eq 0 ] || fail "$1" $r; [ -z "$4" ] || rm -f "$4"; echo "$1 ok"; }
mark() { mkdir -p "$(dirname "$1")" && : > "$1"; }
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
