//! The local transport with real shells: output that outgrows the pipes, output
//! limits, and scripts stopped (with everything they started) by a timeout, a
//! cancel, a dropped future or the death of their parent.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::transport::{CancelToken, OutputPolicy, Stream};

fn host() -> (tempfile::TempDir, Local) {
    let dir = tempfile::Builder::new().prefix("ordo-local").tempdir().unwrap();
    let local = Local::new("local1", dir.path().to_path_buf());
    (dir, local)
}

/// Whether `pid` runs (a zombie does not: it only waits for its parent).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Processes of group `pgid`, zombies left out.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields[0] != "Z" && fields[2].parse() == Ok(pgid) {
            members.push(pid);
        }
    }
    members
}

#[track_caller]
fn assert_gone_within(pids: &[u32], within: Duration) {
    let deadline = Instant::now() + within;
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "still running after {within:?}: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids a script wrote into `file` (one per line), once it has written all `n`.
fn pids(file: &Path, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let pids: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.len() >= n {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "the script wrote {pids:?} into {}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the shell's own pid, two sleeping children, and a grandchild that
/// ignores SIGTERM (only SIGKILL ends it), all listed in `pids`; then waits.
const FAMILY: &str = "trap 'exit 143' TERM; trap 'echo trapped > exit-trap' EXIT\n\
    echo $$ > pids\n\
    sleep 300 & echo $! >> pids\n\
    sleep 300 & echo $! >> pids\n\
    sh -c \"trap '' TERM; echo \\$\\$ >> pids; sleep 300\" &\n\
    sleep 300\n";

#[tokio::test]
async fn ten_megabytes_out_while_a_megabyte_goes_in_do_not_deadlock() {
    let (_dir, local) = host();
    // Each line prints 100 bytes before the shell has read the next one: the
    // output fills the pipe long before the script is sent.
    let script = "printf '%099d\\n' 0\n".repeat(100_000);
    assert!(script.len() > 1_800_000);
    let out = tokio::time::timeout(Duration::from_secs(60), local.exec(script, &ExecOptions::default()))
        .await
        .expect("deadlocked")
        .unwrap();
    assert_eq!((out.code, out.stdout.len(), out.stdout_dropped), (0, 10_000_000, 0));
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[tokio::test]
async fn tail_keeps_the_last_bytes_and_counts_the_dropped_ones() {
    let (_dir, local) = host();
    let options = ExecOptions::default().output(OutputPolicy::Tail { keep_bytes: 20 });
    let out = local.exec("seq 1 100000; seq 1 10 >&2".into(), &options).await.unwrap();
    let total: usize = (1..=100_000).map(|n: u32| n.to_string().len() + 1).sum();
    // Marked where it was cut (`text::CUT`), for the redactor.
    assert_eq!(out.stdout, "\u{e002}\n99998\n99999\n100000\n");
    assert_eq!(out.stdout_dropped, (total - 20) as u64);
    // "1\n" … "10\n" is 21 bytes.
    assert_eq!(
        (out.stderr.as_str(), out.stderr_dropped),
        ("\u{e002}\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", 1)
    );
}

#[tokio::test]
async fn lines_arrive_as_they_are_printed() {
    let (_dir, local) = host();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let started = Instant::now();
    let options = ExecOptions::default().on_line(move |stream, line| {
        s.lock().unwrap().push((stream, line.to_string(), started.elapsed()));
    });
    let out = local
        .exec("echo one; echo warn >&2; sleep 1; printf 'two\\nlast'".into(), &options)
        .await
        .unwrap();
    assert_eq!(out.stdout, "one\ntwo\nlast");
    let seen = seen.lock().unwrap();
    // In order within a stream; the two streams are read apart.
    let lines = |wanted: Stream| -> Vec<&str> {
        seen.iter()
            .filter(|(s, _, _)| *s == wanted)
            .map(|(_, l, _)| l.as_str())
            .collect()
    };
    assert_eq!(lines(Stream::Stdout), ["one", "two", "last"]);
    assert_eq!(lines(Stream::Stderr), ["warn"]);
    // "one" came before the script slept, not with the rest at the end.
    let one = seen.iter().find(|(_, l, _)| l == "one").unwrap().2;
    assert!(one < Duration::from_millis(900), "{one:?}");
}

#[tokio::test]
async fn whole_output_over_its_limit_fails_and_stops_the_script() {
    let (dir, local) = host();
    let options = ExecOptions::default().output(OutputPolicy::Whole { max_bytes: 1024 * 1024 });
    let script = "echo $$ > pids; sleep 300 & echo $! >> pids\nhead -c 2000000 /dev/zero\nsleep 300\n";
    let err = local.exec(script.into(), &options).await.unwrap_err();
    assert!(
        matches!(
            err,
            ExecError::TooMuchOutput {
                stream: Stream::Stdout,
                limit: 1_048_576,
                stopped: Stopped::All,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("host `local1` sent more than 1 MiB of output on stdout for one script; ordo stopped it"),
        "{err}"
    );
    assert_gone_within(&pids(&dir.path().join("pids"), 2), Duration::from_secs(1));
}

#[tokio::test]
async fn a_timeout_stops_the_whole_group_term_first() {
    let (dir, local) = host();
    let options = ExecOptions::default().timeout(Duration::from_secs(1));
    let started = Instant::now();
    let err = local.exec(FAMILY.into(), &options).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, ExecError::TimedOut { after, stopped: Stopped::All, .. } if after == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(err.to_string().contains("did not finish within 1 s"), "{err}");
    let pids = pids(&dir.path().join("pids"), 4);
    // Stopping waited for the grandchild that ignores SIGTERM, then killed it.
    assert_gone_within(&pids, Duration::ZERO);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    // SIGTERM came first: the script's EXIT trap ran.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("exit-trap")).unwrap(),
        "trapped\n"
    );
}

#[tokio::test]
async fn cancelling_stops_the_whole_group() {
    let (dir, local) = host();
    let token = CancelToken::new();
    let options = ExecOptions::default().cancel(&token);
    let canceller = {
        let token = token.clone();
        let file = dir.path().join("pids");
        tokio::task::spawn_blocking(move || {
            pids(&file, 4);
            token.cancel();
        })
    };
    let err = local.exec(FAMILY.into(), &options).await.unwrap_err();
    canceller.await.unwrap();
    assert!(
        matches!(
            err,
            ExecError::Cancelled {
                stopped: Stopped::All,
                ..
            }
        ),
        "{err:?}"
    );
    assert_gone_within(&pids(&dir.path().join("pids"), 4), Duration::ZERO);
    // Already cancelled: nothing starts.
    let err = local.exec("echo $$ > late".into(), &options).await.unwrap_err();
    assert!(matches!(err, ExecError::Cancelled { .. }), "{err:?}");
}

#[tokio::test]
async fn dropping_the_future_stops_the_whole_group() {
    let (dir, local) = host();
    let options = ExecOptions::default();
    let gave_up = tokio::time::timeout(Duration::from_millis(500), local.exec(FAMILY.into(), &options)).await;
    assert!(gave_up.is_err(), "the script ended by itself");
    let pids = pids(&dir.path().join("pids"), 4);
    assert_gone_within(&pids, Duration::from_secs(5));
}

#[tokio::test]
async fn the_prelude_leaves_the_script_as_it_would_be_without_it() {
    let (dir, local) = host();
    // Status, last background pid, options, traps, arguments, directory, line
    // numbers in messages; and `wait` does not wait for the watchdog.
    let script = "echo \"[$?] [$!] [$-] [$#] $(pwd)\"; trap; set -o | grep -c on\n\
                  no-such-command-here\n\
                  started=$(date +%s%N); sleep 0.1 & wait; echo waited $(( ($(date +%s%N) - started) / 100000000 ))\n";
    let out = local.exec(script.into(), &ExecOptions::default()).await.unwrap();
    let plain = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("sh -s <<'EOF'\n{script}EOF\n"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.stdout, String::from_utf8_lossy(&plain.stdout));
    assert!(out.stdout.ends_with("waited 1\n"), "{}", out.stdout);
    assert_eq!(out.stderr, "sh: 2: no-such-command-here: not found\n");
    assert_eq!(out.stderr, String::from_utf8_lossy(&plain.stderr));
}

#[tokio::test]
async fn the_watchdog_leaves_within_a_second_after_the_script() {
    let (_dir, local) = host();
    let out = local.exec("echo $$".into(), &ExecOptions::default()).await.unwrap();
    let pgid: u32 = out.stdout.trim().parse().unwrap();
    let deadline = Instant::now() + Duration::from_millis(1500);
    loop {
        let members = group_members(pgid);
        if members.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left in the script's group: {members:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The parent of a script is killed (what happens to ordo on SIGKILL, or to sshd
/// when the connection drops): its watchdog stops the script and its children.
#[test]
fn the_watchdog_stops_a_script_whose_parent_died() {
    let (dir, _local) = host();
    let script = format!(
        "{}echo $$ > pids; sleep 300 & echo $! >> pids; sleep 300\n",
        prelude::prelude(false)
    );
    std::fs::write(dir.path().join("script"), script).unwrap();
    // The parent: a shell of its own group that runs the script in a child shell
    // and waits (`; :` keeps it from exec'ing into that child).
    let mut parent = std::process::Command::new("sh")
        .arg("-c")
        .arg("sh -s <script 2>/dev/null; :")
        .current_dir(dir.path())
        .process_group(0)
        .spawn()
        .unwrap();
    let pids = pids(&dir.path().join("pids"), 2);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        pids.iter().all(|&p| alive(p)),
        "the watchdog stopped a script whose parent lives"
    );
    parent.kill().unwrap();
    parent.wait().unwrap();
    // A second to notice, and the sleeps end on SIGTERM.
    assert_gone_within(&pids, Duration::from_secs(3));
}

#[tokio::test]
async fn privileged_scripts_run_as_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the transport tests run as root (./test.sh)"
    );
    let (_dir, local) = host();
    let out = local
        .exec("id -u".into(), &ExecOptions::default().privileged(true))
        .await
        .unwrap();
    assert_eq!((out.code, out.stdout.as_str()), (0, "0\n"));
}

/// A group whose only process is a zombie (ended, not yet reaped by its parent)
/// has no live member; a running one has; a group that is gone has none.
#[test]
fn zombies_are_no_live_members_of_a_group() {
    let mut zombie = std::process::Command::new("sh")
        .args(["-c", "exit 0"])
        .process_group(0)
        .spawn()
        .unwrap();
    let mut running = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    let group = |c: &std::process::Child| Pid::from_raw(i32::try_from(c.id()).unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(zombie.id()) {
        assert!(Instant::now() < deadline, "sh -c 'exit 0' did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        test_kill_process_group(group(&zombie)).is_ok(),
        "the kernel still answers for it"
    );
    assert!(!has_live_member(group(&zombie)));
    assert!(has_live_member(group(&running)));
    let _ = zombie.wait();
    assert!(!has_live_member(group(&zombie)));
    let _ = running.kill();
    let _ = running.wait();
}
