//! A users file kept in the bucket (`users_file = "s3:KEY"`, issue 17), on the Ceph gateway:
//! read at start, reloaded when its `ETag` changes (polled, no signal), a broken version keeps
//! the old users; a key inside the served prefix, a missing object or file storage refuse to
//! start with one clear line. The object is written directly over S3, never through the server.

#[path = "../../ftp-server/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::Ctl;
use integration_tests::s3::{Scratch, S3};
use integration_tests::{bin_path, or_skip, output_within};

/// A users file with one user whose home is the served prefix.
fn users(name: &str, pass: &str) -> String {
    format!("[[user]]\nname = \"{name}\"\npassword = \"{pass}\"\nhome = \"/\"\n")
}

/// Waits (at most 30 s, trying every 200 ms: each failed login costs the server's delay).
fn eventually(what: &str, cond: impl FnMut() -> bool) {
    common::eventually_within(
        what,
        Duration::from_secs(30),
        Duration::from_millis(200),
        cond,
    )
}

/// The test's served prefix and, outside it, the prefix holding the users object.
fn prefixes(s3: &S3, test: &str) -> (Scratch, Scratch) {
    (s3.scratch(test), s3.scratch(&format!("{test}-etc")))
}

#[test]
fn a_users_object_is_reloaded_when_it_changes_and_a_broken_version_keeps_the_users() {
    let test = "s3_users_object_reload";
    let Some(s3) = or_skip(S3::from_env(), test) else {
        return;
    };
    let (served, etc) = prefixes(&s3, test);
    let key = etc.key("users.toml");
    s3.put(&key, users("bob", "pw").as_bytes());
    // Through the config file (whose directory must not be joined to `s3:`), with no bans:
    // the test's own failed logins must not lock it out.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ftp.toml");
    let text = format!("users_file = \"s3:{key}\"\nusers_file_poll = 1\nban_score = 0\n");
    std::fs::write(&conf, text).unwrap();
    let (_server, addr) = s3.server(&served.prefix, &["--config", conf.to_str().unwrap()]);
    assert!(Ctl::logs_in(addr, "bob", "pw"));
    s3.put(&key, users("carol", "pw2").as_bytes());
    eventually("carol logs in", || Ctl::logs_in(addr, "carol", "pw2"));
    assert!(
        !Ctl::logs_in(addr, "bob", "pw"),
        "a removed user still logs in"
    );
    // A broken version (a bcrypt hash) is refused; two poll intervals later carol is there.
    let broken = "[[user]]\nname = \"carol\"\npassword_hash = \"$2y$10$x\"\nhome = \"/\"\n";
    s3.put(&key, broken.as_bytes());
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        Ctl::logs_in(addr, "carol", "pw2"),
        "a broken users object replaced the users"
    );
    // Mended, with another user: taken again.
    s3.put(&key, users("dora", "pw3").as_bytes());
    eventually("dora logs in", || Ctl::logs_in(addr, "dora", "pw3"));
}

#[test]
fn a_users_object_inside_the_served_prefix_or_missing_is_refused_at_start() {
    let test = "s3_users_object_refused";
    let Some(s3) = or_skip(S3::from_env(), test) else {
        return;
    };
    let (served, etc) = prefixes(&s3, test);
    let inside = served.key("users.toml");
    s3.put(&inside, users("bob", "pw").as_bytes());
    let flag = format!("s3:{inside}");
    let why = s3.refusal(&served.prefix, &["--users-file", &flag]);
    assert!(
        why.contains(&format!(
            "users file s3:{inside}: lies inside the served prefix"
        )),
        "{why}"
    );
    let missing = format!("s3:{}", etc.key("nothing.toml"));
    let why = s3.refusal(&served.prefix, &["--users-file", &missing]);
    assert!(
        why.ends_with(&format!(
            "users file {missing}: no such object in the bucket"
        )),
        "{why}"
    );
}

#[test]
fn an_s3_users_file_without_s3_storage_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin_path("ftp-server"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--users-file",
        "s3:etc/users.toml",
    ])
    .current_dir(dir.path());
    let out = output_within(&mut cmd, Duration::from_secs(30));
    assert!(!out.status.success(), "the server started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "ftp-server: users file s3:etc/users.toml: needs S3 storage (--storage s3)"
    );
}
