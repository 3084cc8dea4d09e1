//! The S3 engine failing under our server (issue 15), on the replicated Ceph cluster of
//! `cargo xtask ceph start`: one OSD stopped during a series of transfers (everything keeps
//! working: three replicas, min_size 2), and the gateway stopped in the middle of an upload
//! (`451`, the session survives, and works again once the gateway is back).
//!
//! These tests stop daemons of a cluster other tests use: each holds the cluster's disruption
//! lock (`Ceph::exclusive`) so only one disrupts at a time, restarts what it stopped even
//! when it fails, and keeps the outage short. The bucket is read back directly over S3.

#[path = "../../ftp-server/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use common::Ctl;
use integration_tests::s3::{Ceph, Daemon, S3Server};
use integration_tests::{or_skip, test_bytes, TestServer};

/// A multipart-sized file: two and a half 8 MiB parts.
const SIZE: usize = 20 << 20;

fn login(srv: &S3Server) -> Ctl {
    let mut ctl = Ctl::connect(srv.addr);
    ctl.stream
        .set_read_timeout(Some(Duration::from_secs(90)))
        .unwrap();
    ctl.login(TestServer::USER, TestServer::PASS);
    ctl.expect("TYPE I", 200);
    ctl
}

/// STOR `data` as `path`; the final reply.
fn stor(ctl: &mut Ctl, path: &str, data: &[u8]) -> u16 {
    let mut d = ctl.epsv();
    d.set_write_timeout(Some(Duration::from_secs(90))).unwrap();
    ctl.expect(&format!("STOR {path}"), 150);
    let sent = d.write_all(data);
    let _ = d.shutdown(Shutdown::Write);
    drop(d);
    let code = ctl.reply().code().as_u16();
    assert!(sent.is_ok() || code != 226, "226 after a failed send");
    code
}

/// RETR `path` through the server; the bytes.
fn retr(ctl: &mut Ctl, path: &str) -> Vec<u8> {
    let (got, r) = ctl.download(&format!("RETR {path}"));
    assert_eq!(r.code().as_u16(), 226, "RETR {path}: {r}");
    got
}

#[test]
fn transfers_keep_working_while_one_osd_is_down() {
    let test = "transfers_keep_working_while_one_osd_is_down";
    let Some(srv) = S3Server::start(test, &[]) else {
        return;
    };
    let Some(ceph) = or_skip(Ceph::find(&srv.s3), test) else {
        return;
    };
    let files: Vec<Vec<u8>> = (0..5)
        .map(|i| test_bytes(SIZE + i * 1000, i as u64))
        .collect();
    let lock = ceph.exclusive();
    let mut ctl = login(&srv);
    assert_eq!(stor(&mut ctl, "s0.bin", &files[0]), 226);

    // osd.1 dies while s1.bin is being sent: the upload still completes.
    let mut d = ctl.epsv();
    ctl.expect("STOR s1.bin", 150);
    d.write_all(&files[1][..SIZE / 2]).unwrap();
    let down = lock.stop(Daemon::Osd(1));
    d.write_all(&files[1][SIZE / 2..]).unwrap();
    d.shutdown(Shutdown::Write).unwrap();
    drop(d);
    assert_eq!(ctl.reply().code().as_u16(), 226, "STOR with one OSD dying");

    // With it down: uploads, downloads, listings, deletes.
    for (i, data) in files.iter().enumerate().skip(2) {
        assert_eq!(stor(&mut ctl, &format!("s{i}.bin"), data), 226);
    }
    assert!(
        retr(&mut ctl, "s0.bin") == files[0],
        "RETR s0.bin, one OSD down"
    );
    assert!(
        retr(&mut ctl, "s1.bin") == files[1],
        "RETR s1.bin, one OSD down"
    );
    ctl.expect("DELE s4.bin", 250);
    let names = ctl.text("NLST");
    assert_eq!(names.lines().count(), 4, "{names}");
    down.restart();

    // Back to three: every object as sent, read directly over S3.
    assert!(retr(&mut ctl, "s2.bin") == files[2]);
    for (i, data) in files.iter().enumerate().take(4) {
        srv.assert_object(&format!("s{i}.bin"), data);
    }
    assert_eq!(srv.object("s4.bin"), None);
    ctl.expect("QUIT", 221);
}

#[test]
fn gateway_outage_mid_upload_is_451_and_the_session_recovers() {
    let test = "gateway_outage_mid_upload_is_451_and_the_session_recovers";
    let Some(srv) = S3Server::start(test, &[]) else {
        return;
    };
    let Some(ceph) = or_skip(Ceph::find(&srv.s3), test) else {
        return;
    };
    let before = test_bytes(1 << 20, 20);
    let cut = test_bytes(SIZE, 21);
    let after = test_bytes(SIZE, 22);
    let lock = ceph.exclusive();
    let mut ctl = login(&srv);
    assert_eq!(stor(&mut ctl, "before.bin", &before), 226);

    // The gateway goes away while cut.bin is half sent.
    let mut d = ctl.epsv();
    d.set_write_timeout(Some(Duration::from_secs(90))).unwrap();
    ctl.expect("STOR cut.bin", 150);
    d.write_all(&cut[..SIZE / 2]).unwrap();
    let down = lock.stop(Daemon::Gateway);
    // The server may stop reading once S3 has failed: the rest may not all go out.
    let _ = d.write_all(&cut[SIZE / 2..]);
    let _ = d.shutdown(Shutdown::Write);
    drop(d);
    let r = ctl.reply();
    assert_eq!(r.code().as_u16(), 451, "STOR with the gateway gone: {r}");

    // The session survives: commands that need no S3 are answered, those that do get 451.
    ctl.expect("NOOP", 200);
    ctl.expect("PWD", 257);
    ctl.expect("SIZE before.bin", 451);
    let begun = Instant::now();
    down.restart();
    eprintln!("{test}: gateway back after {:?}", begun.elapsed());

    // Back: the same session works again, with nothing of the cut upload completed.
    ctl.expect("SIZE before.bin", 213);
    assert!(retr(&mut ctl, "before.bin") == before);
    assert_eq!(stor(&mut ctl, "after.bin", &after), 226);
    srv.assert_object("after.bin", &after);
    srv.assert_object("before.bin", &before);
    assert_eq!(srv.object("cut.bin"), None);
    ctl.expect("QUIT", 221);
}
