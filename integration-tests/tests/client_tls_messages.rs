//! What the `ftp-client` binary says when TLS fails against our server (issue 22): an
//! unknown issuer names the certificate's SHA-256 and the flags that trust it, an expired
//! certificate its date, and implicit FTPS to a plain FTP port says so in words. The
//! message is the behaviour here, so the tests assert on it and on the exit code (5).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use integration_tests::{
    banner_fingerprint, bin_path, output_within, start_server_binary, ChildGuard, TestServer,
};

fn client(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    output_within(
        Command::new(bin_path("ftp-client"))
            .args(["--timeout", "10", "--retries", "0"])
            .args(args)
            .env("HOME", home.path())
            .stdin(Stdio::null()),
        Duration::from_secs(60),
    )
}

/// Starts `ftp-server` on `root` for `alice:secret` with the TLS flags `tls`.
fn start(root: &Path, tls: &[&str]) -> (ChildGuard, SocketAddr, Vec<String>) {
    let root = root.to_str().unwrap();
    let base = [
        "--listen",
        "127.0.0.1:0",
        "--root",
        root,
        "--user",
        "alice:secret",
    ];
    start_server_binary(&[&base[..], tls].concat(), None)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unknown_issuer_names_the_certificate_sha256_and_the_flags_that_trust_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, banner) = start(dir.path(), &["--tls-self-signed"]);
    let fp = banner_fingerprint(&banner);
    // A CA file that does not vouch for the server's certificate (another name, so
    // webpki finds no candidate issuer at all).
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Some Other CA");
    let other = params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let ca = dir.path().join("other-ca.pem");
    std::fs::write(&ca, other.pem()).unwrap();
    let url = format!("ftpes://alice:secret@{addr}/");

    let out = client(&["--ca-file", ca.to_str().unwrap(), "ls", &url]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let text = stderr(&out);
    assert!(text.contains("unknown issuer"), "{text}");
    assert!(
        text.contains(&format!("SHA-256 fingerprint is {fp}")),
        "{text}"
    );
    assert!(text.contains(&format!("--pin-sha256 {fp}")), "{text}");
    assert!(text.contains("--ca-file"), "{text}");

    // The suggestion works as printed.
    let out = client(&["--pin-sha256", &fp, "ls", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn expired_certificate_is_reported_with_its_date() {
    let dir = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 2) + Duration::from_secs(12 * 3600);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let tls = [
        "--tls-cert",
        cert_file.to_str().unwrap(),
        "--tls-key",
        key_file.to_str().unwrap(),
    ];
    let (_server, addr, _) = start(&root, &tls);
    let url = format!("ftpes://alice:secret@{addr}/");
    let out = client(&["--ca-file", cert_file.to_str().unwrap(), "ls", &url]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let text = stderr(&out);
    assert!(text.contains("expired on 2021-01-02 12:00 UTC"), "{text}");
    assert!(!text.contains("UNIX"), "{text}");
}

#[test]
fn implicit_tls_to_a_plain_ftp_port_says_so_in_words() {
    let server = TestServer::start();
    let port = server.addr.port();
    let want = "the server answered in plain text: it does not speak implicit FTPS on this \
                port; try ftpes:// or ftp:// with --tls";
    for args in [
        vec!["ls".to_string(), format!("ftps://127.0.0.1:{port}/")],
        vec![
            "--implicit-tls".to_string(),
            "ls".to_string(),
            format!("ftp://127.0.0.1:{port}/"),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = client(&args);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {out:?}");
        let text = stderr(&out);
        assert!(text.contains(want), "{args:?}: {text}");
        assert!(!text.contains("corrupt message"), "{text}");
    }
}
