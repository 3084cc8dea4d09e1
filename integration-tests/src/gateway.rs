//! A test's own S3 gateway: a second `radosgw` on the cluster of `cargo xtask ceph start`,
//! with its own name, port, admin socket and log, so that a test can make it hang
//! ([`Gateway::pause`]: `SIGSTOP`, requests wait unanswered) or refuse every request
//! ([`Gateway::refuse_all`]: `503 SlowDown` from the gateway's own request throttle) without
//! disturbing the tests that share `client.rgw.ftp`. The bucket stays readable through that
//! shared gateway, so a test checks what reached the store without going through its own.
//!
//! ```no_run
//! use integration_tests::{gateway::Gateway, or_skip, s3::{Ceph, S3}};
//! let Some(s3) = or_skip(S3::from_env(), "demo") else { return };
//! let Some(ceph) = or_skip(Ceph::find(&s3), "demo") else { return };
//! let gw = Gateway::start(&ceph, "demo");
//! let scratch = s3.scratch("demo");
//! let hold = scratch.key("hold.bin");
//! let storm = gw.refuse_all(&hold); // every request now gets 503
//! assert_eq!(gw.s3().status(), Some(503));
//! drop(storm);
//! assert_eq!(gw.s3().status(), Some(200));
//! ```

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use crate::s3::{Ceph, S3};
use crate::{free_port, output_within, ChildGuard};

/// How long a new gateway may take to answer.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The size of the object a storm's slow download holds the gateway's only slot with:
/// far more than the socket buffers between the gateway and curl.
pub const HOLD_BYTES: usize = 32 << 20;

/// A `radosgw` of one test, stopped (by its pid) and its files removed on drop.
#[derive(Debug)]
pub struct Gateway {
    /// `None` once dropped.
    process: Option<ChildGuard>,
    pid: u32,
    s3: S3,
    conf: PathBuf,
    /// Its admin socket, for changing its settings while it runs.
    asok: PathBuf,
    /// Its data directory and log file.
    files: Vec<PathBuf>,
}

impl Gateway {
    /// Starts a gateway named after `test` on a free port of 127.0.0.1 and waits (at most a
    /// minute) until it answers.
    ///
    /// # Panics
    /// When `radosgw` cannot start or does not answer in time.
    pub fn start(ceph: &Ceph, test: &str) -> Gateway {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("client.rgw.t{}-{seq}", std::process::id());
        let dir = ceph.dir();
        let data = dir.join("rgw").join(&name);
        std::fs::create_dir_all(&data).expect("the gateway's data directory");
        let port = free_port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new("radosgw");
        cmd.arg("-f")
            .arg("-c")
            .arg(ceph.conf())
            .args(["-n", &name])
            .arg("--rgw-frontends")
            .arg(format!("beast endpoint=127.0.0.1:{port}"))
            .args([
                "--rgw-dns-name",
                "127.0.0.1",
                "--rgw-thread-pool-size",
                "16",
            ])
            .args(["--rgw-scheduler-type", "throttler"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut process = ChildGuard::spawn(&mut cmd).expect("start radosgw");
        let s3 = S3 {
            endpoint,
            ..ceph.s3().clone()
        };
        let begun = Instant::now();
        while !s3.answers() {
            let exited = process.try_wait().unwrap();
            assert!(
                exited.is_none() && begun.elapsed() < START_LIMIT,
                "gateway {name} ({test}) did not answer (exit: {exited:?})"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Gateway {
            pid: process.id(),
            process: Some(process),
            s3,
            conf: ceph.conf(),
            asok: dir.join("run").join(format!("{name}.asok")),
            files: vec![data, dir.join("log").join(format!("{name}.log"))],
        }
    }

    /// The bucket through this gateway (the shared gateway's credentials and bucket).
    pub fn s3(&self) -> &S3 {
        &self.s3
    }

    /// Sets one of the gateway's settings while it runs (through its admin socket).
    fn set(&self, key: &str, value: &str) -> Result<(), String> {
        let out = output_within(
            Command::new("ceph")
                .arg("-c")
                .arg(&self.conf)
                .arg("--admin-daemon")
                .arg(&self.asok)
                .args(["config", "set", key, value]),
            Duration::from_secs(30),
        );
        match out.status.success() {
            true => Ok(()),
            false => Err(format!("config set {key} {value}: {out:?}")),
        }
    }

    /// Freezes the gateway (`SIGSTOP`): connections are still accepted by the kernel, and
    /// requests wait unanswered until the guard resumes it (`SIGCONT`), also on a panic.
    pub fn pause(&self) -> Paused<'_> {
        self.signal(Signal::STOP);
        Paused { gateway: self }
    }

    /// Kills the gateway (`SIGKILL`: a crash); it stays down.
    pub fn kill(&self) {
        self.signal(Signal::KILL);
    }

    /// Freezes the gateway for `how_long`, then lets it run again.
    pub fn hang_for(&self, how_long: Duration) {
        let paused = self.pause();
        std::thread::sleep(how_long);
        paused.resume();
    }

    fn signal(&self, sig: Signal) {
        let pid = Pid::from_raw(self.pid as i32).expect("a pid");
        kill_process(pid, sig).expect("signal the gateway");
    }

    /// A storm of `503 SlowDown`: the gateway's request throttle is set to one request at a
    /// time and a slow download of `hold_key` (made here, [`HOLD_BYTES`] through the shared
    /// gateway) holds that one, so every other request is refused until the guard drops.
    /// Returns once an anonymous probe gets `503`.
    pub fn refuse_all(&self, hold_key: &str) -> Storm<'_> {
        self.s3.put(hold_key, &crate::test_bytes(HOLD_BYTES, 7));
        let url = format!("{}/{}/{hold_key}", self.s3.endpoint, self.s3.bucket);
        let mut curl = self.s3.curl_signed(&url);
        curl.args(["--max-time", "600", "--limit-rate", "1K", "-o", "/dev/null"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let holder = ChildGuard::spawn(&mut curl).expect("start curl");
        self.set("rgw_max_concurrent_requests", "1").unwrap();
        let storm = Storm {
            gateway: self,
            holder: Some(holder),
        };
        wait_for_status(&self.s3, |s| s == Some(503), "the gateway refuses requests");
        storm
    }
}

/// Polls `s3`'s status (at most 30 s) until `want` holds it.
fn wait_for_status(s3: &S3, want: impl Fn(Option<u16>) -> bool, what: &str) {
    let begun = Instant::now();
    while !want(s3.status()) {
        assert!(
            begun.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Stopped by pid first (`ChildGuard`), then its files go.
        self.process = None;
        for f in &self.files {
            let _ = std::fs::remove_dir_all(f).or_else(|_| std::fs::remove_file(f));
        }
    }
}

/// A frozen [`Gateway`] ([`Gateway::pause`]); it resumes on [`Paused::resume`] or drop.
#[derive(Debug)]
pub struct Paused<'a> {
    gateway: &'a Gateway,
}

impl Paused<'_> {
    /// Lets the gateway run again.
    pub fn resume(self) {}
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        self.gateway.signal(Signal::CONT);
    }
}

/// A gateway refusing every request ([`Gateway::refuse_all`]); it serves again on
/// [`Storm::end`] or drop.
#[derive(Debug)]
pub struct Storm<'a> {
    gateway: &'a Gateway,
    holder: Option<ChildGuard>,
}

impl Storm<'_> {
    /// Ends the storm and waits (at most 30 s) until the gateway answers requests again.
    pub fn end(self) {}
}

impl Drop for Storm<'_> {
    fn drop(&mut self) {
        // No panic here: this may run while a failed test unwinds.
        if let Err(e) = self.gateway.set("rgw_max_concurrent_requests", "1024") {
            eprintln!("{e}");
        }
        self.holder = None;
        let gw = self.gateway;
        let begun = Instant::now();
        while gw.s3.status() != Some(200) && begun.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
