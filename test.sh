#!/usr/bin/env bash
# Runs the whole test suite, the SSH tests against real sshd processes included.
#
# The tests drive real tools, and look for each at a fixed place: openssh-server (the
# SSH test hosts), sudo (privileged steps; a throw-away user gets a sudoers rule), tmux
# (the REPL's terminal tests), zsh and fish (the completion scripts), git (recipe libraries), supervisor, nginx, cron, curl and
# python3 (the services tests and examples/webapp), python3-venv (virtualenvs: venv and
# Debian's bundled pip wheel), uv from PyPI (the virtualenv tests' uv path, at
# /usr/local/bin/uv, on the test users' PATH), haproxy and postgresql (the standard
# library's recipes), busybox (the BusyBox test host's userland), rpm, rpmbuild, dnf and
# createrepo-c (the rpm/dnf test host; rpm's database system-wide, see below) and
# docker-systemctl-replacement from PyPI (a `systemctl` without a systemd daemon, for
# the systemd backend's tests; docs/hosts.md, "Test hosts for other userlands"). This script installs what is missing, then proves that every tool
# runs from where the tests look — as an unprivileged user where the test users run it —
# and stops with a clear message when one does not, before any test runs.
#
# The SSH tests create throw-away users for their test hosts and the package tests
# install a throw-away .deb from a local repository, so this runs as root (or with sudo).
#
#   ./test.sh [cargo test arguments]   install, check, run the tests
#   ./test.sh --check-tools            only check that every tool is where the tests look
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# uv is not packaged by Debian: it comes from PyPI into a virtualenv of its own (pip's
# --prefix on Debian's Python would put it in /usr/local/local/bin, where no test looks),
# linked from the one place the tests use.
UV=/usr/local/bin/uv
UV_HOME=/opt/ordo-test-tools/uv

# docker-systemctl-replacement is not packaged by Debian either: it comes from PyPI into
# a virtualenv of its own, which installs its command as `systemctl3`. The tests put
# SYSTEMCTL_PATH (a directory with one link, `systemctl`) first on the test users' PATH
# and in the test sudoers rule's secure_path; /usr/bin/systemctl is never shadowed.
SYSTEMCTL_HOME=/opt/ordo-test-tools/systemctl
SYSTEMCTL_PATH=$SYSTEMCTL_HOME/path

# Debian's rpm keeps its database per user (~/.rpmdb): the probe's `rpm -q` as a test
# user would not see what root's dnf installed. The rpm tests need it system-wide, where
# a RHEL host has it.
RPM_MACROS=/etc/rpm/macros.ordo-test

# The tools, one per line: the path the tests use | the command that proves it runs |
# the Debian package that provides it ("-": set up below — uv and docker-systemctl-replacement from PyPI, rpm's system-wide database) | "user"
# when the test users (not only root) run it.
TOOLS='
/usr/sbin/sshd|/usr/sbin/sshd -V|openssh-server|root
/usr/bin/ssh|/usr/bin/ssh -V|openssh-client|root
/usr/bin/ssh-keygen|test -x /usr/bin/ssh-keygen|openssh-client|root
/usr/lib/openssh/sftp-server|test -x /usr/lib/openssh/sftp-server|openssh-sftp-server|root
/usr/bin/pgrep|/usr/bin/pgrep -V|procps|root
/usr/sbin/useradd|test -x /usr/sbin/useradd|passwd|root
/usr/bin/sudo|/usr/bin/sudo -V|sudo|root
/usr/bin/tmux|/usr/bin/tmux -V|tmux|root
/usr/bin/zsh|/usr/bin/zsh --version|zsh|root
/usr/bin/fish|/usr/bin/fish --version|fish|root
/usr/bin/git|/usr/bin/git --version|git|user
/usr/bin/supervisord|/usr/bin/supervisord --version|supervisor|user
/usr/bin/supervisorctl|test -x /usr/bin/supervisorctl|supervisor|user
/usr/sbin/nginx|/usr/sbin/nginx -v|nginx|user
/usr/sbin/haproxy|/usr/sbin/haproxy -v|haproxy|user
/usr/bin/psql|/usr/bin/psql --version|postgresql-client|user
/usr/bin/crontab|test -x /usr/bin/crontab|cron|user
/usr/bin/curl|/usr/bin/curl --version|curl|user
/usr/bin/time|/usr/bin/time --version|time|root
/usr/bin/python3|/usr/bin/python3 -m venv --help|python3-venv|user
/usr/bin/dpkg-deb|/usr/bin/dpkg-deb --version|dpkg|root
/usr/bin/apt-get|/usr/bin/apt-get --version|apt|root
/usr/bin/busybox|/usr/bin/busybox --list|busybox|user
/usr/bin/rpm|/usr/bin/rpm --version|rpm|user
/usr/bin/rpmbuild|/usr/bin/rpmbuild --version|rpm|root
/usr/bin/dnf|/usr/bin/dnf --version|dnf|root
/usr/bin/createrepo_c|/usr/bin/createrepo_c --version|createrepo-c|root
'"$RPM_MACROS|test \"\$(/usr/bin/rpm --eval %_dbpath)\" = /var/lib/rpm && /usr/bin/rpm -qa|-|user
$SYSTEMCTL_PATH/systemctl|$SYSTEMCTL_PATH/systemctl --version|-|user
$UV|$UV --version|-|user"

# PostgreSQL's server binaries live in a versioned directory the tests search.
postgres_ok() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
# Debian's bundled pip wheel, which the virtualenv tests' pip path installs from.
pip_wheel_ok() { ls /usr/share/python-wheels/pip-*.whl >/dev/null 2>&1; }

# Runs a check as an unprivileged user where the test users run the tool: a tool only
# root can reach would pass as root and fail in the tests.
run_as() {
    if [ "$1" = user ] && [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
        runuser -u nobody -- sh -c "cd / && $2"
    else
        sh -c "$2"
    fi
}

# Checks every tool; prints one line per missing or broken tool and fails if any is.
check_tools() {
    local bad=0 path check pkg who
    while IFS='|' read -r path check pkg who; do
        [ -n "$path" ] || continue
        if ! run_as "$who" "$check" >/dev/null 2>&1; then
            echo "test.sh: $path does not run (\`$check\` as ${who/user/an unprivileged user} failed); the tests look for it there (package: $pkg)" >&2
            bad=1
        fi
    done <<< "$TOOLS"
    postgres_ok || { echo "test.sh: no /usr/lib/postgresql/*/bin/initdb (package: postgresql)" >&2; bad=1; }
    pip_wheel_ok || { echo "test.sh: no /usr/share/python-wheels/pip-*.whl (package: python3-venv)" >&2; bad=1; }
    return $bad
}

if [ "${1:-}" = --check-tools ]; then
    check_tools && echo "test.sh: every tool the tests use runs from where they look"
    exit
fi

missing=()
while IFS='|' read -r path check pkg who; do
    [ -n "$path" ] && [ "$pkg" != - ] || continue
    [ -x "$path" ] || missing+=("$pkg")
done <<< "$TOOLS"
postgres_ok || missing+=(postgresql)
pip_wheel_ok || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    # One package may provide several tools.
    read -r -a missing <<< "$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
    echo "test.sh: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! "$UV" --version >/dev/null 2>&1; then
    echo "test.sh: installing uv from PyPI into $UV_HOME, linked from $UV (the virtualenv tests' uv path)" >&2
    # World-readable: the test users run it.
    as_root sh -c "umask 022 && rm -rf '$UV_HOME' && /usr/bin/python3 -m venv '$UV_HOME' \
        && '$UV_HOME/bin/python3' -m pip install --quiet --disable-pip-version-check uv \
        && ln -sfn '$UV_HOME/bin/uv' '$UV'"
fi

if [ -x /usr/bin/rpm ] && [ "$(/usr/bin/rpm --eval %_dbpath)" != /var/lib/rpm ]; then
    echo "test.sh: setting rpm's database to /var/lib/rpm for every user in $RPM_MACROS (the rpm/dnf tests' host)" >&2
    as_root sh -c "umask 022 && mkdir -p /etc/rpm && printf '%s\n' '%_dbpath /var/lib/rpm' > '$RPM_MACROS' && /usr/bin/rpm --initdb"
fi

if ! "$SYSTEMCTL_PATH/systemctl" --version >/dev/null 2>&1; then
    echo "test.sh: installing docker-systemctl-replacement from PyPI into $SYSTEMCTL_HOME, linked as $SYSTEMCTL_PATH/systemctl (the systemd tests' systemctl)" >&2
    as_root sh -c "umask 022 && rm -rf '$SYSTEMCTL_HOME' && /usr/bin/python3 -m venv '$SYSTEMCTL_HOME' \
        && '$SYSTEMCTL_HOME/bin/python3' -m pip install --quiet --disable-pip-version-check docker-systemctl-replacement \
        && mkdir -p '$SYSTEMCTL_PATH' && ln -sfn ../bin/systemctl3 '$SYSTEMCTL_PATH/systemctl'"
fi

if ! check_tools; then
    echo "test.sh: fix the tools above (or remove them so this script installs them again), then run it again" >&2
    exit 1
fi

cargo test "$@"
