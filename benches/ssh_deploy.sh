#!/usr/bin/env bash
# SSH deploys against real sshd test hosts on loopback (release build): cold, no-op
# and one-value-changed deploys of 50 templated files, 5 symlinks, a mode and a
# restart-on-change command per host, on 1, 5 and 10 hosts, next to the floor
# (N parallel fresh `ssh host true` logins). Needs root (it creates the test
# hosts' users) and openssh-server. Figures go to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test main bench_ssh -- --ignored --nocapture --test-threads=1 2>&1 | grep '^|'
