#!/usr/bin/env bash
# Runs the whole test suite, the SSH tests against real sshd processes included.
# Installs openssh-server when sshd is missing; the SSH tests create throw-away
# users for their test hosts, so this runs as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x /usr/sbin/sshd ]; then
    echo "test.sh: installing openssh-server (the SSH tests start real sshd processes)" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null
fi

cargo test "$@"
