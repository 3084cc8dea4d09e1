//! Third-party clients clearing the control channel (`CCC`, RFC 4217) on our server with
//! `allow_ccc` on: Python's `ftplib.FTP_TLS.ccc()` (which sends `CCC` and unwraps the socket
//! with a `close_notify` exchange) and curl's `--ftp-ssl-ccc`; plain-text commands follow on
//! the same TCP connection while `PROT P` data connections stay TLS. Certificates are
//! generated at test time.

use integration_tests::{assert_file, curl_as_test_user, run_ok, test_bytes, TlsServer as Tls};

/// TLS required for login, PROT P required, session reuse required, CCC allowed.
fn start() -> Tls {
    Tls::start(|tls| {
        tls.require_tls_login = true;
        tls.require_prot_p = true;
        tls.require_session_reuse = true;
        tls.allow_ccc = true;
    })
}

/// Runs after the harness's FTPS prelude (`TlsServer::run_ftplib`).
const FTPLIB_CCC_SCRIPT: &str = r#"
f = ReusingFTP_TLS(context=ctx, timeout=30)
f.connect(host, port)
f.login(user, pw)
f.prot_p()
data = bytes((i * 7 + i // 13) % 256 for i in range(200000))
f.storbinary("STOR before.bin", io.BytesIO(data))
f.saved = f.sock.session
resp = f.ccc()
assert resp.startswith("200"), resp
assert not isinstance(f.sock, ssl.SSLSocket) or f.sock._sslobj is None, "still TLS"
assert f.pwd() == "/", f.pwd()
f.storbinary("STOR after.bin", io.BytesIO(data))
names = f.nlst()
assert "before.bin" in names and "after.bin" in names, names
out = io.BytesIO()
f.retrbinary("RETR before.bin", out.write)
assert out.getvalue() == data, "download differs"
f.quit()
print("ok")
"#;

#[test]
fn python_ftplib_ccc_then_plain_commands_and_prot_p_transfers() {
    let test = "python_ftplib_ccc_then_plain_commands_and_prot_p_transfers";
    let t = start();
    if !t.run_ftplib(test, FTPLIB_CCC_SCRIPT) {
        return;
    }
    let want: Vec<u8> = (0..200_000usize)
        .map(|i| ((i * 7 + i / 13) % 256) as u8)
        .collect();
    assert_file(&t.server.path("before.bin"), &want);
    assert_file(&t.server.path("after.bin"), &want);
}

/// Explicit FTPS, then `CCC` after login (curl waits for our `close_notify`).
const CURL_CCC: [&str; 4] = [
    "--ssl-reqd",
    "--ftp-ssl-ccc",
    "--ftp-ssl-ccc-mode",
    "active",
];

#[test]
fn curl_ftp_ssl_ccc_uploads_and_downloads() {
    let test = "curl_ftp_ssl_ccc_uploads_and_downloads";
    let Some(curl) = curl_as_test_user(test) else {
        return;
    };
    let t = start();
    let data = test_bytes(300_000, 5);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let url = format!("ftp://127.0.0.1:{}/c.bin", t.server.addr.port());
    let mut up = curl;
    up.arg("--cacert")
        .arg(&t.ca_file)
        .args(CURL_CCC)
        .arg("-T")
        .arg(&src)
        .arg(&url);
    run_ok(&mut up);
    assert_file(&t.server.path("c.bin"), &data);
    let Some(mut down) = curl_as_test_user(test) else {
        return;
    };
    let dst = dir.path().join("dst.bin");
    down.arg("--cacert")
        .arg(&t.ca_file)
        .args(CURL_CCC)
        .arg("-o")
        .arg(&dst)
        .arg(&url);
    run_ok(&mut down);
    assert_file(&dst, &data);
}
