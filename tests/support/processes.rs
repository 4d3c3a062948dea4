//! Programs that tests start through ordo (apps, supervisord, nginx) must not
//! outlive the test. On ssh test hosts the harness kills every process of the
//! host's user; on local hosts (run as the test's own user), a `Reaper` kills
//! every process whose working directory or command line lies in the project.
//! And a tiny HTTP client, for asking those programs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Reaper {
    root: PathBuf,
}

impl Reaper {
    pub fn new(root: &Path) -> Reaper {
        Reaper {
            root: root.canonicalize().unwrap_or_else(|_| root.to_path_buf()),
        }
    }

    /// Pids of processes that belong to the project.
    pub fn pids(&self) -> Vec<u32> {
        let root = self.root.to_string_lossy().into_owned();
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if pid == std::process::id() {
                continue;
            }
            let cwd = std::fs::read_link(e.path().join("cwd")).map(|p| p.to_string_lossy().into_owned());
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cwd.is_ok_and(|c| c.starts_with(&root)) || cmd.contains(&root) {
                out.push(pid);
            }
        }
        out
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for _ in 0..3 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = std::process::Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `GET path` on 127.0.0.1:port, a fresh connection each time: (status, body), or
/// the error.
pub fn get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line: {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Waits up to `secs` for `GET path` to answer 200; its body.
#[track_caller]
pub fn wait_ok(port: u16, path: &str, secs: u64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match get(port, path) {
            Ok((200, body)) => return body,
            other if std::time::Instant::now() > deadline => {
                panic!("127.0.0.1:{port}{path} never answered 200: {other:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
