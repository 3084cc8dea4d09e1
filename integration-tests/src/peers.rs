//! Launchers for real third-party FTP servers, to test our client against them.
//!
//! Each launcher's `start(root)` runs the server on 127.0.0.1 with a user who can read and write
//! `root` (which the client sees as `/`), waits until it answers with a 220 greeting, and returns a
//! [`Peer`] that kills the server's process group on drop. A missing server is a [`Skip`]; a server
//! that is installed but fails to start panics with its log.
//!
//! vsftpd, pure-ftpd and ProFTPD are the Debian packages unpacked side by side by
//! `cargo xtask install` under `target/peers/<name>/` (override with `FTP_PEERS_DIR`); they run as
//! root (as they are designed to) and drop privileges per session. Files they create are owned
//! by their unprivileged user, so `start` makes `root` and what is already in it world-writable;
//! files a test adds later must be made writable by the test if the peer should change them.
//! pyftpdlib is run from `python3` with a small launcher script.
//!
//! ```no_run
//! use integration_tests::{or_skip, peers::Pyftpdlib};
//! let root = tempfile::tempdir().unwrap();
//! std::fs::write(root.path().join("hello.txt"), b"hi").unwrap();
//! let Some(peer) = or_skip(Pyftpdlib::start(root.path()), "pyftpdlib demo") else { return };
//! println!("log in as {}:{} at {}", peer.user, peer.pass, peer.url());
//! ```

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, ChildGuard, Skip};

/// The password of every peer's test user.
pub const PEER_PASS: &str = "interop-pw";
/// The user of pure-ftpd, ProFTPD and pyftpdlib (virtual users, mapped to `nobody`).
pub const PEER_USER: &str = "ftpinterop";
/// The system account vsftpd logs in; `cargo xtask install` creates it with [`PEER_PASS`].
pub const VSFTPD_USER: &str = "ftpinterop";
/// `openssl passwd -6 -salt rustftpinterop interop-pw`: the crypt(3) hash of [`PEER_PASS`] for
/// the pure-ftpd and ProFTPD password files.
const PEER_PASS_SHA512_CRYPT: &str = "$6$rustftpinterop$Skf1tpdccviEiAWEtYs9yrDmYHx7r7fuIVNihB.Z99WJUznOkJOaByNEm3PVG54CzEgKYNLlQiYeiyXAKBArX0";
/// uid/gid of `nobody`/`nogroup` on Debian, which the virtual users run as.
const NOBODY: u32 = 65534;
const START_TIMEOUT: Duration = Duration::from_secs(15);
const START_ATTEMPTS: usize = 3;

/// A running third-party server; dropping it kills the server.
#[derive(Debug)]
pub struct Peer {
    /// Which server this is (`"vsftpd"`, `"pure-ftpd"`, `"proftpd"`, `"pyftpdlib"`).
    pub name: &'static str,
    /// Its control address on 127.0.0.1.
    pub addr: SocketAddr,
    /// The user to log in as.
    pub user: String,
    /// That user's password.
    pub pass: String,
    /// The directory served as `/`.
    pub root: PathBuf,
    // Field order matters: the process dies before its state directory is removed.
    process: ChildGuard,
    state: tempfile::TempDir,
}

impl Peer {
    /// `ftp://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        crate::ftp_url(self.addr)
    }

    /// `user:password`, as curl's `--user` wants it.
    pub fn userpass(&self) -> String {
        format!("{}:{}", self.user, self.pass)
    }

    /// The server's own output so far (stdout and stderr), for failure messages.
    pub fn log(&self) -> String {
        read_log(self.state.path())
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

/// vsftpd 3: a local (system) user [`VSFTPD_USER`] chrooted into `root` via `local_root`.
#[derive(Debug)]
pub struct Vsftpd;
/// pure-ftpd: a virtual user from a PureDB file, chrooted into `root`.
#[derive(Debug)]
pub struct PureFtpd;
/// ProFTPD: a virtual user from an `AuthUserFile`, chrooted into `root` (`DefaultRoot ~`).
#[derive(Debug)]
pub struct ProFtpd;
/// pyftpdlib: a `DummyAuthorizer` user with all permissions on `root`.
#[derive(Debug)]
pub struct Pyftpdlib;

/// The directory `cargo xtask install` unpacks the Debian server packages into.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("FTP_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("peers")
        })
}

fn unpacked(dir: &str, binary: &str) -> Result<PathBuf, Skip> {
    let path = peers_dir().join(dir).join(binary);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Skip(format!("{dir} is not unpacked at {}", path.display())))
    }
}

fn must_be_root(name: &str) -> Result<(), Skip> {
    if rustix::process::geteuid().is_root() {
        Ok(())
    } else {
        Err(Skip(format!("{name} must be started as root")))
    }
}

impl Vsftpd {
    /// Starts vsftpd serving `root` read-write to [`VSFTPD_USER`] / [`PEER_PASS`].
    pub fn start(root: &Path) -> Result<Peer, Skip> {
        Self::start_with(root, String::new())
    }

    /// Like [`Vsftpd::start`], with explicit FTPS required for login and data
    /// (`ssl_enable=YES`, `require_ssl_reuse=YES`, TLS 1.2+) using the PEM certificate and key
    /// files given (readable by root).
    pub fn start_tls(root: &Path, cert: &Path, key: &Path) -> Result<Peer, Skip> {
        Self::start_with(root, vsftpd_tls_conf(cert, key))
    }

    /// Like [`Vsftpd::start_tls`], but implicit FTPS (`implicit_ssl=YES`: TLS from the first
    /// byte on the control connection).
    pub fn start_implicit_tls(root: &Path, cert: &Path, key: &Path) -> Result<Peer, Skip> {
        let tls = vsftpd_tls_conf(cert, key);
        Self::start_with(root, format!("{tls}implicit_ssl=YES\n"))
    }

    fn start_with(root: &Path, extra_conf: String) -> Result<Peer, Skip> {
        let binary = unpacked("vsftpd", "usr/sbin/vsftpd")?;
        must_be_root("vsftpd")?;
        let account = Command::new("id")
            .arg(VSFTPD_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !account {
            return Err(Skip(format!(
                "the system account {VSFTPD_USER} for vsftpd does not exist"
            )));
        }
        let root = prepare_root(root);
        // An implicit-FTPS vsftpd says nothing before the TLS handshake.
        let greets = !extra_conf.contains("implicit_ssl=YES");
        Ok(start_fixed_port(
            "vsftpd",
            VSFTPD_USER,
            &root,
            greets,
            |state, port| {
                let empty = state.join("empty");
                std::fs::create_dir_all(&empty).expect("create secure_chroot_dir");
                let conf = state.join("vsftpd.conf");
                let text = format!(
                    "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
                 background=NO\nseccomp_sandbox=NO\nanonymous_enable=NO\nlocal_enable=YES\n\
                 write_enable=YES\nlocal_umask=022\nlocal_root={root}\nchroot_local_user=YES\n\
                 allow_writeable_chroot=YES\nsecure_chroot_dir={empty}\nnopriv_user=nobody\n\
                 pasv_enable=YES\npasv_address=127.0.0.1\nport_enable=YES\n\
                 connect_from_port_20=NO\nxferlog_enable=NO\nsyslog_enable=NO\n\
                 vsftpd_log_file={log}\npam_service_name=other\nuserlist_enable=NO\n\
                 hide_ids=NO\nmax_per_ip=0\nmax_clients=0\nuse_localtime=NO\n",
                    root = root.display(),
                    empty = empty.display(),
                    log = state.join("vsftpd.log").display(),
                ) + &extra_conf;
                std::fs::write(&conf, text).expect("write vsftpd.conf");
                let mut cmd = Command::new(&binary);
                cmd.arg(&conf);
                cmd
            },
        ))
    }
}

/// vsftpd's FTPS settings: TLS required for login and data, session reuse required, TLS 1.2+.
fn vsftpd_tls_conf(cert: &Path, key: &Path) -> String {
    format!(
        "ssl_enable=YES\nrequire_ssl_reuse=YES\nforce_local_logins_ssl=YES\n\
         force_local_data_ssl=YES\nssl_sslv2=NO\nssl_sslv3=NO\nssl_tlsv1=NO\n\
         ssl_ciphers=HIGH\nrsa_cert_file={}\nrsa_private_key_file={}\n",
        cert.display(),
        key.display()
    )
}

impl PureFtpd {
    /// Starts pure-ftpd serving `root` read-write to [`PEER_USER`] / [`PEER_PASS`].
    pub fn start(root: &Path) -> Result<Peer, Skip> {
        let binary = unpacked("pure-ftpd", "usr/sbin/pure-ftpd")?;
        let pure_pw = unpacked("pure-ftpd", "usr/bin/pure-pw")?;
        must_be_root("pure-ftpd")?;
        let root = prepare_root(root);
        Ok(start_fixed_port(
            "pure-ftpd",
            PEER_USER,
            &root,
            true,
            |state, port| {
                let passwd = state.join("pureftpd.passwd");
                let pdb = state.join("pureftpd.pdb");
                // The trailing `/./` chroots the user into its home.
                let line = format!(
                    "{PEER_USER}:{PEER_PASS_SHA512_CRYPT}:{NOBODY}:{NOBODY}::{}/./::::::::::::\n",
                    root.display()
                );
                std::fs::write(&passwd, line).expect("write pure-ftpd passwd");
                let status = Command::new(&pure_pw)
                    .arg("mkdb")
                    .arg(&pdb)
                    .arg("-f")
                    .arg(&passwd)
                    .stdin(Stdio::null())
                    .status()
                    .expect("run pure-pw");
                assert!(status.success(), "pure-pw mkdb failed: {status}");
                let mut cmd = Command::new(&binary);
                cmd.arg("-S")
                    .arg(format!("127.0.0.1,{port}"))
                    .arg("-l")
                    .arg(format!("puredb:{}", pdb.display()))
                    // no anonymous, chroot everyone, no DNS, no syslog
                    .args(["-E", "-A", "-H", "-f", "none", "-U", "022:022"])
                    .arg("-g")
                    .arg(state.join("pure-ftpd.pid"));
                cmd
            },
        ))
    }
}

impl ProFtpd {
    /// Starts ProFTPD serving `root` read-write to [`PEER_USER`] / [`PEER_PASS`].
    pub fn start(root: &Path) -> Result<Peer, Skip> {
        Self::start_with(root, |_| String::new())
    }

    /// Like [`ProFtpd::start`], with loadable modules of the Debian package loaded, by their
    /// `LoadModule` names (`mod_copy.c` for `SITE CPFR`/`CPTO`/`COPY`, `mod_digest.c` for
    /// `HASH` and `XSHA256` …).
    pub fn start_with_modules(root: &Path, modules: &[&str]) -> Result<Peer, Skip> {
        let dir = unpacked("proftpd", "usr/lib/proftpd/mod_copy.so")?;
        let dir = dir.parent().expect("the module directory");
        let mut conf = format!("ModulePath {}\n", dir.display());
        for m in modules {
            conf.push_str(&format!("LoadModule {m}\n"));
        }
        Self::start_with(root, move |_| conf.clone())
    }

    /// Like [`ProFtpd::start`], with mod_tls (from `proftpd-mod-crypto`) requiring explicit
    /// FTPS for login and data, with its default of data connections resuming the control
    /// connection's TLS session, using the PEM files given (an ECDSA key, as
    /// [`crate::CertFiles`] makes). TLS 1.2 only: under TLS 1.3 mod_tls sends no new
    /// tickets on upload data connections and expects the control connection's ticket to be
    /// used again, which rustls clients never do (TLS 1.3 tickets are single-use there), so
    /// a client runs out of tickets after two uploads.
    pub fn start_tls(root: &Path, cert: &Path, key: &Path) -> Result<Peer, Skip> {
        Self::start_tls_protocol(root, cert, key, "TLSv1.2")
    }

    /// [`ProFtpd::start_tls`] with mod_tls's `TLSProtocol` set to `protocol` (`TLSv1.3`:
    /// each control connection then gives a client two tickets, enough for two data
    /// connections).
    pub fn start_tls_protocol(
        root: &Path,
        cert: &Path,
        key: &Path,
        protocol: &str,
    ) -> Result<Peer, Skip> {
        let modules = unpacked("proftpd", "usr/lib/proftpd/mod_tls.so")?;
        let modules = modules.parent().expect("the module directory");
        let conf = |state: &Path| {
            format!(
                "ModulePath {modules}\nLoadModule mod_tls.c\nTLSEngine on\nTLSRequired on\n\
                 TLSProtocol {protocol}\nTLSECCertificateFile {cert}\n\
                 TLSECCertificateKeyFile {key}\nTLSVerifyClient off\nTLSLog {log}\n",
                modules = modules.display(),
                cert = cert.display(),
                key = key.display(),
                log = state.join("tls.log").display(),
            )
        };
        Self::start_with(root, conf)
    }

    fn start_with(root: &Path, extra_conf: impl Fn(&Path) -> String) -> Result<Peer, Skip> {
        let binary = unpacked("proftpd", "usr/sbin/proftpd")?;
        must_be_root("proftpd")?;
        let root = prepare_root(root);
        Ok(start_fixed_port(
            "proftpd",
            PEER_USER,
            &root,
            true,
            |state, port| {
                let passwd = state.join("ftpd.passwd");
                let line = format!(
                    "{PEER_USER}:{PEER_PASS_SHA512_CRYPT}:{NOBODY}:{NOBODY}::{}:/bin/false\n",
                    root.display()
                );
                std::fs::write(&passwd, line).expect("write proftpd AuthUserFile");
                // ProFTPD refuses a world-readable AuthUserFile.
                std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod AuthUserFile");
                let conf = state.join("proftpd.conf");
                let text = format!(
                    "ServerName \"interop\"\nServerType standalone\nDefaultServer on\n\
                 Port {port}\nDefaultAddress 127.0.0.1\nSocketBindTight on\nUseIPv6 off\n\
                 User nobody\nGroup nogroup\nUmask 022\nMaxInstances 64\n\
                 PidFile {state}/proftpd.pid\nScoreboardFile {state}/proftpd.scoreboard\n\
                 DelayTable none\nWtmpLog off\nTransferLog none\nSystemLog {state}/proftpd.log\n\
                 AuthOrder mod_auth_file.c\nAuthUserFile {passwd}\nRequireValidShell off\n\
                 DefaultRoot ~\nUseReverseDNS off\nAllowOverwrite on\nAllowStoreRestart on\n\
                 AllowRetrieveRestart on\nShowSymlinks on\n",
                    state = state.display(),
                    passwd = passwd.display(),
                ) + &extra_conf(state);
                std::fs::write(&conf, text).expect("write proftpd.conf");
                let mut cmd = Command::new(&binary);
                cmd.arg("-n").arg("-q").arg("-c").arg(&conf);
                cmd
            },
        ))
    }
}

/// The launcher script run by [`Pyftpdlib`].
fn pyftpdlib_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join("pyftpdlib_server.py")
}

impl Pyftpdlib {
    /// Starts pyftpdlib on 127.0.0.1 (port chosen by the OS) serving `root` read-write to
    /// [`PEER_USER`] / [`PEER_PASS`].
    pub fn start(root: &Path) -> Result<Peer, Skip> {
        Self::spawn(&pyftpdlib_script(), root, &[], true)
    }

    /// Like [`Pyftpdlib::start`], with `TLS_FTPHandler` requiring TLS on the control and data
    /// connections (pyOpenSSL needed), using the PEM files given. `implicit`: TLS from the
    /// first byte (the launcher secures the connection before the greeting), else `AUTH TLS`.
    pub fn start_tls(root: &Path, cert: &Path, key: &Path, implicit: bool) -> Result<Peer, Skip> {
        crate::python_module("OpenSSL")?;
        let script = pyftpdlib_script().with_file_name("pyftpdlib_tls_server.py");
        let mut args = vec![cert.as_os_str(), key.as_os_str()];
        if implicit {
            args.push(std::ffi::OsStr::new("implicit"));
        }
        Self::spawn(&script, root, &args, !implicit)
    }

    /// Runs a launcher `script ROOT USER PASS ARGS...` that prints its port, then serves.
    fn spawn(
        script: &Path,
        root: &Path,
        args: &[&std::ffi::OsStr],
        greets: bool,
    ) -> Result<Peer, Skip> {
        let python = crate::python_module("pyftpdlib")?;
        let root = prepare_root(root);
        let state = tempfile::tempdir().expect("create peer state dir");
        let log = std::fs::File::create(state.path().join("output.log")).expect("create log");
        let mut cmd = Command::new(python);
        cmd.arg(script)
            .arg(&root)
            .arg(PEER_USER)
            .arg(PEER_PASS)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut process = ChildGuard::spawn(&mut cmd).expect("start python3");
        // The script prints the port it bound, then serves.
        let stdout = process.child_mut().stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let _ = tx.send(reader.read_line(&mut line).map(|_| line));
            // Keep draining so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let port: u16 = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => line.trim().parse().unwrap_or_else(|_| {
                panic!(
                    "pyftpdlib printed {line:?} instead of its port; log:\n{}",
                    read_log(state.path())
                )
            }),
            _ => panic!(
                "pyftpdlib did not report its port; log:\n{}",
                read_log(state.path())
            ),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Err(why) = wait_ready(&mut process, addr, greets) {
            panic!(
                "pyftpdlib did not start: {why}; log:\n{}",
                read_log(state.path())
            );
        }
        Ok(Peer {
            name: "pyftpdlib",
            addr,
            user: PEER_USER.to_string(),
            pass: PEER_PASS.to_string(),
            root,
            process,
            state,
        })
    }
}

/// Canonicalises `root` and makes it and its current contents writable by the peers'
/// unprivileged users.
fn prepare_root(root: &Path) -> PathBuf {
    let root = root
        .canonicalize()
        .unwrap_or_else(|e| panic!("peer root {}: {e}", root.display()));
    make_world_writable(&root, 0);
    root
}

fn make_world_writable(path: &Path, depth: usize) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777));
        if depth < 32 {
            if let Ok(entries) = std::fs::read_dir(path) {
                for entry in entries.flatten() {
                    make_world_writable(&entry.path(), depth + 1);
                }
            }
        }
    } else if meta.is_file() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666));
    }
}

/// Starts a server that needs its port up front, retrying with a new port when the chosen
/// one was taken in the meantime (the server then exits early). `greets`: it sends a plain
/// 220 greeting (not implicit FTPS).
fn start_fixed_port(
    name: &'static str,
    user: &str,
    root: &Path,
    greets: bool,
    mut command: impl FnMut(&Path, u16) -> Command,
) -> Peer {
    let mut failures = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let state = tempfile::tempdir().expect("create peer state dir");
        let port = free_port();
        let mut cmd = command(state.path(), port);
        let log = std::fs::File::create(state.path().join("output.log")).expect("create log");
        let log2 = log.try_clone().expect("clone log handle");
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        let mut process =
            ChildGuard::spawn(&mut cmd).unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        match wait_ready(&mut process, addr, greets) {
            Ok(()) => {
                return Peer {
                    name,
                    addr,
                    user: user.to_string(),
                    pass: PEER_PASS.to_string(),
                    root: root.to_path_buf(),
                    process,
                    state,
                }
            }
            Err(why) => failures.push(format!("{why}; log:\n{}", read_log(state.path()))),
        }
    }
    panic!(
        "{name} did not start after {START_ATTEMPTS} attempts:\n{}",
        failures.join("\n---\n")
    );
}

/// Waits (bounded) until the server at `addr` sends a 220 greeting (or, unless `greets`,
/// accepts a connection).
fn wait_ready(process: &mut ChildGuard, addr: SocketAddr, greets: bool) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = process.try_wait() {
            return Err(format!("exited early with {status}"));
        }
        if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            if !greets {
                return Ok(());
            }
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut greeting = [0u8; 4];
            let got = (&stream).take(4).read_exact(&mut greeting);
            if got.is_ok() && &greeting[..3] == b"220" {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no 220 greeting on {addr} within {START_TIMEOUT:?}"
            ));
        }
        // Polling an external process for readiness: there is no event to await.
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_log(state: &Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(state) {
        for entry in entries.flatten() {
            let path = entry.path();
            let is_log = path.extension().is_some_and(|e| e == "log" || e == "conf");
            if is_log {
                let text = std::fs::read(&path).unwrap_or_default();
                let text = String::from_utf8_lossy(&text);
                let tail: String = text
                    .chars()
                    .rev()
                    .take(4000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                out.push_str(&format!("== {}\n{tail}\n", path.display()));
            }
        }
    }
    out
}
