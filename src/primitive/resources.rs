//! `resources`: what a component needs from its host — free disk at a path,
//! memory, CPUs, TCP ports free to listen on. Measured in the host's probe (a few
//! builtins and two processes, no extra round trip); when something is short,
//! verify stops the deploy on every host before any change, saying what is short
//! and by how much. It never changes anything.

use std::fmt::Write;

use super::{Doc, OptionDoc, Planned, Primitive, StepCtx};
use crate::host_path::HostPath;
use crate::shell::apply::ApplyScript;
use crate::shell::probe::{Facts, ProbeScript, StepFact};
use crate::shell::word;

/// Free space wanted at a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    pub path: HostPath,
    pub free: u64,
}

#[derive(Debug, Default)]
pub struct Resources {
    pub name: String,
    pub disk: Vec<Disk>,
    /// Total memory (MemTotal), bytes.
    pub memory: Option<u64>,
    pub cpus: Option<u64>,
    pub ports: Vec<u16>,
    /// The service will run as root, so ports below the unprivileged range are
    /// fine (and `sudo -n` must work).
    pub sudo: bool,
}

impl Resources {
    /// The name shown for the step: what it asks for.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for d in &self.disk {
            parts.push(format!("{} free at {}", bytes(d.free), d.path));
        }
        if let Some(m) = self.memory {
            parts.push(format!("{} memory", bytes(m)));
        }
        if let Some(c) = self.cpus {
            parts.push(format!("{c} CPU{}", if c == 1 { "" } else { "s" }));
        }
        if !self.ports.is_empty() {
            let ports: Vec<String> = self.ports.iter().map(ToString::to_string).collect();
            parts.push(format!(
                "port{} {}",
                if ports.len() == 1 { "" } else { "s" },
                ports.join(", ")
            ));
        }
        parts.join(", ")
    }

    /// The probe's snippet: disk (`stat -f` of the nearest existing parent of each
    /// path), MemTotal, CPUs, the listening TCP sockets on the wanted ports with
    /// their uid, and where the unprivileged ports start.
    fn probe_sh(&self) -> String {
        let mut s = String::new();
        if !self.disk.is_empty() {
            let paths: Vec<String> = self.disk.iter().map(|d| word(&d.path)).collect();
            let _ = writeln!(
                s,
                "set --; for p in {}; do while [ ! -e \"$p\" ]; do case $p in */*) p=${{p%/*}}; [ -n \"$p\" ] || p=/;; *) p=.;; esac; done; set -- \"$@\" \"$p\"; done; stat -f -c 'disk %a %S' -- \"$@\"",
                paths.join(" ")
            );
        }
        if self.memory.is_some() {
            s.push_str(
                "while read -r k v x; do if [ \"$k\" = MemTotal: ]; then echo \"mem $v\"; fi; done < /proc/meminfo\n",
            );
        }
        if self.cpus.is_some() {
            s.push_str("echo \"cpus $(nproc)\"\n");
        }
        if !self.ports.is_empty() {
            let hex: Vec<String> = self.ports.iter().map(|p| format!("{p:04X}")).collect();
            let _ = write!(
                s,
                "for f in /proc/net/tcp /proc/net/tcp6; do [ -r $f ] || continue; while read -r n l r st q t x uid rest; do if [ \"$st\" = 0A ]; then case ${{l##*:}} in {}) echo \"listen ${{l##*:}} $uid\";; esac; fi; done < $f; done\n\
                 if read -r u < /proc/sys/net/ipv4/ip_unprivileged_port_start; then echo \"unprivileged $u\"; fi\n",
                hex.join("|")
            );
        }
        s
    }

    /// Everything that is short, as sentences.
    fn shortfalls(&self, answer: &str, login_uid: Option<u32>) -> Vec<String> {
        let mut short = Vec::new();
        let mut disks = answer.lines().filter_map(|l| l.strip_prefix("disk "));
        for d in &self.disk {
            let free = disks.next().and_then(|l| {
                let mut f = l.split_whitespace().map(|x| x.parse::<u64>().ok());
                Some(f.next()??.saturating_mul(f.next()??))
            });
            match free {
                Some(free) if free >= d.free => {}
                Some(free) => short.push(format!("{} free at {} — needs {}", bytes(free), d.path, bytes(d.free))),
                None => short.push(format!("the free space at {} could not be measured", d.path)),
            }
        }
        let value = |tag: &str| -> Option<u64> {
            answer
                .lines()
                .find_map(|l| l.strip_prefix(tag)?.strip_prefix(' ')?.trim().parse().ok())
        };
        if let Some(want) = self.memory {
            match value("mem").map(|kib| kib * 1024) {
                Some(have) if have >= want => {}
                Some(have) => short.push(format!("{} of memory — needs {}", bytes(have), bytes(want))),
                None => short.push("the memory could not be measured (no /proc/meminfo)".into()),
            }
        }
        if let Some(want) = self.cpus {
            match value("cpus") {
                Some(have) if have >= want => {}
                Some(have) => short.push(format!("{have} CPU{} — needs {want}", if have == 1 { "" } else { "s" })),
                None => short.push("the CPUs could not be counted".into()),
            }
        }
        let unprivileged = value("unprivileged").unwrap_or(1024);
        for &port in &self.ports {
            let hex = format!("{port:04X}");
            let holders: Vec<u32> = answer
                .lines()
                .filter_map(|l| l.strip_prefix("listen "))
                .filter_map(|l| l.split_once(' '))
                .filter(|(p, _)| *p == hex)
                .filter_map(|(_, uid)| uid.trim().parse().ok())
                .collect();
            // The login user's own listener is this deployment's service, running.
            if let Some(other) = holders.iter().find(|&&u| Some(u) != login_uid) {
                short.push(format!(
                    "port {port} is in use (a process of uid {other} listens on it)"
                ));
            } else if u64::from(port) < unprivileged && !self.sudo && login_uid != Some(0) {
                short.push(format!(
                    "port {port} is privileged (below {unprivileged}): only root may listen on it — say `sudo: true` \
                     if the service gets root, or use a port from {unprivileged} up"
                ));
            }
        }
        short
    }
}

impl Primitive for Resources {
    fn kind(&self) -> &'static str {
        "resources"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn probe(&self, step: &StepCtx<'_>, probe: &mut ProbeScript) {
        probe.fact(step.id, "resources", &self.probe_sh());
        if self.sudo && self.ports.iter().any(|&p| p < 1024) {
            super::privilege::probe(probe);
        }
    }

    fn verify(&self, step: &StepCtx<'_>, facts: &Facts) -> Result<Option<Planned>, String> {
        let Some(StepFact::Value(answer)) = facts.step(step.id, "resources") else {
            return Err("the probe did not measure the host (a bug in ordo)".into());
        };
        let short = self.shortfalls(&String::from_utf8_lossy(answer), facts.uid);
        if !short.is_empty() {
            return Err(format!("the host is short: {}", short.join("; ")));
        }
        if self.sudo && self.ports.iter().any(|&p| p < 1024) {
            super::privilege::check(facts)?;
        }
        Ok(None)
    }

    fn apply(&self, _step: &StepCtx<'_>, _planned: &Planned, _facts: &Facts, _script: &mut ApplyScript) {}
}

/// `5 GiB`, `512 MiB`, `1.2 GiB`: what the messages show.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else if (value - value.round()).abs() < 0.05 {
        format!("{:.0} {}", value.round(), UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `"5 GiB"`, `"500M"`, `"1.5 GB"`, `"2048"` (bytes): binary units for K/M/G/T and
/// KiB…, decimal for KB, MB, GB, TB.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim());
    let value: f64 = number.parse().ok()?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return None,
    };
    let bytes = value * factor as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

pub const DOC: Doc = Doc {
    name: "resources",
    signatures: &["resources(#{ disk, memory, cpus, ports, sudo })"],
    summary: "What the component needs from its host, checked in the probe before anything changes: \
              when anything is short on any host, the deploy stops on every host and says what is short \
              where. Sizes are strings with units (\"5 GiB\", \"512 MiB\", \"2 GB\") or numbers of bytes. \
              `memory` is the host's total memory (MemTotal, a little less than the RAM installed). A port \
              that a process of the login user already listens on counts as free: that is this \
              deployment's service, running. The step never changes anything.",
    options: &[
        OptionDoc {
            name: "disk",
            kind: "map or array of maps #{ path, free }",
            text: "free space (for the login user) at `path` (relative to the component's root, or `~`/absolute; \
                   default the root); a path that does not exist yet is measured at its nearest existing parent",
        },
        OptionDoc {
            name: "memory",
            kind: "size",
            text: "total memory of the host",
        },
        OptionDoc {
            name: "cpus",
            kind: "integer",
            text: "CPUs available to the login user (`nproc`)",
        },
        OptionDoc {
            name: "ports",
            kind: "array of integers",
            text: "TCP ports that must be free to listen on; below 1024 (or the host's \
                   ip_unprivileged_port_start) only with `sudo: true`",
        },
        OptionDoc {
            name: "sudo",
            kind: "bool",
            text: "the service gets root, so privileged ports are allowed (and `sudo -n` must work)",
        },
    ],
    example: "c.add(resources(#{ disk: #{ path: \"~\", free: \"5 GiB\" }, memory: \"2 GiB\", cpus: 2, ports: [8080] }));",
};

/// `resources` in [`KINDS`](super::KINDS): it owns no path.
pub const KIND: super::Kind = super::Kind { doc: &DOC, owns: None };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print() {
        assert_eq!(parse_size("5 GiB"), Some(5 << 30));
        assert_eq!(parse_size("5G"), Some(5 << 30));
        assert_eq!(parse_size("1.5 GB"), Some(1_500_000_000));
        assert_eq!(parse_size("2048"), Some(2048));
        assert_eq!(parse_size("5 parsecs"), None);
        assert_eq!(bytes(5 << 30), "5 GiB");
        assert_eq!(bytes(1288490189), "1.2 GiB");
        assert_eq!(bytes(100), "100 bytes");
    }

    #[test]
    fn shortfalls_say_what_and_how_much() {
        let r = Resources {
            name: String::new(),
            disk: vec![Disk {
                path: HostPath::new("~").unwrap(),
                free: 5 << 30,
            }],
            memory: Some(2 << 30),
            cpus: Some(4),
            ports: vec![8080, 8081, 80],
            sudo: false,
        };
        // 1.2 GiB free, 1 GiB of memory, 2 CPUs; 8080 held by root, 8081 by us.
        let answer = "disk 314573 4096\nmem 1048576\ncpus 2\nlisten 1F90 0\nlisten 1F91 1000\nunprivileged 1024\n";
        let short = r.shortfalls(answer, Some(1000));
        assert_eq!(
            short,
            vec![
                "1.2 GiB free at ~ — needs 5 GiB".to_string(),
                "1 GiB of memory — needs 2 GiB".to_string(),
                "2 CPUs — needs 4".to_string(),
                "port 8080 is in use (a process of uid 0 listens on it)".to_string(),
                "port 80 is privileged (below 1024): only root may listen on it — say `sudo: true` if the service \
                 gets root, or use a port from 1024 up"
                    .to_string(),
            ]
        );
        let enough = "disk 13107200 4096\nmem 4194304\ncpus 8\nunprivileged 0\n";
        assert!(r.shortfalls(enough, Some(1000)).is_empty());
    }

    #[test]
    fn the_probe_uses_builtins_for_memory_and_ports() {
        let r = Resources {
            memory: Some(1),
            ports: vec![8080],
            ..Default::default()
        };
        let sh = r.probe_sh();
        assert!(sh.contains("< /proc/meminfo"), "{sh}");
        assert!(sh.contains("case ${l##*:} in 1F90)"), "{sh}");
    }
}
