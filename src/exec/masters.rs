//! The ssh masters a run keeps open, at most its capacity at once (one per host
//! for a run that fits twice `--jobs`, `--jobs` for a fleet beyond). Every
//! master costs the controller an `ssh` process (about 1–1.5 MB of its own memory)
//! and a descriptor in ordo for as long as it is open, so a fleet larger than the
//! capacity cannot keep one per host for the whole run (decision 64).
//!
//! A script takes a [`Lease`] on its host's master for as long as it runs: the
//! master is opened first when it is closed, and when every slot is taken the
//! least recently used master that no script is using is closed to make room. A
//! host waiting for another (an apply's cross-host edge) holds no lease, so the
//! leases always end and nobody waits for a slot forever. A host whose work is
//! done gives its master back at once ([`Masters::release`]).
//!
//! Closing a master never loses anything: the deploy lock is a directory on the
//! host, not the connection, and a host's plan is kept on the controller; a later
//! script of the host opens a fresh master (one more login).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::model::HostId;
use crate::problem::Problem;
use crate::transport::Connection;

/// What a host's master is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed,
    Opening,
    Open,
    Closing,
}

struct Slot {
    phase: Phase,
    /// Scripts running over it.
    leases: usize,
}

#[derive(Default)]
struct State {
    /// Masters open, opening or closing: what counts against the capacity.
    live: usize,
    /// The most that were live at once.
    peak: usize,
    hosts: HashMap<HostId, Slot>,
    /// Open masters without a lease, least recently used first.
    idle: VecDeque<(HostId, Arc<Connection>)>,
}

/// The live ssh masters of one run.
pub(crate) struct Masters {
    capacity: usize,
    state: Mutex<State>,
    /// A slot or a master changed phase: waiters look again.
    changed: Notify,
}

/// What to do after looking at the state.
enum Next {
    Leased,
    Wait,
    /// Open this host's master (its slot is counted), closing `victim` first.
    Open {
        victim: Option<(HostId, Arc<Connection>)>,
    },
}

impl Masters {
    pub(crate) fn new(capacity: usize) -> Arc<Masters> {
        Arc::new(Masters {
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        })
    }

    /// Whether the master of host `id` is open (or being opened).
    pub(crate) fn is_open(&self, id: HostId) -> bool {
        self.state()
            .hosts
            .get(&id)
            .is_some_and(|s| matches!(s.phase, Phase::Open | Phase::Opening))
    }

    /// The most masters that were live at once.
    #[cfg(test)]
    fn peak(&self) -> usize {
        self.state().peak
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a master opened outside a lease (the connect phase of a fleet that
    /// fits: every master opened before anything else), idle.
    pub(crate) fn opened(&self, id: HostId, conn: &Arc<Connection>) {
        let mut st = self.state();
        st.live += 1;
        st.peak = st.peak.max(st.live);
        st.hosts.insert(
            id,
            Slot {
                phase: Phase::Open,
                leases: 0,
            },
        );
        st.idle.push_back((id, conn.clone()));
    }

    /// A lease on the master of host `id` (whose transport is `conn`), opening it
    /// first when it is closed.
    pub(crate) async fn lease(self: &Arc<Self>, id: HostId, conn: &Arc<Connection>) -> Result<Lease, Problem> {
        loop {
            let changed = self.changed.notified();
            let next = {
                let mut st = self.state();
                let State {
                    live,
                    peak,
                    hosts,
                    idle,
                } = &mut *st;
                let slot = hosts.entry(id).or_insert(Slot {
                    phase: Phase::Closed,
                    leases: 0,
                });
                match slot.phase {
                    Phase::Open => {
                        slot.leases += 1;
                        idle.retain(|(h, _)| *h != id);
                        Next::Leased
                    }
                    Phase::Opening | Phase::Closing => Next::Wait,
                    Phase::Closed if *live < self.capacity => {
                        slot.phase = Phase::Opening;
                        *live += 1;
                        *peak = (*peak).max(*live);
                        Next::Open { victim: None }
                    }
                    Phase::Closed => match idle.pop_front() {
                        Some(victim) => {
                            slot.phase = Phase::Opening;
                            if let Some(v) = hosts.get_mut(&victim.0) {
                                v.phase = Phase::Closing;
                            }
                            Next::Open { victim: Some(victim) }
                        }
                        None => Next::Wait,
                    },
                }
            };
            match next {
                Next::Leased => {
                    return Ok(Lease {
                        masters: self.clone(),
                        id,
                        conn: conn.clone(),
                    });
                }
                Next::Wait => changed.await,
                Next::Open { victim } => {
                    if let Some((v, vconn)) = victim {
                        // The victim's slot passes to this host once it is closed.
                        vconn.close().await;
                        self.set_phase(v, Phase::Closed);
                    }
                    return match conn.connect().await {
                        Ok(()) => {
                            let mut st = self.state();
                            let slot = st.hosts.get_mut(&id).expect("a slot being opened");
                            slot.phase = Phase::Open;
                            slot.leases += 1;
                            drop(st);
                            self.changed.notify_waiters();
                            Ok(Lease {
                                masters: self.clone(),
                                id,
                                conn: conn.clone(),
                            })
                        }
                        Err(p) => {
                            let mut st = self.state();
                            st.live -= 1;
                            st.hosts.get_mut(&id).expect("a slot being opened").phase = Phase::Closed;
                            drop(st);
                            self.changed.notify_waiters();
                            Err(p)
                        }
                    };
                }
            }
        }
    }

    /// Closes the master of host `id` now, unless a script still uses it: the
    /// host's work is done (or nothing more is sent until a later phase).
    pub(crate) async fn release(&self, id: HostId, conn: &Arc<Connection>) {
        {
            let mut st = self.state();
            match st.hosts.get_mut(&id) {
                Some(slot) if slot.phase == Phase::Open && slot.leases == 0 => slot.phase = Phase::Closing,
                _ => return,
            }
            st.idle.retain(|(h, _)| *h != id);
        }
        conn.close().await;
        {
            let mut st = self.state();
            st.live -= 1;
            st.hosts.get_mut(&id).expect("a slot being closed").phase = Phase::Closed;
        }
        self.changed.notify_waiters();
    }

    fn set_phase(&self, id: HostId, phase: Phase) {
        if let Some(slot) = self.state().hosts.get_mut(&id) {
            slot.phase = phase;
        }
        self.changed.notify_waiters();
    }
}

/// A script's hold on its host's master: while it lives, the master stays open.
pub(crate) struct Lease {
    masters: Arc<Masters>,
    id: HostId,
    conn: Arc<Connection>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        {
            let mut st = self.masters.state();
            let Some(slot) = st.hosts.get_mut(&self.id) else { return };
            slot.leases = slot.leases.saturating_sub(1);
            if slot.leases == 0 && slot.phase == Phase::Open {
                st.idle.push_back((self.id, self.conn.clone()));
            }
        }
        self.masters.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    //! Over local transports (real, cheap to open): the bookkeeping is the same.

    use std::time::Duration;

    use super::*;
    use crate::ids::Id;
    use crate::transport::Local;

    fn conns(n: usize, home: &std::path::Path) -> Vec<(HostId, Arc<Connection>)> {
        (0..n)
            .map(|i| {
                let name = format!("h{i}");
                let local = Local::new(&name, home.join(&name));
                (HostId::new(i), Arc::new(Connection::new(Box::new(local), &name)))
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn never_more_masters_than_the_capacity_and_the_least_recently_used_goes() {
        let home = tempfile::tempdir().unwrap();
        let hosts = conns(5, home.path());
        let masters = Masters::new(2);
        let a = masters.lease(hosts[0].0, &hosts[0].1).await.unwrap();
        let b = masters.lease(hosts[1].0, &hosts[1].1).await.unwrap();
        assert!(masters.is_open(hosts[0].0) && masters.is_open(hosts[1].0));
        // Both taken and busy: a third waits until one is handed back.
        let m = masters.clone();
        let (id2, c2) = hosts[2].clone();
        let third = tokio::spawn(async move { m.lease(id2, &c2).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "waits for a slot");
        drop(a);
        let c = third.await.unwrap().unwrap();
        // h0 was idle, so it was closed for h2.
        assert!(!masters.is_open(hosts[0].0) && masters.is_open(hosts[2].0));
        drop(b);
        drop(c);
        // h1 and h2 idle now; h1 was handed back first and goes for h3.
        let d = masters.lease(hosts[3].0, &hosts[3].1).await.unwrap();
        assert!(!masters.is_open(hosts[1].0) && masters.is_open(hosts[2].0));
        // A host that is done gives its master back: no one is closed for h4.
        masters.release(hosts[2].0, &hosts[2].1).await;
        let e = masters.lease(hosts[4].0, &hosts[4].1).await.unwrap();
        assert!(masters.is_open(hosts[3].0) && masters.is_open(hosts[4].0));
        // Leases of one host share its master.
        let d2 = masters.lease(hosts[3].0, &hosts[3].1).await.unwrap();
        drop((d, d2, e));
        assert_eq!(masters.peak(), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn many_scripts_on_many_hosts_finish_within_a_small_capacity() {
        let home = tempfile::tempdir().unwrap();
        let hosts = conns(12, home.path());
        let masters = Masters::new(3);
        let mut tasks = Vec::new();
        for round in 0..3 {
            for (id, conn) in hosts.iter().cloned() {
                let m = masters.clone();
                tasks.push(tokio::spawn(async move {
                    let _lease = m.lease(id, &conn).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(2 + round)).await;
                }));
            }
        }
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(10), t).await.unwrap().unwrap();
        }
        assert!(masters.peak() <= 3, "{}", masters.peak());
    }
}
