#!/usr/bin/env bash
# Processes a deploy starts, counted: the SSH benchmark's workload (4 directories,
# 50 templated files, 5 symlinks, a restart command on change; see
# tests/bench_ssh.rs) on one local host, deployed cold, then with nothing to
# change, then with one value changed, each under `strace -ff` (one trace per
# process, so no exec is missed). Successful execs are counted, ordo's own and its
# `git` included, the watchdog's `sleep 1` (one per second a script runs) left
# out. Needs strace. Compare two builds:
#
#   benches/process_count.sh [ORDO_BINARY]
set -euo pipefail
. "$(dirname "$0")/common.sh"
p="$work/project"
mkdir -p "$p/services" "$p/environments" "$p/templates"
cat > "$p/services/bench.rhai" <<'RHAI'
let s = service("bench");
s.component("app", |c| {
    let value = c.attr("value", "a");
    c.add(directory("etc"));
    c.add(directory("etc/conf.d"));
    c.add(directory("var"));
    c.add(directory("var/log", #{ mode: 0o750 }));
    let confs = [];
    confs.push(c.add(template("etc/app.conf", "templates/app.conf", #{ value: value })));
    for i in 0..49 {
        confs.push(c.add(template(`etc/conf.d/${i}.conf`, "templates/part.conf", #{ index: i })));
    }
    for i in 0..5 {
        c.add(symlink(`link${i}`, `etc/conf.d/${i}.conf`));
    }
    c.add(command("restart", #{ run: "date +%s%N >> var/log/restarts", on_change: confs }));
});
RHAI
printf '# {{ host.name }}\nvalue = {{ value }}\n' > "$p/templates/app.conf"
printf '# part {{ index }} of {{ host.name }}\nport = {{ 9000 + index }}\nuser = {{ host.user }}\n' > "$p/templates/part.conf"
cat > "$p/environments/bench.rhai" <<'RHAI'
let env = environment("bench", #{ service: "bench" });
env.override("app", #{ value: "a" });
env.host("h", #{ transport: "local", home: "hosts/h" }).place("app");
RHAI
count() {
    local d="$work/trace-$1"
    mkdir "$d"
    strace -ff -qq -e trace=execve -o "$d/t" "$ordo" -C "$p" deploy bench --yes >/dev/null 2>&1
    cat "$d"/t.* | grep 'execve(' | grep '= 0$' | grep -vc 'execve("[^"]*/sleep"'
}
cold=$(count cold)
noop=$(count noop)
sed -i 's/value: "a"/value: "b"/' "$p/environments/bench.rhai"
change=$(count change)
echo "| processes | cold $cold | no-op $noop | one change $change |"
