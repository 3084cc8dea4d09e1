//! The `ftp-server` binary: quick start, `--help`, `hash-password` with a users file, SIGTERM.

#[path = "../../ftp-server/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Ctl;
use integration_tests::{bin_path, output_within, start_server_binary, ChildGuard};

const LIMIT: Duration = Duration::from_secs(20);

/// Starts the server binary with `args` in `cwd`; returns it, its control address (read from
/// the startup banner) and the banner lines.
fn start(args: &[&str], cwd: &std::path::Path) -> (ChildGuard, SocketAddr, Vec<String>) {
    start_server_binary(args, Some(cwd))
}

#[test]
fn quick_start_serves_the_current_directory_read_only_to_anonymous() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), b"hi there").unwrap();
    let (_server, addr, banner) = start(&["--listen", "127.0.0.1:0"], dir.path());
    let text = banner.join("\n");
    assert!(
        text.contains("read-only") && text.contains("anonymous"),
        "{text}"
    );
    assert!(text.contains("curl ftp://"), "says how to connect: {text}");
    let mut c = Ctl::connect(addr);
    c.login("anonymous", "guest@example.com");
    assert_eq!(c.download("RETR hello.txt").0, b"hi there");
    c.expect("STOR new.txt", 550);
    c.expect("MKD d", 550);
    assert!(!dir.path().join("new.txt").exists());
}

#[test]
fn anonymous_is_off_when_users_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, _) = start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--user",
            "bob:pw",
            "--login-failure-delay",
            "0",
        ],
        dir.path(),
    );
    let mut c = Ctl::connect(addr);
    c.expect("USER anonymous", 331);
    c.expect("PASS x", 530);
    c.login("bob", "pw");
    c.upload("STOR up.txt", b"by bob");
    assert_eq!(std::fs::read(dir.path().join("up.txt")).unwrap(), b"by bob");
}

#[test]
fn help_documents_every_option_with_its_default() {
    let out = output_within(Command::new(bin_path("ftp-server")).arg("--help"), LIMIT);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config",
        "--listen",
        "--root",
        "--user",
        "--users-file",
        "--anonymous",
        "--passive-ports",
        "--public-address",
        "--allow-fxp",
        "--allow-privileged-ports",
        "--max-sessions",
        "--max-sessions-per-ip",
        "--idle-timeout",
        "--data-timeout",
        "--max-login-failures",
        "--login-failure-delay",
        "--shutdown-grace",
        "hash-password",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    assert!(help.matches("[default").count() >= 14, "{help}");
}

#[test]
fn hash_password_output_at_a_chosen_cost_works_in_a_users_file() {
    let mut child = ChildGuard::spawn(
        Command::new(bin_path("ftp-server"))
            .args(["hash-password", "--memory-kib", "1024", "--iterations", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    )
    .unwrap();
    child
        .child_mut()
        .stdin
        .take()
        .unwrap()
        .write_all(b"s3cret pass\n")
        .unwrap();
    let status = child
        .wait_timeout(LIMIT)
        .unwrap()
        .expect("hash-password exits");
    assert!(status.success());
    let mut hash = String::new();
    std::io::Read::read_to_string(&mut child.child_mut().stdout.take().unwrap(), &mut hash)
        .unwrap();
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("carol")).unwrap();
    std::fs::write(dir.path().join("carol/c.txt"), b"carol's").unwrap();
    let users = dir.path().join("users.toml");
    std::fs::write(
        &users,
        format!(
            "[[user]]\nname = \"carol\"\npassword_hash = \"{hash}\"\nhome = \"carol\"\npermissions = [\"list\", \"read\"]\n"
        ),
    )
    .unwrap();
    let users = users.to_string_lossy().into_owned();
    let (_server, addr, _) = start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--users-file",
            &users,
            "--login-failure-delay",
            "0",
        ],
        dir.path(),
    );
    let mut c = Ctl::connect(addr);
    c.expect("USER carol", 331);
    c.expect("PASS wrong", 530);
    c.login("carol", "s3cret pass");
    assert_eq!(c.download("RETR c.txt").0, b"carol's");
    c.expect("STOR x", 550);
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr, _) = start(&["--listen", "127.0.0.1:0"], dir.path());
    let mut idle = Ctl::connect(addr);
    let pid = server.id().to_string();
    let out = output_within(Command::new("kill").args(["-TERM", &pid]), LIMIT);
    assert!(out.status.success());
    assert_eq!(idle.reply().code().as_u16(), 421);
    let status = server.wait_timeout(LIMIT).unwrap().expect("server exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn config_file_is_read_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pub")).unwrap();
    std::fs::write(dir.path().join("pub/p.txt"), b"from the config").unwrap();
    let cfg = dir.path().join("ftp.toml");
    std::fs::write(
        &cfg,
        "listen = [\"127.0.0.1:0\"]\nanonymous_root = \"pub\"\nmax_sessions_per_ip = 5\n",
    )
    .unwrap();
    let cfg = cfg.to_string_lossy().into_owned();
    let (_server, addr, _) = start(
        &["--config", &cfg, "--max-sessions-per-ip", "1"],
        dir.path(),
    );
    let mut c = Ctl::connect(addr);
    c.login("anonymous", "x@example.com");
    assert_eq!(c.download("RETR p.txt").0, b"from the config");
    let second = Ctl::connect(addr);
    assert_eq!(second.greeting.code().as_u16(), 421);
}
