//! Reading ssh's log. The system `ssh` does the connecting, so its failures reach
//! us as text; [`Failure::classify`] turns that text into a cause, and
//! `Ssh::problem` into a message that names the host and says what to do.

use std::io;

use super::Ssh;
use crate::problem::{Kind, Problem};

impl Ssh {
    /// What to tell the user about a master connection that could not be opened.
    pub(super) fn problem(&self, failure: Failure) -> Problem {
        let host = &self.name;
        let target = self.target();
        let (kind, cause) = failure.cause();
        let (message, help) = match failure {
            Failure::Resolve => (
                format!("cannot reach host `{host}`: could not resolve `{}`", self.destination),
                format!(
                    "check the address of host `{host}` in the environment{}, and that DNS works from here",
                    self.config_hint()
                ),
            ),
            Failure::Refused(endpoint) => (
                format!(
                    "cannot reach host `{host}`: {} refused the connection",
                    endpoint.unwrap_or(target)
                ),
                format!(
                    "is sshd running on the host, on that port? Check the `address` and `port` of host `{host}`{}",
                    self.config_hint()
                ),
            ),
            Failure::Timeout(endpoint) => (
                format!(
                    "cannot reach host `{host}`: connecting to {} timed out after {} s",
                    endpoint.unwrap_or(target),
                    self.options.connect_timeout.as_secs()
                ),
                "check that the host is up and that no firewall drops ssh traffic on the way".to_string(),
            ),
            Failure::Unreachable(line) => (
                format!("cannot reach host `{host}`: {line}"),
                "check the network route to the host (VPN, bastion, ProxyJump in ssh_config)".to_string(),
            ),
            Failure::Dropped(line) => (
                format!("cannot reach host `{host}`: the ssh server at {target} closed the connection ({line})"),
                "sshd may be overloaded (MaxStartups) or refusing this address (firewall, fail2ban, tcp wrappers)"
                    .to_string(),
            ),
            Failure::Auth(login) => (
                format!(
                    "host `{host}` refused the login{}: authentication failed (Permission denied)",
                    login
                        .or_else(|| self.user.clone())
                        .map(|l| format!(" as {l}"))
                        .unwrap_or_default()
                ),
                format!(
                    "ordo logs in with keys only, never passwords: put your public key in ~/.ssh/authorized_keys of that \
                     user, load the key into ssh-agent or name it with IdentityFile, then check with `{}`",
                    self.ssh_command()
                ),
            ),
            Failure::KeyChanged { remove } => (
                format!(
                    "host `{host}`: its ssh host key has CHANGED since it was recorded in known_hosts; \
                     this could be a man-in-the-middle attack, so ordo refuses to connect"
                ),
                format!(
                    "verify the new key with whoever runs the host (on the host: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub); \
                     only if it is right, remove the old key with `{}` and connect again",
                    remove.unwrap_or_else(|| format!("ssh-keygen -R {}", self.destination))
                ),
            ),
            Failure::KeyUnknown => (
                format!("host `{host}`: its ssh host key is not in known_hosts, and ordo checks host keys strictly"),
                format!(
                    "connect once with `{}` and check the fingerprint it shows, or set ORDO_ACCEPT_NEW_HOST_KEYS=1 \
                     (or pass --accept-new-host-keys) to trust keys of hosts seen for the first time",
                    self.ssh_command()
                ),
            ),
            Failure::NoSsh => (
                format!("cannot reach host `{host}`: the `ssh` program is not installed here"),
                "install the OpenSSH client (apt-get install openssh-client, or your system's equivalent)".to_string(),
            ),
            Failure::ControlDir(e) => (
                format!("host `{host}`: cannot create the ssh control socket directory: {e}"),
                format!("check that {} is writable", self.options.control_dir.display()),
            ),
            Failure::Other(text) => (
                format!("cannot connect to host `{host}`: {text}"),
                format!("try `{}` to see what ssh says", self.ssh_command()),
            ),
        };
        let problem = Problem::new(kind, message).help(help);
        match cause {
            Some(cause) => problem.cause(cause),
            None => problem,
        }
    }

    /// Where ssh was told to go, for messages (the config may still rewrite it).
    fn target(&self) -> String {
        let mut t = self.destination.clone();
        if let Some(u) = &self.user {
            t = format!("{u}@{t}");
        }
        if let Some(p) = self.port {
            t = format!("{t} port {p}");
        }
        t
    }

    fn config_hint(&self) -> String {
        self.options
            .config_file
            .as_ref()
            .map(|c| format!(" (or the Host entry in {})", c.display()))
            .unwrap_or_default()
    }

    /// The `ssh` command line that reproduces our connection, for help texts.
    fn ssh_command(&self) -> String {
        let mut cmd = String::from("ssh");
        if let Some(c) = &self.options.config_file {
            cmd.push_str(&format!(" -F {}", c.display()));
        }
        if let Some(p) = self.port {
            cmd.push_str(&format!(" -p {p}"));
        }
        if let Some(u) = &self.user {
            cmd.push_str(&format!(" -l {u}"));
        }
        cmd.push(' ');
        cmd.push_str(&self.destination);
        cmd
    }
}

/// Why a master connection could not be opened, read from ssh's log.
#[derive(Debug, PartialEq)]
pub(super) enum Failure {
    Resolve,
    /// With the address and port ssh tried, which an ssh_config alias hides.
    Refused(Option<String>),
    Timeout(Option<String>),
    Unreachable(String),
    Dropped(String),
    /// With the `user@address` ssh tried.
    Auth(Option<String>),
    /// With the `ssh-keygen -R` line ssh suggests, when it gave one.
    KeyChanged {
        remove: Option<String>,
    },
    KeyUnknown,
    NoSsh,
    ControlDir(String),
    Other(String),
}

impl Failure {
    pub(super) fn from_error(error: &openssh::Error) -> Failure {
        match error {
            openssh::Error::Connect(e) if e.kind() == io::ErrorKind::NotFound && !ssh_installed() => Failure::NoSsh,
            // `Connect` carries ssh's log (its stderr) as the message.
            openssh::Error::Connect(e) => Failure::classify(&e.to_string()),
            openssh::Error::Master(e) => Failure::ControlDir(e.to_string()),
            other => Failure::Other(describe(other)),
        }
    }

    /// Reads the log of a failed `ssh -M`. Host key problems come first: their log
    /// also says "Host key verification failed" and may mention other things.
    fn classify(log: &str) -> Failure {
        if log.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || log.contains("has changed and you have requested strict checking")
        {
            let remove = log
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("ssh-keygen ") && l.contains(" -R "))
                .map(ToString::to_string);
            return Failure::KeyChanged { remove };
        }
        if log.contains("Host key verification failed") || log.contains("host key is known for") {
            return Failure::KeyUnknown;
        }
        if log.contains("Permission denied (") || log.contains("Too many authentication failures") {
            let login = log
                .lines()
                .find_map(|l| l.split_once(": Permission denied ("))
                .map(|(who, _)| who.trim().to_string());
            return Failure::Auth(login);
        }
        if log.contains("Could not resolve hostname") {
            return Failure::Resolve;
        }
        if log.contains("Connection refused") {
            return Failure::Refused(endpoint(log));
        }
        if log.contains("timed out") {
            return Failure::Timeout(endpoint(log));
        }
        let line = last_line(log);
        if log.contains("Network is unreachable") || log.contains("No route to host") {
            return Failure::Unreachable(line);
        }
        if log.contains("Connection reset by peer")
            || log.contains("kex_exchange_identification")
            || log.contains("Connection closed by")
        {
            return Failure::Dropped(line);
        }
        Failure::Other(if line.is_empty() {
            "ssh failed without saying why".into()
        } else {
            line
        })
    }

    /// Whether the host could not be reached at all (the network's part failed;
    /// [`Kind::Unreachable`], which `--skip-unreachable` may go on without) or
    /// refused us (a login or a host key: never skipped), and the cause in a few
    /// words, for grouping the same failure on many hosts.
    fn cause(&self) -> (Kind, Option<&'static str>) {
        match self {
            Failure::Resolve => (Kind::Unreachable, Some("name not resolved")),
            Failure::Refused(_) => (Kind::Unreachable, Some("connection refused")),
            Failure::Timeout(_) => (Kind::Unreachable, Some("connection timed out")),
            Failure::Unreachable(_) => (Kind::Unreachable, Some("no route to the host")),
            Failure::Dropped(_) => (Kind::Unreachable, Some("connection closed before the login")),
            Failure::Auth(_) => (Kind::Connect, Some("login refused")),
            Failure::KeyChanged { .. } => (Kind::Connect, Some("ssh host key CHANGED")),
            Failure::KeyUnknown => (Kind::Connect, Some("ssh host key not in known_hosts")),
            Failure::NoSsh => (Kind::Connect, Some("no ssh client installed")),
            Failure::ControlDir(_) | Failure::Other(_) => (Kind::Connect, None),
        }
    }

    /// What a retry can fix: a server that is (re)starting or briefly overloaded,
    /// a lost packet. Never authentication or host keys, whose answer will not
    /// change, and where repeating would only add failed logins to the host's log.
    pub(super) fn transient(&self) -> bool {
        matches!(self, Failure::Refused(_) | Failure::Timeout(_) | Failure::Dropped(_))
    }
}

/// "127.0.0.1 port 2222" from ssh's "connect to host 127.0.0.1 port 2222: …" or
/// "Connection to 127.0.0.1 port 2222 timed out".
fn endpoint(log: &str) -> Option<String> {
    log.lines().find_map(|line| {
        let rest = line
            .split_once("connect to host ")
            .or_else(|| line.split_once("Connection to "))?
            .1;
        let (address, rest) = rest.split_once(" port ")?;
        let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
        (!port.is_empty()).then(|| format!("{address} port {port}"))
    })
}

/// The last meaningful line of an ssh log, without ssh's "ssh: " prefix.
fn last_line(log: &str) -> String {
    log.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(|l| l.strip_prefix("ssh: ").unwrap_or(l).to_string())
        .unwrap_or_default()
}

/// The error with its causes: openssh's own messages are generic ("the master
/// connection failed") and the useful part is in the source.
pub(super) fn describe(error: &openssh::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn ssh_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("ssh").is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_ssh_logs() {
        let changed = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
            Offending ED25519 key in /k/kh:1\n  remove with:\n  ssh-keygen -f \"/k/kh\" -R \"[127.0.0.1]:2299\"\n\
            Host key for [127.0.0.1]:2299 has changed and you have requested strict checking.\nHost key verification failed.";
        assert_eq!(
            Failure::classify(changed),
            Failure::KeyChanged {
                remove: Some("ssh-keygen -f \"/k/kh\" -R \"[127.0.0.1]:2299\"".into())
            }
        );
        let unknown = "No ED25519 host key is known for [127.0.0.1]:2299 and you have requested strict checking.\nHost key verification failed.";
        assert_eq!(Failure::classify(unknown), Failure::KeyUnknown);
        assert_eq!(
            Failure::classify("nobody@127.0.0.1: Permission denied (publickey)."),
            Failure::Auth(Some("nobody@127.0.0.1".into()))
        );
        assert_eq!(
            Failure::classify("ssh: connect to host 127.0.0.1 port 1: Connection refused"),
            Failure::Refused(Some("127.0.0.1 port 1".into()))
        );
        assert_eq!(
            Failure::classify("ssh: Could not resolve hostname x.invalid: Name or service not known"),
            Failure::Resolve
        );
        assert_eq!(
            Failure::classify("Connection timed out during banner exchange\nConnection to 127.0.0.1 port 4 timed out"),
            Failure::Timeout(Some("127.0.0.1 port 4".into()))
        );
        assert!(Failure::Refused(None).transient() && Failure::Timeout(None).transient());
        assert!(!Failure::Auth(None).transient() && !Failure::KeyUnknown.transient() && !Failure::Resolve.transient());
    }
}
