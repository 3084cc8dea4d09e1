//! Our server, in-process, for end-to-end tests.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ftp_server::{Config, Server, ServerError, ShutdownHandle, User};

/// Our `ftp-server` running on a background thread, shut down when dropped.
///
/// [`TestServer::start`] listens on 127.0.0.1 (port chosen by the OS) with one user,
/// [`TestServer::USER`] / [`TestServer::PASS`], who has every permission on [`TestServer::root`],
/// a fresh temporary directory.
///
/// ```
/// use std::io::{BufRead, BufReader};
/// let server = integration_tests::TestServer::start();
/// let stream = std::net::TcpStream::connect(server.addr).unwrap();
/// let mut greeting = String::new();
/// BufReader::new(stream).read_line(&mut greeting).unwrap();
/// assert!(greeting.starts_with("220"));
/// ```
#[derive(Debug)]
pub struct TestServer {
    /// The control address (127.0.0.1 or ::1, with the bound port).
    pub addr: SocketAddr,
    /// The user's home directory, served as `/`.
    pub root: tempfile::TempDir,
    /// The bound implicit-FTPS addresses (`Config::implicit_tls_listen`, ports resolved).
    pub implicit_tls: Vec<SocketAddr>,
    /// The admin HTTP listener's address, when `admin_listen` was configured.
    pub admin: Option<SocketAddr>,
    shutdown: ShutdownHandle,
    grace: Duration,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl TestServer {
    /// The test user's name.
    pub const USER: &'static str = "alice";
    /// The test user's password.
    pub const PASS: &'static str = "secret";

    /// Starts a server on 127.0.0.1:0 with the user alice/secret (all permissions, home = root).
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    /// Starts a server on `[::1]:0` with the same user.
    pub fn start_v6() -> TestServer {
        Self::start_with(|cfg| {
            cfg.listen = vec![SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0))]
        })
    }

    /// Like [`TestServer::start`], but `configure` may change the configuration before the
    /// server binds (listen addresses, anonymous root, more users, limits…).
    ///
    /// The defaults differ from [`Config::default`] only where tests need it: 127.0.0.1:0,
    /// the user alice, a 2 s shutdown grace period and no delay after a failed login.
    ///
    /// # Panics
    /// When the server cannot bind.
    pub fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        let root = tempfile::tempdir().expect("create the server root");
        let mut config = Config {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            users: vec![User::new(Self::USER, Self::PASS, root.path())],
            shutdown_grace: Duration::from_secs(2),
            login_failure_delay: Duration::ZERO,
            ..Config::default()
        };
        configure(&mut config);
        let grace = config.shutdown_grace;
        let server = smol::block_on(Server::bind(config))
            .unwrap_or_else(|e| panic!("TestServer cannot bind: {e}"));
        let addr = *server
            .local_addrs()
            .first()
            .expect("the server listens on at least one address");
        let implicit_tls = server.implicit_tls_addrs();
        let admin = server.admin_addr();
        let shutdown = server.shutdown_handle();
        let thread = std::thread::Builder::new()
            .name(format!("ftp-server {addr}"))
            .spawn(move || smol::block_on(server.run()))
            .expect("spawn the server thread");
        TestServer {
            addr,
            root,
            implicit_tls,
            admin,
            shutdown,
            grace,
            thread: Some(thread),
        }
    }

    /// `ftp://127.0.0.1:PORT/` (or `ftp://[::1]:PORT/`).
    pub fn url(&self) -> String {
        crate::ftp_url(self.addr)
    }

    /// `ftp://alice:secret@127.0.0.1:PORT/`.
    pub fn url_with_login(&self) -> String {
        format!("ftp://{}:{}@{}/", Self::USER, Self::PASS, self.addr)
    }

    /// A path inside the served root.
    pub fn path(&self, relative: &str) -> std::path::PathBuf {
        self.root.path().join(relative)
    }

    /// Stops the server and waits (bounded) for it to finish; returns what `run` returned.
    ///
    /// # Panics
    /// When the server thread panicked or did not stop within the grace period plus 10 s.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.stop_inner()
            .unwrap_or_else(|why| panic!("TestServer on {}: {why}", self.addr))
    }

    fn stop_inner(&mut self) -> Result<Result<(), ServerError>, String> {
        self.shutdown.shutdown();
        let Some(thread) = self.thread.take() else {
            return Ok(Ok(()));
        };
        let deadline = Instant::now() + self.grace + Duration::from_secs(10);
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                return Err("did not stop in time; thread left behind".to_string());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        thread
            .join()
            .map_err(|_| "the server thread panicked".to_string())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        match self.stop_inner() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("TestServer on {}: run() returned {e}", self.addr),
            Err(why) if !std::thread::panicking() => panic!("TestServer on {}: {why}", self.addr),
            Err(why) => eprintln!("TestServer on {}: {why}", self.addr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    fn login(addr: SocketAddr) -> Vec<String> {
        let stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut replies = Vec::new();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        replies.push(line.clone());
        for cmd in ["USER alice\r\n", "PASS secret\r\n", "QUIT\r\n"] {
            writer.write_all(cmd.as_bytes()).unwrap();
            line.clear();
            reader.read_line(&mut line).unwrap();
            replies.push(line.clone());
        }
        replies
    }

    #[test]
    fn test_server_accepts_alice_on_ipv4_and_stops() {
        let server = TestServer::start();
        assert!(server.addr.ip().is_loopback() && server.addr.is_ipv4());
        let replies = login(server.addr);
        let codes: Vec<&str> = replies.iter().map(|r| &r[..3]).collect();
        assert_eq!(codes, ["220", "331", "230", "221"]);
        let addr = server.addr;
        server.stop().expect("clean shutdown");
        assert!(std::net::TcpStream::connect(addr).is_err());
    }

    #[test]
    fn test_server_listens_on_ipv6_loopback() {
        let server = TestServer::start_v6();
        assert_eq!(server.addr.ip(), std::net::Ipv6Addr::LOCALHOST);
        let codes: Vec<String> = login(server.addr)
            .iter()
            .map(|r| r[..3].to_string())
            .collect();
        assert_eq!(codes, ["220", "331", "230", "221"]);
    }
}
