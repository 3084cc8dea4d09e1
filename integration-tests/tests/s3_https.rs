//! S3 over HTTPS and the start-up checks (issue 15): our real server on the Ceph gateway's
//! HTTPS endpoint (`cargo xtask ceph start` gives it a self-signed certificate) works when
//! `--s3-ca-file` trusts that certificate; without it, or with a missing bucket or a wrong
//! secret, the server refuses to start with one clear line and a non-zero exit.

#[path = "../../ftp-server/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::Ctl;
use integration_tests::s3::S3;
use integration_tests::{or_skip, test_bytes, TestServer};

/// The same cluster, but the server talks to its HTTPS endpoint.
fn over_https(s3: &S3) -> S3 {
    S3 {
        endpoint: s3.https_endpoint.clone(),
        ..s3.clone()
    }
}

#[test]
fn an_https_endpoint_verified_by_the_ca_file_stores_and_serves_files() {
    let test = "s3_https_endpoint";
    let Some(s3) = or_skip(S3::from_env(), test) else {
        return;
    };
    let scratch = s3.scratch(test);
    let ca = s3.ca_file.to_str().expect("a UTF-8 CA path").to_string();
    let (_server, addr) = over_https(&s3).server(&scratch.prefix, &["--s3-ca-file", &ca]);
    let data = test_bytes(3 << 20, 6);
    let mut ctl = Ctl::connect(addr);
    ctl.stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    ctl.login(TestServer::USER, TestServer::PASS);
    ctl.expect("TYPE I", 200);
    assert_eq!(ctl.upload("STOR f.bin", &data).code().as_u16(), 226);
    let (back, r) = ctl.download("RETR f.bin");
    assert_eq!(r.code().as_u16(), 226, "{r}");
    assert!(back == data, "RETR over HTTPS S3 differs");
    // Read back over the plain endpoint, not through the server.
    let got = s3
        .get(&scratch.key("f.bin"))
        .expect("the object is in the bucket");
    assert!(got == data, "the object differs");
}

#[test]
fn the_server_refuses_to_start_on_an_untrusted_certificate_a_missing_bucket_or_a_wrong_secret() {
    let test = "s3_refuses_to_start";
    let Some(s3) = or_skip(S3::from_env(), test) else {
        return;
    };
    let scratch = s3.scratch(test);
    let untrusted = over_https(&s3).refusal(&scratch.prefix, &[]);
    assert!(untrusted.contains("certificate"), "{untrusted}");
    let no_bucket = S3 {
        bucket: "no-such-bucket-for-ftp-tests".into(),
        ..s3.clone()
    };
    let missing = no_bucket.refusal(&scratch.prefix, &[]);
    assert!(missing.contains("does not exist"), "{missing}");
    let wrong_secret = S3 {
        secret_key: "not-the-secret".into(),
        ..s3.clone()
    };
    let denied = wrong_secret.refusal(&scratch.prefix, &[]);
    assert!(denied.contains("credentials refused"), "{denied}");
    assert!(
        !denied.contains("not-the-secret"),
        "the secret is shown: {denied}"
    );
}
