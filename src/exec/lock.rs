//! The deploy lock of a host: `mkdir ~/.ordo/<service>/lock` (atomic) with an `info`
//! file naming the holder. It is taken inside the probe's round trip and released
//! in the last apply script (decision 11). It fails closed: a lock that cannot be
//! written, or a state directory that cannot be created, stops the deploy of that
//! host. A lock held by a process of this machine that is no longer running is
//! reported as stale; `--break-lock` refuses to break a lock whose holder still runs
//! here. A deploy only ever removes a lock carrying its own random token.

use std::fmt::Write;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::history::Writer;
use super::state::state_dir;
use crate::model::HostPath;
use crate::shell::{quote_always, word};

/// How a deploy treats the hosts' locks and recorded states (`ordo plan` takes no lock).
#[derive(Clone)]
pub struct Locking {
    pub info: LockInfo,
    pub break_lock: bool,
    /// Deploy onto hosts that another environment deployed last.
    pub switch_environment: bool,
    /// The run's deploy history: its begin line goes with the lock.
    pub history: Option<Arc<Writer>>,
}

/// Who holds a host's deploy lock; stored in `~/.ordo/<service>/lock/info`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    /// `user@machine`.
    pub holder: String,
    pub pid: u32,
    pub environment: String,
    pub since: String,
    /// Random per run: a deploy only ever removes its own lock. Written last, so a
    /// lock whose info has the token was written completely.
    pub token: String,
}

impl LockInfo {
    pub fn describe(&self) -> String {
        format!(
            "{} (pid {}, environment {}) since {}",
            crate::text::visible(&self.holder, false),
            self.pid,
            crate::text::visible(&self.environment, false),
            crate::text::visible(&self.since, false)
        )
    }

    /// `Some(false)` when the holder ran on this machine and its process is gone;
    /// `None` when it ran elsewhere (nothing can be said from here).
    pub fn alive_here(&self) -> Option<bool> {
        let machine = self.holder.rsplit_once('@').map(|(_, m)| m)?;
        (machine == crate::sys::machine()).then(|| std::path::Path::new(&format!("/proc/{}", self.pid)).exists())
    }
}

/// The lock as the probe found (and possibly took) it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LockStatus {
    #[default]
    Free,
    /// Another deploy holds it (nothing was probed).
    Held(Option<LockInfo>),
    /// We took it.
    Acquired,
    /// It could not be taken (the state directory or the info file could not be
    /// written); with the host's error output.
    Failed(String),
}

pub(crate) fn lock_dir(service: &str) -> HostPath {
    state_dir(service).join("lock")
}

/// The probe's first lines: take the lock (`info` given) or just report it.
pub(crate) fn probe_head(service: &str, info: Option<&LockInfo>) -> String {
    let l = word(&lock_dir(service));
    let Some(info) = info else {
        return format!("if [ -d {l} ]; then printf 'lock info '; base64 -w0 < {l}/info 2>/dev/null; echo; fi\n");
    };
    let json = serde_json::to_vec(info).expect("lock info serialises");
    // The info is written by the `printf` builtin (no process); only when that
    // fails, again through `cat`, whose message names the cause ("No space left on
    // device") where the builtin says just "I/O error".
    let mut s = String::new();
    let _ = write!(
        s,
        "[ -d \"$HOME\" ] || {{ umask 022; mkdir -p -- \"$HOME\"; umask 077; }}
cd -- \"$HOME\" 2>\"$T/lock\" || {{ printf 'lock fail '; base64 -w0 < \"$T/lock\"; echo; echo end; exit 0; }}
if [ ! -d {d} ] && ! mkdir -p -- {d} 2>\"$T/lock\"; then printf 'lock fail '; base64 -w0 < \"$T/lock\"; echo; echo end; exit 0; fi
if mkdir -- {l} 2>/dev/null; then
printf '%s' {body} > {l}/info 2>/dev/null || printf '%s' {body} | cat > {l}/info 2>\"$T/lock\"
{check} echo 'lock ok';; *) rm -rf -- {l}; printf 'lock fail '; base64 -w0 < \"$T/lock\"; echo; echo end; exit 0;; esac
else printf 'lock held '; base64 -w0 < {l}/info 2>/dev/null; echo; echo end; exit 0; fi
",
        d = word(&state_dir(service)),
        body = quote_always(std::str::from_utf8(&json).expect("JSON is UTF-8")),
        check = has_token(&l, &info.token, "2>>\"$T/lock\""),
    );
    s
}

/// Removes another run's lock (`--break-lock`), reporting whose it was.
pub(crate) fn break_script(service: &str) -> String {
    let l = word(&lock_dir(service));
    format!(
        "cd -- \"${{HOME%/}}\" || exit 97\nif [ -d {l} ]; then printf 'lock broke '; base64 -w0 < {l}/info 2>/dev/null; echo; rm -rf -- {l}; fi\n"
    )
}

/// Removes the lock if it is ours (its info carries our token), after running
/// `before` (lines that must run under the lock: the end of the deploy history's
/// entry). Prints `unlock ok` only when it was removed.
pub(crate) fn unlock_lines(service: &str, token: &str, before: &str) -> String {
    let l = word(&lock_dir(service));
    format!(
        "{check}\n{before}rm -rf -- {l} && echo 'unlock ok';; *) if [ -d {l} ]; then echo 'unlock other'; else echo 'unlock gone'; fi;; esac\n",
        check = has_token(&l, token, "2>/dev/null")
    )
}

/// A retired host's last lines: when the lock is ours, the service's whole state
/// directory goes — the lock with it — and then `~/.ordo` if nothing else is in it
/// (decision 56). Prints `state ok` and `unlock ok` then; otherwise `state fail` and
/// what became of the lock, as [`unlock_lines`] does.
pub(crate) fn teardown_lines(service: &str, token: &str) -> String {
    let l = word(&lock_dir(service));
    let d = word(&state_dir(service));
    format!(
        "{check} if rm -rf -- {d}; then rmdir -- ./.ordo 2>/dev/null; echo 'state ok'; echo 'unlock ok'; else echo 'state fail'; rm -rf -- {l} && echo 'unlock ok'; fi;; *) echo 'state fail'; if [ -d {l} ]; then echo 'unlock other'; else echo 'unlock gone'; fi;; esac\n",
        check = has_token(&l, token, "2>/dev/null")
    )
}

/// The start of a `case` whose first branch runs when the lock's info (`l`, a
/// word) carries `token` (written last: the info is complete). The `read` builtin,
/// not `grep`: no process. The info is one line of JSON; `errors` redirects the
/// shell's message when it cannot be read.
fn has_token(l: &str, token: &str, errors: &str) -> String {
    assert!(!token.is_empty(), "a lock token is never empty");
    format!(
        "x=; {{ IFS= read -r x || :; }} {errors} < {l}/info; case $x in *{}*)",
        quote_always(token)
    )
}

/// A standalone unlock script (when no apply script carries it).
pub(crate) fn unlock_script(service: &str, token: &str, before: &str) -> String {
    format!(
        "cd -- \"${{HOME%/}}\" || exit 97\n{}",
        unlock_lines(service, token, before)
    )
}

/// Reads the lock lines of a probe (or break script).
pub(crate) fn status(lines: &[(String, String)]) -> (LockStatus, Option<Option<LockInfo>>) {
    let info = |rest: &str| crate::shell::decode(rest).and_then(|b| serde_json::from_slice::<LockInfo>(&b).ok());
    let mut status = LockStatus::Free;
    let mut broke = None;
    for (tag, rest) in lines.iter().filter(|(t, _)| t == "lock") {
        let (what, rest) = rest.split_once(' ').unwrap_or((rest.as_str(), ""));
        match what {
            "ok" => status = LockStatus::Acquired,
            "held" | "info" => status = LockStatus::Held(info(rest)),
            "broke" => broke = Some(info(rest)),
            "fail" => {
                let why = crate::shell::decode(rest)
                    .map(|b| crate::text::visible_bytes(&b, true))
                    .unwrap_or_default();
                status = LockStatus::Failed(why.trim().to_string());
            }
            _ => {}
        }
        let _ = tag;
    }
    (status, broke)
}

/// Whether an unlock script's output confirms the lock is no longer ours.
pub(crate) fn released(stdout: &str) -> bool {
    stdout
        .lines()
        .any(|l| matches!(l, "unlock ok" | "unlock other" | "unlock gone"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(holder: &str, pid: u32) -> LockInfo {
        LockInfo {
            holder: holder.into(),
            pid,
            environment: "prod".into(),
            since: "now".into(),
            token: "t0k".into(),
        }
    }

    #[test]
    fn a_dead_holder_on_this_machine_is_stale() {
        let here = crate::sys::operator();
        assert_eq!(info(&here, std::process::id()).alive_here(), Some(true));
        assert_eq!(info(&here, u32::MAX - 1).alive_here(), Some(false));
        assert_eq!(info("someone@elsewhere.invalid", 1).alive_here(), None);
    }

    #[test]
    fn reads_lock_lines() {
        let json = serde_json::to_vec(&info("a@b", 1)).unwrap();
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(json);
        let (s, _) = status(&[("lock".into(), format!("held {b}"))]);
        assert_eq!(s, LockStatus::Held(Some(info("a@b", 1))));
        let (s, _) = status(&[("lock".into(), "ok".into())]);
        assert_eq!(s, LockStatus::Acquired);
        let (s, _) = status(&[("lock".into(), "fail bm8gc3BhY2U=".into())]);
        assert_eq!(s, LockStatus::Failed("no space".into()));
        assert!(released("x\nunlock ok\n") && !released("unlock"));
    }
}
