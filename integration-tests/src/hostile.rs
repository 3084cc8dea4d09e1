//! A hostile FTP server for client tests: its listings (`MLSD`, `LIST`, `NLST`, of any
//! directory) hold exactly the names a test chooses, however dangerous, and `RETR` of any
//! name sends `hostile:NAME`; the greeting and the `HELP` reply carry escape sequences. Optionally `RETR` dribbles data slowly until `ABOR`, for tests
//! that interrupt a transfer. Loopback only; every loop is bounded.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One name in the hostile listing.
#[derive(Debug, Clone)]
pub struct Name {
    /// The name as sent, bytes and all.
    pub name: Vec<u8>,
    /// Listed as a directory (`type=dir`, `d` in `LIST`).
    pub dir: bool,
}

impl Name {
    /// A file entry.
    pub fn file(name: impl Into<Vec<u8>>) -> Name {
        Name {
            name: name.into(),
            dir: false,
        }
    }
    /// A directory entry.
    pub fn dir(name: impl Into<Vec<u8>>) -> Name {
        Name {
            name: name.into(),
            dir: true,
        }
    }
}

/// The running server (its thread ends with the test process).
#[derive(Debug)]
pub struct HostileServer {
    /// Where it listens (127.0.0.1, port chosen by the system).
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Setup {
    names: Arc<Vec<Name>>,
    slow_retr: bool,
    log: Arc<Mutex<Vec<String>>>,
}

impl HostileServer {
    /// Starts a server listing `names`; it serves up to 16 connections.
    pub fn start(names: Vec<Name>) -> HostileServer {
        HostileServer::start_with(names, false)
    }

    /// Like [`HostileServer::start`]; with `slow_retr` every `RETR` sends 1 KiB every 20 ms
    /// for up to 60 s, until `ABOR` (answered `426` then `226`).
    pub fn start_with(names: Vec<Name>, slow_retr: bool) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind hostile server");
        let addr = listener.local_addr().expect("local address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let setup = Setup {
            names: Arc::new(names),
            slow_retr,
            log: log.clone(),
        };
        std::thread::spawn(move || {
            for _ in 0..16 {
                let Ok((s, _)) = listener.accept() else {
                    return;
                };
                let setup = setup.clone();
                std::thread::spawn(move || {
                    let _ = session(s, &setup);
                });
            }
        });
        HostileServer { addr, log }
    }

    /// `ftp://u:p@ADDR/` (any user and password log in).
    pub fn url(&self) -> String {
        format!("ftp://u:p@{}/", self.addr)
    }

    /// Every command received so far, in order.
    pub fn commands(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }
}

fn listing(names: &[Name], verb: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for n in names {
        match verb {
            "MLSD" => {
                let t = if n.dir { "dir" } else { "file" };
                out.extend_from_slice(format!("type={t};size=10; ").as_bytes());
            }
            "LIST" => {
                let t = if n.dir { 'd' } else { '-' };
                out.extend_from_slice(format!("{t}rw-r--r-- 1 ftp ftp 10 Jan 01 2020 ").as_bytes());
            }
            _ => {}
        }
        out.extend_from_slice(&n.name);
        out.extend_from_slice(b"\r\n");
    }
    out
}

type Shared = Arc<Mutex<TcpStream>>;

fn reply(w: &Shared, text: &[u8]) -> std::io::Result<()> {
    w.lock().expect("writer lock").write_all(text)
}

/// A data transfer in the background (slow `RETR`): its stop flag and thread.
type Dribble = (Arc<AtomicBool>, std::thread::JoinHandle<()>);

/// Runs a listing or `RETR` over the data connection from `l`: at once, or (slow `RETR`) in
/// the background, returned so that `ABOR` can stop it.
fn transfer(
    l: &TcpListener,
    verb: &str,
    arg: &[u8],
    setup: &Setup,
    w: &Shared,
) -> std::io::Result<Option<Dribble>> {
    let (mut d, _) = l.accept()?;
    reply(w, b"150 Here it comes.\r\n")?;
    if verb == "RETR" && setup.slow_retr {
        let stop = Arc::new(AtomicBool::new(false));
        let (stop2, w2) = (stop.clone(), w.clone());
        let t = std::thread::spawn(move || {
            let chunk = [b'x'; 1024];
            for _ in 0..3000 {
                if stop2.load(Ordering::SeqCst) || d.write_all(&chunk).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            drop(d);
            let _ = reply(&w2, b"226 Done.\r\n");
        });
        return Ok(Some((stop, t)));
    }
    let body = if verb == "RETR" {
        [&b"hostile:"[..], arg].concat()
    } else {
        listing(&setup.names, verb)
    };
    d.write_all(&body)?;
    drop(d);
    reply(w, b"226 Done.\r\n")?;
    Ok(None)
}

fn session(ctrl: TcpStream, setup: &Setup) -> std::io::Result<()> {
    ctrl.set_read_timeout(Some(Duration::from_secs(60)))?;
    let w: Shared = Arc::new(Mutex::new(ctrl.try_clone()?));
    let mut r = BufReader::new(ctrl);
    reply(&w, b"220 hostile \x1b]0;PWNED\x07server ready\r\n")?;
    let mut passive: Option<TcpListener> = None;
    let mut dribble: Option<Dribble> = None;
    for _ in 0..1000 {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        setup.log.lock().expect("log lock").push(text.clone());
        let (verb, arg) = match line.iter().position(|b| *b == b' ') {
            Some(i) => (text[..i].to_ascii_uppercase(), line[i + 1..].to_vec()),
            None => (text.to_ascii_uppercase(), Vec::new()),
        };
        match verb.as_str() {
            "USER" => reply(&w, b"331 Password please.\r\n")?,
            "PASS" => reply(&w, b"230 Logged in.\r\n")?,
            "FEAT" => reply(
                &w,
                b"211-Features:\r\n MLST type*;size*;\r\n SIZE\r\n211 End\r\n",
            )?,
            "TYPE" | "NOOP" | "OPTS" => reply(&w, b"200 OK\r\n")?,
            "PWD" => reply(&w, b"257 \"/\" is the current directory\r\n")?,
            "CWD" => reply(&w, b"250 OK\r\n")?,
            "SIZE" if setup.slow_retr => reply(&w, b"213 1000000000\r\n")?,
            "SIZE" => reply(&w, format!("213 {}\r\n", arg.len() + 8).as_bytes())?,
            "EPSV" | "PASV" => {
                let l = TcpListener::bind("127.0.0.1:0")?;
                let p = l.local_addr()?.port();
                passive = Some(l);
                let text = if verb == "EPSV" {
                    format!("229 Extended Passive Mode (|||{p}|)\r\n")
                } else {
                    format!("227 Passive Mode (127,0,0,1,{},{})\r\n", p >> 8, p & 255)
                };
                reply(&w, text.as_bytes())?;
            }
            "MLSD" | "LIST" | "NLST" | "RETR" => {
                let Some(l) = passive.take() else {
                    reply(&w, b"425 Use PASV first.\r\n")?;
                    continue;
                };
                dribble = transfer(&l, &verb, &arg, setup, &w)?;
            }
            "ABOR" => {
                if let Some((stop, t)) = dribble.take() {
                    stop.store(true, Ordering::SeqCst);
                    let _ = t.join();
                    reply(&w, b"426 Transfer aborted.\r\n")?;
                }
                reply(&w, b"226 ABOR successful.\r\n")?;
            }
            "HELP" => reply(&w, b"214 help\x1b[2Jme\r\n")?,
            "QUIT" => {
                reply(&w, b"221 Bye.\r\n")?;
                return Ok(());
            }
            _ => reply(&w, b"502 Not implemented.\r\n")?,
        }
    }
    Ok(())
}
