//! Integrity and server-side copies end to end: our client's `HASH` against our server over
//! FTPS for every algorithm, `ftp-client hash` printing like `sha256sum`, `get --verify`
//! catching a corrupted server file, `mirror --checksum`, and `cp` on our server, on ProFTPD
//! (mod_copy, mod_digest) and against vsftpd (no copy, no digests: streamed, "not verified").

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use ftp_client::tls::{TlsMode, Verify};
use ftp_client::{digest_of, Client, Options};
use ftp_proto::hash::HashAlgorithm;
use integration_tests::peers::{Peer, ProFtpd, Vsftpd};
use integration_tests::{
    bin_path, or_skip, output_within, test_bytes, with_timeout, TestServer, TlsServer,
};

/// `ftp-client args` in `cwd` (60 s at most), with `password` in `FTP_PASSWORD`.
fn client(cwd: &Path, password: &str, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin_path("ftp-client"));
    cmd.args(["--timeout", "20", "--retries", "0"])
        .args(args)
        .current_dir(cwd)
        .env("HOME", home.path())
        .env("FTP_PASSWORD", password)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    output_within(&mut cmd, Duration::from_secs(60))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sha256sum(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn digests_of_a_tls_upload_equal_the_local_ones_for_every_algorithm() {
    let t = TlsServer::start(|_| {});
    let data = test_bytes(1_000_003, 9);
    let opts = Options {
        tls: TlsMode::Explicit,
        verify: Verify::CaFile(t.ca_file.clone()),
        ..Options::default()
    };
    with_timeout(60, async {
        let mut c = Client::connect("127.0.0.1", t.server.addr.port(), opts)
            .await
            .unwrap();
        c.login(TestServer::USER, TestServer::PASS).await.unwrap();
        c.stor("up.bin", &data[..], 0).await.unwrap();
        for alg in HashAlgorithm::ALL {
            let theirs = c.hash("up.bin", alg).await.unwrap();
            assert_eq!(theirs, Some(digest_of(&data[..], alg).unwrap()), "{alg}");
        }
        c.quit().await.unwrap();
    });
    assert_eq!(
        sha256sum(&t.server.path("up.bin")),
        digest_of(&data[..], HashAlgorithm::Sha256).unwrap()
    );
}

#[test]
fn hash_prints_like_sha256sum() {
    let srv = TestServer::start();
    std::fs::write(srv.path("f.bin"), test_bytes(70_000, 1)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let url = format!("ftp://alice@{}/f.bin", srv.addr);
    let o = client(work.path(), TestServer::PASS, &["hash", &url]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = format!("{}  f.bin\n", sha256sum(&srv.path("f.bin")));
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);
    let o = client(
        work.path(),
        TestServer::PASS,
        &["hash", "--alg", "md5", &url],
    );
    let md5 = digest_of(&test_bytes(70_000, 1)[..], HashAlgorithm::Md5).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{md5}  f.bin\n")
    );
    let o = client(
        work.path(),
        TestServer::PASS,
        &["hash", "--alg", "crc-37", &url],
    );
    assert_eq!(o.status.code(), Some(2));
    let missing = format!("ftp://alice@{}/missing", srv.addr);
    assert_eq!(
        client(work.path(), TestServer::PASS, &["hash", &missing])
            .status
            .code(),
        Some(6)
    );
}

#[test]
fn get_verify_catches_a_corrupted_server_file_and_keeps_the_part_file() {
    let srv = TestServer::start_with(|c| c.hash_all_uploads = true);
    let work = tempfile::tempdir().unwrap();
    let data = test_bytes(400_000, 3);
    std::fs::write(work.path().join("orig.bin"), &data).unwrap();
    let url = format!("ftp://alice@{}/f.bin", srv.addr);
    let o = client(
        work.path(),
        TestServer::PASS,
        &["put", "--verify", "orig.bin", &url],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("verified"), "{}", stderr(&o));
    let o = client(work.path(), TestServer::PASS, &["get", "--verify", &url]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(work.path().join("f.bin")).unwrap(), data);
    std::fs::remove_file(work.path().join("f.bin")).unwrap();
    // Bit rot: bytes change on disk while size and modification time stay, so the digest
    // stored at upload still counts and no longer matches the contents.
    let on_disk = srv.path("f.bin");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&on_disk)
        .unwrap();
    if rustix::fs::fgetxattr(&file, "user.ftp.sha256", &mut [0u8; 128]).is_err() {
        eprintln!("skipped: no user extended attributes here, so no stored digest to go stale");
        return;
    }
    let mtime = file.metadata().unwrap().modified().unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"CORRUPT", 1000).unwrap();
    file.set_modified(mtime).unwrap();
    let o = client(work.path(), TestServer::PASS, &["get", "--verify", &url]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("checksum mismatch"), "{}", stderr(&o));
    assert!(!work.path().join("f.bin").exists());
    let part = std::fs::read(work.path().join(".f.bin.part")).unwrap();
    assert_eq!(&part[1000..1007], b"CORRUPT");
}

#[test]
fn mirror_checksum_fetches_a_file_whose_size_matches_but_not_its_contents() {
    let srv = TestServer::start();
    let (theirs, ours) = (test_bytes(5000, 1), test_bytes(5000, 2));
    std::fs::create_dir(srv.path("d")).unwrap();
    std::fs::write(srv.path("d/f"), &theirs).unwrap();
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("d");
    std::fs::create_dir(&local).unwrap();
    std::fs::write(local.join("f"), &ours).unwrap();
    let mtime = std::fs::metadata(srv.path("d/f"))
        .unwrap()
        .modified()
        .unwrap();
    std::fs::File::options()
        .write(true)
        .open(local.join("f"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let url = format!("ftp://alice@{}/d/", srv.addr);
    let o = client(work.path(), TestServer::PASS, &["mirror", &url, "d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(local.join("f")).unwrap(),
        ours,
        "same size and time: kept"
    );
    let o = client(
        work.path(),
        TestServer::PASS,
        &["mirror", "--checksum", &url, "d"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(local.join("f")).unwrap(), theirs);
}

#[test]
fn cp_copies_on_our_server_one_shot_and_in_the_shell() {
    let srv = TestServer::start();
    let data = test_bytes(300_000, 4);
    std::fs::write(srv.path("a.bin"), &data).unwrap();
    let work = tempfile::tempdir().unwrap();
    let src = format!("ftp://alice@{}/a.bin", srv.addr);
    let o = client(work.path(), TestServer::PASS, &["cp", &src, "b.bin"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("copied on the server"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(srv.path("b.bin")).unwrap(), data);
    let shell_url = format!("ftp://alice@{}/", srv.addr);
    write_script(work.path(), "cp a.bin c.bin\nhash c.bin\n");
    // The shell reads the script from its stdin (output_within gives it none).
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec \"$0\" --timeout 20 shell \"$1\" < script"])
        .arg(bin_path("ftp-client"))
        .arg(&shell_url)
        .current_dir(work.path())
        .env("FTP_PASSWORD", TestServer::PASS)
        .env("HOME", work.path());
    let o = output_within(&mut cmd, Duration::from_secs(60));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(srv.path("c.bin").exists(), "shell: {}", stderr(&o));
    assert_eq!(std::fs::read(srv.path("c.bin")).unwrap(), data);
    let sum = digest_of(&data[..], HashAlgorithm::Sha256).unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{sum}  c.bin")));
    // To another server: streamed from one connection into the other.
    let other = TestServer::start();
    let dst = format!("ftp://alice@{}/far.bin", other.addr);
    let o = client(work.path(), TestServer::PASS, &["cp", &src, &dst]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(other.path("far.bin")).unwrap(), data);
    for name in ["a.bin", "far.bin", ".far.bin.part"] {
        assert!(!work.path().join(name).exists(), "no local copy: {name}");
    }
}

fn write_script(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("script");
    std::fs::write(&p, text).unwrap();
    p
}

/// `cp` and `hash` on a third-party server serving `root`, which holds `a.bin`.
fn cp_on(peer: &Peer, root: &Path, data: &[u8]) -> Output {
    let work = tempfile::tempdir().unwrap();
    let src = format!("ftp://{}@{}/a.bin", peer.user, peer.addr);
    let o = client(work.path(), &peer.pass, &["cp", &src, "b.bin"]);
    assert!(
        o.status.success(),
        "{}: {}\n{}",
        peer.name,
        stderr(&o),
        peer.log()
    );
    assert_eq!(
        std::fs::read(root.join("b.bin")).unwrap(),
        data,
        "{}",
        peer.name
    );
    o
}

#[test]
fn cp_uses_mod_copy_on_proftpd_and_hash_its_mod_digest() {
    let root = tempfile::tempdir().unwrap();
    let data = test_bytes(200_000, 5);
    std::fs::write(root.path().join("a.bin"), &data).unwrap();
    let started = ProFtpd::start_with_modules(root.path(), &["mod_copy.c", "mod_digest.c"]);
    let Some(peer) = or_skip(
        started,
        "cp_uses_mod_copy_on_proftpd_and_hash_its_mod_digest",
    ) else {
        return;
    };
    let o = cp_on(&peer, &peer.root, &data);
    assert!(
        stderr(&o).contains("copied on the server"),
        "{}",
        stderr(&o)
    );
    let work = tempfile::tempdir().unwrap();
    let url = format!("ftp://{}@{}/b.bin", peer.user, peer.addr);
    for alg in ["sha-256", "md5", "crc32"] {
        let o = client(work.path(), &peer.pass, &["hash", "--alg", alg, &url]);
        assert!(o.status.success(), "{alg}: {}\n{}", stderr(&o), peer.log());
        let want = digest_of(&data[..], HashAlgorithm::from_name(alg).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("{want}  b.bin\n"),
            "{alg}"
        );
    }
}

#[test]
fn cp_streams_and_verify_says_not_verified_against_vsftpd() {
    let root = tempfile::tempdir().unwrap();
    let data = test_bytes(200_000, 6);
    std::fs::write(root.path().join("a.bin"), &data).unwrap();
    let Some(peer) = or_skip(
        Vsftpd::start(root.path()),
        "cp_streams_and_verify_says_not_verified_against_vsftpd",
    ) else {
        return;
    };
    let o = cp_on(&peer, &peer.root, &data);
    assert!(
        !stderr(&o).contains("copied on the server"),
        "{}",
        stderr(&o)
    );
    let work = tempfile::tempdir().unwrap();
    let url = format!("ftp://{}@{}/a.bin", peer.user, peer.addr);
    let o = client(work.path(), &peer.pass, &["get", "--verify", &url]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not verified: server has no HASH"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(work.path().join("a.bin")).unwrap(), data);
}
