//! lftp against our server: `mirror` (download a nested tree), `mirror -R` (upload it) and
//! `pget -n 4` (a segmented download over four parallel connections), byte for byte; and
//! both mirrors with four parallel connections over FTPS (GnuTLS) with reuse required.

use std::path::Path;
use std::process::Output;

use integration_tests::tree::assert_same_tree;
use integration_tests::{lftp_with, test_bytes, TestServer, TlsServer};

/// Runs an lftp script against `server` with a private HOME (no user rc files), no TLS, and
/// short network timeouts; `None` when lftp is missing.
fn lftp(test: &str, server: &TestServer, script: &str, cwd: &Path) -> Option<Output> {
    lftp_with(test, server.addr, "set ftp:ssl-allow no", script, cwd)
}

/// A nested tree: files of several sizes (empty, small, multi-megabyte), names with spaces,
/// an empty directory and four levels of depth.
fn make_tree(root: &Path) {
    let files: &[(&str, usize)] = &[
        ("top.txt", 12),
        ("empty.bin", 0),
        ("a/one.bin", 100_000),
        ("a/two words.txt", 33),
        ("a/b/three.bin", 1_500_000),
        ("a/b/c/d/deep.bin", 4097),
        ("x/y.bin", 65_536),
    ];
    for (i, (path, len)) in files.iter().enumerate() {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, test_bytes(*len, 100 + i as u64)).unwrap();
    }
    std::fs::create_dir_all(root.join("a/empty dir")).unwrap();
}

#[test]
fn lftp_mirror_downloads_a_nested_tree() {
    let server = TestServer::start();
    make_tree(&server.path("tree"));
    let local = tempfile::tempdir().unwrap();
    if lftp(
        "lftp_mirror_downloads_a_nested_tree",
        &server,
        "mirror tree copy",
        local.path(),
    )
    .is_none()
    {
        return;
    }
    assert_same_tree(&local.path().join("copy"), &server.path("tree"));
}

#[test]
fn lftp_mirror_reverse_uploads_a_nested_tree() {
    let server = TestServer::start();
    let local = tempfile::tempdir().unwrap();
    make_tree(&local.path().join("tree"));
    if lftp(
        "lftp_mirror_reverse_uploads_a_nested_tree",
        &server,
        "mirror -R tree uploaded",
        local.path(),
    )
    .is_none()
    {
        return;
    }
    assert_same_tree(&server.path("uploaded"), &local.path().join("tree"));
}

#[test]
fn lftp_mirror_reverse_is_idempotent() {
    let server = TestServer::start();
    let local = tempfile::tempdir().unwrap();
    make_tree(&local.path().join("tree"));
    // The second run compares sizes and dates (MDTM/MLSD) and must leave the copy intact.
    if lftp(
        "lftp_mirror_reverse_is_idempotent",
        &server,
        "mirror -R tree up; mirror -R tree up",
        local.path(),
    )
    .is_none()
    {
        return;
    }
    assert_same_tree(&server.path("up"), &local.path().join("tree"));
}

#[test]
fn lftp_pget_downloads_in_four_segments() {
    let server = TestServer::start();
    let data = test_bytes(4 * 1024 * 1024 + 7, 30);
    std::fs::write(server.path("big.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    // Whether lftp opens all four connections depends on timing (a fast loopback download can
    // finish first), so only the result is asserted.
    if lftp(
        "lftp_pget_downloads_in_four_segments",
        &server,
        "set pget:min-chunk-size 65536; pget -n 4 big.bin -o got.bin",
        local.path(),
    )
    .is_none()
    {
        return;
    }
    let got = std::fs::read(local.path().join("got.bin")).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "pget -n 4 result differs");
}

#[test]
fn lftp_mirror_works_over_ipv6() {
    let server = TestServer::start_v6();
    make_tree(&server.path("tree"));
    let local = tempfile::tempdir().unwrap();
    if lftp(
        "lftp_mirror_works_over_ipv6",
        &server,
        "mirror tree copy",
        local.path(),
    )
    .is_none()
    {
        return;
    }
    assert_same_tree(&local.path().join("copy"), &server.path("tree"));
}

#[test]
fn lftp_mirror_reverse_delete_removes_extra_remote_files() {
    let server = TestServer::start();
    let local = tempfile::tempdir().unwrap();
    make_tree(&local.path().join("tree"));
    std::fs::create_dir_all(server.path("up/stale dir/inner")).unwrap();
    std::fs::write(server.path("up/stale dir/inner/old.bin"), b"old").unwrap();
    std::fs::write(server.path("up/stale.txt"), b"stale").unwrap();
    // DELE and RMD of what the local tree lacks, STOR of the rest.
    if lftp(
        "lftp_mirror_reverse_delete_removes_extra_remote_files",
        &server,
        "mirror -R --delete tree up",
        local.path(),
    )
    .is_none()
    {
        return;
    }
    assert_same_tree(&server.path("up"), &local.path().join("tree"));
}

#[test]
fn lftp_mirror_parses_our_list_output_without_mlsd() {
    let server = TestServer::start();
    make_tree(&server.path("tree"));
    let local = tempfile::tempdir().unwrap();
    // With MLSD off lftp must understand our `ls -l` style LIST lines (types, sizes, names
    // with spaces) to recurse and to fetch every file.
    if lftp(
        "lftp_mirror_parses_our_list_output_without_mlsd",
        &server,
        "set ftp:use-mlsd off; mirror tree copy",
        local.path(),
    )
    .is_none()
    {
        return;
    }
    assert_same_tree(&local.path().join("copy"), &server.path("tree"));
}

#[test]
fn lftp_mirrors_both_ways_over_ftps_with_four_connections_and_reuse_required() {
    let test = "lftp_mirrors_both_ways_over_ftps_with_four_connections_and_reuse_required";
    let t = TlsServer::strict();
    let local = tempfile::tempdir().unwrap();
    make_tree(&local.path().join("tree"));
    let settings = format!(
        "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ssl:ca-file {}; \
         set ssl:check-hostname no",
        t.ca_file.display()
    );
    let script = "mirror -R --parallel=4 tree up; mirror --parallel=4 up down";
    if lftp_with(test, t.server.addr, &settings, script, local.path()).is_none() {
        return;
    }
    assert_same_tree(&t.server.path("up"), &local.path().join("tree"));
    assert_same_tree(&local.path().join("down"), &local.path().join("tree"));
}
