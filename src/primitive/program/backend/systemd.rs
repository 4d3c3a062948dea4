//! systemd units, in two kinds. A **user unit** (`systemd --user`, where the user
//! has a running user manager): `ordo-<service>-<name>.service` in
//! `~/.config/systemd/user/`, enabled so the manager starts it at boot — which only
//! happens while the user is logged in unless lingering is on (`loginctl
//! enable-linger`), so the probe reports a missing linger. A **system unit**
//! (`sudo: true`, what servers mostly run): `/etc/systemd/system/ordo-<login
//! user>-<service>-<name>.service` — unit names are machine-wide, so two users'
//! services never collide — with `User=`/`Group=` the login user: only the unit is
//! root's, written and driven through `sudo -n /bin/sh -s` (the one sudoers rule
//! ordo asks for), while the program, its launcher, record and log stay the login
//! user's. `$R/system` records that the unit is a system unit, so stop, reload and
//! removal find it. Reloads by signal go through `ExecReload=/bin/kill -s SIG
//! $MAINPID` and `systemctl reload`, so systemd knows about them. A unit file is
//! rewritten (and the manager reloaded) only when it changed.
//!
//! Tested end to end through docker-systemctl-replacement's `systemctl`, which
//! reads and runs unit files without a systemd daemon (`tests/systemd.rs`,
//! docs/hosts.md): what it does not emulate (cgroups, restarting a crashed
//! service) is not tested here.

use super::Backend;

pub(super) struct Systemd;

/// Whether systemd runs as the host's init (`sd_booted()`'s test), for `auto`
/// with `sudo: true`.
pub(super) const SYSTEM_AVAILABLE: &str = "[ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1";

impl Backend for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn available(&self) -> Option<&'static str> {
        Some("systemctl --user show-environment >/dev/null 2>&1")
    }

    fn functions(&self) -> &'static str {
        r#"sd_unit() {
  s=${R#./.ordo/}; s=${s%%/*}
  if [ -n "$SU" ]; then [ -n "${LU:-}" ] || { LU=$(id -un) && LG=$(id -gn); } || fail "$I" 1; U=ordo-$LU-$s-$N.service; UD=/etc/systemd/system
  else U=ordo-$s-$N.service; UD=./.config/systemd/user; fi
}
sd_text() {
  x=$(printf '%s' "$PWD/${R#./}/run" | sed -e 's/\\/\\\\/g' -e 's/%/%%/g' -e 's/"/\\"/g')
  printf '%s\n' '[Unit]' "Description=ordo program $N" '' '[Service]'
  [ -z "$SU" ] || printf '%s\n' "User=$LU" "Group=$LG"
  printf '%s\n' "ExecStart=\"$x\""
  [ "$RK" != signal ] || printf '%s\n' "ExecReload=/bin/kill -s $RA \$MAINPID"
  printf '%s\n' "KillSignal=SIG$SIG" "TimeoutStopSec=$STOP" 'KillMode=control-group' 'Restart=on-failure' '' '[Install]'
  if [ -n "$SU" ]; then echo 'WantedBy=multi-user.target'; else echo 'WantedBy=default.target'; fi
}
sd_do() {
  w=$1; shift
  if [ -z "$SU" ]; then
    if [ "$w" = write ]; then
      mkdir -p -- "$UD" > "$O" 2>&1 || fail "$I" 1
      pgput sd_text "$UD/$U"
      case $? in 0) systemctl --user daemon-reload > "$O" 2>&1 || fail "$I" 1 ;; 2) fail "$I" 1 ;; esac
    fi
    for c in "$@"; do systemctl --user $c > "$O" 2>&1 || fail "$I" 1; done
    if [ "$w" = remove ]; then rm -f -- "$UD/$U" && systemctl --user daemon-reload > "$O" 2>&1 || fail "$I" 1; fi
    return 0
  fi
  { echo 'set -e; umask 022'
    if [ "$w" = write ]; then
      sd_text > "$T/unit" || fail "$I" 1
      printf "if ! cmp -s -- '%s' '%s'; then cat -- '%s' > '%s.new'; mv -f -- '%s.new' '%s'; systemctl daemon-reload; fi\n" "$T/unit" "$UD/$U" "$T/unit" "$UD/$U" "$UD/$U" "$UD/$U"
    fi
    for c in "$@"; do printf 'systemctl %s\n' "$c"; done
    [ "$w" != remove ] || printf "rm -f -- '%s'; systemctl daemon-reload\n" "$UD/$U"
  } > "$T/sdr"
  sudo -n /bin/sh -s < "$T/sdr" > "$O" 2>&1 || fail "$I" 1
}
sd_was() { if [ -f "$R/system" ]; then SU=1; else SU=; fi; sd_unit; }
sd_moved() {
  n=$SU; sd_was
  if [ "$SU" != "$n" ] && [ -f "$UD/$U" ]; then sd_do remove "disable --now $U"; fi
  SU=$n; sd_unit
  if [ -n "$SU" ]; then : > "$R/system"; else rm -f -- "$R/system"; fi
}
systemd_start() { sd_moved; sd_do write "enable $U" "start $U"; }
systemd_restart() { sd_moved; sd_do write "enable $U" "restart $U"; }
systemd_stop() { sd_was; [ ! -f "$UD/$U" ] || sd_do none "stop $U"; }
systemd_signal() { sd_was; sd_do write "reload $U"; }
systemd_why() { sd_was; if [ -n "$SU" ]; then set --; else set -- --user; fi; systemctl "$@" status "$U" --no-pager -n 10 2>&1 | tail -n 15; }
systemd_remove() { sd_was; [ -f "$UD/$U" ] || return 0; sd_do remove "disable --now $U"; rm -f -- "$R/system"; }"#
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `systemd_why` (what a failed start shows when the program's log is empty)
    /// asks the manager of the unit's kind: the user manager for a user unit, the
    /// system manager for a system unit (`$R/system`), each about its own unit name.
    #[test]
    fn why_asks_the_manager_of_the_units_kind() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("systemctl"), "#!/bin/sh\necho \"systemctl $*\"\n").unwrap();
        std::process::Command::new("chmod")
            .arg("755")
            .arg(bin.join("systemctl"))
            .status()
            .unwrap();
        let record = dir.path().join(".ordo/s/programs/app");
        std::fs::create_dir_all(&record).unwrap();
        let why = || {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "fail() {{ echo \"fail $*\"; exit 1; }}\n{}\nR=./.ordo/s/programs/app N=app SU=; systemd_why",
                    Systemd.functions()
                ))
                .current_dir(dir.path())
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        assert_eq!(why(), "systemctl --user status ordo-s-app.service --no-pager -n 10");
        std::fs::write(record.join("system"), "").unwrap();
        let user = std::process::Command::new("id").arg("-un").output().unwrap();
        let user = String::from_utf8_lossy(&user.stdout).trim().to_string();
        assert_eq!(
            why(),
            format!("systemctl status ordo-{user}-s-app.service --no-pager -n 10")
        );
    }
}
