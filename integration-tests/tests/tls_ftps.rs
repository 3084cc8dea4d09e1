//! FTPS (RFC 4217) between our client and our server, and policy checks with raw TLS
//! clients: session reuse enforced on data connections, plain login refused when TLS is
//! required, truncated uploads detected, PROT C refused when PROT P is required.
//! Certificates are generated at test time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ftp_client::tls::{TlsMode, Verify};
use ftp_client::{Client, DataMode, Options};
use ftp_server::tls::TlsConfig;
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use integration_tests::{test_bytes, with_timeout, TestServer, TlsServer as Tls};
use rustls::pki_types::ServerName;

fn start(policy: impl FnOnce(&mut TlsConfig)) -> Tls {
    Tls::start(policy)
}

/// Everything required: TLS for login, PROT P, session reuse.
fn strict() -> Tls {
    start(|t| {
        t.require_tls_login = true;
        t.require_prot_p = true;
        t.require_session_reuse = true;
    })
}

fn opts(t: &Tls, tls: TlsMode, mode: DataMode, extended: bool) -> Options {
    Options {
        tls,
        verify: Verify::CaFile(t.ca_file.clone()),
        mode,
        extended_data_commands: extended,
        connect_timeout: Duration::from_secs(10),
        reply_timeout: Duration::from_secs(10),
        data_timeout: Duration::from_secs(10),
        ..Options::default()
    }
}

async fn download(c: &mut Client, path: &str) -> Vec<u8> {
    let mut dl = c.retr(path, 0).await.expect("RETR");
    let mut out = Vec::new();
    dl.read_to_end(&mut out).await.expect("read data");
    dl.finish().await.expect("226");
    out
}

/// Uploads, downloads and lists several times over one TLS session (so every data
/// connection has to resume the control connection's session).
async fn exercise(t: &Tls, addr: SocketAddr, o: Options, tag: &str) {
    let mut c = Client::connect("127.0.0.1", addr.port(), o)
        .await
        .expect("connect");
    assert!(c.is_tls());
    c.login(TestServer::USER, TestServer::PASS)
        .await
        .expect("login");
    for i in 0..4u64 {
        let name = format!("{tag}-{i}.bin");
        let data = test_bytes(200_000 + i as usize * 4099, i + 1);
        let sent = c.stor(&name, &data[..], 0).await.expect("STOR");
        assert_eq!(sent, data.len() as u64);
        assert!(
            std::fs::read(t.server.path(&name)).unwrap() == data,
            "bytes on disk of {name}"
        );
        assert!(download(&mut c, &name).await == data, "downloaded {name}");
        let names = c.nlst(None).await.expect("NLST");
        assert!(names.iter().any(|n| n == name.as_bytes()), "{name} listed");
        let entries = c.list(None).await.expect("MLSD/LIST");
        assert!(entries.iter().any(|e| e.name == name.as_bytes()));
    }
    c.quit().await.expect("QUIT");
}

#[test]
fn our_client_and_server_use_explicit_tls_in_every_data_mode_with_reuse_enforced() {
    let t = strict();
    for (mode, extended, tag) in [
        (DataMode::Passive, true, "epsv"),
        (DataMode::Passive, false, "pasv"),
        (DataMode::Active, true, "eprt"),
        (DataMode::Active, false, "port"),
    ] {
        let o = opts(&t, TlsMode::Explicit, mode, extended);
        with_timeout(60, exercise(&t, t.server.addr, o, tag));
    }
}

#[test]
fn our_client_and_server_use_implicit_tls() {
    let t = strict();
    let o = opts(&t, TlsMode::Implicit, DataMode::Passive, true);
    with_timeout(60, exercise(&t, t.implicit, o, "implicit"));
}

#[test]
fn client_pinning_the_server_certificate_connects_and_a_wrong_pin_fails_with_a_tls_error() {
    let t = strict();
    let pin = ftp_client::tls::cert_sha256(&t.cert.cert_der);
    let mut o = opts(&t, TlsMode::Explicit, DataMode::Passive, true);
    o.verify = Verify::PinSha256(pin);
    with_timeout(30, exercise(&t, t.server.addr, o.clone(), "pinned"));
    o.verify = Verify::PinSha256([7; 32]);
    let e = with_timeout(30, Client::connect("127.0.0.1", t.server.addr.port(), o)).unwrap_err();
    assert_eq!(e.class(), ftp_client::ErrorClass::Tls, "{e}");
}

#[test]
fn plain_login_is_refused_when_tls_is_required() {
    let t = strict();
    with_timeout(30, async {
        let o = opts(&t, TlsMode::Off, DataMode::Passive, true);
        let mut c = Client::connect("127.0.0.1", t.server.addr.port(), o)
            .await
            .unwrap();
        let feat = c
            .command(&ftp_proto::Command::Feat)
            .await
            .unwrap()
            .to_string();
        for f in ["AUTH TLS", "PBSZ", "PROT"] {
            assert!(feat.contains(f), "FEAT lists {f}: {feat}");
        }
        let r = c
            .command(&ftp_proto::Command::User(TestServer::USER.into()))
            .await
            .unwrap();
        assert_eq!(r.code().as_u16(), 530, "{r}");
        assert!(c.login(TestServer::USER, TestServer::PASS).await.is_err());
    });
}

// ---- raw TLS clients, for what our client never does ----

fn client_config(t: &Tls) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(t.cert.cert_der.clone()).unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

type Tcp = async_net::TcpStream;
type TlsCtl = futures_rustls::client::TlsStream<Tcp>;

/// A control connection: plain until `auth`, then TLS.
struct Raw {
    ctl: BufReader<TlsCtl>,
    cfg: Arc<rustls::ClientConfig>,
    host: std::net::IpAddr,
}

async fn read_reply<R: futures_lite::io::AsyncBufRead + Unpin>(r: &mut R) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).await.unwrap();
        assert!(n > 0, "control connection closed after {all:?}");
        all.push_str(&line);
        let b = line.as_bytes();
        if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
            return all;
        }
    }
}

impl Raw {
    /// Connects, `AUTH TLS`, handshake with `cfg`, logs in, `PBSZ 0`, `PROT P`.
    async fn login(t: &Tls, cfg: Arc<rustls::ClientConfig>) -> Raw {
        let addr = t.server.addr;
        let mut tcp = BufReader::new(Tcp::connect(addr).await.unwrap());
        assert!(read_reply(&mut tcp).await.starts_with("220"));
        tcp.get_mut().write_all(b"AUTH TLS\r\n").await.unwrap();
        assert!(read_reply(&mut tcp).await.starts_with("234"));
        let name = ServerName::try_from("localhost").unwrap();
        let tls = futures_rustls::TlsConnector::from(cfg.clone())
            .connect(name, tcp.into_inner())
            .await
            .unwrap();
        let mut raw = Raw {
            ctl: BufReader::new(tls),
            cfg,
            host: addr.ip(),
        };
        let user = format!("USER {}", TestServer::USER);
        let pass = format!("PASS {}", TestServer::PASS);
        for (cmd, code) in [
            (user.as_str(), "331"),
            (pass.as_str(), "230"),
            ("TYPE I", "200"),
            ("PBSZ 0", "200"),
            ("PROT P", "200"),
        ] {
            let r = raw.cmd(cmd).await;
            assert!(r.starts_with(code), "{cmd} -> {r}");
        }
        raw
    }

    async fn cmd(&mut self, line: &str) -> String {
        let w = self.ctl.get_mut();
        w.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        w.flush().await.unwrap();
        read_reply(&mut self.ctl).await
    }

    /// `EPSV`, connects, sends `cmd`, expects 150, and runs the data handshake with `cfg`.
    async fn data(&mut self, cmd: &str, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<TlsCtl> {
        let r = self.cmd("EPSV").await;
        let port = ftp_proto::addr::parse_epsv_reply(r.trim_end().as_bytes()).unwrap();
        let tcp = Tcp::connect((self.host, port)).await.unwrap();
        let r = self.cmd(cmd).await;
        assert!(r.starts_with("150"), "{cmd} -> {r}");
        let name = ServerName::try_from("localhost").unwrap();
        futures_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await
    }
}

#[test]
fn data_connection_that_does_not_resume_the_session_is_refused() {
    let t = strict();
    std::fs::write(t.server.path("f.txt"), b"secret data").unwrap();
    with_timeout(30, async {
        let mut raw = Raw::login(&t, client_config(&t)).await;
        // A fresh client configuration has no session to resume: a full handshake.
        let stranger = client_config(&t);
        let mut got = Vec::new();
        if let Ok(mut d) = raw.data("RETR f.txt", stranger).await {
            let _ = d.read_to_end(&mut got).await;
        }
        assert!(got.is_empty(), "no data leaked: {got:?}");
        let r = read_reply(&mut raw.ctl).await;
        assert!(r.starts_with("425"), "{r}");
        // The same session's configuration resumes and works.
        let cfg = raw.cfg.clone();
        let mut d = raw.data("RETR f.txt", cfg).await.unwrap();
        let mut got = Vec::new();
        d.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"secret data");
        assert!(read_reply(&mut raw.ctl).await.starts_with("226"));
    });
}

#[test]
fn upload_cut_without_close_notify_is_not_accepted_as_complete() {
    let t = strict();
    with_timeout(30, async {
        let mut raw = Raw::login(&t, client_config(&t)).await;
        let cfg = raw.cfg.clone();
        let mut d = raw.data("STOR cut.bin", cfg).await.unwrap();
        d.write_all(&test_bytes(100_000, 9)).await.unwrap();
        d.flush().await.unwrap();
        // Close the TCP connection without TLS close_notify: a truncation attack.
        let (tcp, _) = d.into_inner();
        tcp.shutdown(std::net::Shutdown::Both).unwrap();
        drop(tcp);
        let r = read_reply(&mut raw.ctl).await;
        assert!(r.starts_with("426") || r.starts_with("451"), "{r}");
        assert!(
            !t.server.path("cut.bin").exists(),
            "no file from a cut upload"
        );
    });
}

#[test]
fn prot_c_and_unprotected_transfers_are_refused_when_prot_p_is_required() {
    let t = strict();
    with_timeout(30, async {
        let mut raw = Raw::login(&t, client_config(&t)).await;
        let r = raw.cmd("PROT C").await;
        assert!(r.starts_with("534"), "{r}");
        let r = raw.cmd("CCC").await;
        assert!(r.starts_with("534"), "{r}");
    });
    // Without PROT P, transfers get 521.
    with_timeout(30, async {
        let addr = t.server.addr;
        let mut tcp = BufReader::new(Tcp::connect(addr).await.unwrap());
        read_reply(&mut tcp).await;
        tcp.get_mut().write_all(b"AUTH TLS\r\n").await.unwrap();
        read_reply(&mut tcp).await;
        let name = ServerName::try_from("localhost").unwrap();
        let tls = futures_rustls::TlsConnector::from(client_config(&t))
            .connect(name, tcp.into_inner())
            .await
            .unwrap();
        let mut c = BufReader::new(tls);
        for (cmd, code) in [
            ("USER alice", "331"),
            ("PASS secret", "230"),
            ("LIST", "521"),
        ] {
            c.get_mut()
                .write_all(format!("{cmd}\r\n").as_bytes())
                .await
                .unwrap();
            c.get_mut().flush().await.unwrap();
            let r = read_reply(&mut c).await;
            assert!(r.starts_with(code), "{cmd} -> {r}");
        }
    });
}

#[test]
fn server_without_reuse_requirement_accepts_fresh_data_sessions() {
    let t = start(|t| t.require_session_reuse = false);
    std::fs::write(t.server.path("f.txt"), b"abc").unwrap();
    with_timeout(30, async {
        let mut raw = Raw::login(&t, client_config(&t)).await;
        let mut d = raw.data("RETR f.txt", client_config(&t)).await.unwrap();
        let mut got = Vec::new();
        d.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"abc");
        assert!(read_reply(&mut raw.ctl).await.starts_with("226"));
    });
}

/// Protected transfers run on the server's multi-threaded TLS pool: many sessions at once,
/// each uploading and downloading its own data, all get back exactly what they sent.
#[test]
fn many_concurrent_tls_sessions_all_transfer_byte_identical_data() {
    let t = strict();
    let one = |k: u64| {
        let t = &t;
        async move {
            let o = opts(t, TlsMode::Explicit, DataMode::Passive, true);
            let mut c = Client::connect("127.0.0.1", t.server.addr.port(), o)
                .await
                .expect("connect");
            c.login(TestServer::USER, TestServer::PASS)
                .await
                .expect("login");
            for i in 0..2u64 {
                let name = format!("par-{k}-{i}.bin");
                let data = test_bytes(700_000 + (k * 2 + i) as usize * 1031, k * 10 + i + 1);
                let sent = c.stor(&name, &data[..], 0).await.expect("STOR");
                assert_eq!(sent, data.len() as u64);
                assert!(download(&mut c, &name).await == data, "downloaded {name}");
                assert!(
                    std::fs::read(t.server.path(&name)).unwrap() == data,
                    "bytes on disk of {name}"
                );
            }
            c.quit().await.expect("QUIT");
        }
    };
    std::thread::scope(|s| {
        let one = &one;
        for k in 0..8 {
            s.spawn(move || with_timeout(120, one(k)));
        }
    });
}
