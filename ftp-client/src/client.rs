//! The control connection: connecting, logging in, simple commands and reply handling.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use async_io::Timer;
use ftp_proto::command::TransferType;
use ftp_proto::feat::Features;
use ftp_proto::io::{write_command, ReadReplyError, ReplyReader};
use ftp_proto::{Arg, Command, Reply, ReplyCode, Secret, Timestamp};
use futures_lite::io::{AsyncRead, AsyncWrite, BufReader};

use crate::error::{Error, ProtocolError, Result, TlsError};
use crate::listing::Entry;
use crate::tls::{TlsContext, TlsMode, TlsVersion, Verify};

/// A byte stream the client can run FTP over: a TCP stream today, a TLS stream later.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// A boxed [`Stream`], the type of the control and data connections.
pub type BoxStream = Box<dyn Stream>;

/// How data connections are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataMode {
    /// The client connects to the server (`EPSV`, falling back to `PASV`).
    #[default]
    Passive,
    /// The server connects to the client (`EPRT`, falling back to `PORT`).
    Active,
}

/// The representation of transferred files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferKind {
    /// `TYPE I`: bytes as they are.
    #[default]
    Binary,
    /// `TYPE A`: text; line ends are converted between CR LF on the wire and LF locally.
    Ascii,
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Limit for establishing the control and data connections.
    pub connect_timeout: Duration,
    /// Limit for every reply on the control connection.
    pub reply_timeout: Duration,
    /// Limit for a data connection that moves no bytes.
    pub data_timeout: Duration,
    /// Send `NOOP` on the control connection this often during transfers (`None`: never).
    pub keepalive: Option<Duration>,
    /// Passive or active data connections.
    pub mode: DataMode,
    /// Connect to the address in a `227` reply instead of the control connection's peer.
    pub trust_pasv_address: bool,
    /// In active mode, accept data connections only from the control connection's peer
    /// address; others are closed unused while the client keeps waiting (within
    /// `connect_timeout`) for the server's. Turn off only for multi-homed servers that connect
    /// from another address: then anyone reaching the client's port first could inject a
    /// download or receive an upload (RFC 2577 port stealing).
    pub verify_data_peer: bool,
    /// Try `EPSV`/`EPRT` before `PASV`/`PORT` (turn off for servers or middleboxes that
    /// mishandle the extended commands).
    pub extended_data_commands: bool,
    /// Longest accepted control line.
    pub max_line: usize,
    /// Largest listing (bytes) accepted from `LIST`/`MLSD`/`NLST`.
    pub max_listing: usize,
    /// TLS (FTPS): off, explicit (`AUTH TLS`) or implicit. With TLS the control and data
    /// connections are protected (`PBSZ 0`, `PROT P`).
    pub tls: TlsMode,
    /// How the server certificate is verified when TLS is on.
    pub verify: Verify,
    /// The newest TLS version offered.
    pub tls_max: TlsVersion,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(30),
            reply_timeout: Duration::from_secs(60),
            data_timeout: Duration::from_secs(60),
            keepalive: Some(Duration::from_secs(30)),
            mode: DataMode::Passive,
            trust_pasv_address: false,
            verify_data_peer: true,
            extended_data_commands: true,
            max_line: 8192,
            max_listing: 64 << 20,
            tls: TlsMode::Off,
            verify: Verify::System,
            tls_max: TlsVersion::Tls13,
        }
    }
}

/// The transcript's log target: commands sent (`PASS` masked) and replies received, at
/// `debug` level.
pub const TRANSCRIPT_TARGET: &str = "ftp_client::transcript";

/// An FTP control connection.
///
/// ```no_run
/// # smol::block_on(async {
/// use ftp_client::{Client, Options};
/// let mut c = Client::connect("ftp.example.org", 21, Options::default()).await?;
/// c.login("anonymous", "guest@").await?;
/// println!("{}", String::from_utf8_lossy(&c.pwd().await?));
/// c.quit().await?;
/// # Ok::<(), ftp_client::Error>(()) });
/// ```
pub struct Client {
    pub(crate) ctrl: ReplyReader<BufReader<BoxStream>>,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) opts: Options,
    pub(crate) features: Option<Features>,
    pub(crate) epsv_broken: bool,
    pub(crate) eprt_broken: bool,
    pub(crate) mlsd_broken: bool,
    pub(crate) current_type: Option<TransferKind>,
    pub(crate) want_type: TransferKind,
    /// NOOP replies not yet read.
    pub(crate) owed_noops: usize,
    /// A transfer was dropped unfinished: resynchronise before the next command.
    pub(crate) needs_resync: bool,
    /// ...and its data connection had not reached its end, so send ABOR.
    pub(crate) needs_abort: bool,
    /// Set once the control connection is protected: data connections use it too.
    pub(crate) tls: Option<TlsContext>,
    welcome: Reply,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.peer)
            .field("local", &self.local)
            .field("opts", &self.opts)
            .field("epsv_broken", &self.epsv_broken)
            .field("eprt_broken", &self.eprt_broken)
            .finish_non_exhaustive()
    }
}

/// Runs `fut` with a time limit; on expiry the error is `Error::Timeout(what)`.
pub(crate) async fn with_timeout<T>(
    limit: Duration,
    what: impl FnOnce() -> String,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let mut what = Some(what);
    futures_lite::future::or(fut, async {
        Timer::after(limit).await;
        Err(Error::Timeout(what.take().map(|f| f()).unwrap_or_default()))
    })
    .await
}

fn read_error(e: ReadReplyError) -> Error {
    match e {
        ReadReplyError::Io(e) => Error::io("control connection", e),
        ReadReplyError::Closed => Error::Disconnected("control connection".into()),
        other => ProtocolError::Unreadable(other).into(),
    }
}

/// A path (or another argument) for a command: one holding CR or LF cannot be sent, which is
/// the caller's error.
pub(crate) fn arg(bytes: impl AsRef<[u8]>) -> Result<Arg> {
    let bytes = bytes.as_ref();
    Arg::new(bytes).map_err(|e| Error::Usage(format!("\"{}\": {e}", bytes.escape_ascii())))
}

/// The error for a `SIZE` or `MDTM` reply without a size or a time.
fn bad_value(command: &'static str, reply: &Reply) -> Error {
    ProtocolError::BadValue {
        command,
        reply: reply.clone(),
    }
    .into()
}

/// True for replies that mean "this command is not supported".
pub(crate) fn unsupported(reply: &Reply) -> bool {
    matches!(
        reply.code(),
        ReplyCode::SYNTAX_ERROR
            | ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS
            | ReplyCode::NOT_IMPLEMENTED
            | ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER
            | ReplyCode::UNSUPPORTED_NETWORK_PROTOCOL
    )
}

/// A TCP connection to `host:port` within `limit` (`target` names it in errors), with its
/// peer and local addresses.
pub(crate) async fn connect_tcp(
    host: &str,
    port: u16,
    target: &str,
    limit: std::time::Duration,
) -> Result<(async_net::TcpStream, SocketAddr, SocketAddr)> {
    let stream = with_timeout(limit, || format!("connecting to {target}"), async {
        async_net::TcpStream::connect((host, port))
            .await
            .map_err(|source| Error::Connect {
                target: target.to_string(),
                source,
            })
    })
    .await?;
    let peer = stream
        .peer_addr()
        .map_err(|e| Error::io("peer address", e))?;
    let local = stream
        .local_addr()
        .map_err(|e| Error::io("local address", e))?;
    Ok((stream, peer, local))
}

impl Client {
    /// Connects to `host:port` (a name, an IPv4 or an IPv6 address) and reads the greeting.
    pub async fn connect(host: &str, port: u16, opts: Options) -> Result<Client> {
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let host_owned = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let (stream, peer, local) =
            connect_tcp(&host_owned, port, &target, opts.connect_timeout).await?;
        let _ = stream.set_nodelay(true);
        let ctx = match opts.tls {
            TlsMode::Off => return Client::from_stream(Box::new(stream), peer, local, opts).await,
            _ => TlsContext::with_config(
                &host_owned,
                crate::tls::client_config_up_to(&opts.verify, opts.tls_max)?,
            )?,
        };
        if opts.tls == TlsMode::Implicit {
            let tls = with_timeout(
                opts.connect_timeout,
                || "the TLS handshake".into(),
                ctx.connect_implicit(stream),
            )
            .await?;
            let mut c = Client::from_stream(Box::new(tls), peer, local, opts).await?;
            c.protect_data(ctx).await?;
            Ok(c)
        } else {
            let mut c = Client::from_stream(Box::new(stream), peer, local, opts).await?;
            c.auth_tls(ctx).await?;
            Ok(c)
        }
    }

    /// Secures the control connection with `AUTH TLS` and the TLS handshake, then protects
    /// data connections (`PBSZ 0`, `PROT P`). [`Client::connect`] does this when
    /// [`Options::tls`] asks for it; call it yourself after [`Client::from_stream`].
    pub async fn auth_tls(&mut self, ctx: TlsContext) -> Result<()> {
        let r = self.command(&Command::Auth("TLS".into())).await?;
        if r.code() != ReplyCode::AUTH_OK {
            return Err(TlsError::AuthRefused(r).into());
        }
        let placeholder: BoxStream = Box::new(futures_lite::io::Cursor::new(Vec::new()));
        let max_line = self.opts.max_line;
        let old = std::mem::replace(
            &mut self.ctrl,
            ReplyReader::new(BufReader::new(placeholder), max_line),
        );
        let buffered = old.into_inner();
        if !buffered.buffer().is_empty() {
            return Err(ProtocolError::DataAfterAuthTls.into());
        }
        let tls = with_timeout(
            self.opts.connect_timeout,
            || "the TLS handshake".into(),
            ctx.connect(buffered.into_inner(), "control connection"),
        )
        .await?;
        self.ctrl = ReplyReader::new(BufReader::new(Box::new(tls)), max_line);
        self.features = None;
        self.protect_data(ctx).await
    }

    /// `PBSZ 0` and `PROT P`: data connections use TLS, resuming the control session.
    pub(crate) async fn protect_data(&mut self, ctx: TlsContext) -> Result<()> {
        self.expect_ok(&Command::Pbsz(0)).await?;
        self.expect_ok(&Command::Prot(ftp_proto::command::ProtLevel::Private))
            .await?;
        self.tls = Some(ctx);
        Ok(())
    }

    /// Whether the control connection (and with it every data connection) uses TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Runs the protocol over an already-connected stream (e.g. one wrapped in TLS) and reads
    /// the greeting. `peer` is used for passive data connections, `local` for active ones.
    pub async fn from_stream(
        stream: BoxStream,
        peer: SocketAddr,
        local: SocketAddr,
        opts: Options,
    ) -> Result<Client> {
        let mut c = Client {
            ctrl: ReplyReader::new(BufReader::new(stream), opts.max_line),
            peer,
            local,
            opts,
            features: None,
            epsv_broken: false,
            eprt_broken: false,
            mlsd_broken: false,
            current_type: None,
            want_type: TransferKind::Binary,
            owed_noops: 0,
            needs_resync: false,
            needs_abort: false,
            tls: None,
            welcome: Reply::new(ReplyCode::SERVICE_READY, ""),
        };
        loop {
            let r = c.read_reply("the greeting").await?;
            match r.code() {
                ReplyCode::SERVICE_READY_SOON => continue,
                ReplyCode::SERVICE_READY => {
                    c.welcome = r;
                    return Ok(c);
                }
                _ => {
                    return Err(Error::Reply {
                        command: "(greeting)".into(),
                        reply: r,
                    })
                }
            }
        }
    }

    /// The server's greeting.
    pub fn welcome(&self) -> &Reply {
        &self.welcome
    }

    /// The server's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The connection settings.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Changes the connection settings (e.g. the data mode) for later commands.
    pub fn options_mut(&mut self) -> &mut Options {
        &mut self.opts
    }

    /// Chooses binary or ASCII transfers (sent with the next transfer).
    pub fn set_transfer_kind(&mut self, kind: TransferKind) {
        self.want_type = kind;
    }

    /// The current transfer representation.
    pub fn transfer_kind(&self) -> TransferKind {
        self.want_type
    }

    pub(crate) async fn read_reply(&mut self, what: &str) -> Result<Reply> {
        let limit = self.opts.reply_timeout;
        let ctrl = &mut self.ctrl;
        let r = with_timeout(
            limit,
            || format!("waiting for the reply to {what}"),
            async { ctrl.next().await.map_err(read_error) },
        )
        .await?;
        log::debug!(target: TRANSCRIPT_TARGET, "< {r}");
        Ok(r)
    }

    pub(crate) async fn send(&mut self, cmd: &Command) -> Result<()> {
        if self.needs_resync {
            self.resync().await?;
        }
        self.send_now(cmd).await
    }

    async fn send_now(&mut self, cmd: &Command) -> Result<()> {
        log::debug!(target: TRANSCRIPT_TARGET, "> {cmd}");
        let limit = self.opts.reply_timeout;
        let w = self.ctrl.get_mut();
        with_timeout(limit, || format!("sending {}", cmd.verb()), async {
            write_command(w, cmd)
                .await
                .map_err(|e| Error::io("control connection", e))
        })
        .await
    }

    /// Brings the control connection back in step after an abandoned transfer: `ABOR` if
    /// needed, then a `NOOP` whose `200` marks the end of stale replies.
    pub(crate) async fn resync(&mut self) -> Result<()> {
        self.needs_resync = false;
        if std::mem::take(&mut self.needs_abort) {
            self.send_now(&Command::Abor).await?;
        }
        self.send_now(&Command::Noop).await?;
        self.owed_noops += 1;
        for _ in 0..64 {
            let r = self.read_reply("NOOP").await?;
            if r.code() == ReplyCode::OK {
                self.owed_noops -= 1;
                if self.owed_noops == 0 {
                    return Ok(());
                }
            }
        }
        Err(ProtocolError::LostSync.into())
    }

    /// Reads stale NOOP replies.
    pub(crate) async fn drain_noops(&mut self) -> Result<()> {
        while self.owed_noops > 0 {
            let r = self.read_reply("NOOP").await?;
            if !r.code().is_preliminary() {
                self.owed_noops -= 1;
            }
        }
        Ok(())
    }

    /// Sends a command and returns its final reply (1xx replies are skipped), whatever the
    /// code.
    pub async fn command(&mut self, cmd: &Command) -> Result<Reply> {
        self.send(cmd).await?;
        let what = cmd.verb().as_str();
        for _ in 0..16 {
            let r = self.read_reply(what).await?;
            if !r.code().is_preliminary() {
                return Ok(r);
            }
        }
        Err(ProtocolError::TooManyPreliminary(what.into()).into())
    }

    /// Sends a command and checks its reply is a completion (2xx), or 3xx if `allow_3xx`.
    pub(crate) async fn expect_ok(&mut self, cmd: &Command) -> Result<Reply> {
        let r = self.command(cmd).await?;
        if r.code().is_completion() {
            Ok(r)
        } else {
            Err(Error::Reply {
                command: cmd.to_string(),
                reply: r,
            })
        }
    }

    /// The escape hatch: sends any command line (e.g. `SITE CHMOD 644 x`) and returns the
    /// final reply without judging it.
    pub async fn raw(&mut self, line: &str) -> Result<Reply> {
        let line = line.trim_end_matches(['\r', '\n']);
        match Command::parse(line.as_bytes()) {
            Ok(cmd) => self.command(&cmd).await,
            Err(_) => {
                if self.needs_resync {
                    self.resync().await?;
                }
                log::debug!(target: TRANSCRIPT_TARGET, "> {line}");
                let mut out = Vec::new();
                ftp_proto::line::encode_line(&mut out, line.as_bytes());
                let w = self.ctrl.get_mut();
                futures_lite::io::AsyncWriteExt::write_all(w, &out)
                    .await
                    .map_err(|e| Error::io("control connection", e))?;
                futures_lite::io::AsyncWriteExt::flush(w)
                    .await
                    .map_err(|e| Error::io("control connection", e))?;
                for _ in 0..16 {
                    let r = self.read_reply(line).await?;
                    if !r.code().is_preliminary() {
                        return Ok(r);
                    }
                }
                let verb = line.split_whitespace().next().unwrap_or_default();
                Err(ProtocolError::TooManyPreliminary(verb.into()).into())
            }
        }
    }

    /// Logs in with `USER` and `PASS` (and fails on a request for `ACCT`).
    pub async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        let r = self.command(&Command::User(user.to_string())).await?;
        let r = match r.code() {
            ReplyCode::LOGGED_IN | ReplyCode::LOGGED_IN_SECURE => return Ok(()),
            ReplyCode::NEED_PASSWORD | ReplyCode::PASSWORD_CHALLENGE => {
                let password = Arg::new(password)
                    .map_err(|_| Error::Usage("a password cannot hold CR or LF".into()))?;
                self.command(&Command::Pass(Secret::new(password.into_vec())))
                    .await?
            }
            _ => return Err(Error::Login { reply: r }),
        };
        match r.code() {
            ReplyCode::LOGGED_IN | ReplyCode::SUPERFLUOUS | ReplyCode::LOGGED_IN_SECURE => Ok(()),
            _ => Err(Error::Login { reply: r }),
        }
    }

    /// The server's features (`FEAT`), asked once and remembered.
    pub async fn feat(&mut self) -> Result<&Features> {
        if self.features.is_none() {
            let r = self.command(&Command::Feat).await?;
            self.features = Some(Features::from_reply(&r));
        }
        Ok(self.features.get_or_insert_with(Features::new))
    }

    /// `NOOP`.
    pub async fn noop(&mut self) -> Result<()> {
        self.expect_ok(&Command::Noop).await.map(drop)
    }

    /// The current directory (`PWD`).
    pub async fn pwd(&mut self) -> Result<Vec<u8>> {
        let r = self.expect_ok(&Command::Pwd).await?;
        r.quoted_path()
            .ok_or_else(|| ProtocolError::NoQuotedPath(r.clone()).into())
    }

    /// Changes directory (`CWD`; `200` is accepted where `250` is expected).
    pub async fn cwd(&mut self, path: impl AsRef<[u8]>) -> Result<()> {
        self.expect_ok(&Command::Cwd(arg(path)?)).await.map(drop)
    }

    /// Goes to the parent directory (`CDUP`).
    pub async fn cdup(&mut self) -> Result<()> {
        self.expect_ok(&Command::Cdup).await.map(drop)
    }

    /// Creates a directory; returns the path the server reports (or the one asked for).
    pub async fn mkdir(&mut self, path: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        let path = arg(path)?;
        let r = self.expect_ok(&Command::Mkd(path.clone())).await?;
        Ok(r.quoted_path().unwrap_or_else(|| path.into_vec()))
    }

    /// Removes a directory (`RMD`).
    pub async fn rmdir(&mut self, path: impl AsRef<[u8]>) -> Result<()> {
        self.expect_ok(&Command::Rmd(arg(path)?)).await.map(drop)
    }

    /// Deletes a file (`DELE`).
    pub async fn delete(&mut self, path: impl AsRef<[u8]>) -> Result<()> {
        self.expect_ok(&Command::Dele(arg(path)?)).await.map(drop)
    }

    /// Renames `from` to `to` (`RNFR` + `RNTO`).
    pub async fn rename(&mut self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> Result<()> {
        let cmd = Command::Rnfr(arg(from)?);
        let r = self.command(&cmd).await?;
        if r.code() != ReplyCode::PENDING {
            return Err(Error::Reply {
                command: cmd.to_string(),
                reply: r,
            });
        }
        self.expect_ok(&Command::Rnto(arg(to)?)).await.map(drop)
    }

    async fn ensure_binary_for_size(&mut self) -> Result<()> {
        if self.current_type != Some(TransferKind::Binary) {
            self.expect_ok(&Command::Type(TransferType::Image)).await?;
            self.current_type = Some(TransferKind::Binary);
        }
        Ok(())
    }

    /// The size of a file in bytes (`SIZE`, asked in binary mode).
    pub async fn size(&mut self, path: impl AsRef<[u8]>) -> Result<u64> {
        self.ensure_binary_for_size().await?;
        let r = self.expect_ok(&Command::Size(arg(path)?)).await?;
        let text = r.text();
        text.trim().parse().map_err(|_| bad_value("SIZE", &r))
    }

    /// The modification time of a file (`MDTM`).
    pub async fn mdtm(&mut self, path: impl AsRef<[u8]>) -> Result<Timestamp> {
        let r = self.expect_ok(&Command::Mdtm(arg(path)?)).await?;
        Timestamp::parse(r.lines()[0].trim_ascii()).map_err(|_| bad_value("MDTM", &r))
    }

    /// Sets the modification time of a file (`MFMT`).
    pub async fn set_mtime(&mut self, path: impl AsRef<[u8]>, time: Timestamp) -> Result<()> {
        self.expect_ok(&Command::Mfmt {
            time,
            path: arg(path)?,
        })
        .await
        .map(drop)
    }

    /// Facts about one path (`MLST`), if the server supports it; `Ok(None)` if it does not.
    pub async fn mlst(&mut self, path: impl AsRef<[u8]>) -> Result<Option<Entry>> {
        if !self.feat().await?.has("MLST") {
            return Ok(None);
        }
        let p = path.as_ref();
        let cmd = Command::Mlst((!p.is_empty()).then(|| arg(p)).transpose()?);
        let r = self.expect_ok(&cmd).await?;
        for line in r.lines().iter().skip(1) {
            if line.first() == Some(&b' ') {
                if let Some(e) = crate::listing::Entry::from_mlsx(line) {
                    return Ok(Some(e));
                }
            }
        }
        // Some servers put the entry on the first line of a single-line reply.
        Ok(None)
    }

    /// `SITE` sub-command; returns the reply.
    pub async fn site(&mut self, args: &str) -> Result<Reply> {
        self.expect_ok(&Command::Site(arg(args)?)).await
    }

    /// Changes a file's permission bits with `SITE CHMOD` (not in any RFC, but what
    /// vsftpd, ProFTPD, pure-ftpd and pyftpdlib understand); `mode` is sent in octal.
    ///
    /// ```no_run
    /// # smol::block_on(async {
    /// # let mut client = ftp_client::Client::connect("localhost", 21, Default::default()).await?;
    /// client.chmod("public/index.html", 0o644).await?; // SITE CHMOD 644 public/index.html
    /// # Ok::<(), ftp_client::Error>(()) });
    /// ```
    pub async fn chmod(&mut self, path: impl AsRef<[u8]>, mode: u32) -> Result<()> {
        let mut line = format!("CHMOD {mode:03o} ").into_bytes();
        line.extend_from_slice(path.as_ref());
        self.expect_ok(&Command::Site(arg(line)?)).await.map(drop)
    }

    /// The server's system type (`SYST`).
    pub async fn syst(&mut self) -> Result<String> {
        Ok(self.expect_ok(&Command::Syst).await?.text().into_owned())
    }

    /// Logs out (`QUIT`) and closes the connection.
    pub async fn quit(mut self) -> Result<()> {
        let r = self.command(&Command::Quit).await;
        let _ = futures_lite::io::AsyncWriteExt::close(self.ctrl.get_mut()).await;
        r.map(drop)
    }

    /// True if `path` is a directory (tried with `CWD` and back).
    pub async fn is_dir(&mut self, path: impl AsRef<[u8]>) -> Result<bool> {
        let here = self.pwd().await?;
        match self.cwd(path).await {
            Ok(()) => {
                self.cwd(&here).await?;
                Ok(true)
            }
            Err(Error::Reply { reply, .. }) if reply.code().is_negative() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod arg_tests {
    use super::*;

    #[test]
    fn a_path_with_a_newline_is_a_usage_error_not_a_nul_on_the_wire() {
        // Before `Arg`, `RETR a\nb` went out as `RETR a\0b`.
        let err = arg("a\nb").unwrap_err();
        assert_eq!(err.class(), crate::ErrorClass::Usage);
        assert_eq!(
            err.to_string(),
            r#""a\nb": a command argument cannot hold LF (at byte 1)"#
        );
        assert_eq!(arg(b"a \xff b").unwrap(), b"a \xff b");
    }
}
