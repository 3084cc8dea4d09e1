//! [`Server`]: binds the control listeners, accepts clients within the session limits, runs
//! each session as its own task on one of its worker threads (a panic stays inside it) and
//! shuts down gracefully.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_net::{TcpListener, TcpStream};
use ftp_proto::{Reply, ReplyCode};
use futures::FutureExt;
use futures_lite::future;

use crate::auth::{Authenticator, UserDb, UserDbError};
use crate::config::Config;
use crate::conn;

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
    /// The public address could not be resolved to an IPv4 address.
    #[error("cannot resolve public address {0:?} to an IPv4 address")]
    PublicAddress(String),
}

/// State shared by all sessions.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Arc<Config>,
    pub(crate) auth: Arc<dyn Authenticator>,
    pub(crate) public_ip: Option<Ipv4Addr>,
    sessions: Mutex<Limits>,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Limits {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Releases a session's slot when dropped.
#[derive(Debug)]
struct Slot {
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
    fn take_slot(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut l = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let per = l.per_ip.get(&ip).copied().unwrap_or(0);
        if l.total >= self.config.max_sessions || per >= self.config.max_sessions_per_ip {
            return None;
        }
        l.total += 1;
        *l.per_ip.entry(ip).or_insert(0) += 1;
        Some(Slot {
            shared: self.clone(),
            ip,
        })
    }
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

/// Signals a session receives from the server.
#[derive(Debug, Clone)]
pub(crate) struct Signals {
    /// Closed when the server shuts down: finish the current transfer, then leave.
    pub(crate) shutdown: async_channel::Receiver<()>,
    /// Closed when the grace period is over: leave now.
    pub(crate) kill: async_channel::Receiver<()>,
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
    shared: Arc<Shared>,
    shutdown_tx: async_channel::Sender<()>,
    shutdown_rx: async_channel::Receiver<()>,
    workers: usize,
}

impl Server {
    /// Binds the listeners now, with the built-in [`UserDb`] authenticator.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let auth = Arc::new(UserDb::from_config(&config)?);
        Server::bind_with(config, auth).await
    }

    /// Binds the listeners now, with a custom authenticator (and thereby storage).
    pub async fn bind_with(
        config: Config,
        auth: Arc<dyn Authenticator>,
    ) -> Result<Server, ServerError> {
        if config.listen.is_empty() {
            return Err(ServerError::NoListenAddress);
        }
        let public_ip = match &config.public_address {
            None => None,
            Some(a) => Some(resolve_public(a).await?),
        };
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
        let (shutdown_tx, shutdown_rx) = async_channel::bounded(1);
        Ok(Server {
            listeners,
            implicit,
            shared: Arc::new(Shared {
                config: Arc::new(config),
                auth,
                public_ip,
                sessions: Mutex::new(Limits::default()),
                next_id: AtomicU64::new(1),
            }),
            shutdown_tx,
            shutdown_rx,
            workers: 1,
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

    /// Sets how many threads run sessions (at least 1; by default 1). The thread that polls
    /// [`Server::run`] is one of them, and also runs the accept loops; the others are started
    /// by `run` and leave when it returns. Each new session goes to the next thread in turn
    /// and stays there.
    ///
    /// Why one by default: the process has a single I/O reactor (async-io's), so a session on
    /// any other thread is woken across threads at every step. On a 2-core machine one thread
    /// served as many small files per second as two (~17,000) and ~15% more sessions per
    /// second (`cargo xtask bench`); more threads pay off when sessions burn CPU of their own
    /// (many concurrent TLS transfers).
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

    /// A handle that stops [`Server::run`].
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            tx: self.shutdown_tx.clone(),
        }
    }

    /// Serves until [`ShutdownHandle::shutdown`] is called, then waits up to the grace period
    /// for running sessions to finish their transfers.
    pub async fn run(self) -> Result<(), ServerError> {
        let workers = Workers::start(self.workers);
        let local = workers.execs[0].clone();
        local.run(self.serve(workers)).await
    }

    async fn serve(self, workers: Workers) -> Result<(), ServerError> {
        let (alive_tx, alive_rx) = async_channel::bounded::<()>(1);
        let (kill_tx, kill_rx) = async_channel::bounded::<()>(1);
        let signals = Signals {
            shutdown: self.shutdown_rx.clone(),
            kill: kill_rx,
        };
        // The accept loops run inside this future rather than as tasks: a task would keep
        // `workers` (and so the executor holding it) alive should `run` be dropped.
        let accept_loops = futures::future::join_all(
            self.listeners
                .into_iter()
                .map(|l| (l, false))
                .chain(self.implicit.into_iter().map(|l| (l, true)))
                .map(|(l, implicit)| {
                    accept_loop(
                        l,
                        implicit,
                        self.shared.clone(),
                        signals.clone(),
                        alive_tx.clone(),
                        &workers,
                    )
                }),
        );
        future::or(
            async {
                accept_loops.await;
            },
            async {
                let _ = self.shutdown_rx.recv().await;
            },
        )
        .await;
        log::info!("shutting down: no new connections");
        drop(alive_tx);
        let grace = self.shared.config.shutdown_grace;
        let all_done = future::or(
            async {
                let _ = alive_rx.recv().await;
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
            kill_tx.close();
            future::or(
                async {
                    let _ = alive_rx.recv().await;
                },
                async {
                    async_io::Timer::after(Duration::from_secs(2)).await;
                },
            )
            .await;
        }
        log::info!("server stopped");
        Ok(())
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

async fn accept_loop(
    listener: TcpListener,
    implicit: bool,
    shared: Arc<Shared>,
    signals: Signals,
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
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let tag = format!("[s{id} {peer}]");
        let Some(slot) = shared.take_slot(peer.ip().to_canonical()) else {
            log::warn!("{tag} refused: too many sessions");
            workers.execs[0].spawn(refuse(stream)).detach();
            continue;
        };
        let alive = alive.clone();
        log::info!("{tag} connected");
        // The session keeps its tag; the last log line rebuilds it rather than keep a copy.
        // A combinator, not an `async move` block: the block would keep its own copy of the
        // session future (and of every argument) beside the one it awaits, for as long as the
        // session lives.
        let session = AssertUnwindSafe(conn::serve(
            stream,
            peer,
            shared.clone(),
            signals.clone(),
            tag,
            implicit,
        ))
        .catch_unwind()
        .map(move |r| {
            drop(slot);
            drop(alive);
            match r {
                Ok(()) => log::info!("[s{id} {peer}] disconnected"),
                Err(_) => log::error!("[s{id} {peer}] session panicked; closed"),
            }
        });
        workers.next().spawn(session).detach();
    }
}

async fn refuse(mut stream: TcpStream) {
    let r = Reply::new(
        ReplyCode::NOT_AVAILABLE,
        "Too many connections, try again later.",
    );
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
