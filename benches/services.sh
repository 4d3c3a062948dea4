#!/usr/bin/env bash
# `examples/webapp` over SSH against real sshd test hosts (release build): the no-op
# deploy of db + 3 app hosts + balancer next to the floor (5 parallel fresh logins),
# and the per-batch overhead of a rolling restart (from one batch's health checks
# passing to the next batch's first change). Needs root (it creates the test hosts'
# users), openssh-server, supervisor and nginx. Figures go to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test main bench_services -- --ignored --nocapture --test-threads=1 2>&1 | grep '^|'
