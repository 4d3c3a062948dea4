#!/usr/bin/env bash
# Fleets on real sshd test hosts on loopback (release build, run as root: one sshd
# and one user per host): the parallel login floor, no-op and one-change deploys
# alternating with it, a cold deploy, the peak memory of ordo and its ssh processes
# (PSS and summed RSS), the most ssh processes and descriptors at once, logins per
# host, and the controller's CPU per host (ssh logins, ordo, the masters). The
# workload per host: 50 templates, a 0600 file, 5 symlinks, a virtualenv (uv) and a
# restart on change.
#
#   benches/fleet.sh [SIZES] [RUNS]          # SIZES defaults to 10,50,200
#   ORDO_BENCH_BASELINE=/path/to/older/ordo benches/fleet.sh   # both, alternating
#   ORDO_BENCH_JOBS=N benches/fleet.sh       # another --jobs
#
# 200 hosts need 200 users and sshds (and about 1 GB of memory for them); the
# harness removes them at the end. Figures go to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export ORDO_BENCH_FLEET=${1:-10,50,200}
export ORDO_BENCH_RUNS=${2:-5}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo test --release --test main bench_fleet::bench_fleet -- --exact --ignored --nocapture --test-threads=1 2>&1 | grep '^|'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
