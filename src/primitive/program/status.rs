//! What the probe finds out about a program, in one line of shell per program:
//! the backend it was started under (or the one `auto` picks here), whether it
//! runs — its process as the launcher recorded it, pid and start time (see
//! [`super::identity`]) — from which definition, and whether its health check
//! passes. A program running as recorded costs the probe no process but its health
//! check's.

use crate::primitive::StepCtx;
use crate::shell::probe::{Facts, StepFact};

/// What the probe found out about a program.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Status {
    /// The backend recorded when ordo last started it.
    pub(super) recorded: Option<String>,
    /// The backend `auto` picks on this host now.
    pub(super) detected: Option<String>,
    /// (pid, definition hash) of the running instance.
    pub(super) running: Option<(u32, String)>,
    /// `Some(Err(answer))`: the health check failed.
    pub(super) health: Option<Result<(), String>>,
    pub(super) linger_off: bool,
    /// A file of its record is there but cannot be read: why.
    pub(super) unreadable: Option<String>,
}

impl Status {
    pub(super) fn parse(facts: &Facts, step: &StepCtx<'_>) -> Status {
        let Some(StepFact::Value(bytes)) = facts.step(step.id, "program") else {
            return Status::default();
        };
        let mut st = Status::default();
        for line in String::from_utf8_lossy(bytes).lines() {
            let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
            match tag {
                "recorded" => st.recorded = Some(rest.to_string()),
                "detected" => st.detected = Some(rest.to_string()),
                "running" => {
                    if let Some((pid, hash)) = rest.split_once(' ')
                        && let Ok(pid) = pid.parse()
                    {
                        st.running = Some((pid, hash.to_string()));
                    }
                }
                "health" if rest == "ok" => st.health = Some(Ok(())),
                "health" => {
                    let answer = rest
                        .strip_prefix("fail ")
                        .and_then(crate::shell::decode)
                        .map(|b| crate::text::visible(String::from_utf8_lossy(&b).trim(), true))
                        .unwrap_or_default();
                    st.health = Some(Err(answer));
                }
                "linger" => st.linger_off = rest == "no",
                "unreadable" => {
                    let why = crate::shell::decode(rest).unwrap_or_default();
                    st.unreadable = Some(crate::text::visible(String::from_utf8_lossy(&why).trim(), false));
                }
                _ => {}
            }
        }
        st
    }
}

/// `pgs REC HASH PREF HEALTH…`: what the probe reports about one program (see
/// [`Status`]). The health check runs only when the definition that runs is the
/// current one.
pub(super) const STATUS_SH: &str = r#"pgs() {
  pgrr "$1" backend token > "$T/pgr" || { printf 'unreadable '; base64 -w0 < "$T/pgr"; echo; return 0; }
  b=; [ ! -f "$1/backend" ] || read -r b < "$1/backend"
  if [ -n "$b" ]; then echo "recorded $b"; else echo "detected $(pgpick "$3")"; fi
  t=; [ ! -f "$1/token" ] || read -r t < "$1/token"
  [ -n "$t" ] || return 0
  pgwho "$1" "$t" || return 0
  echo "running $MP $MH"
  if [ "$MH" = "$2" ] && [ "$4" != none ]; then
    if hc "$4" "$5" "$6" "$7" "$8"; then echo "health ok"; else printf 'health fail '; base64 -w0 < "$T/hc"; echo; fi
  fi
  if [ "${b:-$(pgpick "$3")}" = systemd ] && [ ! -f "$1/system" ] && [ "$(loginctl show-user "$(id -un)" -p Linger --value 2>/dev/null)" = no ]; then echo "linger no"; fi
}
"#;
