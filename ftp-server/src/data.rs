//! Data connections: passive listeners (accepting only the control peer), active connects,
//! and the copy loops with `TYPE A` line-ending conversion and a stall timeout.

use crate::proxy::{ProxyFrom, HEADER_TIMEOUT};
use ftp_proto::ascii::{FromNetwork, ToNetwork};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_net::TcpStream;
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::policy::rate::Meter;

/// Size of the copy buffer for sending (TLS or `TYPE A`; plain binary files go out with
/// `sendfile`), allocated only while a transfer runs.
pub const TRANSFER_BUFFER: usize = 128 * 1024;

/// Size of the copy buffer for receiving (`STOR`/`APPE`/`STOU`), allocated only while a
/// transfer runs: large reads mean fewer system calls per GiB.
pub const RECEIVE_BUFFER: usize = 1024 * 1024;

/// Runs `fut` with a time limit; `TimedOut` when it expires.
pub async fn timeout<T>(
    d: Duration,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    future::or(fut, async {
        async_io::Timer::after(d).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
}

/// One async-io timer for a series of deadlines that mostly move later (an idle limit that
/// each command moves on, a stall limit that each wait of a transfer moves on). Arming an
/// async-io timer wakes the reactor (a write to its eventfd and one more turn of its loop),
/// which for every command or every wait would cost more system calls than they do; this
/// timer is set again only when it fires before the deadline then current, or when a
/// deadline comes earlier than the one it is set for.
#[derive(Debug)]
pub struct Deadline {
    timer: async_io::Timer,
    /// When the timer is set to fire, if it is.
    armed: Option<Instant>,
}

impl Default for Deadline {
    fn default() -> Self {
        Deadline {
            timer: async_io::Timer::never(),
            armed: None,
        }
    }
}

impl Deadline {
    /// Waits until `deadline` has passed.
    pub async fn until(&mut self, deadline: Instant) {
        if self.armed.is_none_or(|at| at > deadline) {
            self.timer.set_at(deadline);
            self.armed = Some(deadline);
        }
        loop {
            (&mut self.timer).await;
            if Instant::now() >= deadline {
                self.armed = None;
                return;
            }
            self.timer.set_at(deadline);
            self.armed = Some(deadline);
        }
    }
}

/// One time limit for each of a series of waits, kept by one [`Deadline`].
#[derive(Debug)]
pub struct Stall {
    deadline: Deadline,
    limit: Duration,
}

impl Stall {
    /// Waits of at most `limit` each.
    pub fn new(limit: Duration) -> Stall {
        Stall {
            deadline: Deadline::default(),
            limit,
        }
    }

    /// Runs `fut`; `TimedOut` if it takes longer than the limit.
    pub async fn run<T>(
        &mut self,
        fut: impl std::future::Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        let until = Instant::now() + self.limit;
        let deadline = &mut self.deadline;
        future::or(fut, async move {
            deadline.until(until).await;
            Err(io::ErrorKind::TimedOut.into())
        })
        .await
    }
}

/// A passive-mode listener, not yet registered with the reactor: clients connect right
/// after the 227/229 reply, mostly before they send the transfer command, so the connection
/// is usually accepted at once and the listener never needs an epoll registration (two
/// `epoll_ctl` calls, and a wake-up of the reactor thread when the socket goes away).
#[derive(Debug)]
pub struct PassiveListener {
    socket: std::net::TcpListener,
    addr: SocketAddr,
    /// Counts the port in `ftp_passive_ports_in_use` while the listener lives.
    port: Option<crate::metrics::PortGuard>,
}

impl PassiveListener {
    /// Counts this listener's port as in use (in `metrics`) until it is dropped.
    pub(crate) fn counted(mut self, metrics: &crate::metrics::Metrics, range_size: u32) -> Self {
        self.port = Some(metrics.passive_opened(range_size));
        self
    }

    /// The address the listener is bound to (its port goes into the 227/229 reply).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A nonblocking listening TCP socket on `addr` with `SO_REUSEADDR`, made with the flags at
/// once (no `ioctl` afterwards).
fn listen_on(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, &addr)?;
    rustix::net::listen(&fd, 128)?;
    Ok(std::net::TcpListener::from(fd))
}

/// Binds a passive listener on `ip`, on a port from `range` (tried from a random start) or,
/// without a range, on a random port of the system's ephemeral range.
///
/// Why not let the OS choose (port 0): the server closes each data connection first, so
/// each leaves a `TIME_WAIT` socket on its port, and the kernel's search for a port free of
/// them costs time proportional to their number (at thousands of transfers a second, most
/// of the server's CPU). A random port is bound at once: `SO_REUSEADDR` (which `bind` sets)
/// lets a listener share a port with `TIME_WAIT` leftovers, and a port really in use just
/// means trying another. After [`EPHEMERAL_TRIES`] such failures the OS chooses after all.
pub async fn bind_passive(
    ip: IpAddr,
    range: Option<&RangeInclusive<u16>>,
) -> io::Result<PassiveListener> {
    let on = |port: u16| {
        let addr = SocketAddr::new(ip, port);
        listen_on(addr).map(|socket| PassiveListener {
            socket,
            addr,
            port: None,
        })
    };
    let Some(range) = range else {
        if let Some((lo, hi)) = ephemeral_ports() {
            let n = u32::from(hi - lo) + 1;
            for _ in 0..EPHEMERAL_TRIES {
                let port = u16::try_from(u32::from(lo) + rand::random::<u32>() % n).unwrap_or(0);
                match on(port) {
                    Ok(l) => return Ok(l),
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        let socket = listen_on(SocketAddr::new(ip, 0))?;
        let addr = socket.local_addr()?;
        return Ok(PassiveListener {
            socket,
            addr,
            port: None,
        });
    };
    let (lo, hi) = (u32::from(*range.start()), u32::from(*range.end()));
    if lo > hi {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let n = hi - lo + 1;
    let start = rand::random::<u32>() % n;
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for i in 0..n {
        let port = u16::try_from(lo + (start + i) % n).unwrap_or(0);
        match on(port) {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Random ports tried by [`bind_passive`] before it lets the OS choose.
const EPHEMERAL_TRIES: usize = 8;

/// The system's ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`, read once),
/// if it can be read and is sane.
fn ephemeral_ports() -> Option<(u16, u16)> {
    static RANGE: std::sync::OnceLock<Option<(u16, u16)>> = std::sync::OnceLock::new();
    *RANGE.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
        let mut it = text.split_whitespace().map(|v| v.parse::<u16>().ok());
        let (lo, hi) = (it.next()??, it.next()??);
        (1024 <= lo && lo <= hi).then_some((lo, hi))
    })
}

/// How many ports passive listeners choose from: the configured range, else the system's
/// ephemeral range (`ftp_passive_ports_available`).
pub(crate) fn passive_range_size(range: Option<&RangeInclusive<u16>>) -> u32 {
    match range {
        Some(r) => (u32::from(*r.end()) + 1).saturating_sub(u32::from(*r.start())),
        None => ephemeral_ports().map_or(0, |(lo, hi)| u32::from(hi - lo) + 1),
    }
}

/// An open data connection. A passive one stays a plain nonblocking socket until something
/// has to wait for it (a small file goes out in one `sendfile` and never does), which saves
/// the epoll registration and the reactor wake-up its close would cause.
#[derive(Debug)]
pub enum DataConn {
    /// Not registered with the reactor.
    Fresh(std::net::TcpStream),
    /// Registered with the reactor.
    Registered(TcpStream),
    /// Lost while registering (only after an error was returned).
    Closed,
}

impl DataConn {
    /// The connection registered with the reactor, registering it now if needed.
    pub fn registered(&mut self) -> io::Result<&TcpStream> {
        if let DataConn::Fresh(_) = self {
            if let DataConn::Fresh(s) = std::mem::replace(self, DataConn::Closed) {
                *self = DataConn::Registered(async_io::Async::new_nonblocking(s)?.into());
            }
        }
        match self {
            DataConn::Registered(s) => Ok(s),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// The async stream, registering it now if needed.
    pub fn into_async(mut self) -> io::Result<TcpStream> {
        self.registered()?;
        match self {
            DataConn::Registered(s) => Ok(s),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            DataConn::Fresh(s) => s.set_nodelay(on),
            DataConn::Registered(s) => s.set_nodelay(on),
            DataConn::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Ends the sending direction (the client sees end of file once the bytes are read).
    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            DataConn::Fresh(s) => s.shutdown(std::net::Shutdown::Write),
            DataConn::Registered(s) => s.shutdown(std::net::Shutdown::Write),
            DataConn::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// One `accept4` on the nonblocking `listener`; the connection comes out nonblocking.
fn accept_now(listener: &std::net::TcpListener) -> io::Result<(std::net::TcpStream, SocketAddr)> {
    use rustix::net::SocketFlags;
    let (fd, from) =
        rustix::net::acceptfrom_with(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)?;
    let stream = std::net::TcpStream::from(fd);
    let from = match from.map(SocketAddr::try_from) {
        Some(Ok(a)) => a,
        _ => stream.peer_addr()?,
    };
    Ok((stream, from))
}

/// Whether a data connection from `from` may be used: only the control connection's peer
/// may connect (port-stealing protection, RFC 2577); others are logged and dropped.
fn from_peer(from: SocketAddr, peer_ip: IpAddr, tag: &str) -> bool {
    let ok = from.ip().to_canonical() == peer_ip.to_canonical();
    if !ok {
        log::warn!(event = "data_refused"; "{tag} dropped data connection from foreign address {from}");
    }
    ok
}

/// Takes the data connection from `peer_ip` if it is already waiting, without waiting and
/// without registering anything with the reactor; connections from other addresses are
/// dropped. `Ok(None)`: nobody from the peer has connected yet.
///
/// Connections through a load balancer need their PROXY header read: callers skip this when
/// one is configured, and [`accept_from`] handles them.
pub fn accept_waiting(
    listener: &PassiveListener,
    peer_ip: IpAddr,
    tag: &str,
) -> io::Result<Option<std::net::TcpStream>> {
    loop {
        match accept_now(&listener.socket) {
            Ok((stream, from)) if from_peer(from, peer_ip, tag) => return Ok(Some(stream)),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Accepts the data connection from `peer_ip`; connections from other addresses are dropped
/// (port-stealing protection) and the wait goes on until `limit` has passed. A connection
/// already waiting is taken without registering the listener with the reactor. A connection
/// from a load balancer in `proxies` counts as coming from the address its PROXY header names
/// (a missing or malformed header drops it).
pub async fn accept_from(
    listener: PassiveListener,
    peer_ip: IpAddr,
    proxies: &ProxyFrom,
    limit: Duration,
    tag: &str,
) -> io::Result<DataConn> {
    if proxies.is_empty() {
        if let Some(stream) = accept_waiting(&listener, peer_ip, tag)? {
            return Ok(DataConn::Fresh(stream));
        }
    }
    let listener = async_io::Async::new_nonblocking(listener.socket)?;
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (stream, from) = timeout(left, listener.read_with(accept_now)).await?;
        if !proxies.requires_header(from.ip()) {
            if from_peer(from, peer_ip, tag) {
                return Ok(DataConn::Fresh(stream));
            }
            continue;
        }
        let mut stream = async_io::Async::new_nonblocking(stream)?;
        let left = deadline.saturating_duration_since(Instant::now());
        match crate::proxy::read_header(&mut stream, left.min(HEADER_TIMEOUT)).await {
            Ok(a) if from_peer(a.source.unwrap_or(from), peer_ip, tag) => {
                return Ok(DataConn::Fresh(stream.into_inner()?));
            }
            Ok(_) => {}
            Err(e) => {
                log::warn!(event = "data_refused"; "{tag} dropped data connection from balancer {from}: {e}")
            }
        }
    }
}

/// Connects to an active-mode (`PORT`/`EPRT`) address within `limit`.
pub async fn connect(addr: SocketAddr, limit: Duration) -> io::Result<DataConn> {
    timeout(limit, TcpStream::connect(addr))
        .await
        .map(DataConn::Registered)
}

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Reading the source failed.
    #[error("read: {0}")]
    Read(io::Error),
    /// Writing the destination failed.
    #[error("write: {0}")]
    Write(io::Error),
}

/// Which side of a copy is the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sending to the client (LF to CRLF in ASCII).
    Send,
    /// Receiving from the client (CRLF to LF in ASCII).
    Receive,
}

/// [`copy`] yields to the executor after this many chunks.
const YIELD_EVERY: u64 = 16;

/// Copies `src` to `dst` through a buffer of `buf_size` bytes, converting line endings when
/// `ascii`, with each read and write limited to `stall`. Counts bytes read from the source in
/// `progress`. Under a bandwidth `meter`, reads at most its chunk at a time and waits for it
/// after each one.
pub async fn copy<R, W>(
    mut src: R,
    dst: &mut W,
    buf_size: usize,
    ascii: Option<Direction>,
    stall: Duration,
    progress: &Arc<AtomicU64>,
    meter: Option<&Meter>,
) -> Result<u64, CopyError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut stall = Stall::new(stall);
    let buf_size = meter.map_or(buf_size, |m| m.chunk().min(buf_size));
    let mut buf = vec![0u8; buf_size.max(1)];
    let mut conv = Vec::new();
    let mut to_network = ToNetwork::default();
    let mut from_network = FromNetwork::default();
    let mut total = 0u64;
    for step in 1u64.. {
        // A file read or written in place (`ReadInPlace`, `FsUpload`) is always ready, and so
        // is a socket that a fast peer keeps busy: give the thread's other tasks a turn.
        if step % YIELD_EVERY == 0 {
            future::yield_now().await;
        }
        let n = stall
            .run(src.read(&mut buf))
            .await
            .map_err(CopyError::Read)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        progress.store(total, Ordering::Relaxed);
        let chunk: &[u8] = match ascii {
            None => &buf[..n],
            Some(Direction::Send) => {
                conv.clear();
                to_network.convert(&buf[..n], &mut conv);
                &conv
            }
            Some(Direction::Receive) => {
                conv.clear();
                from_network.convert(&buf[..n], &mut conv);
                &conv
            }
        };
        stall
            .run(dst.write_all(chunk))
            .await
            .map_err(CopyError::Write)?;
        if let Some(m) = meter {
            m.spent(n as u64).await;
        }
    }
    conv.clear();
    from_network.finish(&mut conv);
    if !conv.is_empty() {
        stall
            .run(dst.write_all(&conv))
            .await
            .map_err(CopyError::Write)?;
    }
    stall.run(dst.flush()).await.map_err(CopyError::Write)?;
    Ok(total)
}

/// How many bytes one `sendfile` call may move (the socket's free buffer space limits each
/// call further).
///
/// Small on purpose: a large call reaches the client in bursts, and the client waits for
/// data in between (most likely because the kernel marks all but the last piece of one
/// `sendfile` as "more to come", which holds back pushing it). Measured with curl
/// (`-o /dev/null`, 1 GiB over loopback, 3 × 5 downloads interleaved, on 2 cores): 8 MiB
/// gave a median of 2233 MB/s at 0.42 s/GiB of server CPU, 128 KiB 2917 MB/s at 0.33 s/GiB;
/// 64 KiB (2319) and 256 KiB (2805) were in between. Per download, curl blocked 4000–6900
/// times at 8 MiB and 2200–2700 at 128 KiB (`perf stat` context switches), and the server
/// found its socket full 458 times at 8 MiB and once at 128 KiB (`strace -c`).
const SENDFILE_CHUNK: usize = 128 * 1024;

/// How far [`send_file_now`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentNow {
    /// The whole file went out; the total bytes sent.
    Done(u64),
    /// The socket is full; the total bytes sent so far.
    Full(u64),
    /// The kernel can't `sendfile` from this file; nothing was sent.
    Unsupported,
}

/// Sorts a `sendfile` error: `Ok(())` when the file can't be sent this way at all (only
/// possible before the first byte, `untouched`), else whether the network or the file failed.
fn sendfile_error(e: io::Error, untouched: bool) -> Result<(), CopyError> {
    match e {
        e if untouched && unsupported(&e) => Ok(()),
        e if is_network_error(&e) => Err(CopyError::Write(e)),
        e => Err(CopyError::Read(e)),
    }
}

/// Sends `file` from its current position over the nonblocking socket `dst` with
/// `sendfile(2)` until the end of the file or until the socket's buffer is full, without
/// waiting. `total` is what was sent before (the counts returned and stored in `progress`
/// include it).
pub fn send_file_now(
    file: &std::fs::File,
    dst: &std::net::TcpStream,
    mut total: u64,
    progress: &AtomicU64,
) -> Result<SentNow, CopyError> {
    let first = total;
    loop {
        match rustix::fs::sendfile(dst, file, None, SENDFILE_CHUNK) {
            Ok(0) => return Ok(SentNow::Done(total)),
            Ok(n) => {
                total += n as u64;
                progress.store(total, Ordering::Relaxed);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => return Ok(SentNow::Full(total)),
            Err(e) => {
                sendfile_error(e.into(), total == first)?;
                return Ok(SentNow::Unsupported);
            }
        }
    }
}

/// Sends `file` from its current position to the end over the plain TCP `dst` with zero-copy
/// `sendfile(2)`, each wait for socket space limited to `stall`. `sent` bytes went out
/// before (see [`send_file_now`]); the total including them is returned and counted in
/// `progress`. Returns `Ok(None)` without sending anything when the kernel can't `sendfile`
/// from this file (the caller then copies it the ordinary way). A connection not registered
/// with the reactor yet is only registered if the socket fills up. Under a bandwidth `meter`
/// each `sendfile` moves at most the meter's chunk and waits for it afterwards.
pub async fn send_file(
    file: &std::fs::File,
    dst: &mut DataConn,
    sent: u64,
    stall: Duration,
    progress: &Arc<AtomicU64>,
    meter: Option<&Meter>,
) -> Result<Option<u64>, CopyError> {
    let mut total = sent;
    if let (DataConn::Fresh(s), None) = (&*dst, meter) {
        match send_file_now(file, s, total, progress)? {
            SentNow::Done(n) => return Ok(Some(n)),
            SentNow::Unsupported => return Ok(None),
            SentNow::Full(n) => total = n,
        }
    }
    let chunk = meter.map_or(SENDFILE_CHUNK, Meter::chunk);
    let sock: Arc<async_io::Async<std::net::TcpStream>> =
        dst.registered().map_err(CopyError::Write)?.clone().into();
    let mut stall = Stall::new(stall);
    loop {
        let sent_now = stall
            .run(sock.write_with(|s| {
                rustix::fs::sendfile(s, file, None, chunk).map_err(io::Error::from)
            }))
            .await;
        let n = match sent_now {
            Ok(n) => n,
            Err(e) => {
                sendfile_error(e, total == sent)?;
                return Ok(None);
            }
        };
        if n == 0 {
            return Ok(Some(total));
        }
        total += n as u64;
        progress.store(total, Ordering::Relaxed);
        if let Some(m) = meter {
            m.spent(n as u64).await;
        }
    }
}

/// The rest of `file` from its current position, read at once if it is at most `limit`
/// bytes and on a local filesystem ([`file_reader`] says why); `None` if not, or if it grew
/// past `limit` while being read. Either way the
/// file's position is left where it was (`pread`).
///
/// For small downloads over TLS: read here, on the session's thread, a file needs no
/// blocking-pool thread to read it and no hop to the encryption pool, which cost a 4 KiB
/// download more than its encryption does. Like `sendfile` on the plain path, the read
/// may wait for the disk.
pub(crate) fn read_small(file: &std::fs::File, limit: usize) -> io::Result<Option<Vec<u8>>> {
    use std::io::Seek;
    use std::os::unix::fs::FileExt;
    if !crate::storage::fs::is_local_fs(file) {
        return Ok(None);
    }
    let start = (&*file).stream_position()?;
    let rest = file.metadata()?.len().saturating_sub(start);
    if rest > limit as u64 {
        return Ok(None);
    }
    // One byte more than expected: filling it means the file grew.
    let mut buf = vec![0; rest as usize + 1];
    let mut n = 0;
    loop {
        match file.read_at(&mut buf[n..], start + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if n == buf.len() {
            return Ok(None);
        }
    }
    buf.truncate(n);
    Ok(Some(buf))
}

/// The reader of a local file for a download that is not `sendfile`d (TLS, `TYPE A`): on a
/// local filesystem ([`is_local_fs`]) a [`ReadInPlace`], else (a network filesystem could
/// hang the thread) a reader on the blocking pool.
pub(crate) fn file_reader(f: std::fs::File) -> crate::storage::ReadStream {
    if crate::storage::fs::is_local_fs(&f) {
        Box::pin(ReadInPlace(f))
    } else {
        Box::pin(blocking::Unblock::with_capacity(TRANSFER_BUFFER, f))
    }
}

/// A local file read where it is polled: each `poll_read` is one `read(2)`, ready at once.
///
/// The bytes go from the page cache straight into the copy buffer, where a blocking-pool
/// reader ([`blocking::Unblock`]) passed them through a pipe of its own (one more copy) and
/// woke the transfer's thread for each chunk (1 GiB over TLS 1.3: 0.71 s of CPU against
/// 0.91). Like `sendfile` on the plain path, a read may wait for the disk.
#[derive(Debug)]
pub(crate) struct ReadInPlace(pub std::fs::File);

impl AsyncRead for ReadInPlace {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::task::Poll::Ready(retrying(|| std::io::Read::read(&mut self.0, buf)))
    }
}

/// `op`, repeated while it fails with `Interrupted` (a signal arrived during the call).
pub(crate) fn retrying<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// Writes as much of `bytes` as the nonblocking socket `dst` takes now, without waiting;
/// returns how many bytes went out.
pub fn write_now(dst: &std::net::TcpStream, bytes: &[u8]) -> io::Result<usize> {
    use std::io::Write as _;
    let mut done = 0;
    while done < bytes.len() {
        match (&*dst).write(&bytes[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Capacity asked for the pipe between the socket and the file in [`receive_file`] (the
/// kernel's default limit for unprivileged processes, `/proc/sys/fs/pipe-max-size`).
const SPLICE_PIPE: usize = 1024 * 1024;

/// Receives the plain TCP `src` until end of stream into `file` (at its current position)
/// with `splice(2)`: socket to pipe inside async-io's readiness loop, then pipe to file, so
/// the bytes never pass through user space. Writing into the page cache is quick, so the
/// pipe is emptied right on the executor thread (as nginx writes its temporary files),
/// saving two thread switches per step; once a write is slow (the disk throttles writers),
/// the next steps empty it on the blocking pool instead, until the disk keeps up again (see
/// `DrainPlace`). On network filesystems (NFS, SMB, FUSE) the pipe is always emptied on the
/// blocking pool. Each wait for data is limited to `stall`; bytes
/// received are counted in `progress`. Where the file can't take a `splice` (append mode,
/// some filesystems) the bytes are moved from the pipe with `read`/`write` instead.
///
/// Under a bandwidth `meter`, each step moves at most the meter's chunk and waits for it
/// once the bytes are in the file. `admit` sees each step's byte count before the bytes go
/// into the file, and refuses them with an error (a quota: [`crate::storage::Upload::admit`]).
///
/// Errors: [`CopyError::Read`] for the network side, [`CopyError::Write`] for the file.
pub async fn receive_file(
    src: &TcpStream,
    file: std::fs::File,
    stall: Duration,
    progress: &Arc<AtomicU64>,
    meter: Option<&Meter>,
    admit: &mut (dyn FnMut(u64) -> io::Result<()> + Send),
) -> Result<u64, CopyError> {
    let pooled = !crate::storage::fs::is_local_fs(&file);
    let paced = Paced { meter, admit };
    receive(src, file, stall, progress, pooled, paced).await
}

/// What an upload's steps answer to besides the stall limit: the bandwidth meter and the
/// admission of each step's bytes ([`receive_file`]).
struct Paced<'a> {
    meter: Option<&'a Meter>,
    admit: &'a mut (dyn FnMut(u64) -> io::Result<()> + Send),
}

impl Paced<'_> {
    /// The most bytes a step may move, of `cap`.
    fn chunk(&self, cap: usize) -> usize {
        self.meter.map_or(cap, |m| m.chunk().min(cap))
    }

    /// Lets `n` bytes go into the file, or refuses them.
    fn admit(&mut self, n: usize) -> Result<(), CopyError> {
        (self.admit)(n as u64).map_err(CopyError::Write)
    }
}

/// [`receive_file`], emptying the pipe on the blocking pool from the start if `pooled`.
async fn receive(
    src: &TcpStream,
    file: std::fs::File,
    stall: Duration,
    progress: &Arc<AtomicU64>,
    pooled: bool,
    mut paced: Paced<'_>,
) -> Result<u64, CopyError> {
    let mut where_ = DrainPlace::new(pooled);
    let mut stall = Stall::new(stall);
    use rustix::pipe::{PipeFlags, SpliceFlags};
    let sock: Arc<async_io::Async<std::net::TcpStream>> = src.clone().into();
    let (pipe_r, pipe_w) =
        rustix::pipe::pipe_with(PipeFlags::CLOEXEC).map_err(|e| CopyError::Read(e.into()))?;
    // Best effort: a smaller pipe only means more, smaller steps.
    let _ = rustix::pipe::fcntl_setpipe_size(&pipe_w, SPLICE_PIPE);
    let cap = rustix::pipe::fcntl_getpipe_size(&pipe_w).unwrap_or(64 * 1024);
    let cap = paced.chunk(cap);
    let sink = Arc::new(Sink {
        pipe: pipe_r,
        file,
        splice_ok: std::sync::atomic::AtomicBool::new(true),
    });
    let mut total = 0u64;
    let mut in_pipe = 0usize;
    loop {
        let mut eof = false;
        match rustix::pipe::splice(
            &*sock,
            None,
            &pipe_w,
            None,
            cap - in_pipe,
            SpliceFlags::MOVE | SpliceFlags::NONBLOCK,
        ) {
            Ok(0) => eof = true,
            Ok(n) => {
                in_pipe += n;
                total += n as u64;
                progress.store(total, Ordering::Relaxed);
                if in_pipe < cap / 2 && paced.meter.is_none() {
                    continue;
                }
            }
            Err(rustix::io::Errno::INTR) => continue,
            // Nothing to read (or, with bytes in it, possibly a full pipe): write out what
            // the pipe holds, or wait for the socket.
            Err(rustix::io::Errno::AGAIN) if in_pipe == 0 => {
                stall.run(sock.readable()).await.map_err(CopyError::Read)?;
                continue;
            }
            Err(rustix::io::Errno::AGAIN) => {}
            Err(e) => return Err(CopyError::Read(e.into())),
        }
        if in_pipe > 0 {
            let n = in_pipe;
            paced.admit(n)?;
            if where_.pooled() {
                let s = sink.clone();
                let took = blocking::unblock(move || {
                    let started = Instant::now();
                    s.drain(n).map(|()| started.elapsed())
                })
                .await
                .map_err(CopyError::Write)?;
                where_.pooled_step(took);
            } else {
                let started = Instant::now();
                sink.drain(n).map_err(CopyError::Write)?;
                where_.inline_step(started.elapsed());
            }
            in_pipe = 0;
            Meter::pace(paced.meter, n as u64).await;
        }
        if eof {
            return Ok(total);
        }
    }
}

/// A pipe-to-file step slower than this moves the next steps of a [`receive_file`] to the
/// blocking pool (and an upload's write, the rest of its writes: see
/// [`crate::storage::fs`]'s `FsUpload`).
pub(crate) const SLOW_DRAIN: Duration = Duration::from_millis(50);

/// Steps on the pool quicker than this count towards going back to the executor thread.
const QUICK_DRAIN: Duration = Duration::from_millis(5);

/// How many quick steps in a row on the pool bring the steps back to the executor thread.
const QUICK_STEPS_BACK: u32 = 64;

/// Where [`receive_file`] empties its pipe. On the executor thread while page-cache writes
/// are quick (a hand-off to the pool costs about as much CPU again as the copy); after a step
/// slower than [`SLOW_DRAIN`] (the kernel throttling writers while it writes back), on the
/// pool, so a slow disk holds up the other sessions of the thread only once; back on the
/// thread after [`QUICK_STEPS_BACK`] quick steps in a row, since the throttling comes and
/// goes. Files on network filesystems are always emptied on the pool.
#[derive(Debug, Clone, Copy)]
struct DrainPlace {
    always_pooled: bool,
    pooled: bool,
    quick_steps: u32,
}

impl DrainPlace {
    fn new(always_pooled: bool) -> DrainPlace {
        DrainPlace {
            always_pooled,
            pooled: always_pooled,
            quick_steps: 0,
        }
    }

    fn pooled(&self) -> bool {
        self.pooled
    }

    /// A step on the executor thread took `took`.
    fn inline_step(&mut self, took: Duration) {
        if took > SLOW_DRAIN {
            self.pooled = true;
            self.quick_steps = 0;
        }
    }

    /// A step on the pool took `took`.
    fn pooled_step(&mut self, took: Duration) {
        if self.always_pooled {
            return;
        }
        self.quick_steps = if took < QUICK_DRAIN {
            self.quick_steps + 1
        } else {
            0
        };
        if self.quick_steps >= QUICK_STEPS_BACK {
            self.pooled = false;
            self.quick_steps = 0;
        }
    }
}

/// The file end of [`receive_file`]: the pipe's read side and the file.
struct Sink {
    pipe: std::os::fd::OwnedFd,
    file: std::fs::File,
    /// Cleared when the file refuses `splice` (then `read`/`write` are used).
    splice_ok: std::sync::atomic::AtomicBool,
}

impl Sink {
    /// Moves exactly `n` bytes, which the pipe holds, into the file.
    fn drain(&self, mut n: usize) -> io::Result<()> {
        use rustix::io::Errno;
        while n > 0 && self.splice_ok.load(Ordering::Relaxed) {
            match rustix::pipe::splice(
                &self.pipe,
                None,
                &self.file,
                None,
                n,
                rustix::pipe::SpliceFlags::MOVE,
            ) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => n -= k,
                Err(Errno::INTR) => {}
                Err(Errno::INVAL | Errno::OPNOTSUPP) => {
                    self.splice_ok.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(e.into()),
            }
        }
        if n == 0 {
            return Ok(());
        }
        let mut buf = vec![0u8; n.min(256 * 1024)];
        while n > 0 {
            let want = n.min(buf.len());
            let k = match rustix::io::read(&self.pipe, &mut buf[..want]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(k) => k,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            std::io::Write::write_all(&mut &self.file, &buf[..k])?;
            n -= k;
        }
        Ok(())
    }
}

/// `sendfile` can't be used with this file (filesystem without support).
fn unsupported(e: &io::Error) -> bool {
    let errno = e.raw_os_error();
    errno == Some(rustix::io::Errno::INVAL.raw_os_error())
        || errno == Some(rustix::io::Errno::NOSYS.raw_os_error())
        || errno == Some(rustix::io::Errno::OPNOTSUPP.raw_os_error())
}

/// The error came from the network side of a `sendfile` (the peer, or the stall timeout).
fn is_network_error(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::BrokenPipe
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::TimedOut
            | K::NetworkDown
            | K::NetworkUnreachable
            | K::HostUnreachable
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_net::TcpListener;

    #[test]
    fn bind_passive_without_a_range_uses_an_ephemeral_port() {
        let l = future::block_on(bind_passive(IpAddr::from([127, 0, 0, 1]), None)).unwrap();
        let port = l.local_addr().port();
        if let Some((lo, hi)) = ephemeral_ports() {
            assert!((lo..=hi).contains(&port), "{port} not in {lo}..={hi}");
        }
        assert_ne!(port, 0);
    }

    #[test]
    fn copy_converts_and_counts() {
        let progress = Arc::new(AtomicU64::new(0));
        let mut out = Vec::new();
        let n = future::block_on(copy(
            &b"x\ny\n"[..],
            &mut out,
            16,
            Some(Direction::Send),
            Duration::from_secs(5),
            &progress,
            None,
        ))
        .unwrap();
        assert_eq!((n, out.as_slice()), (4, &b"x\r\ny\r\n"[..]));
    }

    #[test]
    fn stall_limits_each_wait_not_the_sum_of_them() {
        future::block_on(async {
            let mut stall = Stall::new(Duration::from_millis(200));
            // Five waits of 60 ms: 300 ms in all, each well inside the limit.
            for _ in 0..5 {
                let waited = stall.run(async {
                    async_io::Timer::after(Duration::from_millis(60)).await;
                    Ok(())
                });
                waited.await.unwrap();
            }
            let started = Instant::now();
            let e = stall
                .run(future::pending::<io::Result<()>>())
                .await
                .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            assert!(started.elapsed() >= Duration::from_millis(200));
        });
    }

    /// A passive listener on loopback, and a connection to it that is already waiting in its
    /// accept queue (taken by [`accept_waiting`]): `(client side, server side)`.
    fn waiting_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let l = future::block_on(bind_passive(IpAddr::from([127, 0, 0, 1]), None)).unwrap();
        let peer = IpAddr::from([127, 0, 0, 1]);
        assert!(accept_waiting(&l, peer, "t").unwrap().is_none());
        let client = std::net::TcpStream::connect(l.local_addr()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // The handshake is done when connect returns; the kernel may still be queueing it.
        for _ in 0..200 {
            if let Some(server) = accept_waiting(&l, peer, "t").unwrap() {
                return (client, server);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the connection never reached the accept queue");
    }

    fn patterned(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn accept_waiting_drops_connections_from_other_addresses() {
        let l = future::block_on(bind_passive(IpAddr::from([127, 0, 0, 1]), None)).unwrap();
        let _c = std::net::TcpStream::connect(l.local_addr()).unwrap();
        let other = IpAddr::from([127, 0, 0, 2]);
        for _ in 0..200 {
            // The foreign connection is taken off the queue and dropped, never returned.
            assert!(accept_waiting(&l, other, "t").unwrap().is_none());
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(accept_waiting(&l, IpAddr::from([127, 0, 0, 1]), "t")
            .unwrap()
            .is_none());
    }

    #[test]
    fn copy_between_always_ready_ends_lets_other_tasks_of_its_thread_run() {
        let ex = smol::LocalExecutor::new();
        let other_ran = std::rc::Rc::new(std::cell::Cell::new(false));
        let flag = other_ran.clone();
        let copy = ex.spawn(async move {
            let src = futures_lite::io::repeat(7).take(64 << 20);
            let progress = Arc::new(AtomicU64::new(0));
            let mut dst = futures_lite::io::sink();
            let n = copy(
                src,
                &mut dst,
                128 * 1024,
                None,
                Duration::from_secs(5),
                &progress,
                None,
            );
            (n.await.unwrap(), flag.get())
        });
        ex.spawn(async move { other_ran.set(true) }).detach();
        let (n, seen) = smol::block_on(ex.run(copy));
        assert_eq!(n, 64 << 20);
        assert!(seen, "the other task ran only after the copy");
    }

    #[test]
    fn read_small_reads_the_rest_of_a_file_up_to_its_limit_and_leaves_its_position() {
        use std::io::{Seek, SeekFrom};
        let dir = tempfile::tempdir().unwrap();
        let payload = patterned(5000);
        std::fs::write(dir.path().join("f"), &payload).unwrap();
        let mut file = std::fs::File::open(dir.path().join("f")).unwrap();
        file.seek(SeekFrom::Start(1000)).unwrap();
        assert_eq!(read_small(&file, 4000).unwrap().unwrap(), &payload[1000..]);
        assert_eq!(read_small(&file, 3999).unwrap(), None);
        assert_eq!(file.stream_position().unwrap(), 1000);
        file.seek(SeekFrom::End(0)).unwrap();
        assert_eq!(read_small(&file, 0).unwrap().unwrap(), b"");
    }

    #[test]
    fn send_file_now_sends_a_small_file_whole_without_waiting() {
        let (mut client, server) = waiting_pair();
        let dir = tempfile::tempdir().unwrap();
        let payload = patterned(5000);
        std::fs::write(dir.path().join("f"), &payload).unwrap();
        let file = std::fs::File::open(dir.path().join("f")).unwrap();
        let progress = AtomicU64::new(0);
        assert_eq!(
            send_file_now(&file, &server, 0, &progress).unwrap(),
            SentNow::Done(5000)
        );
        assert_eq!(progress.load(Ordering::Relaxed), 5000);
        server.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut client, &mut got).unwrap();
        assert_eq!(got, payload);
    }

    #[test]
    fn send_file_goes_on_where_send_file_now_stopped_at_a_full_socket() {
        let (client, server) = waiting_pair();
        let dir = tempfile::tempdir().unwrap();
        // Far more than a loopback socket buffers while nobody reads.
        let payload = patterned(48 << 20);
        std::fs::write(dir.path().join("f"), &payload).unwrap();
        let file = std::fs::File::open(dir.path().join("f")).unwrap();
        let progress = Arc::new(AtomicU64::new(0));
        let sent = match send_file_now(&file, &server, 0, &progress).unwrap() {
            SentNow::Full(n) => n,
            other => panic!("a file larger than the socket buffers gave {other:?}"),
        };
        assert!(sent > 0 && sent < payload.len() as u64, "{sent}");
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut &client, &mut got).unwrap();
            got
        });
        let mut conn = DataConn::Fresh(server);
        let total = future::block_on(send_file(
            &file,
            &mut conn,
            sent,
            Duration::from_secs(10),
            &progress,
            None,
        ))
        .unwrap();
        assert_eq!(total, Some(payload.len() as u64));
        assert_eq!(progress.load(Ordering::Relaxed), payload.len() as u64);
        conn.shutdown_write().unwrap();
        drop(conn);
        assert!(reader.join().unwrap() == payload, "bytes differ");
    }

    #[test]
    fn write_now_writes_what_fits_and_says_how_much() {
        let (mut client, server) = waiting_pair();
        assert_eq!(write_now(&server, b"hello").unwrap(), 5);
        let big = patterned(48 << 20);
        let n = write_now(&server, &big).unwrap();
        assert!(n > 0 && n < big.len(), "{n}");
        drop(server);
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut client, &mut got).unwrap();
        assert_eq!(got.len(), 5 + n);
        assert!(got[..5] == *b"hello" && got[5..] == big[..n]);
    }

    /// Sends `payload` over a loopback connection into [`receive_file`] writing to `file`.
    fn receive_into(file: &std::fs::File, payload: &[u8]) -> u64 {
        receive_with(file, payload, 1 << 20, false)
    }

    /// Sends `payload` in writes of `piece` bytes into [`receive`] (emptying the pipe on the
    /// blocking pool if `pooled`) writing to `file`.
    fn receive_with(file: &std::fs::File, payload: &[u8], piece: usize, pooled: bool) -> u64 {
        future::block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let payload = payload.to_vec();
            let sender = async move {
                let mut c = TcpStream::connect(addr).await.unwrap();
                for chunk in payload.chunks(piece) {
                    c.write_all(chunk).await.unwrap();
                }
                c.close().await.unwrap();
            };
            let receiver = async {
                let (s, _) = l.accept().await.unwrap();
                let progress = Arc::new(AtomicU64::new(0));
                let paced = Paced {
                    meter: None,
                    admit: &mut |_| Ok(()),
                };
                let file = file.try_clone().unwrap();
                let n = receive(&s, file, Duration::from_secs(10), &progress, pooled, paced)
                    .await
                    .unwrap();
                assert_eq!(progress.load(Ordering::Relaxed), n);
                n
            };
            let (n, ()) = future::zip(receiver, sender).await;
            n
        })
    }

    /// Uploads `len` patterned bytes in writes of `piece` into a new file through
    /// [`receive`] (on the pool from the start if `pooled`) and checks the file holds them.
    fn receive_new_file(len: usize, piece: usize, pooled: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("up");
        let file = std::fs::File::create(&path).unwrap();
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        assert_eq!(receive_with(&file, &payload, piece, pooled), len as u64);
        assert_eq!(std::fs::read(&path).unwrap(), payload);
    }

    #[test]
    fn receive_file_splices_every_byte_into_the_file() {
        // More than one pipe's worth, not a multiple of a page.
        receive_new_file(3 * SPLICE_PIPE + 12_345, 1 << 20, false);
    }

    #[test]
    fn receive_file_on_the_blocking_pool_gets_every_byte_from_small_writes() {
        // The network-filesystem path: the pipe is emptied by pool threads while the sender
        // trickles in small writes.
        receive_new_file(2 * SPLICE_PIPE + 777, 10_000, true);
    }

    #[test]
    fn a_slow_step_moves_draining_to_the_pool_until_the_disk_keeps_up_again() {
        let (quick, slow) = (QUICK_DRAIN / 2, SLOW_DRAIN * 2);
        let mut d = DrainPlace::new(false);
        d.inline_step(quick);
        assert!(!d.pooled());
        d.inline_step(slow);
        assert!(d.pooled());
        // A slow step on the pool starts the count again.
        for _ in 0..QUICK_STEPS_BACK - 1 {
            d.pooled_step(quick);
        }
        d.pooled_step(slow);
        for _ in 0..QUICK_STEPS_BACK - 1 {
            d.pooled_step(quick);
        }
        assert!(d.pooled());
        d.pooled_step(quick);
        assert!(!d.pooled());
        // Network filesystems stay on the pool.
        let mut nfs = DrainPlace::new(true);
        for _ in 0..2 * QUICK_STEPS_BACK {
            nfs.pooled_step(quick);
        }
        assert!(nfs.pooled());
    }

    #[test]
    fn receive_file_appends_to_a_file_opened_for_append() {
        // splice(2) refuses O_APPEND files: the read/write fallback takes over.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"head\n").unwrap();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8 + b'0').collect();
        assert_eq!(receive_into(&file, &payload), payload.len() as u64);
        let mut want = b"head\n".to_vec();
        want.extend_from_slice(&payload);
        assert_eq!(std::fs::read(&path).unwrap(), want);
    }

    #[test]
    fn receive_file_of_an_empty_upload_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        let file = std::fs::File::create(&path).unwrap();
        assert_eq!(receive_into(&file, b""), 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }
}
