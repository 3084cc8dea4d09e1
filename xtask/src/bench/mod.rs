//! `cargo xtask bench`: our server against vsftpd, pure-ftpd, ProFTPD and pyftpdlib on
//! loopback (issue 7), plus our client against curl and lftp.
//!
//! Every server is started in turn with the same user, root directory and limits; the servers
//! are interleaved over several rounds and each figure is the median (with min–max) of the
//! rounds. The 1 GiB RETR, whose single figures swing most, is interleaved download by
//! download instead: all servers run at once and five passes a round fetch the file from each
//! in turn ([`interleaved`]); so are the small files.
//! Server CPU is the CPU time of the server's own cgroup (every process it forked, exited ones
//! included, in microseconds; [`cgroup`]) where the bench may make one, as root in CI, else
//! utime+stime (+ reaped children) of the daemon's whole process tree from `/proc/<pid>/stat`;
//! memory is the PSS of the tree from `/proc/<pid>/smaps_rollup`.
//! Authentication is plain USER/PASS against each server's cheapest store: our `--user`
//! (plain-text compare), pyftpdlib's DummyAuthorizer, and a SHA-512 crypt(3) hash for vsftpd
//! (PAM), pure-ftpd (PureDB) and ProFTPD (AuthUserFile).
//!
//! ## The floor
//!
//! Some figures have a lower bound that no server can beat on a given kernel: on loopback the
//! kernel charges the TCP processing of both ends largely to the sending process, so even a
//! bare `sendfile` loop costs about 0.27 s of sender CPU per GiB here. To show that bound,
//! every round also runs a *null server* (`floor`, see [`floor`]) in the same rotation as the
//! real ones: a single-threaded child process doing the minimum per command (`sendfile`
//! for RETR, `splice` socket -> pipe -> file for STOR, `readdir` + `lstat` for LIST, no
//! authentication, no TLS). It runs only the scenarios where it means something (1 RETR, 2 STOR,
//! 3 small files, 6 LIST 10k), with the same clients and the same CPU meter, and the report
//! shows it beside each row as `floor (null server)`, never as a peer in the ratios: a real
//! server's figure is read against it as "what the kernel and the client cost alone".
//! In the RETR rows a second null server stands beside it, `floor corked (ProFTPD's way)`:
//! the same floor sending as ProFTPD does (`TCP_CORK` around one blocking `sendfile` of the
//! whole file), which reproduces ProFTPD's three RETR figures and so shows that its low
//! server CPU is work the kernel charges to curl instead.

mod cgroup;
pub(crate) mod client;
mod floor;
mod interleaved;
mod measure;
mod peers;
mod report;
pub mod s3;
mod tls;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use client::Ctrl;
pub use floor::serve as floor_server;
use floor::FLOOR;
use peers::{PASS, USER};
pub use report::Metric;

/// Options of the side-by-side run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Small sizes and counts; finishes in under a minute.
    pub quick: bool,
    /// Rounds over all servers.
    pub rounds: usize,
    /// Only this server (plus ours, for the ratios).
    pub only: Option<String>,
    /// Only the FTPS scenarios ([`tls`]); else the plain ones and then those.
    pub tls_only: bool,
    /// Only the plain scenarios, no FTPS ones.
    pub plain_only: bool,
    /// JSON output path.
    pub json: PathBuf,
    /// SVG chart output path.
    pub svg: PathBuf,
}

/// Sizes of one run.
struct Sizes {
    big: u64,
    small_files: usize,
    sessions: usize,
    concurrency: usize,
    idle: usize,
    list_entries: usize,
    mirror_files: usize,
    /// Downloads of the big file per server and round (scenario 1).
    retr_repeats: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                big: 64 << 20,
                small_files: 200,
                sessions: 200,
                concurrency: 20,
                idle: 100,
                list_entries: 10_000,
                mirror_files: 200,
                retr_repeats: 2,
            }
        } else {
            Sizes {
                big: 1 << 30,
                small_files: 500,
                sessions: 1000,
                concurrency: 50,
                idle: 1000,
                list_entries: 10_000,
                mirror_files: 1000,
                retr_repeats: 5,
            }
        }
    }
}

/// One measured value: (metric, server or client name) -> its samples over the rounds.
type Samples = BTreeMap<(Metric, String), Vec<f64>>;

fn url(addr: SocketAddr, path: &str) -> String {
    format!("ftp://{USER}:{PASS}@{addr}/{path}")
}

/// Creates the shared test tree under `dir`.
fn prepare(dir: &Path, s: &Sizes) -> Result<()> {
    std::fs::create_dir_all(dir.join("small"))?;
    std::fs::create_dir_all(dir.join("list"))?;
    std::fs::create_dir_all(dir.join("mirror"))?;
    let pattern: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut f = std::fs::File::create(dir.join("big.bin"))?;
    for _ in 0..s.big >> 20 {
        f.write_all(&pattern)?;
    }
    drop(f);
    std::fs::write(dir.join("s4k.bin"), &pattern[..4096])?;
    for i in 0..s.small_files {
        std::fs::write(dir.join(format!("small/f{i:05}")), &pattern[..4096])?;
    }
    for i in 0..s.mirror_files {
        std::fs::write(dir.join(format!("mirror/m{i:05}")), &pattern[..4096])?;
    }
    for i in 0..s.list_entries {
        std::fs::File::create(dir.join(format!("list/entry-{i:05}.txt")))?;
    }
    peers::open_up(dir);
    Ok(())
}

fn timed(cmd: &mut Command) -> Result<f64> {
    let t = Instant::now();
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running {cmd:?}"))?;
    if !st.success() {
        bail!("{cmd:?} failed: {st}");
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Writes back every dirty page (`sync`) before an upload is measured, so that it does not
/// inherit the write-back of the upload before it: one of ours' three STOR rounds at
/// f36eedb ran into the kernel throttling writes (696 MB/s at 1.55 s/GiB, the others 2685
/// and 1618 at 0.38 and 0.48) right after another server's gigabyte had been stored.
fn write_back() {
    let _ = Command::new("sync").status();
}

/// Runs `curl` (a transfer whose body does not go to stdout) and returns the seconds of the
/// transfer itself, from just before the RETR or STOR to the end of the reply after it:
/// curl's `time_total - time_pretransfer`.
///
/// Not the process's wall time: curl 7.88 (Debian 12's) now and then sits idle for 200 ms
/// between reading the 229 reply to EPSV and connecting the data channel, and does so the
/// more often the faster the server answers (60 downloads of 64 MiB: 21 stalled from the
/// floor, 3 from ours). That is the client's timer, not the server's transfer, and on a
/// 1 GiB download at 3 GB/s it would take 40 % off that download's figure.
fn curl_transfer(cmd: &mut Command) -> Result<f64> {
    let out = cmd
        .args(CURL_TIMES)
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    let (start, end) = transfer_window(cmd, &out)?;
    Ok(end - start)
}

/// Arguments making curl print the bounds of its transfer ([`transfer_window`]).
const CURL_TIMES: [&str; 2] = ["-w", "%{time_pretransfer} %{time_total}"];

/// Seconds after curl's start at which its transfer began and ended, from the output of a
/// curl run with [`CURL_TIMES`]; an error if curl failed.
fn transfer_window(cmd: &Command, out: &std::process::Output) -> Result<(f64, f64)> {
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let times: Vec<f64> = text
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    match times[..] {
        [pre, total] if total > pre => Ok((pre, total)),
        _ => bail!("{cmd:?}: no transfer times in {text:?}"),
    }
}

/// Runs all server scenarios against one started server.
fn server_round(
    srv: &peers::Running,
    name: &str,
    dir: &Path,
    s: &Sizes,
    out: &mut Samples,
) -> Result<()> {
    let mut put = |m: Metric, v: f64| out.entry((m, name.to_string())).or_default().push(v);
    let pid = srv.pid();
    let addr = srv.addr;

    // 5. Idle sessions, first, on a fresh server (a heap warmed by the other scenarios would
    // hide the growth).
    idle(srv, name, s, &mut put)?;

    transfers(pid, addr, name, dir, s, &mut put)?;

    // 4. Sessions.
    let (rate, p50, p99, cpu) = sessions(addr, pid, s)?;
    put(Metric::SessionsPerS, rate);
    put(Metric::SessionP50, p50);
    put(Metric::SessionP99, p99);
    put(Metric::SessionCpu, cpu);
    Ok(())
}

/// The floor's round: the null server, only the scenarios of [`transfers`].
fn floor_round(exe: &Path, dir: &Path, s: &Sizes, out: &mut Samples) -> Result<()> {
    let srv = floor::Floor::start(exe, dir, false)?;
    let mut put = |m: Metric, v: f64| out.entry((m, FLOOR.to_string())).or_default().push(v);
    transfers(srv.pid(), srv.addr, FLOOR, dir, s, &mut put)
}

/// Scenario 3: the small files, one after the other over one control connection (EPSV, RETR
/// each); files/s.
fn small_files(addr: SocketAddr, name: &str, s: &Sizes) -> Result<f64> {
    let mut c = Ctrl::connect(addr)?;
    c.login(USER, PASS)?;
    let mut buf = Vec::with_capacity(8192);
    let t = Instant::now();
    for i in 0..s.small_files {
        let n = c.download(&format!("RETR small/f{i:05}"), &mut buf)?;
        if n != 4096 {
            bail!("{name}: small file {i} had {n} bytes");
        }
    }
    let rate = s.small_files as f64 / t.elapsed().as_secs_f64();
    c.quit()?;
    Ok(rate)
}

/// Scenarios 2 (STOR) and 6 (LIST) against the server `pid` (1 and 3, RETR and the small
/// files, are [`interleaved::round`]).
fn transfers(
    pid: u32,
    addr: SocketAddr,
    name: &str,
    dir: &Path,
    s: &Sizes,
    put: &mut impl FnMut(Metric, f64),
) -> Result<()> {
    let gib = s.big as f64 / (1u64 << 30) as f64;
    let mb = s.big as f64 / 1e6;

    // 2. STOR with curl.
    let _ = std::fs::remove_file(dir.join("up.bin"));
    write_back();
    let cpu = measure::CpuMeter::start(pid);
    let t = curl_transfer(
        Command::new("curl")
            .args(["-sS", "-T"])
            .arg(dir.join("big.bin"))
            .arg(url(addr, "up.bin")),
    )?;
    put(Metric::StorMBs, mb / t);
    put(Metric::StorCpu, cpu.stop() / gib);
    let _ = std::fs::remove_file(dir.join("up.bin"));

    // 6. LIST of a large directory.
    let mut c = Ctrl::connect(addr)?;
    c.login(USER, PASS)?;
    let mut buf = Vec::with_capacity(1 << 20);
    let t = Instant::now();
    let n = c.download("LIST list", &mut buf)?;
    put(Metric::ListMs, t.elapsed().as_secs_f64() * 1e3);
    if n < s.list_entries * 20 {
        bail!("{name}: LIST returned only {n} bytes");
    }
    c.quit()
}

/// Scenario 5: PSS growth of the tree per logged-in idle connection.
fn idle(
    srv: &peers::Running,
    name: &str,
    s: &Sizes,
    put: &mut impl FnMut(Metric, f64),
) -> Result<()> {
    let (pid, addr) = (srv.pid(), srv.addr);
    // One login first so lazily initialised state (auth, allocator) is not counted.
    let mut warm = Ctrl::connect(addr)?;
    warm.login(USER, PASS)
        .with_context(|| format!("{name}: warm-up login"))?;
    warm.quit()?;
    std::thread::sleep(Duration::from_millis(200));
    let before = measure::pss_kib(pid);
    let processes = measure::tree(pid).len();
    let mut conns = Vec::with_capacity(s.idle);
    for _ in 0..s.idle {
        let mut c = Ctrl::connect(addr)?;
        c.login(USER, PASS)?;
        conns.push(c);
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = measure::pss_kib(pid);
    drop(conns);
    // The closed sessions' exits belong to no scenario (they are not in the next one's CPU).
    measure::settle(pid, processes, Duration::from_secs(10));
    put(
        Metric::IdleKib,
        after.saturating_sub(before) as f64 / s.idle as f64,
    );
    Ok(())
}

/// Scenario 4: `s.sessions` sessions, `s.concurrency` at a time.
fn sessions(addr: SocketAddr, pid: u32, s: &Sizes) -> Result<(f64, f64, f64, f64)> {
    let next = Arc::new(AtomicUsize::new(0));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(s.sessions)));
    let total = s.sessions;
    let meter = measure::CpuMeter::start(pid);
    let t = Instant::now();
    let workers: Vec<_> = (0..s.concurrency)
        .map(|_| {
            let next = Arc::clone(&next);
            let lat = Arc::clone(&lat);
            std::thread::spawn(move || -> Result<()> {
                let mut buf = Vec::with_capacity(8192);
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let t = Instant::now();
                    let mut c = Ctrl::connect(addr)?;
                    c.login(USER, PASS)?;
                    c.download("RETR s4k.bin", &mut buf)?;
                    c.quit()?;
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    lat.lock()
                        .map_err(|_| anyhow::anyhow!("poisoned"))?
                        .push(ms);
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| anyhow::anyhow!("load thread panicked"))??;
    }
    let wall = t.elapsed().as_secs_f64();
    // Let forked session processes finish before reading the CPU.
    std::thread::sleep(Duration::from_millis(100));
    let cpu = meter.stop();
    let mut l = lat.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    l.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| l[((l.len() - 1) as f64 * p) as usize];
    Ok((
        total as f64 / wall,
        pct(0.5),
        pct(0.99),
        cpu * 1e3 / total as f64,
    ))
}

/// Scenario 7 against our server: ftp-client get vs curl vs lftp; mirror vs lftp mirror.
///
/// Fairness: every client writes a regular file in the same directory (ours through its
/// `.part` + rename), the order of the clients rotates with `round` so none always runs first
/// (right after the server scenarios' 1 GiB STOR), and `sync` runs before every timed run so
/// no client pays for the write-back of the previous one's file.
fn client_round(
    addr: SocketAddr,
    ours_client: &Path,
    dir: &Path,
    s: &Sizes,
    round: usize,
    out: &mut Samples,
) {
    let mb = s.big as f64 / 1e6;
    let files = s.mirror_files as f64;
    let work = dir.with_extension("client");
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::create_dir_all(&work);
    let target = work.join("big.out");
    let mirror_dst = work.join("mirror.out");
    let get: [(&str, Command); 3] = [
        ("ftp-client", {
            let mut c = Command::new(ours_client);
            c.args(["-q", "get", &url(addr, "big.bin"), "-o"])
                .arg(&target);
            c
        }),
        ("curl", {
            let mut c = Command::new("curl");
            c.args(["-sS", "-o"]).arg(&target).arg(url(addr, "big.bin"));
            c
        }),
        ("lftp", {
            let mut c = Command::new("lftp");
            c.args([
                "-c",
                &format!(
                    "set net:max-retries 1; open -u {USER},{PASS} ftp://{addr}; get big.bin -o {}",
                    target.display()
                ),
            ]);
            c
        }),
    ];
    let mirror: [(&str, Command); 2] = [
        ("ftp-client", {
            let mut c = Command::new(ours_client);
            c.args(["-q", "mirror", "-P", "4", &url(addr, "mirror/")])
                .arg(&mirror_dst);
            c
        }),
        ("lftp", {
            let mut c = Command::new("lftp");
            c.args([
                "-c",
                &format!(
                    "open -u {USER},{PASS} ftp://{addr}; mirror -P 4 mirror {}",
                    mirror_dst.display()
                ),
            ]);
            c
        }),
    ];
    let mut run = |m: Metric, who: &str, cmd: &mut Command, amount: f64| {
        write_back();
        match timed(cmd) {
            Ok(t) => out
                .entry((m, who.to_string()))
                .or_default()
                .push(amount / t),
            Err(e) => eprintln!("xtask bench: {who}: {e:#}"),
        }
    };
    let mut get = get;
    get.rotate_left(round % 3);
    for (who, cmd) in &mut get {
        run(Metric::ClientGetMBs, who, cmd, mb);
        let _ = std::fs::remove_file(&target);
    }
    let mut mirror = mirror;
    mirror.rotate_left(round % 2);
    for (who, cmd) in &mut mirror {
        run(Metric::MirrorFiles, who, cmd, files);
        let _ = std::fs::remove_dir_all(&mirror_dst);
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// iperf3 single-stream loopback ceiling in MB/s, if iperf3 is installed.
fn iperf_ceiling(quick: bool) -> Option<f64> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port()
        .to_string();
    let mut server = Command::new("iperf3")
        .args(["-s", "-1", "-B", "127.0.0.1", "-p", &port])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(300));
    let secs = if quick { "2" } else { "5" };
    let out = Command::new("iperf3")
        .args(["-c", "127.0.0.1", "-p", &port, "-t", secs, "-J"])
        .output()
        .ok();
    let _ = server.kill();
    let _ = server.wait();
    let text = String::from_utf8(out?.stdout).ok()?;
    // "sum_received": { ... "bits_per_second": N
    let tail = &text[text.find("\"sum_received\"")?..];
    let bps = tail[tail.find("\"bits_per_second\":")? + 18..]
        .split([',', '\n', '}'])
        .next()?
        .trim()
        .parse::<f64>()
        .ok()?;
    Some(bps / 8e6)
}

/// Runs the whole comparison and writes the table, JSON and SVG.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    let started = Instant::now();
    let exes = Exes::build(root)?;
    let servers = servers_to_run(root, &exes.ours, opts);
    let sizes = Sizes::new(opts.quick);
    let dir = std::env::temp_dir().join(format!("xtask-bench-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    prepare(&dir, &sizes)?;
    cgroup::sweep();
    let result = (|| -> Result<()> {
        let ceiling = iperf_ceiling(opts.quick);
        if ceiling.is_none() {
            eprintln!("xtask bench: iperf3 unavailable; no loopback ceiling");
        }
        let samples = all_rounds(root, opts, &exes, &servers, &dir, &sizes)?;
        let rep = report::Report::new(samples, ceiling, opts.quick, opts.rounds);
        write_report(&rep, opts)?;
        eprintln!(
            "xtask bench: wrote {} and {} in {:.0}s",
            opts.json.display(),
            opts.svg.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The release executables the benchmark runs.
struct Exes {
    ours: PathBuf,
    ours_client: PathBuf,
    /// The floor server runs optimised too (`cargo xtask` itself is a debug build).
    floor: PathBuf,
    /// Ours with rustls's aws-lc-rs provider (FTPS rows), unless that build failed.
    ours_aws_lc: Option<PathBuf>,
}

impl Exes {
    /// Builds them (`cargo build --release`) and says where they are.
    fn build(root: &Path) -> Result<Exes> {
        let bins = crate::build_bins(root, &["ftp-server", "ftp-client", "xtask"], false)?;
        Ok(Exes {
            ours: bins.join("ftp-server"),
            ours_client: bins.join("ftp-client"),
            floor: bins.join("xtask"),
            ours_aws_lc: build_aws_lc(root),
        })
    }
}

/// Builds ours with `--features aws-lc-rs` into a target directory of its own (so neither
/// build replaces the other); `None`, with a notice, when that fails (aws-lc-sys needs a C
/// compiler and, on some systems, cmake).
fn build_aws_lc(root: &Path) -> Option<PathBuf> {
    let target = root.join("target/aws-lc");
    let mut cmd = crate::cargo();
    cmd.args([
        "build",
        "--release",
        "-p",
        "ftp-server",
        "--features",
        "aws-lc-rs",
    ])
    .arg("--target-dir")
    .arg(&target);
    match crate::run(&mut cmd) {
        Ok(()) => Some(target.join("release/ftp-server")),
        Err(e) => {
            eprintln!("xtask bench: no aws-lc-rs build ({e:#}); FTPS rows with ring only");
            None
        }
    }
}

/// The servers `opts` asks for that are installed, and the floor server.
fn servers_to_run(root: &Path, ours: &Path, opts: &Options) -> Vec<&'static str> {
    let mut servers: Vec<&str> = peers::SERVERS
        .iter()
        .copied()
        .filter(|n| opts.only.as_deref().is_none_or(|o| *n == "ours" || *n == o))
        .filter(|n| {
            let ok = peers::available(root, ours, n);
            if !ok {
                eprintln!("xtask bench: {n} is not installed (cargo xtask install); skipped");
            }
            ok
        })
        .collect();
    // The null server, in the same rotation (always run: it is the reference, not a peer).
    servers.push(FLOOR);
    servers
}

/// Every round over every server, serving the files in `dir`.
fn all_rounds(
    root: &Path,
    opts: &Options,
    exes: &Exes,
    servers: &[&str],
    dir: &Path,
    sizes: &Sizes,
) -> Result<Samples> {
    let mut samples = Samples::new();
    let certs = tls::make_certs(&dir.with_extension("certs"))?;
    let peers_only: Vec<&str> = servers.iter().copied().filter(|n| *n != FLOOR).collect();
    let target = tls::Target {
        root,
        ours: &exes.ours,
        ours_aws_lc: exes.ours_aws_lc.as_deref(),
        dir,
        sizes,
    };
    for round in 0..opts.rounds {
        if !opts.tls_only {
            plain_round(root, exes, servers, dir, sizes, round, &mut samples)?;
        }
        if !opts.plain_only {
            eprintln!("xtask bench: round {}/{} FTPS", round + 1, opts.rounds);
            tls::rounds(&target, &certs, &peers_only, round, &mut samples)?;
        }
    }
    let _ = std::fs::remove_dir_all(dir.with_extension("certs"));
    Ok(samples)
}

/// One round of the plain scenarios over every server (the floor included).
fn plain_round(
    root: &Path,
    exes: &Exes,
    servers: &[&str],
    dir: &Path,
    sizes: &Sizes,
    round: usize,
    samples: &mut Samples,
) -> Result<()> {
    interleaved::round(root, exes, servers, dir, sizes, round, samples);
    // Rotate the start so no server always runs first (warm caches, turbo).
    for k in 0..servers.len() {
        let name = servers[(k + round) % servers.len()];
        eprintln!("xtask bench: round {} {name}", round + 1);
        if name == FLOOR {
            if let Err(e) = floor_round(&exes.floor, dir, sizes, samples) {
                eprintln!("xtask bench: {name}: {e:#}");
            }
            continue;
        }
        let srv = peers::start(root, &exes.ours, name, dir, None)?;
        if let Err(e) = server_round(&srv, name, dir, sizes, samples) {
            eprintln!("xtask bench: {name}: {e:#}");
        }
        if name == "ours" && exes.ours_client.is_file() {
            client_round(srv.addr, &exes.ours_client, dir, sizes, round, samples);
        }
        if name == "ours" {
            drop(srv);
            if let Err(e) = fsync_round(root, exes, dir, sizes, samples) {
                eprintln!("xtask bench: ours --fsync-uploads: {e:#}");
            }
        }
    }
    Ok(())
}

/// The cost of `--fsync-uploads` (issue 21): a STOR of the big file into ours with it, then
/// one into ours without it, each on a fresh server; the row's ratio is the cost.
fn fsync_round(
    root: &Path,
    exes: &Exes,
    dir: &Path,
    s: &Sizes,
    samples: &mut Samples,
) -> Result<()> {
    let mb = s.big as f64 / 1e6;
    for (server, label) in [("ours-fsync", "ours"), ("ours", "ours without fsync")] {
        let srv = peers::start(root, &exes.ours, server, dir, None)?;
        let _ = std::fs::remove_file(dir.join("up.bin"));
        write_back();
        let t = curl_transfer(
            Command::new("curl")
                .args(["-sS", "-T"])
                .arg(dir.join("big.bin"))
                .arg(url(srv.addr, "up.bin")),
        )?;
        let _ = std::fs::remove_file(dir.join("up.bin"));
        let key = (Metric::StorFsyncMBs, label.to_string());
        samples.entry(key).or_default().push(mb / t);
    }
    Ok(())
}

/// Prints the table and writes the JSON and SVG files `opts` names.
fn write_report(rep: &report::Report, opts: &Options) -> Result<()> {
    println!("{}", rep.table());
    for p in [&opts.json, &opts.svg] {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
    }
    std::fs::write(&opts.json, rep.json())?;
    std::fs::write(&opts.svg, rep.svg())?;
    Ok(())
}
