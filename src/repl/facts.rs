//! `facts("web1")`: what an operator asks first about a host, from one round trip.
//! The script asks every question at once; each answer comes back as one line
//! `key <base64>` (the host's bytes, which must not be able to forge a line), and
//! is read in Rust. A question the host cannot answer (no `/etc/os-release`, no
//! `nproc`) is simply missing from the facts, never an error.
//!
//! This probe is the REPL's own: the deploy probe (`shell/probe.rs`) asks what
//! steps need, this one what a person wants to know.

use std::fmt::Write;

use serde::Serialize;

use crate::exec::LockInfo;
use crate::exec::state::HostState;
use crate::shell::{decode, quote_always};

/// Python interpreters looked for in `$PATH`: `python`, `python3`, `python3.12`…
const PYTHONS: &str = r#"IFS=:; for d in $PATH; do for p in "$d"/python "$d"/python[0-9] "$d"/python[0-9].[0-9] "$d"/python[0-9].[0-9][0-9]; do [ -f "$p" ] && [ -x "$p" ] || continue; printf '%s\t%s\t%s\n' "$p" "$(readlink -f -- "$p")" "$("$p" --version 2>&1 | head -n 1)"; done; done"#;

/// The script; `service` names ordo's state directory on the host.
pub(crate) fn script(service: &str) -> String {
    let state = quote_always(&format!(".ordo/{service}"));
    let questions: [(&str, String); 13] = [
        ("os", "cat /etc/os-release".into()),
        ("kernel", "uname -srm".into()),
        ("hostname", "uname -n".into()),
        ("python", PYTHONS.into()),
        (
            "packages",
            "for m in apt-get dnf yum apk zypper pacman; do command -v \"$m\" >/dev/null 2>&1 && echo \"$m\"; done"
                .into(),
        ),
        ("cpus", "nproc 2>/dev/null || getconf _NPROCESSORS_ONLN".into()),
        ("memory", "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo".into()),
        ("disk", "df -Pk -- \"$HOME\" | tail -n 1".into()),
        (
            "supervisord",
            "command -v supervisorctl || command -v supervisord".into(),
        ),
        (
            "systemd_user",
            "command -v systemctl >/dev/null && systemctl --user show-environment >/dev/null 2>&1 && echo yes".into(),
        ),
        ("plain", "command -v setsid || command -v nohup".into()),
        ("state", format!("cat -- {state}/state.json")),
        (
            "lock",
            format!("[ -d {state}/lock ] && {{ cat -- {state}/lock/info || true; echo; }}"),
        ),
    ];
    let mut s = String::from("umask 077\nHOME=${HOME%/}\ncd -- \"$HOME\" 2>/dev/null || cd /\n");
    for (key, shell) in questions {
        let _ = writeln!(s, "printf '{key} '; {{ {shell}\n}} 2>/dev/null | base64 -w0; echo");
    }
    s.push_str("echo end\n");
    s
}

#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Facts {
    pub(crate) host: String,
    pub(crate) os: Os,
    pub(crate) python: Vec<Python>,
    /// The first of apt-get, dnf, yum, apk, zypper, pacman found.
    pub(crate) package_manager: Option<String>,
    pub(crate) cpus: Option<u64>,
    pub(crate) memory_mb: Option<u64>,
    pub(crate) memory_available_mb: Option<u64>,
    /// Free space on the file system of the service user's home.
    pub(crate) disk_free_mb: Option<u64>,
    pub(crate) disk_total_mb: Option<u64>,
    /// `systemd-user`, `supervisord`, `plain`: how a process can be supervised.
    pub(crate) supervisors: Vec<String>,
    pub(crate) ordo: Ordo,
}

#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Os {
    /// `debian`, `ubuntu`, `alpine` (`ID` of os-release).
    pub(crate) id: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) name: Option<String>,
    /// `Linux 6.1.0-18-amd64 x86_64`.
    pub(crate) kernel: Option<String>,
    pub(crate) hostname: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Python {
    pub(crate) path: String,
    pub(crate) version: String,
}

/// What ordo recorded on the host for the service.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Ordo {
    /// The last deploy: fingerprint, environment, who and when; `None`: never deployed.
    pub(crate) deployed: Option<HostState>,
    /// Who holds the deploy lock right now.
    pub(crate) lock: Option<Lock>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Lock {
    pub(crate) holder: String,
    pub(crate) pid: u32,
    pub(crate) environment: String,
    pub(crate) since: String,
}

/// Reads the answers; `None` when the script did not get to its end.
pub(crate) fn parse(host: &str, stdout: &str) -> Option<Facts> {
    let mut facts = Facts {
        host: host.to_string(),
        ..Facts::default()
    };
    let mut ended = false;
    for line in stdout.lines() {
        if line == "end" {
            ended = true;
            continue;
        }
        let Some((key, b64)) = line.split_once(' ') else {
            continue;
        };
        let Some(bytes) = decode(b64) else { continue };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let one = || Some(crate::text::visible(text, false));
        match key {
            "os" => read_os_release(text, &mut facts.os),
            "kernel" => facts.os.kernel = one(),
            "hostname" => facts.os.hostname = one(),
            "python" => facts.python = pythons(text),
            "packages" => facts.package_manager = text.lines().next().map(|l| crate::text::visible(l, false)),
            "cpus" => facts.cpus = text.lines().next().and_then(|l| l.trim().parse().ok()),
            "memory" => {
                for l in text.lines() {
                    let mut words = l.split_whitespace();
                    let (Some(name), Some(kb)) = (words.next(), words.next().and_then(|k| k.parse::<u64>().ok()))
                    else {
                        continue;
                    };
                    match name {
                        "MemTotal:" => facts.memory_mb = Some(kb / 1024),
                        "MemAvailable:" => facts.memory_available_mb = Some(kb / 1024),
                        _ => {}
                    }
                }
            }
            "disk" => {
                // Filesystem 1024-blocks Used Available Capacity Mounted-on
                let words: Vec<&str> = text.split_whitespace().collect();
                if words.len() >= 4 {
                    facts.disk_total_mb = words[1].parse::<u64>().ok().map(|k| k / 1024);
                    facts.disk_free_mb = words[3].parse::<u64>().ok().map(|k| k / 1024);
                }
            }
            "systemd_user" => facts.supervisors.push("systemd-user".into()),
            "supervisord" => facts.supervisors.push("supervisord".into()),
            "plain" => facts.supervisors.push("plain".into()),
            "state" => facts.ordo.deployed = serde_json::from_str(text).ok(),
            "lock" => {
                facts.ordo.lock = Some(match serde_json::from_str::<LockInfo>(text) {
                    Ok(i) => Lock {
                        holder: crate::text::visible(&i.holder, false),
                        pid: i.pid,
                        environment: crate::text::visible(&i.environment, false),
                        since: crate::text::visible(&i.since, false),
                    },
                    Err(_) => Lock {
                        holder: "(no details recorded)".into(),
                        pid: 0,
                        environment: String::new(),
                        since: String::new(),
                    },
                });
            }
            _ => {}
        }
    }
    // The order that tells most: the init system first, then a daemon, then none.
    facts.supervisors.sort_by_key(|s| match s.as_str() {
        "systemd-user" => 0,
        "supervisord" => 1,
        _ => 2,
    });
    ended.then_some(facts)
}

fn read_os_release(text: &str, os: &mut Os) {
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim().trim_matches('"').trim_matches('\'');
        let v = Some(crate::text::visible(v, false));
        match k.trim() {
            "ID" => os.id = v,
            "VERSION_ID" => os.version = v,
            "PRETTY_NAME" => os.name = v,
            _ => {}
        }
    }
}

/// One interpreter per real file, under the first name `$PATH` gives it.
fn pythons(text: &str) -> Vec<Python> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(path), Some(real), Some(version)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if seen.iter().any(|s| s == real) || !version.starts_with("Python") {
            continue;
        }
        seen.push(real.to_string());
        out.push(Python {
            path: crate::text::visible(path, false),
            version: crate::text::visible(version.trim_start_matches("Python").trim(), false),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(key: &str, text: &str) -> String {
        use base64::Engine;
        format!("{key} {}\n", base64::engine::general_purpose::STANDARD.encode(text))
    }

    #[test]
    fn reads_every_answer() {
        let out = [
            line("os", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"),
            line("kernel", "Linux 6.1.0 x86_64\n"),
            line(
                "python",
                "/usr/bin/python3\t/usr/bin/python3.11\tPython 3.11.2\n/usr/bin/python3.11\t/usr/bin/python3.11\tPython 3.11.2\n",
            ),
            line("packages", "apt-get\n"),
            line("cpus", "4\n"),
            line("memory", "MemTotal:       8048576 kB\nMemAvailable:   4024288 kB\n"),
            line("disk", "/dev/sda1 102400 51200 40960 56% /\n"),
            line("plain", "/usr/bin/setsid\n"),
            line("systemd_user", "yes\n"),
            line("lock", "garbage\n"),
            "x notbase64!\nend\n".to_string(),
        ]
        .concat();
        let f = parse("web1", &out).expect("complete");
        assert_eq!(f.os.id.as_deref(), Some("debian"));
        assert_eq!(f.os.version.as_deref(), Some("12"));
        assert_eq!(f.python.len(), 1, "one interpreter under its first name");
        assert_eq!(f.python[0].path, "/usr/bin/python3");
        assert_eq!(f.python[0].version, "3.11.2");
        assert_eq!(f.package_manager.as_deref(), Some("apt-get"));
        assert_eq!((f.cpus, f.memory_mb, f.disk_free_mb), (Some(4), Some(7859), Some(40)));
        assert_eq!(f.supervisors, ["systemd-user", "plain"]);
        assert_eq!(f.ordo.lock.map(|l| l.holder), Some("(no details recorded)".into()));
        assert!(f.ordo.deployed.is_none());
        assert!(parse("web1", "cpus NA==\n").is_none(), "a cut answer is no answer");
    }
}
