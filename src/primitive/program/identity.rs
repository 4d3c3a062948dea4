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
  if [ "$PG" = "$MP" ]; then kill -"$1" -- "-$MP" 2>/dev/null || kill -"$1" "$MP" 2>/dev/null; else kill -"$1" "$MP" 2>/dev/null; fi
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
