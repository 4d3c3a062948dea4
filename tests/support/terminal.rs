//! `Terminal`: the real `ordo` binary in a real pseudo-terminal, driven through
//! tmux (a private server per test): keys in, the screen out. For what only a
//! terminal has — the line editor, completion, history, Ctrl-C.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Terminal {
    socket: String,
}

/// How long a test waits for text to appear on the screen.
const PATIENCE: Duration = Duration::from_secs(20);

impl Terminal {
    /// Starts `ordo ARGS` in `dir` in a 160×50 terminal, with `env` set; the
    /// window stays open after ordo exits (the screen says `[exited N]`).
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Terminal {
        Terminal::start_sized(dir, args, env, 160, 50)
    }

    /// [`Terminal::start`] in a terminal of `columns`×`rows`.
    pub fn start_sized(dir: &Path, args: &[&str], env: &[(&str, &str)], columns: u16, rows: u16) -> Terminal {
        assert!(
            Command::new("tmux")
                .arg("-V")
                .output()
                .is_ok_and(|o| o.status.success()),
            "tmux is missing: the terminal tests need it (apt-get install -y tmux; test.sh installs it)"
        );
        let socket = format!("ordo-test-{}-{}", std::process::id(), super::sshd::random_name(8));
        let mut command = format!("cd {} &&", shell_quote(&dir.display().to_string()));
        for (k, v) in env {
            command.push_str(&format!(" {k}={}", shell_quote(v)));
        }
        command.push_str(&format!(" NO_COLOR=1 {}", shell_quote(env!("CARGO_BIN_EXE_ordo"))));
        for a in args {
            command.push_str(&format!(" {}", shell_quote(a)));
        }
        command.push_str("; echo \"[exited $?]\"; sleep 600");
        let t = Terminal { socket };
        let (x, y) = (columns.to_string(), rows.to_string());
        t.tmux(&["new-session", "-d", "-s", "t", "-x", &x, "-y", &y, &command]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` literally, and waits until the screen shows that something
    /// arrived. A line editor may swallow keys that come while it sets up its line
    /// (rustyline asks the terminal where the cursor is and reads the answer), more
    /// often on a loaded machine: when nothing at all shows up, the text is sent once
    /// more.
    pub fn type_text(&self, text: &str) {
        // tmux reads a `;` ending an argument as the end of its command.
        let escaped = match text.strip_suffix(';') {
            Some(rest) => format!("{rest}\\;"),
            None => text.to_string(),
        };
        let before = self.screen();
        for _ in 0..2 {
            self.tmux(&["send-keys", "-t", "t", "-l", &escaped]);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if self.screen() != before {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Presses keys by tmux name: `Enter`, `Tab`, `C-c`, `C-d`, `Up`.
    pub fn press(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "t", key]);
    }

    /// The screen and its scrollback, as text.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-1000", "-t", "t"])
    }

    /// Waits until `text` is on the screen `times` times (or more); returns it.
    #[track_caller]
    pub fn wait_for_n(&self, text: &str, times: usize) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= times {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} did not appear {times} time(s) on the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[track_caller]
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_for_n(text, 1)
    }

    /// Waits until the last line on the screen is `prompt` with nothing typed
    /// after it: the program reads again. Keys sent before that may be lost (a line
    /// editor entering raw mode discards what was typed ahead).
    #[track_caller]
    pub fn wait_for_prompt(&self, prompt: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            let last = screen.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
            if last.trim_end() == prompt.trim_end() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the prompt {prompt:?} did not come back:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
