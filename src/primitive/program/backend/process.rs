//! The plain process backend, for hosts with no supervisor: the launcher runs in a
//! session of its own (`setsid`, so it outlives the deploy's script and its process
//! group), records its process in `$R/pid`, and logs to its log file. Stopping
//! signals the process group it leads, waits for it to exit (polling from 10 ms on,
//! `wait::WAIT_SH`), then kills it after the stop timeout — only while the recorded
//! process (pid and start time) is still there: a pid that belongs to another
//! process by now is never signalled. A restart launches right after the stop:
//! asking again whether the program runs would look for its token (the record is
//! gone by then), a `grep` over every process's environment that could also take an
//! orphan carrying the token for the program (decision 42). Nothing restarts a
//! program that dies on its own until the next deploy, which sees it is not running
//! and starts it. Nothing but the program's log knows why it ended, so
//! `process_why` has nothing to add.

use super::Backend;

pub(super) struct Process;

impl Backend for Process {
    fn name(&self) -> &'static str {
        "process"
    }

    fn available(&self) -> Option<&'static str> {
        None
    }

    fn functions(&self) -> &'static str {
        r#"process_pid() { pgwho "$R" "$t" fresh; }
process_start() { process_pid || process_run; }
process_run() { setsid "$R/run" </dev/null >/dev/null 2>&1 & }
process_stop() {
  process_pid || { rm -f -- "$R/pid"; return 0; }
  pgsig "$SIG"
  zw=0 zq=10; while pglive "$MP" "$MS" && [ $zw -lt $((STOP * 1000)) ]; do pgstep 100; done
  if pglive "$MP" "$MS"; then pgsig KILL; sleep 0.1; fi
  rm -f -- "$R/pid"
}
process_restart() { process_stop; process_run; }
process_signal() { process_pid || { echo "$N is not running" > "$O"; fail "$I" 1; }; kill -"$1" "$MP" > "$O" 2>&1 || fail "$I" 1; }
process_remove() { process_stop; }
process_why() { :; }"#
    }
}
