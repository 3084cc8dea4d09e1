//! TLS on the control connection beyond `AUTH TLS`: `CCC` (refused by default, refused before
//! `AUTH`, and with `allow_ccc` a `close_notify` exchange after which the same TCP connection
//! goes on in plain text while `PROT P` data connections stay TLS), `REIN` ending TLS and
//! resetting `PBSZ`/`PROT`, a ClientHello pipelined right behind `AUTH TLS`, and plain-text
//! commands pipelined behind `AUTH TLS` never being executed (CVE-2011-0411 class).
//!
//! The clients are raw sockets driving `rustls::ClientConnection` by hand, with socket
//! timeouts, so nothing can hang.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use common::{data_stream, Srv, PASS, USER};
use ftp_proto::reply::ReplyParser;
use ftp_proto::Reply;
use ftp_server::tls::{ReloadableCert, SelfSigned, TlsConfig};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

fn start(allow_ccc: bool) -> (Srv, Arc<ClientConfig>) {
    let cert = SelfSigned::generate(&["localhost".into()]).unwrap();
    let mut tls = TlsConfig::new(ReloadableCert::fixed(cert.certified_key().unwrap()));
    tls.allow_ccc = allow_ccc;
    let srv = Srv::start_with(|c| c.tls = Some(tls));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert_der.clone()).unwrap();
    let cfg =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    (srv, Arc::new(cfg))
}

fn connection(cfg: &Arc<ClientConfig>) -> ClientConnection {
    ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap()).unwrap()
}

/// Reads one reply; `None` at EOF.
fn read_reply(r: &mut impl BufRead) -> Option<Reply> {
    let mut p = ReplyParser::default();
    for _ in 0..1000 {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if let Some(reply) = p.push_line(&line).unwrap() {
            return Some(reply);
        }
    }
    panic!("reply too long")
}

/// Reads one single-line reply a byte at a time, so no byte behind it is consumed.
fn read_line_exact(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < 1000 && !line.ends_with(b"\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "closed after {line:?}");
        line.push(b[0]);
    }
    String::from_utf8(line).unwrap()
}

fn tcp(addr: SocketAddr) -> TcpStream {
    data_stream(TcpStream::connect(addr).unwrap())
}

/// A control connection in either state.
enum Ctl {
    Plain(BufReader<TcpStream>),
    Tls(Box<BufReader<StreamOwned<ClientConnection, TcpStream>>>),
}

impl Ctl {
    /// Connects and reads the greeting.
    fn connect(addr: SocketAddr) -> Ctl {
        let mut c = Ctl::Plain(BufReader::new(tcp(addr)));
        assert_eq!(c.reply().code().as_u16(), 220);
        c
    }

    fn reply(&mut self) -> Reply {
        match self {
            Ctl::Plain(r) => read_reply(r),
            Ctl::Tls(r) => read_reply(r),
        }
        .expect("connection closed before a reply")
    }

    fn cmd(&mut self, line: &str) -> Reply {
        let bytes = format!("{line}\r\n");
        match self {
            Ctl::Plain(r) => r.get_mut().write_all(bytes.as_bytes()).unwrap(),
            Ctl::Tls(r) => {
                let s = r.get_mut();
                s.write_all(bytes.as_bytes()).unwrap();
                s.flush().unwrap();
            }
        }
        self.reply()
    }

    fn expect(&mut self, line: &str, code: u16) -> Reply {
        let r = self.cmd(line);
        assert_eq!(r.code().as_u16(), code, "{line} -> {r}");
        r
    }

    /// `AUTH TLS`, then the handshake.
    fn auth(self, cfg: &Arc<ClientConfig>) -> Ctl {
        let Ctl::Plain(mut r) = self else {
            panic!("already TLS")
        };
        r.get_mut().write_all(b"AUTH TLS\r\n").unwrap();
        let reply = read_reply(&mut r).unwrap();
        assert_eq!(reply.code().as_u16(), 234, "{reply}");
        assert!(r.buffer().is_empty());
        let mut tcp = r.into_inner();
        let mut conn = connection(cfg);
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        Ctl::Tls(Box::new(BufReader::new(StreamOwned::new(conn, tcp))))
    }

    /// After a `200` to `CCC` (or `220` to `REIN`): the server's `close_notify`, ours, then
    /// plain text on the same TCP connection.
    fn clear(self) -> Ctl {
        let Ctl::Tls(mut r) = self else {
            panic!("not TLS")
        };
        assert!(r.buffer().is_empty(), "nothing behind the reply");
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).expect("the server's close_notify");
        assert!(rest.is_empty(), "{rest:?}");
        let StreamOwned { mut conn, mut sock } = (*r).into_inner();
        conn.send_close_notify();
        while conn.wants_write() {
            conn.write_tls(&mut sock).unwrap();
        }
        Ctl::Plain(BufReader::new(sock))
    }

    fn login(&mut self) {
        self.expect(&format!("USER {USER}"), 331);
        self.expect(&format!("PASS {PASS}"), 230);
    }

    fn host(&self) -> std::net::IpAddr {
        match self {
            Ctl::Plain(r) => r.get_ref().peer_addr().unwrap().ip(),
            Ctl::Tls(r) => r.get_ref().sock.peer_addr().unwrap().ip(),
        }
    }

    /// `EPSV`, connect, `line`, then read the data (through TLS with `tls`) and the final reply.
    fn download(&mut self, line: &str, tls: Option<&Arc<ClientConfig>>) -> (Vec<u8>, Reply) {
        let r = self.expect("EPSV", 229);
        let port = ftp_proto::addr::parse_epsv_reply(&r.lines()[0]).unwrap();
        let mut data = tcp(SocketAddr::new(self.host(), port));
        self.expect(line, 150);
        let mut got = Vec::new();
        match tls {
            Some(cfg) => {
                let mut s = StreamOwned::new(connection(cfg), data);
                s.read_to_end(&mut got).unwrap();
            }
            None => {
                data.read_to_end(&mut got).unwrap();
            }
        }
        (got, self.reply())
    }
}

#[test]
fn ccc_is_refused_by_default_and_the_session_stays_protected() {
    let (srv, cfg) = start(false);
    let mut c = Ctl::connect(srv.addr).auth(&cfg);
    c.login();
    let r = c.expect("CCC", 534);
    assert!(
        String::from_utf8_lossy(&r.lines()[0]).contains("CCC"),
        "{r}"
    );
    c.expect("PWD", 257);
    c.expect("QUIT", 221);
}

#[test]
fn ccc_before_auth_tls_is_refused_as_unprotected() {
    let (srv, _) = start(true);
    let mut c = Ctl::connect(srv.addr);
    c.expect("CCC", 533);
    c.login();
    c.expect("CCC", 533);
    c.expect("PWD", 257);
}

#[test]
fn ccc_before_login_is_refused_so_credentials_stay_protected() {
    let (srv, cfg) = start(true);
    let mut c = Ctl::connect(srv.addr).auth(&cfg);
    c.expect("CCC", 530);
    c.login();
    c.expect("PWD", 257);
}

#[test]
fn allowed_ccc_exchanges_close_notify_then_continues_in_plain_text_with_prot_p_data() {
    let (srv, cfg) = start(true);
    srv.write("dir/a.txt", b"alpha");
    let mut c = Ctl::connect(srv.addr).auth(&cfg);
    c.login();
    c.expect("PBSZ 0", 200);
    c.expect("PROT P", 200);
    c.expect("CCC", 200);
    let mut c = c.clear();
    let r = c.expect("PWD", 257);
    assert_eq!(r.lines()[0], b"\"/\" is the current directory");
    // PROT P stays in force: the data connection still uses TLS (resuming the session).
    let (names, r) = c.download("NLST dir", Some(&cfg));
    assert_eq!(r.code().as_u16(), 226, "{r}");
    assert_eq!(names, b"dir/a.txt\r\n");
    let (body, r) = c.download("RETR dir/a.txt", Some(&cfg));
    assert_eq!((body.as_slice(), r.code().as_u16()), (&b"alpha"[..], 226));
    // The control connection can be protected again.
    let mut c = c.auth(&cfg);
    c.expect("PWD", 257);
    c.expect("QUIT", 221);
}

#[test]
fn rein_ends_tls_and_resets_pbsz_and_prot() {
    let (srv, cfg) = start(false);
    srv.write("b.txt", b"bravo");
    let mut c = Ctl::connect(srv.addr).auth(&cfg);
    c.login();
    c.expect("PBSZ 0", 200);
    c.expect("PROT P", 200);
    c.expect("REIN", 220);
    let mut c = c.clear();
    c.expect("PWD", 530);
    c.login();
    c.expect("PROT P", 503);
    // PROT is back to C: a plain data connection.
    let (body, r) = c.download("RETR b.txt", None);
    assert_eq!((body.as_slice(), r.code().as_u16()), (&b"bravo"[..], 226));
    // AUTH TLS works again on the same connection.
    let mut c = c.auth(&cfg);
    c.expect("PBSZ 0", 200);
    c.expect("PROT P", 200);
    let (body, r) = c.download("RETR b.txt", Some(&cfg));
    assert_eq!((body.as_slice(), r.code().as_u16()), (&b"bravo"[..], 226));
}

#[test]
fn client_hello_pipelined_behind_auth_tls_is_used_for_the_handshake() {
    let (srv, cfg) = start(false);
    let mut s = tcp(srv.addr);
    assert!(read_line_exact(&mut s).starts_with("220"));
    let mut conn = connection(&cfg);
    let mut first = b"AUTH TLS\r\n".to_vec();
    conn.write_tls(&mut first).unwrap();
    assert!(first.len() > 20, "a ClientHello follows the command");
    s.write_all(&first).unwrap();
    assert!(read_line_exact(&mut s).starts_with("234"));
    while conn.is_handshaking() {
        conn.complete_io(&mut s).unwrap();
    }
    let mut c = Ctl::Tls(Box::new(BufReader::new(StreamOwned::new(conn, s))));
    c.login();
    c.expect("PWD", 257);
}

/// Sends `bytes` in one write and returns everything the server sends after its `234`
/// until it closes the connection.
fn after_auth(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = tcp(addr);
    assert!(read_line_exact(&mut s).starts_with("220"));
    s.write_all(bytes).unwrap();
    assert!(read_line_exact(&mut s).starts_with("234"));
    let mut rest = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return rest,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return rest,
            Err(e) => panic!("the server did not close the connection: {e} after {rest:?}"),
        }
        assert!(rest.len() < 65536, "{rest:?}");
    }
}

#[test]
fn plain_commands_pipelined_behind_auth_tls_are_never_executed() {
    let (srv, _) = start(false);
    // Command injection (CVE-2011-0411 class): the bytes go to TLS as garbage, the
    // handshake fails and the connection closes; USER is never answered.
    let rest = after_auth(srv.addr, format!("AUTH TLS\r\nUSER {USER}\r\n").as_bytes());
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("331"), "USER executed: {text:?}");
    let rest = after_auth(
        srv.addr,
        format!("AUTH TLS\r\nUSER {USER}\r\nPASS {PASS}\r\nMKD injected\r\n").as_bytes(),
    );
    assert!(!String::from_utf8_lossy(&rest).contains("230"), "{rest:?}");
    assert!(!srv.path("injected").exists());
    // The server is fine for the next client.
    let mut c = Ctl::connect(srv.addr);
    c.login();
}
