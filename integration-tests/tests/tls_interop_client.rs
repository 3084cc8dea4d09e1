//! Our client over FTPS against third-party servers: vsftpd with `ssl_enable=YES` and
//! `require_ssl_reuse=YES` (so every data connection must resume the control session), and
//! pyftpdlib's `TLS_FTPHandler`. Certificates are generated at test time.

use std::path::Path;
use std::time::Duration;

use ftp_client::tls::{TlsMode, Verify};
use ftp_client::{Client, DataMode, Options};
use futures_lite::io::AsyncReadExt;
use integration_tests::peers::{Pyftpdlib, Vsftpd, PEER_PASS, PEER_USER};
use integration_tests::{or_skip, test_bytes, with_timeout, CertFiles};

fn cert_files() -> CertFiles {
    CertFiles::new()
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

#[test]
fn our_client_works_with_pyftpdlib_tls_handler() {
    let test = "our_client_works_with_pyftpdlib_tls_handler";
    let certs = cert_files();
    let root = tempfile::tempdir().unwrap();
    let started = Pyftpdlib::start_tls(root.path(), &certs.cert, &certs.key, false);
    let Some(py) = or_skip(started, test) else {
        return;
    };
    for (mode, tag) in [(DataMode::Passive, "pasv"), (DataMode::Active, "port")] {
        with_timeout(
            60,
            exercise(
                py.addr.port(),
                PEER_USER,
                opts(&certs.cert, mode),
                &py.root,
                tag,
            ),
        );
    }
}
