//! A TLS-enabled [`TestServer`]: a self-signed certificate made at test time, a CA file for
//! clients to trust it, and an implicit-FTPS listener beside the explicit one.

use std::net::SocketAddr;
use std::path::PathBuf;

use ftp_server::tls::{ReloadableCert, SelfSigned, TlsConfig};

use crate::{free_port, run_python, TestServer};

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

/// The start of every Python FTPS script [`TlsServer::run_ftplib`] runs: it reads `host`,
/// `port`, `user`, `pw` and `ca` from the command line, builds `ctx` trusting the test CA, and
/// defines `ReusingFTP_TLS`, an `ftplib.FTP_TLS` that resumes the control connection's TLS
/// session on data connections (stock ftplib starts a new one, which servers requiring reuse
/// refuse). After `ccc()` the control socket has no session any more, so a script that clears
/// the channel first keeps the earlier one in `f.saved`.
const FTPLIB_TLS_PRELUDE: &str = r#"
import ftplib, io, ssl, sys
host, port, user, pw, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False

class ReusingFTP_TLS(ftplib.FTP_TLS):
    saved = None
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            session = getattr(self.sock, "session", None) or self.saved
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size
"#;

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

    /// Runs a Python ftplib script against the explicit listener: `body` follows
    /// [`FTPLIB_TLS_PRELUDE`] (so it can use `host`, `port`, `user`, `pw`, `ctx` and
    /// `ReusingFTP_TLS`) and must exit successfully. False when python3 is missing and the
    /// test should return (see [`run_python`]).
    pub fn run_ftplib(&self, test: &str, body: &str) -> bool {
        let script = format!("{FTPLIB_TLS_PRELUDE}\n{body}");
        let port = self.server.addr.port().to_string();
        let args = [
            "-c",
            &script,
            "127.0.0.1",
            &port,
            TestServer::USER,
            TestServer::PASS,
        ];
        run_python(
            test,
            args.iter()
                .map(std::ffi::OsStr::new)
                .chain([self.ca_file.as_os_str()]),
        )
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
