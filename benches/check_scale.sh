#!/usr/bin/env bash
# `ordo check` on generated environments of N hosts × 20 components (release build):
# wall time and peak memory, for N = 1000 and 2000 (linearity). Figures go to
# docs/performance.md.
#
#   benches/check_scale.sh [ORDO_BINARY]
set -euo pipefail
. "$(dirname "$0")/common.sh"

# 20 components: c0 provides a per-host value that every other component of the
# host requires (so configure iterates and the plan has provide/require edges);
# each component adds a directory, a templated file and a guarded command.
mkdir -p "$work/services" "$work/environments" "$work/templates"
printf '[%%s]\nhost = {{ host.name }}\nport = {{ port }}\nupstream = {{ upstream }}\n' > "$work/templates/c.conf"
{
    echo 'let s = service("bench");'
    echo 's.component("c0", |c| { let port = c.attr("port", 8000); c.add(directory("c0")); c.add(file("c0/port", `${port}`)); c.provide("c0:" + c.host.name, `${c.host.address}:${port}`); });'
    for j in $(seq 1 19); do
        echo "s.component(\"c$j\", |c| { let port = c.attr(\"port\", 8$j); let upstream = c.require_one(\"c0:\" + c.host.name); c.add(directory(\"c$j\")); let conf = c.add(template(\"c$j/app.conf\", \"templates/c.conf\", #{ upstream: upstream })); c.add(command(\"reload c$j\", #{ run: \"true\", on_change: [conf] })); });"
    done
} > "$work/services/bench.rhai"

gen_env() {
    local n=$1
    cat > "$work/environments/bench$n.rhai" <<RHAI
let env = environment("bench$n", #{ service: "bench", user: "svc" });
for i in 0..$n {
    let h = env.host(\`host\${i}\`, #{ address: \`10.0.\${i / 250}.\${i % 250}\`, roles: ["app"] });
    for j in 0..20 { h.place(\`c\${j}\`); }
}
env.override("c3", #{ port: 9003 });
RHAI
}

measure() {
    local n=$1
    gen_env "$n"
    # best of three wall times; peak RSS of the last run
    local best=999999 rss=0
    for _ in 1 2 3; do
        local out
        out=$( { /usr/bin/time -f '%e %M' "$ordo" -C "$work" check "bench$n" >/dev/null; } 2>&1 | tail -n 1)
        local t=${out% *}
        rss=${out#* }
        best=$(awk -v a="$t" -v b="$best" 'BEGIN { print (a < b) ? a : b }')
    done
    echo "$n $best $rss"
}

echo "hosts components steps wall_s peak_rss_mib"
for n in 1000 2000; do
    read -r hosts wall rss < <(measure "$n")
    steps=$("$ordo" -C "$work" check "bench$n" | sed -n 's/^ok: \([0-9]*\) steps.*/\1/p')
    echo "$hosts 20 $steps $wall $((rss / 1024))"
done
