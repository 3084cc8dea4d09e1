//! A `PROT P` data connection whose client finishes the TLS handshake *before* it sends the
//! transfer command (as aioftp does) works, as does the RFC 4217 order (command, `150`, then
//! the handshake); the data connection resumes the control session (reuse required).

use std::sync::Arc;

use async_net::TcpStream;
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures_rustls::{client::TlsStream, TlsConnector};
use integration_tests::{test_bytes, with_timeout, TestServer, TlsServer};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};

type Ctl = BufReader<TlsStream<TcpStream>>;

/// Reads one reply; returns its last line.
async fn reply(c: &mut Ctl) -> String {
    loop {
        let mut line = String::new();
        assert!(c.read_line(&mut line).await.unwrap() > 0, "control closed");
        if line.len() >= 4 && line.as_bytes()[3] == b' ' {
            return line;
        }
    }
}

async fn cmd(c: &mut Ctl, line: &str, want: &str) -> String {
    c.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .unwrap();
    c.get_mut().flush().await.unwrap();
    let r = reply(c).await;
    assert!(r.starts_with(want), "{line}: {r}");
    r
}

/// EPSV's port.
fn epsv_port(r: &str) -> u16 {
    let inner = r
        .split("(|||")
        .nth(1)
        .and_then(|s| s.split('|').next())
        .unwrap();
    inner.parse().unwrap()
}

async fn download(t: &TlsServer, cfg: Arc<ClientConfig>, handshake_first: bool) -> Vec<u8> {
    let connector = TlsConnector::from(cfg);
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let tcp = TcpStream::connect(t.implicit).await.unwrap();
    let mut c = BufReader::new(connector.connect(name.clone(), tcp).await.unwrap());
    reply(&mut c).await;
    cmd(&mut c, &format!("USER {}", TestServer::USER), "331").await;
    cmd(&mut c, &format!("PASS {}", TestServer::PASS), "230").await;
    cmd(&mut c, "PBSZ 0", "200").await;
    cmd(&mut c, "PROT P", "200").await;
    let port = epsv_port(&cmd(&mut c, "EPSV", "229").await);
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut data = if handshake_first {
        let d = connector
            .connect(name, tcp)
            .await
            .expect("handshake before RETR");
        cmd(&mut c, "RETR f.bin", "150").await;
        d
    } else {
        cmd(&mut c, "RETR f.bin", "150").await;
        connector
            .connect(name, tcp)
            .await
            .expect("handshake after 150")
    };
    let mut got = Vec::new();
    let _ = data.read_to_end(&mut got).await;
    assert!(reply(&mut c).await.starts_with("226"));
    got
}

#[test]
fn data_tls_handshake_before_or_after_the_transfer_command_works() {
    let t = TlsServer::strict();
    let want = test_bytes(300_000, 4);
    std::fs::write(t.server.path("f.bin"), &want).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(t.cert.cert_der.clone()).unwrap();
    let cfg = Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    with_timeout(60, async {
        for handshake_first in [true, false, true] {
            let got = download(&t, cfg.clone(), handshake_first).await;
            assert!(
                got == want,
                "handshake_first={handshake_first}: wrong bytes"
            );
        }
    });
}
