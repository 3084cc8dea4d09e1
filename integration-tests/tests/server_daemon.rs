//! The `ftp-server` daemon as an operator meets it: `SIGHUP` reloads instead of killing it,
//! start-up errors are one clear line naming the file, line or flag, nonsense settings are
//! refused, and logging survives a bad `RUST_LOG`.

#[path = "../../ftp-server/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::Ctl;
use integration_tests::{bin_path, output_within, start_server_binary, ChildGuard};
use rustix::process::{kill_process, Pid, Signal};

const LIMIT: Duration = Duration::from_secs(20);

fn sighup(server: &ChildGuard) {
    let pid = Pid::from_raw(i32::try_from(server.id()).unwrap()).unwrap();
    kill_process(pid, Signal::HUP).unwrap();
}

/// A users file in `dir` with one user whose home is `dir`.
fn write_users(dir: &Path, user: &str, pass: &str) -> String {
    let path = dir.join("users.toml");
    let entry = format!("[[user]]\nname = \"{user}\"\npassword = \"{pass}\"\nhome = \".\"\n");
    std::fs::write(&path, entry).unwrap();
    path.to_string_lossy().into_owned()
}

/// The lines `reader` yields, on a channel (read by a thread until the end).
fn lines_of(reader: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts the server with `args` and `RUST_LOG=rust_log`; returns it, its address and its
/// log lines.
fn start_logging(args: &[&str], rust_log: &str) -> (ChildGuard, SocketAddr, Receiver<String>) {
    let mut cmd = Command::new(bin_path("ftp-server"));
    cmd.args(args)
        .env("RUST_LOG", rust_log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut cmd).expect("start ftp-server");
    let stdout = lines_of(child.child_mut().stdout.take().unwrap());
    let log = lines_of(child.child_mut().stderr.take().unwrap());
    let addr = wait_for_line(&stdout, "ftp://")
        .split("ftp://")
        .nth(1)
        .and_then(|rest| rest.split('/').next()?.parse().ok())
        .expect("an address in the banner");
    // Keep reading the banner so the server never writes into a closed pipe.
    std::thread::spawn(move || while stdout.recv().is_ok() {});
    (child, addr, log)
}

/// Waits (bounded) for a line containing `text`.
fn wait_for_line(log: &Receiver<String>, text: &str) -> String {
    let deadline = Instant::now() + LIMIT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match log.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no line with {text:?} within {LIMIT:?}")
}

#[test]
fn sighup_without_tls_keeps_the_server_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr, _) = start_server_binary(
        &["--listen", "127.0.0.1:0", "--user", "bob:pw"],
        Some(dir.path()),
    );
    let mut idle = Ctl::connect(addr);
    sighup(&server);
    // Signal delivery is asynchronous: the old server died within milliseconds.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.try_wait().unwrap(), None, "SIGHUP ended the server");
    idle.expect("NOOP", 200);
    assert!(Ctl::logs_in(addr, "bob", "pw"));
}

/// A server whose users file (`users`, in `dir`: keep it alive) has bob/pw, logging at info.
struct WithUsers {
    dir: tempfile::TempDir,
    users: String,
    server: ChildGuard,
    addr: SocketAddr,
    log: Receiver<String>,
}

fn start_with_users_file() -> WithUsers {
    let dir = tempfile::tempdir().unwrap();
    let users = write_users(dir.path(), "bob", "pw");
    let args = ["--listen", "127.0.0.1:0", "--users-file", &users];
    let (server, addr, log) = start_logging(&args, "info");
    WithUsers {
        dir,
        users,
        server,
        addr,
        log,
    }
}

#[test]
fn sighup_reloads_the_users_file() {
    let WithUsers {
        dir,
        server,
        addr,
        log,
        ..
    } = start_with_users_file();
    assert!(Ctl::logs_in(addr, "bob", "pw"));
    write_users(dir.path(), "carol", "pw2");
    sighup(&server);
    wait_for_line(&log, "SIGHUP: users reloaded");
    assert!(Ctl::logs_in(addr, "carol", "pw2"));
    assert!(!Ctl::logs_in(addr, "bob", "pw"));
}

#[test]
fn sighup_with_a_broken_users_file_keeps_the_current_users() {
    let WithUsers {
        dir: _dir,
        users,
        server,
        addr,
        log,
    } = start_with_users_file();
    let broken = "[[user]]\nname = \"bob\"\npassword_hash = \"$2y$10$x\"\nhome = \".\"\n";
    std::fs::write(&users, broken).unwrap();
    sighup(&server);
    let line = wait_for_line(&log, "SIGHUP: reload refused, nothing changed");
    assert!(line.contains("users.toml:3: user \"bob\""), "{line}");
    assert!(Ctl::logs_in(addr, "bob", "pw"));
}

#[test]
fn a_changed_users_file_is_reloaded_without_a_signal_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let users = write_users(dir.path(), "bob", "pw");
    let conf = dir.path().join("ftp.toml");
    // No bans: the failed logins while waiting must not lock the test out.
    std::fs::write(&conf, "users_file_poll = 1\nban_score = 0\n").unwrap();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--config",
        conf.to_str().unwrap(),
    ];
    let args = [&args[..], &["--users-file", &users]].concat();
    let (_server, addr, _log) = start_logging(&args, "info");
    assert!(Ctl::logs_in(addr, "bob", "pw"));
    write_users(dir.path(), "carol", "pw2");
    let within = Duration::from_secs(30);
    let pause = Duration::from_millis(200);
    common::eventually_within("carol logs in", within, pause, || {
        Ctl::logs_in(addr, "carol", "pw2")
    });
    assert!(!Ctl::logs_in(addr, "bob", "pw"));
    let broken = "[[user]]\nname = \"carol\"\npassword_hash = \"$2y$10$x\"\nhome = \".\"\n";
    std::fs::write(&users, broken).unwrap();
    // Two poll intervals.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(Ctl::logs_in(addr, "carol", "pw2"));
}

/// Runs the server with `args` in `dir`, expecting it to refuse to start; returns stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(bin_path("ftp-server"));
    cmd.args(args).current_dir(dir).env_remove("RUST_BACKTRACE");
    let out = output_within(&mut cmd, LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} started: {stderr}");
    stderr
}

#[test]
fn startup_errors_are_one_line_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ftp.toml"),
        "max_sessions = 5\npassive_port = \"1-2\"\n",
    )
    .unwrap();
    let err = refused(dir.path(), &["--config", "ftp.toml"]);
    assert_eq!(
        err,
        "ftp-server: config file ftp.toml:2: unknown key `passive_port` (did you mean `passive_ports`?)\n"
    );
    let users = "[[user]]\nname = \"alice\"\nhome = \".\"\npassword_hash = \"garbage\"\n";
    std::fs::write(dir.path().join("users.toml"), users).unwrap();
    let err = refused(dir.path(), &["--users-file", "users.toml"]);
    assert!(
        err.starts_with("ftp-server: users file users.toml:4: user \"alice\": password_hash is not an argon2id PHC string"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = refused(dir.path(), &["--root", "/nonexistent", "--anonymous"]);
    assert_eq!(err, "ftp-server: --root /nonexistent: no such directory\n");
}

#[test]
fn nonsense_settings_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (args, reason) in [
        (&["--idle-timeout", "0s"][..], "must be more than 0"),
        (&["--data-timeout", "0"], "must be more than 0"),
        (&["--max-sessions", "0"], "must be at least 1"),
        (&["--max-sessions-per-ip", "0"], "must be at least 1"),
        (&["--max-login-failures", "0"], "must be at least 1"),
        (
            &["--listen", "127.0.0.1:2999", "--listen", "127.0.0.1:2999"],
            "listen address 127.0.0.1:2999 is given twice",
        ),
        (
            &["--user", "a:x", "--user", "a:y"],
            "user \"a\" is defined twice",
        ),
    ] {
        let err = refused(dir.path(), args);
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}

#[test]
fn an_invalid_rust_log_falls_back_to_info() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let args = ["--listen", "127.0.0.1:0", "--root", &root, "--anonymous"];
    let (_server, addr, log) = start_logging(&args, "=bad=");
    let warning = wait_for_line(&log, "RUST_LOG");
    assert!(warning.contains("logging at info"), "{warning}");
    drop(Ctl::connect(addr));
    wait_for_line(&log, "connected");
}

#[test]
fn an_expired_certificate_is_warned_about_at_startup_and_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let (c, k) = (cert_path.to_string_lossy(), key_path.to_string_lossy());
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--user",
        "a:b",
        "--tls-cert",
        &c,
        "--tls-key",
        &k,
    ];
    let (server, _addr, log) = start_logging(&args, "info");
    let warning = wait_for_line(&log, "TLS certificate expired");
    assert!(warning.contains("2021-01-01"), "{warning}");
    sighup(&server);
    wait_for_line(&log, "SIGHUP: TLS certificate reloaded");
    wait_for_line(&log, "TLS certificate expired");
}

/// The config file and users file of the access-rules reload test: bob in group `g`, whose
/// `allowed_ips` are `allowed`; `[user_defaults]` give `max_sessions`.
fn write_access_files(dir: &Path, allowed: &str, max_sessions: usize) -> String {
    let users = format!(
        "[[group]]\nname = \"g\"\nallowed_ips = [\"{allowed}\"]\n\n\
         [[user]]\nname = \"bob\"\npassword = \"pw\"\nhome = \".\"\ngroups = [\"g\"]\n"
    );
    std::fs::write(dir.join("users.toml"), users).unwrap();
    let config = format!(
        "listen = [\"127.0.0.1:0\"]\nusers_file = \"users.toml\"\nban_score = 3\n\
         login_failure_delay_ms = 10\n\n[user_defaults]\nmax_sessions = {max_sessions}\n"
    );
    let path = dir.join("ftp.toml");
    std::fs::write(&path, config).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn sighup_applies_changed_access_rules_and_keeps_the_bans() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_access_files(dir.path(), "127.0.0.0/8", 5);
    let (server, addr, log) = start_logging(&["--config", &config], "info");
    // 127.0.0.3 guesses until it is banned (a score of 3: three wrong passwords).
    let mut guesser = Ctl::connect_from("127.0.0.3", addr);
    for _ in 0..3 {
        guesser.expect("USER bob", 331);
        guesser.expect("PASS wrong", 530);
    }
    assert!(common::closed_before_greeting("127.0.0.3", addr));
    let mut first = Ctl::connect_from("127.0.0.4", addr);
    first.login("bob", "pw");
    assert!(Ctl::logs_in(addr, "bob", "pw"));

    write_access_files(dir.path(), "127.0.0.4", 1);
    sighup(&server);
    wait_for_line(&log, "SIGHUP: users reloaded");
    // The group's new allowed_ips: 127.0.0.1 is refused now.
    assert!(!Ctl::logs_in(addr, "bob", "pw"));
    // The new default max_sessions: bob's session from 127.0.0.4 is the one he may have.
    let mut second = Ctl::connect_from("127.0.0.4", addr);
    second.expect("USER bob", 331);
    second.expect("PASS pw", 530);
    first.expect("QUIT", 221);
    drop(first);
    // The ban outlived the reload.
    assert!(common::closed_before_greeting("127.0.0.3", addr));
}

#[test]
fn json_logs_parse_line_by_line_with_user_strings_escaped_and_name_the_session_user() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--root",
        &root,
        "--user",
        "bob:pw",
        "--login-failure-delay",
        "1ms",
        "--log-format",
        "json",
    ];
    let (_server, addr, log) = start_logging(&args, "debug");
    let odd = "bo\u{1}b\"\u{1b}[31m";
    let mut c = Ctl::connect(addr);
    c.expect(&format!("USER {odd}"), 331);
    c.expect("PASS pw", 530);
    c.login("bob", "pw");
    c.expect("QUIT", 221);
    let mut lines = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let line = log
            .recv_timeout(left)
            .expect("log lines up to the disconnection");
        let last = line.contains("\"disconnected\"");
        lines.push(line);
        if last {
            break;
        }
    }
    let (mut failed_login, mut logged_in) = (None, false);
    for line in &lines {
        assert!(
            !line.chars().any(char::is_control),
            "raw control character: {line:?}"
        );
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for key in ["ts", "level", "event", "msg"] {
            assert!(v.get(key).is_some(), "{key} missing: {line}");
        }
        if v.get("session").is_some() {
            assert!(v.get("peer").is_some() && v.get("user").is_some(), "{line}");
        }
        if v["event"] == "login" && v["result"] == "failed" {
            failed_login = Some(v.clone());
        }
        if v["event"] == "login" && v["result"] == "ok" {
            logged_in = true;
        } else if logged_in && v.get("session").is_some() {
            // Every session line after the login names the user.
            assert_eq!(v["user"], "bob", "{line}");
        }
    }
    assert!(logged_in, "a login event");
    let failed_login = failed_login.expect("a failed login event");
    assert_eq!(failed_login["user"], odd);
    assert_eq!(
        failed_login["peer"],
        c.stream.local_addr().unwrap().to_string()
    );
    assert!(failed_login["session"].as_u64().is_some());
}
