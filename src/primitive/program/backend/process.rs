//! The plain process backend, for hosts with no supervisor: the launcher runs in a
//! session of its own (`setsid`, so it outlives the deploy's script and its process
//! group), writes its pid to `$R/pid`, and logs to its log file. Stopping signals
//! the whole process group, then kills it after the stop timeout. Nothing restarts
//! a program that dies on its own until the next deploy, which sees it is not
//! running and starts it.

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
        r#"process_pid() { p=$(pgrec); pgmine "$p"; }
process_start() {
  if process_pid; then return 0; fi
  setsid "$R/run" </dev/null >/dev/null 2>&1 &
}
process_stop() {
  process_pid || { rm -f -- "$R/pid"; return 0; }
  kill -"$SIG" "-$p" 2>/dev/null || kill -"$SIG" "$p" 2>/dev/null
  i=0; while pgmine "$p" && [ $i -lt $((STOP * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  if pgmine "$p"; then kill -KILL "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; sleep 0.1; fi
  rm -f -- "$R/pid"
}
process_restart() { process_stop; process_start; }
process_signal() { process_pid || { echo "$N is not running" > "$O"; fail "$I" 1; }; kill -"$1" "$p" > "$O" 2>&1 || fail "$I" 1; }
process_remove() { process_stop; }"#
    }
}
