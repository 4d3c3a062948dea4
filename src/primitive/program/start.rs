//! What the apply script does for a program, and what "started" means. `pa` writes
//! the record (token, launcher, stop settings, backend), creates the directories
//! the launcher needs (the record, the log's directory, the working directory —
//! the component's root by default, which no other step may have created), moves
//! the program off its old backend if it changed, and starts / restarts / reloads /
//! stops it through the backend's functions.
//!
//! A start, restart or reload has worked when the process the launcher recorded is
//! there with the current definition (`pgup`, up to 5 s), its health check passes —
//! and for a check of an address of this host, the program holds the listening
//! socket that answered (see [`super::listener`]) — and it is still alive
//! afterwards. Without a health check, "afterwards" is half a second after the
//! process was first seen (decision 71): the moment it was seen alone made a
//! program that exits at once (`true`, a missing file, a bad option) "started"
//! whenever the host had not yet run its exit — on a loaded host, often. The process is checked on every attempt of the check: a program that
//! exits ends the wait at once. Every failure ends with the end of what the
//! program wrote to its log since this start, or, when it wrote nothing, what the
//! backend knows (`<backend>_why`).

/// `pa LAUNCHER WAIT`, with the program in variables (see `Program::apply`); WAIT
/// is `hw`'s arguments, empty without a health check. The launcher (`pl`) is
/// rewritten only when it differs (`backend::PUT_SH`; a restart of an unchanged
/// program — every rollback — keeps it).
///
/// `pgup`: waits up to 5 s (of pauses from 10 ms up to 0.1 s, `wait::WAIT_SH`) for
/// the program's process with the current definition
/// (`MP MS MH`, see `identity`); a record that changed since the start (`P0`) but
/// names a process that is gone means it exited already. While the launcher has
/// not written its record yet (a stop removed the old one), there is nothing to
/// ask: the token search over every process's environment is for records without
/// a start time, and this start's launcher writes one.
///
/// `hw TRIES INTERVAL_MS KIND TIMEOUT A B C [SOCKET…]`: retries the check (`hc`)
/// until it passes and, with SOCKET (`pgsock`'s arguments), the program answered
/// it; fails the step with the last answer when it never does, at once when the
/// program exits. Attempt k of TRIES comes after k - 1 pauses of INTERVAL, as the
/// user declared; when there is a second one, the first pause is cut into shorter
/// ones (10, 20, 40 ms… — `wait::WAIT_SH`) with an attempt after each, so an app
/// that is up after 60 ms is seen then, not after a whole interval. A failure
/// counts the TRIES attempts (the extra ones fall inside the first interval).
/// An extra attempt at a loopback address (`hq`) is made only once the program
/// (or a child of it) has a socket open (`listener::SOCKET_SH`'s `pgsk`, shell
/// builtins only): before that the check can only be refused, and a refused
/// `curl` costs about 7 ms of CPU — a third of the CPU a rollback spent on the
/// hosts, when ten of them restart on one machine. The counted attempts are all
/// made, so the answer a failure shows is always a real one.
///
/// `pgdead WHAT`: fails the step with `pglog` — the end of the log since the start
/// (`LS`: its size before), or the backend's word when it wrote nothing — and
/// "<name> WHAT" last (the controller shows the last lines).
pub(super) const APPLY_SH: &str = r#"pa() {
  pd "$I" "$R"
  pd "$I" "$LD"
  [ "$A" = stop ] || pd "$I" "$CW"
  if [ ! -s "$R/token" ]; then od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$R/token" 2>"$O" && echo >> "$R/token" || fail "$I" 1; fi
  pgrr "$R" token > "$O" || fail "$I" 1
  read -r t < "$R/token"
  case $PWD in *\'*) h=$(printf '%s' "$PWD" | sed "s/'/'\\\\''/g") ;; *) h=$PWD ;; esac
  pgput pl "$R/run" x "$1" || [ $? = 1 ] || fail "$I" 1
  printf '%s %s\n' "$SIG" "$STOP" > "$R/stop"
  if [ -n "$OB" ] && [ "$OB" != "$B" ]; then "${OB}_remove"; fi
  printf '%s\n' "$B" > "$R/backend"
  LS=0; if [ "$A" != stop ] && [ -f "$LOG" ]; then LS=$(wc -c < "$LOG" 2>/dev/null); LS=${LS:-0}; fi
  pgwho "$R" "" || :; P0="$RP $RS $RH"
  # A record without a start time (an older ordo's) may stand for a process only
  # its supervisor still knows: "start" would be a no-op there, "restart" renews it.
  if [ "$A" = start ] && [ -n "$RP" ]; then case $RS in ''|*[!0-9]*) A=restart ;; esac; fi
  : > "$O"
  case $A in
    start) "${B}_start" ;;
    restart) "${B}_restart" ;;
    stop) "${B}_stop" ;;
    reload)
      if [ "$RK" = signal ]; then "${B}_signal" "$RA"
      else ( cd -- "$CW" && exec sh -c "$RA" ) </dev/null > "$O" 2>&1 || fail "$I" 1; fi ;;
  esac
  if [ "$A" != stop ]; then
    pgup
    if [ -n "$2" ]; then eval "hw $2"; else pgnap 500; fi
    pglive "$MP" "$MS" || pgdead "exited right after it started (it ran as pid $MP)"
  fi
  [ -z "$MK" ] || rm -f -- "$MK" "$MK.reload"
  echo "$I ok"
}
pl() { printf '#!/bin/sh\numask 022\n'; printf "cd -- '%s' || exit 1\n" "$h"; printf 'export ORDO_PROGRAM=%s:%s\n' "$t" "$H"; printf '%s' "$1"; }
pgup() {
  zw=0 zq=10
  until { [ -f "$R/pid" ] || { RP= RS= RH=; false; }; } && pgwho "$R" "$t" fresh && [ "$MH" = "$H" ]; do
    case $RS in ''|*[!0-9]*) ;; *) [ "$RP $RS $RH" = "$P0" ] || [ "$RH" != "$H" ] || pgdead "exited right after it started (it ran as pid $RP)" ;; esac
    [ $zw -lt 5000 ] || pgdead "did not start within 5 s"
    pgstep 100
  done
}
hw() {
  k=1 tries=$1 ims=$2 zw=0 zq=10; shift 2
  while :; do
    pglive "$MP" "$MS" || pgdead "exited before its health check passed (it ran as pid $MP)"
    if [ $k -eq 1 ] && [ "$tries" -gt 1 ] && ! hq "$@"; then :
    elif hc "$1" "$2" "$3" "$4" "$5" && hs "$@"; then return 0; fi
    [ $k -lt "$tries" ] || break
    if [ $k -eq 1 ] && [ $((zw + zq)) -lt "$ims" ]; then pgstep "$ims"; continue; fi
    pgnap $((ims - zw)); zw=0 k=$((k + 1))
  done
  { pglog; echo "health check failed $k times; the last answer:"; head -n 4 "$T/hc"; [ ! -s "$T/hs" ] || cat "$T/hs"; } > "$O"; fail "$I" 1
}
hs() { : > "$T/hs"; shift 5; [ $# -eq 0 ] || pgsock "$@"; }
hq() { shift 5; [ $# -ge 6 ] && [ "$5" = - ] && [ "$6" = - ] || return 0; pgsk; }
pgdead() { { pglog; echo "$N $1"; } > "$O"; fail "$I" 1; }
pglog() {
  z=0; [ ! -f "$LOG" ] || z=$(wc -c < "$LOG" 2>/dev/null); z=${z:-0}
  if [ $((z)) -gt $((LS)) ]; then echo "the end of its log ($LOGN):"; tail -c +$((LS + 1)) -- "$LOG" | tail -n 6
  elif [ $((z)) -gt 0 ] && [ $((z)) -lt $((LS)) ]; then echo "the end of its log ($LOGN):"; tail -n 6 -- "$LOG"
  else "${B}_why" 2>&1 | tail -n 4; echo "it wrote nothing to its log ($LOGN)"; fi
}
"#;
