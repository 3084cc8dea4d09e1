//! `cargo xtask ceph start|stop|status`: a small replicated Ceph cluster on loopback, with an
//! S3 gateway, for the S3 storage tests and `cargo xtask bench --s3` (issue 15).
//!
//! One `ceph-mon`, three `ceph-osd` (memstore: every replica in RAM, [`OSD_BYTES`] each), pools
//! of size 3 / min_size 2 with all three replicas on this one host, and one `radosgw` on
//! [`S3_ADDR`], with a test user ([`ACCESS_KEY`], [`SECRET_KEY`]) and a test bucket
//! ([`BUCKET`]). No ceph-mgr: I/O does not need one (`ceph -s` then warns, harmlessly).
//!
//! Everything lives under one scratch directory (`target/ceph`, or `$FTP_CEPH_DIR`): the config
//! file, monitor and OSD data, a pid file, log and admin socket per daemon. `stop` kills exactly
//! the PIDs of those pid files (after checking that each still is a daemon of this directory);
//! `start` is idempotent (nothing to do when all daemons run and S3 answers; otherwise whatever
//! is left is stopped and the cluster is made again from nothing, in about 20 s).
//!
//! Ports: the monitor on [`MON_PORT`], the other daemons' messengers in
//! [`MS_PORTS`], below Linux's ephemeral range (32768–60999) that tests' port-0 listeners use.
//! Authentication is off (`auth_* = none`); the gateway then needs `ms_mon_client_mode = crc`,
//! or it waits 300 s for a monitor config that never comes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{output, run};

/// The gateway's address: S3 over plain HTTP.
pub const S3_ADDR: &str = "127.0.0.1:7480";
/// The gateway's HTTPS address, with the self-signed certificate `rgw/tls-cert.pem` of the
/// scratch directory (for the tests of HTTPS endpoints).
pub const S3_TLS_ADDR: &str = "127.0.0.1:7481";
/// The test user's access key (a fixed test credential, not a secret).
pub const ACCESS_KEY: &str = "FTPTESTACCESSKEY0001";
/// The test user's secret key (a fixed test credential, not a secret).
pub const SECRET_KEY: &str = "ftp-test-secret-key-not-a-secret-0000001";
/// The test bucket.
pub const BUCKET: &str = "ftp-test";
/// The region the gateway answers for (RGW accepts any; this is the default zonegroup's).
pub const REGION: &str = "us-east-1";
/// The monitor's messenger v2 port.
const MON_PORT: u16 = 7400;
/// The messenger port range of the OSDs and the gateway (inclusive).
const MS_PORTS: (u16, u16) = (7401, 7469);
/// Memstore size of each OSD: three replicas of the 1 GiB benchmark file, plus the tests.
const OSD_BYTES: u64 = 2560 << 20;
/// The OSDs (ids 0, 1, 2).
pub const OSDS: u32 = 3;
/// The gateway's Ceph name (`client.rgw.<RGW>`).
const RGW: &str = "ftp";
/// The test user's uid.
const USER_ID: &str = "ftp-test";
/// How long `start` waits for each step (monitor up, OSDs in, S3 answering).
const STEP_TIMEOUT: Duration = Duration::from_secs(90);

/// The Debian packages of the cluster (installed by `cargo xtask install`); openssl makes the
/// gateway's certificate.
pub const PACKAGES: &[&str] = &["ceph-mon", "ceph-osd", "ceph-common", "radosgw", "openssl"];

/// The scratch directory: `$FTP_CEPH_DIR`, else `<workspace>/target/ceph`.
pub fn dir(root: &Path) -> PathBuf {
    std::env::var_os("FTP_CEPH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("ceph"))
}

/// The daemons, by Ceph name, in start order.
fn daemons() -> Vec<String> {
    let mut names = vec!["mon.a".to_string()];
    names.extend((0..OSDS).map(|i| format!("osd.{i}")));
    names.push(format!("client.rgw.{RGW}"));
    names
}

/// `cargo xtask ceph start`: makes and starts the cluster unless it already runs; waits until
/// S3 answers and prints the environment the tests read.
pub fn start(root: &Path) -> Result<()> {
    let dir = dir(root);
    let begun = Instant::now();
    if all_running(&dir) && s3_answers() && tls_port_taken() {
        eprintln!("xtask: ceph already runs under {}", dir.display());
    } else {
        if s3_port_taken() && running(&dir).is_empty() {
            bail!(
                "{S3_ADDR} is taken by a process that is not a gateway of {} \
                 (another checkout's cluster? set FTP_CEPH_DIR to its directory)",
                dir.display()
            );
        }
        stop(root)?;
        create(&dir)?;
        eprintln!(
            "xtask: ceph cluster up in {:.1}s",
            begun.elapsed().as_secs_f64()
        );
    }
    print!("{}", env_lines(&dir));
    Ok(())
}

/// The `KEY=value` lines that point the tests (and `bench --s3`) at the cluster.
pub fn env_lines(dir: &Path) -> String {
    format!(
        "FTP_S3_ENDPOINT=http://{S3_ADDR}\nFTP_S3_BUCKET={BUCKET}\nFTP_S3_REGION={REGION}\n\
         AWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\nFTP_CEPH_DIR={}\n\
         FTP_S3_HTTPS_ENDPOINT=https://{S3_TLS_ADDR}\nFTP_S3_CA_FILE={}\n",
        dir.display(),
        tls_cert(dir).display()
    )
}

/// Makes the cluster from nothing in `dir` (wiped first) and starts every daemon.
fn create(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("rm -r {}", dir.display()))?;
    }
    for sub in ["run", "log", "mon", "osd", "rgw"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::create_dir_all(dir.join("rgw").join(format!("client.rgw.{RGW}")))?;
    let fsid = uuid()?;
    let conf = dir.join("ceph.conf");
    std::fs::write(&conf, config(dir, &fsid)).context("write ceph.conf")?;
    let keyring = dir.join("keyring");
    run(Command::new("ceph-authtool")
        .arg("--create-keyring")
        .arg(&keyring)
        .args(["--gen-key", "-n", "mon.", "--cap", "mon", "allow *"]))?;
    let monmap = dir.join("monmap");
    run(Command::new("monmaptool")
        .args(["--create", "--fsid", &fsid, "--addv", "a"])
        .arg(format!("[v2:127.0.0.1:{MON_PORT}]"))
        .arg(&monmap))?;
    run(daemon("ceph-mon", dir)
        .args(["-i", "a", "--mkfs", "--monmap"])
        .arg(&monmap)
        .arg("--keyring")
        .arg(&keyring))?;
    run(daemon("ceph-mon", dir).args(["-i", "a"]))?;
    wait_for("the monitor", || ceph(dir, &["mon", "stat"]).is_ok())?;
    for i in 0..OSDS {
        start_new_osd(dir, i)?;
    }
    wait_for("three OSDs up", || osds_up(dir) == Some(OSDS))?;
    make_tls_cert(dir)?;
    run(daemon("radosgw", dir).args(["-n", &format!("client.rgw.{RGW}")]))?;
    wait_for("S3 on the gateway", s3_answers)?;
    wait_for("HTTPS on the gateway", tls_port_taken)?;
    create_user_and_bucket(dir)
}

/// The gateway's self-signed certificate (also the CA file that trusts it).
pub fn tls_cert(dir: &Path) -> PathBuf {
    dir.join("rgw").join("tls-cert.pem")
}

/// Makes the gateway's certificate for 127.0.0.1 (ECDSA P-256, 30 days) with openssl: a
/// self-signed end-entity certificate (`CA:FALSE`: webpki refuses a CA certificate as a
/// server's), which clients trust as their CA file.
fn make_tls_cert(dir: &Path) -> Result<()> {
    let conf = dir.join("rgw").join("tls.cnf");
    std::fs::write(
        &conf,
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = 127.0.0.1\n[leaf]\n\
         basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n",
    )?;
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "30"])
        .arg("-config")
        .arg(&conf)
        .args(["-extensions", "leaf"])
        .arg("-keyout")
        .arg(dir.join("rgw").join("tls-key.pem"))
        .arg("-out")
        .arg(tls_cert(dir)))
}

/// `ceph.conf`: loopback only, auth off, memstore OSDs, everything under `dir`.
fn config(dir: &Path, fsid: &str) -> String {
    let d = dir.display();
    let (lo, hi) = MS_PORTS;
    format!(
        "[global]\n\
         fsid = {fsid}\n\
         mon_host = v2:127.0.0.1:{MON_PORT}\n\
         mon_initial_members = a\n\
         public_addr = 127.0.0.1\n\
         cluster_addr = 127.0.0.1\n\
         ms_bind_ipv6 = false\n\
         ms_bind_msgr1 = false\n\
         ms_bind_port_min = {lo}\n\
         ms_bind_port_max = {hi}\n\
         auth_cluster_required = none\n\
         auth_service_required = none\n\
         auth_client_required = none\n\
         ms_mon_client_mode = crc\n\
         keyring = {d}/keyring\n\
         run_dir = {d}/run\n\
         pid_file = {d}/run/$name.pid\n\
         admin_socket = {d}/run/$name.asok\n\
         log_file = {d}/log/$name.log\n\
         mon_data = {d}/mon/$name\n\
         osd_data = {d}/osd/$name\n\
         rgw_data = {d}/rgw/$name\n\
         osd_objectstore = memstore\n\
         memstore_device_bytes = {OSD_BYTES}\n\
         osd_pool_default_size = 3\n\
         osd_pool_default_min_size = 2\n\
         osd_pool_default_pg_num = 8\n\
         osd_pool_default_pgp_num = 8\n\
         osd_pool_default_pg_autoscale_mode = off\n\
         osd_crush_chooseleaf_type = 0\n\
         mon_allow_pool_delete = true\n\
         mon_warn_on_pool_no_redundancy = false\n\
         mon_warn_on_insecure_global_id_reclaim_allowed = false\n\
         # Disk is shared with builds: warn late, stop the monitor only when it is nearly full.\n\
         mon_data_avail_warn = 5\n\
         mon_data_avail_crit = 1\n\
         osd_memory_target = 939524096\n\
         # A stopped OSD is marked down within seconds (the replication test stops one).\n\
         osd_heartbeat_grace = 6\n\
         osd_heartbeat_interval = 2\n\
         \n\
         [client.rgw.{RGW}]\n\
         rgw_frontends = beast endpoint={S3_ADDR} ssl_endpoint={S3_TLS_ADDR} \
         ssl_certificate={d}/rgw/tls-cert.pem ssl_private_key={d}/rgw/tls-key.pem\n\
         rgw_dns_name = 127.0.0.1\n\
         rgw_thread_pool_size = 64\n\
         # Deleted objects and aborted uploads give their memory back within seconds, not the\n\
         # default two hours: memstore keeps every byte in RAM and test runs delete a lot.\n\
         rgw_gc_obj_min_wait = 0\n\
         rgw_gc_processor_period = 5\n\
         rgw_gc_processor_max_time = 5\n"
    )
}

/// A Ceph daemon or tool with this cluster's config file.
fn daemon(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.arg("-c").arg(dir.join("ceph.conf"));
    cmd
}

/// Runs `ceph <args>` against the cluster (10 s connect timeout) and returns its stdout.
fn ceph(dir: &Path, args: &[&str]) -> Result<String> {
    output(
        daemon("ceph", dir)
            .args(["--connect-timeout", "10"])
            .args(args),
    )
}

/// Registers OSD `id` with the monitor, makes its memstore and starts it.
fn start_new_osd(dir: &Path, id: u32) -> Result<()> {
    let uuid = uuid()?;
    std::fs::create_dir_all(dir.join("osd").join(format!("osd.{id}")))?;
    let got = ceph(dir, &["osd", "new", &uuid])?;
    if got.trim() != id.to_string() {
        bail!(
            "`ceph osd new` gave id {} where {id} was expected",
            got.trim()
        );
    }
    run(daemon("ceph-osd", dir).args(["-i", &id.to_string(), "--mkfs", "--osd-uuid", &uuid]))?;
    start_osd(dir, id)
}

/// Starts the already made OSD `id` (also used to bring a stopped one back).
pub fn start_osd(dir: &Path, id: u32) -> Result<()> {
    run(daemon("ceph-osd", dir).args(["-i", &id.to_string()]))
}

/// How many OSDs the monitor counts as up.
fn osds_up(dir: &Path) -> Option<u32> {
    let stat = ceph(dir, &["osd", "stat", "--format", "json"]).ok()?;
    json_number(&stat, "num_up_osds")
}

/// The number after `"key":` in a flat JSON text (enough for `ceph ... --format json`).
fn json_number(json: &str, key: &str) -> Option<u32> {
    let after = json.split(&format!("\"{key}\":")).nth(1)?;
    let digits: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The test user with the fixed keys, then the test bucket (through rclone, over S3).
fn create_user_and_bucket(dir: &Path) -> Result<()> {
    run(daemon("radosgw-admin", dir)
        .args(["user", "create", "--uid", USER_ID])
        .args(["--display-name", "FTP test user"])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .stdout(std::process::Stdio::null()))?;
    run(rclone().args(["mkdir", &format!("ceph:{BUCKET}")]))
}

/// Makes the gateway free the space of deleted objects and aborted uploads now
/// (`radosgw-admin gc process --include-all`), instead of at its next garbage-collection pass.
pub fn collect_garbage(root: &Path) -> Result<()> {
    run(daemon("radosgw-admin", &dir(root)).args(["gc", "process", "--include-all"]))
}

/// rclone with a remote `ceph:` pointing at the gateway, configured by environment only.
pub fn rclone() -> Command {
    let mut cmd = Command::new("rclone");
    cmd.env("RCLONE_CONFIG_CEPH_TYPE", "s3")
        .env("RCLONE_CONFIG_CEPH_PROVIDER", "Ceph")
        .env("RCLONE_CONFIG_CEPH_ENDPOINT", format!("http://{S3_ADDR}"))
        .env("RCLONE_CONFIG_CEPH_ACCESS_KEY_ID", ACCESS_KEY)
        .env("RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("RCLONE_CONFIG_CEPH_REGION", REGION)
        // A CA bundle meant for other tools breaks rclone's S3 backend.
        .env_remove("AWS_CA_BUNDLE")
        .env("RCLONE_CONFIG", "/dev/null");
    cmd
}

/// A fresh random UUID from the kernel.
fn uuid() -> Result<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/random/uuid").context("read a uuid")?;
    Ok(raw.trim().to_string())
}

/// Polls `ready` every half second until it holds, or fails after [`STEP_TIMEOUT`].
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) -> Result<()> {
    let begun = Instant::now();
    while !ready() {
        if begun.elapsed() > STEP_TIMEOUT {
            bail!(
                "timed out after {}s waiting for {what}",
                STEP_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "xtask: {what}: ready after {:.1}s",
        begun.elapsed().as_secs_f64()
    );
    Ok(())
}

fn s3_socket() -> SocketAddr {
    S3_ADDR.parse().expect("S3_ADDR is an address")
}

/// Whether something accepts connections on [`S3_ADDR`].
fn s3_port_taken() -> bool {
    TcpStream::connect_timeout(&s3_socket(), Duration::from_secs(1)).is_ok()
}

/// Whether something accepts connections on [`S3_TLS_ADDR`].
fn tls_port_taken() -> bool {
    let addr: SocketAddr = S3_TLS_ADDR.parse().expect("S3_TLS_ADDR is an address");
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Whether the gateway answers HTTP on [`S3_ADDR`] (any status line: an anonymous `GET /`
/// gets a ListAllMyBuckets reply or an error document, both from RGW).
pub fn s3_answers() -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&s3_socket(), Duration::from_secs(1))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1."))
    };
    attempt().unwrap_or(false)
}

/// The pid file of a daemon (`run/<name>.pid`).
fn pid_file(dir: &Path, name: &str) -> PathBuf {
    dir.join("run").join(format!("{name}.pid"))
}

/// The PID in `name`'s pid file if that process is alive and is a daemon of this directory
/// (its command line names this directory's config file), so a recycled PID is never taken.
pub fn live_pid(dir: &Path, name: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file(dir, name))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    runs_with_config(pid, &dir.join("ceph.conf")).then_some(pid)
}

/// Whether process `pid` has `conf` among its arguments (a relative one is taken from the
/// process's working directory, for daemons restarted by hand).
pub fn runs_with_config(pid: i32, conf: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
    cmdline
        .split(|b| *b == 0)
        .filter_map(|arg| std::str::from_utf8(arg).ok())
        .any(|arg| cwd.join(arg) == conf)
}

/// The daemons that run, with their PIDs.
fn running(dir: &Path) -> Vec<(String, i32)> {
    daemons()
        .into_iter()
        .filter_map(|name| live_pid(dir, &name).map(|pid| (name, pid)))
        .collect()
}

fn all_running(dir: &Path) -> bool {
    running(dir).len() == daemons().len()
}

/// `cargo xtask ceph stop`: SIGTERM to each daemon of the pid files, SIGKILL after 10 s.
pub fn stop(root: &Path) -> Result<()> {
    let dir = dir(root);
    let victims = running(&dir);
    for (name, pid) in victims.iter().rev() {
        eprintln!("xtask: stopping {name} (pid {pid})");
        kill(&dir, name, *pid)?;
    }
    if victims.is_empty() {
        eprintln!("xtask: no ceph daemon runs under {}", dir.display());
    }
    Ok(())
}

/// Stops one daemon by PID: SIGTERM, then SIGKILL if it is still there after 10 s.
pub fn kill(dir: &Path, name: &str, pid: i32) -> Result<()> {
    use rustix::process::{kill_process, Pid, Signal};
    let target = Pid::from_raw(pid).context("pid 0")?;
    let _ = kill_process(target, Signal::TERM);
    let begun = Instant::now();
    while live_pid(dir, name) == Some(pid) {
        if begun.elapsed() > Duration::from_secs(10) {
            let _ = kill_process(target, Signal::KILL);
        }
        if begun.elapsed() > Duration::from_secs(20) {
            bail!("{name} (pid {pid}) survives SIGKILL");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// `cargo xtask ceph status`: each daemon, running or not, and whether S3 answers.
pub fn status(root: &Path) -> Result<()> {
    let dir = dir(root);
    let mut up = 0;
    for name in daemons() {
        match live_pid(&dir, &name) {
            Some(pid) => {
                up += 1;
                println!("{name}: running (pid {pid})");
            }
            None => println!("{name}: not running"),
        }
    }
    let s3 = s3_answers();
    println!(
        "s3 on {S3_ADDR}: {}",
        if s3 { "answers" } else { "no answer" }
    );
    if up == daemons().len() && s3 {
        if let Some(n) = osds_up(&dir) {
            println!("osds up (monitor's view): {n}/{OSDS}");
        }
        print!("{}", env_lines(&dir));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_number_reads_a_flat_field() {
        let stat = r#"{"epoch":12,"num_osds":3,"num_up_osds": 2,"osd_up_since":0}"#;
        assert_eq!(json_number(stat, "num_up_osds"), Some(2));
        assert_eq!(json_number(stat, "num_osds"), Some(3));
        assert_eq!(json_number(stat, "missing"), None);
    }

    #[test]
    fn config_keeps_every_path_under_the_scratch_directory() {
        let conf = config(Path::new("/scratch/ceph"), "fsid");
        for key in [
            "pid_file",
            "admin_socket",
            "log_file",
            "mon_data",
            "osd_data",
        ] {
            let line = conf
                .lines()
                .find(|l| l.starts_with(key))
                .unwrap_or_else(|| panic!("{key} missing"));
            assert!(line.contains("= /scratch/ceph/"), "{line}");
        }
    }
}
