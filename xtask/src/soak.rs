//! `cargo xtask soak`: the server under a long, wide load gives back what it took.
//!
//! Starts `ftp-server` on a loopback port and warms it up with the same load, scaled down
//! in time: N sessions opened and closed at once, M/100 short sessions. Then it records the
//! server's open descriptors and resident memory, and runs the load: N concurrent logged-in
//! sessions held for a while (each answers a `NOOP` at the end), closed; then M short
//! sessions (log in, download, upload, quit) on a few client threads. Afterwards the
//! server's descriptor count must be back at the start (within [`FD_MARGIN`]) and its RSS
//! within [`RSS_MARGIN_KIB`] + [`RSS_MARGIN_PERCENT`] of the start: anything above that is a
//! leak (8 MiB over 100,000 sessions is 84 bytes each). The warm-up matters: the allocator
//! keeps the memory that N sessions took once (glibc does not hand back the middle of its
//! heap), so the start is measured after it has. The soak raises its own `RLIMIT_NOFILE`
//! (the server inherits it). All traffic stays on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bench::client::Ctrl;

/// Descriptors the server may hold above the start afterwards.
const FD_MARGIN: usize = 4;

/// Resident memory the server may hold above the start afterwards: this much...
const RSS_MARGIN_KIB: u64 = 8 * 1024;

/// ...plus this share of the start.
const RSS_MARGIN_PERCENT: u64 = 10;

/// Client threads running the short sessions.
const THREADS: usize = 4;

/// How the soak runs.
#[derive(Debug)]
pub struct Options {
    /// Concurrent logged-in sessions held.
    pub sessions: usize,
    /// How long they are held.
    pub hold: Duration,
    /// Short sessions with transfers, run after.
    pub short: usize,
    /// Stop the short sessions after this long (the check still runs).
    pub max_time: Duration,
    /// Soak the debug build (what `cargo test` built) instead of the release build.
    pub debug: bool,
}

/// Kills the server when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The served directory, removed when dropped (also when the soak fails).
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Open descriptors and resident memory (KiB) of `pid`.
fn usage(pid: u32) -> Result<(usize, u64)> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .with_context(|| format!("reading /proc/{pid}/fd"))?
        .count();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/<pid>/status")?;
    Ok((fds, rss))
}

/// Raises this process's descriptor limit to at least `want` (the hard limit too, as root).
fn raise_nofile(want: u64) -> Result<()> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    let hard = lim.maximum.unwrap_or(u64::MAX);
    let raised = Rlimit {
        current: Some(want.max(lim.current.unwrap_or(0))),
        maximum: Some(hard.max(want)),
    };
    if setrlimit(Resource::Nofile, raised).is_err() {
        bail!("cannot raise RLIMIT_NOFILE to {want} (hard limit {hard}): run as root or lower --sessions");
    }
    Ok(())
}

/// Builds (or finds) the server binary.
fn server_binary(root: &Path, debug: bool) -> Result<PathBuf> {
    Ok(crate::build_bins(root, &["ftp-server"], debug)?.join("ftp-server"))
}

fn start(bin: &Path, dir: &Path, sessions: usize) -> Result<(Server, SocketAddr)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let limit = (sessions + 64).to_string();
    let server = Server(
        Command::new(bin)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--root")
            .arg(dir)
            .args(["--user", "soak:soak", "--max-sessions", &limit])
            .args(["--max-sessions-per-ip", &limit, "--idle-timeout", "1h"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while Ctrl::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("the server did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((server, addr))
}

/// One short session: log in, download, upload, quit.
fn short_session(addr: SocketAddr, upload: &[u8], name: &str, sink: &mut Vec<u8>) -> Result<()> {
    let mut c = Ctrl::connect(addr)?;
    c.login("soak", "soak")?;
    c.download("RETR small.bin", sink)?;
    c.upload(&format!("STOR {name}"), upload)?;
    c.quit()
}

/// Runs up to `n` short sessions on [`THREADS`] threads until `deadline`; returns how many.
fn short_sessions(addr: SocketAddr, n: usize, deadline: Instant) -> Result<usize> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let done = &done;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || -> Result<()> {
                    let (upload, mut sink) = (vec![b'u'; 16 * 1024], Vec::new());
                    let name = format!("up-{t}.bin");
                    for _ in (t..n).step_by(THREADS) {
                        if Instant::now() > deadline {
                            break;
                        }
                        short_session(addr, &upload, &name, &mut sink)?;
                        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
        }
        Ok(done.load(std::sync::atomic::Ordering::Relaxed))
    })
}

/// A held session: one descriptor only (the bench client's `Ctrl` keeps two per session,
/// which 10,000 sessions would need 20,000 of).
struct Held(std::net::TcpStream);

impl Held {
    /// Connects and logs in (USER and PASS pipelined).
    fn open(addr: SocketAddr) -> Result<Held> {
        let mut s =
            std::net::TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        s.write_all(b"USER soak\r\nPASS soak\r\n")?;
        let mut h = Held(s);
        h.expect("230 ")?;
        Ok(h)
    }

    /// Reads replies until one starts with `code` (`230 `); fails on a 4xx/5xx or EOF.
    fn expect(&mut self, code: &str) -> Result<()> {
        let mut text = Vec::new();
        let mut buf = [0u8; 512];
        for _ in 0..64 {
            let n = self.0.read(&mut buf)?;
            if n == 0 {
                bail!("connection closed");
            }
            text.extend_from_slice(&buf[..n]);
            for line in text.split(|&b| b == b'\n') {
                if line.starts_with(code.as_bytes()) {
                    return Ok(());
                }
                if matches!(line.first(), Some(b'4' | b'5')) {
                    bail!("refused: {}", String::from_utf8_lossy(line).trim_end());
                }
            }
        }
        bail!("no {code}reply")
    }
}

/// Holds `n` logged-in sessions for `hold`, checks each still answers, closes them; returns
/// the server's usage while they were open.
fn held_sessions(addr: SocketAddr, pid: u32, n: usize, hold: Duration) -> Result<(usize, u64)> {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        held.push(Held::open(addr).with_context(|| format!("session {i} of {n}"))?);
    }
    std::thread::sleep(hold);
    let peak = usage(pid)?;
    for h in &mut held {
        h.0.write_all(b"NOOP\r\n")?;
        h.expect("200 ")?;
    }
    Ok(peak)
}

/// Waits (bounded) for the server's descriptors to drop to `fds` or below.
fn settle(pid: u32, fds: usize) -> Result<(usize, u64)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = usage(pid)?;
        if now.0 <= fds || Instant::now() > deadline {
            return Ok(now);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the soak and fails if the server did not give back what it took.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    // Each side holds one descriptor per session (the server inherits the limit).
    raise_nofile(opts.sessions as u64 + 1024)?;
    let bin = server_binary(root, opts.debug)?;
    let dir = Dir(std::env::temp_dir().join(format!("xtask-soak-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0)?;
    std::fs::write(dir.0.join("small.bin"), vec![b's'; 64 * 1024])?;
    let (server, addr) = start(&bin, &dir.0, opts.sessions)?;
    let pid = server.0.id();
    let started = Instant::now();
    held_sessions(addr, pid, opts.sessions, Duration::ZERO)?;
    short_sessions(addr, (opts.short / 100).max(200), started + opts.max_time)?;
    let (fds0, rss0) = settle(pid, 0)?;
    println!("soak: after warm-up: {fds0} fds, RSS {rss0} KiB");
    let (fds1, rss1) = held_sessions(addr, pid, opts.sessions, opts.hold)?;
    println!(
        "soak: {} logged-in sessions held {:?}: {fds1} fds, RSS {rss1} KiB",
        opts.sessions, opts.hold
    );
    let t = Instant::now();
    let n = short_sessions(addr, opts.short, t + opts.max_time)?;
    let rate = n as f64 / t.elapsed().as_secs_f64();
    println!("soak: {n} short sessions with a download and an upload each ({rate:.0}/s)");
    let (fds2, rss2) = settle(pid, fds0 + FD_MARGIN)?;
    let rss_bound = rss0 + RSS_MARGIN_KIB + rss0 * RSS_MARGIN_PERCENT / 100;
    println!(
        "soak: afterwards: {fds2} fds (start {fds0}, at most {}), RSS {rss2} KiB (start \
         {rss0}, at most {rss_bound}); {:.0} s in all",
        fds0 + FD_MARGIN,
        started.elapsed().as_secs_f64()
    );
    drop(server);
    if n < opts.short {
        bail!(
            "only {n} of {} short sessions within {:?}",
            opts.short,
            opts.max_time
        );
    }
    if fds2 > fds0 + FD_MARGIN || rss2 > rss_bound {
        bail!("the server kept what the load took: a leak");
    }
    Ok(())
}
