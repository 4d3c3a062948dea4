#!/usr/bin/env bash
# Immutable releases over SSH against real sshd test hosts (release build): a
# pyapp on 1, 5 and 10 hosts. The rollback to a release still kept on the hosts
# (a switch and a restart) next to the floor — N parallel fresh `ssh host true`
# logins plus the program's own restart (N apps stopped and started from their
# release at once, until each answers its health check) —, under the process
# backend and under supervisord; and the deploy of a new version as a new release
# against the same app upgraded in place (pyapp without `version`), with uv and
# with pip. Needs root (it creates the test hosts' users),
# openssh-server, python3-venv and uv or Debian's bundled pip wheel. Figures go to
# docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { cargo test --release --test main "$1" -- --exact --ignored --nocapture --test-threads=1 2>&1 | grep '^|'; }
echo "## rollback to a kept release"
run bench_releases::bench_release_rollback
echo
echo "## a new version: a new release against the virtualenv upgraded in place"
run bench_releases::bench_release_new_version
