//! FTPS (RFC 4217): certificates, TLS configurations and the data-connection session check.
//!
//! * [`ReloadableCert`] serves the certificate; [`ReloadableCert::reload`] swaps it (on
//!   `SIGHUP`) without touching established sessions.
//! * [`TlsSettings`] holds the server-wide TLS state (certificate, ticket key, session-ID
//!   cache, the owners of issued sessions); [`TlsSettings::session`] builds the
//!   per-control-connection [`SessionTls`].
//! * Every TLS session the server issues (a TLS 1.3 ticket, a TLS 1.2 session ID or a TLS 1.2
//!   stateless ticket) is bound to the control connection it was issued on (a data
//!   connection's new sessions are bound to its control connection). A handshake may resume
//!   it only if its own control connection has the **same client IP address and the same
//!   logged-in user** as the issuing one (at the time of the resumption; a closed issuer
//!   counts with its last user, for [`CLOSED_OWNER_RETENTION`]; an issuer that has never
//!   logged in yet is waited for, a few seconds at most). Anything else falls back
//!   to a full handshake, which a data connection refuses while reuse is required
//!   (vsftpd's `require_ssl_reuse`): a port thief cannot present its victim's session,
//!   while clients with one session cache for several control connections (rclone and
//!   other Go programs) resume a sibling's session.
//! * A download's data connection (and one whose direction is not known yet) sends one TLS
//!   1.3 ticket: TLS 1.3 clients use a ticket once, so without it a client such as curl has
//!   nothing left to resume its next data connection with. An upload's sends none unless the
//!   client asks with RFC 9149 `ticket_request`: a client that never reads an upload's
//!   connection (curl) would close it with the ticket unread, and the kernel's reset would
//!   cut the upload's tail (vsftpd loses uploads that way). See [`DataDirection`].
//!
//! Only TLS 1.2 and 1.3 are offered.
//!
//! ```
//! use ftp_server::tls::{ReloadableCert, TlsSettings};
//!
//! let (cert, fingerprint) = ReloadableCert::self_signed(&["localhost".into()]).unwrap();
//! assert_eq!(fingerprint.len(), 32 * 3 - 1); // AA:BB:...
//! let settings = TlsSettings::new(cert);
//! let per_session = settings.session("127.0.0.1".parse().unwrap()).unwrap();
//! per_session.set_user(Some("alice")); // after login
//! let _acceptor = per_session.control_acceptor();
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::server::TlsStream;
use futures_rustls::TlsAcceptor;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{
    ClientHello, ProducesTickets, ResolvesServerCert, ServerSessionMemoryCache,
    StoresServerSessions,
};
use rustls::sign::CertifiedKey;
use rustls::{HandshakeKind, ServerConfig};
use sha2::{Digest, Sha256};

mod data_transport;
pub use data_transport::DataTransport;

/// TLS 1.2 session IDs remembered server-wide (clients that resume with tickets, and every
/// TLS 1.3 client, need no server memory: their tickets are stateless).
const SESSION_IDS: usize = 1024;

/// How long a closed control connection's sessions stay resumable by its siblings (a client
/// with one session cache for several connections may offer them after the issuer closed).
pub const CLOSED_OWNER_RETENTION: Duration = Duration::from_secs(3600);

/// How long a data connection that resumed a session of a connection that has not logged in
/// yet waits for that login (a client may hand a data connection the ticket of a sibling it
/// is still logging in).
const PENDING_LOGIN_WAIT: Duration = Duration::from_secs(10);

/// Most closed control connections remembered for [`CLOSED_OWNER_RETENTION`]; the oldest
/// are forgotten first.
const MAX_CLOSED_OWNERS: usize = 4096;

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
    #[error("certificate {} / key {}: {}", cert.display(), key.display(), key_problem(error))]
    BadKey {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said (part of the message, so not a `source()`).
        error: rustls::Error,
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
    /// The handshake did not resume a TLS session of the same user and client address.
    #[error("TLS session of data connection not resumed")]
    NotResumed,
}

/// The crypto provider of every TLS connection (FTPS, and S3 over HTTPS): ring, or
/// aws-lc-rs with the feature `aws-lc-rs`.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    #[cfg(not(feature = "aws-lc-rs"))]
    let p = rustls::crypto::ring::default_provider();
    #[cfg(feature = "aws-lc-rs")]
    let p = rustls::crypto::aws_lc_rs::default_provider();
    Arc::new(p)
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
    use rustls::pki_types::pem::{self, PemObject};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad_pem = |p: &Path, e: pem::Error| TlsError::Read {
        path: p.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(cert, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let private = match PrivateKeyDer::from_pem_slice(&key_pem) {
        Err(pem::Error::NoItemsFound) => return Err(TlsError::NoKey(key.to_path_buf())),
        r => r.map_err(|e| bad_pem(key, e))?,
    };
    CertifiedKey::from_der(chain, private, &provider()).map_err(|error| TlsError::BadKey {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        error,
    })
}

/// What is wrong with a certificate's key, in words.
fn key_problem(e: &rustls::Error) -> String {
    use rustls::InconsistentKeys as K;
    match e {
        rustls::Error::InconsistentKeys(K::KeyMismatch) => {
            "the private key does not match the certificate".to_string()
        }
        rustls::Error::InconsistentKeys(K::Unknown) => {
            "cannot tell whether the private key matches the certificate".to_string()
        }
        e => e.to_string(),
    }
}

/// How many days before its end a certificate's validity is warned about.
const EXPIRY_WARNING_DAYS: u64 = 14;

/// A warning when the certificate `ck` has expired, expires within 14 days or is not valid
/// yet (clients refuse such a certificate); `None` when it is fine. Only the validity period
/// is checked, not who issued the certificate.
pub fn validity_warning(ck: &CertifiedKey) -> Option<String> {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    use rustls::CertificateError as C;
    let leaf = ck.cert.first()?;
    // webpki checks the end entity's validity period before looking for its issuer, so a
    // verifier trusting the certificate itself reports exactly the time problems.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(leaf.clone()).ok()?;
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .ok()?;
    let name = ServerName::try_from("certificate.check.invalid").ok()?;
    let check =
        |at: UnixTime| match verifier.verify_server_cert(leaf, &ck.cert[1..], &name, &[], at) {
            Err(rustls::Error::InvalidCertificate(e)) => Some(e),
            _ => None,
        };
    let now = UnixTime::now();
    match check(now)? {
        C::ExpiredContext { not_after, .. } => Some(format!(
            "the TLS certificate expired on {}; clients will refuse it",
            date(not_after)
        )),
        C::Expired => Some("the TLS certificate has expired; clients will refuse it".into()),
        C::NotValidYetContext { not_before, .. } => Some(format!(
            "the TLS certificate is not valid before {}; clients will refuse it",
            date(not_before)
        )),
        C::NotValidYet => Some("the TLS certificate is not valid yet".into()),
        _ => {
            let soon = Duration::from_secs(EXPIRY_WARNING_DAYS * 24 * 3600);
            let later = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs()) + soon);
            match check(later)? {
                C::ExpiredContext { not_after, .. } => Some(format!(
                    "the TLS certificate expires on {}",
                    date(not_after)
                )),
                _ => None,
            }
        }
    }
}

/// A UNIX time as `2026-12-03 14:05 UTC`.
fn date(t: rustls::pki_types::UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| format!("{secs} seconds after 1970"))
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

    /// A warning when the current certificate has expired, expires soon or is not valid yet
    /// (see [`validity_warning`]).
    pub fn validity_warning(&self) -> Option<String> {
        validity_warning(&self.get())
    }

    /// The current certificate's SHA-256 fingerprint.
    pub fn fingerprint(&self) -> String {
        let ck = self.get();
        ck.cert.first().map(fingerprint).unwrap_or_default()
    }

    /// The certificate and key in use now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.get()
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

/// Who a control connection is, as far as resuming its TLS sessions goes.
#[derive(Debug)]
struct Owner {
    ip: IpAddr,
    user: Option<Arc<str>>,
    /// Not logged in yet, ever.
    fresh: bool,
    closed: bool,
}

/// The owners of the sessions this server issued, by token (one per control connection).
/// Closed connections are kept for [`CLOSED_OWNER_RETENTION`], at most
/// [`MAX_CLOSED_OWNERS`] of them.
#[derive(Debug, Default)]
struct Owners {
    next: u64,
    by_token: HashMap<u64, Owner>,
    closed: VecDeque<(u64, Instant)>,
}

impl Owners {
    fn register(&mut self, ip: IpAddr) -> u64 {
        self.prune(Instant::now());
        self.next += 1;
        let owner = Owner {
            ip: ip.to_canonical(),
            user: None,
            fresh: true,
            closed: false,
        };
        self.by_token.insert(self.next, owner);
        self.next
    }

    fn set_user(&mut self, token: u64, user: Option<&str>) {
        if let Some(o) = self.by_token.get_mut(&token) {
            if o.user.as_deref() != user {
                o.user = user.map(Arc::from);
            }
            o.fresh &= user.is_none();
        }
    }

    fn close(&mut self, token: u64) {
        if let Some(o) = self.by_token.get_mut(&token) {
            o.closed = true;
            let now = Instant::now();
            self.closed.push_back((token, now));
            self.prune(now);
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some(&(token, at)) = self.closed.front() {
            let expired = now.saturating_duration_since(at) >= CLOSED_OWNER_RETENTION;
            if !expired && self.closed.len() <= MAX_CLOSED_OWNERS {
                break;
            }
            self.closed.pop_front();
            self.by_token.remove(&token);
        }
    }

    /// Whether the connection `resumer` may resume a session issued to `issuer`: same
    /// client address and same logged-in user (or both not logged in). [`Verdict::Pending`]
    /// while the issuer is open, from the same address, and has never logged in yet.
    fn verdict(&self, issuer: u64, resumer: u64) -> Verdict {
        let (Some(i), Some(r)) = (self.by_token.get(&issuer), self.by_token.get(&resumer)) else {
            return Verdict::No;
        };
        if i.ip != r.ip {
            Verdict::No
        } else if i.user == r.user {
            Verdict::Yes
        } else if i.fresh && !i.closed {
            Verdict::Pending
        } else {
            Verdict::No
        }
    }
}

/// What [`Owners::verdict`] says about a resumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Yes,
    No,
    /// Not yet known: the issuer has not logged in.
    Pending,
}

/// The server-wide resumption state shared by every control connection.
#[derive(Debug, Default)]
struct Resumption {
    owners: Mutex<Owners>,
    /// Notified whenever an owner logs in, out, or closes.
    changed: event_listener::Event,
    ticket_key: OnceLock<Arc<dyn ProducesTickets>>,
    session_ids: OnceLock<Arc<ServerSessionMemoryCache>>,
}

impl Resumption {
    fn owners(&self) -> std::sync::MutexGuard<'_, Owners> {
        lock(&self.owners)
    }

    fn ticket_key(&self) -> Result<Arc<dyn ProducesTickets>, TlsError> {
        if let Some(t) = self.ticket_key.get() {
            return Ok(t.clone());
        }
        let fresh = rustls::crypto::ring::Ticketer::new()?;
        Ok(self.ticket_key.get_or_init(|| fresh).clone())
    }

    fn session_ids(&self) -> Arc<ServerSessionMemoryCache> {
        let ids = self
            .session_ids
            .get_or_init(|| ServerSessionMemoryCache::new(SESSION_IDS));
        ids.clone()
    }
}

/// One control connection's claim on the sessions issued to it and its data connections.
/// Dropped when the connection and all its TLS streams are gone: the owner is then closed.
#[derive(Debug)]
struct Binding {
    token: u64,
    shared: Arc<Resumption>,
    /// The issuer of the session last handed out to a data connection's handshake (data
    /// connections of one control connection handshake one at a time; the control
    /// connection's own handshakes do not record theirs).
    resumed_from: Mutex<Option<u64>>,
    /// Whether the data connection handshaking now may get a TLS 1.3 ticket (not an upload
    /// to a client that did not ask; set by [`DataTransport`]).
    data_ticket: AtomicBool,
}

impl Binding {
    /// `plain` prefixed with this connection's token (what is encrypted or stored).
    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + plain.len());
        v.extend_from_slice(&self.token.to_be_bytes());
        v.extend_from_slice(plain);
        v
    }

    /// The session behind a sealed value, unless this connection may certainly not resume
    /// it; a data connection (`data`) checks the final [`Verdict`] after the handshake.
    fn open(&self, mut sealed: Vec<u8>, data: bool) -> Option<Vec<u8>> {
        let issuer = u64::from_be_bytes(sealed.get(..8)?.try_into().ok()?);
        if self.shared.owners().verdict(issuer, self.token) == Verdict::No {
            log::debug!("TLS session of another user or address not resumed");
            return None;
        }
        if data {
            *lock(&self.resumed_from) = Some(issuer);
        }
        sealed.drain(..8);
        Some(sealed)
    }

    /// Whether the session just resumed may be used, waiting (within
    /// [`PENDING_LOGIN_WAIT`]) for its issuer to log in when it has not yet.
    async fn resumption_allowed(&self) -> bool {
        let Some(issuer) = lock(&self.resumed_from).take() else {
            return false;
        };
        let settle = async {
            loop {
                let changed = self.shared.changed.listen();
                match self.shared.owners().verdict(issuer, self.token) {
                    Verdict::Yes => return true,
                    Verdict::No => return false,
                    Verdict::Pending => {}
                }
                changed.await;
            }
        };
        future::or(settle, async {
            async_io::Timer::after(PENDING_LOGIN_WAIT).await;
            false
        })
        .await
    }

    fn update(&self, change: impl FnOnce(&mut Owners)) {
        change(&mut self.shared.owners());
        self.shared.changed.notify(usize::MAX);
    }
}

impl Drop for Binding {
    fn drop(&mut self) {
        let token = self.token;
        self.update(|o| o.close(token));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// TLS 1.2 session IDs of the whole server, bound to their owners. Entries can be resumed
/// more than once: clients such as curl reuse one session for every data connection. The
/// `bool`: for data connections.
#[derive(Debug)]
struct BoundSessionIds(Arc<Binding>, Arc<ServerSessionMemoryCache>, bool);

impl StoresServerSessions for BoundSessionIds {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.1.put(key, self.0.seal(&value))
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.open(self.1.get(key)?, self.2)
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get(key)
    }
    fn can_cache(&self) -> bool {
        true
    }
}

/// Stateless tickets (TLS 1.3, and TLS 1.2 clients that support them) under the server's
/// rotating ticket key, bound to their owners inside the encryption. The `bool`: for data
/// connections.
#[derive(Debug)]
struct BoundTickets(Arc<Binding>, Arc<dyn ProducesTickets>, bool);

impl ProducesTickets for BoundTickets {
    fn enabled(&self) -> bool {
        self.1.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.1.lifetime()
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        if self.2 && !self.0.data_ticket.load(Ordering::Relaxed) {
            return None; // rustls then sends no ticket
        }
        self.1.encrypt(&self.0.seal(plain))
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.0.open(self.1.decrypt(cipher)?, self.2)
    }
}

/// Server-wide TLS settings. Clones share the certificate and the resumption state (they
/// belong to one server).
#[derive(Debug, Clone)]
pub struct TlsSettings {
    cert: Arc<ReloadableCert>,
    resumption: Arc<Resumption>,
    /// TLS 1.3 tickets sent after the control connection's handshake.
    pub control_tickets: usize,
    /// TLS 1.3 tickets sent after the handshake of a download's data connection: one, as
    /// OpenSSL servers send after a resumption, because TLS 1.3 clients use a ticket once
    /// (RFC 8446 §C.4: curl with OpenSSL, rustls) and need a fresh one for the next data
    /// connection. Uploads send them only to a client that asks (RFC 9149 `ticket_request`),
    /// which gets at most this many.
    pub data_tickets: usize,
    /// ALPN protocols offered (empty: no ALPN).
    pub alpn: Vec<Vec<u8>>,
}

impl TlsSettings {
    /// Settings with the given certificate, 2 control tickets and 1 data ticket.
    pub fn new(cert: Arc<ReloadableCert>) -> TlsSettings {
        TlsSettings {
            cert,
            resumption: Arc::default(),
            control_tickets: 2,
            data_tickets: 1,
            alpn: Vec::new(),
        }
    }

    /// The certificate (for reloading).
    pub fn cert(&self) -> &Arc<ReloadableCert> {
        &self.cert
    }

    /// The configuration of the control connection or (`data`) of its data connections (for
    /// downloads: [`SessionTls::accept_data`] derives the uploads' one).
    fn config(&self, binding: &Arc<Binding>, data: bool) -> Result<Arc<ServerConfig>, TlsError> {
        let (tickets, on_request) = if data {
            (self.data_tickets, self.data_tickets)
        } else {
            (self.control_tickets, 0)
        };
        let mut cfg = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?
            .with_no_client_auth()
            .with_cert_resolver(self.cert.clone());
        let ids = self.resumption.session_ids();
        cfg.session_storage = Arc::new(BoundSessionIds(binding.clone(), ids, data));
        let key = self.resumption.ticket_key()?;
        cfg.ticketer = Arc::new(BoundTickets(binding.clone(), key, data));
        cfg.send_tls13_tickets = tickets;
        cfg.max_tls13_tickets = on_request;
        cfg.alpn_protocols = self.alpn.clone();
        cfg.ignore_client_order = true;
        Ok(Arc::new(cfg))
    }

    /// Builds the TLS state of one control connection from the client address `peer`; tell
    /// it who logs in with [`SessionTls::set_user`].
    pub fn session(&self, peer: IpAddr) -> Result<SessionTls, TlsError> {
        let token = self.resumption.owners().register(peer);
        let binding = Arc::new(Binding {
            token,
            shared: self.resumption.clone(),
            resumed_from: Mutex::new(None),
            data_ticket: AtomicBool::new(true),
        });
        Ok(SessionTls {
            control: self.config(&binding, false)?,
            data: self.config(&binding, true)?,
            binding,
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
    /// Refuse protected data connections that do not resume a TLS session issued to a control
    /// connection of the same user from the same address (vsftpd's `require_ssl_reuse`,
    /// widened to sibling connections; on by default; see the [module](self) documentation).
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
    binding: Arc<Binding>,
}

/// What a data connection carries, as far as the server knows when the client's TLS hello
/// arrives: it decides whether the handshake sends a TLS 1.3 ticket (see the [module](self)
/// documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDirection {
    /// `RETR`, `LIST`, …: the client reads the connection; it gets a ticket.
    Download,
    /// `STOR`, `APPE`, `STOU`: no ticket unless the client asks for one.
    Upload,
    /// Not known yet: a client that finishes the handshake before it sends the transfer
    /// command (aioftp) and reads meanwhile. Treated as a download.
    Unknown,
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

    /// Records who is logged in on this control connection (`None` after `REIN` or a new
    /// `USER`): sessions resume only between connections of the same user and address.
    pub fn set_user(&self, user: Option<&str>) {
        let token = self.binding.token;
        self.binding.update(|o| o.set_user(token, user));
    }

    /// Runs the server handshake on a data connection. With `require_reuse`, the handshake
    /// must have resumed a session issued to a control connection of the same user from the
    /// same address ([module documentation](self)), otherwise the connection is refused
    /// ([`DataTlsError::NotResumed`]); the caller replies `425` or `522`. `direction` is
    /// awaited once the client's hello has arrived (the caller bounds the wait).
    pub async fn accept_data<S>(
        &self,
        stream: S,
        require_reuse: bool,
        direction: impl Future<Output = DataDirection> + Send + 'static,
    ) -> Result<TlsStream<DataTransport<S>>, DataTlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        lock(&self.binding.resumed_from).take();
        self.binding.data_ticket.store(true, Ordering::Relaxed);
        let transport = DataTransport::new(stream, direction, self.binding.clone());
        let tls = TlsAcceptor::from(self.data.clone())
            .accept(transport)
            .await
            .map_err(DataTlsError::Handshake)?;
        if require_reuse && !(resumed(tls.get_ref().1) && self.binding.resumption_allowed().await) {
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

    /// How a test client resumes.
    #[derive(Debug, Clone, Copy)]
    enum Mode {
        Tls13,
        Tls12Tickets,
        Tls12SessionIds,
    }

    const MODES: [Mode; 3] = [Mode::Tls13, Mode::Tls12Tickets, Mode::Tls12SessionIds];

    fn client(root: &CertificateDer<'static>, mode: Mode) -> Arc<ClientConfig> {
        use rustls::client::{Resumption, Tls12Resumption};
        let mut roots = RootCertStore::empty();
        roots.add(root.clone()).unwrap();
        let v: &[&rustls::SupportedProtocolVersion] = match mode {
            Mode::Tls13 => &[&rustls::version::TLS13],
            _ => &[&rustls::version::TLS12],
        };
        let mut c = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(v)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        if let Mode::Tls12SessionIds = mode {
            c.resumption =
                Resumption::in_memory_sessions(16).tls12_resumption(Tls12Resumption::SessionIdOnly);
        }
        // As the ftp-client does: one fresh ticket per resumed data connection.
        c.send_ticket_request = Some(rustls::client::TicketRequest {
            new_session_count: 2,
            resumption_count: 1,
        });
        Arc::new(c)
    }

    /// `cfg` asking for no tickets (RFC 9149), as curl with OpenSSL.
    fn without_ticket_request(cfg: &Arc<ClientConfig>) -> Arc<ClientConfig> {
        let mut quiet = (**cfg).clone();
        quiet.send_ticket_request = None;
        Arc::new(quiet)
    }

    /// Handshakes `cfg` against `acceptor` over a loopback TCP pair, exchanging one byte so
    /// TLS 1.3 tickets are processed (a data connection as a download).
    async fn pair(
        cfg: &Arc<ClientConfig>,
        tls: &SessionTls,
        data: bool,
        require_reuse: bool,
    ) -> Result<(), DataTlsError> {
        let direction = DataDirection::Download;
        pair_as(cfg, tls, data.then_some(direction), require_reuse)
            .await
            .map(|_| ())
    }

    /// [`pair`] with the data connection's direction (`None`: a control connection); returns
    /// the TLS 1.3 tickets the client received.
    async fn pair_as(
        cfg: &Arc<ClientConfig>,
        tls: &SessionTls,
        data: Option<DataDirection>,
        require_reuse: bool,
    ) -> Result<u32, DataTlsError> {
        let l = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let cfg = cfg.clone();
        let client = smol::spawn(async move {
            let s = async_net::TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            let mut c = TlsConnector::from(cfg).connect(name, s).await?;
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await?;
            let tickets = c.get_ref().1.tls13_tickets_received();
            c.write_all(b"k").await?;
            c.close().await?;
            io::Result::Ok(tickets)
        });
        let (s, _) = l.accept().await.unwrap();
        match data {
            Some(d) => exchange(tls.accept_data(s, require_reuse, future::ready(d)).await?).await,
            None => exchange(tls.control_acceptor().accept(s).await.unwrap()).await,
        }
        Ok(client.await.unwrap_or(0))
    }

    /// The server's side of [`pair_as`]'s exchange: one byte each way.
    async fn exchange(mut t: impl AsyncRead + AsyncWrite + Unpin) {
        t.write_all(b"x").await.unwrap();
        t.flush().await.unwrap();
        let mut b = [0u8; 1];
        t.read_exact(&mut b).await.unwrap();
    }

    fn setup() -> (SelfSigned, TlsSettings) {
        let s = SelfSigned::generate(&["localhost".into()]).unwrap();
        let settings = TlsSettings::new(ReloadableCert::fixed(s.certified_key().unwrap()));
        (s, settings)
    }

    /// A control connection from `ip` that did its handshake (`cfg` now holds its sessions),
    /// then logged in as `user`.
    async fn control(
        settings: &TlsSettings,
        cfg: &Arc<ClientConfig>,
        ip: &str,
        user: &str,
    ) -> SessionTls {
        let tls = settings.session(ip.parse().unwrap()).unwrap();
        pair(cfg, &tls, false, true).await.unwrap();
        tls.set_user(Some(user));
        tls
    }

    #[test]
    fn data_connection_resuming_the_control_session_is_accepted_repeatedly() {
        for mode in MODES {
            let (s, settings) = setup();
            let cfg = client(&s.cert_der, mode);
            smol::block_on(async {
                let tls = control(&settings, &cfg, "127.0.0.1", "alice").await;
                // More data connections than tickets: the same session is resumed each time.
                for _ in 0..4 {
                    pair(&cfg, &tls, true, true).await.unwrap();
                }
            });
        }
    }

    #[test]
    fn a_tls13_client_that_uses_each_ticket_once_and_asks_for_none_resumes_every_download() {
        // curl with OpenSSL: no RFC 9149 request, and a ticket is gone once used (so is one
        // in rustls's client cache), yet more data connections than the control's tickets.
        let (s, settings) = setup();
        let cfg = without_ticket_request(&client(&s.cert_der, Mode::Tls13));
        smol::block_on(async {
            let tls = control(&settings, &cfg, "127.0.0.1", "alice").await;
            for n in 0..5 {
                let r = pair(&cfg, &tls, true, true).await;
                assert!(r.is_ok(), "data connection {n}: {r:?}");
            }
        });
    }

    #[test]
    fn an_upload_connection_sends_a_ticket_only_to_a_client_that_asks() {
        let (s, settings) = setup();
        let asks = client(&s.cert_der, Mode::Tls13);
        let quiet = without_ticket_request(&asks);
        smol::block_on(async {
            for (cfg, direction, want) in [
                (&quiet, DataDirection::Upload, 0),
                (&quiet, DataDirection::Download, 1),
                (&quiet, DataDirection::Unknown, 1),
                (&asks, DataDirection::Upload, 1),
            ] {
                let tls = control(&settings, cfg, "127.0.0.1", "alice").await;
                let got = pair_as(cfg, &tls, Some(direction), true).await.unwrap();
                assert_eq!(got, want, "{direction:?}");
            }
        });
    }

    #[test]
    fn data_connection_with_a_fresh_session_is_refused() {
        let (s, settings) = setup();
        smol::block_on(async {
            let cfg = client(&s.cert_der, Mode::Tls13);
            let tls = control(&settings, &cfg, "127.0.0.1", "alice").await;
            // A different client config has no session to resume.
            let other = client(&s.cert_der, Mode::Tls13);
            let e = pair(&other, &tls, true, true).await.unwrap_err();
            assert!(matches!(e, DataTlsError::NotResumed), "{e}");
            // ...which is fine when reuse is not required.
            pair(&other, &tls, true, false).await.unwrap();
        });
    }

    #[test]
    fn session_of_a_sibling_connection_of_the_same_user_and_address_is_resumed() {
        for mode in MODES {
            let (s, settings) = setup();
            let cfg = client(&s.cert_der, mode);
            smol::block_on(async {
                let a = control(&settings, &cfg, "127.0.0.1", "alice").await;
                let b = settings.session("127.0.0.1".parse().unwrap()).unwrap();
                b.set_user(Some("alice"));
                pair(&cfg, &b, true, true).await.unwrap();
                // Still after the issuing connection closed.
                drop(a);
                pair(&cfg, &b, true, true).await.unwrap();
            });
        }
    }

    #[test]
    fn session_of_another_user_or_from_another_address_is_refused() {
        for (ip, user) in [("127.0.0.1", "bob"), ("127.0.0.2", "alice")] {
            for mode in MODES {
                let (s, settings) = setup();
                let cfg = client(&s.cert_der, mode);
                smol::block_on(async {
                    let _alice = control(&settings, &cfg, "127.0.0.1", "alice").await;
                    let other = settings.session(ip.parse().unwrap()).unwrap();
                    other.set_user(Some(user));
                    let e = pair(&cfg, &other, true, true).await.unwrap_err();
                    assert!(matches!(e, DataTlsError::NotResumed), "{mode:?}: {e}");
                });
            }
        }
    }

    #[test]
    fn session_of_a_connection_that_logged_out_is_refused() {
        let (s, settings) = setup();
        let cfg = client(&s.cert_der, Mode::Tls13);
        smol::block_on(async {
            let a = control(&settings, &cfg, "127.0.0.1", "alice").await;
            a.set_user(None); // REIN
            let b = settings.session("127.0.0.1".parse().unwrap()).unwrap();
            b.set_user(Some("alice"));
            let e = pair(&cfg, &b, true, true).await.unwrap_err();
            assert!(matches!(e, DataTlsError::NotResumed), "{e}");
        });
    }

    /// A sibling's session offered before the sibling logged in: the data connection waits
    /// for that login, and is accepted only if it is the same user.
    #[test]
    fn session_of_a_sibling_still_logging_in_waits_for_its_login() {
        for (later, accepted) in [(Some("alice"), true), (Some("bob"), false), (None, false)] {
            let (s, settings) = setup();
            let cfg = client(&s.cert_der, Mode::Tls12Tickets);
            smol::block_on(async {
                let b = control(&settings, &cfg, "127.0.0.1", "alice").await;
                let a = settings.session("127.0.0.1".parse().unwrap()).unwrap();
                pair(&cfg, &a, false, true).await.unwrap(); // a's AUTH TLS, before its USER
                let login = smol::spawn(async move {
                    async_io::Timer::after(Duration::from_millis(50)).await;
                    match later {
                        Some(user) => a.set_user(Some(user)),
                        None => drop(a), // it closes without logging in
                    }
                });
                let got = pair(&cfg, &b, true, true).await;
                login.await;
                assert_eq!(got.is_ok(), accepted, "{later:?}: {got:?}");
            });
        }
    }

    #[test]
    fn closed_owners_are_forgotten_beyond_the_bound() {
        let mut owners = Owners::default();
        let first = owners.register("127.0.0.1".parse().unwrap());
        owners.close(first);
        for _ in 0..MAX_CLOSED_OWNERS {
            let t = owners.register("127.0.0.1".parse().unwrap());
            owners.close(t);
        }
        assert!(!owners.by_token.contains_key(&first));
        assert_eq!(owners.by_token.len(), MAX_CLOSED_OWNERS);
        let live = owners.register("127.0.0.1".parse().unwrap());
        assert_eq!(owners.verdict(live, live), Verdict::Yes);
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

    /// A self-signed certificate valid from `days_from` to `days_to` days from now.
    fn valid_between(days_from: i64, days_to: i64) -> CertifiedKey {
        let now = time::OffsetDateTime::now_utc();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_before = now + time::Duration::days(days_from);
        params.not_after = now + time::Duration::days(days_to);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        CertifiedKey::from_der(vec![cert.der().clone()], der, &provider()).unwrap()
    }

    #[test]
    fn warns_about_expired_expiring_and_not_yet_valid_certificates() {
        let w = |from, to| validity_warning(&valid_between(from, to));
        let expired = w(-30, -2).expect("a warning");
        assert!(
            expired.starts_with("the TLS certificate expired on 20"),
            "{expired}"
        );
        let soon = w(-30, 3).expect("a warning");
        assert!(
            soon.starts_with("the TLS certificate expires on 20"),
            "{soon}"
        );
        let future = w(10, 40).expect("a warning");
        assert!(future.contains("not valid before 20"), "{future}");
        assert_eq!(w(-1, 365), None);
    }

    #[test]
    fn a_key_of_another_certificate_is_reported_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            SelfSigned::generate(&["localhost".into()]).unwrap(),
            SelfSigned::generate(&["localhost".into()]).unwrap(),
        );
        let (cert, key) = (dir.path().join("a.pem"), dir.path().join("b.key"));
        std::fs::write(&cert, &a.cert_pem).unwrap();
        std::fs::write(&key, &b.key_pem).unwrap();
        let e = load_pem(&cert, &key).unwrap_err().to_string();
        assert!(
            e.ends_with(": the private key does not match the certificate"),
            "{e}"
        );
    }
}
