//! `systemd --user` units, where the user has a running user manager: one unit
//! `ordo-<service>-<name>.service` per program in `~/.config/systemd/user/`,
//! enabled so the manager starts it at boot — which only happens while the user
//! is logged in unless lingering is on (`loginctl enable-linger`), so the probe
//! reports a missing linger. Not tested end to end here (the test machine has
//! no user manager); see docs/services.md.

use super::Backend;

pub(super) struct Systemd;

impl Backend for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn available(&self) -> Option<&'static str> {
        Some("systemctl --user show-environment >/dev/null 2>&1")
    }

    fn functions(&self) -> &'static str {
        r#"sd_unit() { s=${R#./.ordo/}; s=${s%%/*}; U=ordo-$s-$N.service; UD=./.config/systemd/user; }
sd() { systemctl --user "$@" > "$O" 2>&1 || fail "$I" 1; }
sd_write() {
  sd_unit
  mkdir -p -- "$UD" > "$O" 2>&1 || fail "$I" 1
  x=$(printf '%s' "$PWD/${R#./}/run" | sed -e 's/\\/\\\\/g' -e 's/%/%%/g' -e 's/"/\\"/g')
  printf '%s\n' '[Unit]' "Description=ordo program $N" '' '[Service]' "ExecStart=\"$x\"" "KillSignal=SIG$SIG" \
    "TimeoutStopSec=$STOP" 'KillMode=control-group' 'Restart=on-failure' '' '[Install]' 'WantedBy=default.target' > "$UD/$U.new"
  mv -f -- "$UD/$U.new" "$UD/$U"
  sd daemon-reload
}
systemd_start() { sd_write; sd enable "$U"; sd start "$U"; }
systemd_restart() { sd_write; sd enable "$U"; sd restart "$U"; }
systemd_stop() { sd_unit; [ ! -f "$UD/$U" ] || sd stop "$U"; }
systemd_signal() { sd_unit; sd kill --kill-who=main -s "$1" "$U"; }
systemd_why() { sd_unit; systemctl --user status "$U" --no-pager -n 10 2>&1 | tail -n 15; }
systemd_remove() { sd_unit; [ -f "$UD/$U" ] || return 0; sd disable --now "$U"; rm -f -- "$UD/$U"; sd daemon-reload; }"#
    }
}
