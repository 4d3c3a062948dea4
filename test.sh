#!/usr/bin/env bash
# Runs the whole test suite, the SSH tests against real sshd processes included.
# Installs what the tests drive for real when it is missing: openssh-server, sudo
# (the privileged tests give a throw-away user a sudoers rule), tmux (the REPL's
# terminal tests), git (recipe libraries), zsh and fish (the completion scripts), supervisor, nginx, cron, curl and python3
# (the services tests and examples/webapp), python3-venv (the virtualenv tests:
# venv and Debian's bundled pip wheel) and uv from PyPI (the virtualenv tests' uv
# path; into /usr/local/bin, on the test users' PATH), haproxy and postgresql (the
# standard library's recipes: both proxies, a real PostgreSQL cluster). The SSH tests create
# throw-away users for their test hosts, and the package tests install a throw-away
# .deb from a local repository, so this runs as root (or with sudo available).
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
# The completion scripts, each in its own shell.
command -v zsh >/dev/null || missing+=(zsh)
command -v fish >/dev/null || missing+=(fish)
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
ls /usr/share/python-wheels/pip-*.whl >/dev/null 2>&1 || missing+=(python3-venv)
[ -x /usr/local/bin/uv ] || /usr/bin/python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing ${missing[*]} (sshd, sudo and Python for the SSH, privileged and virtualenv tests)" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x /usr/local/bin/uv ]; then
    echo "test.sh: installing uv from PyPI into /usr/local/bin (the virtualenv tests' uv path)" >&2
    # Debian marks its Python as externally managed; this is a test machine.
    as_root env PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore /usr/bin/python3 -m pip install --quiet --prefix /usr/local uv
fi

cargo test "$@"
