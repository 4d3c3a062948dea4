# Sourced by the benchmark scripts: sets $root (the repository), $ordo (the binary
# to measure: the first argument, or a fresh release build) and $work (a temporary
# directory removed on exit).
root=$(cd "$(dirname "$0")/.." && pwd)
ordo=${1:-}
if [ -z "$ordo" ]; then
    (cd "$root" && cargo build --release --quiet)
    ordo="$root/target/release/ordo"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
