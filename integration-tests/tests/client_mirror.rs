//! `ftp-client mirror`'s options against lftp's `mirror` as the reference (the same tree on
//! our server, the same result on disk: names, bytes and modes), and the journal: a mirror
//! killed half way and run again transfers only what was missing, counted in the server's
//! transfer log, without listing the trees again.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use integration_tests::{
    bin_path, or_skip, output_within, test_bytes, tool, ChildGuard, TestServer,
};

/// Every entry under `root`: relative path (directories end in `/`), mode, bytes.
fn snapshot(root: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for ent in std::fs::read_dir(&d).unwrap() {
            let p = ent.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            if p.is_dir() {
                out.push((rel + "/", mode, Vec::new()));
                stack.push(p);
            } else {
                out.push((rel, mode, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A tree with names the globs tell apart, sizes around 1 KiB, an old file and modes.
fn make_tree(root: &Path) {
    let files: &[(&str, usize)] = &[
        ("a.txt", 10),
        ("b.tmp", 20),
        ("big.bin", 5000),
        ("old.txt", 30),
        ("sub/c.txt", 40),
        ("sub/d.bin", 2000),
        ("sub/cache/e.txt", 50),
        ("cache/f.txt", 60),
        ("docs/g.md", 70),
        ("deep/docs/h.md", 80),
        ("deep/docs/i.txt", 90),
    ];
    for (i, (path, len)) in files.iter().enumerate() {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, test_bytes(*len, i as u64)).unwrap();
    }
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800); // 2000-01-01
    let f = std::fs::File::options()
        .write(true)
        .open(root.join("old.txt"))
        .unwrap();
    f.set_modified(old).unwrap();
    let mode = |p: &str, m: u32| {
        std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode("a.txt", 0o600);
    mode("sub/d.bin", 0o755);
    mode("sub", 0o750);
}

fn ours(cwd: &Path, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let out = output_within(
        Command::new(bin_path("ftp-client"))
            .args(["-q", "--retries", "0", "--timeout", "20"])
            .args(args)
            .current_dir(cwd)
            .env("HOME", home.path())
            .env("XDG_STATE_HOME", home.path().join("state"))
            .env("FTP_PASSWORD", TestServer::PASS)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null()),
        Duration::from_secs(120),
    );
    out
}

/// lftp's `mirror OPTIONS tree DST` against `server`, in `cwd`; `None` when lftp is missing.
fn lftp_mirror(test: &str, server: &TestServer, cwd: &Path, opts: &str, dst: &str) -> Option<()> {
    let lftp = or_skip(tool("lftp"), test)?;
    let home = tempfile::tempdir().unwrap();
    let script = format!(
        "set cmd:fail-exit yes; set ftp:ssl-allow no; set net:max-retries 2; set net:timeout 20; \
         open -u {},{} -p {} ftp://127.0.0.1; mirror {opts} tree {dst}; quit",
        TestServer::USER,
        TestServer::PASS,
        server.addr.port()
    );
    let out = output_within(
        Command::new(lftp)
            .arg("-c")
            .arg(&script)
            .env("HOME", home.path())
            .env_remove("LFTP_HOME")
            .current_dir(cwd),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "lftp {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

#[test]
fn mirror_options_leave_the_tree_lftp_leaves() {
    let server = TestServer::start();
    make_tree(&server.path("tree"));
    let cases: &[(&[&str], &str)] = &[
        (&[], ""),
        (&["--no-perms"], "--no-perms"),
        (
            &["-X", "*.tmp", "-X", "cache/", "-X", "docs/*.md"],
            "-X '*.tmp' -X cache/ -X 'docs/*.md'",
        ),
        (&["--exclude", "sub/"], "--exclude-glob sub/"),
        (&["-I", "*.txt"], "-I '*.txt'"),
        (&["--size-range", "0-1k"], "--size-range=0-1k"),
        (&["--newer-than", "2010-01-01"], "--newer-than=2010-01-01"),
    ];
    for (i, (flags, lftp_opts)) in cases.iter().enumerate() {
        let work = tempfile::tempdir().unwrap();
        let (l, o) = (format!("lftp{i}"), format!("ours{i}"));
        if lftp_mirror(
            "mirror_options_leave_the_tree_lftp_leaves",
            &server,
            work.path(),
            lftp_opts,
            &l,
        )
        .is_none()
        {
            return;
        }
        let url = format!("ftp://{}@{}/tree", TestServer::USER, server.addr);
        let args = [&["mirror"], *flags, &[url.as_str(), o.as_str()]].concat();
        let out = ours(work.path(), &args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            snapshot(&work.path().join(&o)),
            snapshot(&work.path().join(&l)),
            "ours {flags:?} vs lftp {lftp_opts}"
        );
    }
}

#[test]
fn only_missing_and_continue_treat_existing_files_as_lftp_does() {
    let server = TestServer::start();
    make_tree(&server.path("tree"));
    let work = tempfile::tempdir().unwrap();
    for dst in ["lftp", "ours"] {
        // A changed file (kept by --only-missing) and a partial one (continued by -c).
        let d = work.path().join(dst);
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("a.txt"), b"local edit").unwrap();
        let big = std::fs::read(server.path("tree/big.bin")).unwrap();
        std::fs::write(d.join("big.bin"), &big[..1000]).unwrap();
    }
    let test = "only_missing_and_continue_treat_existing_files_as_lftp_does";
    if lftp_mirror(
        test,
        &server,
        work.path(),
        "--only-missing --no-perms",
        "lftp",
    )
    .is_none()
    {
        return;
    }
    let url = format!("ftp://{}@{}/tree", TestServer::USER, server.addr);
    let out = ours(
        work.path(),
        &["mirror", "--only-missing", "--no-perms", &url, "ours"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        snapshot(&work.path().join("ours")),
        snapshot(&work.path().join("lftp"))
    );
    assert_eq!(
        std::fs::read(work.path().join("ours/a.txt")).unwrap(),
        b"local edit"
    );
    // -c continues the partial file with REST: the result is the whole file.
    let out = ours(
        work.path(),
        &["mirror", "-c", "--no-perms", "--json", &url, "ours"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(work.path().join("ours/big.bin")).unwrap(),
        std::fs::read(server.path("tree/big.bin")).unwrap()
    );
}

#[test]
fn max_errors_stops_the_run_and_the_json_summary_says_so() {
    let server = TestServer::start();
    make_tree(&server.path("tree"));
    let work = tempfile::tempdir().unwrap();
    // A local file where the tree has the directory `sub`: creating it (and its `cache`)
    // fails, and so would every download into it.
    std::fs::create_dir_all(work.path().join("dst")).unwrap();
    std::fs::write(work.path().join("dst/sub"), b"in the way").unwrap();
    let url = format!("ftp://{}@{}/tree", TestServer::USER, server.addr);
    let out = ours(
        work.path(),
        &[
            "mirror",
            "--delete",
            "--max-errors",
            "2",
            "--json",
            &url,
            "dst",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stopped"], true, "{v:#}");
    assert_eq!(v["failed"], 2, "{v:#}");
    assert!(v["failed_actions"][0]["error"].is_string(), "{v:#}");
}

/// Our server binary, its transfer log (stderr) in a file.
struct LoggedServer {
    _child: ChildGuard,
    addr: String,
    log: PathBuf,
}

fn start_logged(root: &Path, state: &Path) -> LoggedServer {
    let log = state.join("server.log");
    let user = format!("{}:{}", TestServer::USER, TestServer::PASS);
    let mut cmd = Command::new(bin_path("ftp-server"));
    cmd.args(["--listen", "127.0.0.1:0", "--user", &user, "--root"])
        .arg(root)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(state.join("banner")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap());
    let child = ChildGuard::spawn(&mut cmd).expect("start ftp-server");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let banner = std::fs::read_to_string(state.join("banner")).unwrap_or_default();
        if let Some(rest) = banner.split("ftp://").nth(1) {
            let addr = rest.split('/').next().unwrap().to_string();
            return LoggedServer {
                _child: child,
                addr,
                log,
            };
        }
        assert!(Instant::now() < deadline, "ftp-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The transfer-log lines of `cmd` (`RETR`, `MLSD`, …) from byte `from` of the log on.
fn logged(s: &LoggedServer, cmd: &str, from: usize) -> Vec<String> {
    let text = std::fs::read_to_string(&s.log).unwrap();
    let needle = format!(" cmd={cmd} ");
    text[from.min(text.len())..]
        .lines()
        .filter(|l| l.contains(" transfer ") && l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// `.part` files in `dir` that already hold `len` bytes.
fn full_parts(dir: &Path, len: u64) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
                .filter(|e| e.metadata().is_ok_and(|m| m.len() == len))
                .count()
        })
        .unwrap_or(0)
}

/// Complete files in `dir` (no `.part`).
fn complete_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".part")
            })
            .count()
        })
        .unwrap_or(0)
}

/// `ftp-client ARGS` in `work`, with its state (journal) under `state`.
fn client_in(work: &Path, state: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(bin_path("ftp-client"));
    cmd.args(args)
        .current_dir(work)
        .env("HOME", state)
        .env("XDG_STATE_HOME", state.join("xdg"))
        .env("FTP_PASSWORD", TestServer::PASS)
        .stdin(Stdio::null());
    cmd
}

/// Starts a mirror of `files` files and kills it once some are on disk; `None` if it finished
/// first (the caller tries again with more files).
fn killed_mirror(files: usize) -> Option<(tempfile::TempDir, LoggedServer, usize, Vec<String>)> {
    let dirs = tempfile::tempdir().unwrap();
    let (root, state, work) = (
        dirs.path().join("root"),
        dirs.path().join("state"),
        dirs.path().join("work"),
    );
    for d in [&root.join("tree"), &state, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    for i in 0..files {
        std::fs::write(
            root.join(format!("tree/f{i:04}")),
            test_bytes(20_000, i as u64),
        )
        .unwrap();
    }
    let server = start_logged(&root, &state);
    let url = format!("ftp://{}@{}/tree", TestServer::USER, server.addr);
    let args = vec![
        "-q".to_string(),
        "--retries".into(),
        "0".into(),
        "mirror".into(),
        "--json".into(),
        url,
        "dst".into(),
    ];
    let mut cmd = client_in(&work, &state, &args);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = ChildGuard::spawn(&mut cmd).expect("spawn ftp-client");
    let deadline = Instant::now() + Duration::from_secs(60);
    while complete_files(&work.join("dst")) < files / 10 {
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let _ = child.wait_timeout(Duration::from_secs(10));
    let on_disk = complete_files(&work.join("dst"));
    if on_disk >= files {
        return None;
    }
    Some((dirs, server, on_disk, args))
}

#[test]
fn a_killed_mirror_run_again_transfers_only_what_was_missing() {
    let mut found = None;
    for files in [300, 1000, 3000] {
        found = killed_mirror(files).map(|k| (files, k));
        if found.is_some() {
            break;
        }
    }
    let (files, (dirs, server, on_disk, args)) =
        found.expect("the mirror finished before it could be killed, three times");
    let work = dirs.path().join("work");
    let state = dirs.path().join("state");
    // A `.part` the killed run had received whole is renamed into place without a RETR
    // (the client counts it as transferred all the same).
    let whole_parts = full_parts(&work.join("dst"), 20_000);
    let before = std::fs::metadata(&server.log).unwrap().len() as usize;
    let out = output_within(
        &mut client_in(&work, &state, &args),
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["resumed"], true, "{v:#}");
    // The server logs a transfer after its 226, so the last line may still be on its way:
    // wait (bounded) until the log holds as many RETRs as the client made.
    let made = v["transferred"].as_u64().expect("a transferred count") as usize;
    let fetched = made - whole_parts;
    let wait_until = Instant::now() + Duration::from_secs(10);
    let mut retr = logged(&server, "RETR", before).len();
    while retr < fetched && Instant::now() < wait_until {
        std::thread::sleep(Duration::from_millis(20));
        retr = logged(&server, "RETR", before).len();
    }
    assert_eq!(fetched, retr, "{whole_parts} whole .part files; {v:#}");
    // The file in flight at the kill may have been renamed into place before the journal
    // recorded it: it is fetched again.
    let missing = files - on_disk;
    assert!(
        made == missing || made == missing + 1,
        "{made} files transferred after the restart; {missing} were missing"
    );
    assert!(
        logged(&server, "MLSD", before).is_empty() && logged(&server, "LIST", before).is_empty(),
        "the restart listed the tree again"
    );
    let want: Vec<_> = snapshot(&dirs.path().join("root/tree"))
        .into_iter()
        .map(|(n, _, b)| (n, b))
        .collect();
    let got: Vec<_> = snapshot(&work.join("dst"))
        .into_iter()
        .map(|(n, _, b)| (n, b))
        .collect();
    assert_eq!(got, want);
    // Complete now: the journal is gone, and a third run compares the trees and finds nothing.
    let out = output_within(
        &mut client_in(&work, &state, &args),
        Duration::from_secs(300),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["resumed"].clone(), v["transferred"].clone()),
        (false.into(), 0.into()),
        "{v:#}"
    );
}

#[test]
fn mirror_up_gives_uploaded_files_their_modes_with_site_chmod() {
    use integration_tests::peers::{PureFtpd, Vsftpd};
    let test = "mirror_up_gives_uploaded_files_their_modes_with_site_chmod";
    for start in [Vsftpd::start, PureFtpd::start] {
        let root = tempfile::tempdir().unwrap();
        let Some(peer) = or_skip(start(root.path()), test) else {
            return;
        };
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        for (name, mode) in [("private", 0o600), ("script", 0o755), ("plain", 0o644)] {
            std::fs::write(src.join(name), name).unwrap();
            std::fs::set_permissions(src.join(name), std::fs::Permissions::from_mode(mode))
                .unwrap();
        }
        let home = tempfile::tempdir().unwrap();
        let url = format!("ftp://{}@{}/up", peer.user, peer.addr);
        let out = output_within(
            Command::new(bin_path("ftp-client"))
                .args(["-q", "--retries", "0", "mirror", "src", &url])
                .current_dir(work.path())
                .env("HOME", home.path())
                .env("XDG_STATE_HOME", home.path())
                .env("FTP_PASSWORD", &peer.pass)
                .stdin(Stdio::null()),
            Duration::from_secs(120),
        );
        assert!(
            out.status.success(),
            "{}: {}",
            peer.name,
            String::from_utf8_lossy(&out.stderr)
        );
        for (name, mode) in [("private", 0o600), ("script", 0o755), ("plain", 0o644)] {
            let got = std::fs::metadata(peer.root.join("up").join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(got, mode, "{}: {name}", peer.name);
        }
    }
}
