//! curl against our server: downloads, uploads, listings, resume, active mode, PASV-only,
//! directory creation and IPv6, each checked byte for byte on disk.

use std::process::Command;
use std::time::Duration;

use integration_tests::{
    assert_file, curl_as_test_user, or_skip, output_within, run_ok, test_bytes, tool, TestServer,
};

#[test]
fn curl_downloads_a_binary_file_byte_for_byte() {
    let Some(mut curl) = curl_as_test_user("curl_downloads_a_binary_file_byte_for_byte") else {
        return;
    };
    let server = TestServer::start();
    let data = test_bytes(3 * 1024 * 1024 + 17, 1);
    std::fs::write(server.path("big.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("big.bin");
    run_ok(
        curl.arg("-o")
            .arg(&out)
            .arg(format!("{}big.bin", server.url())),
    );
    assert_file(&out, &data);
}

#[test]
fn curl_uploads_a_binary_file_byte_for_byte() {
    let Some(mut curl) = curl_as_test_user("curl_uploads_a_binary_file_byte_for_byte") else {
        return;
    };
    let server = TestServer::start();
    let data = test_bytes(2 * 1024 * 1024 + 5, 2);
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), &data).unwrap();
    run_ok(
        curl.arg("-T")
            .arg(local.path())
            .arg(format!("{}up.bin", server.url())),
    );
    assert_file(&server.path("up.bin"), &data);
}

#[test]
fn curl_overwrites_an_existing_file_on_upload() {
    let Some(mut curl) = curl_as_test_user("curl_overwrites_an_existing_file_on_upload") else {
        return;
    };
    let server = TestServer::start();
    std::fs::write(
        server.path("f.txt"),
        b"old contents that are longer than the new ones",
    )
    .unwrap();
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), b"new").unwrap();
    run_ok(
        curl.arg("-T")
            .arg(local.path())
            .arg(format!("{}f.txt", server.url())),
    );
    assert_file(&server.path("f.txt"), b"new");
}

#[test]
fn curl_lists_a_directory_with_list_and_nlst() {
    let Some(mut curl) = curl_as_test_user("curl_lists_a_directory_with_list_and_nlst") else {
        return;
    };
    let server = TestServer::start();
    std::fs::write(server.path("alpha.txt"), b"12345").unwrap();
    std::fs::write(server.path("with space.txt"), b"").unwrap();
    std::fs::create_dir(server.path("subdir")).unwrap();
    std::fs::write(server.path("subdir/inner.txt"), b"x").unwrap();

    let names = run_ok(curl.arg("--list-only").arg(server.url())).stdout;
    let names = String::from_utf8(names).expect("NLST output is UTF-8");
    let mut names: Vec<&str> = names.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["alpha.txt", "subdir", "with space.txt"]);

    let mut curl = curl_as_test_user("curl_lists_a_directory_with_list_and_nlst").unwrap();
    let long = run_ok(curl.arg(server.url())).stdout;
    let long = String::from_utf8(long).expect("LIST output is UTF-8");
    let lines: Vec<&str> = long.lines().collect();
    assert_eq!(lines.len(), 3, "LIST output:\n{long}");
    let alpha = lines
        .iter()
        .find(|l| l.ends_with(" alpha.txt"))
        .unwrap_or_else(|| panic!("no alpha.txt in LIST:\n{long}"));
    assert!(alpha.starts_with('-'), "{alpha}");
    assert!(
        alpha.split_whitespace().any(|w| w == "5"),
        "size 5 in {alpha}"
    );
    let subdir = lines
        .iter()
        .find(|l| l.ends_with(" subdir"))
        .unwrap_or_else(|| panic!("no subdir in LIST:\n{long}"));
    assert!(subdir.starts_with('d'), "{subdir}");
    assert!(
        lines.iter().any(|l| l.ends_with(" with space.txt")),
        "{long}"
    );

    let mut curl = curl_as_test_user("curl_lists_a_directory_with_list_and_nlst").unwrap();
    let inner = run_ok(
        curl.arg("--list-only")
            .arg(format!("{}subdir/", server.url())),
    )
    .stdout;
    let inner = String::from_utf8(inner).unwrap();
    assert_eq!(inner.lines().collect::<Vec<_>>(), ["inner.txt"]);
}

#[test]
fn curl_resumes_a_download_with_continue_at() {
    let Some(mut curl) = curl_as_test_user("curl_resumes_a_download_with_continue_at") else {
        return;
    };
    let server = TestServer::start();
    let data = test_bytes(1024 * 1024 + 3, 3);
    std::fs::write(server.path("resume.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("resume.bin");
    std::fs::write(&out, &data[..400_000]).unwrap();
    run_ok(
        curl.args(["-C", "-", "-o"])
            .arg(&out)
            .arg(format!("{}resume.bin", server.url())),
    );
    assert_file(&out, &data);
}

#[test]
fn curl_resumes_an_upload_with_continue_at() {
    let Some(mut curl) = curl_as_test_user("curl_resumes_an_upload_with_continue_at") else {
        return;
    };
    let server = TestServer::start();
    let data = test_bytes(1024 * 1024 + 11, 4);
    std::fs::write(server.path("partial.bin"), &data[..300_001]).unwrap();
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), &data).unwrap();
    run_ok(
        curl.args(["-C", "-", "-T"])
            .arg(local.path())
            .arg(format!("{}partial.bin", server.url())),
    );
    assert_file(&server.path("partial.bin"), &data);
}

#[test]
fn curl_transfers_in_active_mode_with_ftp_port() {
    let Some(mut curl) = curl_as_test_user("curl_transfers_in_active_mode_with_ftp_port") else {
        return;
    };
    let server = TestServer::start();
    let data = test_bytes(512 * 1024 + 1, 5);
    std::fs::write(server.path("active.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("active.bin");
    run_ok(
        curl.args(["--ftp-port", "127.0.0.1", "-o"])
            .arg(&out)
            .arg(format!("{}active.bin", server.url())),
    );
    assert_file(&out, &data);

    let up = test_bytes(700_000, 6);
    let src = local.path().join("up.bin");
    std::fs::write(&src, &up).unwrap();
    let mut curl = curl_as_test_user("curl_transfers_in_active_mode_with_ftp_port").unwrap();
    run_ok(
        curl.args(["--ftp-port", "127.0.0.1", "-T"])
            .arg(&src)
            .arg(format!("{}active-up.bin", server.url())),
    );
    assert_file(&server.path("active-up.bin"), &up);

    let mut curl = curl_as_test_user("curl_transfers_in_active_mode_with_ftp_port").unwrap();
    let names = run_ok(
        curl.args(["--ftp-port", "127.0.0.1", "--list-only"])
            .arg(server.url()),
    )
    .stdout;
    let names = String::from_utf8(names).unwrap();
    let mut names: Vec<&str> = names.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["active-up.bin", "active.bin"]);
}

#[test]
fn curl_transfers_with_pasv_when_epsv_is_disabled() {
    let Some(mut curl) = curl_as_test_user("curl_transfers_with_pasv_when_epsv_is_disabled") else {
        return;
    };
    let server = TestServer::start();
    let data = test_bytes(800_000, 7);
    std::fs::write(server.path("pasv.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("pasv.bin");
    run_ok(
        curl.args(["--disable-epsv", "-o"])
            .arg(&out)
            .arg(format!("{}pasv.bin", server.url())),
    );
    assert_file(&out, &data);

    let mut curl = curl_as_test_user("curl_transfers_with_pasv_when_epsv_is_disabled").unwrap();
    run_ok(
        curl.args(["--disable-epsv", "-T"])
            .arg(&out)
            .arg(format!("{}pasv-up.bin", server.url())),
    );
    assert_file(&server.path("pasv-up.bin"), &data);
}

#[test]
fn curl_creates_missing_directories_on_upload() {
    let Some(mut curl) = curl_as_test_user("curl_creates_missing_directories_on_upload") else {
        return;
    };
    let server = TestServer::start();
    let data = test_bytes(10_000, 8);
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), &data).unwrap();
    run_ok(
        curl.args(["--ftp-create-dirs", "-T"])
            .arg(local.path())
            .arg(format!("{}a/b/c/deep.bin", server.url())),
    );
    assert!(server.path("a/b/c").is_dir());
    assert_file(&server.path("a/b/c/deep.bin"), &data);
}

#[test]
fn curl_downloads_from_a_nested_directory() {
    let Some(mut curl) = curl_as_test_user("curl_downloads_from_a_nested_directory") else {
        return;
    };
    let server = TestServer::start();
    std::fs::create_dir_all(server.path("x/y")).unwrap();
    let data = test_bytes(65_537, 9);
    std::fs::write(server.path("x/y/z.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("z.bin");
    // Default method (multicwd): CWD x, CWD y, RETR z.bin.
    run_ok(
        curl.arg("-o")
            .arg(&out)
            .arg(format!("{}x/y/z.bin", server.url())),
    );
    assert_file(&out, &data);
    // --ftp-method nocwd: RETR x/y/z.bin.
    let out2 = local.path().join("z2.bin");
    let mut curl = curl_as_test_user("curl_downloads_from_a_nested_directory").unwrap();
    run_ok(
        curl.args(["--ftp-method", "nocwd", "-o"])
            .arg(&out2)
            .arg(format!("{}x/y/z.bin", server.url())),
    );
    assert_file(&out2, &data);
}

#[test]
fn curl_deletes_and_renames_with_quote_commands() {
    let Some(mut curl) = curl_as_test_user("curl_deletes_and_renames_with_quote_commands") else {
        return;
    };
    let server = TestServer::start();
    std::fs::write(server.path("gone.txt"), b"bye").unwrap();
    std::fs::write(server.path("old.txt"), b"keep me").unwrap();
    run_ok(
        curl.args([
            "-Q",
            "DELE gone.txt",
            "-Q",
            "RNFR old.txt",
            "-Q",
            "RNTO new.txt",
        ])
        .arg("--list-only")
        .arg(server.url()),
    );
    assert!(!server.path("gone.txt").exists());
    assert!(!server.path("old.txt").exists());
    assert_file(&server.path("new.txt"), b"keep me");
}

#[test]
fn curl_reports_a_missing_file_as_an_error() {
    let Some(mut curl) = curl_as_test_user("curl_reports_a_missing_file_as_an_error") else {
        return;
    };
    let server = TestServer::start();
    let local = tempfile::tempdir().unwrap();
    let out = output_within(
        curl.arg("-o")
            .arg(local.path().join("nothing"))
            .arg(format!("{}does-not-exist.txt", server.url())),
        Duration::from_secs(90),
    );
    // CURLE_REMOTE_FILE_NOT_FOUND: the server answered RETR (or SIZE) with 550.
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn curl_transfers_over_ipv6() {
    let Some(mut curl) = curl_as_test_user("curl_transfers_over_ipv6") else {
        return;
    };
    let server = TestServer::start_v6();
    let data = test_bytes(300_000, 10);
    std::fs::write(server.path("six.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("six.bin");
    run_ok(
        curl.arg("-g")
            .arg("-o")
            .arg(&out)
            .arg(format!("{}six.bin", server.url())),
    );
    assert_file(&out, &data);

    let mut curl = curl_as_test_user("curl_transfers_over_ipv6").unwrap();
    run_ok(
        curl.args(["-g", "--ftp-port", "::1", "-T"])
            .arg(&out)
            .arg(format!("{}six-up.bin", server.url())),
    );
    assert_file(&server.path("six-up.bin"), &data);
}

#[test]
fn curl_downloads_anonymously_but_cannot_upload() {
    let Some(curl) = or_skip(tool("curl"), "curl_downloads_anonymously_but_cannot_upload") else {
        return;
    };
    let anon_root = tempfile::tempdir().unwrap();
    let data = test_bytes(50_000, 11);
    std::fs::write(anon_root.path().join("pub.bin"), &data).unwrap();
    let anon = anon_root.path().to_path_buf();
    let server = TestServer::start_with(move |cfg| cfg.anonymous = Some(anon));
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("pub.bin");
    // No --user: curl logs in as anonymous.
    run_ok(
        Command::new(&curl)
            .args(["--silent", "--show-error", "--max-time", "60", "-o"])
            .arg(&out)
            .arg(format!("{}pub.bin", server.url())),
    );
    assert_file(&out, &data);

    let refused = output_within(
        Command::new(&curl)
            .args(["--silent", "--show-error", "--max-time", "60", "-T"])
            .arg(&out)
            .arg(format!("{}uploaded.bin", server.url())),
        Duration::from_secs(90),
    );
    // CURLE_UPLOAD_FAILED: the server refused STOR.
    assert_eq!(
        refused.status.code(),
        Some(25),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!anon_root.path().join("uploaded.bin").exists());
}
