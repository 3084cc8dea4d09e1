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

use super::cgroup::{Counter, Group};
use super::tls::TlsFiles;

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

/// A running server; killed (with its process tree) on drop.
pub struct Running {
    pub addr: SocketAddr,
    pub child: Child,
    _state: PathBuf,
    /// Its own cgroup, where the bench may make one (exact CPU time); removed after the
    /// kill in `drop`, as fields drop after it.
    group: Option<Group>,
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

pub fn free_port() -> Result<u16> {
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

/// Starts server `name` serving `files` (seen as `/`) and waits for its greeting; with `tls`,
/// explicit FTPS (`AUTH TLS`) with that certificate, TLS required for login and data, and
/// data connections required to resume the control connection's TLS session.
pub fn start(
    root: &Path,
    ours: &Path,
    name: &str,
    files: &Path,
    tls: Option<&TlsFiles>,
) -> Result<Running> {
    let state = std::env::temp_dir().join(format!("xtask-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&state)?;
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = match name {
        // `ours-aws-lc`: `ours` is then the build with rustls's aws-lc-rs provider.
        "ours" | "ours-aws-lc" => ours_command(ours, addr, files),
        // Ours flushing every upload to disk before its 226 (the cost of that setting).
        "ours-fsync" => {
            let mut c = ours_command(ours, addr, files);
            c.arg("--fsync-uploads");
            c
        }
        "vsftpd" => vsftpd_command(root, &state, port, files)?,
        "pure-ftpd" => pure_ftpd_command(root, &state, port, files)?,
        "proftpd" => proftpd_command(root, &state, port, files)?,
        "pyftpdlib" => pyftpdlib_command(&state, port, files)?,
        other => bail!("unknown server {other}"),
    };
    if let Some(t) = tls {
        with_tls(root, name, &mut cmd, &state, t)?;
    }
    spawn(cmd, name, addr, state)
}

/// Starts `cmd` (a server that will listen on `addr`) with its output in `state/output.log`
/// (`state` is removed when the server is dropped) and waits for its greeting.
pub fn spawn(mut cmd: Command, name: &str, addr: SocketAddr, state: PathBuf) -> Result<Running> {
    std::fs::create_dir_all(&state)?;
    let log = std::fs::File::create(state.join("output.log"))?;
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
    let running = Running {
        addr,
        group: Group::enter(name, child.id()),
        child,
        _state: state,
    };
    let running = wait_for_greeting(running, name)?;
    if let Some(g) = &running.group {
        // A process the daemon forked before it was moved stays outside: move it too.
        for p in super::measure::tree(running.pid()) {
            if Counter::of(p).is_none() {
                let _ = g.add(p);
            }
        }
    }
    Ok(running)
}

/// Our server, with the raised limits on the command line, logging warnings only: like the
/// peers here (no xferlog, `-f none`, `TransferLog none`, pyftpdlib's root logger unset), it
/// writes no line per transfer (at `info`, one such line costs it 6–12 µs of CPU a file).
fn ours_command(ours: &Path, addr: SocketAddr, files: &Path) -> Command {
    let limit = MAX_SESSIONS.to_string();
    let mut c = Command::new(ours);
    c.arg("--listen")
        .arg(addr.to_string())
        .arg("--root")
        .arg(files)
        .arg("--user")
        .arg(format!("{USER}:{PASS}"))
        .args(["--max-sessions", &limit, "--max-sessions-per-ip", &limit])
        .args(["--idle-timeout", "1h"])
        .env("RUST_LOG", "warn");
    c
}

/// vsftpd, with its config file written under `state`.
fn vsftpd_command(root: &Path, state: &Path, port: u16, files: &Path) -> Result<Command> {
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
    let mut c = Command::new(peer_bin(root, "vsftpd"));
    c.arg(&conf);
    Ok(c)
}

/// pure-ftpd, with its user database made under `state` by `pure-pw`.
fn pure_ftpd_command(root: &Path, state: &Path, port: u16, files: &Path) -> Result<Command> {
    let limit = MAX_SESSIONS.to_string();
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
    let mut c = Command::new(peer_bin(root, "pure-ftpd"));
    c.arg("-S")
        .arg(format!("127.0.0.1,{port}"))
        .arg("-l")
        .arg(format!("puredb:{}", pdb.display()))
        .args(["-E", "-A", "-H", "-f", "none", "-U", "022:022"])
        .args(["-c", &limit, "-C", &limit, "-I", "60"])
        .arg("-g")
        .arg(state.join("pure-ftpd.pid"));
    Ok(c)
}

/// ProFTPD, with its config and password file written under `state`.
fn proftpd_command(root: &Path, state: &Path, port: u16, files: &Path) -> Result<Command> {
    let limit = MAX_SESSIONS;
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
    let mut c = Command::new(peer_bin(root, "proftpd"));
    c.arg("-n").arg("-q").arg("-c").arg(&conf);
    Ok(c)
}

/// pyftpdlib, from a script written under `state`.
fn pyftpdlib_command(state: &Path, port: u16, files: &Path) -> Result<Command> {
    let limit = MAX_SESSIONS;
    let script = state.join("server.py");
    std::fs::write(
        &script,
        format!(
            "import sys\nfrom pyftpdlib.authorizers import DummyAuthorizer\n\
             from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler\n\
             from pyftpdlib.servers import FTPServer\n\
             a = DummyAuthorizer()\na.add_user({USER:?}, {PASS:?}, sys.argv[1], perm='elradfmwMT')\n\
             H = FTPHandler\n\
             if len(sys.argv) > 3:\n    H = TLS_FTPHandler\n    H.certfile = sys.argv[2]\n    \
             H.keyfile = sys.argv[3]\n    H.tls_control_required = True\n    \
             H.tls_data_required = True\n\
             H.authorizer = a\nH.timeout = 3600\n\
             s = FTPServer(('127.0.0.1', {port}), H)\ns.max_cons = {limit}\n\
             s.max_cons_per_ip = 0\ns.serve_forever(handle_exit=True)\n"
        ),
    )?;
    let mut c = Command::new("python3");
    c.arg(&script).arg(files);
    Ok(c)
}

/// Turns the plain `cmd` of server `name` into its FTPS form with the certificate `t`: extra
/// flags, or lines appended to the config file `cmd` reads from `state`.
fn with_tls(root: &Path, name: &str, cmd: &mut Command, state: &Path, t: &TlsFiles) -> Result<()> {
    let (cert, key) = (t.cert.display(), t.key.display());
    let append = |file: &str, text: String| -> Result<()> {
        let path = state.join(file);
        let mut conf = std::fs::read_to_string(&path)?;
        conf.push_str(&text);
        Ok(std::fs::write(path, conf)?)
    };
    match name {
        "ours" | "ours-aws-lc" => {
            cmd.arg("--tls-cert")
                .arg(&t.cert)
                .arg("--tls-key")
                .arg(&t.key);
        }
        "vsftpd" => append(
            "vsftpd.conf",
            format!(
                "ssl_enable=YES\nrequire_ssl_reuse=YES\nforce_local_logins_ssl=YES\n\
                 force_local_data_ssl=YES\nssl_sslv2=NO\nssl_sslv3=NO\nssl_tlsv1=NO\n\
                 ssl_ciphers=HIGH\nrsa_cert_file={cert}\nrsa_private_key_file={key}\n"
            ),
        )?,
        "pure-ftpd" => {
            cmd.args(["-Y", "2", "-2"]).arg(format!("{cert},{key}"));
        }
        "proftpd" => {
            let modules = root.join("target/peers/proftpd/usr/lib/proftpd");
            let kind = if t.ecdsa { "EC" } else { "RSA" };
            append(
                "proftpd.conf",
                format!(
                    "ModulePath {}\nLoadModule mod_tls.c\nTLSEngine on\nTLSRequired on\n\
                     TLSProtocol TLSv1.2 TLSv1.3\nTLS{kind}CertificateFile {cert}\n\
                     TLS{kind}CertificateKeyFile {key}\nTLSVerifyClient off\nTLSLog {}\n",
                    modules.display(),
                    state.join("tls.log").display()
                ),
            )?;
        }
        _ => {
            // pyftpdlib: the script reads the PEM files from its extra arguments.
            cmd.arg(&t.cert).arg(&t.key);
        }
    }
    Ok(())
}

/// Waits (15 s at most) until the server `running` greets with `220`.
fn wait_for_greeting(running: Running, name: &str) -> Result<Running> {
    let addr = running.addr;
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
