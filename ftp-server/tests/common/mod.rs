//! A raw-socket FTP test client and an in-process server for the ftp-server tests.
//!
//! Everything is blocking with socket timeouts, so no test can hang.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use ftp_proto::reply::ReplyParser;
use ftp_proto::{Reply, ReplyCode};
use ftp_server::{Config, Server, ShutdownHandle, User};

/// Socket read/write timeout: a test waiting longer than this fails instead of hanging.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub const USER: &str = "alice";
pub const PASS: &str = "secret";

/// A server on a loopback port with user alice/secret (all permissions) at `root`.
pub struct Srv {
    pub addr: SocketAddr,
    /// The admin HTTP listener, when `admin_listen` was configured.
    pub admin: Option<SocketAddr>,
    pub root: tempfile::TempDir,
    /// The server's bans and per-user session counts.
    pub access: std::sync::Arc<ftp_server::access::Access>,
    stop: ShutdownHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Srv {
    pub fn start() -> Srv {
        Srv::start_with(|_| {})
    }

    pub fn start_v6() -> Srv {
        Srv::start_with(|c| c.listen = vec!["[::1]:0".parse().unwrap()])
    }

    pub fn start_with(configure: impl FnOnce(&mut Config)) -> Srv {
        Srv::start_server(configure, |s| s)
    }

    /// [`Srv::start_with`], with `adjust` applied to the bound server before it runs.
    pub fn start_server(
        configure: impl FnOnce(&mut Config),
        adjust: impl FnOnce(Server) -> Server,
    ) -> Srv {
        let root = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            users: vec![User::new(USER, PASS, root.path())],
            login_failure_delay: Duration::from_millis(50),
            ..Config::default()
        };
        configure(&mut cfg);
        let server = adjust(smol::block_on(Server::bind(cfg)).unwrap());
        let addr = server.local_addrs()[0];
        let admin = server.admin_addr();
        let stop = server.shutdown_handle();
        let access = server.access();
        let thread = std::thread::spawn(move || smol::block_on(server.run()).unwrap());
        Srv {
            addr,
            admin,
            root,
            access,
            stop,
            thread: Some(thread),
        }
    }

    pub fn path(&self, rel: &str) -> std::path::PathBuf {
        self.root.path().join(rel)
    }

    pub fn write(&self, rel: &str, data: &[u8]) {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(p, data).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap()
    }

    /// A logged-in control connection.
    pub fn login(&self) -> Ctl {
        let mut c = Ctl::connect(self.addr);
        c.login(USER, PASS);
        c
    }

    /// Stops the server and waits for `run` to return.
    pub fn shutdown(&mut self) {
        self.stop.shutdown();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        self.stop.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A control connection speaking raw FTP.
pub struct Ctl {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub greeting: Reply,
}

impl Ctl {
    pub fn connect(addr: SocketAddr) -> Ctl {
        Ctl::over(data_stream(TcpStream::connect(addr).unwrap()))
    }

    /// A control connection from local address `from_ip` (another host on loopback).
    pub fn connect_from(from_ip: &str, addr: SocketAddr) -> Ctl {
        Ctl::over(bind_connect(from_ip, addr))
    }

    /// A control connection over `stream` (already connected; bytes such as a PROXY header
    /// may have gone out on it); reads the greeting.
    pub fn over(stream: TcpStream) -> Ctl {
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut c = Ctl {
            stream,
            reader,
            greeting: Reply::new(ReplyCode::OK, ""),
        };
        c.greeting = c.reply();
        c
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Reads the next reply; panics on EOF or timeout.
    pub fn reply(&mut self) -> Reply {
        self.try_reply().expect("connection closed before a reply")
    }

    /// The next reply, or `None` at EOF.
    pub fn try_reply(&mut self) -> Option<Reply> {
        let mut p = ReplyParser::default();
        for _ in 0..100_000 {
            let mut line = Vec::new();
            let n = self.reader.read_until(b'\n', &mut line).ok()?;
            if n == 0 {
                return None;
            }
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            if let Some(r) = p.push_line(&line).unwrap() {
                return Some(r);
            }
        }
        panic!("reply too long")
    }

    /// Bytes the server sent that no reply has read yet (without reading more).
    pub fn buffered(&self) -> &[u8] {
        self.reader.buffer()
    }

    /// True when the server closed the connection (EOF without further replies).
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 256];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send(line);
        self.reply()
    }

    /// Sends `line` and asserts the reply code.
    pub fn expect(&mut self, line: &str, code: u16) -> Reply {
        let r = self.cmd(line);
        assert_eq!(r.code().as_u16(), code, "{line} -> {r}");
        r
    }

    /// Reads the next reply and asserts its code.
    pub fn expect_reply(&mut self, code: u16) -> Reply {
        let r = self.reply();
        assert_eq!(r.code().as_u16(), code, "{r}");
        r
    }

    pub fn login(&mut self, user: &str, pass: &str) {
        self.expect(&format!("USER {user}"), 331);
        self.expect(&format!("PASS {pass}"), 230);
    }

    /// Whether `user`/`pass` log in now (a new connection to `addr`).
    pub fn logs_in(addr: SocketAddr, user: &str, pass: &str) -> bool {
        let mut c = Ctl::connect(addr);
        c.expect(&format!("USER {user}"), 331);
        c.cmd(&format!("PASS {pass}")).code().as_u16() == 230
    }

    /// EPSV, then connect to the announced port on the control peer's address.
    pub fn epsv(&mut self) -> TcpStream {
        let r = self.expect("EPSV", 229);
        let port = ftp_proto::addr::parse_epsv_reply(&r.lines()[0]).unwrap();
        let ip = self.stream.peer_addr().unwrap().ip();
        data_stream(TcpStream::connect(SocketAddr::new(ip, port)).unwrap())
    }

    /// PASV, then connect to the announced address.
    pub fn pasv(&mut self) -> TcpStream {
        let r = self.expect("PASV", 227);
        let a = ftp_proto::addr::parse_pasv_reply(&r.lines()[0]).unwrap();
        data_stream(TcpStream::connect(a).unwrap())
    }

    /// Runs a download command (RETR, LIST, ...) over EPSV; returns the bytes and the final reply.
    pub fn download(&mut self, line: &str) -> (Vec<u8>, Reply) {
        let mut d = self.epsv();
        let r = self.cmd(line);
        assert_eq!(r.code().as_u16(), 150, "{line} -> {r}");
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        (out, self.reply())
    }

    /// Runs an upload command over EPSV; returns the final reply.
    pub fn upload(&mut self, line: &str, data: &[u8]) -> Reply {
        let mut d = self.epsv();
        let r = self.cmd(line);
        assert_eq!(r.code().as_u16(), 150, "{line} -> {r}");
        d.write_all(data).unwrap();
        d.shutdown(Shutdown::Write).unwrap();
        drop(d);
        self.reply()
    }

    pub fn text(&mut self, line: &str) -> String {
        let (b, r) = self.download(line);
        assert_eq!(r.code().as_u16(), 226, "{line} -> {r}");
        String::from_utf8(b).unwrap()
    }
}

/// A TCP connection to `to` from local address `from_ip` (bind before connect), with the
/// timeouts of [`data_stream`].
pub fn bind_connect(from_ip: &str, to: SocketAddr) -> TcpStream {
    use rustix::net::{bind, connect, socket, AddressFamily, SocketType};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    let from: std::net::SocketAddrV4 = format!("{from_ip}:0").parse().unwrap();
    bind(&fd, &SocketAddr::V4(from)).unwrap();
    connect(&fd, &to).unwrap();
    data_stream(TcpStream::from(fd))
}

/// True when a connection from `from_ip` is closed by the server before any byte (refused
/// at accept: `deny_ips`, `allow_ips`, a ban).
pub fn closed_before_greeting(from_ip: &str, to: SocketAddr) -> bool {
    let mut s = bind_connect(from_ip, to);
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Ok(_) => false,
        Err(e) => panic!("no greeting and no close: {e}"),
    }
}

pub fn data_stream(s: TcpStream) -> TcpStream {
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// An active-mode listener on the control connection's local address.
pub fn active_listener(ctl: &Ctl) -> TcpListener {
    let ip = ctl.stream.local_addr().unwrap().ip();
    TcpListener::bind(SocketAddr::new(ip, 0)).unwrap()
}

/// Accepts one connection with a timeout (the listener is polled, bounded).
pub fn accept_timeout(l: &TcpListener, limit: Duration) -> Option<TcpStream> {
    l.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return Some(data_stream(s));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
    None
}

/// Waits (bounded) until `cond` holds; panics otherwise.
pub fn eventually(what: &str, cond: impl FnMut() -> bool) {
    eventually_within(
        what,
        Duration::from_secs(5),
        Duration::from_millis(10),
        cond,
    )
}

/// Tries `cond` every `pause` until it holds; panics once `limit` has passed.
pub fn eventually_within(
    what: &str,
    limit: Duration,
    pause: Duration,
    mut cond: impl FnMut() -> bool,
) {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(pause);
    }
    panic!("timed out waiting for: {what}");
}

/// Names in a directory (for checking that no temporary files are left).
pub fn dir_names(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Writes a sparse file of `len` bytes (fast to create, slow to send).
pub fn sparse(p: &Path, len: u64) {
    let f = std::fs::File::create(p).unwrap();
    f.set_len(len).unwrap();
}

/// One HTTP/1.1 request (`Connection: close`) to the admin listener, with a bearer
/// `token` if given; the status and the body.
pub fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {resp:?}"));
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

/// The value of the Prometheus sample `name` (with its labels) in the metrics text, 0 when absent.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}
