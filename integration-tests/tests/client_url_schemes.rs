//! The `ftp-client` binary's URL schemes against our FTPS server (PROT P and session reuse
//! required): `ftps://` is implicit FTPS, `ftpes://` explicit FTPS, and `ftp://` follows
//! `--tls` / `--implicit-tls`; passwords from `~/.netrc` apply to every scheme; the shell's
//! `open` takes the same URLs.

use std::process::{Command, Output};
use std::time::Duration;

use integration_tests::{
    assert_file, bin_path, ftp_client_tls, output_within, test_bytes, TestServer, TlsServer,
};

fn client(t: &TlsServer, netrc: Option<&str>, args: &[&str], cwd: &std::path::Path) -> Output {
    ftp_client_tls(&t.ca_file, netrc, args, cwd)
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ftp-client failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn login() -> String {
    format!("{}:{}", TestServer::USER, TestServer::PASS)
}

#[test]
fn ftps_urls_are_implicit_ftps_and_ftpes_urls_explicit() {
    let t = TlsServer::strict();
    let data = test_bytes(200_000, 7);
    std::fs::write(t.server.path("down.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let implicit = format!("ftps://{}@127.0.0.1:{}/", login(), t.implicit.port());
    let explicit = format!("ftpes://{}@{}/", login(), t.server.addr);
    for (i, base) in [&implicit, &explicit].into_iter().enumerate() {
        assert!(ok(&client(&t, None, &["ls", base], local.path())).contains("down.bin"));
        let got = local.path().join(format!("got{i}.bin"));
        let url = format!("{base}down.bin");
        ok(&client(
            &t,
            None,
            &["get", "-o", got.to_str().unwrap(), &url],
            local.path(),
        ));
        assert_file(&got, &data);
        let url = format!("{base}up{i}.bin");
        ok(&client(
            &t,
            None,
            &["put", got.to_str().unwrap(), &url],
            local.path(),
        ));
        assert_file(&t.server.path(&format!("up{i}.bin")), &data);
    }
}

#[test]
fn ftps_url_to_an_explicit_port_and_plain_ftp_to_a_tls_login_fail_clearly() {
    let t = TlsServer::strict();
    let local = tempfile::tempdir().unwrap();
    // The explicit listener greets in plain text: no TLS handshake there, a TLS failure.
    let wrong = format!("ftps://{}@{}/", login(), t.server.addr);
    let out = client(&t, None, &["ls", &wrong], local.path());
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    // ftp:// without --tls: the server requires TLS for the login.
    let plain = format!("ftp://{}@{}/", login(), t.server.addr);
    let out = client(&t, None, &["ls", &plain], local.path());
    assert_eq!(out.status.code(), Some(4), "{out:?}");
}

#[test]
fn ftp_urls_follow_tls_and_implicit_tls_flags() {
    let t = TlsServer::strict();
    std::fs::write(t.server.path("f.txt"), b"x").unwrap();
    let local = tempfile::tempdir().unwrap();
    let explicit = format!("ftp://{}@{}/", login(), t.server.addr);
    let implicit = format!("ftp://{}@127.0.0.1:{}/", login(), t.implicit.port());
    let out = client(&t, None, &["--tls", "ls", &explicit], local.path());
    assert!(ok(&out).contains("f.txt"));
    let out = client(&t, None, &["--implicit-tls", "ls", &implicit], local.path());
    assert!(ok(&out).contains("f.txt"));
}

#[test]
fn netrc_passwords_apply_to_ftps_and_ftpes_urls() {
    let t = TlsServer::strict();
    std::fs::write(t.server.path("f.txt"), b"x").unwrap();
    let local = tempfile::tempdir().unwrap();
    let netrc = format!(
        "machine 127.0.0.1 login {} password {}\n",
        TestServer::USER,
        TestServer::PASS
    );
    for url in [
        format!("ftps://127.0.0.1:{}/", t.implicit.port()),
        format!("ftpes://{}/", t.server.addr),
        format!("FTPES://{}@{}/", TestServer::USER, t.server.addr),
    ] {
        let out = client(&t, Some(&netrc), &["ls", &url], local.path());
        assert!(ok(&out).contains("f.txt"), "{url}");
    }
}

#[test]
fn shell_open_takes_ftps_and_ftpes_urls() {
    let t = TlsServer::strict();
    std::fs::write(t.server.path("f.txt"), b"hello").unwrap();
    let local = tempfile::tempdir().unwrap();
    let script = format!(
        "open ftps://{login}@127.0.0.1:{}/\ncat f.txt\nclose\nopen ftpes://{login}@{}/\ncat f.txt\nbye\n",
        t.implicit.port(),
        t.server.addr,
        login = login(),
    );
    let script_file = local.path().join("script");
    std::fs::write(&script_file, &script).unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = output_within(
        Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" --timeout 10 --ca-file \"$1\" shell < \"$2\"")
            .arg(bin_path("ftp-client"))
            .arg(&t.ca_file)
            .arg(&script_file)
            .env("HOME", home.path()),
        Duration::from_secs(60),
    );
    assert_eq!(ok(&out).matches("hello").count(), 2, "{out:?}");
}
