//! A TLS-enabled [`TestServer`]: a self-signed certificate made at test time, a CA file for
//! clients to trust it, and an implicit-FTPS listener beside the explicit one.

use std::net::SocketAddr;
use std::path::PathBuf;

use ftp_server::tls::{ReloadableCert, SelfSigned, TlsConfig};

use crate::{free_port, TestServer};

/// Our server with FTPS on (explicit on [`TestServer::addr`], implicit on `implicit`).
pub struct TlsServer {
    /// The server (its `addr` takes `AUTH TLS`).
    pub server: TestServer,
    /// The implicit-FTPS listener (TLS from the first byte).
    pub implicit: SocketAddr,
    /// The server's certificate (for pinning tests).
    pub cert: SelfSigned,
    /// A PEM file holding the certificate, for clients to trust.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    /// Starts a server whose TLS policy `policy` sets (all policies start off).
    ///
    /// # Panics
    /// When the certificate or the server can't be set up.
    pub fn start(policy: impl FnOnce(&mut TlsConfig)) -> TlsServer {
        let cert = SelfSigned::generate(&["localhost".into(), "127.0.0.1".into()])
            .expect("self-signed certificate");
        let dir = tempfile::tempdir().expect("temporary directory");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &cert.cert_pem).expect("write the CA file");
        let mut tls = TlsConfig::new(ReloadableCert::fixed(
            cert.certified_key().expect("certified key"),
        ));
        policy(&mut tls);
        let implicit = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let server = TestServer::start_with(|cfg| {
            cfg.tls = Some(tls);
            cfg.implicit_tls_listen = vec![implicit];
        });
        TlsServer {
            server,
            implicit,
            cert,
            ca_file,
            _dir: dir,
        }
    }
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("server", &self.server)
            .field("implicit", &self.implicit)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}
