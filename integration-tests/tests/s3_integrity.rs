//! Integrity on S3 (issues 15 and 19): our real server on the Ceph cluster of `cargo xtask ceph
//! start`. `HASH` of an upload equals the local digest for every algorithm and both spellings,
//! over FTPS and plain; the SHA-256 computed while receiving is kept as the object's
//! `ftp-sha256` tag (read back directly over S3) for single-`PUT` and multipart uploads; an
//! object replaced behind the server's back gets a fresh digest; `SITE CPFR`/`CPTO` copies on
//! the S3 side, tag included.

#[path = "../../ftp-server/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::Ctl;
use ftp_client::tls::{TlsMode, Verify};
use ftp_client::{digest_of, Client, Options};
use ftp_proto::hash::HashAlgorithm;
use integration_tests::s3::S3Server;
use integration_tests::CertFiles;
use integration_tests::{test_bytes, with_timeout, TestServer};

/// A small file (one `PUT`) and one over the first 8 MiB part (a multipart upload).
const SIZES: [usize; 2] = [100_003, (9 << 20) + 7];

/// The digest tag of server path `path`, read directly over S3.
fn sha256_tag(srv: &S3Server, path: &str) -> Option<String> {
    let tags = srv.s3.tags(&srv.scratch.key(path));
    tags.into_iter()
        .find(|(k, _)| k == "ftp-sha256")
        .map(|(_, v)| v)
}

fn sha256(data: &[u8]) -> String {
    digest_of(data, HashAlgorithm::Sha256).unwrap()
}

/// A logged-in plain control connection with a read timeout generous enough for S3 calls.
fn login(srv: &S3Server) -> Ctl {
    let mut ctl = Ctl::connect(srv.addr);
    ctl.stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    ctl.login(TestServer::USER, TestServer::PASS);
    ctl.expect("TYPE I", 200);
    ctl
}

#[test]
fn digests_of_ftps_uploads_to_s3_equal_the_local_ones_and_sha256_is_kept_as_a_tag() {
    let certs = CertFiles::new();
    let (cert, key) = (certs.cert.to_str().unwrap(), certs.key.to_str().unwrap());
    let test = "s3_digests_of_ftps_uploads";
    let Some(srv) = S3Server::start(test, &["--tls-cert", cert, "--tls-key", key]) else {
        return;
    };
    let files: Vec<Vec<u8>> = SIZES.iter().map(|&n| test_bytes(n, 21)).collect();
    let opts = Options {
        tls: TlsMode::Explicit,
        verify: Verify::CaFile(certs.cert.clone()),
        ..Options::default()
    };
    with_timeout(180, async {
        let mut c = Client::connect("127.0.0.1", srv.addr.port(), opts)
            .await
            .unwrap();
        c.login(TestServer::USER, TestServer::PASS).await.unwrap();
        for (i, data) in files.iter().enumerate() {
            let name = format!("up{i}.bin");
            c.stor(&name, &data[..], 0).await.unwrap();
            for alg in HashAlgorithm::ALL {
                let theirs = c.hash(&name, alg).await.unwrap();
                let ours = digest_of(&data[..], alg).unwrap();
                assert_eq!(theirs, Some(ours), "{name}: {alg}");
            }
        }
        c.quit().await.unwrap();
    });
    for (i, data) in files.iter().enumerate() {
        let name = format!("up{i}.bin");
        srv.assert_object(&name, data);
        assert_eq!(
            sha256_tag(&srv, &name),
            Some(sha256(data)),
            "{name}: the digest computed on the way is the object's tag"
        );
    }
}

#[test]
fn legacy_digest_commands_answer_on_s3_and_a_replaced_object_gets_a_fresh_digest() {
    let Some(srv) = S3Server::start("s3_legacy_digests", &[]) else {
        return;
    };
    let old = test_bytes(70_000, 3);
    let mut ctl = login(&srv);
    assert_eq!(ctl.upload("STOR f.bin", &old).code().as_u16(), 226);
    for (verb, alg) in [
        ("XSHA256", HashAlgorithm::Sha256),
        ("XSHA512", HashAlgorithm::Sha512),
        ("XSHA1", HashAlgorithm::Sha1),
        ("XMD5", HashAlgorithm::Md5),
        ("XCRC", HashAlgorithm::Crc32),
    ] {
        let r = ctl.expect(&format!("{verb} f.bin"), 250);
        assert_eq!(r.text(), digest_of(&old[..], alg).unwrap(), "{verb}");
    }
    // Written directly over S3: a new object without our tag.
    let new = test_bytes(70_000, 4);
    srv.seed("f.bin", &new);
    assert_eq!(sha256_tag(&srv, "f.bin"), None);
    let r = ctl.expect("HASH f.bin", 213);
    assert!(r.text().contains(&sha256(&new)), "{r}");
    // The digest computed for HASH is kept for the next one.
    assert_eq!(sha256_tag(&srv, "f.bin"), Some(sha256(&new)));
    // A range is hashed from the object, never answered from the tag.
    ctl.expect("OPTS HASH SHA-1", 200);
    ctl.expect("RANG 10 99", 350);
    let r = ctl.expect("HASH f.bin", 213);
    let range = digest_of(&new[10..100], HashAlgorithm::Sha1).unwrap();
    assert!(r.text().contains(&range), "{r}");
    ctl.expect("MKD d", 257);
    ctl.expect("HASH d", 550);
    ctl.expect("HASH missing.bin", 550);
    ctl.expect("HASH ../../outside", 550);
}

#[test]
fn site_cpfr_cpto_copies_on_the_s3_side_with_the_digest_tag() {
    let Some(srv) = S3Server::start("s3_site_copy", &[]) else {
        return;
    };
    let data = test_bytes(6 << 20, 5);
    let mut ctl = login(&srv);
    assert_eq!(ctl.upload("STOR a.bin", &data).code().as_u16(), 226);
    assert_eq!(
        ctl.upload("STOR b.bin", b"old contents").code().as_u16(),
        226
    );
    ctl.expect("SITE CPFR a.bin", 350);
    ctl.expect("SITE CPTO b.bin", 250);
    srv.assert_object("b.bin", &data);
    srv.assert_object("a.bin", &data);
    assert_eq!(sha256_tag(&srv, "b.bin"), Some(sha256(&data)));
    ctl.expect("MKD sub", 257);
    ctl.expect("SITE COPY a.bin sub/c.bin", 250);
    srv.assert_object("sub/c.bin", &data);
    ctl.expect("SITE CPFR sub", 550);
    ctl.expect("SITE COPY a.bin nodir/c.bin", 550);
    assert_eq!(srv.object("nodir/c.bin"), None);
    let r = ctl.expect("HASH sub/c.bin", 213);
    assert!(r.text().contains(&sha256(&data)), "{r}");
}
