//! The REPL's connections: opened on a host's first use and kept for the whole
//! session (one ssh master per host), by host name. A reload keeps the connection
//! of every host that is still reached the same way; the end of the session
//! closes them all, so no master outlives it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::exec::transport_for;
use crate::model::{Host, Model, TransportSpec};
use crate::problem::Problem;
use crate::transport::{Connection, SshOptions};

pub(crate) struct Connections {
    ssh: SshOptions,
    open: Mutex<HashMap<String, (TransportSpec, Arc<Connection>)>>,
}

impl Connections {
    pub(crate) fn new(ssh: SshOptions) -> Self {
        Connections {
            ssh,
            open: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (TransportSpec, Arc<Connection>)>> {
        self.open.lock().expect("connections poisoned")
    }

    /// The open connection to `host`, connecting first when there is none.
    pub(crate) async fn get(&self, host: &Host) -> Result<Arc<Connection>, Problem> {
        let stale = {
            let mut open = self.lock();
            match open.get(&host.name) {
                Some((spec, conn)) if *spec == host.transport => return Ok(conn.clone()),
                Some(_) => open.remove(&host.name).map(|(_, c)| c),
                None => None,
            }
        };
        if let Some(old) = stale {
            old.close().await;
        }
        let conn = transport_for(host, &self.ssh);
        conn.connect().await?;
        // Two lines raced to connect the same host: keep the first, close ours.
        let first = {
            let mut open = self.lock();
            match open.get(&host.name) {
                Some((spec, first)) if *spec == host.transport => Some(first.clone()),
                _ => {
                    open.insert(host.name.clone(), (host.transport.clone(), conn.clone()));
                    None
                }
            }
        };
        if let Some(first) = first {
            conn.close().await;
            return Ok(first);
        }
        Ok(conn)
    }

    /// Closes the connections of hosts that `model` no longer has, or reaches
    /// differently (after a reload or a switch of environment).
    pub(crate) async fn retain(&self, model: Option<&Model>) {
        let gone: Vec<Arc<Connection>> = {
            let mut open = self.lock();
            let names: Vec<String> = open
                .iter()
                .filter(|(name, (spec, _))| {
                    !model.is_some_and(|m| m.hosts.iter().any(|h| &h.name == *name && &h.transport == spec))
                })
                .map(|(name, _)| name.clone())
                .collect();
            names
                .into_iter()
                .filter_map(|name| open.remove(&name).map(|(_, c)| c))
                .collect()
        };
        for c in gone {
            c.close().await;
        }
    }

    pub(crate) async fn close_all(&self) {
        self.retain(None).await;
    }
}
