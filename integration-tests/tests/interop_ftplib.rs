//! Python's ftplib against our server: its whole API (login, cwd, pwd, mkd, rmd, delete,
//! rename, size, nlst, dir, retrbinary, retrlines, storbinary, storlines, rest, sendcmd,
//! voidcmd, mlsd, active mode, quit). The Python side (peers/ftplib_scenarios.py) asserts on
//! replies; this side prepares the files and checks the bytes on disk.

use std::path::{Path, PathBuf};

use integration_tests::{run_python, test_bytes, TestServer};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join("ftplib_scenarios.py")
}

/// Runs one scenario of the ftplib script against `server`; false when python3 is missing
/// (and the test should return).
fn ftplib(test: &str, scenario: &str, server: &TestServer, work: &Path) -> bool {
    let (ip, port) = (server.addr.ip().to_string(), server.addr.port().to_string());
    let args = [scenario, &ip, &port, TestServer::USER, TestServer::PASS];
    run_python(
        test,
        [script().into_os_string()]
            .into_iter()
            .chain(args.iter().map(Into::into))
            .chain([work.as_os_str().to_owned()]),
    )
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn ftplib_session_commands_get_the_expected_replies() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    if !ftplib(
        "ftplib_session_commands_get_the_expected_replies",
        "session",
        &server,
        work.path(),
    ) {
        return;
    }
    assert!(server.path("made").is_dir(), "MKD made");
    assert!(
        !server.path("made/inner dir").exists(),
        "RMD 'made/inner dir'"
    );
}

#[test]
fn ftplib_transfers_are_byte_for_byte() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let up = test_bytes(1024 * 1024 + 99, 20);
    let down = test_bytes(777_777, 21);
    std::fs::write(work.path().join("up.bin"), &up).unwrap();
    std::fs::write(server.path("down.bin"), &down).unwrap();
    std::fs::write(
        work.path().join("lines.txt"),
        b"first line\nsecond line\n\nlast\n",
    )
    .unwrap();
    std::fs::write(server.path("text.txt"), b"one\ntwo\nthree\n").unwrap();
    std::fs::write(server.path("restored.bin"), b"helloxxxxx").unwrap();
    if !ftplib(
        "ftplib_transfers_are_byte_for_byte",
        "transfers",
        &server,
        work.path(),
    ) {
        return;
    }
    let mut want_up = up.clone();
    want_up.extend_from_slice(b"appended tail");
    assert!(read(&server.path("up.bin")) == want_up, "storbinary + APPE");
    assert!(read(&work.path().join("down.bin")) == down, "retrbinary");
    assert!(
        read(&work.path().join("tail.bin")) == down[123_457..],
        "retrbinary with rest=123457"
    );
    // storlines sends CRLF line ends in TYPE A; the server stores native LF.
    assert_eq!(
        read(&server.path("lines.txt")),
        b"first line\nsecond line\n\nlast\n"
    );
    assert_eq!(
        read(&work.path().join("retrlines.txt")),
        b"one\ntwo\nthree\n"
    );
    assert_eq!(read(&server.path("restored.bin")), b"helloWORLD");
}

#[test]
fn ftplib_lists_with_nlst_dir_and_mlsd() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(server.path("a.txt"), b"hello world").unwrap();
    std::fs::write(server.path("zero.bin"), b"").unwrap();
    std::fs::create_dir(server.path("dir")).unwrap();
    std::fs::write(server.path("dir/inside.txt"), b"in").unwrap();
    ftplib(
        "ftplib_lists_with_nlst_dir_and_mlsd",
        "listings",
        &server,
        work.path(),
    );
}

#[test]
fn ftplib_renames_and_deletes() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(server.path("old.txt"), b"renamed content").unwrap();
    std::fs::write(server.path("gone.txt"), b"x").unwrap();
    std::fs::create_dir(server.path("full")).unwrap();
    std::fs::write(server.path("full/f.txt"), b"moved up").unwrap();
    if !ftplib(
        "ftplib_renames_and_deletes",
        "rename_delete",
        &server,
        work.path(),
    ) {
        return;
    }
    assert!(!server.path("old.txt").exists());
    assert_eq!(read(&server.path("new.txt")), b"renamed content");
    assert!(!server.path("gone.txt").exists());
    assert!(!server.path("full").exists());
    assert_eq!(read(&server.path("moved.txt")), b"moved up");
}

#[test]
fn ftplib_active_mode_transfers_are_byte_for_byte() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let up = test_bytes(600_001, 22);
    let down = test_bytes(900_003, 23);
    std::fs::write(work.path().join("up.bin"), &up).unwrap();
    std::fs::write(server.path("down.bin"), &down).unwrap();
    if !ftplib(
        "ftplib_active_mode_transfers_are_byte_for_byte",
        "active",
        &server,
        work.path(),
    ) {
        return;
    }
    assert!(read(&server.path("up.bin")) == up, "storbinary over PORT");
    assert!(
        read(&work.path().join("down.bin")) == down,
        "retrbinary over PORT"
    );
}

#[test]
fn ftplib_active_mode_over_ipv6_uses_eprt() {
    let server = TestServer::start_v6();
    let work = tempfile::tempdir().unwrap();
    let up = test_bytes(200_000, 24);
    let down = test_bytes(300_000, 25);
    std::fs::write(work.path().join("up.bin"), &up).unwrap();
    std::fs::write(server.path("down.bin"), &down).unwrap();
    if !ftplib(
        "ftplib_active_mode_over_ipv6_uses_eprt",
        "active",
        &server,
        work.path(),
    ) {
        return;
    }
    assert!(read(&server.path("up.bin")) == up, "storbinary over EPRT");
    assert!(
        read(&work.path().join("down.bin")) == down,
        "retrbinary over EPRT"
    );
}
