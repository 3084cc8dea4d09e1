//! The FTPS scenarios (issue 23): every server with explicit FTPS (`AUTH TLS`, `PROT P`, TLS
//! required for login and data, data connections resuming the control connection's session),
//! the same certificate for all, the version pinned by the client.
//!
//! The client is curl (`--ssl-reqd`, OpenSSL) for every scenario but the small files (Python's
//! ftplib on OpenSSL: `tls_small_files.py` says why), so every server meets the same TLS stack: `--tlsv1.N --tls-max 1.N` fixes the version and AES-128-GCM is the only
//! cipher offered (`--tls13-ciphers` / `--ciphers`), so no server wins by picking a cheaper
//! one. Each [`Case`] (RSA 2048 or ECDSA P-256 certificate × TLS 1.3 or 1.2) restarts every
//! server with that certificate. The scenarios: RETR and STOR of the big file (MB/s, server
//! CPU s/GiB), the small files over one control connection and TLS session (one client fetching
//! them all: one resumed handshake per data connection), sessions/s (one curl per session:
//! a full handshake, `PROT P`, one 4 KiB RETR over a resumed data connection), and, against
//! ours and vsftpd only, the aggregate MB/s of 1, 2 and 4 concurrent downloads of the big file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};

use super::peers::{self, PASS, USER};
use super::report::{Ftps, Metric};
use super::{
    curl_transfer, measure, timed, transfer_window, write_back, Samples, Sizes, CURL_TIMES,
};

/// A certificate and its key (PEM), as every server is given them.
#[derive(Debug)]
pub struct TlsFiles {
    /// The self-signed certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// ECDSA P-256 (else RSA 2048).
    pub ecdsa: bool,
}

/// One row set of the FTPS scenarios: the certificate's key type and the TLS version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Case {
    /// ECDSA P-256 (else RSA 2048).
    pub ecdsa: bool,
    /// TLS 1.3 (else 1.2).
    pub v13: bool,
}

impl Case {
    /// Every case, in report order.
    pub const ALL: [Case; 4] = [
        Case {
            ecdsa: false,
            v13: true,
        },
        Case {
            ecdsa: false,
            v13: false,
        },
        Case {
            ecdsa: true,
            v13: true,
        },
        Case {
            ecdsa: true,
            v13: false,
        },
    ];

    /// The case of the concurrent-download scenario (the first look: RSA, TLS 1.3).
    const PARALLEL: Case = Case {
        ecdsa: false,
        v13: true,
    };

    /// Table label, e.g. `RSA2048/TLS1.3`.
    pub fn label(self) -> String {
        format!(
            "{}/TLS1.{}",
            if self.ecdsa { "P-256" } else { "RSA2048" },
            if self.v13 { 3 } else { 2 }
        )
    }

    /// JSON key part, e.g. `rsa2048_tls13`.
    pub fn key(self) -> String {
        format!(
            "{}_tls1{}",
            if self.ecdsa { "p256" } else { "rsa2048" },
            if self.v13 { 3 } else { 2 }
        )
    }

    /// curl speaking FTPS with this version and AES-128-GCM only.
    fn curl(self) -> Command {
        let mut c = Command::new("curl");
        c.args(["-sS", "-k", "--ssl-reqd", "--ftp-pasv"]);
        if self.v13 {
            c.args(["--tlsv1.3", "--tls-max", "1.3"])
                .args(["--tls13-ciphers", "TLS_AES_128_GCM_SHA256"]);
        } else {
            c.args(["--tlsv1.2", "--tls-max", "1.2"]).args([
                "--ciphers",
                "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256",
            ]);
        }
        c
    }
}

/// Makes the two certificates (RSA 2048, ECDSA P-256; CN localhost) under `dir` with openssl.
pub fn make_certs(dir: &Path) -> Result<[TlsFiles; 2]> {
    std::fs::create_dir_all(dir)?;
    let make = |name: &str, newkey: &[&str], ecdsa: bool| -> Result<TlsFiles> {
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
            ecdsa,
        };
        let mut cmd = Command::new("openssl");
        cmd.args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(newkey)
        .arg("-keyout")
        .arg(&files.key)
        .arg("-out")
        .arg(&files.cert);
        timed(&mut cmd)?;
        // Peers read it after dropping privileges (pure-ftpd, vsftpd's session processes).
        peers::open_up(dir);
        Ok(files)
    };
    Ok([
        make("rsa", &["-newkey", "rsa:2048"], false)?,
        make(
            "p256",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            true,
        )?,
    ])
}

/// What one FTPS round runs against.
pub struct Target<'a> {
    /// Workspace root (peers are unpacked under it).
    pub root: &'a Path,
    /// Our server's executable.
    pub ours: &'a Path,
    /// The same built with rustls's aws-lc-rs provider (`--features aws-lc-rs`), if that
    /// build worked: run as `ours-aws-lc` beside `ours` (ring).
    pub ours_aws_lc: Option<&'a Path>,
    /// The served directory.
    pub dir: &'a Path,
    /// Sizes of the run.
    pub sizes: &'a Sizes,
}

/// One round of every case over `servers` (rotated by `round`), into `out`.
pub fn rounds(
    t: &Target<'_>,
    certs: &[TlsFiles; 2],
    servers: &[&str],
    round: usize,
    out: &mut Samples,
) -> Result<()> {
    let mut servers = servers.to_vec();
    if t.ours_aws_lc.is_some() {
        servers.push("ours-aws-lc");
    }
    for case in Case::ALL {
        let files = &certs[usize::from(case.ecdsa)];
        for k in 0..servers.len() {
            let name = servers[(k + round) % servers.len()];
            eprintln!("xtask bench: FTPS {} {name}", case.label());
            let exe = match name {
                "ours-aws-lc" => t.ours_aws_lc.unwrap_or(t.ours),
                _ => t.ours,
            };
            let srv = peers::start(t.root, exe, name, t.dir, Some(files))?;
            let mut put = |m: Ftps, v: f64| {
                out.entry((Metric::Ftps(m, case), name.to_string()))
                    .or_default()
                    .push(v);
            };
            if let Err(e) = scenarios(&srv, t, case, &mut put) {
                eprintln!("xtask bench: FTPS {} {name}: {e:#}", case.label());
            }
            if case == Case::PARALLEL && (name.starts_with("ours") || name == "vsftpd") {
                if let Err(e) = parallel(&srv, t, case, &mut put) {
                    eprintln!("xtask bench: FTPS parallel {name}: {e:#}");
                }
            }
        }
    }
    Ok(())
}

fn url(srv: &peers::Running, path: &str) -> String {
    format!("ftp://{USER}:{PASS}@{}/{path}", srv.addr)
}

/// RETR, STOR, small files and sessions against one started server.
fn scenarios(
    srv: &peers::Running,
    t: &Target<'_>,
    case: Case,
    put: &mut impl FnMut(Ftps, f64),
) -> Result<()> {
    let gib = t.sizes.big as f64 / (1u64 << 30) as f64;
    let mb = t.sizes.big as f64 / 1e6;
    let cpu = measure::CpuMeter::start(srv.pid());
    let secs = curl_transfer(case.curl().args(["-o", "/dev/null", &url(srv, "big.bin")]))?;
    put(Ftps::RetrMBs, mb / secs);
    put(Ftps::RetrCpu, cpu.stop() / gib);

    let up = t.dir.join("up-tls.bin");
    let _ = std::fs::remove_file(&up);
    write_back();
    let cpu = measure::CpuMeter::start(srv.pid());
    let big = t.dir.join("big.bin");
    let secs = curl_transfer(case.curl().arg("-T").arg(&big).arg(url(srv, "up-tls.bin")))?;
    let stored = std::fs::metadata(&up).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&up);
    if stored != t.sizes.big {
        bail!("STOR stored {stored} bytes of {}", t.sizes.big);
    }
    put(Ftps::StorMBs, mb / secs);
    put(Ftps::StorCpu, cpu.stop() / gib);

    put(Ftps::SmallFiles, small_files(srv, t, case)?);
    put(Ftps::Sessions, sessions(srv, t, case)?);
    Ok(())
}

/// The small-files client (see its docstring for why it is not curl).
const SMALL_FILES_PY: &str = include_str!("tls_small_files.py");

/// Files/s of one Python ftplib client fetching every small file over one control
/// connection, each data connection resuming the newest TLS session; OpenSSL limited to
/// AES-128-GCM for TLS 1.3 too (through `OPENSSL_CONF`: Python cannot set TLS 1.3 suites).
fn small_files(srv: &peers::Running, t: &Target<'_>, case: Case) -> Result<f64> {
    let conf = t.dir.with_extension("aes128.cnf");
    std::fs::write(
        &conf,
        "openssl_conf = init\n[init]\nssl_conf = ssl_sect\n[ssl_sect]\n\
         system_default = sys\n[sys]\nCiphersuites = TLS_AES_128_GCM_SHA256\n",
    )?;
    let out = Command::new("python3")
        .args(["-c", SMALL_FILES_PY])
        .arg(srv.addr.ip().to_string())
        .arg(srv.addr.port().to_string())
        .args([USER, PASS, &t.sizes.small_files.to_string()])
        .arg(if case.v13 { "1" } else { "0" })
        .env("OPENSSL_CONF", &conf)
        .output()?;
    let _ = std::fs::remove_file(&conf);
    let cipher = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("small files: {}", cipher.trim());
    }
    if !cipher.contains("AES128-GCM") && !cipher.contains("AES_128_GCM") {
        bail!("small files: negotiated {}", cipher.trim());
    }
    let rate = String::from_utf8_lossy(&out.stdout);
    Ok(rate.trim().parse()?)
}

/// Sessions/s: `concurrency` threads, each running one curl session after the other.
fn sessions(srv: &peers::Running, t: &Target<'_>, case: Case) -> Result<f64> {
    // A curl process per session: fewer than the plain scenario's, they cost the client more.
    let total = (t.sizes.sessions / 2).max(1);
    let next = Arc::new(AtomicUsize::new(0));
    let target = url(srv, "s4k.bin");
    let start = Instant::now();
    let threads: Vec<_> = (0..t.sizes.concurrency.clamp(1, 16))
        .map(|_| {
            let (next, target) = (Arc::clone(&next), target.clone());
            std::thread::spawn(move || -> Result<()> {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    timed(case.curl().args(["-o", "/dev/null", &target]))?;
                }
                Ok(())
            })
        })
        .collect();
    for th in threads {
        th.join()
            .map_err(|_| anyhow::anyhow!("session thread panicked"))??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Aggregate MB/s of 1, 2 and 4 concurrent downloads of the big file: the bytes of all over
/// the span from the first transfer's start to the last one's end (each curl's own transfer
/// bounds, as in [`curl_transfer`]).
fn parallel(
    srv: &peers::Running,
    t: &Target<'_>,
    case: Case,
    put: &mut impl FnMut(Ftps, f64),
) -> Result<()> {
    let mb = t.sizes.big as f64 / 1e6;
    for n in [1u8, 2, 4] {
        let start = Instant::now();
        let children: Vec<_> = (0..n)
            .map(|_| {
                let mut cmd = case.curl();
                cmd.args(["-o", "/dev/null", &url(srv, "big.bin")])
                    .args(CURL_TIMES)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null());
                let spawned = start.elapsed().as_secs_f64();
                cmd.spawn().map(|child| (cmd, spawned, child))
            })
            .collect::<std::io::Result<_>>()?;
        let (mut first, mut last) = (f64::INFINITY, 0f64);
        for (cmd, spawned, child) in children {
            let (begin, end) = transfer_window(&cmd, &child.wait_with_output()?)?;
            first = first.min(spawned + begin);
            last = last.max(spawned + end);
        }
        put(Ftps::Parallel(n), f64::from(n) * mb / (last - first));
    }
    Ok(())
}
