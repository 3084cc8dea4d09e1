//! RFC 2577 hardening: bounce attacks, port stealing, resource limits, timeouts, garbage.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::*;

#[test]
fn rejects_port_to_foreign_host() {
    let srv = Srv::start();
    srv.write("f", b"secret");
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = target.local_addr().unwrap().port();
    let mut c = srv.login();
    let r = c.cmd(&format!("PORT 127,0,0,2,{},{}", port >> 8, port & 0xff));
    assert!(r.code().as_u16() >= 500, "{r}");
    let r = c.cmd(&format!("EPRT |1|127.0.0.2|{port}|"));
    assert!(r.code().as_u16() >= 500, "{r}");
    c.expect("RETR f", 425);
    assert!(accept_timeout(&target, Duration::from_millis(300)).is_none());
}

#[test]
fn rejects_port_below_1024() {
    let srv = Srv::start();
    let mut c = srv.login();
    let r = c.cmd("PORT 127,0,0,1,0,21");
    assert!(r.code().as_u16() >= 500, "{r}");
    let r = c.cmd("EPRT |1|127.0.0.1|80|");
    assert!(r.code().as_u16() >= 500, "{r}");
}

#[test]
fn fxp_can_be_allowed_explicitly() {
    let srv = Srv::start_with(|c| c.allow_foreign_data_address = true);
    srv.write("f", b"fxp");
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = target.local_addr().unwrap().port();
    let mut c = srv.login();
    c.expect(&format!("EPRT |1|127.0.0.2|{port}|"), 200);
    c.expect("RETR f", 150);
    let mut d = accept_timeout(&target, IO_TIMEOUT).expect("server connected");
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"fxp");
    c.expect_reply(226);
}

#[test]
fn drops_passive_connection_from_foreign_address_and_serves_the_client() {
    let srv = Srv::start();
    srv.write("f", b"for the real client");
    let mut c = srv.login();
    let r = c.expect("EPSV", 229);
    let port = ftp_proto::addr::parse_epsv_reply(&r.lines()[0]).unwrap();
    let thief = bind_connect("127.0.0.2", SocketAddr::from(([127, 0, 0, 1], port)));
    c.expect("RETR f", 150);
    // The thief gets nothing: its connection is closed without data.
    let mut stolen = Vec::new();
    let _ = (&thief).read_to_end(&mut stolen);
    assert!(stolen.is_empty());
    let mut d = data_stream(TcpStream::connect(("127.0.0.1", port)).unwrap());
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"for the real client");
    c.expect_reply(226);
}

#[test]
fn over_the_per_ip_limit_gets_421() {
    let srv = Srv::start_with(|c| {
        c.max_sessions_per_ip = 2;
        // Each refused connection adds to 127.0.0.1's score; the retries below must not
        // end in a ban (tests/access.rs tests that).
        c.bans.score = 0;
    });
    let a = Ctl::connect(srv.addr);
    let b = Ctl::connect(srv.addr);
    let c = Ctl::connect(srv.addr);
    assert_eq!(c.greeting.code().as_u16(), 421);
    drop((a, b));
    eventually("slot released", || {
        Ctl::connect(srv.addr).greeting.code().as_u16() == 220
    });
}

#[test]
fn over_the_total_limit_gets_421() {
    let srv = Srv::start_with(|c| c.max_sessions = 1);
    let _a = Ctl::connect(srv.addr);
    let b = Ctl::connect(srv.addr);
    assert_eq!(b.greeting.code().as_u16(), 421);
}

#[test]
fn idle_control_connection_is_closed() {
    let srv = Srv::start_with(|c| c.idle_timeout = Duration::from_millis(300));
    let mut c = srv.login();
    assert_eq!(c.reply().code().as_u16(), 421);
    assert!(c.closed());
}

#[test]
fn commands_postpone_the_idle_timeout_until_they_stop() {
    let srv = Srv::start_with(|c| c.idle_timeout = Duration::from_millis(600));
    let mut c = srv.login();
    // Twice the timeout of steady NOOPs: the session's timer fires before its moved
    // deadline and must be set again, not close the connection.
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(c.cmd("NOOP").code().as_u16(), 200);
    }
    assert_eq!(c.reply().code().as_u16(), 421);
    assert!(c.closed());
}

#[test]
fn trickling_client_is_dropped_by_the_idle_timeout() {
    let srv = Srv::start_with(|c| c.idle_timeout = Duration::from_millis(500));
    let mut c = Ctl::connect(srv.addr);
    // One byte every 50 ms never completes a line; the bounded loop outlasts the timeout.
    let mut closed = false;
    for _ in 0..200 {
        if c.stream.write_all(b"N").is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        c.stream.set_nonblocking(true).unwrap();
        let mut b = [0u8; 64];
        let r = (&c.stream).read(&mut b);
        c.stream.set_nonblocking(false).unwrap();
        if r.is_ok() {
            closed = true;
            break;
        }
    }
    assert!(closed, "trickling client was not dropped");
}

#[test]
fn long_line_gets_500_and_session_goes_on() {
    let srv = Srv::start();
    let mut c = srv.login();
    let mut line = vec![b'A'; 64 * 1024];
    line.extend_from_slice(b"\r\n");
    c.send_raw(&line);
    c.expect_reply(500);
    c.expect("NOOP", 200);
}

#[test]
fn megabyte_line_without_newline_does_not_kill_the_server() {
    let srv = Srv::start();
    let mut c = srv.login();
    let _ = c.stream.write_all(&vec![b'x'; 1 << 20]);
    drop(c);
    srv.login().expect("NOOP", 200);
}

#[test]
fn garbage_lines_and_telnet_iac_are_answered() {
    let srv = Srv::start();
    let mut c = srv.login();
    c.send_raw(b"\xff\xf4\xff\xf2NOOP\r\n");
    c.expect_reply(200);
    let mut junk = Vec::new();
    for i in 0..1000u32 {
        junk.extend_from_slice(format!("\x01garbage {i} \x7f\r\n").as_bytes());
    }
    c.send_raw(&junk);
    for _ in 0..1000 {
        let r = c.reply();
        assert_eq!(r.code().as_u16(), 500, "{r}");
    }
    c.send_raw(b"CWD \xc3\x28\xfe\r\n");
    assert_eq!(c.reply().code().as_u16(), 550);
    c.expect("NOOP", 200);
}

#[test]
fn thousands_of_pasv_without_connecting_keep_one_listener() {
    let srv = Srv::start();
    srv.write("f", b"ok");
    let mut c = srv.login();
    let mut last = 0;
    for _ in 0..2000 {
        let r = c.expect("EPSV", 229);
        last = ftp_proto::addr::parse_epsv_reply(&r.lines()[0]).unwrap();
    }
    let _ = last;
    assert_eq!(c.download("RETR f").0, b"ok");
}

/// An authenticator that panics for one user name and delegates otherwise.
#[derive(Debug)]
struct PanickyAuth(ftp_server::auth::UserDb);

impl ftp_server::Authenticator for PanickyAuth {
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a ftp_proto::Secret<Vec<u8>>,
    ) -> ftp_server::storage::BoxFuture<'a, Result<ftp_server::Account, ftp_server::auth::AuthError>>
    {
        assert_ne!(user, "boom", "deliberate panic inside a session");
        self.0.authenticate(user, password)
    }
}

#[test]
fn a_panicking_session_is_contained() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("f"), b"still here").unwrap();
    let cfg = ftp_server::Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        users: vec![ftp_server::User::new(USER, PASS, root.path())],
        ..Default::default()
    };
    let db = ftp_server::auth::UserDb::from_config(&cfg).unwrap();
    let server = smol::block_on(ftp_server::Server::bind_with(
        cfg,
        std::sync::Arc::new(PanickyAuth(db)),
    ))
    .unwrap();
    let addr = server.local_addrs()[0];
    let stop = server.shutdown_handle();
    let t = std::thread::spawn(move || smol::block_on(server.run()));
    let mut other = Ctl::connect(addr);
    other.login(USER, PASS);
    let mut victim = Ctl::connect(addr);
    victim.expect("USER boom", 331);
    victim.send("PASS x");
    assert!(
        victim.try_reply().is_none(),
        "the panicking session is closed"
    );
    assert_eq!(other.download("RETR f").0, b"still here");
    let mut fresh = Ctl::connect(addr);
    fresh.login(USER, PASS);
    stop.shutdown();
    t.join().unwrap().unwrap();
}

#[test]
fn stalled_download_is_aborted_by_the_data_timeout() {
    let srv = Srv::start_with(|c| c.data_timeout = Duration::from_millis(300));
    sparse(&srv.path("huge"), 1 << 30);
    let mut c = srv.login();
    let _d = c.epsv();
    c.expect("RETR huge", 150);
    // The client never reads: once the socket buffers are full the server gives up.
    c.expect_reply(426);
    c.expect("NOOP", 200);
}

#[test]
fn stalled_upload_is_aborted_and_leaves_no_file() {
    let srv = Srv::start_with(|c| c.data_timeout = Duration::from_millis(300));
    let mut c = srv.login();
    let mut d = c.epsv();
    c.expect("STOR new.bin", 150);
    d.write_all(b"some bytes, then silence").unwrap();
    c.expect_reply(426);
    eventually("no file left", || dir_names(srv.root.path()).is_empty());
}
