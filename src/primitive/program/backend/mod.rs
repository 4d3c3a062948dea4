//! Process supervisors behind one trait. A backend is a set of shell functions
//! with fixed names — `<name>_start`, `_restart`, `_stop`, `_signal SIG`,
//! `_remove`, and `_why` (what the backend knows about a program that wrote
//! nothing to its log) — that act on the program whose record directory is `$R`
//! (its launcher `$R/run`, its token `$t`, its stop settings `$SIG` and `$STOP`,
//! its name `$N`), and a test that says whether the backend can run on a host
//! (for `backend: "auto"`). Adding a supervisor is one file here and one line in
//! [`ALL`]. Whatever the backend, the program is started through its launcher,
//! which records the program's process (pid, start time, definition hash) and
//! puts `ORDO_PROGRAM=<token>:<definition hash>` into its environment; that is how
//! the probe finds it and knows which definition started it (see
//! `program::identity`), without asking the backend.

mod process;
mod supervisord;
mod systemd;

/// One way of keeping a program running.
pub trait Backend: Sync {
    /// The word scripts use: `backend: "supervisord"`.
    fn name(&self) -> &'static str;
    /// The shell functions of the backend.
    fn functions(&self) -> &'static str;
    /// A shell test that exits 0 when the backend can run on the host; `None`
    /// for the fallback that always can.
    fn available(&self) -> Option<&'static str>;
}

/// Every backend, in the order `auto` tries them.
pub const ALL: &[&dyn Backend] = &[&supervisord::Supervisord, &systemd::Systemd, &process::Process];

pub fn by_name(name: &str) -> Option<&'static dyn Backend> {
    ALL.iter().copied().find(|b| b.name() == name)
}

pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|b| b.name()).collect()
}

/// `pgpick PREF`: the backend to use on this host when the script says `auto`;
/// `auto-sudo` (`sudo: true`) prefers a systemd system unit where systemd runs.
pub(crate) fn pick_sh() -> String {
    let mut s = format!(
        "pgpick() {{\n  case $1 in auto) ;; auto-sudo) if {}; then echo systemd; return; fi ;; *) echo \"$1\"; return ;; esac\n",
        systemd::SYSTEM_AVAILABLE
    );
    for b in ALL {
        match b.available() {
            Some(test) => s.push_str(&format!("  if {test}; then echo {}; return; fi\n", b.name())),
            None => s.push_str(&format!("  echo {}\n", b.name())),
        }
    }
    s.push_str("}\n");
    s
}

/// `pgput GEN FILE [x]`: FILE holds what the function GEN prints (with the rest of
/// the arguments), written whole to `FILE.new` and renamed over FILE — `x`: an
/// executable (mode 700) — unless FILE is a plain file that holds it already (and
/// is executable, with `x`): compared with `cmp` against a copy in `$T`, so GEN
/// runs a second time only when FILE changes. 0: written; 1: unchanged; 2: it
/// could not be written (why in `$O`). The launcher, supervisord's program file
/// and a systemd user unit are rewritten this way.
pub(crate) const PUT_SH: &str = r#"pgput() {
  pf=$1 pd=$2 pm=${3:-}; shift 2; [ $# -eq 0 ] || shift
  "$pf" "$@" > "$T/put" 2>"$O" || return 2
  if [ -f "$pd" ] && [ ! -L "$pd" ] && { [ -z "$pm" ] || [ -x "$pd" ]; } && cmp -s -- "$T/put" "$pd"; then return 1; fi
  { "$pf" "$@" > "$pd.new" && { [ -z "$pm" ] || chmod 700 "$pd.new"; } && mv -f -- "$pd.new" "$pd"; } 2>"$O" || return 2
}
"#;

/// Every backend's functions, for scripts that may meet any of them (removals,
/// a program moving from one backend to another).
pub(crate) fn all_functions() -> String {
    let mut s = String::from(super::identity::IDENTITY_SH);
    s.push_str(super::wait::WAIT_SH);
    s.push_str(PUT_SH);
    for b in ALL {
        s.push_str(b.functions());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    /// Written when missing or different, left when it holds the text already,
    /// an executable rewritten when it lost its mode; 2 and the reason when it
    /// cannot be written.
    #[test]
    fn pgput_writes_only_what_differs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sh = |body: &str| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "T=$(mktemp -d); O=$T/o; {}\ngen() {{ printf '%s\\n' \"$@\"; }}\n{body}; rm -rf \"$T\"",
                    super::PUT_SH
                ))
                .current_dir(dir.path())
                .output()
                .expect("sh");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let put = |args: &str| sh(&format!("pgput gen {args}; echo $?"));
        assert_eq!(put("f '' a b"), "0");
        assert_eq!(std::fs::read_to_string(dir.path().join("f")).unwrap(), "a\nb\n");
        assert_eq!(put("f '' a b"), "1", "unchanged");
        assert_eq!(put("f '' a c"), "0");
        assert_eq!(put("run x go"), "0");
        assert_eq!(put("run x go"), "1");
        std::fs::set_permissions(
            dir.path().join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        assert_eq!(put("run x go"), "0", "no longer executable");
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.path().join("run")).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o700);
        assert!(!dir.path().join("run.new").exists() && !dir.path().join("f.new").exists());
        assert!(
            sh("pgput gen no/such/f '' a; echo \"$? $(cat \"$O\")\"").starts_with("2 "),
            "a file that cannot be written"
        );
    }

    #[test]
    fn no_kill_takes_a_double_dash() {
        // BusyBox `ash`'s `kill` builtin refuses `--` ("invalid number '--'", exit 1),
        // so `kill -SIG -- -PGID || kill -SIG PID` complains and signals twice there.
        // Every `kill` of every backend and of the identity helpers they share.
        let all = super::all_functions();
        for (at, _) in all.match_indices("kill -") {
            let mut words = all[at..].split_whitespace().skip(1);
            let (signal, next) = (words.next(), words.next());
            assert_ne!(
                next,
                Some("--"),
                "`kill {} --`: {}",
                signal.unwrap_or(""),
                all[at..].lines().next().unwrap_or("")
            );
        }
    }
}
