//! rclone (Debian's, Go's TLS client) against our server over FTPS with `PROT P` and TLS
//! session reuse required, at rclone's defaults (4 transfers, 8 checkers, one TLS session
//! cache shared by all its connections): `copy`, `sync` with deletions, `check --download`,
//! `lsjson -R`, `moveto` and `purge` of a tree of 50 files, checked on disk. Go offers a data
//! connection the newest ticket of any of its control connections, so this needs the server
//! to resume sessions of sibling connections of the same user and address. Also with a
//! one-entry session cache, with TLS 1.2 forced (Go resumes TLS 1.2 only with tickets), and
//! over implicit FTPS.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use integration_tests::tree::{assert_same_tree, make_files, snapshot};
use integration_tests::{or_skip, output_within, tool, TestServer, TlsServer};

/// rclone with its FTP backend pointed at `t` (through environment variables, a private empty
/// config file) plus `extra` flags; retries off, so that no failure hides behind a retry.
struct Rclone {
    binary: std::path::PathBuf,
    env: Vec<(String, String)>,
    extra: Vec<String>,
    _config: tempfile::TempDir,
}

impl Rclone {
    fn new(test: &str, t: &TlsServer, implicit: bool, extra: &[&str]) -> Option<Rclone> {
        let binary = or_skip(tool("rclone"), test)?;
        let config = tempfile::tempdir().unwrap();
        let obscured = output_within(
            Command::new(&binary).args(["obscure", TestServer::PASS]),
            Duration::from_secs(30),
        );
        assert!(obscured.status.success(), "rclone obscure failed");
        let pass = String::from_utf8(obscured.stdout)
            .unwrap()
            .trim()
            .to_string();
        let port = t.port(implicit);
        let tls_var = if implicit {
            "RCLONE_FTP_TLS"
        } else {
            "RCLONE_FTP_EXPLICIT_TLS"
        };
        let conf = config.path().join("rclone.conf");
        std::fs::write(&conf, "").unwrap();
        let env = [
            ("RCLONE_CONFIG", conf.to_string_lossy().into_owned()),
            ("RCLONE_FTP_HOST", "127.0.0.1".into()),
            ("RCLONE_FTP_PORT", port.to_string()),
            ("RCLONE_FTP_USER", TestServer::USER.into()),
            ("RCLONE_FTP_PASS", pass),
            (tls_var, "true".into()),
            ("RCLONE_FTP_NO_CHECK_CERTIFICATE", "true".into()),
        ];
        Some(Rclone {
            binary,
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            _config: config,
        })
    }

    /// Runs `rclone ARGS`, which must succeed without logging an error; returns its output.
    fn run(&self, args: &[&str], cwd: &Path) -> Output {
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .args(&self.extra)
            .args(["--retries", "1", "--low-level-retries", "1"])
            .args(["--contimeout", "20s", "--timeout", "60s"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("RCLONE_CONFIG_PASS")
            .current_dir(cwd);
        let out = output_within(&mut cmd, Duration::from_secs(180));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("ERROR"),
            "rclone {args:?} {:?} failed ({}):\n{stderr}",
            self.extra,
            out.status
        );
        out
    }
}

/// The whole round against a fresh server: copy, sync with deletions, check, lsjson,
/// moveto, purge.
fn round_trip(test: &str, implicit: bool, extra: &[&str]) {
    let t = TlsServer::strict();
    let Some(rclone) = Rclone::new(test, &t, implicit, extra) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    let files = make_files(&src, 50);
    let dst = t.server.path("dst");

    rclone.run(&["copy", "src", ":ftp:dst"], local.path());
    assert_same_tree(&dst, &src);

    // sync: deletions, changes and additions on the local side reach the server.
    for rel in &files[..6] {
        std::fs::remove_file(src.join(rel)).unwrap();
    }
    std::fs::write(src.join(&files[10]), b"changed contents").unwrap();
    std::fs::write(src.join("d9/new.bin"), b"")
        .or_else(|_| {
            std::fs::create_dir_all(src.join("d9"))?;
            std::fs::write(src.join("d9/new.bin"), b"new")
        })
        .unwrap();
    rclone.run(&["sync", "src", ":ftp:dst"], local.path());
    // rclone leaves emptied directories behind; compare files only.
    let files_of = |root: &Path| {
        snapshot(root)
            .into_iter()
            .filter(|(_, bytes)| bytes.is_some())
            .collect::<Vec<_>>()
    };
    assert_eq!(files_of(&dst), files_of(&src));

    rclone.run(&["check", "--download", "src", ":ftp:dst"], local.path());

    let listing = rclone.run(&["lsjson", "-R", "--files-only", ":ftp:dst"], local.path());
    let listing = String::from_utf8(listing.stdout).unwrap();
    for (rel, bytes) in files_of(&src) {
        let entry = format!("\"Path\":\"{rel}\",\"Name\":");
        assert!(listing.contains(&entry), "lsjson lacks {rel}:\n{listing}");
        let size = format!("\"Size\":{},", bytes.unwrap().len());
        let line = listing.lines().find(|l| l.contains(&entry)).unwrap();
        assert!(line.contains(&size), "{rel}: wrong size in {line}");
    }
    assert_eq!(listing.matches("\"Path\":").count(), files_of(&src).len());

    let moved = &files[20];
    let before = std::fs::read(dst.join(moved)).unwrap();
    rclone.run(
        &[
            "moveto",
            &format!(":ftp:dst/{moved}"),
            ":ftp:moved/here.bin",
        ],
        local.path(),
    );
    assert!(!dst.join(moved).exists(), "moveto left {moved} behind");
    assert_eq!(
        std::fs::read(t.server.path("moved/here.bin")).unwrap(),
        before
    );

    rclone.run(&["purge", ":ftp:dst"], local.path());
    assert!(!dst.exists(), "purge left dst behind");
}

#[test]
fn rclone_copy_sync_check_move_purge_over_ftps_with_reuse_required() {
    round_trip(
        "rclone_copy_sync_check_move_purge_over_ftps_with_reuse_required",
        false,
        &[],
    );
}

#[test]
fn rclone_round_trip_with_a_one_entry_tls_session_cache() {
    round_trip(
        "rclone_round_trip_with_a_one_entry_tls_session_cache",
        false,
        &["--ftp-tls-cache-size", "1"],
    );
}

#[test]
fn rclone_round_trip_over_tls12_resumes_with_tickets() {
    round_trip(
        "rclone_round_trip_over_tls12_resumes_with_tickets",
        false,
        &["--ftp-disable-tls13"],
    );
}

#[test]
fn rclone_round_trip_over_implicit_ftps() {
    round_trip("rclone_round_trip_over_implicit_ftps", true, &[]);
}
