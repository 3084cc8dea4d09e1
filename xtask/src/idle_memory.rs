//! `cargo xtask idle-memory` (also run by `cargo xtask bench`): the memory an idle, logged-in
//! control session costs the release `ftp-server`.
//!
//! Starts the release binary on a free loopback port, warms it up, reads its RSS and PSS from
//! `/proc/<pid>/smaps_rollup`, opens N logged-in control connections that then sit idle, reads
//! again and reports the difference per connection. Linux only.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Memory of a process: (RSS, PSS) in KiB.
fn rollup(pid: u32) -> Result<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .with_context(|| format!("reading /proc/{pid}/smaps_rollup"))?;
    let field = |name: &str| -> Result<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in smaps_rollup"))
    };
    Ok((field("Rss:")?, field("Pss:")?))
}

/// A control connection that has read its greeting.
struct Conn {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr).with_context(|| {
            format!("connecting to {addr} (too few file descriptors? raise `ulimit -n`)")
        })?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut c = Conn { reader, stream };
        c.expect("220")?;
        Ok(c)
    }

    /// Reads one (possibly multi-line) reply and checks its code.
    fn expect(&mut self, code: &str) -> Result<()> {
        for _ in 0..1000 {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed while waiting for {code}");
            }
            if line.len() >= 4 && line.as_bytes()[3] == b' ' {
                if !line.starts_with(code) {
                    bail!("expected {code}, got {}", line.trim_end());
                }
                return Ok(());
            }
        }
        bail!("reply too long")
    }

    fn login(&mut self) -> Result<()> {
        self.stream.write_all(b"USER bench\r\nPASS bench\r\n")?;
        self.expect("331")?;
        self.expect("230")
    }
}

/// Kills the server when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Builds and starts the release server, measures `n` idle sessions, prints the result.
pub fn run(root: &Path, n: usize) -> Result<()> {
    let bin = build_release(root)?;
    let dir = std::env::temp_dir().join(format!("xtask-idle-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = start_server(&bin, addr, &dir, n)?;
    let pid = server.0.id();
    let warm = warm_up(addr)?;
    let (rss0, pss0) = rollup(pid)?;
    let mut conns = open_logged_in(addr, n)?;
    // All sessions are logged in and waiting for their next command.
    std::thread::sleep(Duration::from_millis(500));
    let (rss1, pss1) = rollup(pid)?;
    let per = |a: u64, b: u64| (b.saturating_sub(a) as f64) * 1024.0 / n as f64;
    println!(
        "idle-memory: {n} logged-in idle sessions: RSS {rss0} -> {rss1} KiB ({:.0} bytes/session), \
         PSS {pss0} -> {pss1} KiB ({:.0} bytes/session)",
        per(rss0, rss1),
        per(pss0, pss1)
    );
    abuse(&mut conns)?;
    std::thread::sleep(Duration::from_millis(500));
    let (rss2, pss2) = rollup(pid)?;
    println!(
        "idle-memory: after 100k garbage lines and 2000 unused EPSV: RSS {rss1} -> {rss2} KiB, \
         PSS {pss1} -> {pss2} KiB"
    );
    drop(conns);
    drop(warm);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Builds the release server; returns the path of its binary.
fn build_release(root: &Path) -> Result<PathBuf> {
    Ok(crate::build_bins(root, &["ftp-server"], false)?.join("ftp-server"))
}

/// Starts the server `bin` on `addr` serving `dir`, with room for `n` sessions and more.
fn start_server(bin: &Path, addr: SocketAddr, dir: &Path, n: usize) -> Result<Server> {
    let limit = (n + 16).to_string();
    let child = Command::new(bin)
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--root")
        .arg(dir)
        .args(["--user", "bench:bench", "--max-sessions", &limit])
        .args(["--max-sessions-per-ip", &limit, "--idle-timeout", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(Server(child))
}

/// Waits (20 s at most) for the server to greet, then warms it up: executor threads, allocator
/// arenas and the blocking pool exist before measuring. Returns the first session, kept open.
fn warm_up(addr: SocketAddr) -> Result<Conn> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut warm = loop {
        match Conn::open(addr) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.context("the server did not start")),
        }
    };
    warm.login()?;
    drop(open_logged_in(addr, 32)?);
    std::thread::sleep(Duration::from_millis(500));
    Ok(warm)
}

/// Opens `n` control connections and logs each in.
fn open_logged_in(addr: SocketAddr, n: usize) -> Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = Conn::open(addr)?;
        c.login()?;
        conns.push(c);
    }
    Ok(conns)
}

/// Abuse on two of the sessions: 100k garbage lines and 2000 EPSV nobody connects to. The
/// server must answer them all without growing.
fn abuse(conns: &mut [Conn]) -> Result<()> {
    for _ in 0..100 {
        conns[0]
            .stream
            .write_all(&b"\x01garbage \xc0\xae\xff\xff\r\n".repeat(1000))?;
        for _ in 0..1000 {
            conns[0].expect("5")?;
        }
    }
    for _ in 0..20 {
        conns[1].stream.write_all(&b"EPSV\r\n".repeat(100))?;
        for _ in 0..100 {
            conns[1].expect("229")?;
        }
    }
    Ok(())
}
