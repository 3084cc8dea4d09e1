//! The admin API against a real client: an upload started by curl shows in
//! `GET /api/v1/sessions` with its peer and user, and `DELETE /api/v1/sessions/{id}` ends it
//! without leaving the partial file.

#[path = "../../ftp-server/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use integration_tests::{curl_as_test_user, ChildGuard, TestServer};

const TOKEN: &str = "operations-token";

#[test]
fn a_curl_upload_is_listed_and_kicked_and_leaves_no_partial_file() {
    let Some(mut curl) = curl_as_test_user("a_curl_upload_is_listed_and_kicked") else {
        return;
    };
    let etc = tempfile::tempdir().unwrap();
    std::fs::write(etc.path().join("token"), TOKEN).unwrap();
    let server = TestServer::start_with(|c| {
        c.admin_listen = Some("127.0.0.1:0".parse().unwrap());
        c.admin_token_file = Some(etc.path().join("token"));
    });
    let admin = server.admin.unwrap();
    curl.arg("-T")
        .arg("-")
        .arg(format!("{}partial.bin", server.url()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = ChildGuard::spawn(&mut curl).expect("start curl");
    let mut stdin = child.child_mut().stdin.take().unwrap();
    stdin.write_all(&[5u8; 60_000]).unwrap();
    let mut session = None;
    common::eventually("curl's upload is listed", || {
        let (status, body) = common::http(admin, "GET", "/api/v1/sessions", Some(TOKEN));
        assert_eq!(status, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        session = list
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["transfer"]["bytes"].as_u64().is_some_and(|b| b > 0))
            .cloned();
        session.is_some()
    });
    let s = session.unwrap();
    assert_eq!(s["user"], TestServer::USER);
    assert!(s["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{s}");
    assert_eq!(s["transfer"]["verb"], "STOR");
    let path = format!("/api/v1/sessions/{}", s["id"]);
    assert_eq!(common::http(admin, "DELETE", &path, Some(TOKEN)).0, 200);
    // curl waits for its input; once that ends, it sees the 421 (or the closed connection)
    // and fails, its upload unfinished.
    drop(stdin);
    let status = child
        .wait_timeout(Duration::from_secs(20))
        .unwrap()
        .expect("curl ended after the kick");
    assert!(!status.success());
    assert!(!server.path("partial.bin").exists());
    assert_eq!(common::dir_names(server.root.path()), Vec::<String>::new());
}

#[test]
fn tls_handshakes_and_data_resumptions_are_counted() {
    use ftp_client::tls::{TlsMode, Verify};
    use ftp_client::{Client, Options};
    use ftp_server::tls::{ReloadableCert, SelfSigned, TlsConfig};
    let cert = SelfSigned::generate(&["127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &cert.cert_pem).unwrap();
    let tls = TlsConfig::new(ReloadableCert::fixed(cert.certified_key().unwrap()));
    let server = TestServer::start_with(|c| {
        c.tls = Some(tls);
        c.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    std::fs::write(server.path("a.txt"), b"hello").unwrap();
    let opts = Options {
        tls: TlsMode::Explicit,
        verify: Verify::CaFile(ca_file),
        connect_timeout: Duration::from_secs(10),
        reply_timeout: Duration::from_secs(10),
        data_timeout: Duration::from_secs(10),
        ..Options::default()
    };
    integration_tests::with_timeout(30, async {
        let mut c = Client::connect("127.0.0.1", server.addr.port(), opts)
            .await
            .unwrap();
        c.login(TestServer::USER, TestServer::PASS).await.unwrap();
        let names = c.nlst(None).await.unwrap();
        assert_eq!(names, [b"a.txt".to_vec()]);
        c.quit().await.unwrap();
    });
    let (status, text) = common::http(server.admin.unwrap(), "GET", "/metrics", None);
    assert_eq!(status, 200);
    assert_eq!(
        common::metric(&text, "ftp_tls_handshakes_total{result=\"ok\"}"),
        2.0,
        "{text}"
    );
    let resumed = "ftp_tls_data_resumptions_total{result=\"resumed\"}";
    assert_eq!(common::metric(&text, resumed), 1.0, "{text}");
}
