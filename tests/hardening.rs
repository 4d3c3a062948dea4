//! Regression tests for "safe under failure and attack" (issue 7): conflicts caught
//! at check time, locks that always release, no write window for private files,
//! nothing forged or half-done. Each test is named after what it guards; the
//! host-side ones run over real sshd hosts, where they matter most.
//!
//! | module | what |
//! |---|---|
//! | `check_time` | what `ordo check` refuses: two steps on one path, unrepresentable paths; `plan --exit-code` |
//! | `first_deploy` | guards, `ordo run` and custom steps on a host never deployed; custom steps' markers; environments |
//! | `removal` | what ordo created and no longer declares is removed, nothing else |
//! | `locks` | the deploy lock: errors after it was taken, signals, a full disk, stale holders |
//! | `host_files` | writing on hostile ground: no write window, unpredictable staging, forged probe lines, races since the plan, ownership |
//! | `many_files` | hosts with a thousand managed files with long paths, local and over ssh |
//! | `shown` | what reaches the terminal: private contents, control characters; bounded controller memory; timeouts |

mod check_time;
pub(crate) mod first_deploy;
pub(crate) mod host_files;
pub(crate) mod locks;
pub(crate) mod many_files;
pub(crate) mod removal;
pub(crate) mod shown;

use crate::support::Test;
use crate::support::sshd::TestHosts;

/// A service `s` whose one component `x` declares `steps` (Rhai statements, `c`
/// in scope).
fn service(steps: &str) -> String {
    format!("let s = service(\"s\");\ns.component(\"x\", |c| {{\n{steps}}});\n")
}

/// Environment `prod` with component `x` of [`service`]`(steps)` on each ssh alias.
fn over_ssh(hosts: &TestHosts, aliases: &[&str], steps: &str) -> Test {
    Test::new()
        .service(&service(steps))
        .environment("prod")
        .ssh_hosts(hosts, aliases)
        .place("x")
}

/// `chown -R user: path` (the tests run as root; test hosts' users own their files).
fn chown_to(user: &str, path: &std::path::Path) {
    let status = std::process::Command::new("chown")
        .arg("-R")
        .arg(format!("{user}:"))
        .arg(path)
        .status()
        .expect("chown");
    assert!(status.success(), "chown -R {user}: {}", path.display());
}
