//! Which process is a program's. A pid alone says nothing after a reboot or once
//! pids wrap around: another process may have it now. So the launcher records
//! `pid start-time hash` in the program's record (`$R/pid`; the start time is field
//! 22 of `/proc/<pid>/stat`, clock ticks since boot, which `exec` keeps), and every
//! check — the probe's "is it running", the wait after a start, a backend's stop —
//! takes the pid only while a live process with that start time has it. A record
//! without a start time (none, or one an older ordo wrote) decides nothing; then a
//! process whose environment carries the program's token is the program (the token
//! is random and private to the service user, and `/proc/<pid>/environ` is readable
//! by the process's owner only), as before. Signals go to the verified process, and
//! to its process group only when it leads that group (the group its launcher's
//! `setsid` made): ordo never signals a group it did not start.
//!
//! Everything here is shell builtins reading `/proc`: a probe that finds every
//! program running as recorded starts no process for it (a token search, one
//! `grep` for all programs, happens only for records without a start time).

use crate::host_path::HostPath;
use crate::shell::word;

/// The launcher's line that records the program's process (see the module doc): its
/// own pid, start time (`-` where `/proc` cannot tell) and the definition hash, in
/// `<record>/pid`. The launcher `exec`s the program, which keeps pid and start time.
pub(super) fn record_line(record: &HostPath, hash: &str) -> String {
    format!(
        "l=; {{ read -r l < /proc/$$/stat; }} 2>/dev/null; set -- ${{l##*) }}; echo \"$$ ${{20:--}} {hash}\" > {}/pid\n",
        word(record)
    )
}

/// `pgst PID`: state `PS`, parent `PP`, process group `PG` and start time `PT` of a
/// process; 1 when there is none. The name in field 2 may hold anything, spaces and
/// `)` included: the fields are counted after its last `) `.
///
/// `pglive PID START`: PID is a live process (no zombie) that started at START.
///
/// `pgrr DIR FILE…`: 1, saying which, when one of the record's files is there but
/// cannot be read — read as empty, the program would be taken for one without a
/// backend or token (a removal stopped nothing and deleted the record). An empty
/// file, or one cut short before its newline, is read as it is.
///
/// `pgwho REC TOKEN [fresh]`: the program's running process in `MP MS MH` (pid,
/// start time, definition hash), from the record in `REC/pid`, else (a record
/// without a start time only) from the processes carrying the token — found with
/// one `grep` over `/proc/*/environ`, kept in `$T/progs` for the rest of a probe,
/// and done again with `fresh` (in apply scripts, where processes come and go).
///
/// `pgsig SIG`: sends SIG to `MP` while it is still the process `pgwho` found: to
/// its whole group when it leads one, else to it alone.
///
/// `pgtree PID`: PID is `MP`, one of its descendants, or carries the token `$t`.
pub(crate) const IDENTITY_SH: &str = r#"pgst() { PS= PP= PG= PT=; case $1 in ''|*[!0-9]*) return 1 ;; esac; l=; { read -r l < "/proc/$1/stat"; } 2>/dev/null || return 1; set -- ${l##*) }; PS=${1:-} PP=${2:-} PG=${3:-} PT=${20:-}; }
pgrr() { d=$1; shift; for f; do [ ! -f "$d/$f" ] || [ -r "$d/$f" ] || { case $d in ./*) d="~/${d#./}" ;; esac; echo "cannot read $d/$f, the program's record: permission denied"; return 1; }; done; }
pglive() { case $2 in ''|*[!0-9]*) return 1 ;; esac; pgst "$1" && [ "$PT" = "$2" ] && [ "$PS" != Z ] && [ "$PS" != X ]; }
pgwho() {
  MP= MS= MH= RP= RS= RH=
  [ ! -f "$1/pid" ] || { read -r RP RS RH < "$1/pid"; } 2>/dev/null
  case $RS in
    ''|*[!0-9]*) ;;
    *) pglive "$RP" "$RS" || return 1; MP=$RP MS=$RS MH=$RH; return 0 ;;
  esac
  [ -n "$2" ] || return 1
  if [ -n "${3:-}" ] || [ ! -f "$T/progs" ]; then grep -a -z -H -o '^ORDO_PROGRAM=[0-9a-f]*:[0-9a-f]*' /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' > "$T/progs"; fi
  while IFS= read -r x; do
    case $x in
      /proc/*/environ:ORDO_PROGRAM="$2":*) q=${x#/proc/}; q=${q%%/*}; if [ -z "$MP" ] || [ "$q" -lt "$MP" ]; then MP=$q MH=${x##*:}; fi ;;
    esac
  done < "$T/progs"
  [ -n "$MP" ] && pgst "$MP" && [ "$PS" != Z ] && MS=$PT
}
pgsig() {
  pglive "$MP" "$MS" || return 0
  if [ "$PG" = "$MP" ]; then kill -"$1" "-$MP" 2>/dev/null || kill -"$1" "$MP" 2>/dev/null; else kill -"$1" "$MP" 2>/dev/null; fi
}
pgtree() {
  q=$1 k=0
  while [ $k -lt 100 ] && pgst "$q"; do
    [ "$q" != "$MP" ] || { [ "$PT" = "$MS" ]; return; }
    [ "$PP" -gt 1 ] 2>/dev/null || break
    q=$PP k=$((k + 1))
  done
  [ -n "$t" ] && grep -q -a -z -e "^ORDO_PROGRAM=$t:" "/proc/$1/environ" 2>/dev/null
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// `sh` with the functions, running `body`; its stdout.
    fn sh(body: &str) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("T=$(mktemp -d); {IDENTITY_SH}{body}; rm -rf \"$T\""))
            .output()
            .expect("sh");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A record file that is empty, cut short before its newline or not there is
    /// read as it is; only one that is there and cannot be read stops (denied
    /// reads are tested over ssh: root reads anything).
    #[test]
    fn only_a_record_that_cannot_be_read_stops_pgrr() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("backend"), "").unwrap();
        std::fs::write(dir.path().join("token"), "abc").unwrap();
        let d = dir.path().display();
        assert_eq!(sh(&format!("pgrr '{d}' backend token stop && echo ok")), "ok");
        assert_eq!(sh(&format!("read -r t < '{d}/token'; echo \"$t\"")), "abc");
    }

    /// A process may name itself anything, `) ` and digits included: the fields
    /// are counted after the last `) `, so its start time is still its own, and a
    /// start time that is not its own is not taken.
    #[test]
    fn a_process_named_like_stat_fields_is_known_by_its_real_start_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("x) Z 1 2 3 4");
        std::os::unix::fs::symlink("/bin/sleep", &fake).expect("symlink");
        let mut child = Command::new(&fake).arg("30").spawn().expect("spawn");
        let pid = child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        assert!(stat.contains("(x) Z 1 2 3 4)"), "{stat}");
        let after = stat.rsplit_once(") ").expect("fields").1;
        let start = after.split(' ').nth(19).expect("field 22");
        assert_eq!(sh(&format!("pgst {pid}; echo \"$PS $PT\"")), format!("S {start}"));
        let live = |s: &str| sh(&format!("if pglive {pid} {s}; then echo yes; else echo no; fi"));
        assert_eq!(live(start), "yes");
        assert_eq!(live(&format!("{}", start.parse::<u64>().unwrap() + 1)), "no");
        assert_eq!(live("''"), "no", "no start time recorded: nothing is known");
        assert_eq!(live("-"), "no");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(live(start), "no", "gone");
    }

    /// A record names the program only with a start time that is its process's;
    /// a record without one falls back to the token, and a pid signalled is only
    /// ever the verified one.
    #[test]
    fn a_record_is_taken_only_with_its_process_start_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = dir.path().display().to_string();
        let mut child = Command::new("sleep").arg("30").spawn().expect("spawn");
        let pid = child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let start = stat
            .rsplit_once(") ")
            .unwrap()
            .1
            .split(' ')
            .nth(19)
            .unwrap()
            .to_string();
        let who = |record: &str| {
            std::fs::write(dir.path().join("pid"), record).unwrap();
            sh(&format!(
                "if pgwho '{r}' tok; then echo \"$MP $MS $MH\"; else echo none; fi"
            ))
        };
        assert_eq!(who(&format!("{pid} {start} abc\n")), format!("{pid} {start} abc"));
        assert_eq!(
            who(&format!("{pid} 1 abc\n")),
            "none",
            "another process has the pid now"
        );
        assert_eq!(
            who(&format!("{pid} abc\n")),
            "none",
            "no start time, and no process carries the token"
        );
        let sent = sh(&format!(
            "echo '{pid} 1 abc' > '{r}/pid'; pgwho '{r}' tok; MP={pid} MS=1; pgsig TERM; echo sent"
        ));
        assert_eq!(sent, "sent");
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "pgsig signalled a process it did not verify"
        );
        let _ = child.kill();
        let _ = child.wait();
    }

    /// BusyBox `ash` (an Alpine host's `sh`) runs the functions too: `pgwho` reads
    /// the record there (`${l##*) }`, `${20}`), and `pgsig` stops the group a
    /// program leads — its child with it — without a word on stderr.
    #[test]
    fn busybox_ash_finds_the_program_and_stops_its_group() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let r = dir.path().display().to_string();
        let mut leader = Command::new("sh")
            .args(["-c", "sleep 600 & exec sleep 601"])
            .process_group(0)
            .spawn()
            .expect("spawn");
        let pid = leader.id();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let start = stat
            .rsplit_once(") ")
            .unwrap()
            .1
            .split(' ')
            .nth(19)
            .unwrap()
            .to_string();
        std::fs::write(dir.path().join("pid"), format!("{pid} {start} abc\n")).unwrap();
        let out = Command::new("/usr/bin/busybox")
            .arg("sh")
            .arg("-c")
            .arg(format!(
                "T=$(mktemp -d); {IDENTITY_SH}pgwho '{r}' tok && echo \"found $MP $MS\" && pgsig TERM && echo sent; rm -rf \"$T\""
            ))
            .output()
            .expect("/usr/bin/busybox (./test.sh installs it)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stdout.trim(), format!("found {pid} {start}\nsent"), "{stderr}");
        assert_eq!(stderr, "", "ash said something");
        let _ = leader.wait();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let out = Command::new("pgrep")
            .args(["-g", &pid.to_string()])
            .output()
            .expect("pgrep");
        // A child reparented to a PID 1 that does not reap (a container) stays a zombie.
        let alive: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .is_ok_and(|s| !s.rsplit_once(") ").is_some_and(|(_, f)| f.starts_with('Z')))
            })
            .map(str::to_string)
            .collect();
        assert!(alive.is_empty(), "the leader's child outlived the stop: {alive:?}");
    }
}
