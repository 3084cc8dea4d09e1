//! Our `ftp-client` binary over FTPS with parallel connections: `mirror -P 4 --tls` up and
//! down against our own server (session reuse required), vsftpd (`require_ssl_reuse=YES`)
//! and ProFTPD (mod_tls, which requires reuse by default; over TLS 1.2, see
//! [`ProFtpd::start_tls`] for why not 1.3; one-shot `ls`, `put` and `get` run over TLS 1.3);
//! and `ftps://` URLs (implicit FTPS)
//! listing, downloading, uploading and mirroring against vsftpd with `implicit_ssl=YES` and
//! pyftpdlib behind an implicit wrapper. Every tree is checked on disk. (Debian's pure-ftpd
//! is built without implicit TLS.)

use std::path::Path;
use std::process::Output;

use integration_tests::peers::{Peer, ProFtpd, Pyftpdlib, Vsftpd};
use integration_tests::tree::{assert_same_tree, make_files};
use integration_tests::{assert_file, ftp_client_tls, or_skip, test_bytes, CertFiles, Skip};
use integration_tests::{TestServer, TlsServer};

#[track_caller]
fn ok(out: Output, log: impl FnOnce() -> String) -> String {
    assert!(
        out.status.success(),
        "ftp-client failed ({}): {}\n--- server log ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        log()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `mirror -P 4` of a 40-file tree from `local/src` to `{base}dst`, then back into
/// `local/back`; `remote_root` is where `{base}` lands on disk.
fn mirror_both_ways(
    ca: &Path,
    flags: &[&str],
    base: &str,
    remote_root: &Path,
    log: &dyn Fn() -> String,
) {
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    make_files(&src, 40);
    let dst = format!("{base}dst");
    let up = [flags, &["mirror", "-P", "4", "src", &dst]].concat();
    ok(ftp_client_tls(ca, None, &up, local.path()), log);
    assert_same_tree(&remote_root.join("dst"), &src);
    let down = [flags, &["mirror", "-P", "4", &dst, "back"]].concat();
    ok(ftp_client_tls(ca, None, &down, local.path()), log);
    assert_same_tree(&local.path().join("back"), &src);
}

#[test]
fn mirror_p4_over_ftps_to_our_server_with_reuse_required() {
    let t = TlsServer::strict();
    let base = format!(
        "ftp://{}:{}@{}/",
        TestServer::USER,
        TestServer::PASS,
        t.server.addr
    );
    let root = t.server.root.path().to_path_buf();
    mirror_both_ways(&t.ca_file, &["--tls"], &base, &root, &String::new);
}

/// A peer started with the certificate files, or the reason it can't be.
fn peer_mirror(
    test: &str,
    flags: &[&str],
    start: impl FnOnce(&Path, &CertFiles) -> Result<Peer, Skip>,
) {
    let certs = CertFiles::new();
    let root = tempfile::tempdir().unwrap();
    let Some(peer) = or_skip(start(root.path(), &certs), test) else {
        return;
    };
    let base = format!("ftp://{}:{}@{}/", peer.user, peer.pass, peer.addr);
    mirror_both_ways(&certs.cert, flags, &base, &peer.root, &|| peer.log());
}

#[test]
fn mirror_p4_over_ftps_to_vsftpd_requiring_ssl_reuse() {
    peer_mirror(
        "mirror_p4_over_ftps_to_vsftpd_requiring_ssl_reuse",
        &["--tls"],
        |r, c| Vsftpd::start_tls(r, &c.cert, &c.key),
    );
}

#[test]
fn mirror_p4_over_ftps_to_proftpd_mod_tls() {
    peer_mirror(
        "mirror_p4_over_ftps_to_proftpd_mod_tls",
        &["--tls"],
        |r, c| ProFtpd::start_tls(r, &c.cert, &c.key),
    );
}

/// ProFTPD offering TLS 1.2 and 1.3, as its default configuration does: `mirror -P 4` works
/// with `--tls-max-version 1.2` (TLS 1.2 sessions resume any number of times; see
/// [`ProFtpd::start_tls`] for why TLS 1.3 runs out of tickets).
#[test]
fn mirror_p4_to_proftpd_offering_tls13_works_with_tls_max_version_1_2() {
    peer_mirror(
        "mirror_p4_to_proftpd_offering_tls13_works_with_tls_max_version_1_2",
        &["--tls", "--tls-max-version", "1.2"],
        |r, c| ProFtpd::start_tls_protocol(r, &c.cert, &c.key, "TLSv1.2 TLSv1.3"),
    );
}

/// ProFTPD over TLS 1.3: one-shot `ls`, `put` and `get` (one data connection per control
/// connection, which resumes with one of the two tickets mod_tls issues; see
/// [`ProFtpd::start_tls`] for why `mirror -P 4` stays on TLS 1.2).
#[test]
fn ls_put_and_get_over_tls13_to_proftpd_mod_tls() {
    let test = "ls_put_and_get_over_tls13_to_proftpd_mod_tls";
    let certs = CertFiles::new();
    let root = tempfile::tempdir().unwrap();
    let start = ProFtpd::start_tls_protocol(root.path(), &certs.cert, &certs.key, "TLSv1.3");
    let Some(peer) = or_skip(start, test) else {
        return;
    };
    let log = || peer.log();
    let base = format!("ftp://{}:{}@{}/", peer.user, peer.pass, peer.addr);
    let local = tempfile::tempdir().unwrap();
    let data = test_bytes(300_000, 13);
    let src = local.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let ca = &certs.cert;
    let put = [
        "--tls",
        "put",
        src.to_str().unwrap(),
        &format!("{base}up.bin"),
    ];
    ok(ftp_client_tls(ca, None, &put, local.path()), log);
    assert_file(&peer.root.join("up.bin"), &data);
    let listing = ok(
        ftp_client_tls(ca, None, &["--tls", "ls", &base], local.path()),
        log,
    );
    assert!(listing.contains("up.bin"), "{listing}");
    let got = local.path().join("got.bin");
    let get = [
        "--tls",
        "get",
        "-o",
        got.to_str().unwrap(),
        &format!("{base}up.bin"),
    ];
    ok(ftp_client_tls(ca, None, &get, local.path()), log);
    assert_file(&got, &data);
    // The setup check: mod_tls really spoke TLS 1.3 on the resumed data connections.
    let log = peer.log();
    assert!(log.contains("TLSv1.3 data connection accepted"), "{log}");
}

/// `ftps://` URLs (implicit FTPS) against the peer `start` runs: ls, get, put, mirror.
fn implicit_round_trip(test: &str, start: impl FnOnce(&Path, &CertFiles) -> Result<Peer, Skip>) {
    let certs = CertFiles::new();
    let root = tempfile::tempdir().unwrap();
    let data = test_bytes(700_000, 5);
    std::fs::write(root.path().join("down.bin"), &data).unwrap();
    let Some(peer) = or_skip(start(root.path(), &certs), test) else {
        return;
    };
    let log = || peer.log();
    let base = format!("ftps://{}:{}@{}/", peer.user, peer.pass, peer.addr);
    let local = tempfile::tempdir().unwrap();
    let ca = &certs.cert;
    let listing = ok(ftp_client_tls(ca, None, &["ls", &base], local.path()), log);
    assert!(listing.contains("down.bin"), "{listing}");
    let got = local.path().join("got.bin");
    let args = [
        "get",
        "-o",
        got.to_str().unwrap(),
        &format!("{base}down.bin"),
    ];
    ok(ftp_client_tls(ca, None, &args, local.path()), log);
    assert_file(&got, &data);
    let args = ["put", got.to_str().unwrap(), &format!("{base}up.bin")];
    ok(ftp_client_tls(ca, None, &args, local.path()), log);
    assert_file(&peer.root.join("up.bin"), &data);
    mirror_both_ways(ca, &[], &base, &peer.root, &log);
}

#[test]
fn ftps_urls_list_get_put_and_mirror_against_vsftpd_implicit_ssl() {
    implicit_round_trip(
        "ftps_urls_list_get_put_and_mirror_against_vsftpd_implicit_ssl",
        |r, c| Vsftpd::start_implicit_tls(r, &c.cert, &c.key),
    );
}

#[test]
fn ftps_urls_list_get_put_and_mirror_against_pyftpdlib_implicit() {
    implicit_round_trip(
        "ftps_urls_list_get_put_and_mirror_against_pyftpdlib_implicit",
        |r, c| Pyftpdlib::start_tls(r, &c.cert, &c.key, true),
    );
}
