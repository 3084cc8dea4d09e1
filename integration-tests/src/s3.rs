//! S3 and the Ceph cluster of `cargo xtask ceph`, from the tests' side.
//!
//! - [`S3`] reads (and seeds) the bucket **directly over S3, not through our server**, with
//!   rclone (an independent S3 client: Go's AWS SDK v1 signer), configured by environment only;
//!   the no-incomplete-upload checks use `rclone backend list-multipart-uploads`. Only the
//!   clean-up of uploads a killed server left behind uses curl's SigV4 signer (rclone cannot
//!   abort one upload by id).
//! - [`S3::server`] starts the real `ftp-server --storage s3 ...` binary on a key prefix of its
//!   own ([`Scratch`]: unique per test, so tests run in parallel; emptied on drop).
//! - [`Ceph`] stops and restarts single daemons for the replication and gateway-outage tests,
//!   one test at a time across all test processes ([`Ceph::exclusive`], a file lock).
//!
//! The cluster is found through the lines `cargo xtask ceph start` prints (`FTP_S3_ENDPOINT`,
//! `FTP_S3_BUCKET`, `FTP_S3_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `FTP_CEPH_DIR`, `FTP_S3_HTTPS_ENDPOINT`, `FTP_S3_CA_FILE`); unset, each defaults to what that command makes (`xtask/src/ceph.rs`), so
//! `cargo xtask ceph start` followed by `cargo test` needs no exports. When the gateway does
//! not answer (or rclone is missing) [`S3::from_env`] returns a [`Skip`].
//!
//! ```no_run
//! use integration_tests::{or_skip, s3::S3};
//! let Some(s3) = or_skip(S3::from_env(), "demo") else { return };
//! let scratch = s3.scratch("demo");
//! s3.put(&scratch.key("a.txt"), b"hello");
//! assert_eq!(s3.get(&scratch.key("a.txt")).as_deref(), Some(&b"hello"[..]));
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::{bin_path, output_within, tool, ChildGuard, Skip, TestServer};

/// The name of the rclone remote the environment configures.
const REMOTE: &str = "s3direct";
/// How long one rclone or curl call may take.
const CALL_LIMIT: Duration = Duration::from_secs(120);

/// The S3 endpoint of the test cluster and a direct client for it.
#[derive(Debug, Clone)]
pub struct S3 {
    /// `http://127.0.0.1:7480`.
    pub endpoint: String,
    /// The test bucket.
    pub bucket: String,
    /// The region to sign for.
    pub region: String,
    /// The test user's access key.
    pub access_key: String,
    /// The test user's secret key.
    pub secret_key: String,
    /// The scratch directory of the cluster (`target/ceph`).
    pub ceph_dir: PathBuf,
    /// The gateway's HTTPS endpoint (`https://127.0.0.1:7481`).
    pub https_endpoint: String,
    /// The CA file that verifies it (the gateway's self-signed certificate).
    pub ca_file: PathBuf,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

impl S3 {
    /// The cluster named by the environment (defaults: `cargo xtask ceph start`'s), or a
    /// [`Skip`] when its gateway does not answer or rclone is missing.
    pub fn from_env() -> Result<S3, Skip> {
        // These defaults are the constants of xtask/src/ceph.rs.
        let ceph_dir = std::env::var_os("FTP_CEPH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::bin::workspace_root().join("target").join("ceph"));
        let s3 = S3 {
            endpoint: env_or("FTP_S3_ENDPOINT", "http://127.0.0.1:7480"),
            bucket: env_or("FTP_S3_BUCKET", "ftp-test"),
            region: env_or("FTP_S3_REGION", "us-east-1"),
            access_key: env_or("AWS_ACCESS_KEY_ID", "FTPTESTACCESSKEY0001"),
            secret_key: env_or(
                "AWS_SECRET_ACCESS_KEY",
                "ftp-test-secret-key-not-a-secret-0000001",
            ),
            https_endpoint: env_or("FTP_S3_HTTPS_ENDPOINT", "https://127.0.0.1:7481"),
            ca_file: std::env::var_os("FTP_S3_CA_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| ceph_dir.join("rgw").join("tls-cert.pem")),
            ceph_dir,
        };
        tool("rclone")?;
        if !s3.answers() {
            return Err(Skip(format!(
                "no S3 gateway answers on {} (start one with `cargo xtask ceph start`)",
                s3.endpoint
            )));
        }
        Ok(s3)
    }

    /// `host:port` of the endpoint.
    fn authority(&self) -> &str {
        let rest = self
            .endpoint
            .split_once("://")
            .map_or(&self.endpoint[..], |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }

    /// Whether the gateway answers an HTTP request within a few seconds.
    pub fn answers(&self) -> bool {
        self.status().is_some()
    }

    /// The status of the gateway's answer to an anonymous `GET /` (within a few seconds).
    pub fn status(&self) -> Option<u16> {
        let addr = self.authority().parse::<SocketAddr>().ok()?;
        let attempt = || -> std::io::Result<Option<u16>> {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: s3\r\n\r\n")?;
            let mut head = [0u8; 12];
            s.read_exact(&mut head)?;
            let code = head.strip_prefix(b"HTTP/1.").and_then(|r| r.get(2..5));
            Ok(code.and_then(|c| std::str::from_utf8(c).ok()?.parse().ok()))
        };
        attempt().ok().flatten()
    }

    /// rclone with the remote `s3direct:` configured for this endpoint by environment only
    /// (no config file; `AWS_CA_BUNDLE`, which breaks rclone's S3 backend, removed).
    pub fn rclone(&self) -> Command {
        let var = |k: &str| format!("RCLONE_CONFIG_{}_{k}", REMOTE.to_uppercase());
        let mut cmd = Command::new("rclone");
        cmd.env("RCLONE_CONFIG", "/dev/null")
            .env(var("TYPE"), "s3")
            .env(var("PROVIDER"), "Ceph")
            .env(var("ENDPOINT"), &self.endpoint)
            .env(var("REGION"), &self.region)
            .env(var("ACCESS_KEY_ID"), &self.access_key)
            .env(var("SECRET_ACCESS_KEY"), &self.secret_key)
            .env_remove("AWS_CA_BUNDLE")
            .args(["--retries", "1", "--low-level-retries", "2"]);
        cmd
    }

    /// `s3direct:bucket/key`.
    pub fn remote(&self, key: &str) -> String {
        format!("{REMOTE}:{}/{key}", self.bucket)
    }

    /// Runs rclone with `args` and returns its output; panics when it fails.
    fn rclone_ok(&self, args: &[&str]) -> Output {
        let out = output_within(self.rclone().args(args), CALL_LIMIT);
        assert!(
            out.status.success(),
            "rclone {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The object `key`'s bytes read directly over S3, or `None` when there is no such object.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        // `rclone cat` of a missing key prints nothing and succeeds: ask for the object first
        // (`lsjson --stat --files-only` prints `null` for a missing one).
        let stat = self.rclone_ok(&["lsjson", "--stat", "--files-only", &self.remote(key)]);
        let entry: serde_json::Value =
            serde_json::from_slice(&stat.stdout).expect("rclone lsjson --stat prints JSON");
        if entry.get("IsDir").and_then(serde_json::Value::as_bool) != Some(false) {
            return None;
        }
        Some(self.rclone_ok(&["cat", &self.remote(key)]).stdout)
    }

    /// Stores `data` as object `key` directly over S3 (a single PUT or rclone's multipart).
    pub fn put(&self, key: &str, data: &[u8]) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("object");
        std::fs::write(&file, data).expect("write the object's bytes");
        let from = file.to_str().expect("a UTF-8 temporary path");
        self.rclone_ok(&["copyto", from, &self.remote(key)]);
    }

    /// Every object under `prefix` (keys relative to the bucket) with its size; directory
    /// markers (`dir/`, zero bytes) included as such.
    pub fn objects(&self, prefix: &str) -> BTreeMap<String, u64> {
        let out = self.rclone_ok(&[
            "lsjson",
            "-R",
            "--files-only",
            "--no-mimetype",
            "--no-modtime",
            &self.remote(prefix),
        ]);
        let entries: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).expect("rclone lsjson prints a JSON array");
        entries
            .iter()
            .filter_map(|e| {
                let path = e.get("Path")?.as_str()?;
                let size = e.get("Size")?.as_u64()?;
                Some((format!("{prefix}{path}"), size))
            })
            .collect()
    }

    /// The incomplete multipart uploads under `prefix`: (key, upload id) pairs, from
    /// ListMultipartUploads (`rclone backend list-multipart-uploads`).
    pub fn incomplete_uploads(&self, prefix: &str) -> Vec<(String, String)> {
        let bucket = format!("{REMOTE}:{}", self.bucket);
        let out = self.rclone_ok(&["backend", "list-multipart-uploads", &bucket]);
        let all: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("rclone prints a JSON object");
        all.get(&self.bucket)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|u| {
                let key = u.get("Key")?.as_str()?;
                let id = u.get("UploadId")?.as_str()?;
                key.starts_with(prefix)
                    .then(|| (key.to_string(), id.to_string()))
            })
            .collect()
    }

    /// The object `key`'s tags, read directly over S3 (`GetObjectTagging` signed by curl):
    /// (key, value) pairs; empty when the object has none.
    pub fn tags(&self, key: &str) -> Vec<(String, String)> {
        let url = format!("{}/{}/{key}?tagging=", self.endpoint, self.bucket);
        let out = output_within(&mut self.curl_signed(&url), CALL_LIMIT);
        assert!(out.status.success(), "GetObjectTagging of {key} failed");
        let xml = String::from_utf8_lossy(&out.stdout);
        let inner = |t: &str, tag: &str| -> Option<String> {
            let start = t.find(&format!("<{tag}>"))? + tag.len() + 2;
            let end = t[start..].find(&format!("</{tag}>"))? + start;
            Some(t[start..end].to_string())
        };
        xml.split("<Tag>")
            .skip(1)
            .filter_map(|t| Some((inner(t, "Key")?, inner(t, "Value")?)))
            .collect()
    }

    /// curl with this endpoint's SigV4 signature (the payload left unsigned, as RGW
    /// requires of curl's requests), failing on an HTTP error, for `url`.
    pub(crate) fn curl_signed(&self, url: &str) -> Command {
        let mut cmd = Command::new("curl");
        cmd.args(["--silent", "--fail", "--max-time", "30"])
            .arg("--aws-sigv4")
            .arg(format!("aws:amz:{}:s3", self.region))
            .arg("--user")
            .arg(format!("{}:{}", self.access_key, self.secret_key))
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .arg(url);
        cmd
    }

    /// AbortMultipartUpload of one upload (curl's SigV4 signer).
    pub fn abort_upload(&self, key: &str, upload_id: &str) {
        let url = format!(
            "{}/{}/{key}?uploadId={upload_id}",
            self.endpoint, self.bucket
        );
        let _ = output_within(self.curl_signed(&url).args(["-X", "DELETE"]), CALL_LIMIT);
    }

    /// A key prefix no other test (or run) uses, emptied when the guard drops.
    pub fn scratch(&self, test: &str) -> Scratch {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let prefix = format!(
            "it/{test}-{}-{nanos}-{}/",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        Scratch {
            s3: self.clone(),
            prefix,
        }
    }

    /// The `ftp-server` command line serving `prefix` of the bucket to
    /// [`TestServer::USER`]/[`TestServer::PASS`] on 127.0.0.1 (port 0), credentials in the
    /// environment; `extra` flags appended.
    pub fn server_command(&self, prefix: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(bin_path("ftp-server"));
        cmd.args(["--listen", "127.0.0.1:0", "--user"])
            .arg(format!("{}:{}", TestServer::USER, TestServer::PASS))
            .args(["--storage", "s3", "--s3-endpoint", &self.endpoint])
            .args(["--s3-bucket", &self.bucket, "--s3-region", &self.region])
            .args(["--s3-prefix", prefix])
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_key);
        cmd
    }

    /// Runs the server on `prefix` ([`S3::server_command`]) expecting it to refuse to start
    /// (within 60 s); returns the last line it wrote to stderr, its reason. Fails on a panic.
    pub fn refusal(&self, prefix: &str, extra: &[&str]) -> String {
        let mut cmd = self.server_command(prefix, extra);
        cmd.env("RUST_LOG", "warn");
        let out = output_within(&mut cmd, Duration::from_secs(60));
        assert!(!out.status.success(), "the server started");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains("panicked") && !text.contains("stack backtrace"),
            "{text}"
        );
        let last = text.lines().rfind(|l| !l.trim().is_empty());
        last.unwrap_or_default().to_string()
    }

    /// Starts the real server on `prefix` ([`S3::server_command`]) and waits for its address.
    pub fn server(&self, prefix: &str, extra: &[&str]) -> (ChildGuard, SocketAddr) {
        let (guard, addr, _) = crate::start_server_command(self.server_command(prefix, extra));
        (guard, addr)
    }
}

/// A key prefix of one test (`it/<test>-<pid>-<nanos>-<n>/`); its objects and incomplete
/// uploads are deleted on drop, so the cluster's memory does not fill up run after run.
#[derive(Debug)]
pub struct Scratch {
    s3: S3,
    /// The prefix, ending in `/`.
    pub prefix: String,
}

impl Scratch {
    /// The key of `rel` under the prefix.
    pub fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    /// The objects under the prefix, keyed relative to it, with their sizes.
    pub fn objects(&self) -> BTreeMap<String, u64> {
        self.s3
            .objects(&self.prefix)
            .into_iter()
            .map(|(k, v)| (k[self.prefix.len()..].to_string(), v))
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for (key, id) in self.s3.incomplete_uploads(&self.prefix) {
            self.s3.abort_upload(&key, &id);
        }
        let _ = output_within(
            self.s3
                .rclone()
                .args(["purge", &self.s3.remote(&self.prefix)])
                .stderr(Stdio::null()),
            CALL_LIMIT,
        );
    }
}

/// The daemons of the cluster, as `cargo xtask ceph start` made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// `osd.N`.
    Osd(u32),
    /// The S3 gateway, `client.rgw.ftp`.
    Gateway,
}

impl Daemon {
    fn name(self) -> String {
        match self {
            Daemon::Osd(n) => format!("osd.{n}"),
            Daemon::Gateway => "client.rgw.ftp".to_string(),
        }
    }
}

/// The cluster's scratch directory: its pid files, config file and the daemons' command lines.
#[derive(Debug)]
pub struct Ceph {
    dir: PathBuf,
    s3: S3,
}

/// How long a stopped daemon may take to be back (OSD up, gateway answering).
const BACK_LIMIT: Duration = Duration::from_secs(90);

impl Ceph {
    /// The cluster behind `s3`, or a [`Skip`] when its scratch directory (`FTP_CEPH_DIR`) holds
    /// no running cluster (an endpoint made some other way cannot be disrupted).
    pub fn find(s3: &S3) -> Result<Ceph, Skip> {
        let ceph = Ceph {
            dir: s3.ceph_dir.clone(),
            s3: s3.clone(),
        };
        let all = (0..3).map(Daemon::Osd).chain([Daemon::Gateway]);
        if all.into_iter().all(|d| ceph.pid(d).is_some()) {
            Ok(ceph)
        } else {
            Err(Skip(format!(
                "no cluster of `cargo xtask ceph start` runs under {} (set FTP_CEPH_DIR)",
                ceph.dir.display()
            )))
        }
    }

    /// The PID of `daemon` from its pid file, if it runs with this directory's config file.
    fn pid(&self, daemon: Daemon) -> Option<i32> {
        let file = self.dir.join("run").join(format!("{}.pid", daemon.name()));
        let pid: i32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
        // Its arguments name this config file (a relative one from its working directory).
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
        let conf = self.conf();
        cmdline
            .split(|b| *b == 0)
            .filter_map(|arg| std::str::from_utf8(arg).ok())
            .any(|arg| cwd.join(arg) == conf)
            .then_some(pid)
    }

    pub(crate) fn conf(&self) -> PathBuf {
        self.dir.join("ceph.conf")
    }

    /// Waits (at most ten minutes) until no other test disrupts this cluster, and holds it
    /// until the returned guard drops. Every test that stops a daemon takes it first.
    pub fn exclusive(&self) -> Disruption<'_> {
        use rustix::fs::{flock, FlockOperation};
        let path = self.dir.join("disruption.lock");
        let file = std::fs::File::create(&path)
            .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        let begun = Instant::now();
        while flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            assert!(
                begun.elapsed() < Duration::from_secs(600),
                "another test held {} for ten minutes",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Disruption {
            ceph: self,
            _lock: file,
        }
    }

    /// The bucket of the cluster's shared gateway.
    pub(crate) fn s3(&self) -> &S3 {
        &self.s3
    }

    /// The cluster's scratch directory (`target/ceph`).
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn ceph_cli(&self, args: &[&str]) -> Output {
        output_within(
            Command::new("ceph")
                .arg("-c")
                .arg(self.conf())
                .args(["--connect-timeout", "10"])
                .args(args),
            CALL_LIMIT,
        )
    }

    /// How many OSDs the monitor counts as up.
    pub fn osds_up(&self) -> Option<u64> {
        let out = self.ceph_cli(&["osd", "stat", "--format", "json"]);
        let stat: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        stat.get("num_up_osds")?.as_u64()
    }

    /// Starts `daemon` again, as `cargo xtask ceph start` did, and waits until it serves.
    fn start(&self, daemon: Daemon) -> Result<(), String> {
        let mut cmd = match daemon {
            Daemon::Osd(n) => {
                let mut c = Command::new("ceph-osd");
                c.args(["-i", &n.to_string()]);
                c
            }
            Daemon::Gateway => {
                let mut c = Command::new("radosgw");
                c.args(["-n", &daemon.name()]);
                c
            }
        };
        let out = output_within(cmd.arg("-c").arg(self.conf()), CALL_LIMIT);
        if !out.status.success() {
            return Err(format!("restarting {}: {out:?}", daemon.name()));
        }
        let begun = Instant::now();
        let back = || match daemon {
            Daemon::Osd(_) => self.osds_up() == Some(3),
            Daemon::Gateway => self.s3.answers(),
        };
        while !back() {
            if begun.elapsed() > BACK_LIMIT {
                return Err(format!("{} not back after {BACK_LIMIT:?}", daemon.name()));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        Ok(())
    }
}

/// The right to stop daemons of the cluster ([`Ceph::exclusive`]).
#[derive(Debug)]
pub struct Disruption<'a> {
    ceph: &'a Ceph,
    _lock: std::fs::File,
}

impl Disruption<'_> {
    /// Stops `daemon` by the PID of its pid file (SIGKILL: a crash, not a clean shutdown; an
    /// OSD is then marked down at once). It is started again when the guard drops, also when
    /// the test fails.
    pub fn stop(&self, daemon: Daemon) -> Stopped<'_> {
        use rustix::process::{kill_process, Pid, Signal};
        let pid = self
            .ceph
            .pid(daemon)
            .unwrap_or_else(|| panic!("{} does not run", daemon.name()));
        let _ = kill_process(Pid::from_raw(pid).expect("a pid"), Signal::KILL);
        let begun = Instant::now();
        while self.ceph.pid(daemon).is_some() {
            assert!(begun.elapsed() < Duration::from_secs(10), "pid {pid} lives");
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Daemon::Osd(n) = daemon {
            let _ = self.ceph.ceph_cli(&["osd", "down", &n.to_string()]);
        }
        Stopped {
            ceph: self.ceph,
            daemon,
            restarted: false,
        }
    }
}

/// A daemon [`Disruption::stop`] stopped; [`Stopped::restart`] (or drop) brings it back.
#[derive(Debug)]
pub struct Stopped<'a> {
    ceph: &'a Ceph,
    daemon: Daemon,
    restarted: bool,
}

impl Stopped<'_> {
    /// Starts the daemon again and waits until it serves (an OSD up, the gateway answering).
    ///
    /// # Panics
    /// When it does not come back within 90 seconds.
    pub fn restart(mut self) {
        self.restarted = true;
        if let Err(e) = self.ceph.start(self.daemon) {
            panic!("{e}");
        }
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        // No panic here: this may run while a failed test unwinds.
        if !self.restarted {
            if let Err(e) = self.ceph.start(self.daemon) {
                eprintln!("{e} (restart it by hand, or `cargo xtask ceph stop` and `start`)");
            }
        }
    }
}

/// Our real server on a [`Scratch`] prefix of the bucket: what every S3 end-to-end test
/// starts from. Fields drop in order: the server stops before the prefix is emptied.
#[derive(Debug)]
pub struct S3Server {
    /// The `ftp-server --storage s3 ...` process.
    pub process: ChildGuard,
    /// Its control address (127.0.0.1, port chosen by the kernel).
    pub addr: SocketAddr,
    /// The prefix it serves as `/`.
    pub scratch: Scratch,
    /// The direct S3 client.
    pub s3: S3,
}

impl S3Server {
    /// Starts the server for `test` on a fresh prefix, with `extra` flags; `None` after a skip
    /// notice when no gateway answers (a failure under `FTP_INTEROP_REQUIRED=1`).
    pub fn start(test: &str, extra: &[&str]) -> Option<S3Server> {
        let s3 = crate::or_skip(S3::from_env(), test)?;
        let scratch = s3.scratch(test);
        let (process, addr) = s3.server(&scratch.prefix, extra);
        Some(S3Server {
            process,
            addr,
            scratch,
            s3,
        })
    }

    /// `ftp://alice:secret@127.0.0.1:port/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "ftp://{}:{}@{}/{path}",
            TestServer::USER,
            TestServer::PASS,
            self.addr
        )
    }

    /// The object at server path `path` (no leading `/`), read directly over S3.
    pub fn object(&self, path: &str) -> Option<Vec<u8>> {
        self.s3.get(&self.scratch.key(path))
    }

    /// Asserts that the object at server path `path`, read directly over S3, holds exactly
    /// `want` (lengths compared first, so a failure stays readable).
    #[track_caller]
    pub fn assert_object(&self, path: &str, want: &[u8]) {
        let got = self
            .object(path)
            .unwrap_or_else(|| panic!("no object {path} in the bucket"));
        assert_eq!(got.len(), want.len(), "length of object {path}");
        assert!(got == want, "contents of object {path} differ");
    }

    /// Stores `data` at server path `path` directly over S3 (not through the server).
    pub fn seed(&self, path: &str, data: &[u8]) {
        self.s3.put(&self.scratch.key(path), data);
    }

    /// The incomplete multipart uploads under the server's prefix.
    pub fn incomplete_uploads(&self) -> Vec<(String, String)> {
        self.s3.incomplete_uploads(&self.scratch.prefix)
    }
}
