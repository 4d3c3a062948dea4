#!/usr/bin/env bash
# A host with 1,000, 5,000 and 20,000 managed files, local and over a real sshd
# test host on loopback (release build): the first deploy and a no-op plan, wall
# time and peak memory. Needs root (the SSH test host's user) and openssh-server.
# Figures go to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test main bench_many_files -- --ignored --nocapture --test-threads=1 2>&1 | grep -E '^\||^(local|ssh):'
