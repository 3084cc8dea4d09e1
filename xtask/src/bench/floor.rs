//! The benchmark's "floor": a null FTP server that does the least work any server could.
//!
//! It is blocking and single-threaded, serves one session at a time, passive mode only, with
//! no TLS and no authentication check (any USER/PASS logs in). `RETR` is the `sendfile(2)`
//! loop ftp-server runs (128 KiB calls on the nonblocking data socket, `poll` when it is
//! full, and what fits in the socket's buffers sent before the 150 reply: a floor that
//! answered 150 first measured 2532 MB/s against ftp-server's 3569 in the same run, curl
//! then blocking three times as often); `STOR` moves the data socket's bytes into
//! the file with `splice(2)` through a pipe (socket -> pipe -> file, no copy to user space);
//! `LIST` is `readdir` + `lstat` written through one 64 KiB buffer. Whatever a real server
//! costs beyond these figures is its own; what the floor costs is the kernel's (loopback TCP
//! is charged to the sending process) plus the client's.
//!
//! It runs in a child process (`xtask floor-server --root DIR`, a hidden subcommand that
//! prints its port on stdout; the bench runs the release build of xtask, as optimised as the
//! servers) so that its CPU is measured exactly like the real servers'.
//!
//! With `--cork` it sends a download the way ProFTPD does instead ([`CORKED`]): 150 first,
//! then `TCP_CORK` on, one blocking `sendfile` of the whole file, `TCP_CORK` off. The bench
//! runs it beside the plain floor in the RETR rows only, to show where ProFTPD's low server
//! CPU per GiB comes from: on loopback a corked sender leaves the transmission to the ACKs
//! curl sends, so the kernel charges it to curl, and the MB/s halve.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rustix::net::sockopt::{set_socket_timeout, Timeout};
use rustix::pipe::{splice, SpliceFlags};

/// The name the floor's samples are recorded under (not a peer: see `report`).
pub const FLOOR: &str = "floor";
/// The name of the corked floor's samples (`floor-server --cork`; also not a peer).
pub const CORKED: &str = "floor-corked";

/// Longest command line accepted (the session ends on a longer one).
const MAX_LINE: usize = 4096;
/// How long a session waits for a command, a data connection or a data write.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The reply that opens a transfer.
const OPENING: &str = "150 Opening data connection";
/// Bytes asked of one `splice` call.
const CHUNK: usize = 1 << 20;
/// Bytes asked of one `sendfile` call: what our server asks (`SENDFILE_CHUNK` in
/// `ftp-server/src/data.rs`), the fastest size measured with curl as the client.
const SENDFILE_CHUNK: usize = 128 << 10;
/// Bytes asked of one `sendfile` call of the corked floor: all of a 1 GiB file (the kernel
/// moves at most about 2 GiB a call).
const WHOLE: usize = 1 << 30;

/// The running null server (a child process), killed on drop.
#[derive(Debug)]
pub struct Floor {
    /// Its control address on 127.0.0.1.
    pub addr: SocketAddr,
    child: Child,
    /// Its own cgroup, as for the real servers ([`super::cgroup`]); removed after the kill.
    _group: Option<super::cgroup::Group>,
}

impl Floor {
    /// Runs `exe floor-server --root files` (`exe`: an xtask binary, the release build in
    /// the bench) and reads the port it prints.
    /// `corked`: with `--cork`, named [`CORKED`].
    pub fn start(exe: &Path, files: &Path, corked: bool) -> Result<Floor> {
        let mut child = Command::new(exe)
            .arg("floor-server")
            .arg("--root")
            .arg(files)
            .args(corked.then_some("--cork"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the floor server")?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).take(64).read_line(&mut line));
        let port = match (read, line.trim().parse::<u16>()) {
            (Some(Ok(_)), Ok(port)) => port,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the floor server did not print its port (got {line:?})");
            }
        };
        Ok(Floor {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _group: super::cgroup::Group::enter(if corked { CORKED } else { FLOOR }, child.id()),
            child,
        })
    }

    /// The server's pid (what the CPU meter watches).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Body of the hidden `floor-server` subcommand: binds 127.0.0.1:0, prints the port, then
/// serves sessions one after the other until killed. A session's I/O error ends only it.
/// `cork`: send downloads as ProFTPD does (see the module's documentation).
pub fn serve(root: &Path, cork: bool) -> Result<()> {
    let root = root
        .canonicalize()
        .with_context(|| format!("floor-server root {}", root.display()))?;
    let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    let mut out = io::stdout().lock();
    writeln!(out, "{}", listener.local_addr()?.port())?;
    out.flush()?;
    drop(out);
    for conn in listener.incoming() {
        let Ok(ctrl) = conn else { continue };
        let _ = Session::new(ctrl, root.clone(), cork).and_then(|mut s| s.run());
    }
    Ok(())
}

/// What one command line asks the session to do.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// Send this reply (without CRLF).
    Reply(String),
    /// Open a passive listener; `true` for EPSV.
    Passive(bool),
    Cwd(String),
    Size(String),
    Retr(String),
    Stor(String),
    List(String),
    Quit,
}

/// `arg` (absolute, or relative to `cwd`) as a path relative to the root, without `.` or
/// empty components; `None` if it holds `..`.
fn resolve(cwd: &str, arg: &str) -> Option<String> {
    let base = if arg.starts_with('/') { "" } else { cwd };
    let mut parts = Vec::new();
    for p in base.split('/').chain(arg.split('/')) {
        match p {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Decides what to do with one command line (CRLF already stripped).
fn dispatch(line: &str, cwd: &str) -> Action {
    let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
    let reply = |s: &str| Action::Reply(s.to_string());
    let path = |arg: &str, make: fn(String) -> Action| match (arg.is_empty(), resolve(cwd, arg)) {
        (true, _) => reply("501 Missing path"),
        (false, Some(p)) => make(p),
        (false, None) => reply("550 Path outside the root"),
    };
    match verb.to_ascii_uppercase().as_str() {
        "USER" => reply("331 Password required"),
        "PASS" => reply("230 Logged in"),
        "PWD" | "XPWD" => Action::Reply(format!("257 \"/{cwd}\" is the current directory")),
        "CWD" => path(arg, Action::Cwd),
        "TYPE" => reply("200 Type set"),
        "EPSV" => Action::Passive(true),
        "PASV" => Action::Passive(false),
        "SIZE" => path(arg, Action::Size),
        "MDTM" => reply("550 No modification time"),
        "RETR" => path(arg, Action::Retr),
        "STOR" => path(arg, Action::Stor),
        "LIST" => {
            // Options (`-a`, `-la`) are ignored; what follows them is the directory.
            let dir = arg
                .split(' ')
                .filter(|w| !w.is_empty() && !w.starts_with('-'))
                .collect::<Vec<_>>()
                .join(" ");
            resolve(cwd, &dir).map_or(reply("550 Path outside the root"), Action::List)
        }
        "NOOP" => reply("200 OK"),
        "FEAT" => reply("211 No features"),
        "QUIT" => Action::Quit,
        _ => reply("502 Not implemented"),
    }
}

/// Writes one `ls -l` line for a directory entry (the name's bytes as they are).
fn list_line(out: &mut impl Write, name: &[u8], meta: &std::fs::Metadata) -> io::Result<()> {
    let kind = if meta.is_dir() {
        "drwxr-xr-x"
    } else {
        "-rw-r--r--"
    };
    write!(out, "{kind} 1 ftp ftp {} Jan 01 00:00 ", meta.size())?;
    out.write_all(name)?;
    out.write_all(b"\r\n")
}

/// The passive reply for a listener on `addr`.
fn passive_reply(addr: SocketAddr, extended: bool) -> String {
    match (extended, addr.ip()) {
        (true, _) => format!("229 Entering Extended Passive Mode (|||{}|)", addr.port()),
        (false, IpAddr::V4(ip)) => {
            let [a, b, c, d] = ip.octets();
            let (p1, p2) = (addr.port() >> 8, addr.port() & 0xff);
            format!("227 Entering Passive Mode ({a},{b},{c},{d},{p1},{p2})")
        }
        (false, IpAddr::V6(_)) => "522 Use EPSV".to_string(),
    }
}

struct Session {
    ctrl: TcpStream,
    reader: BufReader<TcpStream>,
    root: PathBuf,
    cwd: String,
    passive: Option<TcpListener>,
    /// The system's ephemeral port range, if readable and sane.
    ephemeral: Option<(u16, u16)>,
    /// State of the passive port picker (never zero).
    rng: u64,
    /// Downloads go out corked ([`Session::retr_corked`]).
    cork: bool,
}

/// `/proc/sys/net/ipv4/ip_local_port_range`, if readable and sane.
fn ephemeral_ports() -> Option<(u16, u16)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<u16>().ok());
    let (lo, hi) = (it.next()??, it.next()??);
    (1024 <= lo && lo <= hi).then_some((lo, hi))
}

/// `sendfile(2)` from `file`'s position over the nonblocking `sock` until the end of the
/// file (`true`) or, unless `wait`, until the socket is full (`false`); with `wait`, a full
/// socket is waited for with `poll`.
fn send_file(sock: &TcpStream, file: &File, wait: bool) -> io::Result<bool> {
    loop {
        match rustix::fs::sendfile(sock, file, None, SENDFILE_CHUNK) {
            Ok(0) => return Ok(true),
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) if wait => writable(sock)?,
            Err(rustix::io::Errno::AGAIN) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until `sock` has room for more (at most [`TIMEOUT`]).
fn writable(sock: &TcpStream) -> io::Result<()> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(sock, PollFlags::OUT)];
    let limit = Timespec {
        tv_sec: TIMEOUT.as_secs() as i64,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&limit))? {
        0 => Err(io::ErrorKind::TimedOut.into()),
        _ => Ok(()),
    }
}

impl Session {
    fn new(ctrl: TcpStream, root: PathBuf, cork: bool) -> io::Result<Session> {
        ctrl.set_read_timeout(Some(TIMEOUT))?;
        ctrl.set_write_timeout(Some(TIMEOUT))?;
        ctrl.set_nodelay(true)?;
        let reader = BufReader::with_capacity(MAX_LINE, ctrl.try_clone()?);
        Ok(Session {
            ctrl,
            reader,
            root,
            cwd: String::new(),
            passive: None,
            ephemeral: ephemeral_ports(),
            rng: {
                use std::hash::{BuildHasher, Hasher};
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
                    | 1
            },
            cork,
        })
    }

    fn reply(&mut self, text: &str) -> io::Result<()> {
        self.ctrl.write_all(format!("{text}\r\n").as_bytes())
    }

    fn run(&mut self) -> io::Result<()> {
        self.reply("220 floor (null server)")?;
        let mut buf = Vec::with_capacity(MAX_LINE);
        loop {
            buf.clear();
            let n = (&mut self.reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut buf)?;
            if n == 0 || buf.last() != Some(&b'\n') {
                // End of stream, or a line too long to be a command.
                return self.reply("421 Bye").or(Ok(()));
            }
            let line = String::from_utf8_lossy(&buf);
            let action = dispatch(line.trim_end_matches(['\r', '\n']), &self.cwd);
            match action {
                Action::Reply(r) => self.reply(&r)?,
                Action::Quit => return self.reply("221 Bye"),
                Action::Passive(extended) => self.passive(extended)?,
                Action::Cwd(p) => {
                    if self.root.join(&p).is_dir() {
                        self.cwd = p;
                        self.reply("250 OK")?;
                    } else {
                        self.reply("550 Not a directory")?;
                    }
                }
                Action::Size(p) => match std::fs::metadata(self.root.join(p)) {
                    Ok(m) if m.is_file() => self.reply(&format!("213 {}", m.len()))?,
                    _ => self.reply("550 Not a file")?,
                },
                Action::Retr(p) => self.retr(&p)?,
                Action::Stor(p) => self.stor(&p)?,
                Action::List(p) => self.list(&p)?,
            }
        }
    }

    /// A listener on a random port of the ephemeral range (as ftp-server's `bind_passive`:
    /// `bind(port 0)` scans past every `TIME_WAIT` socket earlier transfers left, a cost
    /// no server has to pay; std's `bind` sets `SO_REUSEADDR`, so a random port is bound at
    /// once unless really in use), the OS's choice after a few ports in use.
    fn bind_passive(&mut self) -> io::Result<TcpListener> {
        let ip = self.ctrl.local_addr()?.ip();
        if let Some((lo, hi)) = self.ephemeral {
            for _ in 0..8 {
                // xorshift64: any spread will do.
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                let port = lo + (self.rng % (u64::from(hi - lo) + 1)) as u16;
                match TcpListener::bind((ip, port)) {
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                    other => return other,
                }
            }
        }
        TcpListener::bind((ip, 0))
    }

    fn passive(&mut self, extended: bool) -> io::Result<()> {
        let listener = self.bind_passive()?;
        // Linux applies SO_RCVTIMEO to accept(2): a client that never connects cannot hang us.
        set_socket_timeout(&listener, Timeout::Recv, Some(TIMEOUT))?;
        let text = passive_reply(listener.local_addr()?, extended);
        self.passive = Some(listener);
        self.reply(&text)
    }

    /// Accepts the data connection, answering 150 first if `announce` (else the caller
    /// does); on failure answers 425 and returns `None`.
    fn open_data(&mut self, announce: bool) -> io::Result<Option<TcpStream>> {
        let Some(listener) = self.passive.take() else {
            self.reply("425 Use PASV or EPSV first")?;
            return Ok(None);
        };
        if announce {
            self.reply(OPENING)?;
        }
        match listener.accept() {
            Ok((data, _)) => {
                data.set_read_timeout(Some(TIMEOUT))?;
                data.set_write_timeout(Some(TIMEOUT))?;
                Ok(Some(data))
            }
            Err(_) => {
                self.reply("425 No data connection")?;
                Ok(None)
            }
        }
    }

    /// Answers 226 or 426 after a transfer.
    fn finish(&mut self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Ok(()) => self.reply("226 Transfer complete"),
            Err(_) => self.reply("426 Transfer failed"),
        }
    }

    /// As ftp-server sends a download: what fits in the socket's buffers goes out before
    /// the 150 (the client reads it once the 150 has come), the rest after it.
    fn retr(&mut self, path: &str) -> io::Result<()> {
        let file = match File::open(self.root.join(path)) {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => f,
            _ => return self.reply("550 Not a file"),
        };
        if self.cork {
            return self.retr_corked(file);
        }
        let Some(data) = self.open_data(false)? else {
            return Ok(());
        };
        let first = data
            .set_nonblocking(true)
            .and_then(|()| send_file(&data, &file, false));
        self.reply(OPENING)?;
        let result = match first {
            Ok(false) => send_file(&data, &file, true).map(drop),
            other => other.map(drop),
        };
        drop(data);
        self.finish(result)
    }

    /// As ProFTPD sends a download (`UseSendfile on`: `transmit_data` in its `src/data.c`):
    /// 150 first, then the whole file in blocking `sendfile` calls between `TCP_CORK` on and
    /// off.
    fn retr_corked(&mut self, file: File) -> io::Result<()> {
        let Some(data) = self.open_data(true)? else {
            return Ok(());
        };
        let send = || -> io::Result<()> {
            rustix::net::sockopt::set_tcp_cork(&data, true)?;
            loop {
                match rustix::fs::sendfile(&data, &file, None, WHOLE) {
                    Ok(0) => break,
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(rustix::net::sockopt::set_tcp_cork(&data, false)?)
        };
        let result = send();
        drop(data);
        self.finish(result)
    }

    fn stor(&mut self, path: &str) -> io::Result<()> {
        let Ok(file) = File::create(self.root.join(path)) else {
            return self.reply("550 Cannot create the file");
        };
        let Some(data) = self.open_data(true)? else {
            return Ok(());
        };
        let result = (|| {
            let (pipe_r, pipe_w) = rustix::pipe::pipe()?;
            // A larger pipe means fewer splice calls; the default (64 KiB) still works.
            let _ = rustix::pipe::fcntl_setpipe_size(&pipe_w, CHUNK);
            loop {
                let n = splice(&data, None, &pipe_w, None, CHUNK, SpliceFlags::MOVE)?;
                if n == 0 {
                    return Ok(());
                }
                let mut left = n;
                while left > 0 {
                    match splice(&pipe_r, None, &file, None, left, SpliceFlags::MOVE)? {
                        0 => return Err(io::ErrorKind::WriteZero.into()),
                        m => left -= m,
                    }
                }
            }
        })();
        drop(data);
        self.finish(result)
    }

    fn list(&mut self, path: &str) -> io::Result<()> {
        let Ok(entries) = std::fs::read_dir(self.root.join(path)) else {
            return self.reply("550 Not a directory");
        };
        let Some(data) = self.open_data(true)? else {
            return Ok(());
        };
        let result = (|| {
            let mut out = BufWriter::with_capacity(64 << 10, &data);
            for e in entries {
                let e = e?;
                // `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)`: an lstat without a path walk.
                if let Ok(meta) = e.metadata() {
                    list_line(&mut out, e.file_name().as_bytes(), &meta)?;
                }
            }
            out.flush()
        })();
        drop(data);
        self.finish(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_joins_cwd_and_rejects_parent_components() {
        assert_eq!(resolve("", "big.bin").as_deref(), Some("big.bin"));
        assert_eq!(resolve("small", "f00001").as_deref(), Some("small/f00001"));
        assert_eq!(resolve("small", "/big.bin").as_deref(), Some("big.bin"));
        assert_eq!(resolve("a", "./b//c/").as_deref(), Some("a/b/c"));
        assert_eq!(resolve("", "/").as_deref(), Some(""));
        assert_eq!(resolve("", "../etc/passwd"), None);
        assert_eq!(resolve("a", "b/../../x"), None);
    }

    #[test]
    fn dispatch_answers_login_and_settings_without_checking() {
        let r = |s: &str| Action::Reply(s.to_string());
        assert_eq!(dispatch("USER u", ""), r("331 Password required"));
        assert_eq!(dispatch("pass p", ""), r("230 Logged in"));
        assert_eq!(dispatch("TYPE I", ""), r("200 Type set"));
        assert_eq!(dispatch("NOOP", ""), r("200 OK"));
        assert_eq!(dispatch("FEAT", ""), r("211 No features"));
        assert_eq!(dispatch("MDTM big.bin", ""), r("550 No modification time"));
        assert_eq!(dispatch("MLSD", ""), r("502 Not implemented"));
        assert_eq!(dispatch("", ""), r("502 Not implemented"));
        assert_eq!(
            dispatch("PWD", "small"),
            r("257 \"/small\" is the current directory")
        );
        assert_eq!(dispatch("QUIT", ""), Action::Quit);
    }

    #[test]
    fn dispatch_resolves_transfer_paths_inside_the_root() {
        assert_eq!(dispatch("EPSV", ""), Action::Passive(true));
        assert_eq!(dispatch("PASV", ""), Action::Passive(false));
        assert_eq!(
            dispatch("RETR small/f00001", ""),
            Action::Retr("small/f00001".into())
        );
        assert_eq!(
            dispatch("STOR up.bin", "d"),
            Action::Stor("d/up.bin".into())
        );
        assert_eq!(
            dispatch("SIZE /big.bin", "d"),
            Action::Size("big.bin".into())
        );
        assert_eq!(dispatch("CWD list", ""), Action::Cwd("list".into()));
        assert_eq!(dispatch("LIST -la list", ""), Action::List("list".into()));
        assert_eq!(dispatch("LIST", "list"), Action::List("list".into()));
        assert_eq!(
            dispatch("RETR ../x", ""),
            Action::Reply("550 Path outside the root".into())
        );
        assert_eq!(
            dispatch("STOR", ""),
            Action::Reply("501 Missing path".into())
        );
    }

    #[test]
    fn passive_replies_carry_the_listener_port() {
        let a: SocketAddr = "127.0.0.1:4660".parse().unwrap();
        assert_eq!(
            passive_reply(a, true),
            "229 Entering Extended Passive Mode (|||4660|)"
        );
        assert_eq!(
            passive_reply(a, false),
            "227 Entering Passive Mode (127,0,0,1,18,52)"
        );
    }

    /// A null server for one session on a thread, serving `dir` (`cork`: the corked one).
    fn one_session(
        dir: &Path,
        cork: bool,
    ) -> (SocketAddr, std::thread::JoinHandle<io::Result<()>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let root = dir.to_path_buf();
        let server = std::thread::spawn(move || {
            let (ctrl, _) = listener.accept().unwrap();
            Session::new(ctrl, root, cork).unwrap().run()
        });
        (addr, server)
    }

    /// One session of the null server on a thread, driven by the bench's own client.
    #[test]
    fn serves_retr_list_and_stor_to_the_bench_client() {
        use crate::bench::client::Ctrl;
        let dir = std::env::temp_dir().join(format!("xtask-floor-e2e-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("sub/a.bin"), &body).unwrap();
        let (addr, server) = one_session(&dir, false);
        let mut c = Ctrl::connect(addr).unwrap();
        c.login("u", "p").unwrap();
        assert!(c
            .cmd("SIZE sub/a.bin", b'2')
            .unwrap()
            .starts_with("213 300000"));
        let mut buf = Vec::new();
        assert_eq!(c.download("RETR sub/a.bin", &mut buf).unwrap(), body.len());
        assert!(buf == body, "RETR bytes differ");
        assert!(c.cmd("CWD sub", b'2').unwrap().starts_with("250"));
        c.download("LIST", &mut buf).unwrap();
        assert_eq!(buf, b"-rw-r--r-- 1 ftp ftp 300000 Jan 01 00:00 a.bin\r\n");
        assert!(c.cmd("RETR ../x", b'5').unwrap().starts_with("550"));
        // STOR by hand (Ctrl only downloads): EPSV, connect, send, close, 226.
        let r = c.cmd("EPSV", b'2').unwrap();
        let port: u16 = r
            .split("|||")
            .nth(1)
            .unwrap()
            .trim_end_matches(|ch: char| !ch.is_ascii_digit())
            .parse()
            .unwrap();
        let mut data = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.cmd("STOR up.bin", b'1').unwrap();
        data.write_all(&body).unwrap();
        drop(data);
        c.expect(b'2').unwrap();
        c.quit().unwrap();
        server.join().unwrap().unwrap();
        let stored = std::fs::read(dir.join("sub/up.bin")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(stored == body, "STOR bytes differ");
    }

    #[test]
    fn corked_floor_sends_the_whole_file() {
        use crate::bench::client::Ctrl;
        let dir = std::env::temp_dir().join(format!("xtask-floor-cork-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(dir.join("a.bin"), &body).unwrap();
        let (addr, server) = one_session(&dir, true);
        let mut c = Ctrl::connect(addr).unwrap();
        c.login("u", "p").unwrap();
        let mut buf = Vec::new();
        let got = c.download("RETR a.bin", &mut buf);
        assert!(c.cmd("RETR nope", b'5').unwrap().starts_with("550"));
        c.quit().unwrap();
        server.join().unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(got.unwrap(), body.len());
        assert!(buf == body, "RETR bytes differ");
    }

    #[test]
    fn list_lines_look_like_ls_l() {
        let dir = std::env::temp_dir().join(format!("xtask-floor-ls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x.bin");
        std::fs::write(&f, [0u8; 5]).unwrap();
        let mut line = Vec::new();
        list_line(&mut line, b"x.bin", &std::fs::symlink_metadata(&f).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(line, b"-rw-r--r-- 1 ftp ftp 5 Jan 01 00:00 x.bin\r\n");
    }
}
