//! Our client against a scripted fake server that behaves like the odd real servers do:
//! multi-line greetings, 125 instead of 150, a 2xx with no 1xx, 200 where 250 is expected,
//! ABOR answered with 226 alone, EPSV refused, a lying 227 address, stalled data, and a
//! transfer cut in the middle (which the binary retries and resumes with REST).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ftp_client::{Client, Error, Options};
use futures_lite::io::AsyncReadExt;
use integration_tests::{bin_path, with_timeout, ChildGuard};

#[derive(Clone, Default)]
struct Script {
    epsv_refused: bool,
    pasv_lies: bool,
    cwd_200: bool,
    list_without_prelim: bool,
    prelim_125: bool,
    abor_226_only: bool,
    hold_final_reply: bool,
    stall_data: bool,
    eprt_refused: bool,
    port_never_connects: bool,
    cut_first_retr_at: Option<usize>,
    file: Vec<u8>,
}

struct Fake {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn start(script: Script) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            let cut_done = Arc::new(Mutex::new(false));
            for _ in 0..8 {
                let Ok((s, _)) = listener.accept() else {
                    return;
                };
                let (script, log, cut_done) = (script.clone(), log2.clone(), cut_done.clone());
                std::thread::spawn(move || {
                    let _ = session(s, &script, &log, &cut_done);
                });
            }
        });
        Fake { port, log }
    }

    fn commands(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn accept_data(l: &TcpListener) -> std::io::Result<TcpStream> {
    l.set_nonblocking(false)?;
    let (s, _) = l.accept()?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

fn session(
    ctrl: TcpStream,
    sc: &Script,
    log: &Mutex<Vec<String>>,
    cut_done: &Mutex<bool>,
) -> std::io::Result<()> {
    ctrl.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut s = FakeSession {
        w: ctrl.try_clone()?,
        sc,
        data: None,
        active: None,
        offset: 0,
        held: None,
    };
    let mut r = BufReader::new(ctrl);
    s.w.write_all(b"220-Welcome to the fake server\r\n220-It has a long banner\r\n220 Ready\r\n")?;
    let mut pending_425 = false;
    for _ in 0..200 {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_string();
        log.lock().unwrap().push(line.clone());
        let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
        if std::mem::take(&mut pending_425) {
            // The failed transfer's reply, sent late: before the next command's.
            s.w.write_all(b"425 Can't open data connection.\r\n")?;
        }
        match verb.to_ascii_uppercase().as_str() {
            "RETR" if sc.port_never_connects => {
                // 150, then the failure only once the client speaks again.
                s.w.write_all(s.prelim())?;
                pending_425 = true;
            }
            "QUIT" => {
                s.w.write_all(b"221 Bye.\r\n")?;
                return Ok(());
            }
            verb => s.command(verb, arg, cut_done)?,
        }
    }
    Ok(())
}

/// A fake session's state from one command to the next.
struct FakeSession<'a> {
    /// The control connection's sending side.
    w: TcpStream,
    sc: &'a Script,
    /// The listener of the last EPSV/PASV.
    data: Option<TcpListener>,
    /// The data connection the last PORT made.
    active: Option<TcpStream>,
    /// The REST offset for the next RETR.
    offset: usize,
    /// A stalled RETR's data connection, kept open until ABOR (`stall_data`).
    held: Option<TcpStream>,
}

impl FakeSession<'_> {
    /// The preliminary reply of a transfer: 125 or 150.
    fn prelim(&self) -> &'static [u8] {
        if self.sc.prelim_125 {
            b"125 Data connection already open; transfer starting.\r\n"
        } else {
            b"150 Opening data connection.\r\n"
        }
    }

    /// Answers the command `verb` (in upper case) with argument `arg`.
    fn command(&mut self, verb: &str, arg: &str, cut_done: &Mutex<bool>) -> std::io::Result<()> {
        let sc = self.sc;
        let w = &mut self.w;
        match verb {
            "USER" => w.write_all(b"331 Password please.\r\n"),
            "PASS" => w.write_all(b"230-Hello\r\n230 Logged in.\r\n"),
            "FEAT" => w.write_all(b"211-Features:\r\n SIZE\r\n REST STREAM\r\n211 End\r\n"),
            "TYPE" | "NOOP" => w.write_all(b"200 OK\r\n"),
            "PWD" => w.write_all(b"257 \"/\" is the current directory\r\n"),
            "CWD" if sc.cwd_200 => w.write_all(b"200 directory changed\r\n"),
            "CWD" => w.write_all(b"250 directory changed\r\n"),
            "SIZE" => w.write_all(format!("213 {}\r\n", sc.file.len()).as_bytes()),
            "EPSV" if sc.epsv_refused => w.write_all(b"500 EPSV not understood\r\n"),
            "EPSV" => self.passive(true),
            "PASV" => self.passive(false),
            "EPRT" if sc.eprt_refused => w.write_all(b"522 Use PORT\r\n"),
            "PORT" => self.port(arg),
            "REST" => {
                self.offset = arg.parse().unwrap_or(0);
                w.write_all(b"350 Restarting.\r\n")
            }
            "LIST" => self.list(),
            "RETR" => self.retr(cut_done),
            "ABOR" => {
                self.held = None;
                if sc.abor_226_only {
                    w.write_all(b"226 Abort successful.\r\n")
                } else {
                    w.write_all(b"426 Transfer aborted.\r\n226 Abort successful.\r\n")
                }
            }
            _ => w.write_all(b"502 Not implemented.\r\n"),
        }
    }

    /// EPSV (`extended`) or PASV: listens for the data connection; PASV may lie about the
    /// address (`pasv_lies`).
    fn passive(&mut self, extended: bool) -> std::io::Result<()> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let p = l.local_addr()?.port();
        self.data = Some(l);
        if extended {
            return self
                .w
                .write_all(format!("229 Entering Extended Passive Mode (|||{p}|)\r\n").as_bytes());
        }
        let host = if self.sc.pasv_lies {
            "10,255,255,1"
        } else {
            "127,0,0,1"
        };
        self.w.write_all(
            format!(
                "227 Entering Passive Mode ({host},{},{}).\r\n",
                p >> 8,
                p & 255
            )
            .as_bytes(),
        )
    }

    /// PORT: connects to the client's data port (unless `port_never_connects`).
    fn port(&mut self, arg: &str) -> std::io::Result<()> {
        let n: Vec<u16> = arg
            .split(',')
            .filter_map(|x| x.trim().parse().ok())
            .collect();
        if n.len() != 6 {
            return self.w.write_all(b"501 Bad PORT\r\n");
        }
        let addr = format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], (n[4] << 8) | n[5]);
        if !self.sc.port_never_connects {
            self.active = Some(TcpStream::connect(addr)?);
        }
        self.w.write_all(b"200 PORT ok\r\n")
    }

    /// LIST: one entry, or none and no preliminary reply (`list_without_prelim`).
    fn list(&mut self) -> std::io::Result<()> {
        let l = self.data.take().expect("LIST without EPSV/PASV");
        let mut d = accept_data(&l)?;
        if self.sc.list_without_prelim {
            drop(d);
            self.w.write_all(b"226 No files here.\r\n")
        } else {
            self.w.write_all(self.prelim())?;
            d.write_all(b"-rw-r--r-- 1 ftp ftp 3 Jan 01 2020 one two\r\n")?;
            drop(d);
            self.w.write_all(b"226 Done.\r\n")
        }
    }

    /// RETR: the file from the REST offset on; stalled, cut once, or without its final reply
    /// as the script says.
    fn retr(&mut self, cut_done: &Mutex<bool>) -> std::io::Result<()> {
        let sc = self.sc;
        let mut d = match self.active.take() {
            Some(d) => d,
            None => accept_data(&self.data.take().expect("RETR without a data connection"))?,
        };
        self.w.write_all(self.prelim())?;
        let body = &sc.file[self.offset.min(sc.file.len())..];
        self.offset = 0;
        if sc.stall_data {
            self.held = Some(d);
            return Ok(());
        }
        let mut cut = cut_done.lock().unwrap();
        if let (Some(at), false) = (sc.cut_first_retr_at, *cut) {
            *cut = true;
            let _ = d.write_all(&body[..at]);
            drop(d);
            return self
                .w
                .write_all(b"426 Connection closed; transfer aborted.\r\n");
        }
        drop(cut);
        let _ = d.write_all(body);
        drop(d);
        if !sc.hold_final_reply {
            self.w.write_all(b"226 Transfer complete.\r\n")?;
        }
        Ok(())
    }
}

fn opts() -> Options {
    Options {
        connect_timeout: Duration::from_secs(5),
        reply_timeout: Duration::from_secs(5),
        data_timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

async fn connect(f: &Fake, o: Options) -> Client {
    let mut c = Client::connect("127.0.0.1", f.port, o).await.unwrap();
    assert!(
        c.welcome().text().contains("long banner"),
        "multi-line greeting kept"
    );
    c.login("u", "p").await.unwrap();
    c
}

async fn fetch(c: &mut Client, path: &str) -> Vec<u8> {
    let mut dl = c.retr(path, 0).await.unwrap();
    let mut v = Vec::new();
    dl.read_to_end(&mut v).await.unwrap();
    dl.finish().await.unwrap();
    v
}

#[test]
fn epsv_refusal_falls_back_to_pasv_for_the_session() {
    let f = Fake::start(Script {
        epsv_refused: true,
        file: b"payload".to_vec(),
        ..Script::default()
    });
    with_timeout(30, async {
        let mut c = connect(&f, opts()).await;
        assert_eq!(fetch(&mut c, "a").await, b"payload");
        assert_eq!(fetch(&mut c, "a").await, b"payload");
    });
    let cmds = f.commands();
    assert_eq!(cmds.iter().filter(|c| *c == "EPSV").count(), 1, "{cmds:?}");
    assert_eq!(cmds.iter().filter(|c| *c == "PASV").count(), 2, "{cmds:?}");
}

#[test]
fn lying_227_address_is_replaced_by_the_control_peer() {
    let f = Fake::start(Script {
        epsv_refused: true,
        pasv_lies: true,
        file: b"not from 10.255.255.1".to_vec(),
        ..Script::default()
    });
    with_timeout(30, async {
        let mut c = connect(&f, opts()).await;
        assert_eq!(fetch(&mut c, "a").await, b"not from 10.255.255.1");
    });
}

#[test]
fn preliminary_125_and_200_for_cwd_are_accepted() {
    let f = Fake::start(Script {
        prelim_125: true,
        cwd_200: true,
        file: b"x".to_vec(),
        ..Script::default()
    });
    with_timeout(30, async {
        let mut c = connect(&f, opts()).await;
        c.cwd("dir").await.unwrap();
        assert_eq!(fetch(&mut c, "a").await, b"x");
        let entries = c.list(None).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].name, b"one two");
    });
}

#[test]
fn completion_without_preliminary_reply_ends_the_listing_cleanly() {
    let f = Fake::start(Script {
        list_without_prelim: true,
        ..Script::default()
    });
    with_timeout(30, async {
        let mut c = connect(&f, opts()).await;
        assert!(c.list(None).await.unwrap().is_empty());
        assert_eq!(c.pwd().await.unwrap(), b"/", "still in step");
    });
}

#[test]
fn abor_answered_with_226_alone_keeps_the_session_in_step() {
    for abor_226_only in [true, false] {
        let f = Fake::start(Script {
            abor_226_only,
            hold_final_reply: true,
            file: vec![7u8; 100_000],
            ..Script::default()
        });
        with_timeout(30, async {
            let mut c = connect(&f, opts()).await;
            let mut dl = c.retr("a", 0).await.unwrap();
            let mut buf = [0u8; 10];
            dl.read_exact(&mut buf).await.unwrap();
            dl.abort().await.unwrap();
            assert_eq!(c.pwd().await.unwrap(), b"/");
            assert_eq!(c.size("a").await.unwrap(), 100_000);
        });
    }
}

#[test]
fn stalled_data_connection_times_out() {
    let f = Fake::start(Script {
        stall_data: true,
        file: b"never sent".to_vec(),
        ..Script::default()
    });
    with_timeout(30, async {
        let mut o = opts();
        o.data_timeout = Duration::from_millis(300);
        let mut c = connect(&f, o).await;
        let mut dl = c.retr("a", 0).await.unwrap();
        let mut v = Vec::new();
        let e = dl.read_to_end(&mut v).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        drop(dl);
        // The next command aborts the stalled transfer first and stays in step.
        assert_eq!(c.pwd().await.unwrap(), b"/");
    });
    assert!(
        f.commands().iter().any(|c| c == "ABOR"),
        "{:?}",
        f.commands()
    );
}

#[test]
fn cut_transfer_reply_is_a_transient_error() {
    let f = Fake::start(Script {
        cut_first_retr_at: Some(10),
        file: vec![1u8; 100],
        ..Script::default()
    });
    with_timeout(30, async {
        let mut c = connect(&f, opts()).await;
        let mut dl = c.retr("a", 0).await.unwrap();
        let mut v = Vec::new();
        dl.read_to_end(&mut v).await.unwrap();
        assert_eq!(v.len(), 10);
        let e = dl.finish().await.unwrap_err();
        assert!(
            matches!(&e, Error::Reply { reply, .. } if reply.code().as_u16() == 426),
            "{e:?}"
        );
        assert!(e.is_transient());
    });
}

#[test]
fn binary_retries_an_interrupted_download_and_resumes_with_rest() {
    let file: Vec<u8> = (0..50_000u32).map(|i| (i % 241) as u8).collect();
    let f = Fake::start(Script {
        cut_first_retr_at: Some(20_000),
        file: file.clone(),
        ..Script::default()
    });
    let work = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin_path("ftp-client"));
    cmd.args([
        "--retries",
        "2",
        "--retry-delay",
        "0",
        "--timeout",
        "10",
        "get",
    ])
    .arg(format!("ftp://u:p@127.0.0.1:{}/file.bin", f.port))
    .current_dir(work.path())
    .env("HOME", work.path())
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    let mut child = ChildGuard::spawn(&mut cmd).unwrap();
    let mut err = child.child_mut().stderr.take().unwrap();
    let t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = child
        .wait_timeout(Duration::from_secs(60))
        .unwrap()
        .expect("ftp-client finished");
    let stderr = t.join().unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(std::fs::read(work.path().join("file.bin")).unwrap(), file);
    let cmds = f.commands();
    assert!(cmds.iter().any(|c| c == "REST 20000"), "{cmds:?}");
    assert!(stderr.contains("retry 1/2"), "{stderr}");
}

#[test]
fn eprt_refusal_falls_back_to_port_for_the_session() {
    let f = Fake::start(Script {
        eprt_refused: true,
        file: b"active".to_vec(),
        ..Script::default()
    });
    with_timeout(30, async {
        let mut o = opts();
        o.mode = ftp_client::DataMode::Active;
        let mut c = connect(&f, o).await;
        assert_eq!(fetch(&mut c, "a").await, b"active");
        assert_eq!(fetch(&mut c, "a").await, b"active");
    });
    let cmds = f.commands();
    assert_eq!(
        cmds.iter().filter(|c| c.starts_with("EPRT")).count(),
        1,
        "{cmds:?}"
    );
    assert_eq!(
        cmds.iter().filter(|c| c.starts_with("PORT")).count(),
        2,
        "{cmds:?}"
    );
}

#[test]
fn server_that_never_connects_in_active_mode_times_out_and_stays_in_step() {
    let f = Fake::start(Script {
        eprt_refused: true,
        port_never_connects: true,
        ..Script::default()
    });
    with_timeout(30, async {
        let mut o = opts();
        o.mode = ftp_client::DataMode::Active;
        o.connect_timeout = Duration::from_millis(300);
        let mut c = connect(&f, o).await;
        let e = c.retr("a", 0).await.unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        // The late 425 is consumed before the next command's reply is read.
        assert_eq!(c.pwd().await.unwrap(), b"/");
    });
}
