//! FTPS (RFC 4217) on the client side: TLS configuration, certificate verification and the
//! stream adapters.
//!
//! * [`Verify`] chooses how the server certificate is checked: the system roots (default),
//!   a private CA file, an exact SHA-256 pin, or not at all
//!   ([`Verify::DangerAcceptAnyCertificate`]).
//! * [`TlsContext`] is shared by a control connection and its data connections: they use
//!   one [`ClientConfig`] and one server name, so data connections resume the control
//!   connection's session (servers that enforce `require_ssl_reuse` demand it). With TLS 1.3
//!   the client asks for one fresh ticket per resumed connection (RFC 9149 `ticket_request`)
//!   so it never runs out of tickets.
//! * [`EofTolerant`] turns a peer that closes without `close_notify` into a plain end of
//!   stream, remembering that it happened so the transfer's final reply decides.
//!
//! Only TLS 1.2 and 1.3 are offered.
//!
//! ```
//! use ftp_client::tls::{TlsContext, Verify};
//! let ctx = TlsContext::new("ftp.example.org", &Verify::DangerAcceptAnyCertificate).unwrap();
//! assert_eq!(ctx.server_name(), "ftp.example.org");
//! ```

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_rustls::client::TlsStream;
use futures_rustls::TlsConnector;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{TicketRequest, WebPkiServerVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, InvalidMessage,
    OtherError, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, TlsError};

/// Whether and how the client uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain FTP.
    #[default]
    Off,
    /// Explicit FTPS: `AUTH TLS` after the greeting (`ftpes://` URLs, `--tls`); the
    /// connection fails if the server refuses it.
    Explicit,
    /// Implicit FTPS: TLS from the first byte (`ftps://` URLs, `--implicit-tls`; usually
    /// port 990).
    Implicit,
}

/// The newest TLS version the client offers (it always offers TLS 1.2 too).
///
/// TLS 1.3 by default. [`TlsVersion::Tls12`] is for servers that want a data connection to
/// resume with a TLS 1.3 ticket already used once (ProFTPD 1.3.8's mod_tls issues two
/// tickets per control connection and none on data connections): rustls uses each TLS 1.3
/// ticket once, while a TLS 1.2 session resumes any number of times.
///
/// ```
/// use ftp_client::tls::{client_config_up_to, TlsVersion, Verify};
/// let v = Verify::DangerAcceptAnyCertificate;
/// assert!(client_config_up_to(&v, TlsVersion::Tls12).is_ok());
/// assert_eq!(TlsVersion::default(), TlsVersion::Tls13);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3, or TLS 1.2 if the server has no TLS 1.3.
    #[default]
    Tls13,
}

/// How the server's certificate is verified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Verify {
    /// Against the operating system's trusted roots, for the host name connected to.
    #[default]
    System,
    /// Against the CA certificates in this PEM file (instead of the system roots).
    CaFile(PathBuf),
    /// Accept exactly the leaf certificate with this SHA-256 digest (name and expiry are
    /// not checked: the pin is the trust decision).
    PinSha256([u8; 32]),
    /// Accept any certificate. Offers no protection against an active attacker.
    DangerAcceptAnyCertificate,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parses a SHA-256 pin: 64 hex digits (colons allowed, as `openssl x509 -fingerprint`
/// prints them) or base64 (as `curl --pinnedpubkey sha256//` uses; `sha256//` prefix
/// allowed).
///
/// ```
/// let hex = "AB".repeat(32);
/// assert_eq!(ftp_client::tls::parse_pin(&hex).unwrap(), [0xAB; 32]);
/// assert!(ftp_client::tls::parse_pin("nope").is_err());
/// ```
pub fn parse_pin(s: &str) -> Result<[u8; 32]> {
    let s = s.trim();
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| Error::Usage(format!("bad SHA-256 pin {s:?}")))?;
        }
        return Ok(out);
    }
    let b64 = s.strip_prefix("sha256//").unwrap_or(s);
    decode_base64(b64)
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| {
            Error::Usage(format!(
                "bad SHA-256 pin {s:?}: want 64 hex digits or 44 base64 characters"
            ))
        })
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The SHA-256 digest of a DER certificate.
pub fn cert_sha256(cert: &CertificateDer<'_>) -> [u8; 32] {
    Sha256::digest(cert.as_ref()).into()
}

/// Accepts the certificate whose SHA-256 is the pin, or any certificate when `pin` is `None`;
/// handshake signatures are still verified.
#[derive(Debug)]
struct PinOrAnyVerifier {
    pin: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinOrAnyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.pin {
            Some(pin) if cert_sha256(end_entity) != pin => Err(rustls::Error::General(
                "the server certificate does not match the pinned SHA-256".into(),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The certificate of an unknown issuer, carried inside rustls's error so the message can
/// name its SHA-256 (see [`handshake_error`]).
#[derive(Debug, thiserror::Error)]
#[error("the certificate's issuer is unknown")]
struct UnknownIssuer {
    sha256: [u8; 32],
}

/// webpki's verification against roots, remembering the leaf's SHA-256 when its issuer is
/// unknown (so the user can pin it or find its CA).
#[derive(Debug)]
struct RootsVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for RootsVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                    let sha256 = cert_sha256(end_entity);
                    let other = OtherError(Arc::new(UnknownIssuer { sha256 }));
                    rustls::Error::InvalidCertificate(CertificateError::Other(other))
                }
                e => e,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// `AB:CD:…`, as `openssl x509 -fingerprint -sha256` and `ftp-server` print a fingerprint
/// (and as `--pin-sha256` takes it).
fn colon_hex(digest: &[u8; 32]) -> String {
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// A certificate time as `2026-01-02 12:00 UTC`.
fn date(t: UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| format!("{secs} seconds after 1970"))
}

/// The typed [`TlsError`] for a failed handshake on `what`: the cases a user can act on
/// (unknown issuer, expiry, a peer speaking plain text) get their own variants, the rest
/// keep rustls's words.
fn handshake_error(what: &str, source: io::Error) -> TlsError {
    use CertificateError as C;
    let what = what.to_string();
    let rustls_error = source
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(C::Other(other))) => {
            match other.0.downcast_ref::<UnknownIssuer>() {
                Some(u) => TlsError::UnknownIssuer {
                    what,
                    sha256: colon_hex(&u.sha256),
                },
                None => TlsError::Handshake { what, source },
            }
        }
        Some(rustls::Error::InvalidCertificate(C::ExpiredContext { not_after, .. })) => {
            TlsError::Expired {
                what,
                not_after: date(*not_after),
            }
        }
        Some(rustls::Error::InvalidCertificate(C::NotValidYetContext { not_before, .. })) => {
            TlsError::NotYetValid {
                what,
                not_before: date(*not_before),
            }
        }
        Some(rustls::Error::InvalidMessage(
            InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
        )) => TlsError::PlainText { what },
        _ => TlsError::Handshake { what, source },
    }
}

fn roots(verify: &Verify) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match verify {
        Verify::CaFile(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| Error::io(format!("reading CA file {}", path.display()), e))?;
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    let e = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
                    Error::io(format!("parsing CA file {}", path.display()), e)
                })?;
                roots.add(cert).map_err(|source| TlsError::CaCertificate {
                    path: path.clone(),
                    source,
                })?;
            }
            if roots.is_empty() {
                return Err(TlsError::NoCaCertificates { path: path.clone() }.into());
            }
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                log::warn!("loading system root certificates: {e}");
            }
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(TlsError::NoSystemRoots.into());
            }
        }
    }
    Ok(roots)
}

/// Builds the rustls client configuration for `verify` (TLS 1.2 and 1.3, session
/// resumption in memory, one fresh TLS 1.3 ticket requested per resumption).
pub fn client_config(verify: &Verify) -> Result<Arc<ClientConfig>> {
    client_config_up_to(verify, TlsVersion::Tls13)
}

/// [`client_config`] offering TLS versions up to `max`.
pub fn client_config_up_to(verify: &Verify, max: TlsVersion) -> Result<Arc<ClientConfig>> {
    let versions: &[&rustls::SupportedProtocolVersion] = match max {
        TlsVersion::Tls12 => &[&rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS12, &rustls::version::TLS13],
    };
    client_config_versions(verify, versions)
}

/// [`client_config`] offering exactly `version` (`ftp-client doctor` probes each one).
pub(crate) fn client_config_only(
    verify: &Verify,
    version: TlsVersion,
) -> Result<Arc<ClientConfig>> {
    let versions: &[&rustls::SupportedProtocolVersion] = match version {
        TlsVersion::Tls12 => &[&rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    client_config_versions(verify, versions)
}

fn client_config_versions(
    verify: &Verify,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(TlsError::Config)?;
    let mut cfg = match verify {
        Verify::System | Verify::CaFile(_) => {
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots(verify)?), provider)
                    .build()
                    .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(RootsVerifier { inner }))
                .with_no_client_auth()
        }
        Verify::PinSha256(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinOrAnyVerifier {
                pin: Some(*pin),
                provider,
            }))
            .with_no_client_auth(),
        Verify::DangerAcceptAnyCertificate => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinOrAnyVerifier {
                pin: None,
                provider,
            }))
            .with_no_client_auth(),
    };
    cfg.send_ticket_request = Some(TicketRequest {
        new_session_count: 2,
        resumption_count: 1,
    });
    Ok(Arc::new(cfg))
}

/// The TLS state shared by a control connection and its data connections.
#[derive(Clone)]
pub struct TlsContext {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    host: String,
    /// Set once a TLS 1.3 data connection could not resume (see [`TlsContext::connect_data`]).
    unresumed_warned: Arc<AtomicBool>,
    /// Data-connection handshakes so far: full ones and resumed ones.
    data_handshakes: Arc<[AtomicUsize; 2]>,
}

impl fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsContext")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl TlsContext {
    /// A context for `host` (a DNS name or an IP address, brackets allowed).
    pub fn new(host: &str, verify: &Verify) -> Result<TlsContext> {
        Self::with_config(host, client_config(verify)?)
    }

    /// A context with a caller-built configuration.
    pub fn with_config(host: &str, config: Arc<ClientConfig>) -> Result<TlsContext> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| Error::Usage(format!("bad TLS server name {host:?}: {e}")))?;
        Ok(TlsContext {
            config,
            name,
            host: host.to_string(),
            unresumed_warned: Arc::new(AtomicBool::new(false)),
            data_handshakes: Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]),
        })
    }

    /// The name the certificate is checked against.
    pub fn server_name(&self) -> &str {
        &self.host
    }

    /// The data connections' TLS handshakes so far: (full, resumed).
    pub(crate) fn data_handshakes(&self) -> (usize, usize) {
        let [full, resumed] = &*self.data_handshakes;
        (
            full.load(Ordering::Relaxed),
            resumed.load(Ordering::Relaxed),
        )
    }

    /// Runs the client handshake over `stream` (the control connection after `AUTH TLS`,
    /// an implicit-FTPS connection, or a data connection, which resumes the session).
    pub async fn connect<S>(&self, stream: S, what: &str) -> Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        TlsConnector::from(self.config.clone())
            .connect(self.name.clone(), stream)
            .await
            .map_err(|source| handshake_error(what, source).into())
    }

    /// [`TlsContext::connect`] for a data connection. When a TLS 1.3 data connection could
    /// not resume the control connection's session, this warns once: rustls uses each TLS 1.3
    /// ticket once (the ticket cannot be kept for reuse), so a server that issues two tickets
    /// on the control connection and none on data connections, yet requires session reuse
    /// (ProFTPD 1.3.8's mod_tls), refuses the third data connection; the warning says why.
    pub async fn connect_data<S>(&self, stream: S) -> Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let tls = self.connect(stream, "data connection").await?;
        let conn = tls.get_ref().1;
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        self.data_handshakes[usize::from(resumed)].fetch_add(1, Ordering::Relaxed);
        if conn.handshake_kind() == Some(rustls::HandshakeKind::Full)
            && conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
            && !self.unresumed_warned.swap(true, Ordering::Relaxed)
        {
            log::warn!(
                "a TLS 1.3 data connection could not resume the control connection's session \
                 (no session ticket left: the server sent no new ones, and each is used once); \
                 a server that requires session reuse refuses it (--tls-max-version 1.2 \
                 avoids this; with ProFTPD, so do TLSProtocol TLSv1.2 or TLSOptions \
                 NoSessionReuseRequired)"
            );
        }
        Ok(tls)
    }

    /// [`TlsContext::connect`] for an implicit-FTPS control connection: a server that
    /// answers in plain text is told apart as [`TlsError::NotImplicitFtps`].
    pub async fn connect_implicit<S>(&self, stream: S) -> Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match self.connect(stream, "control connection").await {
            Err(Error::Tls(TlsError::PlainText { .. })) => Err(TlsError::NotImplicitFtps.into()),
            other => other,
        }
    }
}

/// A reader that reports a peer's close without `close_notify` as end of stream, and
/// records that it happened in a flag ([`EofTolerant::truncation_flag`]). Servers that
/// skip `close_notify` are common; whether the data is complete is then decided by the
/// transfer's final reply.
#[derive(Debug)]
pub struct EofTolerant<S> {
    inner: S,
    unclean: Arc<AtomicBool>,
}

impl<S> EofTolerant<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> EofTolerant<S> {
        EofTolerant {
            inner,
            unclean: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set once the stream ended without `close_notify`.
    pub fn truncation_flag(&self) -> Arc<AtomicBool> {
        self.unclean.clone()
    }

    /// Whether the stream ended without `close_notify`.
    pub fn ended_uncleanly(&self) -> bool {
        self.unclean.load(Ordering::Relaxed)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for EofTolerant<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.unclean.store(true, Ordering::Relaxed);
                Poll::Ready(Ok(0))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EofTolerant<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::ServerConfig;

    struct Cert {
        der: CertificateDer<'static>,
        pem: String,
        key: Vec<u8>,
    }

    fn cert(name: &str) -> Cert {
        let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        Cert {
            der: ck.cert.der().clone(),
            pem: ck.cert.pem(),
            key: ck.key_pair.serialize_der(),
        }
    }

    fn server(c: &Cert) -> Arc<ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key.clone()));
        Arc::new(
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![c.der.clone()], key)
                .unwrap(),
        )
    }

    /// Handshakes, sends `payload` from the server and closes (with `close_notify` when
    /// `clean`); returns what the client read and whether it resumed.
    async fn run(
        ctx: &TlsContext,
        srv: Arc<ServerConfig>,
        clean: bool,
    ) -> Result<(Vec<u8>, bool, bool)> {
        let l = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = smol::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let Ok(mut t) = futures_rustls::TlsAcceptor::from(srv).accept(s).await else {
                return;
            };
            let _ = t.write_all(b"hello").await;
            let _ = t.flush().await;
            if clean {
                let _ = t.close().await;
            } else {
                let (tcp, _) = t.into_inner();
                drop(tcp);
            }
        });
        let s = async_net::TcpStream::connect(addr).await.unwrap();
        let t = ctx.connect(s, "test connection").await?;
        let resumed = t.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let mut r = EofTolerant::new(t);
        let mut got = Vec::new();
        r.read_to_end(&mut got)
            .await
            .map_err(|e| Error::io("read", e))?;
        server.await;
        Ok((got, resumed, r.ended_uncleanly()))
    }

    #[test]
    fn ca_file_verifies_and_data_connections_resume() {
        let c = cert("localhost");
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &c.pem).unwrap();
        let ctx = TlsContext::new("localhost", &Verify::CaFile(ca)).unwrap();
        let srv = server(&c);
        smol::block_on(async {
            let (got, resumed, unclean) = run(&ctx, srv.clone(), true).await.unwrap();
            assert_eq!(
                (got.as_slice(), resumed, unclean),
                (&b"hello"[..], false, false)
            );
            for _ in 0..3 {
                let (_, resumed, _) = run(&ctx, srv.clone(), true).await.unwrap();
                assert!(resumed);
            }
        });
    }

    #[test]
    fn wrong_name_or_unknown_ca_is_refused() {
        let c = cert("localhost");
        let other = cert("localhost");
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &other.pem).unwrap();
        smol::block_on(async {
            let ctx = TlsContext::new("localhost", &Verify::CaFile(ca.clone())).unwrap();
            let e = run(&ctx, server(&c), true).await.unwrap_err();
            assert!(matches!(e, Error::Tls(_)), "{e}");
            std::fs::write(&ca, &c.pem).unwrap();
            let ctx = TlsContext::new("127.0.0.1", &Verify::CaFile(ca)).unwrap();
            let e = run(&ctx, server(&c), true).await.unwrap_err();
            assert!(matches!(e, Error::Tls(_)), "{e}");
        });
    }

    #[test]
    fn pin_accepts_exactly_the_pinned_certificate() {
        let c = cert("localhost");
        let hex: String = cert_sha256(&c.der)
            .iter()
            .map(|b| format!("{b:02x}:"))
            .collect();
        let pin = parse_pin(hex.trim_end_matches(':')).unwrap();
        smol::block_on(async {
            let ctx = TlsContext::new("127.0.0.1", &Verify::PinSha256(pin)).unwrap();
            run(&ctx, server(&c), true).await.unwrap();
            let e = run(&ctx, server(&cert("localhost")), true)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("pinned"), "{e}");
        });
    }

    #[test]
    fn insecure_accepts_any_certificate() {
        let ctx = TlsContext::new("example.org", &Verify::DangerAcceptAnyCertificate).unwrap();
        smol::block_on(async {
            run(&ctx, server(&cert("localhost")), true).await.unwrap();
        });
    }

    #[test]
    fn close_without_close_notify_is_end_of_stream_but_flagged() {
        let c = cert("localhost");
        let ctx = TlsContext::new("x", &Verify::PinSha256(cert_sha256(&c.der))).unwrap();
        smol::block_on(async {
            let (got, _, unclean) = run(&ctx, server(&c), false).await.unwrap();
            assert_eq!((got.as_slice(), unclean), (&b"hello"[..], true));
        });
    }

    /// A CA file holding `c` alone, and a context trusting it for `localhost`.
    fn trusting(c: &Cert) -> (tempfile::TempDir, TlsContext) {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &c.pem).unwrap();
        let ctx = TlsContext::new("localhost", &Verify::CaFile(ca)).unwrap();
        (dir, ctx)
    }

    #[test]
    fn unknown_issuer_names_the_sha256_of_the_certificate() {
        let served = cert("localhost");
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Another CA");
        let other = params
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let other = Cert {
            der: other.der().clone(),
            pem: other.pem(),
            key: Vec::new(),
        };
        let (_dir, ctx) = trusting(&other);
        let e = smol::block_on(run(&ctx, server(&served), true)).unwrap_err();
        match e {
            Error::Tls(TlsError::UnknownIssuer { sha256, .. }) => {
                assert_eq!(parse_pin(&sha256).unwrap(), cert_sha256(&served.der));
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn an_expired_certificate_is_reported_with_its_date() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 2) + std::time::Duration::from_secs(43200);
        let key = rcgen::KeyPair::generate().unwrap();
        let c = params.self_signed(&key).unwrap();
        let c = Cert {
            der: c.der().clone(),
            pem: c.pem(),
            key: key.serialize_der(),
        };
        let (_dir, ctx) = trusting(&c);
        let e = smol::block_on(run(&ctx, server(&c), true)).unwrap_err();
        assert!(
            matches!(&e, Error::Tls(TlsError::Expired { not_after, .. }) if not_after == "2021-01-02 12:00 UTC"),
            "{e}"
        );
    }

    #[test]
    fn a_plain_text_answer_is_told_apart_and_named_for_implicit_ftps() {
        let ctx = TlsContext::new("localhost", &Verify::DangerAcceptAnyCertificate).unwrap();
        smol::block_on(async {
            for implicit in [false, true] {
                let l = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = l.local_addr().unwrap();
                let server = smol::spawn(async move {
                    let (mut s, _) = l.accept().await.unwrap();
                    let _ = s.write_all(b"220 plain FTP here\r\n").await;
                    let mut sink = [0u8; 512];
                    let _ = s.read(&mut sink).await;
                });
                let s = async_net::TcpStream::connect(addr).await.unwrap();
                let e = if implicit {
                    ctx.connect_implicit(s).await.unwrap_err()
                } else {
                    ctx.connect(s, "data connection").await.unwrap_err()
                };
                match (implicit, &e) {
                    (false, Error::Tls(TlsError::PlainText { .. })) => {}
                    (true, Error::Tls(TlsError::NotImplicitFtps)) => {}
                    _ => panic!("{e}"),
                }
                server.await;
            }
        });
    }

    #[test]
    fn pins_parse_as_hex_or_base64() {
        let want = [0x5Au8; 32];
        let b64 = "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=";
        assert_eq!(parse_pin(b64).unwrap(), want);
        assert_eq!(parse_pin(&format!("sha256//{b64}")).unwrap(), want);
        assert_eq!(parse_pin(&"5a".repeat(32)).unwrap(), want);
        assert!(parse_pin(&"5a".repeat(31)).is_err());
        assert!(parse_pin("WlpaWlpa").is_err());
    }
}
