//! Starting each benchmarked server on loopback with identical settings.
//!
//! The peer launch logic and config templates are copied (trimmed) from
//! `integration-tests/src/peers.rs`, so that xtask does not depend on the test harness; the
//! limits are raised (sessions, per-IP) so that the session scenarios measure speed, not limits.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The account every peer logs in (vsftpd needs the system account `cargo xtask install` makes).
pub const USER: &str = "ftpinterop";
/// Its password.
pub const PASS: &str = "interop-pw";
const PASS_SHA512_CRYPT: &str = "$6$rustftpinterop$Skf1tpdccviEiAWEtYs9yrDmYHx7r7fuIVNihB.Z99WJUznOkJOaByNEm3PVG54CzEgKYNLlQiYeiyXAKBArX0";
const NOBODY: u32 = 65534;
/// Session limit given to every server.
const MAX_SESSIONS: usize = 2000;

/// The servers compared, ours first.
pub const SERVERS: &[&str] = &["ours", "vsftpd", "pure-ftpd", "proftpd", "pyftpdlib"];

/// A running server; killed (with its process group) on drop.
pub struct Running {
    pub addr: SocketAddr,
    pub child: Child,
    _state: PathBuf,
}

impl Running {
    /// The daemon's pid (root of the process tree measured).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        // The daemons fork per session: kill the whole tree (children first).
        for p in super::measure::tree(self.child.id()).into_iter().rev() {
            let _ = Command::new("kill")
                .arg("-9")
                .arg(p.to_string())
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("kill")
            .arg("-9")
            .arg(&pid)
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._state);
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Makes `root` and everything in it world-writable (peers drop privileges per session).
pub fn open_up(path: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777));
        if let Ok(entries) = std::fs::read_dir(path) {
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    open_up(&e.path());
                } else {
                    let _ =
                        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o666));
                }
            }
        }
    }
}

/// Whether `name` can run here (binary present).
pub fn available(root: &Path, ours: &Path, name: &str) -> bool {
    match name {
        "ours" => ours.is_file(),
        "pyftpdlib" => Command::new("python3")
            .args(["-c", "import pyftpdlib"])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false),
        other => peer_bin(root, other).is_file(),
    }
}

fn peer_bin(root: &Path, name: &str) -> PathBuf {
    let dir = root.join("target/peers").join(name);
    match name {
        "vsftpd" => dir.join("usr/sbin/vsftpd"),
        "pure-ftpd" => dir.join("usr/sbin/pure-ftpd"),
        _ => dir.join("usr/sbin/proftpd"),
    }
}

/// Starts server `name` serving `files` (seen as `/`) and waits for its greeting.
pub fn start(root: &Path, ours: &Path, name: &str, files: &Path) -> Result<Running> {
    let state = std::env::temp_dir().join(format!("xtask-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&state)?;
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let limit = MAX_SESSIONS.to_string();
    let mut cmd = match name {
        "ours" => {
            let mut c = Command::new(ours);
            c.arg("--listen")
                .arg(addr.to_string())
                .arg("--root")
                .arg(files)
                .arg("--user")
                .arg(format!("{USER}:{PASS}"))
                .args(["--max-sessions", &limit, "--max-sessions-per-ip", &limit])
                .args(["--idle-timeout", "1h"]);
            c
        }
        "vsftpd" => {
            let empty = state.join("empty");
            std::fs::create_dir_all(&empty)?;
            let conf = state.join("vsftpd.conf");
            let text = format!(
                "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
                 background=NO\nseccomp_sandbox=NO\nanonymous_enable=NO\nlocal_enable=YES\n\
                 write_enable=YES\nlocal_umask=022\nlocal_root={root}\nchroot_local_user=YES\n\
                 allow_writeable_chroot=YES\nsecure_chroot_dir={empty}\nnopriv_user=nobody\n\
                 pasv_enable=YES\npasv_address=127.0.0.1\nport_enable=YES\n\
                 connect_from_port_20=NO\nxferlog_enable=NO\nsyslog_enable=NO\n\
                 vsftpd_log_file={log}\npam_service_name=other\nuserlist_enable=NO\n\
                 hide_ids=NO\nmax_per_ip=0\nmax_clients=0\nuse_localtime=NO\nidle_session_timeout=3600\n",
                root = files.display(),
                empty = empty.display(),
                log = state.join("vsftpd.log").display(),
            );
            std::fs::write(&conf, text)?;
            let mut c = Command::new(peer_bin(root, name));
            c.arg(&conf);
            c
        }
        "pure-ftpd" => {
            let passwd = state.join("pureftpd.passwd");
            let pdb = state.join("pureftpd.pdb");
            std::fs::write(
                &passwd,
                format!(
                    "{USER}:{PASS_SHA512_CRYPT}:{NOBODY}:{NOBODY}::{}/./::::::::::::\n",
                    files.display()
                ),
            )?;
            let ok = Command::new(root.join("target/peers/pure-ftpd/usr/bin/pure-pw"))
                .arg("mkdb")
                .arg(&pdb)
                .arg("-f")
                .arg(&passwd)
                .stdin(Stdio::null())
                .status()?
                .success();
            if !ok {
                bail!("pure-pw mkdb failed");
            }
            let mut c = Command::new(peer_bin(root, name));
            c.arg("-S")
                .arg(format!("127.0.0.1,{port}"))
                .arg("-l")
                .arg(format!("puredb:{}", pdb.display()))
                .args(["-E", "-A", "-H", "-f", "none", "-U", "022:022"])
                .args(["-c", &limit, "-C", &limit, "-I", "60"])
                .arg("-g")
                .arg(state.join("pure-ftpd.pid"));
            c
        }
        "proftpd" => {
            let passwd = state.join("ftpd.passwd");
            std::fs::write(
                &passwd,
                format!(
                    "{USER}:{PASS_SHA512_CRYPT}:{NOBODY}:{NOBODY}::{}:/bin/false\n",
                    files.display()
                ),
            )?;
            std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o600))?;
            let conf = state.join("proftpd.conf");
            let text = format!(
                "ServerName \"bench\"\nServerType standalone\nDefaultServer on\n\
                 Port {port}\nDefaultAddress 127.0.0.1\nSocketBindTight on\nUseIPv6 off\n\
                 User nobody\nGroup nogroup\nUmask 022\nMaxInstances {limit}\n\
                 PidFile {state}/proftpd.pid\nScoreboardFile {state}/proftpd.scoreboard\n\
                 DelayTable none\nWtmpLog off\nTransferLog none\nSystemLog {state}/proftpd.log\n\
                 AuthOrder mod_auth_file.c\nAuthUserFile {passwd}\nRequireValidShell off\n\
                 DefaultRoot ~\nUseReverseDNS off\nAllowOverwrite on\n\
                 TimeoutIdle 3600\nUseSendfile on\n",
                state = state.display(),
                passwd = passwd.display(),
            );
            std::fs::write(&conf, text)?;
            let mut c = Command::new(peer_bin(root, name));
            c.arg("-n").arg("-q").arg("-c").arg(&conf);
            c
        }
        "pyftpdlib" => {
            let script = state.join("server.py");
            std::fs::write(
                &script,
                format!(
                    "import sys\nfrom pyftpdlib.authorizers import DummyAuthorizer\n\
                     from pyftpdlib.handlers import FTPHandler\nfrom pyftpdlib.servers import FTPServer\n\
                     a = DummyAuthorizer()\na.add_user({USER:?}, {PASS:?}, sys.argv[1], perm='elradfmwMT')\n\
                     FTPHandler.authorizer = a\nFTPHandler.timeout = 3600\n\
                     s = FTPServer(('127.0.0.1', {port}), FTPHandler)\ns.max_cons = {limit}\n\
                     s.max_cons_per_ip = 0\ns.serve_forever(handle_exit=True)\n"
                ),
            )?;
            let mut c = Command::new("python3");
            c.arg(&script).arg(files);
            c
        }
        other => bail!("unknown server {other}"),
    };
    let log = std::fs::File::create(state.join("output.log"))?;
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
    let running = Running {
        addr,
        child,
        _state: state,
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(s) = TcpStream::connect(addr) {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            let mut line = String::new();
            if BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("220") {
                return Ok(running);
            }
        }
        if Instant::now() > deadline {
            let log =
                std::fs::read_to_string(running._state.join("output.log")).unwrap_or_default();
            bail!("{name} did not greet on {addr}; log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
