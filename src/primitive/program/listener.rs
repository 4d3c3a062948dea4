//! Who answered the health check. An `http_check` or `tcp_check` passes as soon as
//! *something* answers at its address: a server of another user that holds the
//! program's port answers just as well, while the program itself failed to bind
//! and exited. So after a start, a passing check of an address of the host itself
//! also needs the listening socket the connection reached to belong to the
//! program: the socket's inode (from `/proc/net/tcp` and `tcp6`) among the open
//! files (`/proc/<pid>/fd`) of the program's process, its descendants, or a process
//! carrying its token.
//!
//! Which socket a connection reaches is decided the way the kernel does: a socket
//! bound to the exact address first (an IPv4 one before an IPv4-mapped IPv6 one),
//! then the wildcard (`0.0.0.0` before `::`). The address is of this host when it is
//! a loopback or unspecified one, `localhost`, one a socket is bound to, or one
//! listed as local in `/proc/net/fib_trie` (IPv4) or `/proc/net/if_inet6` (IPv6).
//! A check of a host name other than `localhost` is not traced (ordo would have to
//! resolve it as the check did); nor is one whose address no socket here listens
//! on — another host answered it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::health::{Check, Health};
use crate::shell::quote_always;

/// The arguments of `pgsock` for the check, or `None` when it cannot be traced to a
/// socket of this host (a command check, or a host name).
pub(super) fn args(health: &Health) -> Option<String> {
    let (host, port) = match &health.check {
        Check::Http { url, .. } => http_authority(url)?,
        Check::Tcp { host, port } => (host.trim_start_matches('[').trim_end_matches(']').to_string(), *port),
        Check::Command { .. } => return None,
    };
    let (v4, v6): (Option<Ipv4Addr>, Option<Ipv6Addr>) = if host.eq_ignore_ascii_case("localhost") {
        (Some(Ipv4Addr::LOCALHOST), Some(Ipv6Addr::LOCALHOST))
    } else {
        match host.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => (Some(a), None),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(m) => (Some(m), None),
                None => (None, Some(a)),
            },
        }
    };
    let dash = || "-".to_string();
    let (a4, m6, d4) = match v4 {
        Some(a) => (
            hex_forms(&a.octets()),
            hex_forms(&a.to_ipv6_mapped().octets()),
            if a.is_loopback() || a.is_unspecified() {
                dash()
            } else {
                a.to_string()
            },
        ),
        None => (dash(), dash(), dash()),
    };
    let (a6, h6) = match v6 {
        Some(a) => (
            hex_forms(&a.octets()),
            if a.is_loopback() || a.is_unspecified() {
                dash()
            } else {
                a.octets().iter().map(|b| format!("{b:02x}")).collect()
            },
        ),
        None => (dash(), dash()),
    };
    Some(format!(
        "{port:04X} {a4} {m6} {a6} {} {h6} {}",
        quote_always(&d4),
        quote_always(&format!("{host}:{port}"))
    ))
}

/// An address as `/proc/net/tcp*` prints it: each 32-bit word as a number of the
/// host's byte order, in hexadecimal. Both orders, comma-separated: the controller
/// does not know the host's.
fn hex_forms(bytes: &[u8]) -> String {
    let words = |f: fn([u8; 4]) -> u32| -> String {
        bytes
            .chunks(4)
            .map(|c| format!("{:08X}", f([c[0], c[1], c[2], c[3]])))
            .collect()
    };
    format!("{},{}", words(u32::from_le_bytes), words(u32::from_be_bytes))
}

/// Host and port of an `http://` or `https://` URL (the port defaults to the
/// scheme's).
fn http_authority(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default)),
    }
}

/// `pgsk`: whether the program `MP` or one of its children has a socket open
/// (`test -S` of its open files, which `stat` follows to the socket), or it
/// cannot be told (files not readable, no `/proc/<pid>/task/<pid>/children`).
///
/// `pgsock PORT A4 M6 A6 D4 H6 WHERE`: every socket a connection to the check's
/// address reaches on this host belongs to the program (`pgtree`); when one does
/// not, it says so in `$T/hs` and returns 1. The open files holding those sockets
/// are found by GNU `find -lname … -printf`, or on BusyBox (`$ub`; its `find` has
/// neither) by `stat -c '%N'` of every fd link, which awk filters — one process
/// each way (`pgfd DIR…`): first among the program's own open files, where a
/// server's listening socket almost always is, and only when one is not there
/// among every process's (on a busy host, thousands of links; `pgheld` checks
/// who holds them).
/// `A4`/`M6`/`A6`: the address's forms in `/proc/net/tcp`, as IPv4-mapped in
/// `tcp6`, in `tcp6` (`-`: no such form); `D4`/`H6`: the address to look up in the
/// host's local IPv4 / IPv6 addresses (`-`: loopback or unspecified, always local).
/// Reading `/proc/net/tcp*` through walks the kernel's whole table of connections
/// (a few ms each on a host with much memory, whatever it holds), so each is read
/// only up to its last listening socket — the kernel lists every listening socket
/// before the first connection (kernels before 4.4 listed half-open ones, state
/// `03`, among them: those do not end the list) —, and `tcp6` only when it can
/// change the answer:
/// for an IPv6 address, or when no socket is bound to the exact IPv4 address.
pub(super) const SOCKET_SH: &str = r#"pgsk() {
  [ -r "/proc/$MP/fd" ] && [ -r "/proc/$MP/task/$MP/children" ] || return 0
  for f in "/proc/$MP/fd/"*; do [ ! -S "$f" ] || return 0; done
  c=; { read -r c < "/proc/$MP/task/$MP/children"; } 2>/dev/null
  for q in $c; do
    [ -r "/proc/$q/fd" ] || return 0
    for f in "/proc/$q/fd/"*; do [ ! -S "$f" ] || return 0; done
  done
  return 1
}
pgsock() {
  w=$7 f= t6=-
  [ "$5" = - ] || [ ! -r /proc/net/fib_trie ] || f=/proc/net/fib_trie
  [ "$6" = - ] || [ ! -r /proc/net/if_inet6 ] || f="$f /proc/net/if_inet6"
  [ "$2" = - ] || [ ! -r /proc/net/tcp ] || f="$f /proc/net/tcp"
  [ ! -r /proc/net/tcp6 ] || t6=/proc/net/tcp6
  awk -v p="$1" -v a4="$2" -v m6="$3" -v a6="$4" -v d4="$5" -v h6="$6" -v t6="$t6" '
    function has(list, a) { return index("," list ",", "," a ",") > 0 }
    function row(v6, la, st, uid, ino,    n, a, s) {
      if (st != "0A") return
      n = index(la, ":"); a = substr(la, 1, n - 1); if (substr(la, n + 1) != p) return
      s = ino " " uid "\n"
      if (v6) {
        if (a == "00000000000000000000000000000000") w6 = w6 s
        else { if (has(m6, a)) e6m = e6m s; if (has(a6, a)) e6 = e6 s }
      } else if (a == "00000000") w4 = w4 s
      else if (has(a4, a)) e4 = e4 s
    }
    FILENAME ~ /fib_trie$/ { if ($1 == "|--") ip = $2; else if (ip == d4 && $1 == "/32" && $3 == "LOCAL") l4 = 1; next }
    FILENAME ~ /if_inet6$/ { if ($1 == h6) l6 = 1; next }
    FNR > 1 && $4 != "0A" && $4 != "03" { exit }
    { row(0, $2, $4, $8, $10) }
    END {
      if (t6 != "-" && (a6 != "-" || e4 == "")) while ((getline x < t6) > 0) { split(x, y, " "); if (++n6 > 1 && y[4] != "0A" && y[4] != "03") break; row(1, y[2], y[4], y[8], y[10]) }
      if (a4 != "-") {
        if (e4 != "") printf "%s", e4; else if (e6m != "") printf "%s", e6m
        else if (d4 == "-" || l4) { if (w4 != "") printf "%s", w4; else printf "%s", w6 }
      }
      if (a6 != "-") { if (e6 != "") printf "%s", e6; else if (h6 == "-" || l6) printf "%s", w6 }
    }' ${f:-/dev/null} > "$T/ls" 2>/dev/null
  [ -s "$T/ls" ] || return 0
  pgfd "/proc/$MP/fd" && pgheld quiet && return 0
  pgfd /proc/[0-9]*/fd; pgheld
}
pgfd() {
  if [ -n "$ub" ]; then
    find "$@" -maxdepth 1 -type l -exec stat -c '%N' {} + 2>/dev/null | awk -F "'" '
      NR == FNR { split($0, a, " "); w["socket:[" a[1] "]"] = 1; next }
      ($4 in w) { d = $2; sub(/\/[0-9]+$/, "", d); print d, $4 }' "$T/ls" - > "$T/lh"
  else
    q=; while read -r i u; do q="$q -o -lname socket:\[$i\]"; done < "$T/ls"
    set -f; find "$@" -maxdepth 1 \( ${q# -o } \) -printf '%h %l\n' > "$T/lh" 2>/dev/null; set +f
  fi
}
pgheld() {
  while read -r i u; do
    ok=
    while read -r d x; do
      [ "$x" = "socket:[$i]" ] || continue
      d=${d#/proc/}; if pgtree "${d%/fd}"; then ok=1; break; fi
    done < "$T/lh"
    if [ -z "$ok" ]; then
      [ -z "${1:-}" ] || return 1
      x=$(getent passwd "$u" 2>/dev/null | cut -d: -f1)
      echo "but $N did not answer it: the socket listening at $w belongs to another process (of user ${x:-$u}, uid $u)" > "$T/hs"
      return 1
    fi
  done < "$T/ls"
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::program::health::{Check, Health};
    use std::os::unix::process::CommandExt;

    /// `pgsk` for the process `pid`: "yes" when it (or a child) has a socket open.
    fn has_socket(pid: u32) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{SOCKET_SH}MP={pid}; if pgsk; then echo yes; else echo no; fi"))
            .output()
            .expect("sh");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A listening socket, bound by python with SO_REUSEPORT (so that the
    /// program's and another process's can share a port), until killed.
    fn listen(addr: &str, port: u16) -> std::process::Child {
        let family = if addr.contains(':') { "AF_INET6" } else { "AF_INET" };
        let code = format!(
            "import socket, time\n\
             s = socket.socket(socket.{family})\n\
             s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n\
             if socket.{family} == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n\
             s.bind(('{addr}', {port})); s.listen(); print('up', flush=True); time.sleep(60)"
        );
        let mut child = std::process::Command::new("python3")
            .args(["-c", &code])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        assert_eq!(line.trim(), "up", "python could not listen at {addr}:{port}");
        child
    }

    /// `pgsock` for a check of `url`, the program being `pid`: "ours" or what it said.
    fn answered_by(pid: u32, url: &str) -> String {
        let health = Health::new(Check::Http {
            url: url.into(),
            status: 200,
            body: None,
        });
        let script = format!(
            "T=$(mktemp -d); N=app t=; ub=; {}{SOCKET_SH}MP={pid}; pgst $MP; MS=$PT\n\
             if pgsock {}; then echo ours; else cat \"$T/hs\"; fi; rm -rf \"$T\"",
            crate::primitive::program::identity::IDENTITY_SH,
            args(&health).expect("traced")
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .expect("sh");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The socket a connection reaches is the kernel's pick: an exact IPv4
    /// binding before the wildcard, a dual-stack IPv6 wildcard when nothing IPv4
    /// listens — `tcp6` is read only when it can matter, and still is then.
    #[test]
    fn the_socket_a_check_reaches_is_found_in_tcp_and_tcp6() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let v4 = format!("http://127.0.0.1:{port}/");
        let mut ours = listen("127.0.0.1", port);
        assert_eq!(answered_by(ours.id(), &v4), "ours");
        assert_eq!(answered_by(ours.id(), &format!("http://localhost:{port}/")), "ours");
        let mut theirs = listen("::", port);
        assert_eq!(answered_by(ours.id(), &v4), "ours", "the exact IPv4 binding wins");
        let _ = ours.kill();
        let _ = ours.wait();
        let said = answered_by(ours.id(), &v4);
        assert!(said.contains("belongs to another process"), "{said}");
        assert_eq!(
            answered_by(theirs.id(), &v4),
            "ours",
            "the dual-stack wildcard, from tcp6"
        );
        let mut wild = listen("0.0.0.0", port);
        assert_eq!(
            answered_by(wild.id(), &v4),
            "ours",
            "the IPv4 wildcard before the IPv6 one"
        );
        let mut exact = listen("127.0.0.1", port);
        let said = answered_by(wild.id(), &v4);
        assert!(
            said.contains("belongs to another process"),
            "an exact binding of another process wins: {said}"
        );
        for c in [&mut theirs, &mut wild, &mut exact] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The first interval's extra attempts wait for a socket of the program or of
    /// a child of it (a wrapper that starts the server), and only then connect.
    #[test]
    fn a_program_has_a_socket_once_it_or_a_child_opens_one() {
        let listen = "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); time.sleep(30)";
        let wait_for_socket = |pid: u32| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while has_socket(pid) != "yes" {
                assert!(std::time::Instant::now() < deadline, "no socket seen for {pid}");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        };
        let mut plain = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        assert_eq!(has_socket(plain.id()), "no");
        let mut server = std::process::Command::new("python3")
            .args(["-c", listen])
            .spawn()
            .expect("python3");
        wait_for_socket(server.id());
        let mut wrapper = std::process::Command::new("sh")
            .args(["-c", &format!("python3 -c \"{listen}\" & wait")])
            .process_group(0)
            .spawn()
            .expect("sh");
        wait_for_socket(wrapper.id());
        assert_eq!(
            has_socket(4_000_000),
            "yes",
            "a process that cannot be looked at is not waited for"
        );
        // Not `kill -TERM -PGID`: procps-ng 4.0.2's kill reads that as `kill(-1)`
        // (its first digit), which as root signals every process there is.
        if let Some(group) = i32::try_from(wrapper.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
        }
        for c in [&mut plain, &mut server, &mut wrapper] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn http(url: &str) -> Option<String> {
        args(&Health::new(Check::Http {
            url: url.into(),
            status: 200,
            body: None,
        }))
    }

    #[test]
    fn loopback_addresses_are_traced_in_both_byte_orders() {
        assert_eq!(
            http("http://127.0.0.1:8000/health").as_deref(),
            Some(
                "1F40 0100007F,7F000001 0000000000000000FFFF00000100007F,00000000000000000000FFFF7F000001 - '-' - '127.0.0.1:8000'"
            )
        );
        let both = http("http://localhost/").unwrap();
        assert!(both.starts_with("0050 0100007F,7F000001 "), "{both}");
        assert!(
            both.contains(" 00000000000000000000000001000000,00000000000000000000000000000001 '-' - "),
            "{both}"
        );
        let v6 = http("https://[::1]/x").unwrap();
        assert!(v6.starts_with("01BB - - "), "{v6}");
    }

    #[test]
    fn other_addresses_are_looked_up_names_are_not_traced() {
        let tcp = args(&Health::new(Check::Tcp {
            host: "10.0.0.5".into(),
            port: 5432,
        }))
        .unwrap();
        assert!(tcp.contains(" '10.0.0.5' - '10.0.0.5:5432'"), "{tcp}");
        let v6 = http("http://[fd00::2]:81/").unwrap();
        assert!(v6.contains(" '-' fd000000000000000000000000000002 "), "{v6}");
        assert_eq!(http("http://web1.example.com:8000/"), None);
        assert_eq!(
            args(&Health::new(Check::Command {
                run: "true".into(),
                cwd: None
            })),
            None
        );
    }
}
