//! Health checks: an HTTP status (and optionally a text the body must contain), a
//! TCP connect, or a command that must exit 0. They run on the program's host: once
//! in the probe (a running program that fails its check is restarted), and after
//! every start, restart and reload, retried until they pass or the retries run
//! out — which fails the step with the last answer (the retries are `start`'s,
//! which also checks who answered). That is what gates a program's "started" and
//! so each batch of a rolling update.

use std::time::Duration;

use crate::host_path::HostPath;
use crate::shell::{quote_always, word};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// `url` answers `status` (and its body contains `body`).
    Http {
        url: String,
        status: u16,
        body: Option<String>,
    },
    /// Something accepts TCP connections at `host:port`.
    Tcp { host: String, port: u16 },
    /// `run` (with `sh -c`, in `cwd`) exits 0.
    Command { run: String, cwd: Option<HostPath> },
}

/// A check and how patiently it is retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub check: Check,
    /// One attempt may take this long.
    pub timeout: Duration,
    /// Pause between attempts.
    pub interval: Duration,
    /// Attempts after a start before the step fails.
    pub retries: u32,
}

impl Health {
    pub fn new(check: Check) -> Self {
        Health {
            check,
            timeout: Duration::from_secs(2),
            interval: Duration::from_millis(500),
            retries: 20,
        }
    }

    /// `kind timeout a b c`: the arguments of the shell function `hc`.
    pub(crate) fn args(&self, default_cwd: &HostPath) -> String {
        let t = secs(self.timeout);
        match &self.check {
            Check::Http { url, status, body } => format!(
                "http {t} {} {status} {}",
                quote_always(url),
                quote_always(body.as_deref().unwrap_or(""))
            ),
            Check::Tcp { host, port } => format!("tcp {t} {} {port} ''", quote_always(host)),
            Check::Command { run, cwd } => format!(
                "cmd {t} {} {} ''",
                quote_always(run),
                word(cwd.as_ref().unwrap_or(default_cwd))
            ),
        }
    }

    /// `tries interval-in-ms`, for the wait after a start (`hw`).
    pub(crate) fn patience(&self) -> String {
        format!("{} {}", self.retries.max(1), self.interval.as_millis().max(1))
    }

    /// What the plan says about it.
    pub fn describe(&self) -> String {
        match &self.check {
            Check::Http { url, status, body } => match body {
                Some(b) => format!("{url} answers {status} with {b:?}"),
                None => format!("{url} answers {status}"),
            },
            Check::Tcp { host, port } => format!("{host}:{port} accepts connections"),
            Check::Command { run, .. } => format!("`{run}` exits 0"),
        }
    }
}

/// Seconds as `sleep` and `timeout` take them (`0.2`, `2`).
fn secs(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}", ms / 1000)
    } else {
        format!("{}.{:03}", ms / 1000, ms % 1000)
    }
}

/// `hc KIND TIMEOUT A B C`: one attempt; exit 0 when healthy. The answer (status
/// line and, for a failure, the start of the body; the connect error; the
/// command's output) is left in `$T/hc` for the message of a failure. HTTP uses
/// curl, else python3.
pub(crate) const HEALTH_SH: &str = r#"hc() {
  case $1 in
  http)
    if command -v curl >/dev/null 2>&1; then
      c=$(curl -sS -o "$T/hb" -w '%{http_code}' --max-time "$2" -- "$3" 2>"$T/he"); r=$?
    else
      python3 -c 'import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])); c = r.status; b = r.read(1000)
except urllib.error.HTTPError as e:
    c = e.code; b = e.read(1000)
sys.stdout.buffer.write(b); sys.stderr.write("%d" % c)' "$3" "$2" >"$T/hb" 2>"$T/he"; r=$?
      c=$(cat "$T/he")
    fi
    if [ $r -ne 0 ]; then { echo "no answer from $3:"; tail -c 500 "$T/he"; } > "$T/hc"; return 1; fi
    if [ "$c" = "$4" ] && { [ -z "$5" ] || grep -q -F -- "$5" "$T/hb"; }; then echo "HTTP $c from $3" > "$T/hc"; return 0; fi
    { echo "HTTP $c from $3:"; head -c 500 "$T/hb"; echo; [ "$c" != "$4" ] || echo "(the body does not contain \"$5\")"; } > "$T/hc"
    return 1 ;;
  tcp)
    if timeout "$2" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$3" "$4" 2>"$T/he"; then echo "connected to $3:$4" > "$T/hc"; return 0; fi
    { echo "cannot connect to $3:$4"; tail -c 500 "$T/he"; } > "$T/hc"; return 1 ;;
  cmd)
    ( if [ -d "$4" ]; then cd -- "$4" || exit 1; fi; tmo 2 "$2" sh -c "$3" ) </dev/null >"$T/hc" 2>&1 ;;
  esac
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_and_times_are_seconds() {
        let mut h = Health::new(Check::Http {
            url: "http://127.0.0.1:80/it's".into(),
            status: 200,
            body: None,
        });
        h.timeout = Duration::from_millis(1500);
        h.interval = Duration::from_millis(100);
        h.retries = 5;
        let root = HostPath::new("~/d").unwrap();
        assert_eq!(h.args(&root), "http 1.500 'http://127.0.0.1:80/it'\\''s' 200 ''");
        assert_eq!(h.patience(), "5 100");
        let c = Health::new(Check::Command {
            run: "-x".into(),
            cwd: None,
        });
        assert_eq!(c.args(&root), "cmd 2 '-x' ./d ''");
    }
}
