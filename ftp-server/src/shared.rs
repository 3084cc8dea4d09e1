//! State the server shares with its sessions: the configuration (swapped whole by a
//! reload), the authenticator, the bandwidth caps, the digest slots, the session limits, the metrics, the transfer log and the
//! table of live sessions the admin API reads ([`Shared`]), and the shutdown signals a
//! session listens to ([`Signals`]). `server` creates both and `conn` uses them; neither
//! depends on the other for them.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use ftp_proto::Secret;

use crate::access::Access;
use crate::auth::{Account, AuthError, Authenticator, UserDb};
use crate::config::Config;
use crate::metrics::{MeteredStorage, Metrics, Rejected};
use crate::reload::ConfigLoader;
use crate::storage::{BoxFuture, Storage};
use crate::xferlog::Xferlog;

/// State shared by all sessions.
pub(crate) struct Shared {
    config: RwLock<Arc<Config>>,
    pub(crate) auth: Arc<dyn Authenticator>,
    pub(crate) public_ip: Option<Ipv4Addr>,
    /// The server-wide bandwidth caps, shared by every session.
    pub(crate) caps: crate::policy::rate::Caps,
    /// The server-wide digest slots (`max_concurrent_hashes`).
    pub(crate) hash_slots: Arc<async_lock::Semaphore>,
    /// Bans and per-user session counts (kept across reloads).
    pub(crate) access: Arc<Access>,
    sessions: Mutex<Limits>,
    next_id: AtomicU64,
    pub(crate) metrics: Metrics,
    /// The sessions open now, by id (what `GET /api/v1/sessions` lists).
    live: Mutex<BTreeMap<u64, Arc<LiveSession>>>,
    /// What the sessions wait for.
    pub(crate) signals: Arc<ServerSignals>,
    /// Notified whenever a session ends (what `DELETE /api/v1/sessions/{id}` waits for).
    session_ended: event_listener::Event,
    /// `POST /api/v1/drain` was called: new connections get `421`, readiness is `503`.
    pub(crate) draining: AtomicBool,
    pub(crate) xferlog: Xferlog,
    /// The admin API's bearer token (`admin_token_file`), if any.
    pub(crate) admin_token: RwLock<Option<Secret<Vec<u8>>>>,
    /// Reads the configuration again on reload (the daemon's files and flags).
    loader: RwLock<Option<ConfigLoader>>,
    /// The built-in user database, when it is the authenticator (reload swaps its users).
    users: OnceLock<Arc<UserDb>>,
    /// Closed by `POST /api/v1/drain`; `Server::run` then stops the sessions.
    pub(crate) drain: async_channel::Sender<()>,
    drain_rx: async_channel::Receiver<()>,
    /// The last readiness probe's time and result (`/readyz` probes at most once a second).
    pub(crate) ready_cache: Mutex<Option<(std::time::Instant, bool)>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("auth", &self.auth)
            .field("draining", &self.draining)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Limits {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Releases a session's slot when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut l = self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        l.total = l.total.saturating_sub(1);
        if let Some(n) = l.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                l.per_ip.remove(&self.ip);
            }
        }
    }
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        auth: Arc<dyn Authenticator>,
        public_ip: Option<Ipv4Addr>,
        metrics: Metrics,
        xferlog: Xferlog,
    ) -> Shared {
        let (drain, drain_rx) = async_channel::bounded(1);
        Shared {
            caps: crate::policy::rate::Caps::new(config.download_rate, config.upload_rate),
            hash_slots: Arc::new(async_lock::Semaphore::new(config.max_concurrent_hashes)),
            config: RwLock::new(Arc::new(config)),
            auth: Arc::new(MeteredAuth {
                inner: auth,
                metrics: metrics.clone(),
            }),
            public_ip,
            access: Arc::new(Access::default()),
            sessions: Mutex::new(Limits::default()),
            next_id: AtomicU64::new(1),
            metrics,
            live: Mutex::default(),
            session_ended: event_listener::Event::new(),
            signals: Arc::default(),
            draining: AtomicBool::new(false),
            xferlog,
            admin_token: RwLock::new(None),
            loader: RwLock::new(None),
            users: OnceLock::new(),
            drain,
            drain_rx,
            ready_cache: Mutex::new(None),
        }
    }

    /// The reload's configuration source, if any.
    pub(crate) fn loader(&self) -> Option<ConfigLoader> {
        self.loader
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the reload's configuration source.
    pub(crate) fn set_loader(&self, loader: ConfigLoader) {
        *self.loader.write().unwrap_or_else(|e| e.into_inner()) = Some(loader);
    }

    /// The built-in user database, when it is the authenticator.
    pub(crate) fn users(&self) -> Option<&Arc<UserDb>> {
        self.users.get()
    }

    /// Tells reloads which user database to swap users in.
    pub(crate) fn set_users(&self, db: Arc<UserDb>) {
        let _ = self.users.set(db);
    }

    /// Waits until `POST /api/v1/drain` is called.
    pub(crate) async fn drain_requested(&self) {
        let _ = self.drain_rx.recv().await;
    }

    /// The configuration new sessions get.
    pub(crate) fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the configuration for sessions that start from now on.
    pub(crate) fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The next session's number (for log tags and the admin API), from 1.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A session slot for a client at `ip`, or why not: the total or the per-address
    /// session limit is reached.
    pub(crate) fn take_slot(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Rejected> {
        let cfg = self.config();
        let mut l = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let per = l.per_ip.get(&ip).copied().unwrap_or(0);
        if l.total >= cfg.max_sessions {
            return Err(Rejected::Limit);
        }
        if per >= cfg.max_sessions_per_ip {
            return Err(Rejected::PerIp);
        }
        l.total += 1;
        *l.per_ip.entry(ip).or_insert(0) += 1;
        Ok(Slot {
            shared: self.clone(),
            ip,
        })
    }

    /// Enters a new session into the table of live sessions; it leaves it when the
    /// returned guard is dropped. The receiver is closed when the admin API kicks it.
    pub(crate) fn register(
        self: &Arc<Self>,
        id: u64,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> (Arc<LiveSession>, Registered) {
        let live = Arc::new(LiveSession {
            id,
            peer,
            local,
            since: SystemTime::now(),
            state: Mutex::default(),
            kicked: AtomicBool::new(false),
        });
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, live.clone());
        let guard = Registered {
            shared: self.clone(),
            id,
            _active: self.metrics.session_started(),
        };
        (live, guard)
    }

    /// The sessions open now, oldest first.
    pub(crate) fn live_sessions(&self) -> Vec<Arc<LiveSession>> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.values().cloned().collect()
    }

    /// Asks session `id` to close (`421`, a running transfer aborted); false when there is
    /// no such session.
    pub(crate) fn kick(&self, id: u64) -> bool {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = live.get(&id) else {
            return false;
        };
        s.kicked.store(true, Ordering::SeqCst);
        self.signals.event.notify(usize::MAX);
        true
    }

    /// Whether session `id` is open.
    fn is_live(&self, id: u64) -> bool {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.contains_key(&id)
    }

    /// Waits until session `id` has ended.
    pub(crate) async fn ended(&self, id: u64) {
        while self.is_live(id) {
            let listener = self.session_ended.listen();
            if !self.is_live(id) {
                break;
            }
            listener.await;
        }
    }
}

/// Takes a session out of the live table (and the active-sessions gauge) when dropped.
#[derive(Debug)]
pub(crate) struct Registered {
    shared: Arc<Shared>,
    id: u64,
    _active: crate::metrics::ActiveGuard,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        self.shared.session_ended.notify(usize::MAX);
    }
}

/// A session as the admin API sees it: fixed facts, and what the connection updates as it
/// changes (user, working directory, TLS, the running transfer).
#[derive(Debug)]
pub(crate) struct LiveSession {
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) since: SystemTime,
    state: Mutex<LiveState>,
    /// The administrator closed it ([`Signal::Kick`]).
    kicked: AtomicBool,
}

/// What changes during a session.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveState {
    pub(crate) user: Option<String>,
    /// Empty for `/` (no allocation for the common case).
    pub(crate) cwd: String,
    pub(crate) tls: bool,
    /// Boxed: an idle session's entry stays small.
    pub(crate) transfer: Option<Box<LiveTransfer>>,
}

/// A transfer as the admin API sees it.
#[derive(Debug, Clone)]
pub(crate) struct LiveTransfer {
    pub(crate) verb: &'static str,
    pub(crate) path: String,
    pub(crate) bytes: Arc<AtomicU64>,
    pub(crate) started: SystemTime,
}

impl LiveSession {
    /// Changes what the admin API shows.
    pub(crate) fn update(&self, change: impl FnOnce(&mut LiveState)) {
        change(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// A copy of what changes.
    pub(crate) fn state(&self) -> LiveState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The authenticator the sessions see: the configured one, with each account's storage
/// wrapped in [`MeteredStorage`] (the one place storage operations are timed) and each
/// login counted.
#[derive(Debug)]
struct MeteredAuth {
    inner: Arc<dyn Authenticator>,
    metrics: Metrics,
}

impl Authenticator for MeteredAuth {
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a Secret<Vec<u8>>,
    ) -> BoxFuture<'a, Result<Account, AuthError>> {
        Box::pin(async move {
            let r = self.inner.authenticate(user, password).await;
            self.metrics.login(r.is_ok());
            let mut acct = r?;
            let storage: Arc<dyn Storage> =
                Arc::new(MeteredStorage::new(acct.storage, self.metrics.clone()));
            acct.storage = storage;
            Ok(acct)
        })
    }

    fn storages(&self) -> Vec<Arc<dyn Storage>> {
        self.inner.storages()
    }
}

/// What the server tells its sessions, all through one [`event_listener::Event`]: each
/// idle session holds one listener on it, whatever it waits for (a per-session channel
/// would cost every session its own allocations). A wake-up is checked against the flags:
/// kicks are rare, so waking every session for one is cheap enough.
#[derive(Debug, Default)]
pub(crate) struct ServerSignals {
    event: event_listener::Event,
    /// The server shuts down or drains: finish the current transfer, then leave.
    shutdown: AtomicBool,
    /// The grace period is over: leave now.
    kill: AtomicBool,
}

impl ServerSignals {
    /// Tells every session to finish its transfer and leave.
    pub(crate) fn shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }

    /// Tells every session to leave now.
    pub(crate) fn kill(&self) {
        self.kill.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }
}

/// What one session waits for besides its commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Finish the current transfer, then leave.
    Shutdown,
    /// Leave now: the grace period is over.
    Kill,
    /// Leave now: the administrator closed the session.
    Kick,
}

/// The signals of one session: the server's, and its own kick.
#[derive(Debug, Clone)]
pub(crate) struct Signals {
    pub(crate) server: Arc<ServerSignals>,
    pub(crate) live: Arc<LiveSession>,
}

impl Signals {
    /// The signal in force now, if any; `Shutdown` only when `shutdown` is wanted (a
    /// session already shutting down waits for the kill).
    fn now(&self, shutdown: bool) -> Option<Signal> {
        if self.live.kicked.load(Ordering::SeqCst) {
            Some(Signal::Kick)
        } else if self.server.kill.load(Ordering::SeqCst) {
            Some(Signal::Kill)
        } else if shutdown && self.server.shutdown.load(Ordering::SeqCst) {
            Some(Signal::Shutdown)
        } else {
            None
        }
    }

    /// Waits for the next signal (with `shutdown` false, for a kill or a kick only).
    pub(crate) async fn next(&self, shutdown: bool) -> Signal {
        loop {
            if let Some(s) = self.now(shutdown) {
                return s;
            }
            let listener = self.server.event.listen();
            if let Some(s) = self.now(shutdown) {
                return s;
            }
            listener.await;
        }
    }
}
