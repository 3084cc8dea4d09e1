//! [`Server`]: binds the control listeners, accepts clients within the session limits, runs
//! each session as its own task on one of its worker threads (a panic stays inside it) and
//! shuts down gracefully.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_net::{TcpListener, TcpStream};
use ftp_proto::{Reply, ReplyCode};
use futures::future::Either;
use futures::FutureExt;
use futures_lite::future;

use crate::access::{Access, Admission, Offence};
use crate::auth::{Authenticator, UserDb, UserDbError};
use crate::config::Config;
use crate::conn;
use crate::metrics::{Metrics, Rejected};
use crate::reload::{ConfigLoader, ReloadError, ReloadHandle};
use crate::shared::{ServerSignals, Shared, Signals};
use crate::xferlog::Xferlog;

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A control listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// No listen address was configured.
    #[error("no listen address configured")]
    NoListenAddress,
    /// A user's home or the anonymous root is unusable.
    #[error(transparent)]
    Users(#[from] UserDbError),
    /// Implicit-FTPS listeners were configured without TLS settings.
    #[error("implicit FTPS listeners need a TLS certificate")]
    ImplicitWithoutTls,
    /// A setting is out of step with another (`passive_ports_announced`).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The public address could not be resolved to an IPv4 address.
    #[error("cannot resolve public address {0:?} to an IPv4 address")]
    PublicAddress(String),
    /// The admin token file or the transfer log is unusable.
    #[error(transparent)]
    Files(#[from] ReloadError),
}

/// Stops a running [`Server`]: it stops accepting, lets running transfers finish within the
/// grace period, and [`Server::run`] returns.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    tx: async_channel::Sender<()>,
}

impl ShutdownHandle {
    /// Requests the shutdown (idempotent).
    pub fn shutdown(&self) {
        self.tx.close();
    }
}

/// An FTP server with bound listeners.
///
/// ```
/// use ftp_server::{Config, Server, User};
/// let dir = tempfile::tempdir().unwrap();
/// let cfg = Config {
///     listen: vec!["127.0.0.1:0".parse().unwrap()],
///     users: vec![User::new("alice", "secret", dir.path())],
///     ..Config::default()
/// };
/// let server = smol::block_on(Server::bind(cfg)).unwrap();
/// let addr = server.local_addrs()[0];
/// let stop = server.shutdown_handle();
/// let t = std::thread::spawn(move || smol::block_on(server.run()));
/// // ... talk FTP to `addr` ...
/// # let _ = addr;
/// stop.shutdown();
/// t.join().unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct Server {
    listeners: Vec<TcpListener>,
    implicit: Vec<TcpListener>,
    admin: Option<TcpListener>,
    shared: Arc<Shared>,
    shutdown_tx: async_channel::Sender<()>,
    shutdown_rx: async_channel::Receiver<()>,
    workers: usize,
    /// Served directories whose stale upload temporaries `run` sweeps.
    sweep: Vec<crate::storage::FsStorage>,
}

impl Server {
    /// Binds the listeners now, with the built-in [`UserDb`] authenticator.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let db = Arc::new(UserDb::from_config(&config)?);
        let sweep = db.roots().to_vec();
        let mut server = Server::bind_users(config, db).await?;
        server.sweep = sweep;
        Ok(server)
    }

    /// Binds the listeners now, with `users` as the authenticator; a reload
    /// ([`Server::reload_handle`]) swaps the users in it.
    pub async fn bind_users(config: Config, users: Arc<UserDb>) -> Result<Server, ServerError> {
        let server = Server::bind_with(config, users.clone()).await?;
        server.shared.set_users(users);
        Ok(server)
    }

    /// Binds the listeners now, with a custom authenticator (and thereby storage).
    pub async fn bind_with(
        config: Config,
        auth: Arc<dyn Authenticator>,
    ) -> Result<Server, ServerError> {
        if config.listen.is_empty() {
            return Err(ServerError::NoListenAddress);
        }
        config.check_announced_ports()?;
        let public_ip = match &config.public_address {
            None => None,
            Some(a) => Some(resolve_public(a).await?),
        };
        if let Some(warning) = misannounced(public_ip, &config) {
            log::warn!("{warning}");
        }
        let mut listeners = Vec::new();
        for &addr in &config.listen {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind { addr, source })?;
            listeners.push(l);
        }
        if !config.implicit_tls_listen.is_empty() && config.tls.is_none() {
            return Err(ServerError::ImplicitWithoutTls);
        }
        let mut implicit = Vec::new();
        for &addr in &config.implicit_tls_listen {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind { addr, source })?;
            implicit.push(l);
        }
        let admin = match config.admin_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Bind { addr, source })?,
            ),
            None => None,
        };
        let token = config
            .admin_token_file
            .as_deref()
            .map(crate::reload::read_token)
            .transpose()?;
        let xferlog =
            Xferlog::open(config.xferlog.as_deref()).map_err(|e| ReloadError::Xferlog {
                path: config
                    .xferlog
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display()
                    .to_string(),
                reason: crate::config::io_reason(&e),
            })?;
        let shared = Shared::new(config, auth, public_ip, Metrics::new(), xferlog);
        *shared
            .admin_token
            .write()
            .unwrap_or_else(|e| e.into_inner()) = token;
        let (shutdown_tx, shutdown_rx) = async_channel::bounded(1);
        Ok(Server {
            listeners,
            implicit,
            admin,
            shared: Arc::new(shared),
            shutdown_tx,
            shutdown_rx,
            workers: 1,
            sweep: Vec::new(),
        })
    }

    /// The bound control addresses (with the real ports when port 0 was asked for).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The bound implicit-FTPS addresses ([`Config::implicit_tls_listen`]).
    pub fn implicit_tls_addrs(&self) -> Vec<SocketAddr> {
        self.implicit
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The bound admin HTTP address ([`Config::admin_listen`]), if any.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The server's metrics (what `/metrics` shows).
    pub fn metrics(&self) -> Metrics {
        self.shared.metrics.clone()
    }

    /// Sets where a reload reads the configuration again (see [`crate::reload`]); without
    /// one a reload only reads the admin token again and reopens the transfer log.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ftp_server::{Config, Server};
    /// let cfg = Config {
    ///     listen: vec!["127.0.0.1:0".parse().unwrap()],
    ///     admin_listen: Some("127.0.0.1:0".parse().unwrap()),
    ///     ..Config::default()
    /// };
    /// let again = cfg.clone();
    /// let server = smol::block_on(Server::bind(cfg))
    ///     .unwrap()
    ///     .with_config_loader(Arc::new(move || Ok(Config { max_sessions: 7, ..again.clone() })));
    /// assert!(server.admin_addr().is_some());
    /// let report = server.reload_handle().reload().unwrap();
    /// assert!(report.needs_restart.is_empty());
    /// ```
    pub fn with_config_loader(self, loader: ConfigLoader) -> Server {
        self.shared.set_loader(loader);
        self
    }

    /// A handle that reloads the configuration of the running server.
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle {
            shared: self.shared.clone(),
        }
    }

    /// Sets how many threads run sessions (at least 1; by default 1). The thread that polls
    /// [`Server::run`] is one of them, and also runs the accept loops; the others are started
    /// by `run` and leave when it returns. Each new session goes to the next thread in turn
    /// and stays there.
    ///
    /// Why one by default: the process has a single I/O reactor (async-io's), so a session on
    /// any other thread is woken across threads at every step. On a 2-core machine one thread
    /// served as many small files per second as two (~17,000) and ~15% more sessions per
    /// second (`cargo xtask bench`). Protected (TLS) transfers, the CPU-bound work, run on
    /// a pool of one thread per core whatever this is.
    ///
    /// ```
    /// # use ftp_server::{Config, Server};
    /// let cfg = Config { listen: vec!["127.0.0.1:0".parse().unwrap()], ..Config::default() };
    /// let server = smol::block_on(Server::bind(cfg)).unwrap().with_workers(1);
    /// # drop(server);
    /// ```
    pub fn with_workers(mut self, n: usize) -> Server {
        self.workers = n.max(1);
        self
    }

    /// The server's bans and per-user session counts: [`Access::bans`] lists the banned
    /// addresses and [`Access::lift`] lifts a ban while the server runs (for an admin API).
    ///
    /// ```
    /// # use ftp_server::{Config, Server};
    /// let cfg = Config { listen: vec!["127.0.0.1:0".parse().unwrap()], ..Config::default() };
    /// let server = smol::block_on(Server::bind(cfg)).unwrap();
    /// let access = server.access();
    /// assert!(access.bans().is_empty());
    /// ```
    pub fn access(&self) -> std::sync::Arc<Access> {
        self.shared.access.clone()
    }

    /// A handle that stops [`Server::run`].
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            tx: self.shutdown_tx.clone(),
        }
    }

    /// Serves until [`ShutdownHandle::shutdown`] is called, then waits up to the grace period
    /// for running sessions to finish their transfers. Meanwhile the served directories of
    /// [`Server::bind`]'s users are swept of stale upload temporaries in the background (see
    /// [`crate::storage::fs::Sweeper`]).
    pub async fn run(mut self) -> Result<(), ServerError> {
        let _sweeper = match std::mem::take(&mut self.sweep) {
            roots if roots.is_empty() => None,
            roots => crate::storage::fs::Sweeper::start(roots)
                .map_err(|e| log::warn!("stale upload temporaries are not swept: {e}"))
                .ok(),
        };
        let workers = Workers::start(self.workers);
        let local = workers.execs[0].clone();
        local.run(own_wakeups(self.serve(workers))).await
    }

    async fn serve(self, workers: Workers) -> Result<(), ServerError> {
        let (alive_tx, alive_rx) = async_channel::bounded::<()>(1);
        let shared = self.shared.clone();
        // Shutdown or drain: sessions finish their transfer, then leave; kill: now.
        let signals = shared.signals.clone();
        // The admin listener answers until `run` returns (`/readyz` says 503 meanwhile).
        let admin = match self.admin {
            Some(l) => {
                let ex = workers.execs[0].clone();
                futures::future::Either::Left(crate::admin::serve(l, shared.clone(), ex))
            }
            None => futures::future::Either::Right(future::pending::<()>()),
        };
        // The accept loops run inside this future rather than as tasks: a task would keep
        // `workers` (and so the executor holding it) alive should `run` be dropped.
        let accept_loops = futures::future::join_all(
            self.listeners
                .into_iter()
                .map(|l| (l, false))
                .chain(self.implicit.into_iter().map(|l| (l, true)))
                .map(|(l, implicit)| {
                    accept_loop(l, implicit, shared.clone(), alive_tx.clone(), &workers)
                }),
        );
        let drained = async {
            shared.drain_requested().await;
            signals.shutdown();
            async_io::Timer::after(shared.config().shutdown_grace).await;
            signals.kill();
            future::pending::<()>().await
        };
        let main = async {
            future::or(
                async {
                    accept_loops.await;
                },
                future::or(
                    async {
                        let _ = self.shutdown_rx.recv().await;
                    },
                    drained,
                ),
            )
            .await;
            log::info!("shutting down: no new connections");
            shared.draining.store(true, Ordering::Relaxed);
            signals.shutdown();
            drop(alive_tx);
            wind_down(shared.config().shutdown_grace, &alive_rx, &signals).await;
            log::info!("server stopped");
        };
        future::or(main, async {
            admin.await;
        })
        .await;
        Ok(())
    }
}

/// Waits up to `grace` for the sessions (`alive` closes when the last one ends), then
/// tells the rest to leave and waits for them a little longer.
async fn wind_down(grace: Duration, alive: &async_channel::Receiver<()>, signals: &ServerSignals) {
    let all_done = future::or(
        async {
            let _ = alive.recv().await;
            true
        },
        async {
            async_io::Timer::after(grace).await;
            false
        },
    )
    .await;
    if !all_done {
        log::warn!("grace period over: closing remaining sessions");
        signals.kill();
        future::or(
            async {
                let _ = alive.recv().await;
            },
            async {
                async_io::Timer::after(Duration::from_secs(2)).await;
            },
        )
        .await;
    }
}

/// `f`, polled only when one of its own wakers fired.
///
/// Why: the thread driving the first executor polls the future given to its `run` on every
/// wakeup of any of its tasks. Polled like that, [`Server::serve`]'s accept loops tried an
/// `accept` (and re-armed the listener in epoll) each time a session on that thread was woken.
/// A [`FuturesUnordered`](futures::stream::FuturesUnordered) gives each future it holds a
/// waker of its own and polls only those that were woken.
async fn own_wakeups<T>(f: impl Future<Output = T>) -> T {
    use futures::StreamExt;
    let mut one = futures::stream::FuturesUnordered::new();
    one.push(f);
    match one.next().await {
        Some(t) => t,
        None => unreachable!("the set holds one future until it is ready"),
    }
}

/// The executors sessions run on: the first is driven by the thread polling [`Server::run`]
/// (which also runs the accept loops), each other one by a thread of its own. A session stays
/// on the executor it was given, so its wakeups don't hop between threads.
///
/// Why not smol's global executor: there every wakeup may land on any of its threads, and
/// the thread blocked in `block_on(server.run())` polled the reactor for all of them, so
/// each step of a transfer cost thread switches (4.7 per small file, against 1.5 here).
struct Workers {
    execs: Vec<Arc<smol::Executor<'static>>>,
    next: AtomicUsize,
    /// Closed when dropped: the worker threads leave (dropping the tasks they still hold).
    _stop: async_channel::Sender<()>,
}

impl Workers {
    /// Starts `n - 1` threads (the caller of [`Server::run`] is the first worker).
    fn start(n: usize) -> Workers {
        let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
        let mut execs = vec![Arc::new(smol::Executor::new())];
        for i in 1..n {
            let ex = Arc::new(smol::Executor::new());
            let (ex2, stop) = (ex.clone(), stop_rx.clone());
            let started = std::thread::Builder::new()
                .name(format!("ftp-worker-{i}"))
                .spawn(move || {
                    // Sessions catch their own panics; should anything else panic, the
                    // thread goes on serving the sessions it holds.
                    while std::panic::catch_unwind(AssertUnwindSafe(|| {
                        async_io::block_on(ex2.run(stop.recv()))
                    }))
                    .is_err()
                    {}
                });
            match started {
                Ok(_) => execs.push(ex),
                Err(e) => log::warn!("cannot start worker thread: {e}"),
            }
        }
        Workers {
            execs,
            next: AtomicUsize::new(0),
            _stop: stop_tx,
        }
    }

    /// The executor for the next session (round robin).
    fn next(&self) -> &smol::Executor<'static> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.execs.len();
        &self.execs[i]
    }
}

/// The executor protected (TLS) transfers run on, driven by one thread per available core
/// (`std::thread::available_parallelism`), started on first use and shared by every server
/// of the process.
///
/// Why: sessions stay on one worker thread by default (see [`Server::with_workers`]), so
/// every session's AES-GCM would share one core; a TLS transfer is CPU-bound, and the thread
/// hop it costs to run here is small beside its encryption. Plain transfers never come here
/// (their `sendfile`/`splice` loops cost the kernel, not the session thread). A transfer that
/// is dropped here (`ABOR`, session end) is cancelled with its task.
/// `None` if no thread could be started: the transfer then runs on the session's thread.
pub(crate) fn cpu_pool() -> Option<&'static smol::Executor<'static>> {
    static POOL: std::sync::OnceLock<Option<&'static smol::Executor<'static>>> =
        std::sync::OnceLock::new();
    *POOL.get_or_init(|| {
        let ex: &'static smol::Executor<'static> = Box::leak(Box::new(smol::Executor::new()));
        let n = std::thread::available_parallelism().map_or(1, usize::from);
        let mut running = 0;
        for i in 0..n {
            let started = std::thread::Builder::new()
                .name(format!("ftp-tls-{i}"))
                .spawn(move || loop {
                    // A transfer's panic surfaces in the session awaiting it (its task
                    // ends); should anything else panic, the thread goes on.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        async_io::block_on(ex.run(future::pending::<()>()))
                    }));
                });
            match started {
                Ok(_) => running += 1,
                Err(e) => log::warn!("cannot start TLS worker thread: {e}"),
            }
        }
        (running > 0).then_some(ex)
    })
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.execs.len())
            .finish()
    }
}

async fn resolve_public(a: &str) -> Result<Ipv4Addr, ServerError> {
    if let Ok(ip) = a.parse::<Ipv4Addr>() {
        return Ok(ip);
    }
    let host = a.to_string();
    blocking::unblock(move || {
        use std::net::ToSocketAddrs;
        (host.as_str(), 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut it| {
                it.find_map(|s| match s.ip() {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                })
            })
            .ok_or(ServerError::PublicAddress(host))
    })
    .await
}

/// The start-up warning for a classic misconfiguration that makes every `PASV` fail: the
/// announced address is loopback or unspecified while the server listens on a public
/// interface (remote clients would be sent to their own machine).
fn misannounced(public: Option<Ipv4Addr>, config: &Config) -> Option<String> {
    let public_listen = config
        .listen
        .iter()
        .find(|a| !a.ip().to_canonical().is_loopback())?;
    let announced = public
        .into_iter()
        .chain(config.passive_address_overrides.iter().map(|o| o.address))
        .find(|a| a.is_loopback() || a.is_unspecified())?;
    Some(format!(
        "passive replies announce {announced} while listening on {public_listen}: remote \
         clients will fail every PASV (set --public-address to the address they reach)"
    ))
}

async fn accept_loop(
    listener: TcpListener,
    implicit: bool,
    shared: Arc<Shared>,
    alive: async_channel::Sender<()>,
    workers: &Workers,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // E.g. out of file descriptors: back off instead of spinning.
                log::error!("accept failed: {e}");
                async_io::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let id = shared.next_id();
        let new = NewConn {
            id,
            implicit,
            shared: shared.clone(),
            alive: alive.clone(),
        };
        if shared
            .config()
            .proxy_protocol_from
            .requires_header(peer.ip())
        {
            // The header is read in a task of its own: a slow balancer holds up nobody. The
            // address rules then apply to the client it names.
            workers
                .next()
                .spawn(new.through_proxy(stream, peer))
                .detach();
            continue;
        }
        if refused_at_accept(&shared, peer) {
            // One accept, one close: no greeting, no task.
            drop(stream);
            continue;
        }
        match new.admit(stream, peer) {
            Either::Left(session) => workers.next().spawn(session).detach(),
            Either::Right(refusal) => workers.execs[0].spawn(refusal).detach(),
        }
    }
}

/// True (logged and counted) when the address rules refuse the client at `peer` (its real
/// address): `deny_ips`, `allow_ips`, a ban.
fn refused_at_accept(shared: &Shared, peer: SocketAddr) -> bool {
    let refused = match shared
        .access
        .admits(peer.ip().to_canonical(), &shared.config())
    {
        Admission::Admitted => return false,
        Admission::Denied => Rejected::Denied,
        Admission::Banned => Rejected::Banned,
    };
    log::debug!(event = "refused", reason:? = refused; "[{peer}] refused: {refused:?}");
    shared.metrics.rejected(refused);
    true
}

/// A connection just accepted, and what admitting it needs.
struct NewConn {
    id: u64,
    implicit: bool,
    shared: Arc<Shared>,
    alive: async_channel::Sender<()>,
}

impl NewConn {
    /// Reads the PROXY header of a connection from a load balancer, then admits the client
    /// it names. A missing or malformed header closes the connection: one log line, counted.
    async fn through_proxy(self, mut stream: TcpStream, balancer: SocketAddr) {
        let limit = crate::proxy::HEADER_TIMEOUT;
        let peer = match crate::proxy::read_header(&mut stream, limit).await {
            // UNKNOWN/LOCAL (health checks): the connection's own addresses.
            Ok(a) => a.source.unwrap_or(balancer),
            Err(e) => {
                let id = self.id;
                log::warn!(event = "refused", reason = "proxy_header"; "[s{id} {balancer}] closed: {e}");
                self.shared.metrics.rejected(Rejected::ProxyHeader);
                return;
            }
        };
        if refused_at_accept(&self.shared, peer) {
            return;
        }
        self.admit(stream, peer).await;
    }

    /// Admits a client at `peer` (its real address): the session to run (`Left`), or the
    /// refusal to send (`Right`) when the server drains or the client is over a session limit.
    fn admit(
        self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Either<impl Future<Output = ()> + Send + 'static, impl Future<Output = ()> + Send + 'static>
    {
        let NewConn {
            id,
            implicit,
            shared,
            alive,
        } = self;
        let ip = peer.ip().to_canonical();
        let tag = format!("[s{id} {peer}]");
        if shared.draining.load(Ordering::Relaxed) {
            log::info!(event = "refused", reason = "draining"; "{tag} refused: draining");
            shared.metrics.rejected(Rejected::Draining);
            return Either::Right(refuse(stream, DRAINING));
        }
        let slot = match shared.take_slot(ip) {
            Ok(slot) => slot,
            Err(why) => {
                log::warn!(event = "refused", reason:? = why; "{tag} refused: too many sessions");
                shared.metrics.rejected(why);
                shared
                    .access
                    .offend(ip, Offence::OverLimit, &shared.config());
                return Either::Right(refuse(stream, TOO_MANY));
            }
        };
        let local = stream.local_addr().unwrap_or(peer);
        let (live, registered) = shared.register(id, peer, local);
        let signals = Signals {
            server: shared.signals.clone(),
            live: live.clone(),
        };
        log::info!(event = "connected"; "{tag} connected");
        // The session keeps its tag; the last log line rebuilds it rather than keep a copy.
        // A combinator, not an `async move` block: the block would keep its own copy of the
        // session future (and of every argument) beside the one it awaits, for as long as the
        // session lives.
        let last_user = live.clone();
        let session = AssertUnwindSafe(conn::serve(
            stream, peer, shared, signals, live, tag, implicit,
        ))
        .catch_unwind()
        .map(move |r| {
            drop(registered);
            drop(slot);
            drop(alive);
            let user = last_user.state().user;
            let tag = crate::session::tag_with_user(&format!("[s{id} {peer}]"), user.as_deref());
            match r {
                Ok(()) => log::info!(event = "disconnected"; "{tag} disconnected"),
                Err(_) => log::error!(event = "disconnected", result = "panic"; "{tag} session panicked; closed"),
            }
        });
        Either::Left(session)
    }
}

/// The reply to a connection over the session limits.
const TOO_MANY: &str = "Too many connections, try again later.";
/// The reply to a connection while the server drains.
const DRAINING: &str = "Server is draining, try another one.";

async fn refuse(mut stream: TcpStream, text: &'static str) {
    let r = Reply::new(ReplyCode::NOT_AVAILABLE, text);
    let _ = crate::data::timeout(
        Duration::from_secs(5),
        ftp_proto::io::write_reply(&mut stream, &r),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// Reads one single-line reply from a blocking control connection.
    fn reply(r: &mut BufReader<std::net::TcpStream>) -> String {
        let mut line = String::new();
        r.read_line(&mut line).expect("reply");
        line
    }

    /// Runs an executor with a counting future as its `run` future while a task sleeps 50
    /// times (each timer wakes the thread, as a session's socket does); returns how often the
    /// future was polled.
    fn polls_while_a_task_sleeps(wrap: bool) -> usize {
        let ex = smol::Executor::new();
        let polls = AtomicUsize::new(0);
        let (tx, rx) = async_channel::bounded::<()>(1);
        let mut done = Box::pin(rx.recv());
        let counted = future::poll_fn(|cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            done.as_mut().poll(cx).map(|_| ())
        });
        ex.spawn(async move {
            for _ in 0..50 {
                async_io::Timer::after(Duration::from_micros(50)).await;
            }
            let _ = tx.send(()).await;
        })
        .detach();
        if wrap {
            async_io::block_on(ex.run(own_wakeups(counted)));
        } else {
            async_io::block_on(ex.run(counted));
        }
        polls.load(Ordering::Relaxed)
    }

    #[test]
    fn the_served_future_is_not_polled_when_only_a_session_task_wakes() {
        // Bare, the future is polled on each of the task's 50 wakeups.
        assert!(polls_while_a_task_sleeps(false) >= 50);
        // Wrapped: once at the start, once when its channel is ready.
        assert!(polls_while_a_task_sleeps(true) <= 3);
    }

    #[test]
    fn loopback_announced_on_a_public_interface_is_warned_about() {
        let public: Config = Config {
            listen: vec!["0.0.0.0:21".parse().unwrap()],
            ..Config::default()
        };
        assert!(misannounced(Some(Ipv4Addr::LOCALHOST), &public).is_some());
        assert!(misannounced(Some(Ipv4Addr::UNSPECIFIED), &public).is_some());
        assert!(misannounced(Some(Ipv4Addr::new(203, 0, 113, 5)), &public).is_none());
        assert!(misannounced(None, &public).is_none());
        let local = Config {
            listen: vec!["127.0.0.1:21".parse().unwrap()],
            ..Config::default()
        };
        assert!(misannounced(Some(Ipv4Addr::LOCALHOST), &local).is_none());
    }

    #[test]
    fn sessions_spread_over_several_workers_are_all_served_and_stop_with_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            users: vec![crate::User::new("alice", "secret", dir.path())],
            shutdown_grace: Duration::from_secs(2),
            ..Config::default()
        };
        let server = smol::block_on(Server::bind(cfg)).unwrap().with_workers(3);
        let addr = server.local_addrs()[0];
        let stop = server.shutdown_handle();
        let t = std::thread::spawn(move || smol::block_on(server.run()));
        // Five sessions open at once: round robin puts them on all three threads.
        let mut conns: Vec<_> = (0..5)
            .map(|_| {
                let s = std::net::TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut r = BufReader::new(s);
                assert!(reply(&mut r).starts_with("220"));
                r
            })
            .collect();
        for r in &mut conns {
            r.get_mut().write_all(b"NOOP\r\n").unwrap();
            assert!(reply(r).starts_with("200"));
        }
        // The idle sessions are told and closed when the server stops.
        stop.shutdown();
        for r in &mut conns {
            assert!(reply(r).starts_with("421"));
        }
        for _ in 0..100 {
            if t.is_finished() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(t.is_finished(), "server did not stop");
        t.join().unwrap().unwrap();
    }
}
