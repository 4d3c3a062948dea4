//! The hosts of one run: each targeted host is one [`HostRun`] — its connection, the
//! state of its deploy lock, its name — instead of parallel per-host vectors.
//! Connecting and releasing locks happen here; so does the bridge that lets custom
//! steps run commands from a blocking thread.
//!
//! A fleet that fits the run's [`Masters`] is connected whole before anything else,
//! and keeps every master for the run. A larger one is connected as it is worked
//! on: each script of a host takes a lease on its master, which opens it when it is
//! closed and may close the least recently used one (decision 64).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use super::limits::fan_out;
use super::masters::{Lease, Masters};
use super::reach::{self, Skip, Skipped};
use super::{history, lock};
use crate::model::{Host, HostId, HostIo, Model, RunOutput, TransportSpec};
use crate::problem::{Problem, Problems};
use crate::transport::{self, CancelToken, Connection, ExecOptions, Local, OutputPolicy, Ssh, SshOptions};

/// How a run reaches and treats hosts.
#[derive(Clone, Debug)]
pub struct Settings {
    pub ssh: SshOptions,
    /// Hosts worked on at once (`--jobs`).
    pub jobs: usize,
    /// How long a command or guard may run (`--timeout`).
    pub timeout: std::time::Duration,
    /// Cancelled when the run is interrupted: running scripts stop (with their
    /// process groups, on the host too).
    pub cancel: CancelToken,
    /// Live ssh masters at most (`Budget::masters`): a fleet of more ssh hosts is
    /// connected as it is worked on.
    pub masters: usize,
    /// How many unreachable hosts the run may go on without (`--skip-unreachable`).
    pub skip: Skip,
}

/// What ordo keeps of the output of a user's command (`ordo run`, `host.run`): the
/// last megabyte of each stream, whatever a host prints.
pub(crate) const COMMAND_OUTPUT: OutputPolicy = OutputPolicy::Tail { keep_bytes: 1 << 20 };

/// How long releasing a lock may take.
const UNLOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Our deploy lock on a host, as far as we know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum LockState {
    /// Not ours.
    Free = 0,
    /// A probe that takes it was sent and did not answer (interrupted, failed):
    /// treat as ours when releasing.
    Maybe = 1,
    Held = 2,
}

/// One targeted host during a run.
pub struct HostRun {
    pub id: HostId,
    pub name: String,
    pub conn: Arc<Connection>,
    lock: AtomicU8,
    cancel: CancelToken,
    timeout: std::time::Duration,
    /// The run's masters, for an ssh host of a run that opens and closes them as
    /// it goes; `None`: the connection is open for as long as the run (a local
    /// host, the REPL's session connections).
    masters: Option<Arc<Masters>>,
    /// Why the host could not be reached, when the run goes on without it.
    unreached: std::sync::OnceLock<Problem>,
    /// What the probe found for the deploy history, until the entry's end is written.
    history: Mutex<Option<history::Probed>>,
    /// How the run ended here when the host was let go in its probe wave
    /// (`settle.rs`): nothing that happens after changes it.
    settled: std::sync::OnceLock<history::Ending>,
}

impl HostRun {
    /// A host of a run over a connection that is already open; its lock state
    /// starts free.
    pub fn over(id: HostId, conn: Arc<Connection>, settings: &Settings) -> Arc<Self> {
        Arc::new(HostRun {
            id,
            name: conn.host.clone(),
            conn,
            lock: AtomicU8::new(LockState::Free as u8),
            cancel: settings.cancel.clone(),
            timeout: settings.timeout,
            masters: None,
            unreached: std::sync::OnceLock::new(),
            history: Mutex::default(),
            settled: std::sync::OnceLock::new(),
        })
    }

    /// Why the host could not be reached, when the run may go on without it.
    pub(crate) fn unreached(&self) -> Option<&Problem> {
        self.unreached.get()
    }

    /// The master for one script: opened first when it is closed. Waiting for a
    /// slot ends with an interruption.
    async fn lease(&self) -> Result<Option<Lease>, Problem> {
        let Some(masters) = &self.masters else {
            return Ok(None);
        };
        tokio::select! {
            lease = masters.lease(self.id, &self.conn) => lease.map(Some).map_err(|p| p.on_host(&self.name)),
            () = self.cancel.cancelled() => Err(crate::transport::ExecError::Cancelled {
                host: self.name.clone(),
                stopped: crate::transport::Stopped::All,
            }
            .problem()
            .on_host(&self.name)),
        }
    }

    /// The master for a script that runs even after an interruption (releasing a
    /// lock).
    async fn lease_regardless(&self) -> Result<Option<Lease>, Problem> {
        match &self.masters {
            Some(masters) => masters
                .lease(self.id, &self.conn)
                .await
                .map(Some)
                .map_err(|p| p.on_host(&self.name)),
            None => Ok(None),
        }
    }

    /// Closes the host's master now when the run opens and closes them as it goes
    /// (nothing more is sent for a while, or at all).
    pub(crate) async fn release(&self) {
        if let Some(masters) = &self.masters {
            masters.release(self.id, &self.conn).await;
        }
    }

    /// Whether the host's master may be closed before the run ends.
    pub(crate) fn releasable(&self) -> bool {
        self.masters.is_some()
    }

    /// Whether the host's master is closed (its next script connects first).
    pub(crate) fn closed(&self) -> bool {
        self.masters.as_ref().is_some_and(|m| !m.is_open(self.id))
    }

    /// Opens the host's master unless it is open, and keeps it open while the
    /// returned lease lives.
    pub(crate) async fn open(&self) -> Result<Option<Lease>, Problem> {
        self.lease().await
    }

    /// Runs one of ordo's own scripts (probe, apply): all of its output is needed;
    /// an interruption stops it.
    pub async fn exec(&self, script: String) -> Result<RunOutput, Problem> {
        let options = ExecOptions::default().cancel(&self.cancel);
        let _lease = self.lease().await?;
        self.conn
            .exec_with(script, &options)
            .await
            .map_err(|e| e.problem().on_host(&self.name))
    }

    /// Runs one of ordo's apply scripts as root (`sudo -n`), for steps that say
    /// `sudo: true`.
    pub async fn exec_privileged(&self, script: String) -> Result<RunOutput, Problem> {
        let options = ExecOptions::default().cancel(&self.cancel).privileged(true);
        let _lease = self.lease().await?;
        self.conn
            .exec_with(script, &options)
            .await
            .map_err(|e| e.problem().on_host(&self.name))
    }

    /// Runs a user's command: the tail of its output, stopped after `--timeout`.
    pub async fn exec_command(&self, script: String) -> Result<RunOutput, Problem> {
        let options = ExecOptions::default()
            .cancel(&self.cancel)
            .timeout(self.timeout)
            .output(COMMAND_OUTPUT);
        let _lease = self.lease().await?;
        self.conn
            .exec_with(script, &options)
            .await
            .map_err(|e| e.problem().on_host(&self.name))
    }

    /// Runs a script that must run even after an interruption (releasing a lock),
    /// bounded in time instead.
    async fn exec_release(&self, script: String) -> Result<RunOutput, Problem> {
        let options = ExecOptions::default().timeout(UNLOCK_TIMEOUT);
        let _lease = self.lease_regardless().await?;
        self.conn
            .exec_with(script, &options)
            .await
            .map_err(|e| e.problem().on_host(&self.name))
    }

    pub(crate) fn lock_sent(&self) {
        let _ = self.lock.compare_exchange(
            LockState::Free as u8,
            LockState::Maybe as u8,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    pub(crate) fn lock_taken(&self) {
        self.lock.store(LockState::Held as u8, Ordering::SeqCst);
    }

    /// The probe said the lock is someone else's (or could not be taken).
    pub(crate) fn lock_not_ours(&self) {
        self.lock.store(LockState::Free as u8, Ordering::SeqCst);
    }

    pub(crate) fn lock_released(&self) {
        self.lock.store(LockState::Free as u8, Ordering::SeqCst);
    }

    /// Whether the probe took the lock for this run (its directory is this run's).
    pub(crate) fn holds_lock(&self) -> bool {
        self.lock.load(Ordering::SeqCst) == LockState::Held as u8
    }

    /// Whether an unlock must be sent.
    pub(crate) fn may_hold_lock(&self) -> bool {
        self.lock.load(Ordering::SeqCst) != LockState::Free as u8
    }

    pub(crate) fn set_history(&self, probed: history::Probed) {
        *self.history.lock().expect("history poisoned") = Some(probed);
    }

    /// What the probe found for the history: `Some` once a probe that began an
    /// entry answered.
    pub(crate) fn history(&self) -> Option<history::Probed> {
        self.history.lock().expect("history poisoned").clone()
    }

    /// The end of the host's history entry was written (or tried, under the lock).
    pub(crate) fn history_ended(&self) {
        if let Some(p) = self.history.lock().expect("history poisoned").as_mut() {
            p.ended = true;
        }
    }

    /// The host was let go in its probe wave, and how the run ended there.
    pub(crate) fn settle(&self, ending: history::Ending) {
        let _ = self.settled.set(ending);
    }

    /// How the run ended here, when the host was let go in its probe wave.
    pub(crate) fn settled(&self) -> Option<&history::Ending> {
        self.settled.get()
    }
}

/// The targeted hosts of a run, in host order.
pub struct Hosts {
    runs: Vec<Arc<HostRun>>,
    index: HashMap<HostId, usize>,
    pub settings: Settings,
}

impl Hosts {
    /// Hosts reached over connections opened earlier (the REPL keeps its
    /// connections for the whole session and makes a `Hosts` per command).
    pub fn new(runs: Vec<Arc<HostRun>>, settings: Settings) -> Self {
        let index = runs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        Hosts { runs, index, settings }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<HostRun>> {
        self.runs.iter()
    }

    pub fn get(&self, id: HostId) -> Option<&Arc<HostRun>> {
        self.index.get(&id).map(|&i| &self.runs[i])
    }

    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    pub fn ids(&self) -> Vec<HostId> {
        self.runs.iter().map(|r| r.id).collect()
    }

    pub async fn close(&self) {
        for r in &self.runs {
            r.conn.close().await;
        }
    }
}

/// Opens the transport a host's model asks for (not connected yet).
pub fn transport_for(host: &Host, ssh: &SshOptions) -> Arc<Connection> {
    let inner: Box<dyn transport::Transport> = match &host.transport {
        TransportSpec::Local { home } => Box::new(Local::new(&host.name, home.clone())),
        TransportSpec::Ssh { address, port, user } => {
            // The model's `user` also carries the environment's default login.
            let user = user
                .as_deref()
                .or((!host.user.is_empty()).then_some(host.user.as_str()));
            Box::new(Ssh::new(&host.name, address, *port, user, ssh.clone()))
        }
    };
    Arc::new(Connection::new(inner, &host.name))
}

/// Connects to every host in `targets` (bounded by `--jobs`); any failure stops the
/// run before a single change is made, naming every host that failed, in host order.
///
/// When there are more ssh hosts than the run keeps masters (`settings.masters`),
/// the ssh hosts are not connected here: each connects when its first script is
/// sent (its probe), and a failure to connect is that script's problem.
pub async fn connect(model: &Model, targets: &[HostId], settings: &Settings) -> Result<Hosts, Problems> {
    let ssh = |id: HostId| matches!(model.hosts[id].transport, TransportSpec::Ssh { .. });
    let fleet = connects_as_it_goes(model, targets, settings);
    let masters = Masters::new(capacity(settings, fleet));
    let runs: Vec<Arc<HostRun>> = targets
        .iter()
        .map(|&id| {
            Arc::new(HostRun {
                id,
                name: model.hosts[id].name.clone(),
                conn: transport_for(&model.hosts[id], &settings.ssh),
                lock: AtomicU8::new(LockState::Free as u8),
                cancel: settings.cancel.clone(),
                timeout: settings.timeout,
                masters: ssh(id).then(|| masters.clone()),
                unreached: std::sync::OnceLock::new(),
                history: Mutex::default(),
                settled: std::sync::OnceLock::new(),
            })
        })
        .collect();
    // A fleet connects its ssh hosts as it goes; the rest connect now.
    let now: Vec<Arc<HostRun>> = runs.iter().filter(|r| !fleet || !ssh(r.id)).cloned().collect();
    let results = fan_out(
        now.clone(),
        settings.jobs,
        |r| format!("host `{}`", r.name),
        |r: Arc<HostRun>| async move { r.conn.connect().await.map_err(|p| p.on_host(&r.name)) },
    )
    .await;
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    for (r, result) in now.iter().zip(results) {
        match result {
            Ok(()) if r.masters.is_some() => masters.opened(r.id, &r.conn),
            Ok(()) => {}
            // Perhaps one to go on without: decided once every host was tried.
            Err(p) if settings.skip != Skip::Never && reach::unreachable(&p) => {
                let _ = r.unreached.set(p.clone());
                skipped.push(Skipped {
                    host: r.id,
                    name: r.name.clone(),
                    problem: p,
                });
            }
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        // Too many: stop now, before any lock is taken.
        if let Err(ps) = reach::within_limit(targets.len(), &skipped, settings.skip) {
            problems = ps.0;
        }
    } else {
        problems.extend(skipped.into_iter().map(|s| s.problem));
    }
    let index = runs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let hosts = Hosts {
        runs,
        index,
        settings: settings.clone(),
    };
    if problems.is_empty() {
        Ok(hosts)
    } else {
        hosts.close().await;
        Err(Problems(problems))
    }
}

/// How many ssh masters a run keeps open at once. A run whose ssh hosts fit
/// `settings.masters` (twice `--jobs`) keeps one per host, connected first, as ordo
/// always did. A fleet beyond that keeps one per job (decision 64): each running
/// script needs one, and a master kept for a host that waits only saves that host
/// a login at its apply — at about 1.4 MB of the controller's memory each, the
/// second `--jobs` masters were what took a one-change deploy of 200 hosts past
/// 100 MB (130 MiB), for 0.15 fewer logins per host.
fn capacity(settings: &Settings, fleet: bool) -> usize {
    if fleet {
        settings.jobs.clamp(1, settings.masters.max(1))
    } else {
        settings.masters
    }
}

/// Whether a run over `targets` connects its ssh hosts as it works on them, because
/// there are more than it keeps masters.
pub fn connects_as_it_goes(model: &Model, targets: &[HostId], settings: &Settings) -> bool {
    let ssh = targets
        .iter()
        .filter(|&&id| matches!(model.hosts[id].transport, TransportSpec::Ssh { .. }))
        .count();
    ssh > settings.masters.max(1)
}

/// What releasing the locks left to say.
#[derive(Debug, Default)]
pub struct Released {
    /// Locks that could not be released.
    pub problems: Vec<Problem>,
    /// Hosts whose history did not take the run's end line.
    pub unrecorded: Vec<String>,
}

/// Releases every deploy lock this run may still hold (one round trip per such
/// host, bounded), after the lines `before` gives for the host (the end of its
/// history entry). Called at the end of every deploy, whatever happened; the flag
/// of a host clears only when its unlock was confirmed.
pub async fn unlock(model: &Model, hosts: &Hosts, token: &str, before: &dyn Fn(&HostRun) -> String) -> Released {
    let holding: Vec<(Arc<HostRun>, String)> = hosts
        .iter()
        .filter(|r| r.may_hold_lock())
        .map(|r| (r.clone(), lock::unlock_script(&model.service, token, &before(r))))
        .collect();
    let service = model.service.clone();
    let results = fan_out(
        holding,
        hosts.settings.jobs,
        |(r, _)| format!("host `{}`", r.name),
        move |(r, script): (Arc<HostRun>, String)| {
            let service = service.clone();
            async move {
                unlock_one(&r, script, &service)
                    .await
                    .map(|written| (!written).then(|| r.name.clone()))
            }
        },
    )
    .await;
    let mut released = Released::default();
    for r in results {
        match r {
            Ok(Some(host)) => released.unrecorded.push(host),
            Ok(None) => {}
            Err(p) => released.problems.push(p),
        }
    }
    released
}

/// Releases the deploy lock of one host with `script` (`lock::unlock_script`, with
/// the end of the host's history entry when it has one). `Ok(false)`: released,
/// but the history did not take the end line.
pub(super) async fn unlock_one(r: &HostRun, script: String, service: &str) -> Result<bool, Problem> {
    let out = r.exec_release(script).await?;
    let said = |l: &str| out.stdout.lines().any(|x| x == l);
    if said("history ok") || said("history fail") {
        // The end line ran under this run's lock: never sent again.
        r.history_ended();
    }
    if lock::released(&out.stdout) {
        r.lock_released();
        Ok(!said("history fail"))
    } else {
        Err(Problem::new(
            crate::problem::Kind::Step,
            format!("host `{}`: the deploy lock could not be released", r.name),
        )
        .help(format!(
            "the host said: {}; remove ~/.ordo/{}/lock on the host, or run the next deploy with --break-lock",
            crate::text::visible(super::tail(&out.stderr).trim(), true),
            service
        )))
    }
}

/// Runs commands for custom steps from a blocking thread.
struct BlockingHost {
    run: Arc<HostRun>,
    handle: tokio::runtime::Handle,
}

impl HostIo for BlockingHost {
    fn host_name(&self) -> &str {
        &self.run.name
    }

    fn run(&self, command: &str) -> Result<RunOutput, Problem> {
        self.handle.block_on(self.run.exec_command(command.to_string()))
    }
}

pub(super) fn host_io(run: &Arc<HostRun>) -> Arc<dyn HostIo> {
    Arc::new(BlockingHost {
        run: run.clone(),
        handle: tokio::runtime::Handle::current(),
    })
}
