//! Our client over FTPS against third-party servers: vsftpd with `ssl_enable=YES` and
//! `require_ssl_reuse=YES` (so every data connection must resume the control session), and
//! pyftpdlib's `TLS_FTPHandler`. Certificates are generated at test time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ftp_client::tls::{TlsMode, Verify};
use ftp_client::{Client, DataMode, Options};
use ftp_server::tls::SelfSigned;
use futures_lite::io::AsyncReadExt;
use integration_tests::peers::{Vsftpd, PEER_PASS, PEER_USER};
use integration_tests::{or_skip, python_module, test_bytes, with_timeout, ChildGuard};

/// A certificate for 127.0.0.1 written as world-readable PEM files.
struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

fn cert_files() -> CertFiles {
    let c = SelfSigned::generate(&["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &c.cert_pem).unwrap();
    std::fs::write(&key, &c.key_pem).unwrap();
    CertFiles {
        cert,
        key,
        _dir: dir,
    }
}

fn opts(ca: &Path, mode: DataMode) -> Options {
    Options {
        tls: TlsMode::Explicit,
        verify: Verify::CaFile(ca.to_path_buf()),
        mode,
        connect_timeout: Duration::from_secs(10),
        reply_timeout: Duration::from_secs(10),
        data_timeout: Duration::from_secs(10),
        ..Options::default()
    }
}

/// Several uploads, downloads and listings on one TLS session, checked on disk.
async fn exercise(port: u16, user: &str, o: Options, root: &Path, tag: &str) {
    let mut c = Client::connect("127.0.0.1", port, o)
        .await
        .expect("connect with TLS");
    c.login(user, PEER_PASS).await.expect("login");
    for i in 0..3u64 {
        let name = format!("{tag}-{i}.bin");
        let data = test_bytes(150_000 + i as usize * 3001, 40 + i);
        c.stor(&name, &data[..], 0).await.expect("STOR");
        assert!(
            std::fs::read(root.join(&name)).unwrap() == data,
            "{name} on disk"
        );
        let mut dl = c.retr(&name, 0).await.expect("RETR");
        let mut got = Vec::new();
        dl.read_to_end(&mut got).await.expect("read");
        dl.finish().await.expect("226");
        assert!(got == data, "{name} downloaded");
        let names: Vec<Vec<u8>> = c
            .list(None)
            .await
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(names.iter().any(|n| n == name.as_bytes()), "{name} listed");
    }
    c.quit().await.expect("QUIT");
}

#[test]
fn our_client_works_with_vsftpd_requiring_tls_session_reuse() {
    let test = "our_client_works_with_vsftpd_requiring_tls_session_reuse";
    let certs = cert_files();
    let root = tempfile::tempdir().unwrap();
    let Some(peer) = or_skip(
        Vsftpd::start_tls(root.path(), &certs.cert, &certs.key),
        test,
    ) else {
        return;
    };
    for (mode, tag) in [(DataMode::Passive, "pasv"), (DataMode::Active, "port")] {
        with_timeout(
            60,
            exercise(
                peer.addr.port(),
                &peer.user,
                opts(&certs.cert, mode),
                &peer.root,
                tag,
            ),
        );
    }
    // Plain logins are refused by this vsftpd: TLS really was in use.
    let plain = Options {
        tls: TlsMode::Off,
        ..opts(&certs.cert, DataMode::Passive)
    };
    let refused = with_timeout(30, async {
        let mut c = Client::connect("127.0.0.1", peer.addr.port(), plain)
            .await
            .unwrap();
        c.login(&peer.user, PEER_PASS).await.is_err()
    });
    assert!(refused, "vsftpd log:\n{}", peer.log());
}

/// pyftpdlib with TLS_FTPHandler, started here (it needs the certificate paths).
struct PyTls {
    port: u16,
    _process: ChildGuard,
}

fn start_pyftpdlib_tls(root: &Path, certs: &CertFiles) -> Result<PyTls, integration_tests::Skip> {
    let python = python_module("pyftpdlib")?;
    python_module("OpenSSL")?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join("pyftpdlib_tls_server.py");
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .arg(root)
        .arg(PEER_USER)
        .arg(PEER_PASS)
        .arg(&certs.cert)
        .arg(&certs.key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut process = ChildGuard::spawn(&mut cmd).expect("start python3");
    let stdout = process.child_mut().stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = tx.send(reader.read_line(&mut line).map(|_| line));
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("pyftpdlib reports its port")
        .expect("read the port");
    let port = line.trim().parse().expect("a port number");
    Ok(PyTls {
        port,
        _process: process,
    })
}

#[test]
fn our_client_works_with_pyftpdlib_tls_handler() {
    let test = "our_client_works_with_pyftpdlib_tls_handler";
    let certs = cert_files();
    let root = tempfile::tempdir().unwrap();
    let Some(py) = or_skip(start_pyftpdlib_tls(root.path(), &certs), test) else {
        return;
    };
    for (mode, tag) in [(DataMode::Passive, "pasv"), (DataMode::Active, "port")] {
        with_timeout(
            60,
            exercise(
                py.port,
                PEER_USER,
                opts(&certs.cert, mode),
                root.path(),
                tag,
            ),
        );
    }
}
