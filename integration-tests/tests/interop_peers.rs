//! Smoke tests of the third-party server launchers in `integration_tests::peers`: each peer
//! starts, lists the files of its root, and stores an upload in it (checked with curl).

use std::path::Path;
use std::process::{Command, Output};

use integration_tests::peers::{Peer, ProFtpd, PureFtpd, Pyftpdlib, Vsftpd};
use integration_tests::{or_skip, tool, Skip};

/// curl with a hard time limit, so a stuck peer fails the test instead of hanging it.
fn curl(peer: &Peer, args: &[&str]) -> Output {
    let curl = tool("curl").expect("checked by the caller");
    Command::new(curl)
        .args(["--silent", "--show-error", "--max-time", "30"])
        .arg("--user")
        .arg(peer.userpass())
        .args(args)
        .output()
        .expect("run curl")
}

fn lists_and_stores(name: &str, start: fn(&Path) -> Result<Peer, Skip>) {
    let test = format!("{name}_lists_and_stores");
    if or_skip(tool("curl"), &test).is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("hello.txt"), b"hello from the peer root\n").unwrap();
    std::fs::create_dir(root.path().join("sub")).unwrap();
    let Some(peer) = or_skip(start(root.path()), &test) else {
        return;
    };

    let listing = curl(&peer, &["--list-only", &peer.url()]);
    assert!(
        listing.status.success(),
        "{name}: curl NLST failed: {}\n{}",
        String::from_utf8_lossy(&listing.stderr),
        peer.log()
    );
    let names = String::from_utf8_lossy(&listing.stdout);
    let mut names: Vec<&str> = names
        .lines()
        .map(str::trim)
        .filter(|n| *n != "." && *n != "..")
        .collect();
    names.sort_unstable();
    // Some servers (pure-ftpd) also name `.` and `..`.
    assert_eq!(names, ["hello.txt", "sub"], "{name}: NLST of the root");

    let download = curl(&peer, &[&format!("{}hello.txt", peer.url())]);
    assert!(download.status.success(), "{name}: RETR failed");
    assert_eq!(download.stdout, b"hello from the peer root\n");

    let payload: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let src = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(src.path(), &payload).unwrap();
    let upload = curl(
        &peer,
        &[
            "--ftp-create-dirs",
            "-T",
            src.path().to_str().unwrap(),
            &format!("{}sub/deeper/up.bin", peer.url()),
        ],
    );
    assert!(
        upload.status.success(),
        "{name}: STOR failed: {}\n{}",
        String::from_utf8_lossy(&upload.stderr),
        peer.log()
    );
    let stored = std::fs::read(peer.root.join("sub/deeper/up.bin")).unwrap();
    assert!(stored == payload, "{name}: uploaded bytes differ on disk");
}

#[test]
fn vsftpd_lists_and_stores() {
    lists_and_stores("vsftpd", Vsftpd::start);
}

#[test]
fn pure_ftpd_lists_and_stores() {
    lists_and_stores("pure_ftpd", PureFtpd::start);
}

#[test]
fn proftpd_lists_and_stores() {
    lists_and_stores("proftpd", ProFtpd::start);
}

#[test]
fn pyftpdlib_lists_and_stores() {
    lists_and_stores("pyftpdlib", Pyftpdlib::start);
}

#[test]
fn peer_is_killed_on_drop() {
    if or_skip(
        integration_tests::python_module("pyftpdlib"),
        "peer_is_killed_on_drop",
    )
    .is_none()
    {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let peer = Pyftpdlib::start(root.path()).expect("pyftpdlib is installed");
    let addr = peer.addr;
    let pid = peer.pid();
    drop(peer);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "peer process {pid} still exists after drop"
    );
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "peer still accepts connections after drop"
    );
}
