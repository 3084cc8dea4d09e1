//! Drives a [`Session`] over a control connection: reads commands, writes replies, and runs
//! transfers concurrently so `ABOR`, `STAT` and `NOOP` are answered while data flows.
//!
//! The control stream is a [`ControlStream`]: plain TCP, or TLS that `AUTH TLS` (or an
//! implicit-FTPS listener) starts and `CCC`/`REIN` end again on the same TCP connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_net::TcpStream;
use ftp_proto::io::{write_replies, CommandReader, CompactBufReader};
use ftp_proto::{Command, ParseError, Reply, Verb};
use futures::io::{ReadHalf, WriteHalf};
use futures::AsyncReadExt as _;
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::data::{self, CopyError, DataConn, Direction};
use crate::metrics::{Metrics, Outcome};
use crate::policy::rate::Meter;
use crate::session::{Action, Busy, Progress, Session, Transfer, TransferData, TransferEnd};
use crate::shared::{LiveSession, LiveTransfer, Shared, Signal, Signals};
use crate::tls::{ControlStream, DataDirection, DataTlsError, DataTransport, SessionTls};
use crate::vpath::VPath;
use crate::xferlog;

/// A control connection: plain TCP, or TLS after `AUTH TLS` / on an implicit-FTPS listener.
type Ctl = ControlStream<TcpStream>;
type CtlReader = CommandReader<CompactBufReader<ReadHalf<Ctl>>>;

/// Why [`Conn::run`] returned.
enum RunEnd {
    /// The session is over.
    Closed,
    /// `234` was sent: run the TLS handshake on the control connection, then go on.
    StartTls,
    /// The `CCC`/`REIN` reply was sent: end TLS on the control connection, then go on.
    EndTls,
}

/// What comes after a transfer's reply.
enum After {
    /// Close: after the `QUIT` that came during the transfer (`quit`), else because the
    /// server shuts down.
    Close { quit: bool },
    /// Go on, with the command that waited for the transfer, if any.
    Go(Option<Result<Command, ParseError>>),
}

/// What to do after a command.
enum Flow {
    Continue,
    Close,
    StartTls,
    EndTls,
}

impl Flow {
    /// How [`Conn::run`] ends here, unless it goes on.
    fn end(self) -> Option<RunEnd> {
        match self {
            Flow::Continue => None,
            Flow::Close => Some(RunEnd::Closed),
            Flow::StartTls => Some(RunEnd::StartTls),
            Flow::EndTls => Some(RunEnd::EndTls),
        }
    }
}

enum DataSetup {
    None,
    Passive(data::PassiveListener),
    Active(SocketAddr),
    /// Accepted by [`Conn::send_at_once`], which could not finish (never kept in `Conn`).
    Accepted(DataConn),
    /// A passive listener under `PROT P` whose connection is accepted and TLS-handshaken as
    /// soon as the client connects ([`Conn::early_tls`]), polled beside the command reader;
    /// the transfer command tells the handshake its direction through the sender.
    EarlyTls(
        Pin<Box<dyn Future<Output = Box<TlsData>> + Send>>,
        Option<futures::channel::oneshot::Sender<DataDirection>>,
    ),
    /// Its outcome, when it finished before the transfer command.
    TlsReady(Box<TlsData>),
}

impl DataSetup {
    /// Tells an early handshake which way the transfer goes (see [`DataDirection`]).
    fn tell_direction(&mut self, data: &TransferData) {
        if let DataSetup::EarlyTls(_, tell) = self {
            if let Some(tell) = tell.take() {
                let _ = tell.send(direction_of(data));
            }
        }
    }
}

/// A protected data connection, or why there is none.
type TlsData = Result<futures_rustls::server::TlsStream<DataTransport<TcpStream>>, TransferEnd>;

/// A transfer in flight: the future moving its data, and what its log line and its
/// final reply need.
struct Running {
    fut: Pin<Box<dyn Future<Output = TransferEnd> + Send>>,
    info: TransferInfo,
}

struct TransferInfo {
    progress: Arc<AtomicU64>,
    verb: Verb,
    path: VPath,
    started: Instant,
    ascii: bool,
}

/// What [`Conn::send_at_once`] did.
enum AtOnce {
    /// The transfer ended (successfully or not) without waiting. Its sockets, if any, are
    /// closed only after the reply went out: a TCP close takes microseconds the client
    /// need not wait for.
    Finished(
        TransferEnd,
        Option<(std::net::TcpStream, data::PassiveListener)>,
    ),
    /// Not finished: the rest runs the ordinary way, over this setup (the accepted
    /// connection when some bytes, counted here, already went out).
    Continue(DataSetup, u64),
}

enum Event {
    Command(io::Result<Option<Result<Command, ParseError>>>),
    EarlyTls(Box<TlsData>),
    TransferDone(TransferEnd),
    Idle,
    Shutdown,
    Kill,
    /// The administrator closes the session (`DELETE /api/v1/sessions/{id}`).
    Kick,
}

/// Serves one control connection until it ends; `implicit`: TLS from the first byte.
///
/// The session task is as big as its largest state, so an idle session should only pay for
/// the command loop: the arguments move straight into the boxed set-up future (an `async
/// fn` would keep them for its whole life), and TLS switches, commands and transfer endings
/// run boxed too (see `cargo xtask idle-memory`).
pub(crate) fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    signals: Signals,
    live: Arc<LiveSession>,
    tag: String,
    implicit: bool,
) -> impl Future<Output = ()> + Send {
    let open = Box::pin(open(stream, peer, shared, live, tag, implicit));
    async move {
        let Some((mut conn, reader)) = open.await else {
            return;
        };
        conn.serve_commands(reader, &signals).await;
    }
}

/// Sets a connection up (socket options, implicit TLS) and sends the greeting.
async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    live: Arc<LiveSession>,
    tag: String,
    implicit: bool,
) -> Option<(Conn, CtlReader)> {
    // The configuration as it is now stays this session's, whatever a reload does.
    let cfg = shared.config();
    let local = match stream.local_addr() {
        Ok(a) => a,
        Err(e) => {
            log::warn!(event = "connection_error"; "{tag} no local address: {e}");
            return None;
        }
    };
    let _ = stream.set_nodelay(true);
    // Clients send ABOR as urgent data (e.g. Python's ftplib: the final LF is the urgent byte);
    // keep it in the normal stream so the line is complete.
    let _ = rustix::net::sockopt::set_socket_oobinline(&stream, true);
    let tls = match cfg.tls.as_ref().map(|t| t.settings.session(peer.ip())) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            log::error!(event = "tls_failed"; "{tag} TLS setup failed: {e}");
            return None;
        }
    };
    let mut ctl: Ctl = ControlStream::Plain(stream);
    if implicit {
        let t = tls.as_ref()?;
        let r = ctl.start_tls(t, Vec::new(), cfg.data_timeout).await;
        shared.metrics.tls_handshake(r.is_ok());
        match r {
            Ok(s) => ctl = s,
            Err(e) => {
                log::info!(event = "tls_failed"; "{tag} implicit TLS handshake failed: {e}");
                return None;
            }
        }
    }
    let (r, w) = ctl.split();
    let mut conn = Conn {
        writer: Some(w),
        session: Session::new(cfg, shared.auth.clone(), peer, local),
        shared,
        live,
        data: DataSetup::None,
        tls,
    };
    conn.session.set_log_tag(tag);
    conn.session.set_rate_caps(conn.shared.caps.clone());
    conn.session.set_hash_slots(conn.shared.hash_slots.clone());
    conn.session.set_access(conn.shared.access.clone());
    if implicit {
        conn.session.set_tls_implicit();
    }
    let reader = conn.reader(r);
    let greeting = conn.session.greeting();
    if let Err(e) = conn.send(&greeting).await {
        log::info!(event = "connection_error"; "{} control connection: {e}", conn.session.log_tag());
        return None;
    }
    Some((conn, reader))
}

struct Conn {
    /// `None` only while the TLS handshake runs.
    writer: Option<WriteHalf<Ctl>>,
    session: Session,
    shared: Arc<Shared>,
    data: DataSetup,
    tls: Option<SessionTls>,
    /// What the admin API shows of this session.
    live: Arc<LiveSession>,
}

impl Conn {
    fn reader(&self, r: ReadHalf<Ctl>) -> CtlReader {
        // No read buffer while idle: it exists only while a command's bytes are unread.
        CommandReader::new(CompactBufReader::new(r), self.session.config().max_line)
    }

    /// Runs commands until the connection ends, switching TLS on and off on the way.
    async fn serve_commands(&mut self, mut reader: CtlReader, signals: &Signals) {
        loop {
            let start = match self.run(&mut reader, signals).await {
                Ok(RunEnd::Closed) => return,
                Ok(RunEnd::StartTls) => true,
                Ok(RunEnd::EndTls) => false,
                Err(e) => {
                    log::info!(event = "connection_error"; "{} control connection: {e}", self.session.log_tag());
                    return;
                }
            };
            match Box::pin(self.switch_tls(reader, start)).await {
                Some(r) => reader = r,
                None => return,
            }
        }
    }

    /// After `234` (`start`) runs the TLS handshake, after the `CCC`/`REIN` reply the TLS
    /// shutdown; returns the reader of the new stream, `None` when the connection must close.
    async fn switch_tls(&mut self, mut reader: CtlReader, start: bool) -> Option<CtlReader> {
        // Bytes read behind `AUTH TLS` (a ClientHello sent without waiting for 234) go to
        // the TLS layer only, never to a command reader. Behind `CCC`/`REIN` the client must
        // wait for the reply: protected bytes there are a protocol violation.
        let pending = reader.get_mut().buffer().to_vec();
        if !start && !pending.is_empty() {
            log::info!(
                event = "tls_failed";
                "{} data after CCC/REIN before close_notify; closing",
                self.session.log_tag()
            );
            return None;
        }
        let (Some(w), Some(t)) = (self.writer.take(), self.tls.clone()) else {
            return None;
        };
        let ctl = reader.into_inner().into_inner().reunite(w).ok()?;
        let limit = self.session.config().data_timeout;
        let next = if start {
            let r = ctl.start_tls(&t, pending, limit).await;
            self.shared.metrics.tls_handshake(r.is_ok());
            r
        } else {
            ctl.end_tls(limit).await
        };
        match next {
            Ok(s) => {
                let what = if s.is_tls() { "TLS" } else { "plain text" };
                let (r, w) = s.split();
                self.writer = Some(w);
                log::debug!(
                    "{} control connection now uses {what}",
                    self.session.log_tag()
                );
                Some(self.reader(r))
            }
            Err(e) => {
                let what = if start { "handshake" } else { "shutdown" };
                log::info!(event = "tls_failed"; "{} TLS {what} failed: {e}", self.session.log_tag());
                None
            }
        }
    }

    async fn send(&mut self, r: &Reply) -> io::Result<()> {
        self.send_all(&[r]).await
    }

    /// Sends replies in one write (one TCP segment, one wake-up of the client).
    async fn send_all(&mut self, replies: &[&Reply]) -> io::Result<()> {
        for r in replies {
            log::debug!("{} -> {}", self.session.log_tag(), r);
        }
        let Some(w) = self.writer.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        data::timeout(
            self.session.config().data_timeout,
            write_replies(w, replies),
        )
        .await
    }

    /// [`send`](Self::send) as a boxed future, for the command loop's own replies: inline,
    /// it would make every idle session's task larger.
    async fn send_boxed(&mut self, r: &Reply) -> io::Result<()> {
        Box::pin(self.send(r)).await
    }

    /// The command loop: handles what comes next ([`Loop::next_event`]) until the session
    /// ends or its control connection switches TLS.
    async fn run(&mut self, reader: &mut CtlReader, signals: &Signals) -> io::Result<RunEnd> {
        let mut l = Loop {
            running: None,
            stashed: None,
            deadline: self.session.idle_deadline(Instant::now()),
            idle_timer: data::Deadline::default(),
            shutting_down: false,
            quit_after: false,
        };
        loop {
            let busy = l.running.is_some();
            let event = l.next_event(reader, signals, &mut self.data).await;
            let flow = match event {
                Event::EarlyTls(r) => {
                    self.data = DataSetup::TlsReady(r);
                    continue;
                }
                Event::Kill => {
                    // The grace period is over: a transfer still running ends here, and
                    // gets its log line like any other.
                    let r = self.session.shutdown();
                    return Ok(self
                        .close_now(&mut l.running, "failed: server shut down", r)
                        .await);
                }
                Event::Kick => {
                    // Like a broken connection: an unfinished upload is discarded.
                    let (why, r) = ("aborted: closed by the administrator", self.kicked());
                    return Ok(self.close_now(&mut l.running, why, r).await);
                }
                Event::Shutdown => {
                    l.shutting_down = true;
                    if busy {
                        continue;
                    }
                    let r = self.session.shutdown();
                    return self.send_boxed(&r).await.map(|()| RunEnd::Closed);
                }
                Event::Idle => {
                    log::info!(event = "timeout"; "{} idle timeout", self.session.log_tag());
                    let r = self.session.idle_timeout();
                    return self.send_boxed(&r).await.map(|()| RunEnd::Closed);
                }
                Event::TransferDone(outcome) => {
                    // Only the info outlives this statement (the finished future is dropped
                    // here), so no whole `Running` is kept across the await below.
                    let Some(Running { info, .. }) = l.running.take() else {
                        continue;
                    };
                    let next = l.next_after_transfer();
                    let after =
                        self.after_transfer(info, outcome, next, &mut l.running, &mut l.deadline);
                    Box::pin(after).await?
                }
                Event::Command(Err(e)) => {
                    self.end_running(&mut l.running, "failed: control connection lost");
                    return Err(e);
                }
                Event::Command(Ok(None)) => {
                    self.end_running(&mut l.running, "failed: client disconnected");
                    return Ok(RunEnd::Closed);
                }
                Event::Command(Ok(Some(cmd))) => {
                    self.log_command(&cmd);
                    l.deadline = self.session.idle_deadline(Instant::now());
                    if l.running.is_some() {
                        let during = self.during_transfer(cmd, &mut l.running, &mut l.quit_after);
                        l.stashed = Box::pin(during).await?;
                        continue;
                    }
                    Box::pin(self.dispatch(cmd, &mut l.running)).await?
                }
            };
            if let Some(end) = flow.end() {
                return Ok(end);
            }
        }
    }

    /// The reply to the administrator's kick, logged.
    fn kicked(&self) -> Reply {
        let tag = self.session.log_tag();
        log::info!(event = "kicked"; "{tag} closed by the administrator");
        self.session.kicked()
    }

    /// Ends the transfer still `running` (its log line says `why`), sends `r` and closes.
    async fn close_now(&mut self, running: &mut Option<Running>, why: &str, r: Reply) -> RunEnd {
        self.end_running(running, why);
        let _ = self.send_boxed(&r).await;
        RunEnd::Closed
    }

    /// Ends the transfer still `running`, if any (dropping its future closes the data
    /// connection), with its log line saying `why`.
    fn end_running(&self, running: &mut Option<Running>, why: &str) {
        if let Some(r) = running.take() {
            self.log_transfer(&r.info, why);
        }
    }

    /// Logs and counts a command (or a line that is none) as it arrives.
    fn log_command(&self, cmd: &Result<Command, ParseError>) {
        let verb = match cmd {
            Ok(c) => Some(c.verb()),
            Err(e) => e.verb(),
        };
        self.shared.metrics.command(verb);
        match cmd {
            Ok(c) => log::debug!("{} <- {}", self.session.log_tag(), c),
            Err(e) => log::debug!("{} <- bad line: {}", self.session.log_tag(), e),
        }
    }

    /// A command that arrived while a transfer runs, as the session decides
    /// ([`Session::during_transfer`]); returns the command when it must wait for the
    /// transfer.
    async fn during_transfer(
        &mut self,
        cmd: Result<Command, ParseError>,
        running: &mut Option<Running>,
        quit_after: &mut bool,
    ) -> io::Result<Option<Result<Command, ParseError>>> {
        let Some(r) = running.as_ref() else {
            return Ok(Some(cmd));
        };
        let progress = Progress {
            verb: r.info.verb,
            path: &r.info.path,
            bytes: r.info.progress.load(Ordering::Relaxed),
        };
        match self.session.during_transfer(&cmd, progress) {
            Busy::Abort(aborted, done) => {
                // Dropping the transfer closes the data connection and discards an
                // unfinished upload's temporary file.
                self.end_running(running, "aborted");
                self.send(&aborted).await?;
                self.send(&done).await?;
            }
            Busy::Reply(r) => self.send(&r).await?,
            Busy::QuitAfter => *quit_after = true,
            Busy::Defer => return Ok(Some(cmd)),
        }
        Ok(None)
    }

    /// After a transfer ended: its reply and log line, the idle `deadline` from then on,
    /// then what comes `next`.
    async fn after_transfer(
        &mut self,
        info: TransferInfo,
        outcome: TransferEnd,
        next: After,
        running: &mut Option<Running>,
        deadline: &mut Instant,
    ) -> io::Result<Flow> {
        self.finish(info, outcome, None).await?;
        *deadline = self.session.idle_deadline(Instant::now());
        match next {
            After::Close { quit } => {
                let r = if quit {
                    self.session.goodbye()
                } else {
                    self.session.shutdown()
                };
                self.send(&r).await.map(|()| Flow::Close)
            }
            After::Go(Some(cmd)) => self.dispatch(cmd, running).await,
            After::Go(None) => Ok(Flow::Continue),
        }
    }

    /// Handles a command with no transfer running.
    async fn dispatch(
        &mut self,
        cmd: Result<Command, ParseError>,
        running: &mut Option<Running>,
    ) -> io::Result<Flow> {
        let login_change = matches!(cmd, Ok(Command::User(_) | Command::Pass(_) | Command::Rein));
        let shown_change = matches!(
            cmd,
            Ok(Command::Cwd(_) | Command::Cdup | Command::Auth(_) | Command::Ccc)
        );
        let action = self.session.handle(cmd).await;
        if let (true, Some(t)) = (login_change, &self.tls) {
            t.set_user(self.session.user());
        }
        if login_change || shown_change {
            self.show_state();
        }
        self.act(action, running).await
    }

    /// Updates what the admin API shows of the session: user, working directory, TLS.
    fn show_state(&self) {
        let user = self.session.user().map(str::to_string);
        let cwd = match self.session.cwd() {
            root if *root == VPath::root() => String::new(),
            dir => dir.to_string(),
        };
        let tls = self.session.tls_active();
        self.live.update(|s| {
            s.user = user;
            s.cwd = cwd;
            s.tls = tls;
        });
    }

    /// Shows a transfer that starts in the admin API.
    fn show_transfer(&self, info: &TransferInfo) {
        let shown = LiveTransfer {
            verb: info.verb.as_str(),
            path: info.path.to_string(),
            bytes: info.progress.clone(),
            started: std::time::SystemTime::now(),
        };
        self.live.update(|s| s.transfer = Some(Box::new(shown)));
    }

    /// Does what the session asked for.
    async fn act(&mut self, action: Action, running: &mut Option<Running>) -> io::Result<Flow> {
        match action {
            Action::Delay { delay, then } => {
                async_io::Timer::after(delay).await;
                return Box::pin(self.act(*then, running)).await;
            }
            Action::Reply(r) => self.send(&r).await?,
            Action::StartTls(r) => {
                self.send(&r).await?;
                return Ok(Flow::StartTls);
            }
            Action::EndTls {
                reply,
                reinitialize,
            } => {
                if reinitialize {
                    self.data = DataSetup::None;
                }
                self.send(&reply).await?;
                return Ok(Flow::EndTls);
            }
            Action::Close(r) => {
                self.send(&r).await?;
                if let Some(w) = self.writer.as_mut() {
                    let _ = w.close().await;
                }
                return Ok(Flow::Close);
            }
            Action::Active(addr, r) => {
                self.data = DataSetup::Active(addr);
                self.send(&r).await?;
            }
            Action::Reinitialize(r) => {
                self.data = DataSetup::None;
                self.send(&r).await?;
            }
            Action::Passive { extended } => {
                let r = self.open_passive(extended).await;
                self.send(&r).await?;
            }
            Action::Transfer(t) => self.start_transfer(t, running).await?,
            Action::Job(j) => start_job(j, running),
        }
        Ok(Flow::Continue)
    }

    /// Runs a transfer over the data connection set up before: at once when it can (see
    /// [`send_at_once`](Self::send_at_once)), else as `running`, beside the command reader.
    async fn start_transfer(
        &mut self,
        mut t: Transfer,
        running: &mut Option<Running>,
    ) -> io::Result<()> {
        let mut setup = std::mem::replace(&mut self.data, DataSetup::None);
        setup.tell_direction(&t.data);
        if matches!(setup, DataSetup::None) {
            let r = self.session.no_data_connection();
            self.send(&r).await?;
            return Ok(());
        }
        let info = TransferInfo {
            progress: Arc::new(AtomicU64::new(0)),
            verb: t.verb,
            path: t.path,
            started: Instant::now(),
            ascii: t.ascii,
        };
        self.show_transfer(&info);
        let unpaced_binary = !t.ascii && t.meter.is_none();
        in_memory_if_small(&mut t.data, unpaced_binary && self.session.data_protected());
        let (setup, sent) = match self.send_at_once(setup, &mut t.data, unpaced_binary, &info) {
            AtOnce::Finished(outcome, sockets) => {
                let sent = Box::pin(self.finish(info, outcome, Some(&t.opening))).await;
                drop(sockets);
                return sent;
            }
            AtOnce::Continue(setup, sent) => (setup, sent),
        };
        self.send(&t.opening).await?;
        let cfg = self.session.config().clone();
        let metrics = self.shared.metrics.clone();
        let peer_ip = self.session.peer().ip();
        let tag = self.session.log_tag().to_string();
        let p2 = info.progress.clone();
        let (ascii, data, meter) = (t.ascii, t.data, t.meter);
        let tls = match (&self.tls, &cfg.tls) {
            (Some(s), Some(c)) if self.session.data_protected() => {
                Some((s.clone(), c.require_session_reuse))
            }
            _ => None,
        };
        // Protected transfers encrypt on every core; listings and small files (in memory
        // by now) are too small to be worth the hop.
        let offload = tls.is_some() && !matches!(data, TransferData::SendBytes(_));
        let fut = async move {
            let limit = cfg.data_timeout;
            let x = Xfer::new(ascii, limit, &p2, meter.as_ref());
            let setup = match (setup, &tls) {
                (DataSetup::TlsReady(r), Some(_)) => return finish_tls(*r, data, x).await,
                (DataSetup::EarlyTls(f, _), Some(_)) => {
                    let r = within(limit, async { *f.await }).await;
                    return finish_tls(r, data, x).await;
                }
                (DataSetup::TlsReady(_) | DataSetup::EarlyTls(..), None) => {
                    let e = io::Error::other("data protection changed after PASV/EPSV");
                    return TransferEnd::NoConnection(e);
                }
                (setup, _) => setup,
            };
            let stream = match setup {
                DataSetup::Passive(l) => {
                    data::accept_from(l, peer_ip, &cfg.proxy_protocol_from, limit, &tag).await
                }
                DataSetup::Active(a) => data::connect(a, limit).await,
                DataSetup::Accepted(c) => Ok(c),
                _ => Err(io::ErrorKind::NotConnected.into()),
            };
            let stream = match stream {
                Ok(s) => s,
                Err(e) => return TransferEnd::NoConnection(e),
            };
            let Some((tls, reuse)) = tls else {
                return run_plain(stream, data, sent, x).await;
            };
            let known = future::ready(direction_of(&data));
            let r = within(limit, handshake(&tls, stream, reuse, &metrics, known)).await;
            finish_tls(r, data, x).await
        };
        *running = Some(Running {
            fut: on_cpu_pool(offload, fut),
            info,
        });
        Ok(())
    }

    /// Runs a download at once when it needs no waiting at all: passive, plain (no TLS on the
    /// data connection), binary without a bandwidth limit (`unpaced_binary`: under a limit
    /// every byte goes through the meter), the client already connected (clients connect right after
    /// the 227/229 reply, before the transfer command), and the file or listing fits in the
    /// socket's buffer. The `150` and the final reply then go out together after the data,
    /// in one write: the client wakes once instead of once per reply, and the server makes
    /// one system call less. Everything else, and whatever did not fit, runs the ordinary
    /// way, `150` first.
    fn send_at_once(
        &self,
        setup: DataSetup,
        data: &mut TransferData,
        unpaced_binary: bool,
        info: &TransferInfo,
    ) -> AtOnce {
        let sendable = matches!(data, TransferData::SendFile(_) | TransferData::SendBytes(_));
        let plain = unpaced_binary && !self.session.data_protected();
        let listener = match setup {
            DataSetup::Passive(l) if sendable && plain => l,
            setup => return AtOnce::Continue(setup, 0),
        };
        if !self.session.config().proxy_protocol_from.is_empty() {
            // Through a balancer the connection starts with a header: read in `accept_from`.
            return AtOnce::Continue(DataSetup::Passive(listener), 0);
        }
        let peer_ip = self.session.peer().ip();
        let stream = match data::accept_waiting(&listener, peer_ip, self.session.log_tag()) {
            Ok(Some(s)) => s,
            Ok(None) => return AtOnce::Continue(DataSetup::Passive(listener), 0),
            Err(e) => return AtOnce::Finished(TransferEnd::NoConnection(e), None),
        };
        let done = |n: u64| match stream.shutdown(std::net::Shutdown::Write) {
            Ok(()) => TransferEnd::Done(n),
            Err(e) => TransferEnd::Data(e),
        };
        // `Err`: the transfer ended with this outcome; `Ok`: this many bytes went out.
        let step = match data {
            TransferData::SendFile(f) => match data::send_file_now(f, &stream, 0, &info.progress) {
                Ok(data::SentNow::Done(n)) => Err(done(n)),
                Ok(data::SentNow::Full(n)) => Ok(n),
                Ok(data::SentNow::Unsupported) => Ok(0),
                Err(CopyError::Read(e)) => Err(TransferEnd::Storage(e.into())),
                Err(CopyError::Write(e)) => Err(TransferEnd::Data(e)),
            },
            TransferData::SendBytes(bytes) => match data::write_now(&stream, bytes) {
                Ok(n) if n == bytes.len() => Err(done(n as u64)),
                Ok(n) => {
                    bytes.drain(..n);
                    Ok(n as u64)
                }
                Err(e) => Err(TransferEnd::Data(e)),
            },
            _ => Ok(0),
        };
        match step {
            Ok(sent) => AtOnce::Continue(DataSetup::Accepted(DataConn::Fresh(stream)), sent),
            Err(outcome) => AtOnce::Finished(outcome, Some((stream, listener))),
        }
    }

    /// Opens a passive listener for `PASV` (`extended` false) or `EPSV`; the session words
    /// the reply ([`Session::passive_opened`]).
    async fn open_passive(&mut self, extended: bool) -> Reply {
        self.data = DataSetup::None;
        let cfg = self.session.config().clone();
        let bind_ip = self.session.local().ip();
        let client = self.session.peer().ip();
        let announce_v4 = cfg.passive_address(client, self.shared.public_ip, bind_ip);
        if !extended && announce_v4.is_none() {
            return self.session.passive_opened(extended, None, None);
        }
        let port = match data::bind_passive(bind_ip, cfg.passive_ports.as_ref()).await {
            Ok(l) => {
                let port = l.local_addr().port();
                let range = data::passive_range_size(cfg.passive_ports.as_ref());
                let l = l.counted(&self.shared.metrics, range);
                self.data = self.early_tls(l);
                Some(cfg.announced_port(port))
            }
            Err(e) => {
                log::warn!(event = "passive_bind_failed"; "{} passive bind failed: {e}", self.session.log_tag());
                None
            }
        };
        self.session.passive_opened(extended, announce_v4, port)
    }

    /// Under `PROT P`, accepts the passive connection and runs its TLS handshake as soon as
    /// the client connects, beside the command reader, instead of after the transfer
    /// command: some clients (aioftp, older Go ones) finish the handshake before they send
    /// that command. Clients that wait for `150` first just make the handshake wait longer.
    /// Bounded by the idle timeout until the transfer command, by the data timeout after.
    fn early_tls(&self, l: data::PassiveListener) -> DataSetup {
        let (Some(tls), Some(c)) = (&self.tls, &self.session.config().tls) else {
            return DataSetup::Passive(l);
        };
        if !self.session.data_protected() {
            return DataSetup::Passive(l);
        }
        let (tls, reuse) = (tls.clone(), c.require_session_reuse);
        let limit = self.session.config().idle_timeout;
        let peer_ip = self.session.peer().ip();
        let tag = self.session.log_tag().to_string();
        let metrics = self.shared.metrics.clone();
        let proxies = self.session.config().proxy_protocol_from.clone();
        let (tell, told) = futures::channel::oneshot::channel();
        // Awaited once the client's hello is in: the transfer command, or at most
        // DIRECTION_WAIT for a client that finishes the handshake before sending it.
        let direction = async move {
            let known = async { told.await.unwrap_or(DataDirection::Unknown) };
            future::or(known, async {
                async_io::Timer::after(DIRECTION_WAIT).await;
                DataDirection::Unknown
            })
            .await
        };
        let fut = Box::pin(async move {
            let r = match data::accept_from(l, peer_ip, &proxies, limit, &tag).await {
                Ok(stream) => {
                    within(limit, handshake(&tls, stream, reuse, &metrics, direction)).await
                }
                Err(e) => Err(TransferEnd::NoConnection(e)),
            };
            Box::new(r)
        });
        DataSetup::EarlyTls(fut, Some(tell))
    }

    /// A transfer's end: its log line, its metrics, its `xferlog` line, and the admin API
    /// no longer shows it.
    fn log_transfer(&self, r: &TransferInfo, result: &str) {
        let secs = r.started.elapsed().as_secs_f64();
        let bytes = r.progress.load(Ordering::Relaxed);
        let rate = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
        self.live.update(|s| s.transfer = None);
        self.count_transfer(r, result, bytes, secs);
        log::info!(
            event = "transfer",
            user = self.session.user().unwrap_or("-"),
            verb = r.verb.as_str(),
            path:% = r.path,
            bytes = bytes,
            seconds = secs,
            result = result;
            "{} transfer user={} cmd={} path={} bytes={} duration={:.3}s rate={:.0}B/s {}",
            self.session.log_tag(),
            self.session.user().unwrap_or("-"),
            r.verb.as_str(),
            r.path,
            bytes,
            secs,
            rate,
            result
        );
    }

    /// Counts a file transfer (not a listing) in the metrics and writes its `xferlog` line.
    fn count_transfer(&self, r: &TransferInfo, result: &str, bytes: u64, secs: f64) {
        let upload = match r.verb {
            Verb::Retr => false,
            Verb::Stor | Verb::Appe | Verb::Stou => true,
            _ => return,
        };
        let outcome = if result == "ok" {
            Outcome::Ok
        } else if result.starts_with("aborted") {
            Outcome::Aborted
        } else {
            Outcome::Failed
        };
        self.shared.metrics.transfer(upload, outcome, bytes);
        let user = self.session.user().unwrap_or("-");
        self.shared.xferlog.write(&xferlog::Entry {
            at: std::time::SystemTime::now(),
            seconds: secs.round() as u64,
            host: self.session.peer().ip(),
            bytes,
            path: r.path.as_bytes(),
            ascii: r.ascii,
            upload,
            anonymous: user == "anonymous",
            user,
            complete: outcome == Outcome::Ok,
        });
    }

    /// Sends a transfer's final reply, with the `150` in the same write when `opening` is
    /// given (the transfer ran at once, see [`send_at_once`](Self::send_at_once)), then logs
    /// its end: the client need not wait for the log line.
    async fn finish(
        &mut self,
        r: TransferInfo,
        outcome: TransferEnd,
        opening: Option<&Reply>,
    ) -> io::Result<()> {
        if let TransferEnd::Done(n) = outcome {
            r.progress.store(n, Ordering::Relaxed);
        }
        let reply = self.session.transfer_ended(&outcome);
        let sent = match opening {
            Some(first) => self.send_all(&[first, &reply]).await,
            None => self.send(&reply).await,
        };
        self.log_transfer(&r, &outcome.to_string());
        sent
    }
}

/// The command loop's state between events ([`Conn::run`]).
struct Loop {
    /// The transfer in flight.
    running: Option<Running>,
    /// A command that came during the transfer and waits for its end.
    stashed: Option<Result<Command, ParseError>>,
    /// When the session closes for idling (no limit while a transfer runs).
    deadline: Instant,
    /// One idle timer for the whole session (see `data::Deadline`).
    idle_timer: data::Deadline,
    /// The server shuts down: close after the running transfer.
    shutting_down: bool,
    /// `QUIT` came during the transfer: close after it.
    quit_after: bool,
}

impl Loop {
    /// What comes after the running transfer's reply: close (after a `QUIT` during it, or
    /// as the server shuts down), else the command that waited for it.
    fn next_after_transfer(&mut self) -> After {
        if self.quit_after || self.shutting_down {
            After::Close {
                quit: self.quit_after,
            }
        } else {
            After::Go(self.stashed.take())
        }
    }

    /// Waits for what comes first: the running transfer's end, the server's signal, the next
    /// command (none while a stashed one waits: bounded input), the idle deadline (none while
    /// a transfer runs).
    async fn next_event(
        &mut self,
        reader: &mut CtlReader,
        signals: &Signals,
        setup: &mut DataSetup,
    ) -> Event {
        let busy = self.running.is_some();
        let read_more = self.stashed.is_none();
        let done = async {
            match self.running.as_mut() {
                Some(r) => Event::TransferDone((&mut r.fut).await),
                None => future::pending().await,
            }
        };
        let cmd = async {
            if read_more {
                Event::Command(reader.next().await)
            } else {
                future::pending().await
            }
        };
        let idle = async {
            if busy {
                future::pending().await
            } else {
                self.idle_timer.until(self.deadline).await;
                Event::Idle
            }
        };
        // Shutdown, kill and kick come through one listener per idle session
        // (`Signals::next`); a session already shutting down waits for a kill or a kick.
        let shutting_down = self.shutting_down;
        let signal = async {
            match signals.next(!shutting_down).await {
                Signal::Shutdown => Event::Shutdown,
                Signal::Kill => Event::Kill,
                Signal::Kick => Event::Kick,
            }
        };
        let early = async {
            match setup {
                DataSetup::EarlyTls(f, _) => Event::EarlyTls(f.as_mut().await),
                _ => future::pending().await,
            }
        };
        let waits = future::or(cmd, future::or(idle, early));
        future::or(future::or(done, signal), waits).await
    }
}

/// Runs `job` as `running`, beside the command reader: like a transfer, without a data
/// connection (the data setup stays for a later transfer).
fn start_job(job: crate::session::Job, running: &mut Option<Running>) {
    let info = TransferInfo {
        progress: job.progress,
        verb: job.verb,
        path: job.path,
        started: Instant::now(),
        ascii: false,
    };
    let work = job.work;
    *running = Some(Running {
        fut: Box::pin(async move { TransferEnd::Job(work.await) }),
        info,
    });
}

/// What every step of a transfer needs besides its data: `TYPE A` conversion, the stall
/// limit of each wait, the byte counter, and the bandwidth meter (`None`: unlimited, and the
/// data moves exactly as it would without limits).
#[derive(Clone, Copy)]
struct Xfer<'a> {
    ascii: bool,
    stall: Duration,
    progress: &'a Arc<AtomicU64>,
    meter: Option<&'a Meter>,
}

impl<'a> Xfer<'a> {
    fn new(
        ascii: bool,
        stall: Duration,
        progress: &'a Arc<AtomicU64>,
        meter: Option<&'a Meter>,
    ) -> Xfer<'a> {
        Xfer {
            ascii,
            stall,
            progress,
            meter,
        }
    }
}

/// Runs one transfer over a plain TCP data connection: in binary mode a local file goes out
/// with zero-copy `sendfile` and an upload to a local file comes in with `splice` (both in
/// bounded, paced steps under a bandwidth limit); everything else goes through
/// [`run_transfer`].
async fn run_plain(mut conn: DataConn, data: TransferData, sent: u64, x: Xfer<'_>) -> TransferEnd {
    let file = match data {
        TransferData::SendFile(file) if !x.ascii => file,
        TransferData::Receive(mut up) if !x.ascii => {
            let file = match up.local_file().map(std::fs::File::try_clone) {
                None => return run_async(conn, TransferData::Receive(up), x).await,
                Some(Err(e)) => return TransferEnd::Storage(e.into()),
                Some(Ok(f)) => f,
            };
            let stream = match conn.registered() {
                Ok(s) => s,
                Err(e) => return TransferEnd::Data(e),
            };
            let admit = &mut |n| up.admit(n);
            let received = data::receive_file(stream, file, x.stall, x.progress, x.meter, admit);
            return match received.await {
                Ok(n) => {
                    let _ = conn.shutdown_write();
                    match up.commit().await {
                        Ok(()) => TransferEnd::Done(n),
                        Err(e) => TransferEnd::Storage(e),
                    }
                }
                Err(CopyError::Read(e)) => TransferEnd::Data(e),
                Err(CopyError::Write(e)) => TransferEnd::Storage(e.into()),
            };
        }
        data => return run_async(conn, data, x).await.after(sent),
    };
    // No TCP_NODELAY: the last segment goes out at the shutdown anyway.
    match data::send_file(&file, &mut conn, sent, x.stall, x.progress, x.meter).await {
        Ok(Some(n)) => match conn.shutdown_write() {
            Ok(()) => TransferEnd::Done(n),
            Err(e) => TransferEnd::Data(e),
        },
        Ok(None) => run_async(conn, TransferData::SendFile(file), x)
            .await
            .after(sent),
        Err(CopyError::Read(e)) => TransferEnd::Storage(e.into()),
        Err(CopyError::Write(e)) => TransferEnd::Data(e),
    }
}

/// [`run_transfer`] over the connection registered with the reactor.
async fn run_async(conn: DataConn, data: TransferData, x: Xfer<'_>) -> TransferEnd {
    let _ = conn.set_nodelay(true);
    match conn.into_async() {
        Ok(mut s) => run_transfer(&mut s, data, x).await,
        Err(e) => TransferEnd::Data(e),
    }
}

/// With `eligible` (a protected, binary, unpaced transfer), a local file of at most
/// [`data::TRANSFER_BUFFER`] bytes to send, read into memory now (see [`data::read_small`]);
/// anything else (or a read error, which the transfer then meets and reports) is left as it
/// is.
fn in_memory_if_small(data: &mut TransferData, eligible: bool) {
    if let (TransferData::SendFile(f), true) = (&*data, eligible) {
        if let Ok(Some(bytes)) = data::read_small(f, data::TRANSFER_BUFFER) {
            *data = TransferData::SendBytes(bytes);
        }
    }
}

/// `fut` boxed, run on [`crate::server::cpu_pool`] if `offload` (and the pool runs), else
/// where it is polled.
fn on_cpu_pool(
    offload: bool,
    fut: impl Future<Output = TransferEnd> + Send + 'static,
) -> Pin<Box<dyn Future<Output = TransferEnd> + Send>> {
    match crate::server::cpu_pool().filter(|_| offload) {
        Some(pool) => Box::pin(pool.spawn(fut)),
        None => Box::pin(fut),
    }
}

/// Sends a file's contents, then closes the data connection.
async fn send_stream<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    src: crate::storage::ReadStream,
    x: Xfer<'_>,
) -> TransferEnd {
    let dir = x.ascii.then_some(Direction::Send);
    let buf = data::TRANSFER_BUFFER;
    match data::copy(src, stream, buf, dir, x.stall, x.progress, x.meter).await {
        Ok(n) => match data::timeout(x.stall, stream.close()).await {
            Ok(()) => TransferEnd::Done(n),
            Err(e) => TransferEnd::Data(e),
        },
        Err(CopyError::Read(e)) => TransferEnd::Storage(e.into()),
        Err(CopyError::Write(e)) => TransferEnd::Data(e),
    }
}

/// The server side of a data connection's TLS handshake ([`SessionTls::accept_data`]),
/// counted in `metrics`.
async fn handshake(
    tls: &SessionTls,
    stream: DataConn,
    reuse: bool,
    metrics: &Metrics,
    direction: impl Future<Output = DataDirection> + Send + 'static,
) -> TlsData {
    // Small handshake records must not wait for delayed ACKs.
    let _ = stream.set_nodelay(true);
    let stream = stream.into_async().map_err(TransferEnd::NoConnection)?;
    let r = tls.accept_data(stream, reuse, direction).await;
    metrics.tls_handshake(!matches!(r, Err(DataTlsError::Handshake(_))));
    match &r {
        Ok(s) if crate::tls::resumed(s.get_ref().1) => metrics.tls_data_resumption("resumed"),
        Ok(_) => metrics.tls_data_resumption("full"),
        Err(DataTlsError::NotResumed) => metrics.tls_data_resumption("refused"),
        Err(_) => {}
    }
    r.map_err(TransferEnd::Tls)
}

/// How long an early data handshake waits, after the client's hello, for the transfer
/// command to tell whether it is an upload (see [`DataDirection`]): long enough for a
/// client that sends the command beside the handshake (curl) on a busy machine, short for
/// one that waits for the handshake first (aioftp), which pays it once per transfer.
const DIRECTION_WAIT: Duration = Duration::from_millis(500);

/// Which way `data` goes, for the data connection's TLS handshake.
fn direction_of(data: &TransferData) -> DataDirection {
    match data {
        TransferData::Receive(_) => DataDirection::Upload,
        _ => DataDirection::Download,
    }
}

/// `fut`, or a handshake timeout after `limit`.
async fn within(limit: Duration, fut: impl Future<Output = TlsData>) -> TlsData {
    future::or(fut, async {
        async_io::Timer::after(limit).await;
        Err(TransferEnd::Tls(DataTlsError::Handshake(
            io::ErrorKind::TimedOut.into(),
        )))
    })
    .await
}

/// Runs the transfer over a protected data connection, or reports why there is none.
async fn finish_tls(r: TlsData, data: TransferData, x: Xfer<'_>) -> TransferEnd {
    match r {
        Ok(mut s) => run_transfer(&mut s, data, x).await,
        Err(o) => o,
    }
}

/// Runs one transfer over an open data connection.
async fn run_transfer<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    data: TransferData,
    x: Xfer<'_>,
) -> TransferEnd {
    let stall = x.stall;
    match data {
        TransferData::Send(src) => send_stream(stream, src, x).await,
        TransferData::SendFile(f) => {
            let src = data::file_reader(f);
            send_stream(stream, src, x).await
        }
        TransferData::SendBytes(bytes) => {
            // Already in memory: written as it is, without a copy buffer.
            let sent = async {
                data::timeout(stall, stream.write_all(&bytes)).await?;
                x.progress.store(bytes.len() as u64, Ordering::Relaxed);
                data::timeout(stall, stream.close()).await
            };
            match sent.await {
                Ok(()) => TransferEnd::Done(bytes.len() as u64),
                Err(e) => TransferEnd::Data(e),
            }
        }
        TransferData::Receive(mut up) => {
            let dir = x.ascii.then_some(Direction::Receive);
            let buf = data::RECEIVE_BUFFER;
            let r = data::copy(&mut *stream, &mut up, buf, dir, stall, x.progress, x.meter).await;
            match r {
                Ok(n) => {
                    // Answer the client's close_notify with ours (TLS); a plain TCP stream
                    // just shuts down. The data is complete either way.
                    let _ = data::timeout(stall, stream.close()).await;
                    if let Err(e) = up.close().await {
                        return TransferEnd::Storage(e.into());
                    }
                    match up.commit().await {
                        Ok(()) => TransferEnd::Done(n),
                        Err(e) => TransferEnd::Storage(e),
                    }
                }
                Err(CopyError::Read(e)) => TransferEnd::Data(e),
                Err(CopyError::Write(e)) => TransferEnd::Storage(e.into()),
            }
        }
    }
}
