//! The few shell words both transports put in front of every script, and the
//! script that stops one. The prelude reports the script's process group (the
//! first line of stderr, taken out again before anyone sees it), so that a
//! timeout or Ctrl-C can stop the script and everything it started, on the host,
//! over a fresh channel. And it starts a watchdog that stops the script when its
//! parent dies: when ordo is killed (local) or the ssh connection drops (sshd
//! exits, but it does not kill a session's processes that have no terminal).
//!
//! The prelude shares the script's first line, so line numbers in the shell's
//! messages stay those of the script. It runs in a subshell: the script's
//! variables, `$?`, `$!`, traps, options and working directory are untouched, and
//! the watchdog is not a child of the script's shell (a plain `wait` in the script
//! does not wait for it). Forks: two (the subshell and the watchdog), plus one
//! `sleep 1` per second while the script runs; without `/proc`, one more for `ps`.
//! The watchdog's stdin, stdout and stderr are `/dev/null`, so it never holds the
//! output open, and it exits within a second after the script ends.
//! See docs/design/decisions.md, "A prelude and a watchdog in front of every script".

/// Starts the first line of stderr; the process group follows, then `\n`.
pub(super) const MARKER: &str = "\u{1e}ordo-pgid ";

/// How long a stopped script gets between SIGTERM (its traps run, locks are
/// released) and SIGKILL.
pub(super) const GRACE_SECS: u32 = 2;

/// Finds the process group (`g`) and the parent to watch (`p`) from `/proc`, or
/// with `ps` where there is none.
const FIND: &str = "(p=$PPID g=;{ if [ -r /proc/$$/stat ];then read -r x x x p g x </proc/$$/stat;\
else set -- $(ps -o ppid= -o pgid= -p $$);p=${1:-$PPID} g=$2;fi;} 2>/dev/null;";

/// Under sudo the parent is sudo itself, which outlives a dead ordo or sshd: watch
/// sudo's parent instead.
const PAST_SUDO: &str = "{ if [ -r /proc/$p/stat ];then read -r x c x q x </proc/$p/stat;\
else set -- $(ps -o comm= -o ppid= -p $p);c=\"($1)\" q=$2;fi;[ \"$c\" = \"(sudo)\" ]&&p=$q;} 2>/dev/null;";

/// Reports the group, then watches. `kill -0 $p || exit`: a parent we may not
/// signal cannot be watched, and must not look dead. `kill -TERM 0` reaches the
/// script's whole group; the watchdog ignores that one itself, to send SIGKILL to
/// what is left after the grace.
const WATCH: &str = "printf '\\036ordo-pgid %s\\n' \"$g\" >&2;\
{ kill -0 $p||exit;while kill -0 $$;do kill -0 $p||{ trap '' TERM;kill -TERM 0;sleep 2;kill -KILL 0;};sleep 1||exit;done;} \
</dev/null >/dev/null 2>&1 &);";

/// The prelude for a script run as the login user, or as root through sudo.
pub(super) fn prelude(privileged: bool) -> String {
    let mut text = String::from(FIND);
    if privileged {
        text.push_str(PAST_SUDO);
    }
    text.push_str(WATCH);
    text
}

/// The process group in a marker line (`\n` included), if it is one. Never 0 or 1:
/// `kill -TERM -1` would reach every process of the user.
pub(super) fn parse_marker(line: &[u8]) -> Option<u32> {
    let rest = line.strip_prefix(MARKER.as_bytes())?;
    let digits = std::str::from_utf8(rest).ok()?.trim_end_matches('\n');
    digits.trim().parse().ok().filter(|&g| g > 1)
}

/// Stops process group `pgid`: SIGTERM, up to the grace for it to end, SIGKILL.
/// Runs on the host in a fresh shell (which is in a session of its own).
///
/// The group has ended when none of its processes is alive: its zombies do not
/// count. The script's orphans are reaped by init, which on many hosts (this
/// test machine, containers) takes its time: `kill -0 -PGID` answers for them
/// as for live processes, and every stop would wait out the whole grace. Where
/// `/proc` tells, `up` looks for a member that is not a zombie (shell builtins
/// only; the fields counted after the last `) `, as `pgst` does) — the group's
/// leader first, which is the answer whenever it still runs, so that the whole
/// process table is read only when the leader has ended; without `/proc`, the
/// kernel's answer. `local::has_live_member` is the same for the local
/// transport.
pub(super) fn stop_script(pgid: u32) -> String {
    let polls = GRACE_SECS * 10;
    format!(
        "kill -TERM -{pgid} 2>/dev/null || exit 0\n\
         up() {{ kill -0 -{pgid} 2>/dev/null || return 1; [ -r /proc/self/stat ] || return 0; \
         for f in /proc/{pgid}/stat /proc/[0-9]*/stat; do l=; {{ read -r l < \"$f\"; }} 2>/dev/null || continue; set -- ${{l##*) }}; \
         [ \"${{3:-}}\" != {pgid} ] || [ \"$1\" = Z ] || return 0; done; return 1; }}\n\
         i=0; while [ $i -lt {polls} ] && up; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done\n\
         kill -KILL -{pgid} 2>/dev/null; exit 0\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_read_strictly() {
        assert_eq!(parse_marker(format!("{MARKER}4242\n").as_bytes()), Some(4242));
        assert_eq!(parse_marker(format!("{MARKER}1\n").as_bytes()), None);
        assert_eq!(parse_marker(format!("{MARKER}\n").as_bytes()), None);
        assert_eq!(parse_marker(b"ordo-pgid 4242\n"), None);
    }

    /// A group whose processes have all ended but wait, as zombies, for a
    /// parent to reap them has ended: the stop script does not wait out the grace
    /// for it (and still stops a live one).
    #[test]
    fn a_group_of_zombies_is_stopped_without_waiting_out_the_grace() {
        use std::os::unix::process::CommandExt;
        use std::process::Command;
        use std::time::{Duration, Instant};
        // Not waited for until the end: a zombie, the only one of its group.
        let mut zombie = Command::new("sh")
            .args(["-c", "exit 0"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = zombie.id();
        std::thread::sleep(Duration::from_millis(200));
        let state = std::fs::read_to_string(format!("/proc/{pgid}/stat")).unwrap();
        assert!(state.rsplit_once(") ").unwrap().1.starts_with('Z'), "{state}");
        let stop = |pgid: u32| {
            let started = Instant::now();
            let out = Command::new("sh").arg("-c").arg(stop_script(pgid)).output().unwrap();
            assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
            started.elapsed()
        };
        let took = stop(pgid);
        assert!(took < Duration::from_millis(900), "waited {took:?} for a zombie");
        let _ = zombie.wait();

        // A live member that ignores SIGTERM is waited for, then killed.
        let mut stubborn = Command::new("sh")
            .args(["-c", "trap '' TERM; sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let took = stop(stubborn.id());
        assert!(took >= Duration::from_secs(GRACE_SECS.into()), "stopped after {took:?}");
        assert!(stubborn.wait().unwrap().code().is_none(), "ended by a signal");
    }

    #[test]
    fn the_prelude_is_one_line() {
        for privileged in [false, true] {
            assert!(!prelude(privileged).contains('\n'));
        }
    }
}
