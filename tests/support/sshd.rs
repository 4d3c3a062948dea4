//! Real ssh hosts for tests: one `sshd` per test host on 127.0.0.1, each logging in
//! as its own freshly created unprivileged user, so that a deploy over ssh is
//! tested against the real thing: real authentication, host keys, remote users
//! whose home is not ours, and connections that die. Needs root (for
//! `useradd` and for sshd) and openssh-server; a missing sshd fails loudly
//! instead of skipping, so CI cannot pass without testing ssh.

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";
const BUSYBOX: &str = "/usr/bin/busybox";
/// docker-systemctl-replacement's `systemctl` (a directory holding only that link;
/// `test.sh` installs it).
pub const SYSTEMCTL_PATH: &str = "/opt/ordo-test-tools/systemctl/path";
/// sshd's own PATH for users (Debian's build).
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/games";

/// How the test hosts differ from a plain Debian login: the builder of
/// [`TestHosts`] (`TestHosts::setup().busybox().start(&["t1"])`).
#[derive(Clone, Debug, Default)]
pub struct Setup {
    busybox: bool,
    no_dpkg: bool,
    systemctl: bool,
    /// Programs taken out of the host's PATH (a host that lacks them).
    without: Vec<String>,
    /// Programs put first on the host's PATH: (name, shell script).
    replaced: Vec<(String, String)>,
    /// Programs of this machine added to the host's own PATH (what an Alpine host
    /// gets with `apk add`).
    added: Vec<String>,
}

impl Setup {
    /// An Alpine-like userland: the login shell is BusyBox `ash` and `PATH` is one
    /// directory of BusyBox applet links (`busybox --install -s`) plus the allow-list
    /// [`BUSYBOX_EXTRA`] — not Debian busybox's `rpm` applets, nothing of GNU.
    pub fn busybox(mut self) -> Setup {
        self.busybox = true;
        self
    }

    /// A RHEL-like package manager: `PATH` has everything of Debian's but `dpkg*`
    /// and `apt*`, so the probe finds rpm and dnf.
    pub fn no_dpkg(mut self) -> Setup {
        self.no_dpkg = true;
        self
    }

    /// docker-systemctl-replacement's `systemctl` first on `PATH`.
    pub fn systemctl(mut self) -> Setup {
        self.systemctl = true;
        self
    }

    /// A host whose PATH lacks `program` (implies a PATH of its own).
    pub fn without(mut self, program: &str) -> Setup {
        self.without.push(program.to_string());
        self
    }

    /// A host whose PATH also has this program of the machine (an absolute path;
    /// implies a PATH of its own): `.busybox().with("/usr/bin/python3")` is an
    /// Alpine host after `apk add python3`.
    pub fn with(mut self, program: &str) -> Setup {
        self.added.push(program.to_string());
        self
    }

    /// A host whose `program` is this shell script instead.
    pub fn replace(mut self, program: &str, script: &str) -> Setup {
        self.replaced.push((program.to_string(), script.to_string()));
        self
    }

    pub fn start(self, aliases: &[&str]) -> TestHosts {
        TestHosts::start_with(&self, aliases)
    }

    fn own_path(&self) -> bool {
        self.busybox || self.no_dpkg || !self.without.is_empty() || !self.replaced.is_empty() || !self.added.is_empty()
    }

    /// Makes the host's `bin` directory (when it needs one of its own) and returns
    /// the login shell and the `PATH` sshd gives the session.
    fn prepare(&self, host_dir: &Path) -> (PathBuf, String) {
        let mut path = String::new();
        if self.systemctl {
            assert!(
                Path::new(SYSTEMCTL_PATH).join("systemctl").is_file(),
                "{SYSTEMCTL_PATH}/systemctl is missing: the systemd tests need docker-systemctl-replacement (./test.sh installs it)"
            );
            path.push_str(SYSTEMCTL_PATH);
            path.push(':');
        }
        if !self.own_path() {
            path.push_str(DEFAULT_PATH);
            return (PathBuf::from("/bin/sh"), path);
        }
        let bin = host_dir.join("bin");
        fs::create_dir(&bin).expect("bin dir");
        set_mode(&bin, 0o755);
        if self.busybox {
            assert!(
                Path::new(BUSYBOX).is_file(),
                "{BUSYBOX} is missing: the BusyBox tests need Debian's busybox (./test.sh installs it)"
            );
            let out = Command::new(BUSYBOX).arg("--list").output().expect("busybox --list");
            for applet in String::from_utf8_lossy(&out.stdout).lines() {
                if !BUSYBOX_LEFT_OUT.contains(&applet) {
                    link(BUSYBOX, &bin.join(applet));
                }
            }
            for extra in BUSYBOX_EXTRA {
                link(extra, &bin.join(Path::new(extra).file_name().expect("a program")));
            }
        } else {
            for dir in ["/usr/local/bin", "/usr/bin"] {
                for entry in fs::read_dir(dir).expect("read bin").flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if self.no_dpkg && (name.starts_with("dpkg") || name.starts_with("apt")) {
                        continue;
                    }
                    if !bin.join(&name).exists() {
                        link(&entry.path().display().to_string(), &bin.join(&name));
                    }
                }
            }
        }
        for program in &self.added {
            let at = bin.join(Path::new(program).file_name().expect("a program"));
            let _ = fs::remove_file(&at);
            link(program, &at);
        }
        for program in &self.without {
            let _ = fs::remove_file(bin.join(program));
        }
        for (program, script) in &self.replaced {
            let _ = fs::remove_file(bin.join(program));
            fs::write(bin.join(program), script).expect("write a replaced program");
            set_mode(&bin.join(program), 0o755);
        }
        path.push_str(&bin.display().to_string());
        let shell = if self.busybox {
            bin.join("sh")
        } else {
            PathBuf::from("/bin/sh")
        };
        (shell, path)
    }
}

/// Applets of Debian's busybox that Alpine's does not have (or that would make the
/// host look like an rpm host).
const BUSYBOX_LEFT_OUT: &[&str] = &["rpm", "rpm2cpio"];

/// What ordo's scripts use that Debian's busybox lacks and an Alpine host has:
/// `getent` (Alpine: musl-utils). See docs/hosts.md.
pub const BUSYBOX_EXTRA: &[&str] = &["/usr/bin/getent"];

fn link(target: &str, at: &Path) {
    std::os::unix::fs::symlink(target, at).unwrap_or_else(|e| panic!("symlink {}: {e}", at.display()));
}

/// useradd and userdel lock /etc/passwd and fail instead of waiting when another
/// one holds the lock: tests in this binary take turns.
static ACCOUNTS: Mutex<()> = Mutex::new(());

pub struct TestHosts {
    dir: tempfile::TempDir,
    key: PathBuf,
    known_hosts: PathBuf,
    hosts: Vec<TestHost>,
}

struct TestHost {
    alias: String,
    user: String,
    home: PathBuf,
    port: u16,
    /// The `PATH` sshd gives the user's sessions.
    path: String,
    /// sshd_config, host key, pid file and sshd's log.
    dir: PathBuf,
    sshd: Mutex<Option<Child>>,
}

impl TestHosts {
    /// Starts one sshd per alias, each with its own user, host key and port, all
    /// trusting one client key.
    pub fn start(aliases: &[&str]) -> TestHosts {
        TestHosts::start_with(&Setup::default(), aliases)
    }

    /// Test hosts that differ from a plain Debian login (BusyBox, no dpkg, …).
    pub fn setup() -> Setup {
        Setup::default()
    }

    fn start_with(setup: &Setup, aliases: &[&str]) -> TestHosts {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} is missing: the ssh tests need a real sshd; install openssh-server (apt-get install -y openssh-server)"
        );
        fs::create_dir_all("/run/sshd")
            .expect("sshd needs /run/sshd (privilege separation); are the tests running as root?");
        // In /tmp, not $TMPDIR, like the projects (`support::Project::new`).
        let dir = tempfile::Builder::new()
            .prefix("ordo-sshd")
            .tempdir_in("/tmp")
            .expect("tempdir in /tmp");
        // The users must reach their homes and the shared authorized_keys below it.
        set_mode(dir.path(), 0o755);
        let key = dir.path().join("id_ed25519");
        keygen(&key);
        let authorized = dir.path().join("authorized_keys");
        fs::copy(key.with_extension("pub"), &authorized).expect("authorized_keys");
        set_mode(&authorized, 0o644);
        let mut hosts = TestHosts {
            known_hosts: dir.path().join("known_hosts"),
            key,
            dir,
            hosts: Vec::new(),
        };
        for alias in aliases {
            let host_dir = hosts.dir.path().join(alias);
            fs::create_dir(&host_dir).expect("host dir");
            set_mode(&host_dir, 0o755);
            let user = format!("ordot{}", random_name(6));
            let home = host_dir.join("home");
            let (shell, path) = setup.prepare(&host_dir);
            add_user(&user, &home, &shell);
            keygen(&host_dir.join("host_ed25519"));
            // Pushed before starting, so Drop removes the user even if sshd fails.
            hosts.hosts.push(TestHost {
                alias: alias.to_string(),
                user,
                home,
                port: 0,
                path,
                dir: host_dir,
                sshd: Mutex::new(None),
            });
            let i = hosts.hosts.len() - 1;
            hosts.launch_on_free_port(i);
        }
        hosts.write_known_hosts();
        hosts
    }

    pub fn user(&self, alias: &str) -> &str {
        &self.host(alias).user
    }

    /// The remote user's home; the tests run as root and may read anything in it.
    pub fn home(&self, alias: &str) -> &Path {
        &self.host(alias).home
    }

    pub fn port(&self, alias: &str) -> u16 {
        self.host(alias).port
    }

    /// The pid of the host's listening sshd (to trace what its sessions run).
    pub fn sshd_pid(&self, alias: &str) -> u32 {
        self.host(alias)
            .sshd
            .lock()
            .expect("sshd lock")
            .as_ref()
            .map(Child::id)
            .expect("sshd is running")
    }

    /// The `PATH` the host's sessions get.
    pub fn path(&self, alias: &str) -> &str {
        &self.host(alias).path
    }

    /// The client's private key, trusted by every test host.
    pub fn key(&self) -> &Path {
        &self.key
    }

    /// The known_hosts file `write_ssh_config` points at, filled with the real keys.
    pub fn known_hosts(&self) -> &Path {
        &self.known_hosts
    }

    /// An `ssh_config` with one `Host <alias>` block per test host (the transport
    /// reads `<project>/ssh_config`; the `Test` builder writes it there).
    pub fn ssh_config(&self) -> String {
        self.hosts
            .iter()
            .map(|h| self.config_block(&h.alias, h.port, &h.user))
            .collect()
    }

    /// What differs from one run of the harness to the next, with the placeholder
    /// snapshots show instead: the temporary directory, each host's home, user and
    /// port. Homes come before the directory that holds them.
    pub fn redactions(&self) -> Vec<(String, String)> {
        let mut r = Vec::new();
        for h in &self.hosts {
            r.push((h.home.display().to_string(), format!("[HOME:{}]", h.alias)));
        }
        r.push((self.dir.path().display().to_string(), "[SSHD]".to_string()));
        for h in &self.hosts {
            r.push((h.user.clone(), format!("[USER:{}]", h.alias)));
            r.push((h.port.to_string(), format!("[PORT:{}]", h.alias)));
        }
        r
    }

    /// A `Host` block like the real ones, for an alias of the test's choosing
    /// (pointing at `closed_port()`, say).
    pub fn config_block(&self, alias: &str, port: u16, user: &str) -> String {
        format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n\n",
            self.key.display(),
            self.known_hosts.display()
        )
    }

    /// Kills the host's sshd and every process of its user (the sshd session
    /// processes included): the host dies, connections drop mid-command.
    pub fn kill(&self, alias: &str) {
        let h = self.host(alias);
        stop(h, true);
        kill_user(&h.user);
    }

    /// Starts sshd again on the same port with the same host key.
    pub fn restart(&self, alias: &str) {
        let h = self.host(alias);
        stop(h, false);
        if let Err(log) = launch(h, h.port) {
            panic!("sshd for {alias} did not come back on port {}:\n{log}", h.port);
        }
    }

    /// Gives the host a new host key and restarts its sshd, leaving known_hosts
    /// as it was: what a reinstalled host, or a man in the middle, looks like.
    pub fn change_host_key(&self, alias: &str) {
        let h = self.host(alias);
        stop(h, false);
        let key = h.dir.join("host_ed25519");
        let _ = fs::remove_file(&key);
        let _ = fs::remove_file(key.with_extension("pub"));
        keygen(&key);
        if let Err(log) = launch(h, h.port) {
            panic!("sshd for {alias} did not come back on port {}:\n{log}", h.port);
        }
    }

    /// Removes the host from known_hosts: a host we have never connected to.
    pub fn forget_host_key(&self, alias: &str) {
        let prefix = format!("[127.0.0.1]:{} ", self.port(alias));
        let text = fs::read_to_string(&self.known_hosts).unwrap_or_default();
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(&prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&self.known_hosts, kept).expect("write known_hosts");
    }

    /// What the host's sshd has logged so far, for failure messages.
    pub fn sshd_log(&self, alias: &str) -> String {
        fs::read_to_string(self.host(alias).dir.join("sshd.log")).unwrap_or_default()
    }

    fn host(&self, alias: &str) -> &TestHost {
        self.hosts
            .iter()
            .find(|h| h.alias == alias)
            .unwrap_or_else(|| panic!("no test host `{alias}`"))
    }

    /// A port picked by the kernel can be taken again before sshd binds it:
    /// try another one when that happens.
    fn launch_on_free_port(&mut self, i: usize) {
        let mut last = String::new();
        for _ in 0..3 {
            let port = closed_port();
            self.hosts[i].port = port;
            match launch(&self.hosts[i], port) {
                Ok(()) => return,
                Err(log) => last = log,
            }
        }
        panic!("sshd for {} did not start:\n{last}", self.hosts[i].alias);
    }

    fn write_known_hosts(&self) {
        let mut text = String::new();
        for h in &self.hosts {
            let public = fs::read_to_string(h.dir.join("host_ed25519.pub")).expect("host key");
            let mut parts = public.split_whitespace();
            let (kind, key) = (parts.next().expect("key type"), parts.next().expect("key"));
            text.push_str(&format!("[127.0.0.1]:{} {kind} {key}\n", h.port));
        }
        fs::write(&self.known_hosts, text).expect("write known_hosts");
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        for h in &self.hosts {
            stop(h, true);
            kill_user(&h.user);
            // The crontab lock directory a cron step made (`/tmp/ordo-<uid>`).
            if let Ok(out) = Command::new("id").arg("-u").arg(&h.user).output() {
                let uid = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if !uid.is_empty() && uid != "0" {
                    let _ = fs::remove_dir_all(format!("/tmp/ordo-{uid}"));
                }
            }
        }
        let _guard = ACCOUNTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for h in &self.hosts {
            for _ in 0..20 {
                let out = Command::new("userdel")
                    .arg("-r")
                    .arg(&h.user)
                    .stderr(Stdio::piped())
                    .output();
                // 6: no such user (already gone); 12: could not remove the home,
                // which the TempDir takes care of.
                match out.map(|o| o.status.code()) {
                    Ok(Some(0 | 6 | 12)) | Err(_) => break,
                    _ => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
    }
}

/// A port with nothing listening on it (for the moment).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Writes the host's sshd_config for `port` and starts sshd in the foreground,
/// owned by the test; `Err` carries its log when it did not start listening.
fn launch(h: &TestHost, port: u16) -> Result<(), String> {
    let mut config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_ed25519\nAuthorizedKeysFile {shared}/authorized_keys\n\
         PidFile {dir}/sshd.pid\nAllowUsers {user}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nMaxSessions 10\nPrintMotd no\nLogLevel INFO\nSetEnv PATH={path}\n",
        path = h.path,
        dir = h.dir.display(),
        shared = h.dir.parent().expect("host dirs live in the harness dir").display(),
        user = h.user,
    );
    if Path::new(SFTP_SERVER).is_file() {
        config.push_str(&format!("Subsystem sftp {SFTP_SERVER}\n"));
    }
    let config_path = h.dir.join("sshd_config");
    fs::write(&config_path, config).expect("write sshd_config");
    let log_path = h.dir.join("sshd.log");
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("sshd log");
    let logged_before = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {SSHD}: {e}"));
    let listening = format!("Server listening on 127.0.0.1 port {port}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let new_log = read_from(&log_path, logged_before);
        if let Ok(Some(_)) = child.try_wait() {
            return Err(new_log);
        }
        // The log line proves that *our* sshd owns the port; the connect, that it
        // accepts.
        if new_log.contains(&listening) && TcpStream::connect(("127.0.0.1", port)).is_ok() {
            *h.sshd.lock().expect("sshd lock") = Some(child);
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("not accepting connections after 5 s\n{new_log}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the listening sshd; with `sessions`, also the per-connection sshd
/// processes it forked (they run as root, so killing the user's processes alone
/// would leave them).
fn stop(h: &TestHost, sessions: bool) {
    let child = h.sshd.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if let Some(mut child) = child {
        if sessions {
            let _ = Command::new("pkill")
                .arg("-KILL")
                .arg("-P")
                .arg(child.id().to_string())
                .status();
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Kills every process of the user and waits until they are gone (userdel
/// refuses to remove a user who still runs something).
fn kill_user(user: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let _ = Command::new("pkill").arg("-KILL").arg("-u").arg(user).status();
        let alive = Command::new("pgrep").arg("-u").arg(user).stdout(Stdio::null()).status();
        if !matches!(alive, Ok(s) if s.success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn add_user(user: &str, home: &Path, shell: &Path) {
    let _guard = ACCOUNTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut last = String::new();
    for _ in 0..30 {
        // `-p '*'`: no password, but not locked either; without PAM, sshd refuses
        // even key logins to a locked account ("!" in /etc/shadow).
        let out = Command::new("useradd")
            .args(["-m", "-d"])
            .arg(home)
            .arg("-s")
            .arg(shell)
            .args(["-p", "*"])
            .arg(user)
            .output()
            .unwrap_or_else(|e| panic!("cannot run useradd: {e}"));
        if out.status.success() {
            return;
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        // Another process (not a test of ours) may hold the passwd lock.
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("useradd {user} failed (the ssh tests must run as root): {last}");
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ordo-test", "-f"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh-keygen (install openssh-client): {e}"));
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn read_from(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset));
        let _ = f.read_to_string(&mut text);
    }
    text
}

/// Lowercase letters and digits, random enough that parallel tests (and
/// leftovers of killed runs) never pick the same user name.
pub fn random_name(len: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let mut n = h.finish();
    (0..len)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize];
            n /= ALPHABET.len() as u64;
            c as char
        })
        .collect()
}
