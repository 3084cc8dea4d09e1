//! The `ftp-server` and `ftp-client` binaries with FTPS: `--tls-self-signed` and its printed
//! fingerprint used as the client's `--pin-sha256`, `--insecure` with its warning, exit code
//! 5 for an unverifiable certificate, and a certificate reloaded on SIGHUP without dropping
//! the sessions already open.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use ftp_client::tls::{TlsMode, Verify};
use ftp_client::{Client, Options};
use ftp_server::tls::SelfSigned;
use integration_tests::{
    banner_fingerprint, bin_path, output_within, start_server_binary, with_timeout, ChildGuard,
};

const LIMIT: Duration = Duration::from_secs(30);

/// Starts `ftp-server` with `args`; returns it, its address and its banner lines.
fn start(args: &[&str]) -> (ChildGuard, SocketAddr, Vec<String>) {
    start_server_binary(args, None)
}

fn client(args: &[&str]) -> std::process::Output {
    output_within(
        Command::new(bin_path("ftp-client"))
            .args(["--timeout", "10", "--retries", "0"])
            .args(args)
            .stdin(Stdio::null()),
        LIMIT,
    )
}

#[test]
fn self_signed_fingerprint_pins_the_client_and_unverifiable_certificates_exit_5() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), b"hi").unwrap();
    let root = dir.path().to_str().unwrap();
    let (_server, addr, banner) = start(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        root,
        "--user",
        "alice:secret",
        "--tls-self-signed",
        "--require-tls-login",
        "--require-prot-p",
    ]);
    let fp = banner_fingerprint(&banner);
    let url = format!("ftpes://alice:secret@{addr}/");

    let out = client(&["--pin-sha256", &fp, "ls", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello.txt"));

    let out = client(&["--insecure", "ls", &url]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not verified"));

    // --tls on an ftp:// URL requires TLS as well.
    let plain_url = format!("ftp://alice:secret@{addr}/");
    let out = client(&["--tls", "--pin-sha256", &fp, "ls", &plain_url]);
    assert!(out.status.success());

    // Nobody vouches for a self-signed certificate: a TLS failure.
    let ca = SelfSigned::generate(&["127.0.0.1".into()]).unwrap();
    let ca_file = dir.path().join("other-ca.pem");
    std::fs::write(&ca_file, &ca.cert_pem).unwrap();
    let out = client(&["--ca-file", ca_file.to_str().unwrap(), "ls", &url]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let out = client(&["--pin-sha256", &"00".repeat(32), "ls", &url]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
}

fn opts(pin: [u8; 32]) -> Options {
    Options {
        tls: TlsMode::Explicit,
        verify: Verify::PinSha256(pin),
        connect_timeout: Duration::from_secs(10),
        reply_timeout: Duration::from_secs(10),
        data_timeout: Duration::from_secs(10),
        ..Options::default()
    }
}

#[test]
fn sighup_reloads_the_certificate_without_dropping_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let one = SelfSigned::generate(&["127.0.0.1".into()]).unwrap();
    std::fs::write(&cert, &one.cert_pem).unwrap();
    std::fs::write(&key, &one.key_pem).unwrap();
    let root = tempfile::tempdir().unwrap();
    let (server, addr, _) = start(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        root.path().to_str().unwrap(),
        "--user",
        "alice:secret",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let pin = |s: &SelfSigned| ftp_client::tls::cert_sha256(&s.cert_der);
    with_timeout(60, async {
        let mut old = Client::connect("127.0.0.1", addr.port(), opts(pin(&one)))
            .await
            .expect("connect with the first certificate");
        old.login("alice", "secret").await.unwrap();

        let two = SelfSigned::generate(&["127.0.0.1".into()]).unwrap();
        std::fs::write(&cert, &two.cert_pem).unwrap();
        std::fs::write(&key, &two.key_pem).unwrap();
        let pid = rustix::process::Pid::from_raw(server.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();

        // The reload is asynchronous: new connections see the new certificate soon.
        let mut reloaded = false;
        for _ in 0..100 {
            if Client::connect("127.0.0.1", addr.port(), opts(pin(&two)))
                .await
                .is_ok()
            {
                reloaded = true;
                break;
            }
            async_io::Timer::after(Duration::from_millis(50)).await;
        }
        assert!(reloaded, "the new certificate is served after SIGHUP");
        // The session opened before the reload goes on, data connections included.
        old.stor("after.txt", &b"still here"[..], 0).await.unwrap();
        assert_eq!(
            std::fs::read(root.path().join("after.txt")).unwrap(),
            b"still here"
        );
        old.quit().await.unwrap();
    });
}
