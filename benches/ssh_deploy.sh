#!/usr/bin/env bash
# SSH deploys against real sshd test hosts on loopback (release build): cold, no-op
# and one-value-changed deploys of 50 templated files, 5 symlinks, a mode and a
# restart-on-change command per host, on 1, 5 and 10 hosts, next to the floor
# (N parallel fresh `ssh host true` logins). Then the same with a wheel uploaded
# and a virtualenv built from it (through Debian's bundled pip wheel, and through
# uv), next to a second floor: N parallel `python3 -m venv && pip install
# --no-index` of the same wheel. Then no-op deploys of a virtualenv alone, built
# with pip and with uv, alternating on the same hosts (what the probe of each costs).
# Last, the first workload on BusyBox test hosts beside GNU ones (1 and 5 hosts).
# Needs root (it creates the test hosts' users),
# openssh-server, python3-venv and uv in /usr/local/bin (./test.sh installs them).
# Figures go to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { cargo test --release --test main "$1" -- --exact --ignored --nocapture --test-threads=1 2>&1 | grep '^|'; }
echo "## files, symlinks, restart"
run bench_ssh::bench_ssh
echo
echo "## the same with a virtualenv from a wheelhouse"
run bench_ssh::bench_ssh_virtualenv
echo
echo "## no-op deploys of a virtualenv alone: pip against uv"
run bench_ssh::bench_ssh_virtualenv_noop
echo
echo "## files, symlinks, restart on BusyBox hosts, beside GNU hosts"
run bench_ssh::bench_ssh_busybox
