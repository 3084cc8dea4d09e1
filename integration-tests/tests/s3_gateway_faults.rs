//! Our server on an S3 gateway that answers slowly, hangs, or refuses everything (issue 21),
//! each test with a gateway of its own on the Ceph cluster ([`Gateway`]: a real `radosgw`,
//! frozen with `SIGSTOP` or made to answer `503 SlowDown` by its own request throttle):
//! - a gateway that hangs for a few seconds only slows transfers down;
//! - one that hangs longer than `--s3-request-timeout` turns the upload into `451`, and the
//!   multipart upload is aborted once the gateway is back;
//! - a `503` storm gives `451` for uploads and downloads, the session goes on, and no object
//!   and no multipart upload is left;
//! - a gateway killed in the middle of a download ends it with `451` at once.
//!
//! What reached the bucket is read through the cluster's shared gateway, not the test's own.

#[path = "../../ftp-server/tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::Ctl;
use integration_tests::gateway::Gateway;
use integration_tests::s3::{Ceph, Scratch, S3};
use integration_tests::{or_skip, test_bytes, ChildGuard, TestServer};

/// A multipart-sized file: two and a half 8 MiB parts.
const SIZE: usize = 20 << 20;

/// A test's gateway, and our server on it serving a fresh prefix.
struct Setup {
    ctl: Ctl,
    _server: ChildGuard,
    scratch: Scratch,
    s3: S3,
    gateway: Gateway,
}

/// Starts a gateway for `test` and our server on it (with `extra` flags), logged in; `None`
/// after a skip notice without the cluster.
fn setup(test: &str, extra: &[&str]) -> Option<Setup> {
    let s3 = or_skip(S3::from_env(), test)?;
    let ceph = or_skip(Ceph::find(&s3), test)?;
    let gateway = Gateway::start(&ceph, test);
    let scratch = s3.scratch(test);
    let (server, addr) = gateway.s3().server(&scratch.prefix, extra);
    let mut ctl = Ctl::connect(addr);
    ctl.stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    ctl.login(TestServer::USER, TestServer::PASS);
    ctl.expect("TYPE I", 200);
    Some(Setup {
        ctl,
        _server: server,
        scratch,
        s3,
        gateway,
    })
}

/// Starts `STOR path` and returns its data connection (150 read).
fn start_stor(ctl: &mut Ctl, path: &str) -> TcpStream {
    let d = ctl.epsv();
    d.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    ctl.expect(&format!("STOR {path}"), 150);
    d
}

/// Closes an upload's data connection and returns the final reply's code.
fn end_stor(ctl: &mut Ctl, mut d: TcpStream) -> u16 {
    let _ = d.flush();
    let _ = d.shutdown(Shutdown::Write);
    drop(d);
    ctl.reply().code().as_u16()
}

impl Setup {
    /// The object at server path `path`, read through the shared gateway.
    fn object(&self, path: &str) -> Option<Vec<u8>> {
        self.s3.get(&self.scratch.key(path))
    }

    /// Waits (at most `limit`) until no multipart upload under the prefix is left.
    fn no_uploads_left_within(&self, limit: Duration) {
        let begun = Instant::now();
        loop {
            let left = self.s3.incomplete_uploads(&self.scratch.prefix);
            if left.is_empty() {
                return;
            }
            assert!(begun.elapsed() < limit, "uploads left: {left:?}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[test]
fn a_gateway_that_hangs_for_a_few_seconds_only_slows_transfers_down() {
    let test = "gateway_hangs_briefly";
    let Some(mut t) = setup(test, &[]) else {
        return;
    };
    let data = test_bytes(SIZE, 31);
    let mut d = start_stor(&mut t.ctl, "slow.bin");
    d.write_all(&data[..SIZE / 2]).unwrap();
    t.gateway.hang_for(Duration::from_secs(4));
    d.write_all(&data[SIZE / 2..]).unwrap();
    assert_eq!(end_stor(&mut t.ctl, d), 226);
    assert!(
        t.object("slow.bin") == Some(data.clone()),
        "the object differs"
    );

    // A download that the gateway stalls in the middle.
    let mut d = t.ctl.epsv();
    t.ctl.expect("RETR slow.bin", 150);
    let mut got = vec![0u8; 1 << 20];
    d.read_exact(&mut got).unwrap();
    t.gateway.hang_for(Duration::from_secs(4));
    d.read_to_end(&mut got).unwrap();
    assert_eq!(t.ctl.reply().code().as_u16(), 226);
    assert!(got == data, "the download differs");
}

#[test]
fn a_gateway_hung_longer_than_the_request_timeout_fails_the_upload_and_leaves_nothing() {
    let test = "gateway_hangs_past_the_timeout";
    let Some(mut t) = setup(test, &["--s3-request-timeout", "2s"]) else {
        return;
    };
    // One full part, which the server sends at once, and a small last one that meets a
    // hung gateway: each attempt waits 2 s (plus 0.1 s for its body), five attempts.
    let data = test_bytes((8 << 20) + (100 << 10), 32);
    let mut d = start_stor(&mut t.ctl, "cut.bin");
    d.write_all(&data).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let paused = t.gateway.pause();
    let begun = Instant::now();
    assert_eq!(end_stor(&mut t.ctl, d), 451, "STOR on a hung gateway");
    let waited = begun.elapsed();
    assert!(waited < Duration::from_secs(90), "451 after {waited:?}");
    t.ctl.expect("NOOP", 200);
    paused.resume();
    // Back: the abort goes through, nothing of the upload is left.
    t.no_uploads_left_within(Duration::from_secs(60));
    assert_eq!(t.object("cut.bin"), None);
    assert_eq!(
        t.ctl.upload("STOR after.bin", b"after").code().as_u16(),
        226
    );
    assert_eq!(t.object("after.bin").as_deref(), Some(&b"after"[..]));
}

#[test]
fn a_503_storm_is_451_for_transfers_and_leaves_no_object_and_no_upload() {
    let test = "gateway_503_storm";
    let Some(mut t) = setup(test, &[]) else {
        return;
    };
    let before = test_bytes(1 << 20, 33);
    assert_eq!(
        t.ctl.upload("STOR before.bin", &before).code().as_u16(),
        226
    );
    let data = test_bytes(SIZE, 34);
    let mut d = start_stor(&mut t.ctl, "cut.bin");
    d.write_all(&data[..SIZE / 2]).unwrap();
    // The slow download holding the gateway's only slot reads a key outside the prefix.
    let hold = t.s3.scratch(&format!("{test}-hold"));
    let storm = t.gateway.refuse_all(&hold.key("hold.bin"));
    // The rest may not all go out once the server has given up.
    let _ = d.write_all(&data[SIZE / 2..]);
    assert_eq!(end_stor(&mut t.ctl, d), 451, "STOR in a 503 storm");
    t.ctl.expect("NOOP", 200);
    let _d = t.ctl.epsv();
    t.ctl.expect("RETR before.bin", 451);
    // Refused before its 150 (the server looks the name up first) or at its end.
    let mut d = t.ctl.epsv();
    let r = t.ctl.cmd("STOR small.bin");
    if r.code().as_u16() == 150 {
        d.write_all(b"small").unwrap();
        assert_eq!(
            end_stor(&mut t.ctl, d),
            451,
            "STOR small.bin in a 503 storm"
        );
    } else {
        assert_eq!(r.code().as_u16(), 451, "STOR small.bin in a 503 storm: {r}");
    }
    storm.end();
    // Over: the abort goes through, nothing of the refused uploads exists, the session works.
    t.no_uploads_left_within(Duration::from_secs(60));
    assert_eq!(t.object("cut.bin"), None);
    assert_eq!(t.object("small.bin"), None);
    let (got, r) = t.ctl.download("RETR before.bin");
    assert_eq!(r.code().as_u16(), 226, "{r}");
    assert!(got == before, "RETR after the storm differs");
}

#[test]
fn a_gateway_killed_in_the_middle_of_a_download_ends_it_with_451() {
    let test = "gateway_killed_mid_download";
    let Some(mut t) = setup(test, &[]) else {
        return;
    };
    let data = test_bytes(SIZE, 35);
    t.s3.put(&t.scratch.key("big.bin"), &data);
    let mut d = t.ctl.epsv();
    t.ctl.expect("RETR big.bin", 150);
    let mut got = vec![0u8; 1 << 20];
    d.read_exact(&mut got).unwrap();
    t.gateway.kill();
    let mut rest = Vec::new();
    let _ = d.read_to_end(&mut rest);
    let r = t.ctl.reply();
    assert_eq!(r.code().as_u16(), 451, "RETR with the gateway killed: {r}");
    assert!(got.len() + rest.len() < data.len(), "all of it arrived");
    t.ctl.expect("NOOP", 200);
    t.ctl.expect("SIZE big.bin", 451);
}
