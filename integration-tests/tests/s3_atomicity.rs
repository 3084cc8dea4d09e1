//! Uploads to S3 are all or nothing (issue 15): a `STOR` cut off half way, by a client reset
//! or by `kill -9` of the server, leaves the previous object intact and no new object; after
//! the server aborts an upload, ListMultipartUploads shows none left. Our real server on the
//! Ceph cluster of `cargo xtask ceph start`; the bucket is read back directly over S3.

#[path = "../../ftp-server/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::Ctl;
use integration_tests::s3::S3Server;
use integration_tests::{test_bytes, TestServer};

/// What the cut-off uploads send before the cut: more than two 8 MiB parts, so the server is
/// in the middle of a multipart upload (at most two parts in flight, the rest in the socket).
const SENT: usize = 24 << 20;

/// A logged-in binary-mode control connection with a generous read timeout (S3 calls and
/// their retries sit between a command and its reply).
fn login(srv: &S3Server) -> Ctl {
    let mut ctl = Ctl::connect(srv.addr);
    ctl.stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    ctl.login(TestServer::USER, TestServer::PASS);
    ctl.expect("TYPE I", 200);
    ctl
}

/// Opens `STOR path`, sends [`SENT`] bytes and waits (bounded) until the bucket lists the
/// multipart upload of `path`: the upload is really half way when this returns.
fn stor_half_way(srv: &S3Server, ctl: &mut Ctl, path: &str) -> TcpStream {
    let mut data = ctl.epsv();
    data.set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    ctl.expect(&format!("STOR {path}"), 150);
    data.write_all(&test_bytes(SENT, 99)).unwrap();
    let key = srv.scratch.key(path);
    let begun = Instant::now();
    while !srv.incomplete_uploads().iter().any(|(k, _)| *k == key) {
        assert!(
            begun.elapsed() < Duration::from_secs(60),
            "no multipart upload of {key} listed after {SENT} bytes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    data
}

/// Closes `s` with a TCP reset (linger 0).
fn reset(s: TcpStream) {
    rustix::net::sockopt::set_socket_linger(s.as_fd(), Some(Duration::ZERO)).unwrap();
    drop(s);
}

/// Waits (bounded) until no multipart upload is listed under the server's prefix.
fn no_upload_left(srv: &S3Server) {
    let begun = Instant::now();
    loop {
        let left = srv.incomplete_uploads();
        if left.is_empty() {
            return;
        }
        assert!(
            begun.elapsed() < Duration::from_secs(30),
            "incomplete uploads left after an abort: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn stor_cut_by_a_client_reset_keeps_the_old_object_and_leaves_no_upload() {
    let test = "stor_cut_by_a_client_reset_keeps_the_old_object_and_leaves_no_upload";
    let Some(srv) = S3Server::start(test, &[]) else {
        return;
    };
    let old = test_bytes(1 << 20, 1);
    srv.seed("f.bin", &old);
    let mut ctl = login(&srv);

    // The data connection reset half way: the transfer fails, the session goes on.
    let data = stor_half_way(&srv, &mut ctl, "f.bin");
    reset(data);
    let r = ctl.reply();
    assert_eq!(r.code().as_u16() / 100, 4, "a cut upload must fail: {r}");
    ctl.expect("NOOP", 200);
    no_upload_left(&srv);
    srv.assert_object("f.bin", &old);

    // The same onto a new name: no object appears.
    let data = stor_half_way(&srv, &mut ctl, "new.bin");
    reset(data);
    assert_eq!(ctl.reply().code().as_u16() / 100, 4);
    no_upload_left(&srv);
    assert_eq!(srv.object("new.bin"), None);

    // The client gone altogether (control and data reset): the same.
    let data = stor_half_way(&srv, &mut ctl, "f.bin");
    reset(data);
    reset(ctl.stream.try_clone().unwrap());
    drop(ctl);
    no_upload_left(&srv);
    srv.assert_object("f.bin", &old);
    assert_eq!(
        srv.scratch.objects().into_keys().collect::<Vec<_>>(),
        ["f.bin"]
    );
}

#[test]
fn stor_cut_by_killing_the_server_keeps_the_old_object_and_makes_no_new_one() {
    let test = "stor_cut_by_killing_the_server_keeps_the_old_object_and_makes_no_new_one";
    let Some(mut srv) = S3Server::start(test, &[]) else {
        return;
    };
    let old = test_bytes(1 << 20, 2);
    srv.seed("f.bin", &old);
    let mut ctl = login(&srv);
    let _replace = stor_half_way(&srv, &mut ctl, "f.bin");
    let mut other = login(&srv);
    let _create = stor_half_way(&srv, &mut other, "new.bin");

    let pid = rustix::process::Pid::from_raw(srv.process.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    assert!(srv
        .process
        .wait_timeout(Duration::from_secs(10))
        .unwrap()
        .is_some());

    // Nothing completed: the old object as it was, no new one. (The two multipart uploads
    // stay listed until the bucket's lifecycle rule aborts them; the prefix's clean-up
    // aborts them here.)
    srv.assert_object("f.bin", &old);
    assert_eq!(srv.object("new.bin"), None);
    assert_eq!(
        srv.scratch.objects().into_keys().collect::<Vec<_>>(),
        ["f.bin"]
    );
    // A new server on the same prefix serves the old bytes.
    let (process, addr) = srv.s3.server(&srv.scratch.prefix, &[]);
    srv.process = process;
    srv.addr = addr;
    let mut ctl = login(&srv);
    let (got, reply) = ctl.download("RETR f.bin");
    assert_eq!(reply.code().as_u16(), 226, "{reply}");
    assert!(got == old, "RETR after the restart differs");
}
