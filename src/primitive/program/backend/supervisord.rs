//! A `supervisord` of the deployment's own, running as the service user (no root,
//! no system configuration): its configuration, socket, pid and log live in
//! `~/.ordo/<service>/supervisor/`, each program in `programs/<name>.conf` there.
//! ordo starts it when it is not running — known by the pid and start time ordo
//! recorded in `ordo.pid` there when it started it, or by an answer on its socket —
//! and it restarts programs that die. The launcher is the program's command, so a
//! changed definition needs no change of the supervisor's configuration, only a
//! restart.
//!
//! A program is stopped and started by supervisord's own XML-RPC calls
//! (`stopProcess`, `startProcess`, each waiting as `supervisorctl` does; a
//! restart is both, in order, from one `curl`) sent with `curl --unix-socket` to
//! its socket: `supervisorctl` is a Python start of its own, about 0.1 s of CPU
//! per call, which made a restart under supervisord cost twice one under the
//! plain process backend. Without curl, or for a name that
//! would need escaping, and for everything else (`update`, `signal`, `pid`,
//! `status`), `supervisorctl` (decision 70). Each call is bounded: the stop timeout
//! plus a minute, an answer of at most 64 KiB of which the first 64 lines are read.

use super::Backend;

pub(super) struct Supervisord;

impl Backend for Supervisord {
    fn name(&self) -> &'static str {
        "supervisord"
    }

    fn available(&self) -> Option<&'static str> {
        Some("command -v supervisord >/dev/null 2>&1 && command -v supervisorctl >/dev/null 2>&1")
    }

    fn functions(&self) -> &'static str {
        r#"sv_dir() { SV=$PWD/${R#./}; SV=${SV%/programs/*}/supervisor; }
sv() { supervisorctl -c "$SV/supervisord.conf" "$@"; }
sv_up() {
  sv_dir
  [ -d "$SV/programs" ] || mkdir -p -- "$SV/programs" > "$O" 2>&1 || fail "$I" 1
  if [ ! -f "$SV/supervisord.conf" ]; then
    printf '%s\n' '[unix_http_server]' 'file=%(here)s/supervisor.sock' '' '[supervisord]' 'logfile=%(here)s/supervisord.log' \
      'pidfile=%(here)s/supervisord.pid' 'directory=%(here)s' '' '[rpcinterface:supervisor]' \
      'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface' '' '[supervisorctl]' \
      'serverurl=unix://%(here)s/supervisor.sock' '' '[include]' 'files = programs/*.conf' > "$SV/supervisord.conf"
  fi
  sp= ss=; [ ! -f "$SV/ordo.pid" ] || { read -r sp ss < "$SV/ordo.pid"; } 2>/dev/null
  if [ -S "$SV/supervisor.sock" ] && { pglive "$sp" "$ss" || { sv pid > "$T/svp" 2>/dev/null && sv_rec; }; }; then return 0; fi
  ( umask 022; exec supervisord -c "$SV/supervisord.conf" ) </dev/null > "$O" 2>&1 || fail "$I" 1
  zw=0 zq=10; until sv pid > "$T/svp" 2>/dev/null && sv_rec; do [ $zw -lt 10000 ] || { echo "supervisord did not answer within 10 s" >> "$O"; tail -n 20 "$SV/supervisord.log" >> "$O" 2>/dev/null; fail "$I" 1; }; pgstep 100; done
}
sv_rec() { sp=; read -r sp < "$T/svp"; pgst "$sp" && printf '%s %s\n' "$sp" "$PT" > "$SV/ordo.pid"; }
sv_conf() {
  x=$PWD/${R#./}/run
  case $x in *'"'*|*'%'*) echo "the home directory $PWD cannot be written into a supervisord configuration" > "$O"; fail "$I" 1 ;; esac
  pgput sv_cf "$SV/programs/$N.conf"; r=$?
  [ $r != 2 ] || fail "$I" 1
  return $r
}
sv_cf() {
  printf '%s\n' "[program:$N]" "command=\"$x\"" 'autostart=true' 'autorestart=true' 'startsecs=0' "stopsignal=$SIG" \
    "stopwaitsecs=$STOP" 'stopasgroup=true' 'killasgroup=true' 'stdout_logfile=NONE' 'stderr_logfile=NONE'
}
sv_ok() { "$@" > "$O" 2>&1; r=$?; if [ $r -ne 0 ] && ! grep -q -e 'already started' -e 'not running' "$O"; then fail "$I" 1; fi; }
sv_x() {
  a=$*
  case $N in ''|*[!A-Za-z0-9._-]*) ;; *)
    if command -v curl >/dev/null 2>&1; then
      set --
      for x in $a; do
        case $x in stop) m=stopProcess ;; *) m=startProcess ;; esac
        printf '%s' "<?xml version=\"1.0\"?><methodCall><methodName>supervisor.$m</methodName><params><param><value><string>$N</string></value></param><param><value><boolean>1</boolean></value></param></params></methodCall>" > "$T/svq.$x"
        [ $# -eq 0 ] || set -- "$@" --next
        set -- "$@" --unix-socket "$SV/supervisor.sock" --max-time $((STOP + 60)) --max-filesize 65536 -H 'Content-Type: text/xml' -o "$T/svr.$x" --data-binary "@$T/svq.$x" http://localhost/RPC2
      done
      if curl -sS "$@" > "$O" 2>&1; then
        for x in $a; do
          case $x in stop) k=NOT_RUNNING ;; *) k=ALREADY_STARTED ;; esac
          r= n=0; while [ $n -lt 64 ] && { IFS= read -r l || [ -n "$l" ]; }; do r=$r$l n=$((n + 1)); done < "$T/svr.$x"
          case $r in
            *'<methodResponse><params><param><value><boolean>1</boolean>'*|*"<string>$k: "*) ;;
            *'<fault>'*) r=${r#*<name>faultString</name><value><string>}; printf '%s: ERROR (%s)\n' "$N" "${r%%</string>*}" > "$O"; fail "$I" 1 ;;
            *) sv_ok sv "$x" "$N" ;;
          esac
        done
        return
      fi
    fi ;;
  esac
  for x in $a; do sv_ok sv "$x" "$N"; done
}
supervisord_start() { sv_up; sv_conf; sv_ok sv update "$N"; sv_x start; }
supervisord_restart() { sv_up; if sv_conf; then sv_ok sv update "$N"; sv_x start; else sv_x stop start; fi; }
supervisord_stop() { sv_dir; if [ -f "$SV/programs/$N.conf" ]; then sv_up; sv_x stop; fi; }
supervisord_signal() { sv_up; sv_ok sv signal "$1" "$N"; }
supervisord_remove() {
  sv_dir
  [ -f "$SV/programs/$N.conf" ] || return 0
  sv_up; sv_ok sv stop "$N"; rm -f -- "$SV/programs/$N.conf"; sv_ok sv update
  if ! ls -- "$SV/programs/" 2>/dev/null | grep -q '\.conf$'; then sv shutdown >/dev/null 2>&1; fi
}
supervisord_why() {
  sv_dir; sv status "$N" 2>&1 | head -n 1
  [ ! -f "$SV/supervisord.log" ] || grep -F -e "'$N'" -e " $N " -- "$SV/supervisord.log" | tail -n 3
}"#
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, Supervisord};
    use std::process::Command;

    /// `sv_x` against a real supervisord: stops and starts by XML-RPC, takes
    /// "not running" and "already started" as done, fails with supervisord's
    /// fault for a name it does not know, and falls back to `supervisorctl` when
    /// curl cannot talk to the socket.
    #[test]
    fn stop_and_start_go_by_xml_rpc_and_fall_back_to_supervisorctl() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sv = dir.path().join("supervisor");
        std::fs::create_dir_all(sv.join("programs")).unwrap();
        let sh = |body: &str| {
            let script = format!(
                "T=$(mktemp -d); O=$T/o; I=7; SV='{}'; N=napper\n\
                 fail() {{ printf '%s fail %s: ' \"$1\" \"$2\"; cat \"$O\"; exit 1; }}\n\
                 pgstep() {{ sleep 0.05; zw=$((zw + 50)); }}\n\
                 {}\n{body}\nrm -rf \"$T\"",
                sv.display(),
                Supervisord.functions()
            );
            let out = Command::new("sh").arg("-c").arg(script).output().expect("sh");
            (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        };
        let up = "printf '%s\\n' '[program:napper]' 'command=sleep 600' 'startsecs=0' 'stopasgroup=true' > \"$SV/programs/napper.conf\"\n\
             printf '%s\\n' '[unix_http_server]' 'file=%(here)s/supervisor.sock' '[supervisord]' 'logfile=%(here)s/supervisord.log' \
             'pidfile=%(here)s/supervisord.pid' '[rpcinterface:supervisor]' \
             'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface' '[supervisorctl]' \
             'serverurl=unix://%(here)s/supervisor.sock' '[include]' 'files = programs/*.conf' > \"$SV/supervisord.conf\"\n\
             supervisord -c \"$SV/supervisord.conf\" || exit 1\n\
             zw=0; until sv pid >/dev/null 2>&1; do [ $zw -lt 10000 ] || exit 1; pgstep; done";
        let (ok, said) = sh(up);
        assert!(ok, "supervisord (./test.sh installs it): {said}");
        let state = || {
            sh("sv status napper")
                .1
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(state(), "RUNNING");

        // Without supervisorctl: curl alone does it.
        let no_ctl = "sv() { echo 'supervisorctl was used' > \"$O\"; return 1; }; ";
        let (ok, said) = sh(&format!("{no_ctl}sv_x stop && sv_x stop && echo stopped"));
        assert!(ok && said.contains("stopped"), "{said}");
        assert_eq!(state(), "STOPPED");
        let (ok, said) = sh(&format!("{no_ctl}sv_x start && sv_x start && echo started"));
        assert!(ok && said.contains("started"), "{said}");
        assert_eq!(state(), "RUNNING");
        let pid = || sh("sv pid napper").1.trim().to_string();
        let before = pid();
        let (ok, said) = sh(&format!("{no_ctl}sv_x stop start && echo restarted"));
        assert!(ok && said.contains("restarted"), "{said}");
        assert_eq!(state(), "RUNNING");
        assert_ne!(pid(), before, "a restart is a new process");

        let (ok, said) = sh(&format!("{no_ctl}N=nosuch; sv_x start"));
        assert!(!ok, "{said}");
        assert!(said.contains("7 fail 1: nosuch: ERROR (BAD_NAME: nosuch)"), "{said}");

        // curl fails (here: an old one that knows no --unix-socket): supervisorctl does it.
        let (ok, said) =
            sh("curl() { echo 'curl: option --unix-socket: is unknown' >&2; return 2; }; sv_x stop && echo stopped");
        assert!(ok && said.contains("stopped"), "{said}");
        assert_eq!(state(), "STOPPED");
        let (ok, said) = sh("curl() { return 2; }; sv_x start && echo started");
        assert!(ok && said.contains("started"), "{said}");
        assert_eq!(state(), "RUNNING");

        let _ = sh("sv shutdown");
    }
}
