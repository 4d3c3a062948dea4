//! What "started" means for a program (issue "Trustworthy unattended"), on real
//! processes of real ssh test hosts: the program ordo started is alive and is the
//! one answering its health check; its process is known by pid *and* start time,
//! so a pid that belongs to another process by now is neither trusted nor
//! signalled; a component with nothing but a program starts; and a program that
//! fails says why, even when it wrote nothing.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::sshd::{Setup, TestHosts, closed_port};
use crate::support::{Output, Project, Test};

/// Component `x` of service `s` with one program `app` (plus `extra`, Rhai
/// statements), on test host `t1`.
fn project(hosts: &TestHosts, program: &str, extra: &str) -> Arc<Project> {
    Test::new()
        .service(&format!(
            "let s = service(\"s\");\ns.component(\"x\", |c| {{\n{extra}    c.add(program(\"app\", #{{ {program} }}));\n}});\n"
        ))
        .environment("prod")
        .ssh_hosts(hosts, &["t1"])
        .place("x")
        .build()
}

/// The text with every run of whitespace made one space: messages that miette
/// wrapped compare as written.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[track_caller]
fn says(out: &Output, what: &str) {
    assert!(
        flat(&out.stderr).contains(&flat(what)),
        "stderr lacks {what:?}:\n{}",
        out.stderr
    );
}

/// An HTTP server of another user (the tests run as root, the test host's user is
/// not root) on 127.0.0.1:`port`: it answers every request with 200.
struct ForeignServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ForeignServer {
    fn start(port: u16) -> ForeignServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the foreign server");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\nforeign\n");
            }
        });
        ForeignServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ForeignServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The program cannot bind its port because another user's server holds it, and
/// exits; that server answers the health check. The start fails, with the
/// program's own words from its log.
#[test]
fn a_program_that_cannot_bind_its_port_fails_although_another_server_answers_its_check() {
    a_program_that_cannot_bind_its_port_fails_although_another_server_answers_its_check_on(TestHosts::setup());
}

pub(crate) fn a_program_that_cannot_bind_its_port_fails_although_another_server_answers_its_check_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let port = closed_port();
    let _foreign = ForeignServer::start(port);
    let p = project(
        &hosts,
        &format!(
            "command: \"python3 -m http.server {port} --bind 127.0.0.1\", backend: \"process\",\n        \
             health: http_check(\"http://127.0.0.1:{port}/\", #{{ interval: 0.1, retries: 30 }})"
        ),
        "",
    );
    let out = p.test().args(&["deploy", "prod", "--yes"]).status(1).run();
    says(&out, "Address already in use");
    // Whether the health check's loop or the start's own look sees the exit first
    // depends on how fast python fails: both say the program exited, with its pid.
    assert!(
        out.stderr
            .contains("app exited before its health check passed (it ran as pid")
            || out.stderr.contains("app exited right after it started (it ran as pid"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("✓ t1:x program app"), "{}", out.stdout);
    p.test()
        .args(&["plan", "prod"])
        .stdout_contains("! t1:x program app (start: not running (under process))")
        .run();
}

/// The program runs but does not listen where its check asks; another user's
/// server answers there. The start fails, under either backend: the answer did
/// not come from the program.
#[test]
fn a_health_check_answered_by_a_socket_of_another_user_fails_the_start() {
    a_health_check_answered_by_a_socket_of_another_user_fails_the_start_on(
        TestHosts::setup(),
        &["process", "supervisord"],
    );
}

pub(crate) fn a_health_check_answered_by_a_socket_of_another_user_fails_the_start_on(setup: Setup, backends: &[&str]) {
    let hosts = setup.start(&["t1"]);
    let port = closed_port();
    let _foreign = ForeignServer::start(port);
    let p = project(
        &hosts,
        &format!(
            "command: \"sleep 600\", backend: \"{}\", state: \"running\",\n        \
             health: tcp_check(\"localhost:{port}\", #{{ interval: 0.1, retries: 3 }})",
            backends[0]
        ),
        "",
    );
    for (k, backend) in backends.iter().enumerate() {
        let out = p.test().args(&["deploy", "prod", "--yes"]).status(1).run();
        says(&out, &format!("connected to localhost:{port}"));
        says(
            &out,
            &format!(
                "but app did not answer it: the socket listening at localhost:{port} belongs to another process (of user root, uid 0)"
            ),
        );
        // Stopped, and then started under the next backend.
        let script = p.read("services/s.rhai");
        p.write("services/s.rhai", &script.replace("\"running\"", "\"stopped\""));
        p.test().args(&["deploy", "prod", "--yes"]).run();
        if let Some(next) = backends.get(k + 1) {
            p.write(
                "services/s.rhai",
                &script.replace(&format!("\"{backend}\""), &format!("\"{next}\"")),
            );
        }
    }
}

/// The program's own socket is its: a check of `localhost` passes, and a no-op
/// deploy leaves it (the same process).
#[test]
fn a_program_that_answers_its_own_check_starts() {
    a_program_that_answers_its_own_check_starts_on(TestHosts::setup());
}

pub(crate) fn a_program_that_answers_its_own_check_starts_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let port = closed_port();
    let p = project(
        &hosts,
        &format!(
            "command: \"python3 -m http.server {port} --bind 127.0.0.1\", backend: \"process\",\n        \
             health: http_check(\"http://localhost:{port}/\", #{{ interval: 0.1, retries: 50 }})"
        ),
        "",
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("✓ t1:x program app")
        .run();
    let record = hosts.home("t1").join(".ordo/s/programs/app/pid");
    let first = std::fs::read_to_string(&record).expect("the launcher's record");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    assert_eq!(std::fs::read_to_string(&record).unwrap(), first);
}

/// `sleep 600` as the test host's user in a process group of its own: what a pid
/// recorded before a reboot may belong to afterwards.
fn victim(user: &str) -> Child {
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, user]).output().expect("id");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    Command::new("setpriv")
        .args([
            &format!("--reuid={}", id("-u")),
            &format!("--regid={}", id("-g")),
            "--clear-groups",
            "sleep",
            "600",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("setpriv sleep")
}

fn alive(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

/// The program dies (a reboot, say) and its recorded pid now belongs to another
/// process of the same user, which leads a process group. `plan` says the program
/// is not running; the deploy starts it without signalling that process, whether
/// it restarts, or removes the program. (The program clears its environment, as a
/// program that rewrites its title loses it: only the record can find it.)
#[test]
fn a_recorded_pid_that_now_belongs_to_another_process_is_neither_trusted_nor_signalled() {
    a_recorded_pid_that_now_belongs_to_another_process_is_neither_trusted_nor_signalled_on(TestHosts::setup());
}

pub(crate) fn a_recorded_pid_that_now_belongs_to_another_process_is_neither_trusted_nor_signalled_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let program = "command: \"env -i sleep 600\", backend: \"process\", restart_on: [conf]";
    let conf = "    let conf = c.add(file(\"app.conf\", c.attr(\"conf\", \"a\")));\n";
    let p = project(&hosts, program, conf);
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let record = hosts.home("t1").join(".ordo/s/programs/app/pid");
    let mut victim = victim(hosts.user("t1"));
    // The program is gone, and its pid is the victim's now.
    let take_over = |victim: &Child| {
        let line = std::fs::read_to_string(&record).expect("the launcher's record");
        let (pid, rest) = line.split_once(' ').expect("pid …");
        let _ = Command::new("kill").args(["-KILL", pid]).status();
        std::fs::write(&record, format!("{} {rest}", victim.id())).expect("write the record");
    };
    take_over(&victim);
    p.test()
        .args(&["plan", "prod"])
        .stdout_contains("! t1:x program app (start: not running (under process))")
        .run();

    // A restart it watches: the program is started, the victim untouched.
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ conf: \"b\" })"),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("✓ t1:x program app")
        .run();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(alive(&mut victim), "the deploy signalled a process it did not start");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();

    // The program leaves the service: its record is deleted, the victim lives.
    take_over(&victim);
    p.write(
        "services/s.rhai",
        &p.read("services/s.rhai")
            .replace("    c.add(program(", "    if false { c.add(program(")
            .replace("] }));", "] })); }"),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("- t1:x program app (no longer declared)")
        .expect_missing(hosts.home("t1").join(".ordo/s/programs/app"))
        .run();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(alive(&mut victim), "the removal signalled a process it did not start");
    let _ = victim.kill();
    let _ = victim.wait();
}

/// Nothing but a program in a component: nothing else creates the component's
/// root, the program's working directory. It starts, under the backend `auto`
/// picks, and the next deploy has nothing to do.
#[test]
fn a_component_with_only_a_program_starts() {
    a_component_with_only_a_program_starts_on(TestHosts::setup());
}

pub(crate) fn a_component_with_only_a_program_starts_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let p = project(&hosts, "command: \"sleep 600\"", "");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("✓ t1:x program app")
        .run();
    assert!(hosts.home("t1").join("deployment/s").is_dir());
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
}

/// A program that exits at once and writes nothing: the failure says that it
/// exited and that its log is empty — not "the end of its log:" and nothing.
#[test]
fn a_program_that_exits_without_a_word_says_so() {
    let hosts = TestHosts::start(&["t1"]);
    let p = project(&hosts, "command: \"true\", backend: \"process\"", "");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_snapshot("exits_without_a_word")
        .run();
    // Under supervisord, what it logged about the program says the rest.
    p.write(
        "services/s.rhai",
        &p.read("services/s.rhai").replace(
            "command: \"true\", backend: \"process\"",
            "command: \"sh -c 'exit 3'\", backend: \"supervisord\"",
        ),
    );
    let out = p.test().args(&["deploy", "prod", "--yes"]).status(1).run();
    says(&out, "spawned: 'app' with pid");
    says(&out, "it wrote nothing to its log (~/.ordo/s/programs/app/output.log)");
    says(&out, "app exited right after it started (it ran as pid");
}

/// A program without a health check that exits a moment after its start (a
/// configuration its parser rejects, say) did not start: the process seen at its
/// start must still be there half a second later (decision 71). It was "started"
/// when ordo looked before the host ran its exit.
#[test]
fn a_program_without_a_check_that_exits_soon_after_its_start_did_not_start() {
    let hosts = TestHosts::start(&["t1"]);
    let p = project(
        &hosts,
        "command: \"sh -c 'sleep 0.2; echo bad configuration; exit 2'\", backend: \"process\"",
        "",
    );
    let out = p.test().args(&["deploy", "prod", "--yes"]).status(1).run();
    says(&out, "bad configuration");
    says(&out, "app exited right after it started (it ran as pid");
}

/// A program whose record cannot be read (its `backend` file, mode 000) is not
/// removed as if it had none: read as empty, the removal stopped nothing and
/// deleted the record — the program ran on, forgotten. The step fails, the record
/// and the program stay, and once the record is readable the removal goes through.
#[test]
fn a_program_whose_record_cannot_be_read_is_not_forgotten() {
    use std::os::unix::fs::PermissionsExt;
    let hosts = TestHosts::start(&["t1"]);
    let p = project(&hosts, "command: \"sleep 600\", backend: \"process\"", "");
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let record = hosts.home("t1").join(".ordo/s/programs/app");
    let pid = std::fs::read_to_string(record.join("pid")).unwrap();
    let pid = pid.split_whitespace().next().unwrap().to_string();
    let running = || std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(running());
    std::fs::set_permissions(record.join("backend"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = p.test().args(&["plan", "prod"]).failure().run();
    says(
        &out,
        "t1:x program app cannot be verified: cannot read ~/.ordo/s/programs/app/backend",
    );
    says(
        &out,
        "permission denied; restore its mode, or remove the record if the program is gone",
    );
    p.write(
        "services/s.rhai",
        &p.read("services/s.rhai")
            .replace("    c.add(program(", "    if false { c.add(program(")
            .replace("}));\n});", "})); }\n});"),
    );
    let out = p.test().args(&["deploy", "prod", "--yes"]).status(1).run();
    says(&out, "cannot read ~/.ordo/s/programs/app/backend");
    assert!(record.join("backend").exists(), "the record stays");
    assert!(running(), "the program runs, and its record still knows it");
    std::fs::set_permissions(record.join("backend"), std::fs::Permissions::from_mode(0o644)).unwrap();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("- t1:x program app (no longer declared)")
        .run();
    assert!(!record.exists());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while running() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        !running() || state.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')),
        "stopped: {state}"
    );
}

/// A program that answers 0.3 s after its start, with a health check retried every
/// 10 s: the check is seen passing soon after the program is up — the first
/// interval is cut into short pauses (10, 20, 40 ms…) —, not after a whole
/// interval. The deploy took more than 10 s when the first pause was the interval.
#[test]
fn a_program_up_soon_is_seen_before_its_health_checks_interval() {
    a_program_up_soon_is_seen_before_its_health_checks_interval_on(TestHosts::setup());
}

pub(crate) fn a_program_up_soon_is_seen_before_its_health_checks_interval_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let port = closed_port();
    let p = project(
        &hosts,
        &format!(
            "command: \"sh -c 'sleep 0.3; exec python3 -m http.server {port} --bind 127.0.0.1'\", backend: \"process\",\n        \
             health: http_check(\"http://127.0.0.1:{port}/\", #{{ interval: 10, retries: 3 }})"
        ),
        "",
    );
    let started = std::time::Instant::now();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("✓ t1:x program app")
        .run();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(7), "the deploy took {took:?}");
}

/// The short pauses fall inside the first interval and the attempts the script
/// asked for keep their times: a check that never passes, 2 attempts 1.5 s apart,
/// fails after 1.5 s and says it failed 2 times.
#[test]
fn a_check_that_never_passes_fails_after_its_retries_and_intervals() {
    let hosts = TestHosts::start(&["t1"]);
    let port = closed_port();
    let p = project(
        &hosts,
        &format!(
            "command: \"sleep 600\", backend: \"process\",\n        \
             health: http_check(\"http://127.0.0.1:{port}/\", #{{ interval: 1.5, retries: 2 }})"
        ),
        "",
    );
    let started = std::time::Instant::now();
    let out = p.test().args(&["deploy", "prod", "--yes"]).status(1).run();
    let took = started.elapsed();
    says(&out, "health check failed 2 times; the last answer:");
    assert!(
        took >= std::time::Duration::from_millis(1500),
        "the deploy took {took:?}"
    );
}

/// A restart under the process backend launches the new definition right after
/// the stop. A process the program left behind in a session of its own still
/// carries the program's token; asking "is it running?" after the stop (the record
/// is gone by then) took it for the program, so nothing was launched and the step
/// failed ("did not start within 5 s").
#[test]
fn a_restart_launches_although_an_orphan_carries_the_programs_token() {
    a_restart_launches_although_an_orphan_carries_the_programs_token_on(TestHosts::setup());
}

pub(crate) fn a_restart_launches_although_an_orphan_carries_the_programs_token_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let port = closed_port();
    let program = |greeting: &str| {
        format!(
            "command: \"sh -c 'setsid sleep 600 & exec python3 -m http.server {port} --bind 127.0.0.1'\", backend: \"process\",\n        \
             env: #{{ GREETING: \"{greeting}\" }},\n        \
             health: http_check(\"http://127.0.0.1:{port}/\", #{{ interval: 0.1, retries: 50 }})"
        )
    };
    let p = project(&hosts, &program("one"), "");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("✓ t1:x program app")
        .run();
    let record = hosts.home("t1").join(".ordo/s/programs/app/pid");
    let first = std::fs::read_to_string(&record).expect("the launcher's record");
    let service = p.read("services/s.rhai").replace("\"one\"", "\"two\"");
    p.write("services/s.rhai", &service);
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("✓ t1:x program app")
        .run();
    let second = std::fs::read_to_string(&record).expect("the new launcher's record");
    assert_ne!(second, first, "a new process");
}
