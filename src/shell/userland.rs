//! The host contract: every utility, and every option of it, that the probe and the
//! apply scripts rely on, per userland — GNU (Debian, Ubuntu, RHEL, Fedora) and
//! BusyBox (Alpine) — and the few fragments that differ between the two.
//! `docs/hosts.md` ("What a host must have") shows the same table; a test keeps
//! them in step.
//!
//! The probe checks the contract before anything else, with shell builtins only
//! (`command -v`, `test`): a host that lacks a utility or `/proc` gets one problem
//! naming what is missing, before the lock is taken and before anything changes.
//! Which userland a host has is decided the same way, with no process: `find` is
//! BusyBox's when `command -v find` names the `busybox` binary (`[ A -ef B ]`).
//! The two paths differ only where BusyBox lacks an option: `find -printf`
//! (BusyBox: `stat -c`; also in `program::listener`), `find -delete` (BusyBox: `-exec rm`), and the exit code of a
//! command `timeout` stopped (GNU 124, BusyBox 143: every fragment that reads it
//! normalises it with `[ -z "$ub" ] || [ "$r" != 143 ] || r=124`). Everything
//! else uses options both have (`xargs -0 -r`, `sha256sum -c` without `--quiet`,
//! `kill -SIG -PGID` without `--`), so the GNU path forks exactly the processes it
//! forked before. A host whose `find` is neither (BSD, macOS, toybox) fails the
//! probe's first `find -printf` with one problem naming the option.

use std::fmt::Write;

/// One utility of the contract: its name, what ordo uses it for, the options ordo
/// relies on (both userlands unless the text says otherwise), and whether the
/// probe refuses a host without it (`false`: only the steps that use it need it).
pub struct Utility {
    pub name: &'static str,
    pub used_for: &'static str,
    pub options: &'static str,
    pub required: bool,
}

const fn u(name: &'static str, used_for: &'static str, options: &'static str, required: bool) -> Utility {
    Utility {
        name,
        used_for,
        options,
        required,
    }
}

/// The contract, in the order `docs/hosts.md` shows it.
pub const CONTRACT: &[Utility] = &[
    u(
        "sh",
        "every script (dash, bash or BusyBox ash)",
        "POSIX sh; builtins `command -v`, `read -r`, `kill -SIG -PGID` (no `--`: ash refuses it), `trap`, `[ A -ef B ]`, `[ -w ]`, `[ -x ]`, `[ -k ]`, `[ -O ]` (what the login user may write)",
        true,
    ),
    u(
        "find",
        "the probe: type, mode, owner and link target of managed paths; files to hash and to diff; cache purges; the sockets that answer a health check",
        "`-maxdepth 0 -type f -exec CMD {} +`, `-perm -0004 -size -Nc -print`, `-mindepth 1`, `-maxdepth 1 -type l -exec CMD {} +`; GNU: `-printf`, `-delete`, `-lname`",
        true,
    ),
    u(
        "stat",
        "the probe and health checks on BusyBox (instead of `find -printf`); `resources(disk)`",
        "`-f -c '%a %S'`; BusyBox: `-c '%f %u %g %n'`, `-c '%N'`",
        false,
    ),
    u("xargs", "the probe's long lists of paths", "`-0 -r`", true),
    u(
        "sha256sum",
        "hashes in the probe, \"changed since the plan\" in the apply",
        "`-- FILES`, `-c FILE` (not `--quiet`: BusyBox has only `-s`)",
        true,
    ),
    u("base64", "every answer a host sends; binary files", "`-w0`, `-d`", true),
    u(
        "mktemp",
        "private temporary and staging directories",
        "`-d`, `-d -- DIR/NAME.XXXXXXXX` (BusyBox fills in the last six `X`s)",
        true,
    ),
    u(
        "timeout",
        "guards, commands, migrations, virtualenv builds, health checks",
        "`-k SECS SECS CMD`; a stopped command exits 124 (GNU) or 143 (BusyBox), 137 after SIGKILL",
        true,
    ),
    u(
        "awk",
        "the probe's lists, cron blocks, who listens at a health check's address (`/proc/net/tcp*`)",
        "POSIX awk (mawk, gawk, BusyBox): `-F`, `-v`, `ENVIRON`, `printf \"%c\", 0`, `index`, `substr`, `FILENAME`",
        true,
    ),
    u(
        "sed",
        "programs' launchers and units, cron blocks",
        "`-e`, `s/…/…/g` (never `-i`)",
        true,
    ),
    u(
        "grep",
        "probe errors, programs' status",
        "`-q -v -e -F -a -z -H -o`",
        true,
    ),
    u("od", "programs' tokens", "`-An -N8 -tx1`", true),
    u("tr", "programs' status and tokens", "`-d`, `'\\0' '\\n'`", true),
    u(
        "wc",
        "the size of a program's log before a start (what a failed start shows)",
        "`-c`",
        true,
    ),
    u("head", "output tails, first lines", "`-n N`, `-c N`", true),
    u("tail", "output tails, last lines", "`-n N`, `-c N`, `-c +N --`", true),
    u("cut", "fields of `getent` answers", "`-d: -f N`", true),
    u("cmp", "unchanged configurations", "`-s`", true),
    u("cp", "virtualenvs' requirements, cron records", "`--`", true),
    u("ls", "the `supervisord` backend: programs left", "`--`", true),
    u(
        "mv",
        "atomic renames",
        "`-f -t DIR -- FILES`, `-Tf -- SRC DST`, `-f -- SRC DST`",
        true,
    ),
    u("ln", "symlinks", "`-s --`", true),
    u("chmod", "modes", "`--`", true),
    u("chown", "`owner`/`group`", "`--`", true),
    u("mkdir", "directories", "`-p --`, `-m MODE --`", true),
    u("rmdir", "staging directories", "`--`", true),
    u("rm", "removals, temporary files", "`-f --`, `-rf --`", true),
    u("cat", "state files", "", true),
    u("id", "the login user", "`-u`, `-ru`, `-un`, `-gn`, `-G`", true),
    u("sleep", "waits and the watchdog", "fractions (`sleep 0.1`)", true),
    u(
        "setsid",
        "the `process` backend",
        "`setsid CMD` (util-linux or BusyBox)",
        false,
    ),
    u(
        "crontab",
        "`cron` steps",
        "`-l`, `crontab FILE` (cronie, Debian's cron, BusyBox)",
        false,
    ),
    u(
        "flock",
        "`cron` steps: the per-user lock around a crontab edit",
        "`-w SECS FD` (util-linux; Alpine's BusyBox has it, Debian's does not)",
        false,
    ),
    u(
        "getent",
        "privileged scripts (the service user's home), `group:` ownership",
        "`passwd -- NAME`, `group -- NAME` (glibc, or Alpine's musl-utils)",
        false,
    ),
];

/// What the probe needs besides utilities: programs and the watchdog read `/proc`.
pub const PROC: &str = "/proc";

/// The probe's first lines: refuses a host that lacks a required utility or `/proc`
/// (`unsupported …`, then the script ends), with builtins only.
pub fn check_sh() -> String {
    let mut s = String::from("m=; for c in");
    for u in CONTRACT.iter().filter(|u| u.required && u.name != "sh") {
        let _ = write!(s, " {}", u.name);
    }
    s.push_str(
        "; do command -v \"$c\" >/dev/null 2>&1 || m=\"$m $c\"; done\n\
         [ -r /proc/self/stat ] || m=\"$m /proc\"\n\
         if [ -n \"$m\" ]; then echo \"unsupported$m\"; exit 0; fi\n",
    );
    s
}

/// Sets `ub=1` when `find` is BusyBox's, with builtins only (needs `$T`). Both the
/// probe and the apply scripts start with it.
pub const DETECT_SH: &str = "ub=; if command -v find > \"$T/ul\" 2>/dev/null && read -r ub < \"$T/ul\" && { [ \"$ub\" -ef /bin/busybox ] || [ \"$ub\" -ef /usr/bin/busybox ]; }; then ub=1; else ub=; fi\n";

/// `tmo KILL SECS CMD…` execs `timeout -k KILL SECS CMD…` (call it in a subshell).
/// GNU `timeout` runs the command in a process group of its own and stops the whole
/// group; BusyBox's signals only the command's pid, so a command's children would
/// outlive its timeout. On BusyBox the command therefore runs under `setsid` in a
/// small `sh` that passes the stop on to its whole group (one process more, on
/// BusyBox only). Both the probe and the apply scripts define it.
pub const TIMEOUT_SH: &str = r#"tmo() { tk=$1 tt=$2; shift 2; if [ -n "$ub" ]; then exec timeout -k "$tk" "$tt" setsid sh -c 'trap "trap : TERM; kill -TERM 0" TERM; "$@" & wait $!' sh "$@"; fi; exec timeout -k "$tk" "$tt" "$@"; }
"#;

/// The userland the probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Userland {
    Gnu,
    BusyBox,
}

impl Userland {
    pub fn name(self) -> &'static str {
        match self {
            Userland::Gnu => "GNU",
            Userland::BusyBox => "BusyBox",
        }
    }
}

/// A problem's text and help for a host the probe refused (`unsupported …`).
pub fn unsupported(missing: &str) -> (String, String) {
    let items: Vec<&str> = missing.split_whitespace().collect();
    let no_proc = items.contains(&PROC);
    let tools: Vec<String> = items.iter().filter(|i| **i != PROC).map(|i| format!("`{i}`")).collect();
    let mut what = Vec::new();
    if !tools.is_empty() {
        what.push(format!("it has no {} on the login user's PATH", tools.join(", ")));
    }
    if no_proc {
        what.push("it has no /proc (BSD and macOS hosts are not supported)".to_string());
    }
    (
        format!("this host's userland is not supported: {}", what.join(", and ")),
        "ordo runs on hosts with a GNU (Debian, Ubuntu, RHEL, Fedora) or BusyBox (Alpine) userland and /proc; \
         the utilities it needs are listed in docs/hosts.md (\"What a host must have\"). Nothing was changed."
            .to_string(),
    )
}

/// The problem for a `find` that is neither GNU's nor BusyBox's (its error names
/// `-printf`).
pub fn foreign_find(said: &str) -> (String, String) {
    (
        format!(
            "this host's userland is not supported: its `find` has no `-printf` and is not BusyBox's ({})",
            said.lines().next().unwrap_or("").trim()
        ),
        "ordo needs GNU findutils or BusyBox (docs/hosts.md, \"What a host must have\"); install GNU findutils. \
         Nothing was changed."
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_uses_builtins_only_and_names_every_required_utility() {
        let s = check_sh();
        for u in CONTRACT.iter().filter(|u| u.required && u.name != "sh") {
            assert!(
                s.contains(&format!(" {} ", u.name)) || s.contains(&format!(" {};", u.name)),
                "{}",
                u.name
            );
        }
        assert!(!s.contains("$("), "no command substitution (a fork): {s}");
        assert!(
            !DETECT_SH.contains("$("),
            "no command substitution (a fork): {DETECT_SH}"
        );
    }

    #[test]
    fn refusals_name_what_is_missing() {
        let (what, help) = unsupported(" timeout setsid /proc");
        assert_eq!(
            what,
            "this host's userland is not supported: it has no `timeout`, `setsid` on the login user's PATH, \
             and it has no /proc (BSD and macOS hosts are not supported)"
        );
        assert!(help.contains("docs/hosts.md"));
    }

    #[test]
    fn docs_list_every_utility_of_the_contract() {
        let doc = include_str!("../../docs/hosts.md");
        for u in CONTRACT {
            assert!(
                doc.contains(&format!("| `{}` |", u.name)),
                "docs/hosts.md does not list `{}` in its table of what a host must have",
                u.name
            );
        }
    }
}
