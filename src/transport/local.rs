//! The local transport: `sh -s` on this machine as the current user, with `HOME`
//! pointing at the host's home directory, so several "hosts" can live side by side
//! in separate directories (how multi-host plans are tested without SSH).

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::RunOutput;
use super::{BoxFuture, Transport};
use crate::problem::{Kind, Problem};

pub struct Local {
    name: String,
    home: PathBuf,
}

impl Local {
    pub fn new(name: &str, home: PathBuf) -> Self {
        Local {
            name: name.to_string(),
            home,
        }
    }
}

impl Transport for Local {
    /// Nothing to connect. The home directory is created by the first apply that
    /// writes into it (every write does `mkdir -p`), so `ordo plan` leaves no trace.
    fn connect(&self) -> BoxFuture<'_, Result<(), Problem>> {
        Box::pin(async { Ok(()) })
    }

    fn exec(&self, script: String) -> BoxFuture<'_, Result<RunOutput, Problem>> {
        Box::pin(async move {
            let mut child = Command::new("sh")
                .arg("-s")
                .current_dir(if self.home.is_dir() {
                    self.home.as_path()
                } else {
                    std::path::Path::new("/")
                })
                .env("HOME", &self.home)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| Problem::new(Kind::Connect, format!("host `{}`: cannot start sh: {e}", self.name)))?;
            let mut stdin = child.stdin.take().expect("piped stdin");
            // A script that exits early closes its stdin: not an error of ours.
            let _ = stdin.write_all(script.as_bytes()).await;
            drop(stdin);
            let out = child
                .wait_with_output()
                .await
                .map_err(|e| Problem::new(Kind::Connect, format!("host `{}`: sh failed: {e}", self.name)))?;
            Ok(RunOutput {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
