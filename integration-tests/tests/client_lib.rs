//! Our client library against our server: every data-connection mode, both address families,
//! binary and ASCII, listings, resume, errors and the control-connection bookkeeping.

use std::time::Duration;

use ftp_client::{Client, DataMode, Error, ErrorClass, Options, TransferKind};
use futures_lite::io::AsyncReadExt;
use integration_tests::{with_timeout, TestServer};

fn opts(mode: DataMode, extended: bool) -> Options {
    Options {
        mode,
        extended_data_commands: extended,
        connect_timeout: Duration::from_secs(10),
        reply_timeout: Duration::from_secs(10),
        data_timeout: Duration::from_secs(10),
        ..Options::default()
    }
}

async fn login(server: &TestServer, o: Options) -> Client {
    let host = server.addr.ip().to_string();
    let mut c = Client::connect(&host, server.addr.port(), o)
        .await
        .expect("connect");
    c.login(TestServer::USER, TestServer::PASS)
        .await
        .expect("login");
    c
}

async fn download(c: &mut Client, path: &str, offset: u64) -> Vec<u8> {
    let mut dl = c.retr(path, offset).await.expect("RETR");
    let mut out = Vec::new();
    dl.read_to_end(&mut out).await.expect("read data");
    dl.finish().await.expect("226");
    out
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn round_trip(server: &TestServer, o: Options, name: &str) {
    let data = pattern(300_000);
    with_timeout(30, async {
        let mut c = login(server, o).await;
        let sent = c.stor(name, &data[..], 0).await.expect("STOR");
        assert_eq!(sent, data.len() as u64);
        assert_eq!(
            std::fs::read(server.path(name)).unwrap(),
            data,
            "bytes on disk"
        );
        assert_eq!(download(&mut c, name, 0).await, data, "bytes downloaded");
        // A second transfer on the same connection works too.
        assert_eq!(download(&mut c, name, 299_990).await, data[299_990..]);
        c.quit().await.expect("QUIT");
    });
}

#[test]
fn epsv_transfers_are_byte_exact_over_ipv4() {
    let s = TestServer::start();
    round_trip(&s, opts(DataMode::Passive, true), "epsv.bin");
}

#[test]
fn pasv_transfers_are_byte_exact_over_ipv4() {
    let s = TestServer::start();
    round_trip(&s, opts(DataMode::Passive, false), "pasv.bin");
}

#[test]
fn eprt_transfers_are_byte_exact_over_ipv4() {
    let s = TestServer::start();
    round_trip(&s, opts(DataMode::Active, true), "eprt.bin");
}

#[test]
fn port_transfers_are_byte_exact_over_ipv4() {
    let s = TestServer::start();
    round_trip(&s, opts(DataMode::Active, false), "port.bin");
}

#[test]
fn epsv_transfers_are_byte_exact_over_ipv6() {
    let s = TestServer::start_v6();
    round_trip(&s, opts(DataMode::Passive, true), "epsv6.bin");
}

#[test]
fn eprt_transfers_are_byte_exact_over_ipv6() {
    let s = TestServer::start_v6();
    round_trip(&s, opts(DataMode::Active, true), "eprt6.bin");
}

#[test]
fn ascii_mode_converts_line_ends_both_ways() {
    let s = TestServer::start();
    for (mode, ext) in [(DataMode::Passive, true), (DataMode::Active, false)] {
        with_timeout(30, async {
            let mut c = login(&s, opts(mode, ext)).await;
            c.set_transfer_kind(TransferKind::Ascii);
            let text = b"one\ntwo\r\nthree\n".to_vec();
            c.stor("t.txt", &text[..], 0).await.expect("STOR");
            let on_disk = std::fs::read(s.path("t.txt")).unwrap();
            assert_eq!(
                on_disk, b"one\ntwo\nthree\n",
                "server stores local (LF) line ends"
            );
            assert_eq!(download(&mut c, "t.txt", 0).await, b"one\ntwo\nthree\n");
            // One byte at a time: a CR at the end of one read still pairs with the LF after.
            let mut dl = c.retr("t.txt", 0).await.unwrap();
            let (mut got, mut byte) = (Vec::new(), [0u8; 1]);
            for _ in 0..100 {
                if dl.read(&mut byte).await.unwrap() == 0 {
                    break;
                }
                got.push(byte[0]);
            }
            dl.finish().await.unwrap();
            assert_eq!(got, b"one\ntwo\nthree\n");
            c.set_transfer_kind(TransferKind::Binary);
            assert_eq!(download(&mut c, "t.txt", 0).await, on_disk);
        });
    }
}

#[test]
fn listing_returns_one_entry_type_with_sizes_and_kinds() {
    let s = TestServer::start();
    std::fs::create_dir(s.path("dir one")).unwrap();
    std::fs::write(s.path("dir one/a b.txt"), b"12345").unwrap();
    std::fs::write(s.path("2024 report"), b"x").unwrap();
    with_timeout(30, async {
        let mut c = login(&s, opts(DataMode::Passive, true)).await;
        let mut names: Vec<_> = c
            .list(None)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.name_lossy().into_owned(), e.is_dir()))
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                ("2024 report".to_string(), false),
                ("dir one".to_string(), true)
            ]
        );
        let inner = c.list(Some(b"dir one")).await.unwrap();
        assert_eq!(inner.len(), 1);
        assert_eq!(inner[0].name, b"a b.txt");
        assert_eq!(inner[0].size, Some(5));
        let mut n = c.nlst(None).await.unwrap();
        n.sort();
        assert_eq!(n, vec![b"2024 report".to_vec(), b"dir one".to_vec()]);
    });
}

#[test]
fn file_commands_change_the_tree() {
    let s = TestServer::start();
    with_timeout(30, async {
        let mut c = login(&s, opts(DataMode::Passive, true)).await;
        assert_eq!(c.pwd().await.unwrap(), b"/");
        let made = c.mkdir("new dir").await.unwrap();
        assert!(made.ends_with(b"new dir"));
        assert!(s.path("new dir").is_dir());
        c.cwd("new dir").await.unwrap();
        assert_eq!(c.pwd().await.unwrap(), b"/new dir");
        c.stor("f", &b"hello"[..], 0).await.unwrap();
        assert_eq!(c.size("f").await.unwrap(), 5);
        let t = ftp_proto::Timestamp::new(2020, 2, 29, 12, 34, 56, 0).unwrap();
        c.set_mtime("f", t).await.unwrap();
        assert_eq!(c.mdtm("f").await.unwrap(), t);
        c.rename("f", "g").await.unwrap();
        assert!(s.path("new dir/g").is_file() && !s.path("new dir/f").exists());
        c.delete("g").await.unwrap();
        c.cdup().await.unwrap();
        c.rmdir("new dir").await.unwrap();
        assert!(!s.path("new dir").exists());
        let r = c.raw("NOOP").await.unwrap();
        assert_eq!(r.code().as_u16(), 200);
    });
}

#[test]
fn resumes_downloads_and_uploads_at_an_offset() {
    let s = TestServer::start();
    let data = pattern(100_000);
    std::fs::write(s.path("src.bin"), &data).unwrap();
    with_timeout(30, async {
        let mut c = login(&s, opts(DataMode::Passive, true)).await;
        assert_eq!(download(&mut c, "src.bin", 40_000).await, &data[40_000..]);
        // Upload the first part, then the rest with REST + STOR.
        c.stor("up.bin", &data[..30_000], 0).await.unwrap();
        c.stor("up.bin", &data[30_000..], 30_000).await.unwrap();
        assert_eq!(std::fs::read(s.path("up.bin")).unwrap(), data);
        // APPE appends.
        c.appe("up.bin", &b"tail"[..]).await.unwrap();
        assert_eq!(
            std::fs::read(s.path("up.bin")).unwrap().len(),
            data.len() + 4
        );
    });
}

#[test]
fn errors_keep_the_reply_and_map_to_exit_classes() {
    let s = TestServer::start();
    with_timeout(30, async {
        let mut c = login(&s, opts(DataMode::Passive, true)).await;
        let e = c.retr("missing", 0).await.unwrap_err();
        assert_eq!(e.reply().map(|r| r.code().as_u16()), Some(550));
        assert_eq!(e.class(), ErrorClass::NotFound);
        // The session is still usable.
        assert_eq!(c.pwd().await.unwrap(), b"/");

        let host = s.addr.ip().to_string();
        let mut bad = Client::connect(&host, s.addr.port(), Options::default())
            .await
            .unwrap();
        let e = bad.login(TestServer::USER, "wrong").await.unwrap_err();
        assert!(matches!(e, Error::Login { .. }), "{e:?}");
        assert_eq!(e.class(), ErrorClass::Login);
        assert_eq!(e.reply().unwrap().code().as_u16(), 530);
    });
}

#[test]
fn connect_refused_is_a_connect_error() {
    let port = integration_tests::free_port();
    with_timeout(30, async {
        let e = Client::connect("127.0.0.1", port, Options::default())
            .await
            .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Connect);
    });
}

#[test]
fn abandoned_download_does_not_desynchronise_the_session() {
    let s = TestServer::start();
    std::fs::write(s.path("big.bin"), pattern(4_000_000)).unwrap();
    std::fs::write(s.path("small.txt"), b"small").unwrap();
    with_timeout(60, async {
        let mut c = login(&s, opts(DataMode::Passive, true)).await;
        {
            let mut dl = c.retr("big.bin", 0).await.unwrap();
            let mut buf = [0u8; 1000];
            dl.read_exact(&mut buf).await.unwrap();
            // dropped here, unfinished
        }
        assert_eq!(download(&mut c, "small.txt", 0).await, b"small");
        let dl = c.retr("big.bin", 0).await.unwrap();
        dl.abort().await.unwrap();
        assert_eq!(c.pwd().await.unwrap(), b"/");
    });
}

#[test]
fn keepalive_noops_during_transfers_are_accounted_for() {
    let s = TestServer::start();
    let data = pattern(2_000_000);
    std::fs::write(s.path("k.bin"), &data).unwrap();
    with_timeout(60, async {
        let mut o = opts(DataMode::Passive, true);
        o.keepalive = Some(Duration::ZERO); // a NOOP at every chance
        let mut c = login(&s, o).await;
        assert_eq!(download(&mut c, "k.bin", 0).await, data);
        c.stor("k2.bin", &data[..], 0).await.unwrap();
        assert_eq!(std::fs::read(s.path("k2.bin")).unwrap(), data);
        // Replies are still paired with their commands.
        assert_eq!(c.pwd().await.unwrap(), b"/");
        assert_eq!(c.size("k2.bin").await.unwrap(), data.len() as u64);
    });
}

#[test]
fn address_in_227_is_ignored_unless_trusted() {
    let s = TestServer::start_with(|cfg| cfg.public_address = Some("127.0.0.2".into()));
    std::fs::write(s.path("f"), b"data").unwrap();
    with_timeout(30, async {
        let mut c = login(&s, opts(DataMode::Passive, false)).await;
        assert_eq!(download(&mut c, "f", 0).await, b"data");
    });
}

#[test]
fn non_utf8_names_survive_listing_and_transfer() {
    use std::os::unix::ffi::OsStrExt;
    let s = TestServer::start();
    let name: &[u8] = b"caf\xe9 \xff.txt";
    std::fs::write(
        s.root.path().join(std::ffi::OsStr::from_bytes(name)),
        b"bytes",
    )
    .unwrap();
    std::fs::write(s.path("plain.txt"), b"p").unwrap();
    with_timeout(30, async {
        let mut c = login(&s, opts(DataMode::Passive, true)).await;
        let entries = c.list(None).await.unwrap();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert!(entries.iter().any(|e| e.name == name), "{entries:?}");
        let mut dl = c.retr(name, 0).await.unwrap();
        let mut v = Vec::new();
        dl.read_to_end(&mut v).await.unwrap();
        dl.finish().await.unwrap();
        assert_eq!(v, b"bytes");
    });
}
