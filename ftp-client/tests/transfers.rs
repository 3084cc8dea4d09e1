//! `Download::copy_to_file` and `Client::stor_file` against a scripted one-transfer server on
//! loopback: the buffered start, the `splice(2)` rest, pipes as destinations, `sendfile(2)`
//! uploads, ASCII conversion, REST offsets and stalls, and in active mode data connections
//! from a third host (RFC 2577 port stealing).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ftp_client::{Client, CopyError, DataMode, Error, Options, TransferKind};

/// What the scripted server does with the data connection after `150`.
#[derive(Clone)]
enum Then {
    /// Sends these bytes, closes, answers 226.
    Send(Vec<u8>),
    /// Sends these bytes, then keeps the connection open without sending more.
    Stall(Vec<u8>),
    /// Sends this many chunks of these bytes, this far apart, closes, answers 226.
    Trickle(Vec<u8>, usize, Duration),
    /// For STOR: reads the data connection to its end into this buffer, answers 226.
    Receive(Arc<Mutex<Vec<u8>>>),
}

/// A third party that, in active mode, connects to the client's data port from 127.0.0.2
/// before the server does: it sends `sends`, shuts its sending side and keeps whatever it
/// receives in `got` until the client closes the connection.
#[derive(Clone, Default)]
struct Intruder {
    sends: Vec<u8>,
    got: Arc<Mutex<Vec<u8>>>,
}

/// Where the scripted server's next data connection comes from.
enum DataPort {
    /// `EPSV`: the client connects here.
    Passive(TcpListener),
    /// `EPRT`/`PORT`: the server connects there (after the intruder, if any).
    Active(SocketAddr),
}

impl DataPort {
    /// The server's end of the data connection; `None` if the client's port refused it.
    fn open(self, intruder: Option<&Intruder>) -> Option<TcpStream> {
        let d = match self {
            DataPort::Passive(l) => l.accept().expect("accept data").0,
            DataPort::Active(to) => {
                if let Some(i) = intruder {
                    intrude(i, to);
                }
                TcpStream::connect_timeout(&to, Duration::from_secs(10)).ok()?
            }
        };
        let _ = d.set_read_timeout(Some(Duration::from_secs(10)));
        Some(d)
    }
}

/// A TCP connection to `to` from local address `from` (bind before connect).
fn connect_from(from: SocketAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use rustix::net::{bind, connect, socket, AddressFamily, SocketType};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None)?;
    bind(&fd, &from)?;
    connect(&fd, &to)?;
    Ok(TcpStream::from(fd))
}

/// Plays `i` against the client's data port `to`; returns once the client closed it.
fn intrude(i: &Intruder, to: SocketAddr) {
    let from = SocketAddr::from(([127, 0, 0, 2], 0));
    let mut s = connect_from(from, to).expect("intruder connects");
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.write_all(&i.sends);
    let _ = s.shutdown(std::net::Shutdown::Write);
    // Until the client closes its side (EOF, or a reset if it left our bytes unread).
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    if let Ok(mut into) = i.got.lock() {
        *into = got;
    }
}

/// Serves one session: greeting, login, TYPE, one EPSV + RETR. Returns the commands seen.
fn serve(then: Then) -> (u16, JoinHandle<Vec<String>>) {
    serve_with(then, None)
}

/// [`serve`], also answering `EPRT` and `PORT`; in active mode `intruder` connects first.
fn serve_with(then: Then, intruder: Option<Intruder>) -> (u16, JoinHandle<Vec<String>>) {
    let ctrl = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = ctrl.local_addr().expect("addr").port();
    let h = std::thread::spawn(move || {
        let (s, _) = ctrl.accept().expect("accept");
        serve_session(s, &then, intruder.as_ref())
    });
    (port, h)
}

/// The scripted session on the control connection `s` (32 commands at most); returns the
/// command lines seen.
fn serve_session(s: TcpStream, then: &Then, intruder: Option<&Intruder>) -> Vec<String> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    let mut seen = Vec::new();
    let mut data = None;
    send(&mut w, "220 ready");
    for _ in 0..32 {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let line = line.trim_end().to_string();
        seen.push(line.clone());
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "USER" => send(&mut w, "331 password"),
            "PASS" => send(&mut w, "230 in"),
            "TYPE" => send(&mut w, "200 type set"),
            "REST" => send(&mut w, "350 restarting"),
            "NOOP" => send(&mut w, "200 noop"),
            "MDTM" => send(&mut w, "213 20200102030405"),
            "EPSV" => {
                let l = TcpListener::bind("127.0.0.1:0").expect("bind data");
                let p = l.local_addr().expect("addr").port();
                data = Some(DataPort::Passive(l));
                send(
                    &mut w,
                    &format!("229 Entering Extended Passive Mode (|||{p}|)"),
                );
            }
            "EPRT" | "PORT" => match active_target(&verb, &line) {
                Some(to) => {
                    data = Some(DataPort::Active(to));
                    send(&mut w, "200 ok");
                }
                None => send(&mut w, "501 bad address"),
            },
            "STOR" => serve_stor(&mut w, data.take(), then, intruder),
            "RETR" => serve_retr(&mut w, data.take(), then, intruder),
            "ABOR" => send(&mut w, "226 abort ok"),
            "QUIT" => {
                send(&mut w, "221 bye");
                break;
            }
            _ => send(&mut w, "502 not here"),
        }
    }
    seen
}

/// Sends one reply line.
fn send(w: &mut TcpStream, line: &str) {
    let _ = w.write_all(format!("{line}\r\n").as_bytes());
}

/// The address an `EPRT` or `PORT` command `line` names, if it is valid.
fn active_target(verb: &str, line: &str) -> Option<SocketAddr> {
    let arg = line.split_once(' ').map_or("", |(_, a)| a).as_bytes();
    if verb == "EPRT" {
        ftp_proto::addr::parse_eprt(arg).ok()
    } else {
        ftp_proto::addr::parse_port(arg).ok().map(SocketAddr::V4)
    }
}

/// Sends `opening` and opens the data connection set up by `data`; answers `425` when
/// there is none.
fn open_data(
    w: &mut TcpStream,
    data: Option<DataPort>,
    opening: &str,
    intruder: Option<&Intruder>,
) -> Option<TcpStream> {
    let Some(port) = data else {
        send(w, "425 no data connection");
        return None;
    };
    send(w, opening);
    let d = port.open(intruder);
    if d.is_none() {
        send(w, "425 no data connection");
    }
    d
}

/// `STOR`: reads the data connection `data` to its end into the buffer of `Then::Receive`.
fn serve_stor(w: &mut TcpStream, data: Option<DataPort>, then: &Then, intruder: Option<&Intruder>) {
    let Then::Receive(into) = then else {
        send(w, "425 no data connection");
        return;
    };
    let Some(mut d) = open_data(w, data, "150 send it", intruder) else {
        return;
    };
    let mut got = Vec::new();
    let _ = d.read_to_end(&mut got);
    if let Ok(mut into) = into.lock() {
        *into = got;
    }
    send(w, "226 stored");
}

/// `RETR`: does what `then` says with the data connection `data`.
fn serve_retr(w: &mut TcpStream, data: Option<DataPort>, then: &Then, intruder: Option<&Intruder>) {
    let Some(mut d) = open_data(w, data, "150 here it comes", intruder) else {
        return;
    };
    match then {
        Then::Send(bytes) => {
            let _ = d.write_all(bytes);
            drop(d);
            send(w, "226 done");
        }
        Then::Trickle(chunk, count, gap) => {
            for _ in 0..*count {
                let _ = d.write_all(chunk);
                std::thread::sleep(*gap);
            }
            drop(d);
            send(w, "226 done");
        }
        Then::Receive(_) => send(w, "550 upload-only server"),
        Then::Stall(bytes) => {
            let _ = d.write_all(bytes);
            // Keep `d` open until the client gives up and closes its side.
            let mut sink = [0u8; 64];
            let _ = d.read(&mut sink);
            send(w, "426 aborted");
        }
    }
}

/// Bytes that are not a repetition of a power-of-two block, so misplaced chunks show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A client connected to the scripted server on `port` and logged in.
async fn logged_in(port: u16, o: Options) -> Client {
    let mut c = Client::connect("127.0.0.1", port, o)
        .await
        .expect("connect");
    c.login("u", "p").await.expect("login");
    c
}

fn opts() -> Options {
    stall_after(Duration::from_secs(10))
}

/// Default options with a data (stall) timeout of `d`.
fn stall_after(d: Duration) -> Options {
    Options {
        data_timeout: d,
        ..Options::default()
    }
}

/// Runs `fut` with a 30 s limit.
fn run<T>(fut: impl std::future::Future<Output = T>) -> T {
    smol::block_on(futures_lite::future::or(fut, async {
        async_io::Timer::after(Duration::from_secs(30)).await;
        panic!("test timed out");
    }))
}

/// `RETR name` copied into a new file at `path` with `copy_to_file`: the bytes written and,
/// once the copy succeeded, the final reply.
async fn download_into(
    c: &mut Client,
    name: &str,
    path: &std::path::Path,
) -> Result<(u64, ftp_proto::Reply), CopyError> {
    let mut file = std::fs::File::create(path).expect("create");
    let mut dl = c.retr(name, 0).await.expect("retr");
    let n = dl.copy_to_file(&mut file, |_| {}).await?;
    Ok((n, dl.finish().await.expect("finish")))
}

#[test]
fn copies_a_large_binary_download_byte_for_byte() {
    // Larger than the buffered start, with a ragged end: the splice part carries the rest.
    let body = pattern((5 << 20) + 12_345);
    let (port, server) = serve(Then::Send(body.clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.bin");
    let (written, reported) = run(async {
        let mut c = logged_in(port, opts()).await;
        let mut file = std::fs::File::create(&path).expect("create");
        let mut dl = c.retr("big.bin", 0).await.expect("retr");
        let mut reported = 0u64;
        let n = dl
            .copy_to_file(&mut file, |k| reported += k)
            .await
            .expect("copy");
        assert_eq!(dl.bytes(), n);
        let fin = dl.finish().await.expect("finish");
        assert_eq!(fin.code().as_u16(), 226);
        c.quit().await.expect("quit");
        (n, reported)
    });
    assert_eq!(written, body.len() as u64);
    assert_eq!(reported, written);
    assert!(std::fs::read(&path).expect("read") == body, "file differs");
    let seen = server.join().expect("server");
    assert!(seen.iter().any(|l| l == "TYPE I"), "{seen:?}");
}

#[test]
fn writes_at_the_file_position_after_a_rest_offset() {
    let body = pattern(3 << 20);
    let offset = 1_000_000usize;
    let (port, server) = serve(Then::Send(body[offset..].to_vec()));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("part.bin");
    std::fs::write(&path, &body[..offset]).expect("write head");
    run(async {
        let mut c = logged_in(port, opts()).await;
        let mut file = std::fs::OpenOptions::new()
            .append(false)
            .write(true)
            .open(&path)
            .expect("open");
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).expect("seek");
        let mut dl = c.retr("big.bin", offset as u64).await.expect("retr");
        let n = dl.copy_to_file(&mut file, |_| {}).await.expect("copy");
        assert_eq!(n, (body.len() - offset) as u64);
        dl.finish().await.expect("finish");
    });
    assert!(std::fs::read(&path).expect("read") == body, "file differs");
    let seen = server.join().expect("server");
    assert!(
        seen.iter().any(|l| l == &format!("REST {offset}")),
        "{seen:?}"
    );
}

#[test]
fn copies_into_a_pipe() {
    let body = pattern((3 << 20) + 7);
    let (port, server) = serve(Then::Send(body.clone()));
    let (rx, tx) = rustix::pipe::pipe().expect("pipe");
    let mut rx = std::fs::File::from(rx);
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        rx.read_to_end(&mut got).expect("read pipe");
        got
    });
    run(async {
        let mut c = logged_in(port, opts()).await;
        let mut file = std::fs::File::from(tx);
        let mut dl = c.retr("big.bin", 0).await.expect("retr");
        let n = dl.copy_to_file(&mut file, |_| {}).await.expect("copy");
        assert_eq!(n, body.len() as u64);
        dl.finish().await.expect("finish");
    });
    assert!(reader.join().expect("reader") == body, "pipe bytes differ");
    server.join().expect("server");
}

#[test]
fn ascii_downloads_convert_line_ends_through_the_buffer() {
    let mut wire = Vec::new();
    let mut want = Vec::new();
    for i in 0..200_000 {
        wire.extend_from_slice(format!("line {i}\r\n").as_bytes());
        want.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    let (port, server) = serve(Then::Send(wire));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("text.txt");
    run(async {
        let mut c = logged_in(port, opts()).await;
        c.set_transfer_kind(TransferKind::Ascii);
        let (n, _) = download_into(&mut c, "text.txt", &path)
            .await
            .expect("copy");
        assert_eq!(n, want.len() as u64);
    });
    assert!(std::fs::read(&path).expect("read") == want, "text differs");
    let seen = server.join().expect("server");
    assert!(seen.iter().any(|l| l.starts_with("TYPE A")), "{seen:?}");
}

#[test]
fn a_stalled_download_times_out_while_splicing() {
    // Past the buffered start, so the stall is seen by the splice loop's readiness wait.
    let (port, server) = serve(Then::Stall(pattern(2 << 20)));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stalled.bin");
    let err = run(async {
        let mut c = logged_in(port, stall_after(Duration::from_millis(300))).await;
        download_into(&mut c, "big.bin", &path)
            .await
            .expect_err("must time out")
    });
    match err {
        CopyError::Receive(e) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(
        std::fs::metadata(&path).expect("meta").len(),
        2 << 20,
        "everything before the stall is on disk"
    );
    server.join().expect("server");
}

#[test]
#[cfg(feature = "cli")]
fn get_into_a_fifo_writes_through_it_and_leaves_no_part_file() {
    let body = pattern((2 << 20) + 99);
    let (port, server) = serve(Then::Send(body.clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).expect("read fifo"))
    };
    let args = ["ftp-client", "-q", "get"]
        .into_iter()
        .map(std::ffi::OsString::from)
        .chain([
            format!("ftp://u:p@127.0.0.1:{port}/big.bin").into(),
            "-o".into(),
            fifo.clone().into_os_string(),
        ])
        .collect();
    let code = ftp_client::cli::main_with_args(args);
    assert_eq!(code, 0);
    // Checked before joining the reader: had the fifo been replaced, the reader would wait
    // for a writer forever.
    let meta = std::fs::symlink_metadata(&fifo).expect("fifo still there");
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()),
        "the fifo was replaced"
    );
    assert!(reader.join().expect("reader") == body, "fifo bytes differ");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("fifo")]);
    server.join().expect("server");
}

#[test]
fn a_slow_but_steady_download_does_not_time_out() {
    // 12 chunks 100 ms apart: 1.2 s in all, more than twice the 500 ms stall limit. The first
    // chunk is past the buffered start, so the splice loop's timer is the one re-armed.
    let first = pattern((1 << 20) + 4096);
    let (port, server) = serve(Then::Trickle(first.clone(), 12, Duration::from_millis(100)));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("slow.bin");
    let n = run(async {
        let mut c = logged_in(port, stall_after(Duration::from_millis(500))).await;
        download_into(&mut c, "slow.bin", &path)
            .await
            .expect("copy")
            .0
    });
    assert_eq!(n, 12 * first.len() as u64);
    assert_eq!(std::fs::metadata(&path).expect("meta").len(), n);
    server.join().expect("server");
}

#[test]
#[cfg(feature = "cli")]
fn get_writes_the_file_and_sets_its_mtime_from_mdtm() {
    let body = pattern((1 << 20) + 4097);
    let (port, server) = serve(Then::Send(body.clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("got.bin");
    let args = ["ftp-client", "-q", "get"]
        .into_iter()
        .map(std::ffi::OsString::from)
        .chain([
            format!("ftp://u:p@127.0.0.1:{port}/big.bin").into(),
            "-o".into(),
            out.clone().into_os_string(),
        ])
        .collect();
    assert_eq!(ftp_client::cli::main_with_args(args), 0);
    assert!(std::fs::read(&out).expect("read") == body, "file differs");
    let mtime = std::fs::metadata(&out)
        .and_then(|m| m.modified())
        .expect("mtime")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert_eq!(mtime, 1_577_934_245, "2020-01-02 03:04:05 UTC");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("got.bin")],
        "no .part left"
    );
    server.join().expect("server");
}

#[test]
fn stor_file_sends_the_file_from_its_position_after_rest() {
    let body = pattern((6 << 20) + 321);
    let offset = 777_777usize;
    let got = Arc::new(Mutex::new(Vec::new()));
    let (port, server) = serve(Then::Receive(got.clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("up.bin");
    std::fs::write(&path, &body).expect("write");
    let (sent, reported) = run(async {
        let mut c = logged_in(port, opts()).await;
        let mut file = std::fs::File::open(&path).expect("open");
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset as u64)).expect("seek");
        let mut reported = 0u64;
        let sent = c
            .stor_file("up.bin", file, offset as u64, |n| reported += n)
            .await
            .expect("stor_file");
        c.quit().await.expect("quit");
        (sent, reported)
    });
    assert_eq!(sent, (body.len() - offset) as u64);
    assert_eq!(reported, sent);
    let got = got.lock().expect("lock").clone();
    assert!(got == body[offset..], "uploaded bytes differ");
    let seen = server.join().expect("server");
    assert!(
        seen.iter().any(|l| l == &format!("REST {offset}")),
        "{seen:?}"
    );
    assert!(seen.iter().any(|l| l == "TYPE I"), "{seen:?}");
}

#[test]
fn stor_file_in_ascii_mode_sends_crlf_line_ends() {
    let mut local = Vec::new();
    let mut wire = Vec::new();
    for i in 0..50_000 {
        local.extend_from_slice(format!("row {i}\n").as_bytes());
        wire.extend_from_slice(format!("row {i}\r\n").as_bytes());
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let (port, server) = serve(Then::Receive(got.clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("up.txt");
    std::fs::write(&path, &local).expect("write");
    let sent = run(async {
        let mut c = logged_in(port, opts()).await;
        c.set_transfer_kind(TransferKind::Ascii);
        let file = std::fs::File::open(&path).expect("open");
        c.stor_file("up.txt", file, 0, |_| {})
            .await
            .expect("stor_file")
    });
    assert_eq!(sent, local.len() as u64);
    assert!(*got.lock().expect("lock") == wire, "wire bytes differ");
    let seen = server.join().expect("server");
    assert!(seen.iter().any(|l| l.starts_with("TYPE A")), "{seen:?}");
}

#[test]
fn sends_keepalive_noops_during_a_spliced_download() {
    let chunk = pattern((1 << 20) + 4096);
    let (port, server) = serve(Then::Trickle(chunk.clone(), 8, Duration::from_millis(100)));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kept.bin");
    let n = run(async {
        let o = Options {
            keepalive: Some(Duration::from_millis(150)),
            ..opts()
        };
        let mut c = logged_in(port, o).await;
        let (n, fin) = download_into(&mut c, "kept.bin", &path)
            .await
            .expect("copy");
        assert_eq!(fin.code().as_u16(), 226);
        // The NOOP replies were accounted for: the next command gets its own reply.
        c.quit().await.expect("quit");
        n
    });
    assert_eq!(n, 8 * chunk.len() as u64);
    let seen = server.join().expect("server");
    assert!(seen.iter().any(|l| l == "NOOP"), "{seen:?}");
}

/// [`opts`] in active mode (`EPRT`, then `PORT`).
fn active() -> Options {
    Options {
        mode: DataMode::Active,
        ..opts()
    }
}

#[test]
fn active_download_ignores_a_data_connection_from_another_host() {
    let body = pattern(100_000);
    let intruder = Intruder {
        sends: b"EVIL".to_vec(),
        ..Intruder::default()
    };
    let (port, server) = serve_with(Then::Send(body.clone()), Some(intruder));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("got.bin");
    let (n, fin) = run(async {
        let mut c = logged_in(port, active()).await;
        let r = download_into(&mut c, "f.bin", &path).await.expect("copy");
        c.quit().await.expect("quit");
        r
    });
    assert_eq!(fin.code().as_u16(), 226);
    assert_eq!(n, body.len() as u64);
    assert!(std::fs::read(&path).expect("read") == body, "file differs");
    let seen = server.join().expect("server");
    assert!(seen.iter().any(|l| l.starts_with("EPRT ")), "{seen:?}");
}

#[test]
fn active_upload_is_not_sent_to_another_host() {
    let body = pattern(300_000);
    let intruder = Intruder::default();
    let stolen = intruder.got.clone();
    let got = Arc::new(Mutex::new(Vec::new()));
    let (port, server) = serve_with(Then::Receive(got.clone()), Some(intruder));
    let sent = run(async {
        // PORT this time (EPRT is covered by the download).
        let o = Options {
            extended_data_commands: false,
            ..active()
        };
        let mut c = logged_in(port, o).await;
        let sent = c.stor("up.bin", &body[..], 0).await.expect("stor");
        c.quit().await.expect("quit");
        sent
    });
    assert_eq!(sent, body.len() as u64);
    assert!(
        stolen.lock().expect("lock").is_empty(),
        "intruder got bytes"
    );
    assert!(*got.lock().expect("lock") == body, "uploaded bytes differ");
    let seen = server.join().expect("server");
    assert!(seen.iter().any(|l| l.starts_with("PORT ")), "{seen:?}");
}

#[test]
fn with_verification_off_a_data_connection_from_another_host_is_used() {
    let intruder = Intruder {
        sends: b"EVIL".to_vec(),
        ..Intruder::default()
    };
    let (port, server) = serve_with(Then::Send(pattern(1000)), Some(intruder));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("got.bin");
    let fin = run(async {
        let o = Options {
            verify_data_peer: false,
            ..active()
        };
        let mut c = logged_in(port, o).await;
        let mut file = std::fs::File::create(&path).expect("create");
        let mut dl = c.retr("f.bin", 0).await.expect("retr");
        let n = dl.copy_to_file(&mut file, |_| {}).await.expect("copy");
        assert_eq!(n, 4);
        // The server's own connection found the port closed: its 425 follows the 150.
        dl.finish().await
    });
    match fin {
        Err(Error::Reply { reply, .. }) => assert_eq!(reply.code().as_u16(), 425),
        other => panic!("expected the server's 425, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), b"EVIL");
    server.join().expect("server");
}
