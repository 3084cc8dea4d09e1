//! Data connections and transfers: PASV/EPSV/PORT/EPRT over IPv4 and IPv6, TYPE A, resume,
//! APPE, STOU, ABOR, commands during a transfer, disconnects, graceful shutdown.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpStream};
use std::time::Duration;

use common::*;

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn retr_and_stor_over_pasv_ipv4() {
    let srv = Srv::start();
    let data = payload(300_000);
    srv.write("f.bin", &data);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut d = c.pasv();
    c.expect("RETR f.bin", 150);
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    c.expect_reply(226);
    assert_eq!(got, data);
    let mut d = c.pasv();
    c.expect("STOR up.bin", 150);
    d.write_all(&data).unwrap();
    drop(d);
    c.expect_reply(226);
    assert_eq!(srv.read("up.bin"), data);
}

#[test]
fn retr_and_stor_over_epsv_ipv4_and_ipv6() {
    for srv in [Srv::start(), Srv::start_v6()] {
        let data = payload(100_000);
        srv.write("f.bin", &data);
        let mut c = srv.login();
        let (got, r) = c.download("RETR f.bin");
        assert_eq!((got == data, r.code().as_u16()), (true, 226));
        assert_eq!(c.upload("STOR g.bin", &data).code().as_u16(), 226);
        assert_eq!(srv.read("g.bin"), data);
    }
}

#[test]
fn pasv_on_ipv6_control_connection_is_refused_but_epsv_works() {
    let srv = Srv::start_v6();
    let mut c = srv.login();
    c.expect("PASV", 425);
    c.expect("EPSV 1", 522);
    c.expect("EPSV 2", 229);
    c.expect("EPSV", 229);
}

fn active_roundtrip(srv: &Srv, use_eprt: bool) {
    let data = payload(200_000);
    srv.write("f.bin", &data);
    let mut c = srv.login();
    for upload in [false, true] {
        let l = active_listener(&c);
        let a = l.local_addr().unwrap();
        match (use_eprt, a) {
            (false, SocketAddr::V4(v4)) => {
                c.expect(&format!("PORT {}", ftp_proto::addr::encode_port(v4)), 200)
            }
            _ => c.expect(&format!("EPRT {}", ftp_proto::addr::encode_eprt(a)), 200),
        };
        if upload {
            c.expect("STOR up.bin", 150);
            let mut d = accept_timeout(&l, IO_TIMEOUT).expect("server connected");
            d.write_all(&data).unwrap();
            drop(d);
            c.expect_reply(226);
            assert_eq!(srv.read("up.bin"), data);
        } else {
            c.expect("RETR f.bin", 150);
            let mut d = accept_timeout(&l, IO_TIMEOUT).expect("server connected");
            let mut got = Vec::new();
            d.read_to_end(&mut got).unwrap();
            c.expect_reply(226);
            assert_eq!(got, data);
        }
    }
}

#[test]
fn port_transfers_ipv4() {
    active_roundtrip(&Srv::start(), false);
}

#[test]
fn eprt_transfers_ipv4_and_ipv6() {
    active_roundtrip(&Srv::start(), true);
    active_roundtrip(&Srv::start_v6(), true);
}

#[test]
fn transfer_without_data_setup_gets_425() {
    let srv = Srv::start();
    srv.write("f", b"x");
    let mut c = srv.login();
    c.expect("RETR f", 425);
    c.expect("NOOP", 200);
}

#[test]
fn epsv_all_refuses_port_pasv_and_eprt() {
    let srv = Srv::start();
    srv.write("f", b"data");
    let mut c = srv.login();
    c.expect("EPSV ALL", 200);
    c.expect("PASV", 503);
    c.expect("PORT 127,0,0,1,100,100", 503);
    c.expect("EPRT |1|127.0.0.1|25700|", 503);
    assert_eq!(c.download("RETR f").0, b"data");
}

#[test]
fn type_a_converts_line_endings_both_ways() {
    let srv = Srv::start();
    srv.write("unix.txt", b"one\ntwo\n\nthree");
    let mut c = srv.login();
    c.expect("TYPE A", 200);
    assert_eq!(c.download("RETR unix.txt").0, b"one\r\ntwo\r\n\r\nthree");
    c.upload("STOR up.txt", b"a\r\nb\r\nbare\rcr\r\n");
    assert_eq!(srv.read("up.txt"), b"a\nb\nbare\rcr\n");
    c.expect("TYPE I", 200);
    assert_eq!(c.download("RETR unix.txt").0, b"one\ntwo\n\nthree");
    c.upload("STOR bin.txt", b"a\r\nb");
    assert_eq!(srv.read("bin.txt"), b"a\r\nb");
}

#[test]
fn type_a_does_not_double_a_stored_cr_lf_and_keeps_a_final_cr() {
    let srv = Srv::start();
    srv.write("dos.txt", b"one\r\ntwo\n");
    let mut c = srv.login();
    c.expect("TYPE A", 200);
    assert_eq!(c.download("RETR dos.txt").0, b"one\r\ntwo\r\n");
    c.upload("STOR cr.txt", b"line\r\nends in cr\r");
    assert_eq!(srv.read("cr.txt"), b"line\nends in cr\r");
}

#[test]
fn rest_resumes_retr_and_stor() {
    let srv = Srv::start();
    let data = payload(50_000);
    srv.write("f.bin", &data);
    srv.write("part.bin", &data[..20_000]);
    let mut c = srv.login();
    c.expect("REST 12345", 350);
    assert_eq!(c.download("RETR f.bin").0, &data[12345..]);
    // REST applies to one transfer only.
    assert_eq!(c.download("RETR f.bin").0, data);
    c.expect("REST 20000", 350);
    c.upload("STOR part.bin", &data[20_000..]);
    assert_eq!(srv.read("part.bin"), data);
    // REST into the middle truncates what follows.
    c.expect("REST 10", 350);
    c.upload("STOR part.bin", b"XY");
    assert_eq!(srv.read("part.bin"), [&data[..10], b"XY"].concat());
    // Offsets past the end are refused, and the REST is consumed.
    c.expect("REST 13", 350);
    c.expect("STOR part.bin", 554);
    c.expect("REST 100000", 350);
    c.expect("RETR f.bin", 554);
    c.expect("REST 1", 350);
    c.expect("STOR missing.bin", 554);
    assert_eq!(c.download("RETR part.bin").0, [&data[..10], b"XY"].concat());
}

#[test]
fn rest_in_type_a_is_refused_with_554_and_nothing_is_sent_or_written() {
    let srv = Srv::start();
    let text = b"one\ntwo\nthree\n".repeat(100);
    srv.write("t.txt", &text);
    let mut c = srv.login();
    c.expect("TYPE A", 200);
    // The restart marker counts bytes as transferred: with CR LF they are not file offsets.
    c.expect("REST 8", 350);
    let _d = c.epsv();
    let r = c.expect("RETR t.txt", 554);
    assert!(r.to_string().contains("TYPE I"), "{r}");
    c.expect("REST 8", 350);
    let _d = c.epsv();
    c.expect("STOR t.txt", 554);
    assert_eq!(srv.read("t.txt"), text);
    // The marker was used up, and TYPE I resumes as before.
    c.expect("TYPE I", 200);
    c.expect("REST 8", 350);
    assert_eq!(c.download("RETR t.txt").0, &text[8..]);
}

#[test]
fn appe_appends_and_creates() {
    let srv = Srv::start();
    srv.write("log", b"one\n");
    let mut c = srv.login();
    c.upload("APPE log", b"two\n");
    c.upload("APPE new", b"x");
    assert_eq!(srv.read("log"), b"one\ntwo\n");
    assert_eq!(srv.read("new"), b"x");
}

#[test]
fn stou_creates_unique_names() {
    let srv = Srv::start();
    srv.write("f", b"existing");
    let mut c = srv.login();
    for content in [&b"1"[..], b"2"] {
        let mut d = c.epsv();
        let r = c.expect("STOU f", 150);
        assert!(r.text().starts_with("FILE: f."), "{r}");
        d.write_all(content).unwrap();
        drop(d);
        c.expect_reply(226);
    }
    assert_eq!(srv.read("f"), b"existing");
    assert_eq!(dir_names(srv.root.path()), ["f", "f.1", "f.2"]);
    assert_eq!(srv.read("f.2"), b"2");
}

#[test]
fn retr_of_missing_file_or_directory_is_550_without_data_connection() {
    let srv = Srv::start();
    std::fs::create_dir(srv.path("d")).unwrap();
    let mut c = srv.login();
    let _d = c.epsv();
    c.expect("RETR nope", 550);
    c.expect("RETR d", 550);
    c.expect("STOR d", 550);
    c.expect("STOR nodir/x", 550);
}

#[test]
fn abor_during_long_retr_replies_426_then_226_and_session_goes_on() {
    let srv = Srv::start();
    sparse(&srv.path("huge"), 1 << 30);
    srv.write("small", b"small");
    let mut c = srv.login();
    let mut d = c.epsv();
    c.expect("RETR huge", 150);
    // Read a little so the transfer is surely running, then abort.
    let mut buf = [0u8; 4096];
    d.read_exact(&mut buf).unwrap();
    c.expect("ABOR", 426);
    c.expect_reply(226);
    // The data connection is closed by the server.
    let mut rest = Vec::new();
    let _ = d.read_to_end(&mut rest);
    assert!(rest.len() < (1 << 30) - 4096);
    c.expect("NOOP", 200);
    assert_eq!(c.download("RETR small").0, b"small");
}

#[test]
fn stat_and_noop_are_answered_during_a_transfer() {
    let srv = Srv::start();
    // 1 GiB that the client stops reading: the transfer is certainly still running when STAT
    // arrives, whatever the socket buffer sizes (sendfile can queue many MiB at once).
    sparse(&srv.path("huge"), 1 << 30);
    let mut c = srv.login();
    let mut d = c.epsv();
    c.expect("RETR huge", 150);
    let mut first = vec![0xFFu8; 1024];
    d.read_exact(&mut first).unwrap();
    assert_eq!(first, vec![0u8; 1024]);
    let st = c.expect("STAT", 211);
    assert!(st.to_string().contains("RETR /huge"), "{st}");
    c.expect("NOOP", 200);
    c.expect("ABOR", 426);
    c.expect_reply(226);
    drop(d);
    c.expect("NOOP", 200);
}

#[test]
fn quit_during_transfer_waits_for_it() {
    let srv = Srv::start();
    let data = payload(4 << 20);
    srv.write("big", &data);
    let mut c = srv.login();
    let mut d = c.epsv();
    c.expect("RETR big", 150);
    c.send("QUIT");
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, data);
    c.expect_reply(226);
    c.expect_reply(221);
    assert!(c.closed());
}

#[test]
fn commands_sent_during_a_transfer_are_answered_after_it() {
    let srv = Srv::start();
    let data = payload(1 << 20);
    srv.write("big", &data);
    let mut c = srv.login();
    let mut d = c.epsv();
    c.expect("RETR big", 150);
    c.send("PWD");
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    c.expect_reply(226);
    c.expect_reply(257);
    assert_eq!(got, data);
}

#[test]
fn abor_during_stor_leaves_the_old_file_and_no_temp_files() {
    let srv = Srv::start();
    srv.write("f", b"complete old content");
    let mut c = srv.login();
    let mut d = c.epsv();
    c.expect("STOR f", 150);
    d.write_all(b"partial new").unwrap();
    c.expect("ABOR", 426);
    c.expect_reply(226);
    assert_eq!(srv.read("f"), b"complete old content");
    eventually("temp file removed", || dir_names(srv.root.path()) == ["f"]);
}

#[test]
fn client_disconnect_mid_stor_leaves_no_truncated_file() {
    let srv = Srv::start();
    srv.write("f", b"complete old content");
    let mut c = srv.login();
    let mut d = c.epsv();
    c.expect("STOR f", 150);
    d.write_all(b"partial").unwrap();
    // A cut-off upload: the data connection is reset, not closed. (A clean close is how stream
    // mode marks the end of a file, so it would rightly commit "partial".)
    rustix::net::sockopt::set_socket_linger(&d, Some(std::time::Duration::ZERO)).unwrap();
    drop(d);
    c.stream.shutdown(Shutdown::Both).unwrap();
    drop(c);
    eventually("temp file removed", || dir_names(srv.root.path()) == ["f"]);
    assert_eq!(srv.read("f"), b"complete old content");
    srv.login().expect("NOOP", 200);
}

#[test]
fn client_disconnect_mid_retr_does_not_disturb_other_sessions() {
    let srv = Srv::start();
    sparse(&srv.path("huge"), 1 << 30);
    let data = payload(500_000);
    srv.write("f", &data);
    let mut other = srv.login();
    for _ in 0..5 {
        let mut c = srv.login();
        let mut d = c.epsv();
        c.expect("RETR huge", 150);
        let mut buf = [0u8; 1024];
        d.read_exact(&mut buf).unwrap();
        drop(d);
        drop(c);
    }
    assert_eq!(other.download("RETR f").0, data);
    let mut fresh = srv.login();
    assert_eq!(fresh.download("RETR f").0, data);
}

#[test]
fn a_small_download_over_an_open_connection_ends_before_150_and_226_arrive_together() {
    let srv = Srv::start();
    let data = payload(10_000);
    srv.write("f.bin", &data);
    srv.write("dir/a", b"a");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    for line in ["RETR f.bin", "NLST dir"] {
        let mut d = c.epsv();
        // Once the NOOP is answered, the data connection waits in the listener's queue.
        c.expect("NOOP", 200);
        c.expect(line, 150);
        // Sent after the data, in the same write as the 150: already here.
        assert!(
            c.buffered().starts_with(b"226 "),
            "{line}: {:?}",
            String::from_utf8_lossy(c.buffered())
        );
        c.expect_reply(226);
        let mut got = Vec::new();
        d.read_to_end(&mut got).unwrap();
        let want = if line.starts_with("RETR") {
            data.clone()
        } else {
            b"dir/a\r\n".to_vec()
        };
        assert_eq!(got, want, "{line}");
    }
    c.expect("NOOP", 200);
}

/// EPSV, then a data connection whose receive buffer is a few KiB: the server's socket
/// fills after little data, so what it sends can't go out at once.
fn epsv_small_window(c: &mut Ctl) -> TcpStream {
    use rustix::net::{sockopt, AddressFamily, SocketType};
    let r = c.expect("EPSV", 229);
    let port = ftp_proto::addr::parse_epsv_reply(&r.lines()[0]).unwrap();
    let ip = c.stream.peer_addr().unwrap().ip();
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    sockopt::set_socket_recv_buffer_size(&fd, 4096).unwrap();
    rustix::net::connect(&fd, &SocketAddr::new(ip, port)).unwrap();
    data_stream(TcpStream::from(fd))
}

#[test]
fn a_download_larger_than_the_socket_buffers_gets_its_150_before_the_client_reads() {
    let srv = Srv::start();
    let data = payload(4 << 20);
    srv.write("big.bin", &data);
    // A listing of 4+ MiB: more than a loopback socket takes at once (about 3 MiB here).
    let long = "n".repeat(200);
    std::fs::create_dir(srv.path("many")).unwrap();
    for i in 0..20_000 {
        std::fs::File::create(srv.path(&format!("many/{long}{i:05}"))).unwrap();
    }
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    for line in ["RETR big.bin", "NLST many"] {
        let mut d = epsv_small_window(&mut c);
        c.expect("NOOP", 200);
        // A client may wait for the 150 before it reads any data: it must come.
        c.expect(line, 150);
        let mut got = Vec::new();
        d.read_to_end(&mut got).unwrap();
        c.expect_reply(226);
        if line.starts_with("RETR") {
            assert!(
                got == data,
                "{} of {} bytes, or other ones",
                got.len(),
                data.len()
            );
        } else {
            let names = String::from_utf8(got).unwrap();
            assert_eq!(names.lines().count(), 20_000);
            assert!(names
                .lines()
                .all(|l| l.starts_with("many/nnnn") && l.len() == 210));
        }
    }
}

#[test]
fn data_connection_closed_early_by_client_gives_426() {
    let srv = Srv::start();
    sparse(&srv.path("huge"), 1 << 30);
    let mut c = srv.login();
    let mut d = c.epsv();
    c.expect("RETR huge", 150);
    let mut buf = [0u8; 1024];
    d.read_exact(&mut buf).unwrap();
    drop(d);
    c.expect_reply(426);
    c.expect("NOOP", 200);
}

#[test]
fn passive_listener_times_out_when_nobody_connects() {
    let srv = Srv::start_with(|c| c.data_timeout = Duration::from_millis(300));
    srv.write("f", b"x");
    let mut c = srv.login();
    c.expect("EPSV", 229);
    c.expect("RETR f", 150);
    c.expect_reply(425);
    c.expect("NOOP", 200);
}

#[test]
fn passive_ports_come_from_the_configured_range() {
    let srv = Srv::start_with(|c| c.passive_ports = Some(40_000..=40_010));
    let mut c = srv.login();
    for _ in 0..3 {
        let r = c.expect("EPSV", 229);
        let port = ftp_proto::addr::parse_epsv_reply(&r.lines()[0]).unwrap();
        assert!((40_000..=40_010).contains(&port), "{port}");
    }
}

#[test]
fn public_address_is_announced_in_227() {
    let srv = Srv::start_with(|c| c.public_address = Some("192.0.2.7".into()));
    let mut c = srv.login();
    let r = c.expect("PASV", 227);
    let a: SocketAddrV4 = ftp_proto::addr::parse_pasv_reply(&r.lines()[0]).unwrap();
    assert_eq!(a.ip().octets(), [192, 0, 2, 7]);
}

#[test]
fn shutdown_lets_a_running_transfer_finish_then_run_returns() {
    let mut srv = Srv::start();
    let data = payload(4 << 20);
    srv.write("big", &data);
    let mut idle = srv.login();
    let mut c = srv.login();
    let mut d = c.epsv();
    c.expect("RETR big", 150);
    let stop = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut got = Vec::new();
            d.read_to_end(&mut got).unwrap();
            got
        });
        // The idle session is told to go.
        let stopper = s.spawn(|| srv.shutdown());
        assert_eq!(idle.reply().code().as_u16(), 421);
        let got = reader.join().unwrap();
        stopper.join().unwrap();
        got
    });
    assert_eq!(stop, data);
    c.expect_reply(226);
    c.expect_reply(421);
    assert!(
        TcpStream::connect(srv.addr).is_err() || {
            let mut s = TcpStream::connect(srv.addr).unwrap();
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let mut b = [0u8; 1];
            matches!(s.read(&mut b), Ok(0) | Err(_))
        }
    );
}

#[test]
fn concurrent_uploads_of_one_name_leave_one_complete_file() {
    let srv = Srv::start();
    let a = vec![b'a'; 2 << 20];
    let b = vec![b'b'; 3 << 20];
    let mut ca = srv.login();
    let mut cb = srv.login();
    let mut da = ca.epsv();
    let mut db = cb.epsv();
    ca.expect("STOR same.bin", 150);
    cb.expect("STOR same.bin", 150);
    // Interleave the two uploads chunk by chunk.
    for i in 0..48 {
        let (ra, rb) = (i * 64 * 1024, (i + 1) * 64 * 1024);
        if ra < a.len() {
            da.write_all(&a[ra..rb.min(a.len())]).unwrap();
        }
        if ra < b.len() {
            db.write_all(&b[ra..rb.min(b.len())]).unwrap();
        }
    }
    drop(da);
    drop(db);
    ca.expect_reply(226);
    cb.expect_reply(226);
    let got = srv.read("same.bin");
    assert!(got == a || got == b, "mixed content of {} bytes", got.len());
    assert_eq!(dir_names(srv.root.path()), ["same.bin"]);
}

#[test]
fn shutdown_grace_period_ends_transfers_that_take_too_long() {
    let mut srv = Srv::start_with(|c| c.shutdown_grace = Duration::from_millis(300));
    sparse(&srv.path("huge"), 1 << 30);
    let mut c = srv.login();
    let _d = c.epsv();
    c.expect("RETR huge", 150);
    // The client never reads, so the transfer cannot finish; run() still returns.
    srv.shutdown();
    c.expect_reply(421);
    assert!(c.closed());
}

#[test]
fn stor_with_a_lone_0xff_in_the_name_keeps_the_byte_and_other_files() {
    // Regression (issue 22, bug 8): Python's ftplib sends a 0xFF in a name without doubling
    // it; `STOR bad\xffa` used to store `bada`, overwriting that file.
    use std::os::unix::ffi::OsStrExt;
    let srv = Srv::start();
    srv.write("bada", b"keep me");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    c.send_raw(b"STOR bad\xffa\r\n");
    c.expect_reply(150);
    d.write_all(b"new").unwrap();
    drop(d);
    c.expect_reply(226);
    assert_eq!(srv.read("bada"), b"keep me");
    let name = std::ffi::OsStr::from_bytes(b"bad\xffa");
    assert_eq!(std::fs::read(srv.root.path().join(name)).unwrap(), b"new");
}
