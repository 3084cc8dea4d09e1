//! FTPS (RFC 4217): certificates, TLS configurations and the data-connection session check.
//!
//! * [`ReloadableCert`] serves the certificate; [`ReloadableCert::reload`] swaps it (on
//!   `SIGHUP`) without touching established sessions.
//! * [`TlsSettings`] holds the server-wide TLS state; [`TlsSettings::session`] builds the
//!   per-control-connection [`SessionTls`].
//! * [`SessionTls`] has one session cache per control connection, shared by the control
//!   configuration (which sends TLS 1.3 tickets) and the data configuration (which sends
//!   none unless the client asks for them with RFC 9149 `ticket_request`). A data connection
//!   whose handshake [resumed](rustls::HandshakeKind::Resumed) a session can therefore only
//!   have resumed *this* control connection's session, which is what `require_ssl_reuse`
//!   checks: it stops another party from hijacking the data connection.
//!
//! Only TLS 1.2 and 1.3 are offered.
//!
//! ```
//! use ftp_server::tls::{ReloadableCert, TlsSettings};
//!
//! let (cert, fingerprint) = ReloadableCert::self_signed(&["localhost".into()]).unwrap();
//! assert_eq!(fingerprint.len(), 32 * 3 - 1); // AA:BB:...
//! let settings = TlsSettings::new(cert);
//! let per_session = settings.session().unwrap();
//! let _acceptor = per_session.control_acceptor();
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::server::TlsStream;
use futures_rustls::TlsAcceptor;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{
    ClientHello, ResolvesServerCert, ServerSessionMemoryCache, StoresServerSessions,
};
use rustls::sign::CertifiedKey;
use rustls::{HandshakeKind, ServerConfig};
use sha2::{Digest, Sha256};

/// Sessions remembered per control connection (each data connection resumes one of them).
const SESSIONS_PER_CONTROL: usize = 64;

/// A TLS setup failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Reading a PEM file failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{0}: no PEM certificate found")]
    NoCertificate(PathBuf),
    /// The key file holds no private key.
    #[error("{0}: no PEM private key found")]
    NoKey(PathBuf),
    /// The key is unusable or does not match the certificate.
    #[error("certificate {cert} / key {key}: {source}")]
    BadKey {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// Generating a self-signed certificate failed.
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Why a data connection's TLS was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataTlsError {
    /// The handshake failed (or timed out, as the caller decides).
    #[error("TLS handshake on the data connection failed: {0}")]
    Handshake(io::Error),
    /// The handshake did not resume the control connection's TLS session.
    #[error("TLS session of data connection not resumed")]
    NotResumed,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The SHA-256 of a DER certificate as colon-separated upper-case hex (`AB:CD:...`), the
/// form `openssl x509 -fingerprint -sha256` prints.
///
/// ```
/// let fp = ftp_server::tls::fingerprint(&rustls::pki_types::CertificateDer::from(vec![1, 2]));
/// assert!(fp.starts_with("A1:28:71:FE:")); // sha256sum of the bytes 01 02
/// ```
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Reads a certificate chain and a private key from PEM files and checks that they match.
pub fn load_pem(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read {
            path: cert.to_path_buf(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let private = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|source| TlsError::Read {
            path: key.to_path_buf(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey(key.to_path_buf()))?;
    CertifiedKey::from_der(chain, private, &provider()).map_err(|source| TlsError::BadKey {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        source,
    })
}

/// A freshly generated self-signed certificate and key, with PEM renderings (for tests and
/// `--tls-self-signed`).
#[derive(Debug)]
pub struct SelfSigned {
    /// The certificate, DER.
    pub cert_der: CertificateDer<'static>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The certificate's SHA-256 fingerprint ([`fingerprint`]).
    pub fingerprint: String,
    key_der: Vec<u8>,
}

impl SelfSigned {
    /// Generates a certificate for the given DNS names or IP addresses.
    ///
    /// ```
    /// let s = ftp_server::tls::SelfSigned::generate(&["localhost".into()]).unwrap();
    /// assert!(s.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    /// ```
    pub fn generate(names: &[String]) -> Result<SelfSigned, TlsError> {
        let ck = rcgen::generate_simple_self_signed(names.to_vec())?;
        let cert_der = ck.cert.der().clone();
        Ok(SelfSigned {
            fingerprint: fingerprint(&cert_der),
            cert_pem: ck.cert.pem(),
            key_pem: ck.key_pair.serialize_pem(),
            key_der: ck.key_pair.serialize_der(),
            cert_der,
        })
    }

    /// The certificate and key in rustls form.
    pub fn certified_key(&self) -> Result<CertifiedKey, TlsError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        Ok(CertifiedKey::from_der(
            vec![self.cert_der.clone()],
            key,
            &provider(),
        )?)
    }
}

/// The server certificate, replaceable while the server runs.
///
/// Handshakes in progress keep the certificate they started with; later ones get the new one.
pub struct ReloadableCert {
    current: RwLock<Arc<CertifiedKey>>,
    source: Option<(PathBuf, PathBuf)>,
}

impl fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableCert")
            .field("source", &self.source)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl ReloadableCert {
    /// Loads the certificate and key from PEM files; [`reload`](Self::reload) re-reads them.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Arc<ReloadableCert>, TlsError> {
        let ck = load_pem(cert, key)?;
        Ok(Arc::new(ReloadableCert {
            current: RwLock::new(Arc::new(ck)),
            source: Some((cert.to_path_buf(), key.to_path_buf())),
        }))
    }

    /// Generates a self-signed certificate for `names`; returns it with its SHA-256
    /// fingerprint. [`reload`](Self::reload) is a no-op for it.
    pub fn self_signed(names: &[String]) -> Result<(Arc<ReloadableCert>, String), TlsError> {
        let s = SelfSigned::generate(names)?;
        let ck = s.certified_key()?;
        Ok((Self::fixed(ck), s.fingerprint))
    }

    /// A certificate that is never reloaded.
    pub fn fixed(ck: CertifiedKey) -> Arc<ReloadableCert> {
        Arc::new(ReloadableCert {
            current: RwLock::new(Arc::new(ck)),
            source: None,
        })
    }

    /// Re-reads the PEM files (if the certificate came from files) and swaps them in.
    /// On error the old certificate stays in use. Returns whether anything was reloaded.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let Some((cert, key)) = &self.source else {
            return Ok(false);
        };
        let ck = load_pem(cert, key)?;
        self.replace(ck);
        Ok(true)
    }

    /// Swaps in another certificate.
    pub fn replace(&self, ck: CertifiedKey) {
        let mut w = self.current.write().unwrap_or_else(|e| e.into_inner());
        *w = Arc::new(ck);
    }

    /// The current certificate's SHA-256 fingerprint.
    pub fn fingerprint(&self) -> String {
        let ck = self.get();
        ck.cert.first().map(fingerprint).unwrap_or_default()
    }

    fn get(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// A per-control-connection session store whose entries can be resumed more than once:
/// clients such as curl reuse the control connection's session for every data connection.
#[derive(Debug)]
struct ReusableSessions(Arc<ServerSessionMemoryCache>);

impl StoresServerSessions for ReusableSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.0.put(key, value)
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key)
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key)
    }
    fn can_cache(&self) -> bool {
        true
    }
}

/// Server-wide TLS settings.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    cert: Arc<ReloadableCert>,
    /// TLS 1.3 tickets sent after the control connection's handshake.
    pub control_tickets: usize,
    /// Most tickets sent on a data connection to a client that asks for them (RFC 9149
    /// `ticket_request`); clients that don't ask get none (see the module documentation).
    pub data_tickets_on_request: usize,
    /// ALPN protocols offered (empty: no ALPN).
    pub alpn: Vec<Vec<u8>>,
}

impl TlsSettings {
    /// Settings with the given certificate, 2 control tickets and 1 requested data ticket.
    pub fn new(cert: Arc<ReloadableCert>) -> TlsSettings {
        TlsSettings {
            cert,
            control_tickets: 2,
            data_tickets_on_request: 1,
            alpn: Vec::new(),
        }
    }

    /// The certificate (for reloading).
    pub fn cert(&self) -> &Arc<ReloadableCert> {
        &self.cert
    }

    fn config(
        &self,
        store: Arc<dyn StoresServerSessions>,
        tickets: usize,
        on_request: usize,
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let mut cfg = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?
            .with_no_client_auth()
            .with_cert_resolver(self.cert.clone());
        cfg.session_storage = store;
        cfg.send_tls13_tickets = tickets;
        cfg.max_tls13_tickets = on_request;
        cfg.alpn_protocols = self.alpn.clone();
        cfg.ignore_client_order = true;
        Ok(Arc::new(cfg))
    }

    /// Builds the TLS state of one control connection.
    pub fn session(&self) -> Result<SessionTls, TlsError> {
        let store: Arc<dyn StoresServerSessions> = Arc::new(ReusableSessions(
            ServerSessionMemoryCache::new(SESSIONS_PER_CONTROL),
        ));
        Ok(SessionTls {
            control: self.config(store.clone(), self.control_tickets, 0)?,
            data: self.config(store, 0, self.data_tickets_on_request)?,
        })
    }
}

/// FTPS configuration of a server ([`crate::Config::tls`]).
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Certificates and ticket settings.
    pub settings: TlsSettings,
    /// Refuse `USER` on a control connection without TLS (`530`).
    pub require_tls_login: bool,
    /// Refuse transfers unless `PROT P` is in force (`521`).
    pub require_prot_p: bool,
    /// Refuse protected data connections that do not resume the control connection's TLS
    /// session (vsftpd's `require_ssl_reuse`; on by default).
    pub require_session_reuse: bool,
    /// Accept `CCC` (RFC 4217: end TLS on the control connection after login and go on in
    /// plain text; data protection stays as `PROT` set it). Off by default: `534`.
    pub allow_ccc: bool,
}

impl TlsConfig {
    /// TLS with `cert`: optional for login and data, session reuse required.
    pub fn new(cert: Arc<ReloadableCert>) -> TlsConfig {
        TlsConfig {
            settings: TlsSettings::new(cert),
            require_tls_login: false,
            require_prot_p: false,
            require_session_reuse: true,
            allow_ccc: false,
        }
    }
}

/// The TLS configurations of one control connection and its data connections.
#[derive(Clone)]
pub struct SessionTls {
    control: Arc<ServerConfig>,
    data: Arc<ServerConfig>,
}

impl fmt::Debug for SessionTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTls").finish_non_exhaustive()
    }
}

impl SessionTls {
    /// The acceptor for the control connection (`AUTH TLS` or implicit FTPS).
    pub fn control_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.control.clone())
    }

    /// The acceptor for data connections (no tickets unless requested).
    pub fn data_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.data.clone())
    }

    /// Runs the server handshake on a data connection. With `require_reuse`, the handshake
    /// must have resumed a session of this control connection, otherwise the connection is
    /// refused ([`DataTlsError::NotResumed`]); the caller replies `425` or `522`.
    pub async fn accept_data<S>(
        &self,
        stream: S,
        require_reuse: bool,
    ) -> Result<TlsStream<S>, DataTlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let tls = self
            .data_acceptor()
            .accept(stream)
            .await
            .map_err(DataTlsError::Handshake)?;
        if require_reuse && !resumed(tls.get_ref().1) {
            return Err(DataTlsError::NotResumed);
        }
        Ok(tls)
    }
}

/// Most bytes of application data accepted (and dropped) while waiting for the client's
/// `close_notify` after `CCC`/`REIN`; a client that keeps talking instead is disconnected.
const MAX_DATA_BEFORE_CLOSE_NOTIFY: usize = 4096;

/// The transport under a control connection's TLS session.
///
/// * It first replays `prefix`: bytes read from the socket before the handshake (a client
///   that sent its ClientHello right behind `AUTH TLS`). They only ever reach the TLS layer,
///   never the command reader, so plain-text commands pipelined behind `AUTH TLS` cannot be
///   injected into the protected session (the STARTTLS injection of CVE-2011-0411); to TLS
///   they are garbage and fail the handshake.
/// * It hands rustls at most one TLS record at a time (header, then body), so when the
///   client's `close_notify` arrives (`CCC`, `REIN`) rustls has consumed nothing behind it:
///   the plain-text commands that follow are still in the socket.
/// * Closing it only flushes: the TLS session's `close_notify` must not shut down the TCP
///   connection, which goes on in plain text.
#[derive(Debug)]
pub(crate) struct ControlTransport<S> {
    inner: S,
    prefix: Vec<u8>,
    pos: usize,
    header: [u8; 5],
    /// Bytes of the current record's 5-byte header seen so far.
    have: usize,
    /// Bytes of the current record's body still to come (when `have == 5`).
    left: usize,
}

impl<S> ControlTransport<S> {
    pub(crate) fn new(inner: S, prefix: Vec<u8>) -> ControlTransport<S> {
        ControlTransport {
            inner,
            prefix,
            pos: 0,
            header: [0; 5],
            have: 0,
            left: 0,
        }
    }

    /// True at a record boundary with no replayed bytes left.
    fn at_boundary(&self) -> bool {
        self.pos == self.prefix.len() && self.have == 0
    }

    /// Tracks the record framing over bytes just handed out (never more than `want`).
    fn account(&mut self, bytes: &[u8]) {
        if self.have < 5 {
            self.header[self.have..self.have + bytes.len()].copy_from_slice(bytes);
            self.have += bytes.len();
            if self.have == 5 {
                self.left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                if self.left == 0 {
                    self.have = 0;
                }
            }
        } else {
            self.left -= bytes.len();
            if self.left == 0 {
                self.have = 0;
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ControlTransport<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let want = if this.have < 5 {
            5 - this.have
        } else {
            this.left
        };
        let n = want.min(buf.len());
        if n == 0 {
            return Poll::Ready(Ok(0));
        }
        let got = if this.pos < this.prefix.len() {
            let k = n.min(this.prefix.len() - this.pos);
            buf[..k].copy_from_slice(&this.prefix[this.pos..this.pos + k]);
            this.pos += k;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            k
        } else {
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf[..n]) {
                Poll::Ready(Ok(k)) => k,
                other => return other,
            }
        };
        this.account(&buf[..got]);
        Poll::Ready(Ok(got))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ControlTransport<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    /// Flushes only: the TCP connection outlives the TLS session.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
}

/// A control connection: plain TCP, or TLS (after `AUTH TLS`, or on an implicit listener)
/// that can be taken down again (`CCC`, `REIN`) to continue in plain text.
pub(crate) enum ControlStream<S> {
    /// No TLS.
    Plain(S),
    /// Under TLS (boxed: a TLS session is large, a plain idle connection stays small).
    Tls(Box<TlsStream<ControlTransport<S>>>),
}

impl<S: AsyncRead + AsyncWrite + Unpin> ControlStream<S> {
    /// Runs the server handshake over the plain stream within `limit`, first feeding the TLS
    /// layer `prefix` (bytes already read from the socket after `AUTH TLS`).
    pub(crate) async fn start_tls(
        self,
        tls: &SessionTls,
        prefix: Vec<u8>,
        limit: Duration,
    ) -> io::Result<ControlStream<S>> {
        let ControlStream::Plain(s) = self else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TLS is already active on the control connection",
            ));
        };
        let transport = ControlTransport::new(s, prefix);
        let t = crate::data::timeout(limit, tls.control_acceptor().accept(transport)).await?;
        Ok(ControlStream::Tls(Box::new(t)))
    }

    /// Ends the TLS session and returns the plain stream (RFC 4217 `CCC`, `REIN`): sends
    /// `close_notify`, then waits within `limit` for the client's. Fails if the client
    /// closes the connection instead, keeps sending data, or had sent bytes before the
    /// handshake that TLS never consumed. A plain stream is returned as it is.
    pub(crate) async fn end_tls(self, limit: Duration) -> io::Result<ControlStream<S>> {
        let ControlStream::Tls(mut t) = self else {
            return Ok(self);
        };
        crate::data::timeout(limit, async {
            t.close().await?;
            let mut buf = [0u8; 512];
            let mut seen = 0;
            loop {
                let n = t.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                seen += n;
                if seen > MAX_DATA_BEFORE_CLOSE_NOTIFY {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "data instead of close_notify after CCC/REIN",
                    ));
                }
            }
        })
        .await?;
        let (transport, conn) = t.into_inner();
        if !transport.at_boundary() || conn.wants_write() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "TLS session did not end cleanly",
            ));
        }
        Ok(ControlStream::Plain(transport.inner))
    }

    /// Whether TLS is active.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, ControlStream::Tls(_))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for ControlStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ControlStream::Tls(t) => Pin::new(&mut **t).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ControlStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ControlStream::Tls(t) => Pin::new(&mut **t).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ControlStream::Tls(t) => Pin::new(&mut **t).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_close(cx),
            ControlStream::Tls(t) => {
                // close_notify, then shut the TCP connection down as a plain stream would.
                ready!(Pin::new(&mut **t).poll_close(cx))?;
                Pin::new(&mut t.get_mut().0.inner).poll_close(cx)
            }
        }
    }
}

/// True when the connection's handshake resumed an earlier session.
pub fn resumed(conn: &rustls::ServerConnection) -> bool {
    conn.handshake_kind() == Some(HandshakeKind::Resumed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
    use futures_rustls::TlsConnector;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, RootCertStore};

    fn client(root: &CertificateDer<'static>, tls13: bool) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(root.clone()).unwrap();
        let v: &[&rustls::SupportedProtocolVersion] = if tls13 {
            &[&rustls::version::TLS13]
        } else {
            &[&rustls::version::TLS12]
        };
        let mut c = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(v)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        // As the ftp-client does: one fresh ticket per resumed data connection.
        c.send_ticket_request = Some(rustls::client::TicketRequest {
            new_session_count: 2,
            resumption_count: 1,
        });
        Arc::new(c)
    }

    /// Handshakes `cfg` against `acceptor` over a loopback TCP pair, exchanging one byte so
    /// TLS 1.3 tickets are processed; returns the server's handshake kind.
    async fn pair(
        cfg: &Arc<ClientConfig>,
        tls: &SessionTls,
        data: bool,
        require_reuse: bool,
    ) -> Result<(), DataTlsError> {
        let l = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let cfg = cfg.clone();
        let client = smol::spawn(async move {
            let s = async_net::TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            let mut c = TlsConnector::from(cfg).connect(name, s).await?;
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await?;
            c.write_all(b"k").await?;
            c.close().await?;
            io::Result::Ok(())
        });
        let (s, _) = l.accept().await.unwrap();
        let mut t = if data {
            tls.accept_data(s, require_reuse).await?
        } else {
            tls.control_acceptor().accept(s).await.unwrap()
        };
        t.write_all(b"x").await.unwrap();
        t.flush().await.unwrap();
        let mut b = [0u8; 1];
        t.read_exact(&mut b).await.unwrap();
        let _ = client.await;
        Ok(())
    }

    fn setup() -> (SelfSigned, TlsSettings) {
        let s = SelfSigned::generate(&["localhost".into()]).unwrap();
        let settings = TlsSettings::new(ReloadableCert::fixed(s.certified_key().unwrap()));
        (s, settings)
    }

    #[test]
    fn data_connection_resuming_the_control_session_is_accepted_repeatedly() {
        for tls13 in [true, false] {
            let (s, settings) = setup();
            let tls = settings.session().unwrap();
            let cfg = client(&s.cert_der, tls13);
            smol::block_on(async {
                pair(&cfg, &tls, false, true).await.unwrap();
                // More data connections than tickets: the same session is resumed each time.
                for _ in 0..4 {
                    pair(&cfg, &tls, true, true).await.unwrap();
                }
            });
        }
    }

    #[test]
    fn data_connection_with_a_fresh_session_is_refused() {
        let (s, settings) = setup();
        let tls = settings.session().unwrap();
        smol::block_on(async {
            pair(&client(&s.cert_der, true), &tls, false, true)
                .await
                .unwrap();
            // A different client config has no session to resume.
            let other = client(&s.cert_der, true);
            let e = pair(&other, &tls, true, true).await.unwrap_err();
            assert!(matches!(e, DataTlsError::NotResumed), "{e}");
            // ...which is fine when reuse is not required.
            pair(&other, &tls, true, false).await.unwrap();
        });
    }

    #[test]
    fn session_of_another_control_connection_is_not_resumed() {
        let (s, settings) = setup();
        let a = settings.session().unwrap();
        let b = settings.session().unwrap();
        let cfg = client(&s.cert_der, true);
        smol::block_on(async {
            pair(&cfg, &a, false, true).await.unwrap();
            let e = pair(&cfg, &b, true, true).await.unwrap_err();
            assert!(matches!(e, DataTlsError::NotResumed), "{e}");
        });
    }

    #[test]
    fn pem_files_load_and_reload_swaps_the_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let one = SelfSigned::generate(&["localhost".into()]).unwrap();
        std::fs::write(&c, &one.cert_pem).unwrap();
        std::fs::write(&k, &one.key_pem).unwrap();
        let rc = ReloadableCert::from_pem_files(&c, &k).unwrap();
        assert_eq!(rc.fingerprint(), one.fingerprint);
        let two = SelfSigned::generate(&["localhost".into()]).unwrap();
        std::fs::write(&c, &two.cert_pem).unwrap();
        std::fs::write(&k, &two.key_pem).unwrap();
        assert!(rc.reload().unwrap());
        assert_eq!(rc.fingerprint(), two.fingerprint);
        // A broken file keeps the old certificate.
        std::fs::write(&k, b"junk").unwrap();
        assert!(matches!(rc.reload(), Err(TlsError::NoKey(_))));
        assert_eq!(rc.fingerprint(), two.fingerprint);
        // Mismatched key and certificate are refused.
        std::fs::write(&k, &one.key_pem).unwrap();
        assert!(matches!(
            ReloadableCert::from_pem_files(&c, &k),
            Err(TlsError::BadKey { .. })
        ));
    }

    #[test]
    fn missing_pem_file_names_the_path() {
        let e = load_pem(Path::new("/nonexistent/c.pem"), Path::new("/x")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/c.pem"), "{e}");
    }
}
