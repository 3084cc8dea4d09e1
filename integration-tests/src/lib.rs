//! The test harness shared by the end-to-end tests.
//!
//! - [`TestServer`] runs our `ftp-server` in-process on a background thread, [`TlsServer`]
//!   with FTPS on;
//! - [`bin_path`] finds (and builds once, if needed) a workspace binary such as `ftp-client`;
//! - [`peers`] starts real third-party servers (vsftpd, pure-ftpd, ProFTPD, pyftpdlib);
//! - [`tool`] and [`or_skip`] find third-party clients (curl, lftp, python3) and decide whether
//!   a missing one skips the test (locally) or fails it (`FTP_INTEROP_REQUIRED=1`, as in CI);
//! - [`s3`] reads the bucket of the S3 tests directly over S3 and disrupts the Ceph cluster;
//!   [`gateway`] starts a test's own S3 gateway on that cluster, to make slow or refusing;
//! - [`hostile`] is a fake server whose listings hold whatever names a client test chooses;
//! - [`with_timeout`] and [`free_port`] are small helpers every test needs.
//!
//! Everything listens on loopback only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bin;
pub mod gateway;
pub mod hostile;
pub mod peers;
mod process;
pub mod s3;
mod server;
mod tls;
pub mod tree;

pub use bin::bin_path;
pub use process::{
    assert_file, banner_fingerprint, output_fed, output_within, run_ok, start_server_binary,
    start_server_command, ChildGuard,
};
pub use server::TestServer;
pub use tls::{ftp_client_tls, CertFiles, TlsServer};

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

/// Why a test cannot run here: a third-party peer or tool is not installed.
///
/// Turn it into a skip or a failure with [`or_skip`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether missing peers must fail the tests instead of skipping them: true when the
/// environment variable `FTP_INTEROP_REQUIRED` is `1` (set by `.ci/run` and `cargo xtask interop`).
pub fn interop_required() -> bool {
    std::env::var_os("FTP_INTEROP_REQUIRED").is_some_and(|v| v == "1")
}

/// `Some(value)`, or `None` after printing a skip notice; panics instead of skipping when
/// [`interop_required`].
///
/// ```
/// use integration_tests::{or_skip, Skip};
/// assert_eq!(or_skip(Ok::<_, Skip>(3), "demo"), Some(3));
/// ```
#[track_caller]
pub fn or_skip<T>(result: Result<T, Skip>, test: &str) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(skip) if interop_required() => {
            panic!("{test}: {skip} (FTP_INTEROP_REQUIRED=1; run `cargo xtask install`)")
        }
        Err(skip) => {
            eprintln!("SKIPPED {test}: {skip} (install peers with `cargo xtask install`)");
            None
        }
    }
}

/// The path of an executable found on `PATH`, or a [`Skip`] naming it.
///
/// ```
/// let sh = integration_tests::tool("sh").expect("every Unix has sh");
/// assert!(sh.is_absolute());
/// ```
pub fn tool(name: &str) -> Result<PathBuf, Skip> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
        .ok_or_else(|| Skip(format!("`{name}` is not installed")))
}

/// Runs a Python ftplib script against one of our servers: `python3 <script> <args...>`
/// (`script` is a file path, or `-c` and the source), within two minutes, and asserts that it
/// exits successfully (its stdout and stderr go into the panic message). Returns false when
/// python3 is missing and the test should return (see [`or_skip`]).
pub fn run_python<I, S>(test: &str, script: I) -> bool
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let Some(python) = or_skip(tool("python3"), test) else {
        return false;
    };
    let out = output_within(
        std::process::Command::new(python).args(script),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{test}: python failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// Whether `python3` can import `module` (e.g. `pyftpdlib`).
pub fn python_module(module: &str) -> Result<PathBuf, Skip> {
    let python = tool("python3")?;
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Ok(python)
    } else {
        Err(Skip(format!("python3 module `{module}` is not installed")))
    }
}

/// Runs `fut` to completion on the current thread, panicking if it takes longer than `secs`.
///
/// ```
/// let v = integration_tests::with_timeout(5, async { 1 + 1 });
/// assert_eq!(v, 2);
/// ```
#[track_caller]
pub fn with_timeout<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    let caller = std::panic::Location::caller();
    smol::block_on(futures_lite::future::or(fut, async move {
        async_io::Timer::after(Duration::from_secs(secs)).await;
        panic!("timed out after {secs}s (with_timeout at {caller})")
    }))
}

/// A TCP port on 127.0.0.1 that was free a moment ago, for third-party servers that cannot
/// listen on port 0. Racy by nature: launchers retry on a bind failure.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind 127.0.0.1:0")
}

/// `ftp://host:port/` for a loopback address (IPv6 in brackets).
pub fn ftp_url(addr: SocketAddr) -> String {
    format!("ftp://{addr}/")
}

/// Deterministic, incompressible-looking test data: `len` bytes from a xorshift generator
/// seeded with `seed` (different seeds give different contents).
///
/// ```
/// let a = integration_tests::test_bytes(1000, 1);
/// assert_eq!(a.len(), 1000);
/// assert_eq!(a, integration_tests::test_bytes(1000, 1));
/// assert_ne!(a, integration_tests::test_bytes(1000, 2));
/// ```
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Runs an lftp script against the server on `addr` as [`TestServer::USER`], with
/// `settings` (lftp `set` commands, e.g. `set ftp:ssl-allow no`), a private HOME (no user rc
/// files), short network timeouts and two minutes in all, in `cwd`; asserts that it succeeded.
/// `None` (the test is skipped) when lftp is missing and peers are not required.
pub fn lftp_with(
    test: &str,
    addr: std::net::SocketAddr,
    settings: &str,
    script: &str,
    cwd: &std::path::Path,
) -> Option<std::process::Output> {
    let lftp = or_skip(tool("lftp"), test)?;
    let home = tempfile::tempdir().unwrap();
    let host = match addr.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    let full = format!(
        "set cmd:fail-exit yes; {settings}; set net:max-retries 2; \
         set net:timeout 20; set net:reconnect-interval-base 1; set xfer:clobber on; \
         open -u {user},{pass} -p {port} ftp://{host}; {script}; quit",
        user = TestServer::USER,
        pass = TestServer::PASS,
        port = addr.port(),
    );
    let out = output_within(
        std::process::Command::new(lftp)
            .arg("-c")
            .arg(&full)
            .env("HOME", home.path())
            .env_remove("LFTP_HOME")
            .current_dir(cwd),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "lftp -c {full:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out)
}

/// curl logged in as [`TestServer::USER`], silent but showing errors, limited to 60 seconds;
/// `None` (the test is skipped) when curl is missing and peers are not required.
pub fn curl_as_test_user(test: &str) -> Option<std::process::Command> {
    let curl = or_skip(tool("curl"), test)?;
    let mut cmd = std::process::Command::new(curl);
    cmd.args(["--silent", "--show-error", "--max-time", "60"])
        .arg("--user")
        .arg(format!("{}:{}", TestServer::USER, TestServer::PASS));
    Some(cmd)
}
