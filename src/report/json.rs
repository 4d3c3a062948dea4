//! `--format json`: one JSON object per event and line, on stdout — nothing else,
//! errors included (as `problem` events). The event names and fields are listed in
//! `docs/cli.md`.

use std::io::Write;
use std::sync::Mutex;

use super::{Event, Reporter};

pub struct Json {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Json {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Json { out: Mutex::new(out) }
    }
}

impl Reporter for Json {
    fn event(&self, event: &Event) {
        let mut out = self.out.lock().expect("json output");
        // A closed pipe (`| head`) is not our problem: drop the rest quietly.
        if serde_json::to_writer(&mut *out, event).is_ok() {
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        }
    }
}
