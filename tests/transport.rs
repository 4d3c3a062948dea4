//! The transport's bounds over real ssh (`support::sshd`): a timeout, a cancel or
//! a dropped future stops the remote script and everything it started; output is
//! limited; a script dies with its connection; privileged scripts go through
//! `sudo -n` and fail clearly without a sudoers rule. Remote processes are checked
//! as root, by pid and with `pgrep -u <user>`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ordo::model::{Host, TransportSpec};
use ordo::transport::{
    self, CancelToken, Connection, ExecError, ExecOptions, OutputPolicy, SshOptions, Stopped, Stream,
};

use crate::support::sshd::TestHosts;
use crate::support::sudo::SudoRule;

/// One test host, connected.
struct Remote {
    hosts: TestHosts,
    _dir: tempfile::TempDir,
    connection: Arc<Connection>,
    runtime: tokio::runtime::Runtime,
}

impl Remote {
    fn start() -> Remote {
        let hosts = TestHosts::start(&["t1"]);
        let dir = tempfile::Builder::new().prefix("ordo-transport").tempdir().unwrap();
        std::fs::write(dir.path().join("ssh_config"), hosts.ssh_config()).unwrap();
        let options = SshOptions::default_for(dir.path());
        let host = Host {
            name: "t1".into(),
            transport: TransportSpec::Ssh {
                address: "t1".into(),
                port: None,
                user: None,
            },
            address: "t1".into(),
            user: String::new(),
            roles: Vec::new(),
            data: serde_json::Value::Null,
            span: None,
            root: ordo::model::HostPath::new("~/deployment/s").unwrap(),
            retired: false,
            retire_span: None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let connection = ordo::exec::transport_for(&host, &options);
        runtime
            .block_on(connection.connect())
            .unwrap_or_else(|p| panic!("{}: {:?}\n{}", p.message, p.help, hosts.sshd_log("t1")));
        Remote {
            hosts,
            _dir: dir,
            connection,
            runtime,
        }
    }

    fn exec(&self, script: &str, options: &ExecOptions) -> Result<transport::RunOutput, ExecError> {
        self.runtime
            .block_on(self.connection.exec_with(script.to_string(), options))
    }

    fn user(&self) -> &str {
        self.hosts.user("t1")
    }

    fn home(&self, file: &str) -> PathBuf {
        self.hosts.home("t1").join(file)
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.runtime.block_on(self.connection.close());
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// The pids a script wrote into `file`, once there are `n`.
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

/// The user's processes other than sshd's own (the session processes of the
/// master connection), as "pid name" lines. Zombies do not count: they wait for
/// init, which may be slow to reap them in a container.
fn user_processes(user: &str) -> Vec<String> {
    let out = Command::new("ps")
        .args(["-o", "pid=,stat=,comm=", "-u", user])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [pid, stat, name] if !stat.starts_with('Z') && !name.starts_with("sshd") => Some(format!("{pid} {name}")),
            _ => None,
        })
        .collect()
}

/// Waits until none of `pids` runs, nor anything of `user` (but sshd).
#[track_caller]
fn assert_gone_within(pids: &[u32], user: Option<&str>, within: Duration) {
    let deadline = Instant::now() + within;
    let left = || user.map(user_processes).unwrap_or_default();
    while pids.iter().any(|&p| alive(p)) || !left().is_empty() {
        assert!(
            Instant::now() < deadline,
            "still running after {within:?}: {:?}; the user runs {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>(),
            left()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes the shell's pid, two sleeping children and a grandchild that ignores
/// SIGTERM (only SIGKILL ends it) into `pids`, then waits.
const FAMILY: &str = "cd; trap 'exit 143' TERM; trap 'echo trapped > exit-trap' EXIT\n\
    echo $$ > pids\n\
    sleep 300 & echo $! >> pids\n\
    sleep 300 & echo $! >> pids\n\
    sh -c \"trap '' TERM; echo \\$\\$ >> pids; sleep 300\" &\n\
    sleep 300\n";

/// The shell is sshd's child and leads its own session and group; sshd's
/// session process runs as the user. The prelude and the watchdog rely on both.
#[test]
fn remote_scripts_lead_their_own_process_group_under_sshd() {
    let r = Remote::start();
    let out = r
        .exec(
            "ps -o pgid=,sid= -p $$; ps -o user=,comm= -p $PPID",
            &ExecOptions::default(),
        )
        .unwrap();
    let lines: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[0][0], lines[0][1], "group is not the session: {}", out.stdout);
    assert!(
        r.user().starts_with(lines[1][0].trim_end_matches('+')) && lines[1][1] == "sshd",
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.is_empty(),
        "the prelude's line was left in stderr: {:?}",
        out.stderr
    );
}

#[test]
fn a_timeout_stops_the_remote_script_and_everything_it_started() {
    let r = Remote::start();
    let started = Instant::now();
    let err = r
        .exec(FAMILY, &ExecOptions::default().timeout(Duration::from_secs(1)))
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            ExecError::TimedOut {
                stopped: Stopped::All,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(
            "host `t1`: the script did not finish within 1 s; ordo stopped it and every process it started"
        ),
        "{err}"
    );
    let pids = pids(&r.home("pids"), 4);
    assert_gone_within(&pids, Some(r.user()), Duration::from_millis(500));
    // SIGTERM first (the EXIT trap ran), SIGKILL for the one that ignores it.
    assert_eq!(std::fs::read_to_string(r.home("exit-trap")).unwrap(), "trapped\n");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
    // The connection is still good.
    assert_eq!(r.exec("echo ok", &ExecOptions::default()).unwrap().stdout, "ok\n");
}

#[test]
fn cancelling_stops_the_remote_script() {
    let r = Remote::start();
    let token = CancelToken::new();
    let canceller = {
        let (token, file) = (token.clone(), r.home("pids"));
        std::thread::spawn(move || {
            pids(&file, 4);
            token.cancel();
        })
    };
    let err = r.exec(FAMILY, &ExecOptions::default().cancel(&token)).unwrap_err();
    canceller.join().unwrap();
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
    assert_gone_within(&pids(&r.home("pids"), 4), Some(r.user()), Duration::from_millis(500));
}

#[test]
fn dropping_the_future_stops_the_remote_script() {
    let r = Remote::start();
    let gave_up = r.runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(800),
            r.connection.exec_with(FAMILY.into(), &ExecOptions::default()),
        )
        .await
    });
    assert!(gave_up.is_err(), "the script ended by itself");
    assert_gone_within(&pids(&r.home("pids"), 4), Some(r.user()), Duration::from_secs(6));
}

#[test]
fn output_is_limited_over_ssh() {
    let r = Remote::start();
    let tail = ExecOptions::default().output(OutputPolicy::Tail { keep_bytes: 13 });
    let out = r.exec("seq 1 100000", &tail).unwrap();
    let total: usize = (1..=100_000).map(|n: u32| n.to_string().len() + 1).sum();
    assert_eq!(
        (out.stdout.as_str(), out.stdout_dropped),
        ("\u{e002}99999\n100000\n", (total - 13) as u64),
        "the kept tail, marked where it was cut"
    );
    // That script's watchdog leaves within a second after it: before the next
    // one, so that what is left after the stop below is the stopped script's.
    assert_gone_within(&[], Some(r.user()), Duration::from_secs(3));
    let whole = ExecOptions::default().output(OutputPolicy::Whole { max_bytes: 1024 * 1024 });
    let err = r
        .exec(
            "cd; echo $$ > pids; sleep 300 & echo $! >> pids; head -c 3000000 /dev/zero >&2; sleep 300",
            &whole,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            ExecError::TooMuchOutput {
                stream: Stream::Stderr,
                limit: 1_048_576,
                stopped: Stopped::All,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("host `t1` sent more than 1 MiB of output on stderr"),
        "{err}"
    );
    assert_gone_within(&pids(&r.home("pids"), 2), Some(r.user()), Duration::from_millis(500));
    // Lines stream in, bounded per line; the prelude's line is not one of them.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let streaming =
        ExecOptions::default().on_line(move |stream, line| s.lock().unwrap().push((stream, line.to_string())));
    r.exec("echo one; echo two >&2", &streaming).unwrap();
    // The two streams travel apart: no order between them.
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by_key(|(stream, _)| *stream == Stream::Stderr);
    assert_eq!(
        seen,
        [(Stream::Stdout, "one".to_string()), (Stream::Stderr, "two".to_string())]
    );
}

/// The sshd serving the connection dies (what a dropped network or a killed
/// ordo's master looks like from the host): the watchdog stops the script.
#[test]
fn a_remote_script_dies_with_its_connection() {
    let r = Remote::start();
    let running = {
        let connection = Arc::clone(&r.connection);
        r.runtime.spawn(async move {
            connection
                .exec_with(
                    "cd; echo $$ > pids; echo $PPID > sshd; sleep 300 & echo $! >> pids; sleep 300".into(),
                    &ExecOptions::default(),
                )
                .await
        })
    };
    let pids = pids(&r.home("pids"), 2);
    let sshd = self::pids(&r.home("sshd"), 1)[0];
    // Alive with a live connection, watchdog or not.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(pids.iter().all(|&p| alive(p)), "stopped while its connection lives");
    let killed = Command::new("kill")
        .arg("-KILL")
        .arg(sshd.to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    // A second to notice, the sleeps end on SIGTERM; the watchdog itself
    // leaves after its grace.
    assert_gone_within(&pids, None, Duration::from_secs(3));
    assert_gone_within(&[], Some(r.user()), Duration::from_secs(3));
    let err = r.runtime.block_on(running).unwrap().unwrap_err();
    assert!(err.to_string().contains("lost the connection to host `t1`"), "{err}");
}

#[test]
fn privileged_without_a_sudo_rule_fails_naming_the_sudoers_line() {
    let r = Remote::start();
    let err = r
        .exec("cd; touch ran", &ExecOptions::default().privileged(true))
        .unwrap_err();
    let ExecError::SudoRefused { host, user, said } = &err else {
        panic!("{err:?}");
    };
    assert_eq!((host.as_str(), user.as_str()), ("t1", r.user()));
    assert_eq!(said, "sudo: a password is required");
    let problem = ordo::problem::Problem::from(err.clone());
    assert!(
        problem
            .message
            .starts_with("host `t1`: cannot run a privileged script: `sudo -n` refused"),
        "{}",
        problem.message
    );
    let rule = format!("{} ALL=(root) NOPASSWD: /bin/sh -s", r.user());
    assert!(
        problem.help.as_deref().unwrap_or("").contains(&rule),
        "{:?}",
        problem.help
    );
    assert!(!r.home("ran").exists());
}

#[test]
fn privileged_scripts_run_as_root_and_are_stopped_as_root() {
    let r = Remote::start();
    let _rule = SudoRule::allow(r.user());
    let privileged = ExecOptions::default().privileged(true);
    let out = r.exec("id -u; echo err >&2; exit 3", &privileged).unwrap();
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (3, "0\n", "err\n")
    );
    let dir = r.home("");
    let family = FAMILY.replace("cd;", &format!("cd {};", dir.display()));
    let err = r
        .exec(&family, &privileged.clone().timeout(Duration::from_secs(1)))
        .unwrap_err();
    assert!(
        matches!(
            err,
            ExecError::TimedOut {
                stopped: Stopped::All,
                ..
            }
        ),
        "{err:?}"
    );
    let pids = pids(&r.home("pids"), 4);
    assert_gone_within(&pids, None, Duration::from_millis(500));
    // Root's script dies with the connection too (the watchdog looks past sudo).
    let running = {
        let connection = Arc::clone(&r.connection);
        let script = format!(
            "cd {}; echo $$ > rpids; sleep 300 & echo $! >> rpids; sleep 300",
            dir.display()
        );
        let privileged = privileged.clone();
        r.runtime
            .spawn(async move { connection.exec_with(script, &privileged).await })
    };
    let pids = self::pids(&r.home("rpids"), 2);
    r.hosts.kill("t1");
    assert_gone_within(&pids, None, Duration::from_secs(5));
    assert!(r.runtime.block_on(running).unwrap().is_err());
}

/// The watchdog is gone a second after the script, and the prelude costs little.
#[test]
fn nothing_stays_behind_and_the_prelude_is_cheap() {
    let r = Remote::start();
    let clock = Instant::now();
    for _ in 0..20 {
        assert_eq!(r.exec("true", &ExecOptions::default()).unwrap().code, 0);
    }
    let with = clock.elapsed() / 20;
    eprintln!("ssh round trip with the prelude: {with:?}");

    assert_gone_within(&[], Some(r.user()), Duration::from_millis(1500));
}
