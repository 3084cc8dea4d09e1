//! A TLS-enabled [`TestServer`]: a self-signed certificate made at test time, a CA file for
//! clients to trust it, and an implicit-FTPS listener beside the explicit one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ftp_server::tls::{ReloadableCert, SelfSigned, TlsConfig};

use crate::{bin_path, output_within, run_python, TestServer};

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
        // Port 0: a port picked beforehand may be taken by a parallel test in between.
        let server = TestServer::start_with(|cfg| {
            cfg.tls = Some(tls);
            cfg.implicit_tls_listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
        });
        let implicit = server.implicit_tls[0];
        TlsServer {
            server,
            implicit,
            cert,
            ca_file,
            _dir: dir,
        }
    }

    /// A server requiring TLS for the login, `PROT P` for transfers and TLS session reuse on
    /// data connections: what the FTPS interop tests run against.
    pub fn strict() -> TlsServer {
        TlsServer::start(|tls| {
            tls.require_tls_login = true;
            tls.require_prot_p = true;
            tls.require_session_reuse = true;
        })
    }

    /// The port of the implicit-FTPS listener (`implicit`) or the explicit one.
    pub fn port(&self, implicit: bool) -> u16 {
        if implicit {
            self.implicit.port()
        } else {
            self.server.addr.port()
        }
    }

    /// Runs a Python ftplib script against the explicit listener: `body` follows
    /// `FTPLIB_TLS_PRELUDE` (so it can use `host`, `port`, `user`, `pw`, `ctx` and
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

/// A self-signed certificate for `localhost` and 127.0.0.1 written as PEM files in a
/// world-readable directory (third-party servers read them after dropping privileges).
#[derive(Debug)]
pub struct CertFiles {
    /// The certificate (also the CA file clients trust).
    pub cert: PathBuf,
    /// Its private key (ECDSA P-256).
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

impl CertFiles {
    /// Generates the certificate and writes the files.
    ///
    /// # Panics
    /// When the certificate or the files can't be made.
    pub fn new() -> CertFiles {
        use std::os::unix::fs::PermissionsExt;
        let c = SelfSigned::generate(&["localhost".into(), "127.0.0.1".into()])
            .expect("self-signed certificate");
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the certificate directory");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, &c.cert_pem).expect("write the certificate");
        std::fs::write(&key, &c.key_pem).expect("write the key");
        CertFiles {
            cert,
            key,
            _dir: dir,
        }
    }
}

impl Default for CertFiles {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs the `ftp-client` binary with `--ca-file ca` (10 s timeouts, no retries) and `args`
/// in `cwd`, with a private HOME holding `netrc` as `.netrc` if given; stdin is null, 120 s
/// at most.
pub fn ftp_client_tls(ca: &Path, netrc: Option<&str>, args: &[&str], cwd: &Path) -> Output {
    let home = tempfile::tempdir().expect("temporary HOME");
    if let Some(text) = netrc {
        std::fs::write(home.path().join(".netrc"), text).expect("write .netrc");
    }
    output_within(
        Command::new(bin_path("ftp-client"))
            .args(["--timeout", "10", "--retries", "0", "--ca-file"])
            .arg(ca)
            .args(args)
            .current_dir(cwd)
            .env("HOME", home.path())
            .env_remove("FTP_PASSWORD")
            .stdin(Stdio::null()),
        Duration::from_secs(120),
    )
}
