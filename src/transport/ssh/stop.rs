//! Stopping a remote script that timed out, was cancelled or whose caller gave
//! up: SIGTERM, the grace, SIGKILL to its process group, sent over a fresh channel
//! of the same master (closing the script's own channel would stop nothing:
//! sshd leaves a session without a terminal running).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use openssh::Session;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::failure::describe;
use super::{remote_command, spawn};
use crate::transport::error::Stopped;
use crate::transport::prelude;

/// Stops process group `pgid` on the host over a fresh channel of the same
/// master: closing the script's own channel would not (sshd leaves a session's
/// processes running when it has no terminal).
pub(super) async fn stop_remote(session: Arc<Session>, pgid: u32, privileged: bool, slots: &Semaphore) -> Stopped {
    let _slot = slots.acquire().await.expect("the semaphore is never closed");
    let stop = async {
        let mut child = spawn(&session, remote_command(privileged)).await.map_err(|(lost, e)| {
            if lost {
                "lost the connection".to_string()
            } else {
                describe(&e)
            }
        })?;
        if let Some(mut stdin) = child.stdin().take() {
            let _ = stdin.write_all(prelude::stop_script(pgid).as_bytes()).await;
        }
        let mut said = String::new();
        if let Some(mut stderr) = child.stderr().take() {
            let _ = stderr.read_to_string(&mut said).await;
        }
        match child.wait().await {
            Ok(status) if status.success() => Ok(()),
            Ok(_) => Err(format!("the stop command failed: {}", said.trim())),
            Err(e) => Err(describe(&e)),
        }
    };
    let patience = Duration::from_secs(u64::from(prelude::GRACE_SECS) + 10);
    match tokio::time::timeout(patience, stop).await {
        Ok(Ok(())) => Stopped::All,
        Ok(Err(why)) => Stopped::Unsure(why),
        Err(_) => Stopped::Unsure("the host did not answer the stop command".into()),
    }
}

/// A running script's channel. Dropped while armed (the caller gave up on the
/// future), it stops the script in a task of its own.
pub(super) struct Remote {
    pub(super) session: Arc<Session>,
    pub(super) pgid: Arc<OnceLock<u32>>,
    pub(super) privileged: bool,
    pub(super) stop_slots: Arc<Semaphore>,
    pub(super) armed: bool,
}

impl Drop for Remote {
    fn drop(&mut self) {
        let (Some(&pgid), true, Ok(runtime)) = (self.pgid.get(), self.armed, tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let (session, privileged, slots) = (Arc::clone(&self.session), self.privileged, Arc::clone(&self.stop_slots));
        runtime.spawn(async move { stop_remote(session, pgid, privileged, &slots).await });
    }
}
