//! Connecting to the targeted hosts (all of them, before anything changes) and
//! releasing their deploy locks at the end; the bridge that lets custom steps run
//! commands from a blocking thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::apply;
use super::state::LockInfo;
use crate::model::{HostIo, Model, RunOutput};
use crate::problem::{Problem, Problems};
use crate::transport::{self, Connection};

/// Hosts connected for one run; index = host index, `None` = not targeted.
pub struct Hosts {
    pub transports: Vec<Option<Arc<Connection>>>,
    /// Hosts whose deploy lock this run holds.
    pub(super) locked: Vec<Arc<AtomicBool>>,
}

impl Hosts {
    pub fn targeted(&self) -> impl Iterator<Item = (usize, &Arc<Connection>)> {
        self.transports
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (i, t)))
    }

    pub async fn close(&self) {
        for (_, t) in self.targeted() {
            t.close().await;
        }
    }
}

/// How many hosts are connected at the same time.
const MAX_PARALLEL_CONNECTS: usize = 32;

/// Connects to every selected host in parallel; any failure stops the run before a
/// single change is made, naming every host that failed.
pub async fn connect(model: &Model, selected: &[bool], ssh: &transport::SshOptions) -> Result<Hosts, Problems> {
    let mut transports: Vec<Option<Arc<Connection>>> = vec![None; model.hosts.len()];
    let mut problems = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    // Bounded: hundreds of simultaneous SSH handshakes trip sshd's MaxStartups on
    // jump hosts and swamp the controller's CPU.
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_PARALLEL_CONNECTS));
    for (i, host) in model.hosts.iter().enumerate() {
        if !selected[i] {
            continue;
        }
        match transport::for_host(host, ssh) {
            Ok(t) => {
                transports[i] = Some(t.clone());
                let handshakes = handshakes.clone();
                tasks.spawn(async move {
                    let _permit = handshakes.acquire_owned().await;
                    (i, t.connect().await)
                });
            }
            Err(p) => problems.push(p),
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((_, Err(p))) = done {
            problems.push(p);
        }
    }
    if problems.is_empty() {
        let locked = (0..model.hosts.len())
            .map(|_| Arc::new(AtomicBool::new(false)))
            .collect();
        Ok(Hosts { transports, locked })
    } else {
        Err(Problems(problems))
    }
}

/// Releases every deploy lock this run still holds (one round trip per host, in
/// parallel). Called at the end of every deploy, whatever happened.
pub async fn unlock(model: &Model, hosts: &Hosts, lock: &LockInfo) {
    let mut tasks = tokio::task::JoinSet::new();
    for (h, t) in hosts.targeted() {
        if hosts.locked[h].swap(false, Ordering::SeqCst) {
            let (t, script) = (t.clone(), apply::unlock_script(&model.service, lock));
            tasks.spawn(async move { t.exec(script).await });
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Runs commands for custom steps from a blocking thread.
struct BlockingHost {
    name: String,
    transport: Arc<Connection>,
    handle: tokio::runtime::Handle,
}

impl HostIo for BlockingHost {
    fn host_name(&self) -> &str {
        &self.name
    }

    fn run(&self, command: &str) -> Result<RunOutput, Problem> {
        self.handle.block_on(self.transport.exec(command.to_string()))
    }
}

pub(super) fn host_io(model: &Model, host: usize, t: &Arc<Connection>) -> Arc<dyn HostIo> {
    Arc::new(BlockingHost {
        name: model.hosts[host].name.clone(),
        transport: t.clone(),
        handle: tokio::runtime::Handle::current(),
    })
}
