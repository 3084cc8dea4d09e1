//! `ftp-client doctor --json` against our server (plain, explicit and implicit FTPS) and the
//! interop peers (vsftpd, pure-ftpd, ProFTPD, pyftpdlib): each finding asserted as the server
//! really behaves. A peer that is not installed skips its test (fails it with
//! `FTP_INTEROP_REQUIRED=1`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use integration_tests::peers::{Peer, ProFtpd, PureFtpd, Pyftpdlib, Vsftpd};
use integration_tests::{bin_path, or_skip, output_within, Skip, TestServer, TlsServer};
use serde_json::Value;

/// Runs `ftp-client [flags] doctor --json URL` with `password`; returns the exit code and
/// the parsed report.
fn doctor(flags: &[&str], url: &str, password: &str) -> (i32, Value) {
    let home = tempfile::tempdir().unwrap();
    let out = output_within(
        Command::new(bin_path("ftp-client"))
            .args(["--timeout", "15", "--retries", "0"])
            .args(flags)
            .args(["doctor", "--json", url])
            .env("HOME", home.path())
            .env("FTP_PASSWORD", password)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null()),
        Duration::from_secs(180),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// The findings of a doctor run that succeeded; every step has a name and a time.
fn findings(flags: &[&str], url: &str, password: &str) -> Value {
    let (code, v) = doctor(flags, url, password);
    assert_eq!(code, 0, "{v:#}");
    for s in v["steps"].as_array().expect("steps") {
        assert!(s["name"].is_string() && s["ms"].is_u64(), "{s}");
    }
    v["findings"].clone()
}

fn has(f: &Value, feature: &str) -> bool {
    f["features"].as_array().unwrap().iter().any(|x| {
        x.as_str()
            .is_some_and(|s| s.split(' ').next() == Some(feature))
    })
}

/// What every server in the suite does: all four data modes on loopback, a Unix `LIST`,
/// `MDTM` to the second, `REST STREAM`, the probe file uploaded (and removed again), and no
/// clock skew worth the name (server and client share the machine's clock).
fn assert_common(name: &str, f: &Value, root: &Path) {
    for mode in ["epsv", "pasv", "eprt", "port"] {
        assert_eq!(f[mode], true, "{name}: {mode}: {f:#}");
    }
    assert_eq!(f["pasv_address"], "127.0.0.1", "{name}");
    assert_eq!(f["pasv_address_kind"], "loopback", "{name}");
    assert_eq!(f["pasv_address_is_control"], true, "{name}");
    assert_eq!(f["list_format"], "unix", "{name}: {f:#}");
    assert_eq!(f["rest_stream"], true, "{name}");
    assert_eq!(f["upload_allowed"], true, "{name}: {f:#}");
    assert_eq!(f["mdtm"], true, "{name}");
    let skew = f["clock_skew_secs"].as_i64().expect("clock skew");
    assert!(skew.abs() <= 2, "{name}: skew {skew}");
    let left: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("ftp-client-doctor"))
        .collect();
    assert!(left.is_empty(), "{name}: the probe file stayed: {left:?}");
}

#[test]
fn doctor_reports_what_our_plain_server_offers() {
    let server = TestServer::start();
    let url = format!("ftp://{}@{}/", TestServer::USER, server.addr);
    let f = findings(&[], &url, TestServer::PASS);
    assert_common("ours", &f, server.root.path());
    assert_eq!(f["mlsd"], true);
    assert_eq!(f["utf8"], true);
    assert_eq!(f["mdtm_precision"], "seconds");
    assert_eq!(
        (f["mfmt"].clone(), f["mfmt_precision"].clone()),
        (true.into(), "seconds".into())
    );
    assert_eq!(f["missing_features"], serde_json::json!([]), "{f:#}");
    assert_eq!(
        f["hash"],
        serde_json::json!(["SHA-256", "SHA-512", "SHA-1", "MD5", "CRC32"])
    );
    // No TLS configured: none offered, none probed.
    assert_eq!(f["auth_tls"], false);
    assert!(f["tls12"].is_null() && f["tls13"].is_null());
}

#[test]
fn doctor_probes_tls_versions_and_resumed_data_connections_on_our_server() {
    let server = TlsServer::strict();
    let ca = server.ca_file.to_str().unwrap().to_string();
    for url in [
        format!(
            "ftpes://{}@127.0.0.1:{}/",
            TestServer::USER,
            server.port(false)
        ),
        format!(
            "ftps://{}@127.0.0.1:{}/",
            TestServer::USER,
            server.port(true)
        ),
    ] {
        let f = findings(&["--ca-file", &ca], &url, TestServer::PASS);
        assert_common(&url, &f, server.server.root.path());
        assert_eq!(f["auth_tls"], true, "{url}");
        assert_eq!(f["tls12"], true, "{url}: {f:#}");
        assert_eq!(f["tls13"], true, "{url}: {f:#}");
        // The server requires session reuse: data connections work only resumed.
        assert_eq!(f["data_tls"], true, "{url}: {f:#}");
        assert_eq!(f["data_tls12"], true, "{url}");
        assert_eq!(f["data_tls_resumed"], true, "{url}");
    }
}

#[test]
fn doctor_fails_clearly_when_nothing_listens() {
    let url = format!("ftp://127.0.0.1:{}/", integration_tests::free_port());
    let (code, v) = doctor(&[], &url, "x");
    assert_eq!(code, 3, "{v:#}");
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (steps[0]["name"].clone(), steps[0]["ok"].clone()),
        ("connect".into(), false.into())
    );
}

/// A peer serving a tree of its own, and the doctor's findings about it.
struct Probed {
    peer: Peer,
    _root: tempfile::TempDir,
    f: Value,
}

/// Starts `start` on a tree of its own and runs the doctor against it.
fn peer_findings(test: &str, start: fn(&Path) -> Result<Peer, Skip>) -> Option<Probed> {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("readme.txt"), b"hello\n").unwrap();
    let peer = or_skip(start(root.path()), test)?;
    let url = format!("ftp://{}@{}/", peer.user, peer.addr);
    let (code, v) = doctor(&[], &url, &peer.pass);
    assert_eq!(code, 0, "{}: {v:#}\n{}", peer.name, peer.log());
    Some(Probed {
        peer,
        _root: root,
        f: v["findings"].clone(),
    })
}

#[test]
fn doctor_on_vsftpd_finds_no_mlsd_and_no_mfmt() {
    let Some(Probed { peer, f, _root }) =
        peer_findings("doctor_on_vsftpd_finds_no_mlsd_and_no_mfmt", Vsftpd::start)
    else {
        return;
    };
    assert_common("vsftpd", &f, &peer.root);
    assert_eq!(f["mlsd"], false, "{f:#}");
    assert!(!has(&f, "MLST"));
    assert_eq!(f["mfmt"], false, "{f:#}");
    assert_eq!(f["mdtm_precision"], "seconds");
    assert_eq!(f["auth_tls"], false);
    assert_eq!(f["hash"], serde_json::json!([]));
}

#[test]
fn doctor_on_pure_ftpd_finds_mlsd() {
    let Some(Probed { peer, f, _root }) =
        peer_findings("doctor_on_pure_ftpd_finds_mlsd", PureFtpd::start)
    else {
        return;
    };
    assert_common("pure-ftpd", &f, &peer.root);
    assert_eq!(f["mlsd"], true, "{f:#}");
    assert!(has(&f, "MLST"));
    assert_eq!(f["hash"], serde_json::json!([]));
}

#[test]
fn doctor_on_proftpd_finds_mlsd_and_mfmt() {
    let Some(Probed { peer, f, _root }) =
        peer_findings("doctor_on_proftpd_finds_mlsd_and_mfmt", ProFtpd::start)
    else {
        return;
    };
    assert_common("proftpd", &f, &peer.root);
    assert_eq!(f["mlsd"], true, "{f:#}");
    assert_eq!(f["mfmt"], true, "{f:#}");
    assert_eq!(f["mfmt_precision"], "seconds", "{f:#}");
}

#[test]
fn doctor_on_pyftpdlib_finds_mlsd_and_mfmt() {
    let Some(Probed { peer, f, _root }) =
        peer_findings("doctor_on_pyftpdlib_finds_mlsd_and_mfmt", Pyftpdlib::start)
    else {
        return;
    };
    assert_common("pyftpdlib", &f, &peer.root);
    assert_eq!(f["mlsd"], true, "{f:#}");
    // pyftpdlib's MFMT takes whole seconds only (the doctor retries without the fraction).
    assert_eq!(f["mfmt"], true, "{f:#}");
    assert_eq!(f["mfmt_precision"], "seconds", "{f:#}");
    assert_eq!(f["utf8"], true, "{f:#}");
    assert_eq!(f["hash"], serde_json::json!([]));
}

#[test]
fn doctor_sees_a_private_227_address_and_says_passive_still_works() {
    let server = TestServer::start_with(|cfg| cfg.public_address = Some("10.1.2.3".into()));
    let url = format!("ftp://{}@{}/", TestServer::USER, server.addr);
    let (code, v) = doctor(&[], &url, TestServer::PASS);
    assert_eq!(code, 0, "{v:#}");
    let f = &v["findings"];
    assert_eq!(f["pasv_address"], "10.1.2.3", "{f:#}");
    assert_eq!(f["pasv_address_kind"], "private");
    assert_eq!(f["pasv_address_is_control"], false);
    // The client connects to the control address anyway: PASV works.
    assert_eq!(f["pasv"], true, "{f:#}");
    let advice = v["advice"].to_string();
    assert!(
        advice.contains("10.1.2.3") && advice.contains("--trust-pasv-address"),
        "{advice}"
    );
}

/// ProFTPD offering TLS 1.2 and 1.3 with session reuse required: both versions log in, and
/// the doctor's three data connections in a row resume the session with either.
#[test]
fn doctor_on_proftpd_offering_tls13_finds_resumed_tls_data_connections() {
    let test = "doctor_on_proftpd_offering_tls13_finds_resumed_tls_data_connections";
    let certs = integration_tests::CertFiles::new();
    let root = tempfile::tempdir().unwrap();
    let start =
        ProFtpd::start_tls_protocol(root.path(), &certs.cert, &certs.key, "TLSv1.2 TLSv1.3");
    let Some(peer) = or_skip(start, test) else {
        return;
    };
    let url = format!("ftpes://{}@{}/", peer.user, peer.addr);
    let ca = certs.cert.to_str().unwrap().to_string();
    let (code, v) = doctor(&["--ca-file", &ca], &url, &peer.pass);
    assert_eq!(code, 0, "{v:#}\n{}", peer.log());
    let f = &v["findings"];
    assert_eq!(
        (f["tls12"].clone(), f["tls13"].clone()),
        (true.into(), true.into()),
        "{f:#}"
    );
    assert_eq!(f["auth_tls"], true);
    assert_eq!(f["data_tls12"], true, "{v:#}");
    assert_eq!(f["data_tls"], true, "{v:#}");
    assert_eq!(f["data_tls_resumed"], true, "{v:#}");
    assert_eq!(f["mlsd"], true);
}
