//! Drives a [`Session`] over a control connection: reads commands, writes replies, and runs
//! transfers concurrently so `ABOR`, `STAT` and `NOOP` are answered while data flows.
//!
//! The control stream is a [`ControlStream`]: plain TCP, or TLS that `AUTH TLS` (or an
//! implicit-FTPS listener) starts and `CCC`/`REIN` end again on the same TCP connection.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_net::TcpStream;
use ftp_proto::io::{write_replies, CommandReader, CompactBufReader};
use ftp_proto::{Command, ParseError, Reply, ReplyCode, Verb};
use futures::io::{ReadHalf, WriteHalf};
use futures::AsyncReadExt as _;
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::data::{self, CopyError, DataConn, Direction};
use crate::server::{Shared, Signals};
use crate::session::{storage_error_reply, Action, Session, TransferData};
use crate::storage::StorageError;
use crate::tls::{ControlStream, DataTlsError, SessionTls};
use crate::vpath::VPath;

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

/// What to do after a command.
enum Flow {
    Continue,
    Close,
    StartTls,
    EndTls,
}

enum DataSetup {
    None,
    Passive(data::PassiveListener),
    Active(SocketAddr),
    /// Accepted by [`Conn::send_at_once`], which could not finish (never kept in `Conn`).
    Accepted(DataConn),
}

enum Outcome {
    Done(u64),
    NoConnection(io::Error),
    Data(io::Error),
    Storage(StorageError),
    Tls(DataTlsError),
}

impl Outcome {
    /// The outcome of the rest of a transfer whose first `sent` bytes went out before.
    fn after(self, sent: u64) -> Outcome {
        match self {
            Outcome::Done(n) => Outcome::Done(sent + n),
            other => other,
        }
    }
}

/// A transfer in flight: the future moving its data, and what its log line and its
/// final reply need.
struct Running {
    fut: Pin<Box<dyn Future<Output = Outcome> + Send>>,
    info: TransferInfo,
}

struct TransferInfo {
    progress: Arc<AtomicU64>,
    verb: Verb,
    path: VPath,
    started: Instant,
    done: Reply,
}

/// What [`Conn::send_at_once`] did.
enum AtOnce {
    /// The transfer ended (successfully or not) without waiting. Its sockets, if any, are
    /// closed only after the reply went out: a TCP close takes microseconds the client
    /// need not wait for.
    Finished(
        Outcome,
        Option<(std::net::TcpStream, data::PassiveListener)>,
    ),
    /// Not finished: the rest runs the ordinary way, over this setup (the accepted
    /// connection when some bytes, counted here, already went out).
    Continue(DataSetup, u64),
}

enum Event {
    Command(io::Result<Option<Result<Command, ParseError>>>),
    TransferDone(Outcome),
    Idle,
    Shutdown,
    Kill,
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
    tag: String,
    implicit: bool,
) -> impl Future<Output = ()> + Send {
    let open = Box::pin(open(stream, peer, shared, tag, implicit));
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
    tag: String,
    implicit: bool,
) -> Option<(Conn, CtlReader)> {
    let local = match stream.local_addr() {
        Ok(a) => a,
        Err(e) => {
            log::warn!("{tag} no local address: {e}");
            return None;
        }
    };
    let _ = stream.set_nodelay(true);
    // Clients send ABOR as urgent data (e.g. Python's ftplib: the final LF is the urgent byte);
    // keep it in the normal stream so the line is complete.
    let _ = rustix::net::sockopt::set_socket_oobinline(&stream, true);
    let tls = match shared.config.tls.as_ref().map(|t| t.settings.session()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            log::error!("{tag} TLS setup failed: {e}");
            return None;
        }
    };
    let mut ctl: Ctl = ControlStream::Plain(stream);
    if implicit {
        let t = tls.as_ref()?;
        match ctl
            .start_tls(t, Vec::new(), shared.config.data_timeout)
            .await
        {
            Ok(s) => ctl = s,
            Err(e) => {
                log::info!("{tag} implicit TLS handshake failed: {e}");
                return None;
            }
        }
    }
    let (r, w) = ctl.split();
    let mut conn = Conn {
        writer: Some(w),
        session: Session::new(shared.config.clone(), shared.auth.clone(), peer, local),
        shared,
        data: DataSetup::None,
        tls,
    };
    conn.session.set_log_tag(tag);
    if implicit {
        conn.session.set_tls_implicit();
    }
    let reader = conn.reader(r);
    let greeting = conn.session.greeting();
    if let Err(e) = conn.send(&greeting).await {
        log::info!("{} control connection: {e}", conn.session.log_tag());
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
}

impl Conn {
    fn reader(&self, r: ReadHalf<Ctl>) -> CtlReader {
        // No read buffer while idle: it exists only while a command's bytes are unread.
        CommandReader::new(CompactBufReader::new(r), self.shared.config.max_line)
    }

    /// Runs commands until the connection ends, switching TLS on and off on the way.
    async fn serve_commands(&mut self, mut reader: CtlReader, signals: &Signals) {
        loop {
            let start = match self.run(&mut reader, signals).await {
                Ok(RunEnd::Closed) => return,
                Ok(RunEnd::StartTls) => true,
                Ok(RunEnd::EndTls) => false,
                Err(e) => {
                    log::info!("{} control connection: {e}", self.session.log_tag());
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
                "{} data after CCC/REIN before close_notify; closing",
                self.session.log_tag()
            );
            return None;
        }
        let (Some(w), Some(t)) = (self.writer.take(), self.tls.clone()) else {
            return None;
        };
        let ctl = reader.into_inner().into_inner().reunite(w).ok()?;
        let limit = self.shared.config.data_timeout;
        let next = if start {
            ctl.start_tls(&t, pending, limit).await
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
                log::info!("{} TLS {what} failed: {e}", self.session.log_tag());
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
        data::timeout(self.shared.config.data_timeout, write_replies(w, replies)).await
    }

    /// [`send`](Self::send) as a boxed future, for the command loop's own replies: inline,
    /// it would make every idle session's task larger.
    async fn send_boxed(&mut self, r: &Reply) -> io::Result<()> {
        Box::pin(self.send(r)).await
    }

    async fn run(&mut self, reader: &mut CtlReader, signals: &Signals) -> io::Result<RunEnd> {
        let cfg = self.shared.config.clone();
        let mut running: Option<Running> = None;
        let mut stashed: Option<Result<Command, ParseError>> = None;
        let mut deadline = Instant::now() + cfg.idle_timeout;
        // One idle timer for the whole session (see `data::Deadline`).
        let mut idle_timer = data::Deadline::default();
        let mut shutting_down = false;
        let mut quit_after = false;
        loop {
            let busy = running.is_some();
            // While a stashed command waits for the transfer, stop reading (bounded input).
            let read_more = stashed.is_none();
            let event = {
                let done = async {
                    match running.as_mut() {
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
                        idle_timer.until(deadline).await;
                        Event::Idle
                    }
                };
                // The server closes `kill` only after `shutdown`: waiting for one of them at a
                // time keeps one listener per idle session instead of two.
                let signal = async {
                    if shutting_down {
                        let _ = signals.kill.recv().await;
                        Event::Kill
                    } else {
                        let _ = signals.shutdown.recv().await;
                        Event::Shutdown
                    }
                };
                future::or(future::or(done, signal), future::or(cmd, idle)).await
            };
            match event {
                Event::Kill => {
                    let r = Reply::new(ReplyCode::NOT_AVAILABLE, "Server shutting down.");
                    let _ = self.send_boxed(&r).await;
                    return Ok(RunEnd::Closed);
                }
                Event::Shutdown => {
                    shutting_down = true;
                    if !busy {
                        let r = Reply::new(ReplyCode::NOT_AVAILABLE, "Server shutting down.");
                        return self.send_boxed(&r).await.map(|()| RunEnd::Closed);
                    }
                }
                Event::Idle => {
                    log::info!("{} idle timeout", self.session.log_tag());
                    let r = Reply::new(
                        ReplyCode::NOT_AVAILABLE,
                        "Idle timeout, closing control connection.",
                    );
                    return self.send_boxed(&r).await.map(|()| RunEnd::Closed);
                }
                Event::TransferDone(outcome) => {
                    // Only the info outlives this statement (the finished future is dropped
                    // here), so no whole `Running` is kept across the awaits below.
                    let Some(Running { info, .. }) = running.take() else {
                        continue;
                    };
                    Box::pin(self.finish(info, outcome, None)).await?;
                    deadline = Instant::now() + cfg.idle_timeout;
                    if quit_after {
                        return self
                            .send_boxed(&Reply::new(ReplyCode::CLOSING, "Goodbye."))
                            .await
                            .map(|()| RunEnd::Closed);
                    }
                    if shutting_down {
                        let r = Reply::new(ReplyCode::NOT_AVAILABLE, "Server shutting down.");
                        return self.send_boxed(&r).await.map(|()| RunEnd::Closed);
                    }
                    if let Some(cmd) = stashed.take() {
                        match Box::pin(self.dispatch(cmd, &mut running)).await? {
                            Flow::Continue => {}
                            Flow::Close => return Ok(RunEnd::Closed),
                            Flow::StartTls => return Ok(RunEnd::StartTls),
                            Flow::EndTls => return Ok(RunEnd::EndTls),
                        }
                    }
                }
                Event::Command(Err(e)) => {
                    if let Some(r) = running.take() {
                        self.log_transfer(&r.info, "failed: control connection lost");
                    }
                    return Err(e);
                }
                Event::Command(Ok(None)) => {
                    if let Some(r) = running.take() {
                        self.log_transfer(&r.info, "failed: client disconnected");
                    }
                    return Ok(RunEnd::Closed);
                }
                Event::Command(Ok(Some(cmd))) => {
                    match &cmd {
                        Ok(c) => log::debug!("{} <- {}", self.session.log_tag(), c),
                        Err(e) => log::debug!("{} <- bad line: {}", self.session.log_tag(), e),
                    }
                    deadline = Instant::now() + cfg.idle_timeout;
                    if let Some(r) = running.as_ref() {
                        match &cmd {
                            Ok(Command::Abor) => {
                                // Dropping the transfer closes the data connection and
                                // discards an unfinished upload's temporary file.
                                if let Some(r) = running.take() {
                                    self.log_transfer(&r.info, "aborted");
                                }
                                self.send_boxed(&Reply::new(
                                    ReplyCode::TRANSFER_ABORTED,
                                    "Transfer aborted.",
                                ))
                                .await?;
                                self.send_boxed(&Reply::new(
                                    ReplyCode::CLOSING_DATA,
                                    "ABOR successful.",
                                ))
                                .await?;
                            }
                            Ok(Command::Stat(None)) => {
                                let n = r.info.progress.load(Ordering::Relaxed);
                                let mut text =
                                    format!("Transfer in progress: {} ", r.info.verb.as_str())
                                        .into_bytes();
                                text.extend_from_slice(r.info.path.as_bytes());
                                text.extend_from_slice(format!(", {n} bytes").as_bytes());
                                self.send_boxed(&Reply::multi(
                                    ReplyCode::SYSTEM_STATUS,
                                    [text, b"End of status".to_vec()],
                                ))
                                .await?;
                            }
                            Ok(Command::Noop) => {
                                self.send_boxed(&Reply::new(ReplyCode::OK, "NOOP ok."))
                                    .await?;
                            }
                            Ok(Command::Quit) => quit_after = true,
                            _ => stashed = Some(cmd),
                        }
                        continue;
                    }
                    match Box::pin(self.dispatch(cmd, &mut running)).await? {
                        Flow::Continue => {}
                        Flow::Close => return Ok(RunEnd::Closed),
                        Flow::StartTls => return Ok(RunEnd::StartTls),
                        Flow::EndTls => return Ok(RunEnd::EndTls),
                    }
                }
            }
        }
    }

    /// Handles a command with no transfer running; false when the connection must close.
    async fn dispatch(
        &mut self,
        cmd: Result<Command, ParseError>,
        running: &mut Option<Running>,
    ) -> io::Result<Flow> {
        let action = self.session.handle(cmd).await;
        match action {
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
            Action::Transfer(mut t) => {
                let setup = std::mem::replace(&mut self.data, DataSetup::None);
                if matches!(setup, DataSetup::None) {
                    self.send(&Reply::new(
                        ReplyCode::CANT_OPEN_DATA,
                        "Use PORT, PASV, EPRT or EPSV first.",
                    ))
                    .await?;
                    return Ok(Flow::Continue);
                }
                let info = TransferInfo {
                    progress: Arc::new(AtomicU64::new(0)),
                    verb: t.verb,
                    path: t.path,
                    started: Instant::now(),
                    done: t.done,
                };
                let (setup, sent) = match self.send_at_once(setup, &mut t.data, t.ascii, &info) {
                    AtOnce::Finished(outcome, sockets) => {
                        let sent = Box::pin(self.finish(info, outcome, Some(&t.opening))).await;
                        drop(sockets);
                        return sent.map(|()| Flow::Continue);
                    }
                    AtOnce::Continue(setup, sent) => (setup, sent),
                };
                self.send(&t.opening).await?;
                let cfg = self.shared.config.clone();
                let peer_ip = self.session.peer().ip();
                let tag = self.session.log_tag().to_string();
                let p2 = info.progress.clone();
                let (ascii, data) = (t.ascii, t.data);
                let tls = match (&self.tls, &cfg.tls) {
                    (Some(s), Some(c)) if self.session.data_protected() => {
                        Some((s.clone(), c.require_session_reuse))
                    }
                    _ => None,
                };
                let fut = async move {
                    let stream = match setup {
                        DataSetup::Passive(l) => {
                            data::accept_from(l, peer_ip, cfg.data_timeout, &tag).await
                        }
                        DataSetup::Active(a) => data::connect(a, cfg.data_timeout).await,
                        DataSetup::Accepted(c) => Ok(c),
                        DataSetup::None => Err(io::ErrorKind::NotConnected.into()),
                    };
                    let stream = match stream {
                        Ok(s) => s,
                        Err(e) => return Outcome::NoConnection(e),
                    };
                    let Some((tls, reuse)) = tls else {
                        return run_plain(stream, data, ascii, sent, cfg.data_timeout, &p2).await;
                    };
                    // Small handshake records must not wait for delayed ACKs.
                    let _ = stream.set_nodelay(true);
                    let stream = match stream.into_async() {
                        Ok(s) => s,
                        Err(e) => return Outcome::NoConnection(e),
                    };
                    let accepted = future::or(tls.accept_data(stream, reuse), async {
                        async_io::Timer::after(cfg.data_timeout).await;
                        Err(DataTlsError::Handshake(io::ErrorKind::TimedOut.into()))
                    })
                    .await;
                    match accepted {
                        Ok(mut s) => run_transfer(&mut s, data, ascii, cfg.data_timeout, &p2).await,
                        Err(e) => Outcome::Tls(e),
                    }
                };
                *running = Some(Running {
                    fut: Box::pin(fut),
                    info,
                });
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs a download at once when it needs no waiting at all: passive, plain (no TLS on the
    /// data connection), binary, the client already connected (clients connect right after
    /// the 227/229 reply, before the transfer command), and the file or listing fits in the
    /// socket's buffer. The `150` and the final reply then go out together after the data,
    /// in one write: the client wakes once instead of once per reply, and the server makes
    /// one system call less. Everything else, and whatever did not fit, runs the ordinary
    /// way, `150` first.
    fn send_at_once(
        &self,
        setup: DataSetup,
        data: &mut TransferData,
        ascii: bool,
        info: &TransferInfo,
    ) -> AtOnce {
        let sendable = matches!(data, TransferData::SendFile(_) | TransferData::SendBytes(_));
        let listener = match setup {
            DataSetup::Passive(l) if sendable && !ascii && !self.session.data_protected() => l,
            setup => return AtOnce::Continue(setup, 0),
        };
        let peer_ip = self.session.peer().ip();
        let stream = match data::accept_waiting(&listener, peer_ip, self.session.log_tag()) {
            Ok(Some(s)) => s,
            Ok(None) => return AtOnce::Continue(DataSetup::Passive(listener), 0),
            Err(e) => return AtOnce::Finished(Outcome::NoConnection(e), None),
        };
        let done = |n: u64| match stream.shutdown(std::net::Shutdown::Write) {
            Ok(()) => Outcome::Done(n),
            Err(e) => Outcome::Data(e),
        };
        // `Err`: the transfer ended with this outcome; `Ok`: this many bytes went out.
        let step = match data {
            TransferData::SendFile(f) => match data::send_file_now(f, &stream, 0, &info.progress) {
                Ok(data::SentNow::Done(n)) => Err(done(n)),
                Ok(data::SentNow::Full(n)) => Ok(n),
                Ok(data::SentNow::Unsupported) => Ok(0),
                Err(CopyError::Read(e)) => Err(Outcome::Storage(e.into())),
                Err(CopyError::Write(e)) => Err(Outcome::Data(e)),
            },
            TransferData::SendBytes(bytes) => match data::write_now(&stream, bytes) {
                Ok(n) if n == bytes.len() => Err(done(n as u64)),
                Ok(n) => {
                    bytes.drain(..n);
                    Ok(n as u64)
                }
                Err(e) => Err(Outcome::Data(e)),
            },
            _ => Ok(0),
        };
        match step {
            Ok(sent) => AtOnce::Continue(DataSetup::Accepted(DataConn::Fresh(stream)), sent),
            Err(outcome) => AtOnce::Finished(outcome, Some((stream, listener))),
        }
    }

    async fn open_passive(&mut self, extended: bool) -> Reply {
        self.data = DataSetup::None;
        let cfg = self.shared.config.clone();
        let bind_ip = self.session.local().ip();
        let announce_v4 = match (self.shared.public_ip, bind_ip.to_canonical()) {
            (Some(p), _) => Some(p),
            (None, IpAddr::V4(v4)) => Some(v4),
            (None, IpAddr::V6(_)) => None,
        };
        if !extended && announce_v4.is_none() {
            return Reply::new(ReplyCode::CANT_OPEN_DATA, "PASV needs IPv4; use EPSV.");
        }
        let l = match data::bind_passive(bind_ip, cfg.passive_ports.as_ref()).await {
            Ok(l) => l,
            Err(e) => {
                log::warn!("{} passive bind failed: {e}", self.session.log_tag());
                return Reply::new(ReplyCode::CANT_OPEN_DATA, "Can't open passive connection.");
            }
        };
        let port = l.local_addr().port();
        self.data = DataSetup::Passive(l);
        match (extended, announce_v4) {
            (true, _) => ftp_proto::addr::epsv_reply(port),
            (false, Some(ip)) => ftp_proto::addr::pasv_reply(SocketAddrV4::new(ip, port)),
            (false, None) => Reply::new(ReplyCode::CANT_OPEN_DATA, "PASV needs IPv4; use EPSV."),
        }
    }

    fn log_transfer(&self, r: &TransferInfo, result: &str) {
        let secs = r.started.elapsed().as_secs_f64();
        let bytes = r.progress.load(Ordering::Relaxed);
        let rate = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
        log::info!(
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

    /// Sends a transfer's final reply, with the `150` in the same write when `opening` is
    /// given (the transfer ran at once, see [`send_at_once`](Self::send_at_once)), then logs
    /// its end: the client need not wait for the log line.
    async fn finish(
        &mut self,
        r: TransferInfo,
        outcome: Outcome,
        opening: Option<&Reply>,
    ) -> io::Result<()> {
        use std::borrow::Cow;
        let (reply, result): (Reply, Cow<'_, str>) = match &outcome {
            Outcome::Done(n) => {
                r.progress.store(*n, Ordering::Relaxed);
                (r.done.clone(), "ok".into())
            }
            Outcome::NoConnection(e) => (
                Reply::new(ReplyCode::CANT_OPEN_DATA, "Can't open data connection."),
                format!("failed: no data connection: {e}").into(),
            ),
            Outcome::Data(e) => (
                Reply::new(
                    ReplyCode::TRANSFER_ABORTED,
                    "Connection closed; transfer aborted.",
                ),
                format!("failed: data connection: {e}").into(),
            ),
            Outcome::Tls(e) => {
                let text = match e {
                    DataTlsError::NotResumed => "TLS session of data connection not resumed.",
                    _ => "TLS handshake on the data connection failed.",
                };
                (
                    Reply::new(ReplyCode::CANT_OPEN_DATA, text),
                    format!("failed: {e}").into(),
                )
            }
            Outcome::Storage(e) => {
                let reply = match e {
                    StorageError::NoSpace => Reply::new(
                        ReplyCode::INSUFFICIENT_STORAGE,
                        "Insufficient storage space.",
                    ),
                    StorageError::Other(_) => {
                        Reply::new(ReplyCode::LOCAL_ERROR, "Local error in processing.")
                    }
                    other => storage_error_reply(other),
                };
                (reply, format!("failed: storage: {e}").into())
            }
        };
        let sent = match opening {
            Some(first) => self.send_all(&[first, &reply]).await,
            None => self.send(&reply).await,
        };
        self.log_transfer(&r, &result);
        sent
    }
}

/// Runs one transfer over a plain TCP data connection: in binary mode a local file goes out
/// with zero-copy `sendfile` and an upload to a local file comes in with `splice`; everything
/// else goes through [`run_transfer`].
async fn run_plain(
    mut conn: DataConn,
    data: TransferData,
    ascii: bool,
    sent: u64,
    stall: std::time::Duration,
    progress: &Arc<AtomicU64>,
) -> Outcome {
    let file = match data {
        TransferData::SendFile(file) if !ascii => file,
        TransferData::Receive(mut up) if !ascii => {
            let Some(file) = up.local_file() else {
                return run_async(conn, TransferData::Receive(up), ascii, stall, progress).await;
            };
            let stream = match conn.registered() {
                Ok(s) => s,
                Err(e) => return Outcome::Data(e),
            };
            return match data::receive_file(stream, file, stall, progress).await {
                Ok(n) => {
                    let _ = conn.shutdown_write();
                    match up.commit().await {
                        Ok(()) => Outcome::Done(n),
                        Err(e) => Outcome::Storage(e),
                    }
                }
                Err(CopyError::Read(e)) => Outcome::Data(e),
                Err(CopyError::Write(e)) => Outcome::Storage(e.into()),
            };
        }
        data => {
            return run_async(conn, data, ascii, stall, progress)
                .await
                .after(sent)
        }
    };
    // No TCP_NODELAY: the last segment goes out at the shutdown anyway.
    match data::send_file(&file, &mut conn, sent, stall, progress).await {
        Ok(Some(n)) => match conn.shutdown_write() {
            Ok(()) => Outcome::Done(n),
            Err(e) => Outcome::Data(e),
        },
        Ok(None) => run_async(conn, TransferData::SendFile(file), ascii, stall, progress)
            .await
            .after(sent),
        Err(CopyError::Read(e)) => Outcome::Storage(e.into()),
        Err(CopyError::Write(e)) => Outcome::Data(e),
    }
}

/// [`run_transfer`] over the connection registered with the reactor.
async fn run_async(
    conn: DataConn,
    data: TransferData,
    ascii: bool,
    stall: std::time::Duration,
    progress: &Arc<AtomicU64>,
) -> Outcome {
    let _ = conn.set_nodelay(true);
    match conn.into_async() {
        Ok(mut s) => run_transfer(&mut s, data, ascii, stall, progress).await,
        Err(e) => Outcome::Data(e),
    }
}

/// Sends a file's contents, then closes the data connection.
async fn send_stream<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    src: crate::storage::ReadStream,
    ascii: bool,
    stall: std::time::Duration,
    progress: &Arc<AtomicU64>,
) -> Outcome {
    let dir = ascii.then_some(Direction::Send);
    match data::copy(src, stream, data::TRANSFER_BUFFER, dir, stall, progress).await {
        Ok(n) => match data::timeout(stall, stream.close()).await {
            Ok(()) => Outcome::Done(n),
            Err(e) => Outcome::Data(e),
        },
        Err(CopyError::Read(e)) => Outcome::Storage(e.into()),
        Err(CopyError::Write(e)) => Outcome::Data(e),
    }
}

/// Runs one transfer over an open data connection.
async fn run_transfer<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    data: TransferData,
    ascii: bool,
    stall: std::time::Duration,
    progress: &Arc<AtomicU64>,
) -> Outcome {
    let dir = |d| if ascii { Some(d) } else { None };
    match data {
        TransferData::Send(src) => send_stream(stream, src, ascii, stall, progress).await,
        TransferData::SendFile(f) => {
            let src = Box::pin(blocking::Unblock::with_capacity(data::TRANSFER_BUFFER, f));
            send_stream(stream, src, ascii, stall, progress).await
        }
        TransferData::SendBytes(bytes) => {
            // Already in memory: written as it is, without a copy buffer.
            let sent = async {
                data::timeout(stall, stream.write_all(&bytes)).await?;
                progress.store(bytes.len() as u64, Ordering::Relaxed);
                data::timeout(stall, stream.close()).await
            };
            match sent.await {
                Ok(()) => Outcome::Done(bytes.len() as u64),
                Err(e) => Outcome::Data(e),
            }
        }
        TransferData::Receive(mut up) => {
            let r = data::copy(
                &mut *stream,
                &mut up,
                data::RECEIVE_BUFFER,
                dir(Direction::Receive),
                stall,
                progress,
            )
            .await;
            match r {
                Ok(n) => {
                    // Answer the client's close_notify with ours (TLS); a plain TCP stream
                    // just shuts down. The data is complete either way.
                    let _ = data::timeout(stall, stream.close()).await;
                    if let Err(e) = up.close().await {
                        return Outcome::Storage(e.into());
                    }
                    match up.commit().await {
                        Ok(()) => Outcome::Done(n),
                        Err(e) => Outcome::Storage(e),
                    }
                }
                Err(CopyError::Read(e)) => Outcome::Data(e),
                Err(CopyError::Write(e)) => Outcome::Storage(e.into()),
            }
        }
    }
}
