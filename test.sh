#!/usr/bin/env bash
# Runs the whole test suite, the SSH tests against real sshd processes included.
# Installs openssh-server when sshd is missing, sudo (the privileged transport
# tests give a throw-away user a sudoers rule), tmux (the REPL's terminal tests
# drive it in a real pseudo-terminal), and supervisor, nginx, cron, curl and
# python3 (the services tests and examples/webapp); the SSH tests create throw-away
# users for their test hosts, so this runs as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server openssh-client)
command -v pgrep >/dev/null || missing+=(procps)
command -v useradd >/dev/null || missing+=(passwd)
[ -x /usr/bin/sudo ] || missing+=(sudo)
command -v tmux >/dev/null || missing+=(tmux)
command -v git >/dev/null || missing+=(git)
# The services tests run real supervisors, a real balancer and real crontabs.
command -v supervisord >/dev/null || missing+=(supervisor)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
# The standard library's recipes (tests/recipes.rs): both proxies, and a real
# PostgreSQL cluster with its client.
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v crontab >/dev/null || missing+=(cron)
command -v curl >/dev/null || missing+=(curl)
[ -x /usr/bin/python3 ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing ${missing[*]} (the SSH tests start real sshd processes)" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo test "$@"
