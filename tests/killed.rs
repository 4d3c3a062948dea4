//! A killed ordo (SIGKILL: no signal handler and no destructor runs) leaves
//! nothing running for long and nothing behind for good: its ssh master ends
//! with it, the remote command stops (and its script's private directory goes),
//! and the next run removes what it left on the controller.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::sshd::TestHosts;
use crate::support::{Project, Test};

/// A deploy whose command writes a marker and then runs for five minutes.
const HOLD: &str = "let s = service(\"s\");\ns.component(\"x\", |c| { c.add(command(\"hold\", #{ run: \"echo $$ > ~/held; sleep 300\", always: true })); });\n";

/// ordo in `p` with the environment every test uses, not waited for.
fn spawn(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(args)
        .current_dir(p.root())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("ORDO_ACCEPT_NEW_HOST_KEYS")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ordo")
}

/// Pids of the ssh masters of this project (each started with `-F <project>/ssh_config`).
fn masters(p: &Project) -> Vec<u32> {
    let out = Command::new("pgrep")
        .arg("-f")
        .arg(p.path("ssh_config"))
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The user's processes but sshd's own and zombies, as "pid name".
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

fn uid(user: &str) -> u32 {
    let out = Command::new("id").args(["-u", user]).output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a uid")
}

/// Entries of `dir` whose name starts with `prefix`, owned by `uid` when given.
fn entries(dir: &Path, prefix: &str, uid: Option<u32>) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter(|e| uid.is_none_or(|u| e.metadata().is_ok_and(|m| m.uid() == u)))
        .map(|e| e.path())
        .collect()
}

/// Waits until `done` holds, failing with `what` after `within`.
#[track_caller]
fn wait_until(within: Duration, what: &dyn Fn() -> String, done: &dyn Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "after {within:?}: {}", what());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Issue "Trustworthy unattended", item 15: SIGKILL of ordo left the ssh master
/// (kept for up to an hour) with its `/tmp/ordo-<pid>-*` directory, the remote
/// command running to its end, and its script's `/tmp/tmp.*` directory.
#[test]
fn a_killed_ordo_leaves_no_master_no_remote_command_and_no_directory() {
    let hosts = TestHosts::start(&["t1"]);
    let p: Arc<Project> = Test::new()
        .service(HOLD)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    let user = hosts.user("t1").to_string();
    // Uids of deleted test users come back: what an earlier test left is not ours.
    let before = entries(Path::new("/tmp"), "tmp.", Some(uid(&user)));
    let remote_tmp = || {
        let mut now = entries(Path::new("/tmp"), "tmp.", Some(uid(&user)));
        now.retain(|d| !before.contains(d));
        now
    };
    let mut ordo = spawn(
        &p,
        &["deploy", "prod", "--yes"],
        &[("ORDO_AGE_KEY", "AGE-SECRET-KEY-1NOTAREALKEY")],
    );
    let pid = ordo.id();
    let held = hosts.home("t1").join("held");
    wait_until(Duration::from_secs(30), &|| "the command did not start".into(), &|| {
        std::fs::read_to_string(&held).is_ok_and(|t| t.ends_with('\n'))
    });
    let control = entries(Path::new("/tmp"), &format!("ordo-{pid}-"), None);
    let running = masters(&p);
    assert_eq!(control.len(), 1, "ordo's control directory: {control:?}");
    assert_eq!(running.len(), 1, "one master: {running:?}");
    assert!(!user_processes(&user).is_empty());
    assert!(!remote_tmp().is_empty(), "the apply script's private directory");
    // The master (started by ordo) does not inherit the key either (item 11).
    let environ = std::fs::read(format!("/proc/{}/environ", running[0])).unwrap();
    assert!(
        !String::from_utf8_lossy(&environ).contains("ORDO_AGE"),
        "the master's environment"
    );

    ordo.kill().unwrap();
    ordo.wait().unwrap();
    let killed = Instant::now();

    wait_until(
        Duration::from_secs(15),
        &|| {
            let ps = Command::new("ps")
                .args(["-eo", "pid,ppid,pgid,stat,etime,args"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let related: Vec<&str> = ps
                .lines()
                .filter(|l| l.contains("ssh") || l.contains("read -r _") || l.contains(&format!("ordo-{pid}-")))
                .collect();
            format!(
                "masters still running: {:?}; control directory {:?} exists: {}; related processes:\n{}",
                masters(&p),
                control,
                control[0].exists(),
                related.join("\n")
            )
        },
        &|| masters(&p).is_empty(),
    );
    wait_until(
        Duration::from_secs(10),
        &|| format!("the remote user still runs {:?}", user_processes(&user)),
        &|| user_processes(&user).is_empty(),
    );
    wait_until(
        Duration::from_secs(5),
        &|| {
            let listing: Vec<String> = remote_tmp()
                .iter()
                .map(|d| format!("{}: {:?}", d.display(), entries(d, "", None)))
                .collect();
            format!("the remote script's directories are left: {listing:?}")
        },
        &|| remote_tmp().is_empty(),
    );
    // The watchdog removed the killed run's control directory.
    wait_until(
        Duration::from_secs(5),
        &|| format!("left on the controller: {control:?}"),
        &|| !control[0].exists(),
    );
    eprintln!("everything stopped and removed {:?} after the kill", killed.elapsed());
}

/// The children of `pid`, as (pid, command line).
fn children(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            out.push((child, String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    out
}

/// Even with its watchdog killed too, a killed ordo's idle master ends by itself
/// seconds later (it only lives while ordo holds a connection to it), and the
/// next run removes the control directory it left.
#[test]
fn a_killed_ordos_idle_master_ends_by_itself_and_the_next_run_removes_its_directory() {
    use std::io::Write;
    let hosts = TestHosts::start(&["t1"]);
    let p: Arc<Project> = Test::new()
        .service(HOLD)
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("x")
        .build();
    // A temporary directory of its own for this run: every ordo started on this
    // machine meanwhile (the other tests', other users') looks for dead runs'
    // control directories in /tmp, and removes one as soon as its master has
    // ended — before this test could see it left behind.
    let tmp = tempfile::Builder::new().prefix("ordo-kt").tempdir_in("/tmp").unwrap();
    // The REPL keeps its connection between lines: after this one, the master
    // is idle while ordo waits for the next.
    let mut ordo = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["repl", "prod"])
        .current_dir(p.root())
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ordo");
    let mut input = ordo.stdin.take().unwrap();
    input.write_all(b"host(\"t1\").run(\"touch ran\")\n").unwrap();
    let ran = hosts.home("t1").join("ran");
    wait_until(Duration::from_secs(30), &|| "the command did not run".into(), &|| {
        ran.exists()
    });
    let pid = ordo.id();
    let control = entries(tmp.path(), &format!("ordo-{pid}-"), None);
    assert_eq!(control.len(), 1, "ordo's control directory: {control:?}");
    assert_eq!(masters(&p).len(), 1);
    let watchdogs: Vec<u32> = children(pid)
        .into_iter()
        .filter(|(_, cmd)| cmd.starts_with("sh -c read"))
        .map(|(child, _)| child)
        .collect();
    assert_eq!(watchdogs.len(), 1, "one watchdog: {:?}", children(pid));
    let killed = Command::new("kill")
        .arg("-KILL")
        .arg(watchdogs[0].to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    ordo.kill().unwrap();
    ordo.wait().unwrap();
    let killed = Instant::now();
    drop(input);
    // A run while the killed run's master still waits out its 5 s keeps its
    // directory: the master listens there (bound as `master.<random>`, which is
    // the name the kernel's table shows). It was removed, and a master busy with
    // a command could then not be told to exit by its watchdog.
    p.test()
        .env("TMPDIR", &tmp.path().display().to_string())
        .args(&["run", "prod", "--", "true"])
        .run();
    let listening = !masters(&p).is_empty();
    if killed.elapsed() < Duration::from_secs(4) {
        assert!(listening, "the killed run's master ended within {:?}", killed.elapsed());
    }
    if listening {
        assert!(
            control[0].exists(),
            "removed while its master still ran: {}",
            control[0].display()
        );
    }
    wait_until(
        Duration::from_secs(15),
        &|| format!("masters still running: {:?}", masters(&p)),
        &|| masters(&p).is_empty(),
    );
    assert!(control[0].exists(), "left by the killed run: {}", control[0].display());
    p.test()
        .env("TMPDIR", &tmp.path().display().to_string())
        .args(&["run", "prod", "--", "true"])
        .run();
    assert!(
        !control[0].exists(),
        "not removed by the next run: {}",
        control[0].display()
    );
}

/// On a `local` host the scripts stop when ordo is killed (their watchdog sees
/// their parent gone) and their exit traps remove their private directories; the
/// working directory of a host that has no home yet is left, and the next run
/// removes it.
#[test]
fn a_killed_ordos_local_scripts_stop_and_the_next_run_removes_their_working_directory() {
    let tmp = tempfile::Builder::new()
        .prefix("ordo-killed")
        .tempdir_in("/tmp")
        .unwrap();
    let flag = tmp.path().join("hold");
    let marker = tmp.path().join("guard-pid");
    let scratch = tmp.path().join("t");
    std::fs::create_dir(&scratch).unwrap();
    // The guard holds the probe (run before the host's home exists) while `hold` exists.
    let service = format!(
        "let s = service(\"s\");\ns.component(\"x\", |c| {{ c.add(command(\"hold\", #{{ run: \"true\", unless: \"if [ -e {flag} ]; then echo $$ > {marker}; sleep 300; fi; false\" }})); }});\n",
        flag = flag.display(),
        marker = marker.display()
    );
    let p = crate::support::single_host(&service).build();
    std::fs::write(&flag, "").unwrap();
    let tmpdir = scratch.to_str().unwrap();
    let mut ordo = spawn(&p, &["plan", "test"], &[("TMPDIR", tmpdir)]);
    let pid = ordo.id();
    wait_until(Duration::from_secs(30), &|| "the guard did not start".into(), &|| {
        std::fs::read_to_string(&marker).is_ok_and(|t| t.ends_with('\n'))
    });
    let guard: u32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    let private = || entries(&scratch, "tmp.", None);
    assert!(!private().is_empty(), "the probe's private directory");
    ordo.kill().unwrap();
    ordo.wait().unwrap();
    wait_until(
        Duration::from_secs(5),
        &|| format!("the guard {guard} still runs"),
        &|| !Path::new(&format!("/proc/{guard}")).exists(),
    );
    wait_until(
        Duration::from_secs(5),
        &|| format!("the scripts' directories are left: {:?}", private()),
        &|| private().is_empty(),
    );
    let left = entries(&scratch, &format!("ordo-cwd-{pid}-"), None);
    assert_eq!(
        left.len(),
        1,
        "the killed run's working directory: {:?}",
        entries(&scratch, "", None)
    );
    std::fs::remove_file(&flag).unwrap();
    let out = spawn(&p, &["plan", "test"], &[("TMPDIR", tmpdir)])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    assert!(!left[0].exists(), "not removed by the next run: {}", left[0].display());
}
