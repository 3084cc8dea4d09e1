//! Abuse under load: hundreds of idle connections, abrupt disconnects in the middle of
//! transfers, floods of garbage, huge lines, odd bytes in paths and data-connection thieves.
//! After each, the server keeps serving an honest client.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use common::*;

/// Honest work: log in, upload, download, list.
fn honest_client_works(srv: &Srv, name: &str) {
    let mut c = srv.login();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        c.upload(&format!("STOR {name}"), &data).code().as_u16(),
        226
    );
    let (got, r) = c.download(&format!("RETR {name}"));
    assert_eq!((got == data, r.code().as_u16()), (true, 226));
    assert!(c.text("NLST").lines().any(|l| l == name));
    c.expect("QUIT", 221);
}

/// Closes a socket with a TCP reset (linger 0): the most abrupt disconnect a peer can do.
fn reset(s: TcpStream) {
    rustix::net::sockopt::set_socket_linger(s.as_fd(), Some(Duration::ZERO)).unwrap();
    drop(s);
}

#[test]
fn three_hundred_idle_connections_do_not_lock_out_an_honest_client() {
    // Both ends live in this process: about 600 descriptors. Raise a low soft limit to the
    // hard one (never above it) so the test also runs where the default is 1024 or less.
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current.is_some_and(|c| c < 4096) {
        lim.current = lim.maximum.map(|m| m.min(4096));
        let _ = setrlimit(Resource::Nofile, lim);
    }
    let srv = Srv::start_with(|c| {
        c.max_sessions = 1000;
        c.max_sessions_per_ip = 1000;
    });
    // Half logged in, half only greeted: both kinds just sit there.
    let mut idle = Vec::new();
    for i in 0..300 {
        let c = if i % 2 == 0 {
            srv.login()
        } else {
            Ctl::connect(srv.addr)
        };
        assert_eq!(c.greeting.code().as_u16(), 220);
        idle.push(c);
    }
    honest_client_works(&srv, "honest.bin");
    // The idle ones are all still served too.
    for c in idle.iter_mut().step_by(37) {
        let r = c.cmd("NOOP");
        assert_eq!(r.code().as_u16(), 200, "{r}");
    }
}

#[test]
fn fifty_abrupt_disconnects_mid_retr_leave_the_server_serving() {
    let srv = Srv::start();
    sparse(&srv.path("big"), 256 << 20);
    for _ in 0..50 {
        let mut c = srv.login();
        let mut d = c.epsv();
        c.expect("RETR big", 150);
        let mut buf = [0u8; 4096];
        d.read_exact(&mut buf).unwrap();
        reset(d);
        let Ctl { stream, .. } = c;
        reset(stream);
    }
    honest_client_works(&srv, "after-retr.bin");
    assert_eq!(std::fs::metadata(srv.path("big")).unwrap().len(), 256 << 20);
}

#[test]
fn fifty_abrupt_disconnects_mid_stor_leave_no_partial_or_temporary_files() {
    let srv = Srv::start();
    let complete: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    srv.write("target.bin", &complete);
    for i in 0..50 {
        let mut c = srv.login();
        let mut d = c.epsv();
        // Alternate replacing an existing file and creating a new one.
        let name = if i % 2 == 0 {
            "target.bin"
        } else {
            "fresh.bin"
        };
        c.expect(&format!("STOR {name}"), 150);
        d.write_all(&complete[..100_000]).unwrap();
        reset(d);
        let Ctl { stream, .. } = c;
        reset(stream);
    }
    // Every cut-off upload is cleaned up: only the complete original remains.
    eventually("temporary files removed", || {
        dir_names(srv.root.path()) == ["target.bin"]
    });
    assert!(srv.read("target.bin") == complete, "original file changed");
    honest_client_works(&srv, "after-stor.bin");
}

#[test]
fn hundred_thousand_garbage_lines_are_answered_and_the_session_goes_on() {
    let srv = Srv::start();
    let mut c = srv.login();
    const N: usize = 100_000;
    let mut writer = c.stream.try_clone().unwrap();
    // The server's replies must be read while we write, or both sides block on full buffers.
    let w = std::thread::spawn(move || {
        let mut junk = Vec::with_capacity(64 * 1024);
        for i in 0..N {
            junk.extend_from_slice(match i % 4 {
                0 => b"\x01\x02garbage\x7f\r\n".as_slice(),
                1 => b"XYZZY plugh\r\n",
                2 => b"\xc0\xae\xff\xfe\r\n",
                _ => b"\r\n",
            });
            if junk.len() > 60 * 1024 {
                writer.write_all(&junk).unwrap();
                junk.clear();
            }
        }
        writer.write_all(&junk).unwrap();
        writer.write_all(b"NOOP\r\n").unwrap();
    });
    let mut errors = 0;
    loop {
        let r = c.reply();
        match r.code().as_u16() {
            200 => break,
            code => {
                assert!((500..600).contains(&code), "{r}");
                errors += 1;
                assert!(errors <= N, "more replies than lines");
            }
        }
    }
    w.join().unwrap();
    assert_eq!(errors, N);
    honest_client_works(&srv, "after-garbage.bin");
}

#[test]
fn megabyte_line_before_login_is_refused_and_others_are_served() {
    let srv = Srv::start();
    let mut c = Ctl::connect(srv.addr);
    // Written from a thread: the server may stop reading (and close) part-way.
    let mut s = c.stream.try_clone().unwrap();
    let w = std::thread::spawn(move || {
        let _ = s.write_all(&vec![b'U'; 1 << 20]);
        let _ = s.write_all(b"\r\n");
    });
    // Either a 500 for the overlong line or a closed connection; never a hang or a crash.
    if let Some(r) = c.try_reply() {
        assert!(r.code().as_u16() >= 500, "{r}");
    }
    drop(c);
    w.join().unwrap();
    honest_client_works(&srv, "after-long-line.bin");
}

#[test]
fn nul_and_invalid_utf8_in_paths_never_touch_other_names() {
    let srv = Srv::start();
    srv.write("a", b"original a");
    let mut c = srv.login();
    for line in [
        &b"RETR a\0b\r\n"[..],
        b"DELE a\0\r\n",
        b"MKD x\0y\r\n",
        b"CWD \0\r\n",
        b"STOR a\0.bin\r\n",
        b"RNFR a\0\r\n",
        b"SIZE \xc0\xae\xc0\xae/a\r\n",
        b"DELE \xc0\xae\xc0\xae/\xc0\xae\xc0\xae/etc/passwd\r\n",
    ] {
        c.send_raw(line);
        let r = c.reply();
        assert!(
            r.code().as_u16() >= 500,
            "{:?} -> {r}",
            String::from_utf8_lossy(line)
        );
    }
    // Invalid UTF-8 is just name bytes: created and removed as such, inside the root.
    c.send_raw(b"MKD \xc3\x28\xfe\r\n");
    c.expect_reply(257);
    let raw = std::os::unix::ffi::OsStrExt::from_bytes(b"\xc3\x28\xfe".as_slice());
    assert!(srv.root.path().join::<&std::ffi::OsStr>(raw).is_dir());
    c.send_raw(b"RMD \xc3\x28\xfe\r\n");
    c.expect_reply(250);
    c.send_raw(b"RETR a\xff\xff\r\n"); // Telnet-escaped 0xff inside a name: no such file.
    assert_eq!(c.reply().code().as_u16(), 550);
    c.expect("NOOP", 200);
    assert_eq!(dir_names(srv.root.path()), ["a"]);
    assert_eq!(srv.read("a"), b"original a");
}

#[test]
fn upload_data_injected_from_another_host_after_pasv_is_dropped() {
    let srv = Srv::start();
    let mut c = srv.login();
    let r = c.expect("PASV", 227);
    let addr = SocketAddr::V4(ftp_proto::addr::parse_pasv_reply(&r.lines()[0]).unwrap());
    let mut thief = bind_connect("127.0.0.2", addr);
    c.expect("STOR real.bin", 150);
    // Whatever the thief writes never reaches the file; its connection is closed.
    let _ = thief.write_all(b"INJECTED");
    let mut sink = Vec::new();
    let _ = thief.read_to_end(&mut sink);
    assert!(sink.is_empty());
    let mut d = data_stream(TcpStream::connect(addr).unwrap());
    d.write_all(b"the real upload").unwrap();
    drop(d);
    c.expect_reply(226);
    assert_eq!(srv.read("real.bin"), b"the real upload");
}
