//! Data connections and transfers: `EPSV`/`PASV`, `EPRT`/`PORT`, `RETR` as an [`AsyncRead`],
//! `STOR`/`APPE` from an [`AsyncRead`], `REST` offsets and listings.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::{Async, Timer};
use ftp_proto::ascii::ToNetwork;
use ftp_proto::command::{EpsvArg, TextFormat, TransferType};
use ftp_proto::{addr, Command, Reply, ReplyCode};
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_lite::FutureExt;

use crate::client::{arg, unsupported, with_timeout, BoxStream, Client, DataMode, TransferKind};
use crate::error::{Error, ProtocolError, Result};
use crate::listing::{self, Entry};
use crate::tls::EofTolerant;

enum Prepared {
    Connected(async_net::TcpStream),
    Listening(async_net::TcpListener),
}

/// An open data connection: the stream to read and write, and for plain TCP (no TLS) the
/// socket itself, so a download can `splice(2)` it straight into a file.
pub(crate) struct DataConn {
    stream: BoxStream,
    tcp: Option<Arc<Async<std::net::TcpStream>>>,
}

/// Received bytes a [`Download::copy_to_file`] moves through user space before it switches to
/// `splice(2)`: small files never pay for the pipe.
const SPLICE_AFTER: u64 = 1 << 20;

/// The read buffer of [`Download::copy_to_file`] when it cannot splice: it starts small
/// (small files are the common case in a mirror) and grows once a read fills it.
const COPY_BUF_START: usize = 32 * 1024;
const COPY_BUF: usize = 256 * 1024;

/// The most one `sendfile(2)` call of [`Client::stor_file`] is asked to move.
const SENDFILE_CHUNK: usize = 4 << 20;

/// The capacity asked for the splice pipe (the kernel's default is 64 KiB).
const PIPE_SIZE: usize = 1 << 20;

/// An upload source that reports the size of every read.
struct Reporting<'a, R, F> {
    inner: R,
    progress: &'a mut F,
}

impl<R: AsyncRead + Unpin, F: FnMut(u64)> AsyncRead for Reporting<'_, R, F> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            (this.progress)(n as u64);
        }
        r
    }
}

/// Why [`Download::copy_to_file`] stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// Receiving from the data connection failed, or it stalled for the client's
    /// `data_timeout` (an error of kind [`io::ErrorKind::TimedOut`]).
    #[error("receiving data: {0}")]
    Receive(#[source] io::Error),
    /// Writing the local file failed.
    #[error("writing the local file: {0}")]
    Write(#[source] io::Error),
}

impl From<CopyError> for Error {
    /// A receive error as the library reports it (a stall is [`Error::Timeout`]); a write
    /// error as an I/O error on the local file.
    fn from(e: CopyError) -> Error {
        match e {
            CopyError::Receive(e) => dl_error("receiving data", e),
            CopyError::Write(e) => Error::io("writing the local file", e),
        }
    }
}

/// Converts CR LF to LF in `buf[..n]` in place; returns the new length and whether a CR at
/// the end was held back (it is re-emitted by the caller unless an LF follows).
pub(crate) fn crlf_to_lf(buf: &mut [u8], n: usize, at_eof: bool) -> (usize, bool) {
    let mut w = 0;
    let mut i = 0;
    while i < n {
        let b = buf[i];
        if b == b'\r' {
            if i + 1 < n {
                if buf[i + 1] == b'\n' {
                    i += 1;
                    continue;
                }
            } else if !at_eof {
                return (w, true);
            }
        }
        buf[w] = b;
        w += 1;
        i += 1;
    }
    (w, false)
}

impl Client {
    async fn ensure_type(&mut self) -> Result<()> {
        if self.current_type != Some(self.want_type) {
            let t = match self.want_type {
                TransferKind::Binary => TransferType::Image,
                TransferKind::Ascii => TransferType::Ascii(TextFormat::NonPrint),
            };
            self.expect_ok(&Command::Type(t)).await?;
            self.current_type = Some(self.want_type);
        }
        Ok(())
    }

    async fn connect_data(&self, target: SocketAddr) -> Result<async_net::TcpStream> {
        with_timeout(
            self.opts.connect_timeout,
            || format!("opening the data connection to {target}"),
            async {
                async_net::TcpStream::connect(target)
                    .await
                    .map_err(|e| Error::io(format!("data connection to {target}"), e))
            },
        )
        .await
    }

    async fn prepare_data(&mut self) -> Result<Prepared> {
        match self.opts.mode {
            DataMode::Passive => {
                if !self.epsv_broken && self.opts.extended_data_commands {
                    let r = self.command(&Command::Epsv(EpsvArg::Any)).await?;
                    if r.code() == ReplyCode::EXTENDED_PASSIVE_MODE {
                        let port = addr::parse_epsv_reply(&r.lines()[0]).map_err(|source| {
                            ProtocolError::BadAddress {
                                command: "EPSV",
                                reply: r.clone(),
                                source,
                            }
                        })?;
                        let target = SocketAddr::new(self.peer.ip(), port);
                        return Ok(Prepared::Connected(self.connect_data(target).await?));
                    }
                    if !unsupported(&r) {
                        return Err(Error::Reply {
                            command: "EPSV".into(),
                            reply: r,
                        });
                    }
                    log::info!("EPSV refused ({r}); using PASV for this session");
                    self.epsv_broken = true;
                }
                let r = self.expect_ok(&Command::Pasv).await?;
                let a = addr::parse_pasv_reply(&r.lines()[0]).map_err(|source| {
                    ProtocolError::BadAddress {
                        command: "PASV",
                        reply: r.clone(),
                        source,
                    }
                })?;
                let target = if self.opts.trust_pasv_address {
                    SocketAddr::V4(a)
                } else {
                    SocketAddr::new(self.peer.ip(), a.port())
                };
                Ok(Prepared::Connected(self.connect_data(target).await?))
            }
            DataMode::Active => {
                let bind = SocketAddr::new(self.local.ip(), 0);
                let listener = async_net::TcpListener::bind(bind)
                    .await
                    .map_err(|e| Error::io(format!("listening on {bind}"), e))?;
                let here = listener
                    .local_addr()
                    .map_err(|e| Error::io("listener address", e))?;
                if !self.eprt_broken && self.opts.extended_data_commands {
                    let r = self.command(&Command::Eprt(here)).await?;
                    if r.code().is_completion() {
                        return Ok(Prepared::Listening(listener));
                    }
                    if !unsupported(&r) {
                        return Err(Error::Reply {
                            command: "EPRT".into(),
                            reply: r,
                        });
                    }
                    log::info!("EPRT refused ({r}); using PORT for this session");
                    self.eprt_broken = true;
                }
                let SocketAddr::V4(v4) = here else {
                    return Err(ProtocolError::NoEprt.into());
                };
                self.expect_ok(&Command::Port(v4)).await?;
                Ok(Prepared::Listening(listener))
            }
        }
    }

    /// Opens a data connection and sends `cmd` (after `REST offset` if `offset > 0`).
    /// Returns the data connection (none if the server finished at once) and the final reply
    /// if it already came.
    async fn start_transfer(
        &mut self,
        cmd: Command,
        offset: u64,
        set_type: bool,
    ) -> Result<(Option<DataConn>, Option<Reply>)> {
        if self.needs_resync {
            self.resync().await?;
        }
        if set_type {
            self.ensure_type().await?;
        }
        let prepared = self.prepare_data().await?;
        if offset > 0 {
            let rest = Command::Rest(offset);
            let r = self.command(&rest).await?;
            if r.code() != ReplyCode::PENDING {
                return Err(Error::Reply {
                    command: rest.to_string(),
                    reply: r,
                });
            }
        }
        let what = cmd.to_string();
        self.send(&cmd).await?;
        let first = self.read_reply(&what).await?;
        let early = if first.code().is_preliminary() {
            None
        } else if first.code().is_completion() {
            Some(first)
        } else {
            return Err(Error::Reply {
                command: what,
                reply: first,
            });
        };
        let stream = match prepared {
            Prepared::Connected(s) => Some(s),
            Prepared::Listening(_) if early.is_some() => None,
            Prepared::Listening(l) => {
                // If the server never connects, its 425 arrives later: resynchronise then.
                self.needs_resync = true;
                let s = with_timeout(
                    self.opts.connect_timeout,
                    || "waiting for the server's data connection".into(),
                    accept_from_server(&l, self.peer.ip(), self.opts.verify_data_peer),
                )
                .await?;
                self.needs_resync = false;
                Some(s)
            }
        };
        let stream = match (stream, self.tls.clone()) {
            (Some(s), Some(ctx)) => {
                let tls = with_timeout(
                    self.opts.connect_timeout,
                    || "the TLS handshake on the data connection".into(),
                    ctx.connect_data(s),
                )
                .await;
                match tls {
                    Ok(t) => Some(DataConn {
                        stream: Box::new(EofTolerant::new(t)),
                        tcp: None,
                    }),
                    Err(e) => {
                        // The server's verdict (425...) is still to come.
                        self.needs_resync = true;
                        return Err(e);
                    }
                }
            }
            (s, _) => s.map(|s| DataConn {
                tcp: Some(Arc::from(s.clone())),
                stream: Box::new(s),
            }),
        };
        Ok((stream, early))
    }

    /// Reads the final reply of a transfer whose data connection is closed, accounting for
    /// keep-alive NOOP replies.
    pub(crate) async fn finish_transfer(
        &mut self,
        what: &str,
        early: Option<Reply>,
    ) -> Result<Reply> {
        let fin = match early {
            Some(r) => r,
            None => loop {
                let r = self.read_reply(what).await?;
                if r.code().is_preliminary() {
                    continue;
                }
                if r.code() == ReplyCode::OK && self.owed_noops > 0 {
                    self.owed_noops -= 1;
                    continue;
                }
                break r;
            },
        };
        self.drain_noops().await?;
        if fin.code().is_completion() {
            Ok(fin)
        } else {
            Err(Error::Reply {
                command: what.to_string(),
                reply: fin,
            })
        }
    }

    /// Starts a download (`RETR`, after `REST offset` if `offset > 0`). Read the returned
    /// [`Download`] to its end, then call [`Download::finish`].
    ///
    /// ```no_run
    /// # smol::block_on(async {
    /// use futures_lite::io::AsyncReadExt;
    /// # let mut client = ftp_client::Client::connect("localhost", 21, Default::default()).await?;
    /// let mut dl = client.retr("file.txt", 0).await?;
    /// let mut bytes = Vec::new();
    /// dl.read_to_end(&mut bytes).await.map_err(|e| ftp_client::Error::io("reading the download", e))?;
    /// dl.finish().await?;
    /// # Ok::<(), ftp_client::Error>(()) });
    /// ```
    pub async fn retr(&mut self, path: impl AsRef<[u8]>, offset: u64) -> Result<Download<'_>> {
        let cmd = Command::Retr(arg(path)?);
        let what = cmd.to_string();
        let ascii = self.want_type == TransferKind::Ascii;
        let (data, early) = self.start_transfer(cmd, offset, true).await?;
        Ok(Download::new(self, data, early, what, ascii))
    }

    /// Uploads `src` to `path` (`STOR`, or `REST offset` + `STOR` to resume); returns the
    /// bytes sent.
    pub async fn stor<R: AsyncRead + Unpin>(
        &mut self,
        path: impl AsRef<[u8]>,
        src: R,
        offset: u64,
    ) -> Result<u64> {
        self.upload(Command::Stor(arg(path)?), src, offset).await
    }

    /// Appends `src` to `path` (`APPE`); returns the bytes sent.
    pub async fn appe<R: AsyncRead + Unpin>(
        &mut self,
        path: impl AsRef<[u8]>,
        src: R,
    ) -> Result<u64> {
        self.upload(Command::Appe(arg(path)?), src, 0).await
    }

    /// Uploads `file` from its current position to `path` (`STOR`, after `REST offset` if
    /// `offset > 0`) and returns the bytes sent; `progress` is called with the size of every
    /// chunk. A plain (no TLS) binary upload goes through `sendfile(2)` (file → socket, no
    /// copy through user space) inside the async-io reactor; otherwise this is
    /// [`Client::stor`] over the file.
    ///
    /// ```no_run
    /// # smol::block_on(async {
    /// # let mut client = ftp_client::Client::connect("localhost", 21, Default::default()).await?;
    /// let file = std::fs::File::open("big.iso")
    ///     .map_err(|e| ftp_client::Error::Usage(e.to_string()))?;
    /// let sent = client.stor_file("big.iso", file, 0, |_chunk| {}).await?;
    /// println!("{sent} bytes");
    /// # Ok::<(), ftp_client::Error>(()) });
    /// ```
    pub async fn stor_file(
        &mut self,
        path: impl AsRef<[u8]>,
        file: std::fs::File,
        offset: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        let cmd = Command::Stor(arg(path)?);
        if self.tls.is_some() || self.want_type != TransferKind::Binary {
            let src = Reporting {
                inner: blocking::Unblock::new(file),
                progress: &mut progress,
            };
            return self.upload(cmd, src, offset).await;
        }
        let what = cmd.to_string();
        let (data, early) = self.start_transfer(cmd, offset, true).await?;
        let Some(DataConn { stream, tcp }) = data else {
            return self.finish_transfer(&what, early).await.map(|_| 0);
        };
        let result = match tcp {
            Some(tcp) => self.send_file(&tcp, stream, &file, &mut progress).await,
            None => Err(ProtocolError::NoTcpSocket.into()),
        };
        match result {
            Ok(sent) => {
                self.finish_transfer(&what, early).await?;
                Ok(sent)
            }
            Err(e) => {
                // The server sees a short upload; read its verdict so the session stays usable.
                let _ = self.finish_transfer(&what, early).await;
                Err(e)
            }
        }
    }

    /// The body of a plain binary [`Client::stor_file`]: `sendfile(2)` from the file's
    /// position until its end, then closes the data connection. Falls back to a buffer if the
    /// kernel refuses `sendfile` for this file before the first byte.
    async fn send_file(
        &mut self,
        tcp: &Async<std::net::TcpStream>,
        mut stream: BoxStream,
        file: &std::fs::File,
        progress: &mut impl FnMut(u64),
    ) -> Result<u64> {
        use rustix::io::Errno;
        let stall = self.opts.data_timeout;
        let mut sent = 0u64;
        let mut last_noop = Instant::now();
        // Empty until sendfile is refused.
        let mut buf = Vec::new();
        loop {
            if let Some(k) = self.opts.keepalive {
                if last_noop.elapsed() >= k {
                    last_noop = Instant::now();
                    self.send(&Command::Noop).await?;
                    self.owed_noops += 1;
                }
            }
            if !buf.is_empty() {
                let n = std::io::Read::read(&mut &*file, &mut buf)
                    .map_err(|e| Error::io("reading the upload source", e))?;
                if n == 0 {
                    break;
                }
                with_timeout(stall, || "sending data (stalled)".into(), async {
                    stream
                        .write_all(&buf[..n])
                        .await
                        .map_err(|e| Error::io("data connection", e))
                })
                .await?;
                sent += n as u64;
                progress(n as u64);
                continue;
            }
            match rustix::fs::sendfile(tcp, file, None, SENDFILE_CHUNK) {
                Ok(0) => break,
                Ok(n) => {
                    sent += n as u64;
                    progress(n as u64);
                }
                Err(Errno::AGAIN) => {
                    with_timeout(stall, || "sending data (stalled)".into(), async {
                        tcp.writable()
                            .await
                            .map_err(|e| Error::io("data connection", e))
                    })
                    .await?;
                }
                Err(Errno::INTR) => {}
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if sent == 0 => {
                    buf.resize(COPY_BUF, 0);
                }
                Err(e) => return Err(Error::io("sending the file", e.into())),
            }
        }
        with_timeout(stall, || "closing the data connection".into(), async {
            stream
                .close()
                .await
                .map_err(|e| Error::io("data connection", e))
        })
        .await?;
        Ok(sent)
    }

    async fn upload<R: AsyncRead + Unpin>(
        &mut self,
        cmd: Command,
        mut src: R,
        offset: u64,
    ) -> Result<u64> {
        let what = cmd.to_string();
        let ascii = self.want_type == TransferKind::Ascii;
        let (data, early) = self.start_transfer(cmd, offset, true).await?;
        let Some(DataConn {
            stream: mut data, ..
        }) = data
        else {
            return self.finish_transfer(&what, early).await.map(|_| 0);
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut conv = Vec::new();
        let mut to_network = ToNetwork::default();
        let mut sent = 0u64;
        let mut last_noop = Instant::now();
        let stall = self.opts.data_timeout;
        let result: Result<()> = async {
            loop {
                let n = src
                    .read(&mut buf)
                    .await
                    .map_err(|e| Error::io("reading the upload source", e))?;
                if n == 0 {
                    break;
                }
                let chunk: &[u8] = if ascii {
                    conv.clear();
                    to_network.convert(&buf[..n], &mut conv);
                    &conv
                } else {
                    &buf[..n]
                };
                with_timeout(stall, || "sending data (stalled)".into(), async {
                    data.write_all(chunk)
                        .await
                        .map_err(|e| Error::io("data connection", e))
                })
                .await?;
                sent += n as u64;
                if let Some(k) = self.opts.keepalive {
                    if last_noop.elapsed() >= k {
                        last_noop = Instant::now();
                        self.send(&Command::Noop).await?;
                        self.owed_noops += 1;
                    }
                }
            }
            with_timeout(stall, || "closing the data connection".into(), async {
                data.close()
                    .await
                    .map_err(|e| Error::io("data connection", e))
            })
            .await?;
            if self.tls.is_some() {
                // Read the server's close_notify (and any session ticket) so closing does not
                // reset the connection under the server's last reads.
                let mut sink = [0u8; 1024];
                let _ = with_timeout(stall, || "closing the data connection".into(), async {
                    for _ in 0..64 {
                        if matches!(data.read(&mut sink).await, Ok(0) | Err(_)) {
                            break;
                        }
                    }
                    Ok(())
                })
                .await;
            }
            Ok(())
        }
        .await;
        drop(data);
        match result {
            Ok(()) => {
                self.finish_transfer(&what, early).await?;
                Ok(sent)
            }
            Err(e) => {
                // The server sees a short upload; read its verdict so the session stays usable.
                let _ = self.finish_transfer(&what, early).await;
                Err(e)
            }
        }
    }

    pub(crate) async fn read_listing(&mut self, cmd: Command) -> Result<Vec<u8>> {
        let what = cmd.to_string();
        let (data, early) = self.start_transfer(cmd, 0, false).await?;
        let mut dl = Download::new(self, data, early, what, false);
        let max = dl.client.opts.max_listing;
        let mut out = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = dl
                .read(&mut buf)
                .await
                .map_err(|e| dl_error("reading the listing", e))?;
            if n == 0 {
                break;
            }
            if out.len() + n > max {
                return Err(ProtocolError::ListingTooLarge { max }.into());
            }
            out.extend_from_slice(&buf[..n]);
        }
        dl.finish().await?;
        Ok(out)
    }

    /// Lists a directory (`None`: the current one) as parsed entries: `MLSD` when the server
    /// offers `MLST`, otherwise `LIST` parsed from Unix or DOS formats. `.` and `..` are left
    /// out; lines that cannot be parsed are skipped.
    pub async fn list(&mut self, path: Option<&[u8]>) -> Result<Vec<Entry>> {
        let path = path.filter(|p| !p.is_empty()).map(arg).transpose()?;
        if !self.mlsd_broken && self.feat().await?.has("MLST") {
            match self.read_listing(Command::Mlsd(path.clone())).await {
                Ok(bytes) => return Ok(listing::parse_mlsd(&bytes)),
                Err(Error::Reply { reply, .. }) if unsupported(&reply) => {
                    self.mlsd_broken = true;
                }
                Err(e) => return Err(e),
            }
        }
        let bytes = self.list_raw(path.as_deref()).await?;
        Ok(listing::parse_list(&bytes, listing::now()))
    }

    /// The raw `LIST` output for a path.
    pub async fn list_raw(&mut self, path: Option<&[u8]>) -> Result<Vec<u8>> {
        let path = path.filter(|p| !p.is_empty()).map(arg).transpose()?;
        self.read_listing(Command::List(path)).await
    }

    /// Names in a directory (`NLST`).
    pub async fn nlst(&mut self, path: Option<&[u8]>) -> Result<Vec<Vec<u8>>> {
        let path = path.filter(|p| !p.is_empty()).map(arg).transpose()?;
        let bytes = self.read_listing(Command::Nlst(path)).await?;
        Ok(listing::split_lines(&bytes)
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect())
    }
}

/// The most data connections from other hosts [`accept_from_server`] drops before it gives up.
const MAX_FOREIGN_DATA_CONNECTIONS: usize = 16;

/// Accepts the server's data connection on `l` (active mode). With `verify` on, connections
/// from any other address than the control connection's peer `server` are closed unused and
/// logged (RFC 2577 port stealing: whoever connects first could otherwise inject a download or
/// receive an upload); at most [`MAX_FOREIGN_DATA_CONNECTIONS`] are dropped before this gives
/// up. The caller bounds the wait in time.
async fn accept_from_server(
    l: &async_net::TcpListener,
    server: IpAddr,
    verify: bool,
) -> Result<async_net::TcpStream> {
    for _ in 0..=MAX_FOREIGN_DATA_CONNECTIONS {
        let (s, from) = l
            .accept()
            .await
            .map_err(|e| Error::io("accepting the data connection", e))?;
        if same_host(from.ip(), server) {
            return Ok(s);
        }
        if !verify {
            log::warn!("data connection from {from}, not the server {server}; using it");
            return Ok(s);
        }
        log::warn!("data connection from {from}, not the server {server}; closed it");
        drop(s);
    }
    Err(ProtocolError::ForeignDataConnections {
        count: MAX_FOREIGN_DATA_CONNECTIONS + 1,
        server,
    }
    .into())
}

fn same_host(a: IpAddr, b: IpAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    canon(a) == canon(b)
}

/// A receive error on a data connection: a stall (`TimedOut`) is [`Error::Timeout`].
pub(crate) fn dl_error(context: &str, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::TimedOut {
        Error::Timeout(format!("{context}: data connection stalled"))
    } else {
        Error::io(context, e)
    }
}

/// A download in progress: an [`AsyncRead`] over the data connection.
///
/// Reads time out (with [`io::ErrorKind::TimedOut`]) when the connection stalls for the
/// client's `data_timeout`, and send `NOOP` keep-alives on the control connection. When the
/// end is reached call [`Download::finish`] for the server's verdict; dropping a download
/// early aborts it before the next command.
pub struct Download<'a> {
    pub(crate) client: &'a mut Client,
    data: Option<BoxStream>,
    /// The plain TCP socket under `data` (none with TLS): the source of `splice(2)`.
    tcp: Option<Arc<Async<std::net::TcpStream>>>,
    early: Option<Reply>,
    what: String,
    ascii: bool,
    pending_cr: bool,
    /// ASCII mode: converted bytes waiting to be read (`abuf[apos..alen]`).
    abuf: Vec<u8>,
    apos: usize,
    alen: usize,
    /// The stall timer: armed once and moved forward only when it fires, so waiting for
    /// data costs no timer registration per wait.
    stall: Option<Timer>,
    /// When data last arrived (or the download started).
    last_data: Instant,
    last_noop: Instant,
    noop_out: Vec<u8>,
    bytes: u64,
    eof: bool,
    finished: bool,
}

impl std::fmt::Debug for Download<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("what", &self.what)
            .field("bytes", &self.bytes)
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl<'a> Download<'a> {
    fn new(
        client: &'a mut Client,
        data: Option<DataConn>,
        early: Option<Reply>,
        what: String,
        ascii: bool,
    ) -> Download<'a> {
        let eof = data.is_none();
        let (data, tcp) = match data {
            Some(d) => (Some(d.stream), d.tcp),
            None => (None, None),
        };
        Download {
            client,
            data,
            tcp,
            early,
            what,
            ascii,
            pending_cr: false,
            abuf: Vec::new(),
            apos: 0,
            alen: 0,
            stall: None,
            last_data: Instant::now(),
            last_noop: Instant::now(),
            noop_out: Vec::new(),
            bytes: 0,
            eof,
            finished: false,
        }
    }

    /// Bytes delivered so far (after ASCII conversion).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Ends the transfer: reads the server's final reply (`226`, or an error such as
    /// `426`). If the data was not read to its end the transfer is aborted and this returns
    /// an error.
    pub async fn finish(mut self) -> Result<Reply> {
        self.finished = true;
        if !self.noop_out.is_empty() {
            let out = std::mem::take(&mut self.noop_out);
            self.client
                .ctrl
                .get_mut()
                .write_all(&out)
                .await
                .map_err(|e| Error::io("control connection", e))?;
            self.client
                .ctrl
                .get_mut()
                .flush()
                .await
                .map_err(|e| Error::io("control connection", e))?;
        }
        self.close_data();
        if !self.eof {
            self.client.needs_resync = true;
            self.client.needs_abort = true;
            self.client.resync().await?;
            return Err(Error::Usage(format!(
                "{}: aborted before the end of the data",
                self.what
            )));
        }
        let early = self.early.take();
        let what = std::mem::take(&mut self.what);
        self.client.finish_transfer(&what, early).await
    }

    /// Aborts the transfer (`ABOR`), tolerating both `426`+`226` and a lone `226`.
    pub async fn abort(mut self) -> Result<()> {
        self.finished = true;
        self.close_data();
        self.client.needs_resync = true;
        self.client.needs_abort = !self.eof;
        self.client.resync().await
    }

    /// Closes the data connection (both handles on the socket).
    fn close_data(&mut self) {
        self.data = None;
        self.tcp = None;
    }

    /// Writes the rest of the data into `file` at its current position and returns the bytes
    /// written; `progress` is called with the size of every chunk. Read to the end this way,
    /// then call [`Download::finish`]. `file` may be a regular file, a pipe or a device.
    ///
    /// A plain binary download moves its first MiB through a buffer (32 KiB, growing to
    /// 256 KiB once a read fills it), then the rest with `splice(2)` (socket → pipe → file:
    /// the bytes never enter user space), waiting for the socket in the async-io reactor. TLS and ASCII downloads, and files the kernel
    /// cannot splice into, use the buffer throughout. Stalls and keep-alives are handled as
    /// by the [`AsyncRead`] implementation.
    ///
    /// ```no_run
    /// # smol::block_on(async {
    /// # let mut client = ftp_client::Client::connect("localhost", 21, Default::default()).await?;
    /// let mut file = std::fs::File::create("big.iso")
    ///     .map_err(|e| ftp_client::Error::Usage(e.to_string()))?;
    /// let mut dl = client.retr("big.iso", 0).await?;
    /// let n = dl
    ///     .copy_to_file(&mut file, |_chunk| {})
    ///     .await?; // a CopyError converts into an Error
    /// dl.finish().await?;
    /// println!("{n} bytes");
    /// # Ok::<(), ftp_client::Error>(()) });
    /// ```
    pub async fn copy_to_file(
        &mut self,
        file: &mut std::fs::File,
        mut progress: impl FnMut(u64),
    ) -> std::result::Result<u64, CopyError> {
        use std::io::Write;
        let mut total = 0u64;
        let mut buf = Vec::new();
        let mut can_splice = !self.ascii && self.tcp.is_some();
        loop {
            if can_splice && total >= SPLICE_AFTER {
                can_splice = false;
                let (moved, done) = self.splice_to_file(file, &mut progress).await?;
                total += moved;
                if done {
                    return Ok(total);
                }
            }
            if buf.is_empty() {
                buf.resize(COPY_BUF_START, 0);
            }
            let n = self.read(&mut buf).await.map_err(CopyError::Receive)?;
            if n == 0 {
                return Ok(total);
            }
            file.write_all(&buf[..n]).map_err(CopyError::Write)?;
            total += n as u64;
            progress(n as u64);
            if n == buf.len() && buf.len() < COPY_BUF {
                buf.resize(COPY_BUF, 0);
            }
        }
    }

    /// The `splice(2)` part of [`Download::copy_to_file`]. Returns the bytes moved and whether
    /// the end of the data was reached; `false` means the kernel refused to splice this
    /// socket or file (before the first chunk) and the caller carries on with a buffer.
    async fn splice_to_file(
        &mut self,
        file: &std::fs::File,
        progress: &mut impl FnMut(u64),
    ) -> std::result::Result<(u64, bool), CopyError> {
        use rustix::io::Errno;
        use rustix::pipe::{splice, SpliceFlags};
        let refused = |e: Errno| matches!(e, Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP);
        let Some(tcp) = self.tcp.clone() else {
            return Ok((0, false));
        };
        let Ok((pipe_r, pipe_w)) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) else {
            return Ok((0, false));
        };
        // A bigger pipe means fewer, larger splices; the default 64 KiB still works.
        let _ = rustix::pipe::fcntl_setpipe_size(&pipe_w, PIPE_SIZE);
        let cap = rustix::pipe::fcntl_getpipe_size(&pipe_w).unwrap_or(64 * 1024);
        let mut total = 0u64;
        loop {
            let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
            let n = match splice(&*tcp, None, &pipe_w, None, cap, flags) {
                Ok(0) => {
                    self.eof = true;
                    self.close_data();
                    return Ok((total, true));
                }
                Ok(n) => n,
                Err(Errno::AGAIN) => {
                    futures_lite::future::poll_fn(|cx| self.poll_wait_readable(cx, &tcp))
                        .await
                        .map_err(CopyError::Receive)?;
                    continue;
                }
                Err(Errno::INTR) => continue,
                Err(e) if total == 0 && refused(e) => return Ok((0, false)),
                Err(e) => return Err(CopyError::Receive(e.into())),
            };
            self.last_data = Instant::now();
            let mut left = n;
            while left > 0 {
                match splice(&pipe_r, None, file, None, left, SpliceFlags::MOVE) {
                    Ok(0) => return Err(CopyError::Write(io::ErrorKind::WriteZero.into())),
                    Ok(m) => left -= m,
                    Err(Errno::INTR) => {}
                    Err(e) if total == 0 && left == n && refused(e) => {
                        // The file takes no splice: write what is in the pipe the plain way.
                        let mut buf = vec![0u8; n];
                        let mut got = 0;
                        while got < n {
                            match rustix::io::read(&pipe_r, &mut buf[got..]) {
                                Ok(0) => break,
                                Ok(k) => got += k,
                                Err(Errno::INTR) => {}
                                Err(e) => return Err(CopyError::Receive(e.into())),
                            }
                        }
                        std::io::Write::write_all(&mut &*file, &buf[..got])
                            .map_err(CopyError::Write)?;
                        self.bytes += got as u64;
                        progress(got as u64);
                        return Ok((got as u64, false));
                    }
                    Err(e) => return Err(CopyError::Write(e.into())),
                }
            }
            self.bytes += n as u64;
            total += n as u64;
            progress(n as u64);
            // A socket that always has data never waits: keep the control connection alive
            // here too.
            futures_lite::future::poll_fn(|cx| {
                self.poll_keepalive(cx);
                Poll::Ready(())
            })
            .await;
        }
    }

    /// Waits until `tcp` is readable, sending keep-alives meanwhile; fails with
    /// [`io::ErrorKind::TimedOut`] after the client's `data_timeout` without data.
    fn poll_wait_readable(
        &mut self,
        cx: &mut Context<'_>,
        tcp: &Async<std::net::TcpStream>,
    ) -> Poll<io::Result<()>> {
        self.poll_keepalive(cx);
        if let Poll::Ready(r) = tcp.poll_readable(cx) {
            return Poll::Ready(r);
        }
        self.poll_stall(cx)
    }

    /// `Ready(TimedOut)` once no data arrived for the client's `data_timeout`; otherwise
    /// `Pending` with the stall timer armed for the current deadline.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let deadline = self.last_data + self.client.opts.data_timeout;
        let timer = self.stall.get_or_insert_with(|| Timer::at(deadline));
        for _ in 0..2 {
            if timer.poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= deadline {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the data connection stalled",
                )));
            }
            // Data came since the timer was armed: move it to the current deadline.
            timer.set_at(deadline);
        }
        Poll::Pending
    }

    fn poll_keepalive(&mut self, cx: &mut Context<'_>) {
        if let Some(k) = self.client.opts.keepalive {
            if self.noop_out.is_empty() && self.last_noop.elapsed() >= k {
                self.last_noop = Instant::now();
                log::debug!(target: crate::client::TRANSCRIPT_TARGET, "> NOOP (keep-alive)");
                self.noop_out = Command::Noop.to_line();
                self.client.owed_noops += 1;
            }
        }
        while !self.noop_out.is_empty() {
            let w = Pin::new(self.client.ctrl.get_mut());
            match w.poll_write(cx, &self.noop_out) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    self.noop_out.drain(..n);
                }
                _ => return,
            }
        }
        let _ = Pin::new(self.client.ctrl.get_mut()).poll_flush(cx);
    }
}

impl AsyncRead for Download<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            // ASCII mode: serve converted bytes first.
            if this.apos < this.alen {
                let n = (this.alen - this.apos).min(buf.len());
                buf[..n].copy_from_slice(&this.abuf[this.apos..this.apos + n]);
                this.apos += n;
                this.bytes += n as u64;
                return Poll::Ready(Ok(n));
            }
            if this.eof {
                return Poll::Ready(Ok(0));
            }
            this.poll_keepalive(cx);
            let Some(data) = this.data.as_mut() else {
                return Poll::Ready(Ok(0));
            };
            let start = usize::from(this.ascii && this.pending_cr);
            let target: &mut [u8] = if this.ascii {
                if this.abuf.is_empty() {
                    this.abuf.resize(64 * 1024, 0);
                }
                if start == 1 {
                    this.abuf[0] = b'\r';
                }
                &mut this.abuf[start..]
            } else {
                &mut *buf
            };
            match Pin::new(data).poll_read(cx, target) {
                Poll::Ready(Ok(n)) => {
                    this.last_data = Instant::now();
                    let at_eof = n == 0;
                    if at_eof {
                        this.eof = true;
                        this.close_data();
                    }
                    if this.ascii {
                        let (len, hold) = crlf_to_lf(&mut this.abuf, start + n, at_eof);
                        this.pending_cr = hold;
                        this.apos = 0;
                        this.alen = len;
                        continue;
                    }
                    this.bytes += n as u64;
                    return Poll::Ready(Ok(n));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    return match this.poll_stall(cx) {
                        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                        _ => Poll::Pending,
                    };
                }
            }
        }
    }
}

impl Drop for Download<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.client.needs_resync = true;
            self.client.needs_abort = !self.eof;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_conversion_handles_split_cr() {
        let mut b = *b"a\r\nb\r";
        let (n, hold) = crlf_to_lf(&mut b, 5, false);
        assert_eq!((&b[..n], hold), (&b"a\nb"[..], true));
        let mut b = *b"a\rb\r";
        let (n, hold) = crlf_to_lf(&mut b, 4, true);
        assert_eq!((&b[..n], hold), (&b"a\rb\r"[..], false));
    }
}
