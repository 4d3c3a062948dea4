//! How the shell scripts wait for a process to exit, for a launcher to record its
//! process, for a health check to pass and for supervisord to answer: by polling,
//! first after 10 ms, then after twice as long each time, up to a cap (0.1 s for
//! processes, the check's `interval` for a health check). Most of these waits end
//! within a few tens of milliseconds — a program that exits on SIGTERM, a launcher
//! that writes one line, an app that binds its port —, so a fixed 0.1 s step cost a
//! rollback more than the program's own restart; the cap keeps a long wait from
//! costing a process (`sleep`) every 10 ms. The deadlines are the time slept, as
//! they were with the fixed steps.

/// `pgnap MS`: sleeps MS milliseconds (`sleep` takes fractions on every userland
/// of the host contract; the arithmetic is the shell's, so no process but `sleep`).
///
/// `pgstep CAP`: one pause of a wait that set `zw=0 zq=10`: sleeps `zq` ms, adds it
/// to `zw` (the time slept so far) and doubles `zq` up to CAP ms.
pub(crate) const WAIT_SH: &str = r#"pgnap() { zs=$(($1 / 1000)) zf=$(($1 % 1000)); case $zf in ?) zf=00$zf ;; ??) zf=0$zf ;; esac; sleep "$zs.$zf"; }
pgstep() { pgnap "$zq"; zw=$((zw + zq)); zq=$((zq * 2)); [ "$zq" -le "$1" ] || zq=$1; }
"#;

#[cfg(test)]
mod tests {
    use super::WAIT_SH;
    use std::process::Command;
    use std::time::{Duration, Instant};

    fn sh(body: &str) -> (String, Duration) {
        let started = Instant::now();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{WAIT_SH}{body}"))
            .output()
            .expect("sh");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8_lossy(&out.stdout).into_owned(), started.elapsed())
    }

    #[test]
    fn pauses_double_from_10_ms_up_to_the_cap_and_add_up() {
        let (out, _) = sh("zw=0 zq=10; for x in 1 2 3 4 5 6; do pgstep 100; echo \"$zw $zq\"; done");
        assert_eq!(out, "10 20\n30 40\n70 80\n150 100\n250 100\n350 100\n");
    }

    #[test]
    fn a_nap_sleeps_its_milliseconds_as_a_fraction() {
        let (_, t) = sh("pgnap 5; pgnap 1020");
        assert!(t >= Duration::from_millis(1025), "{t:?}");
        // `sleep 1.02`, not `sleep 1.20` or `sleep 1.2`: the fraction keeps its zeros.
        assert!(t < Duration::from_millis(1190), "{t:?}");
    }
}
