//! Third-party FTPS clients against our server (session reuse required, PROT P required):
//! curl with `--ssl-reqd` (explicit) and `ftps://` (implicit), repeated TLS 1.3 uploads
//! checked byte for byte, and Python's `ftplib.FTP_TLS`. Certificates are generated at test
//! time and given to the clients as their CA. (Stock `FTP_TLS` does not resume the control
//! session on data connections; the script adds that, as servers requiring reuse demand.)

use std::process::Command;
use std::time::Duration;

use integration_tests::{
    assert_file, curl_as_test_user, output_within, run_ok, test_bytes, TlsServer as Tls,
};

fn start() -> Tls {
    Tls::start(|tls| {
        tls.require_tls_login = true;
        tls.require_prot_p = true;
        tls.require_session_reuse = true;
    })
}

fn curl(test: &str, t: &Tls) -> Option<Command> {
    let mut cmd = curl_as_test_user(test)?;
    cmd.arg("--cacert").arg(&t.ca_file);
    Some(cmd)
}

/// Passive mode only: curl 7.88 hangs accepting an active-mode TLS data connection from any
/// server (its own bug); active mode over TLS is covered by ftplib and our client.
#[test]
fn curl_explicit_ftps_downloads_uploads_and_lists() {
    let test = "curl_explicit_ftps_downloads_uploads_and_lists";
    let t = start();
    let data = test_bytes(1_500_000, 3);
    std::fs::write(t.server.path("down.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let up = local.path().join("up.bin");
    std::fs::write(&up, &data).unwrap();
    let base = format!("ftp://127.0.0.1:{}/", t.server.addr.port());
    for (i, epsv) in [true, false].into_iter().enumerate() {
        let mode = if epsv { "--ftp-pasv" } else { "--disable-epsv" };
        let Some(mut c) = curl(test, &t) else { return };
        let out = local.path().join(format!("down{i}.bin"));
        run_ok(
            c.args(["--ssl-reqd", mode, "-o"])
                .arg(&out)
                .arg(format!("{base}down.bin")),
        );
        assert_file(&out, &data);

        let Some(mut c) = curl(test, &t) else { return };
        run_ok(
            c.args(["--ssl-reqd", mode, "-T"])
                .arg(&up)
                .arg(format!("{base}up{i}.bin")),
        );
        assert_file(&t.server.path(&format!("up{i}.bin")), &data);

        let Some(mut c) = curl(test, &t) else { return };
        let listing = run_ok(c.args(["--ssl-reqd", mode, "--list-only"]).arg(&base)).stdout;
        let text = String::from_utf8_lossy(&listing);
        assert!(text.lines().any(|l| l == "down.bin"), "{text}");
    }
}

#[test]
fn curl_without_tls_cannot_log_in() {
    let t = start();
    let Some(mut c) = curl("curl_without_tls_cannot_log_in", &t) else {
        return;
    };
    let out = output_within(
        c.arg(format!("ftp://127.0.0.1:{}/", t.server.addr.port())),
        Duration::from_secs(90),
    );
    assert!(!out.status.success(), "plain login must fail");
}

#[test]
fn curl_implicit_ftps_downloads_and_uploads() {
    let t = start();
    let data = test_bytes(700_000, 4);
    std::fs::write(t.server.path("f.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("f.bin");
    let base = format!("ftps://127.0.0.1:{}/", t.implicit.port());
    let Some(mut c) = curl("curl_implicit_ftps_downloads_and_uploads", &t) else {
        return;
    };
    run_ok(c.arg("-o").arg(&out).arg(format!("{base}f.bin")));
    assert_file(&out, &data);
    let Some(mut c) = curl("curl_implicit_ftps_downloads_and_uploads", &t) else {
        return;
    };
    run_ok(c.arg("-T").arg(&out).arg(format!("{base}g.bin")));
    assert_file(&t.server.path("g.bin"), &data);
}

/// vsftpd loses upload tails with curl over TLS 1.3 because it sends session tickets on data
/// connections that curl never reads; ours sends none on an upload's, so every upload
/// arrives whole.
#[test]
fn repeated_curl_tls13_uploads_arrive_byte_for_byte() {
    let test = "repeated_curl_tls13_uploads_arrive_byte_for_byte";
    let t = start();
    let local = tempfile::tempdir().unwrap();
    for i in 0..10u64 {
        let data = test_bytes(300_000 + i as usize * 7919, 100 + i);
        let src = local.path().join(format!("u{i}.bin"));
        std::fs::write(&src, &data).unwrap();
        let Some(mut c) = curl(test, &t) else { return };
        run_ok(
            c.args(["--ssl-reqd", "--tlsv1.3"])
                .arg("-T")
                .arg(&src)
                .arg(format!("ftp://127.0.0.1:{}/u{i}.bin", t.server.addr.port())),
        );
        assert_file(&t.server.path(&format!("u{i}.bin")), &data);
    }
}

/// curl (OpenSSL) uses a TLS 1.3 ticket once: every download's data connection hands it a
/// fresh one, so one invocation fetches many files over one control connection, each data
/// connection resumed (reuse is required).
#[test]
fn curl_fetches_many_files_over_one_tls13_session() {
    let test = "curl_fetches_many_files_over_one_tls13_session";
    let t = start();
    let files: Vec<Vec<u8>> = (0..12)
        .map(|i| test_bytes(4096 + i * 17, i as u64))
        .collect();
    for (i, data) in files.iter().enumerate() {
        std::fs::write(t.server.path(&format!("f{i}.bin")), data).unwrap();
    }
    let local = tempfile::tempdir().unwrap();
    let Some(mut c) = curl(test, &t) else { return };
    c.args(["--ssl-reqd", "--tlsv1.3", "--tls-max", "1.3"]);
    for i in 0..files.len() {
        c.arg("-o").arg(local.path().join(format!("f{i}.bin")));
        c.arg(format!("ftp://127.0.0.1:{}/f{i}.bin", t.server.addr.port()));
    }
    run_ok(&mut c);
    for (i, data) in files.iter().enumerate() {
        assert_file(&local.path().join(format!("f{i}.bin")), data);
    }
}

/// Runs after the harness's FTPS prelude (`TlsServer::run_ftplib`).
const FTPLIB_SCRIPT: &str = r#"
for passive in (True, False):
    f = ReusingFTP_TLS(context=ctx, timeout=30)
    f.connect(host, port)
    f.login(user, pw)
    f.prot_p()
    f.set_pasv(passive)
    data = bytes((i * 31 + i // 7) % 256 for i in range(500000))
    name = "py-%s.bin" % ("pasv" if passive else "port")
    f.storbinary("STOR " + name, io.BytesIO(data))
    out = io.BytesIO()
    f.retrbinary("RETR " + name, out.write)
    assert out.getvalue() == data, "download differs"
    assert name in f.nlst(), f.nlst()
    lines = []
    f.retrlines("LIST", lines.append)
    assert any(name in l for l in lines), lines
    f.quit()
try:
    f = ftplib.FTP(timeout=30)
    f.connect(host, port)
    f.login(user, pw)
    sys.exit("plain login was accepted")
except ftplib.error_perm as e:
    assert str(e).startswith("530"), e
print("ok")
"#;

#[test]
fn python_ftplib_ftp_tls_with_prot_p_round_trips_in_both_modes() {
    let test = "python_ftplib_ftp_tls_with_prot_p_round_trips_in_both_modes";
    let t = start();
    if !t.run_ftplib(test, FTPLIB_SCRIPT) {
        return;
    }
    let want: Vec<u8> = (0..500_000usize)
        .map(|i| ((i * 31 + i / 7) % 256) as u8)
        .collect();
    assert_file(&t.server.path("py-pasv.bin"), &want);
    assert_file(&t.server.path("py-port.bin"), &want);
}
