//! Faults the server must survive, each through the real server: a full disk (a small tmpfs,
//! mounted when the tests run as root), a directory made unreadable under a running server,
//! the served root removed or replaced, a client that stops reading a download, and a
//! `kill -9` in the middle of an upload. After each: a clear reply, nothing partial on disk,
//! and a session that goes on.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use ftp_server::User;

/// True when running as root; otherwise prints why `test` is skipped.
fn root_or_skip(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("notice: {test} skipped: mounting a tmpfs needs root (CI runs as root)");
    }
    root
}

/// A tmpfs mounted on a temporary directory for one test, unmounted when dropped (also when
/// the test fails: lazily, should something still use it).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` (`size=…,nr_inodes=…`); `None` (with a notice) when the
    /// mount is refused, unless `FTP_INTEROP_REQUIRED` says everything must run.
    fn mount(options: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("FTP_INTEROP_REQUIRED").is_none(),
                "mount -t tmpfs failed"
            );
            eprintln!("notice: mount -t tmpfs failed; test skipped");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Free bytes on the filesystem.
    fn free(&self) -> u64 {
        let st = rustix::fs::statvfs(self.path()).unwrap();
        st.f_bavail * st.f_frsize
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        }
    }
}

/// A server whose only user alice has all permissions on `home`.
fn serve(home: &Path) -> Srv {
    let home = home.to_path_buf();
    Srv::start_with(move |c| c.users = vec![User::new(USER, PASS, home)])
}

fn code(r: &ftp_proto::Reply) -> u16 {
    r.code().as_u16()
}

/// Sends an upload of `len` bytes with `line` and returns the final reply, whether it came
/// before (the command itself refused) or after the data.
fn upload_len(c: &mut Ctl, line: &str, len: usize) -> ftp_proto::Reply {
    let mut d = c.epsv();
    let r = c.cmd(line);
    if code(&r) != 150 {
        return r;
    }
    let chunk = vec![0x5au8; 64 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        if d.write_all(&chunk[..n]).is_err() {
            break;
        }
        sent += n;
    }
    let _ = d.shutdown(Shutdown::Write);
    drop(d);
    c.reply()
}

#[test]
fn stor_on_a_full_disk_answers_452_and_leaves_nothing_partial() {
    if !root_or_skip("stor_on_a_full_disk_answers_452_and_leaves_nothing_partial") {
        return;
    }
    let Some(fs) = Tmpfs::mount("size=1m,mode=0755") else {
        return;
    };
    let old: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    std::fs::write(fs.path().join("f.bin"), &old).unwrap();
    let free = fs.free();
    let srv = serve(fs.path());
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    for name in ["f.bin", "new.bin"] {
        let r = upload_len(&mut c, &format!("STOR {name}"), 4 << 20);
        assert!(matches!(code(&r), 452 | 552), "STOR {name} -> {r}");
        assert_eq!(dir_names(fs.path()), ["f.bin"]);
        assert_eq!(std::fs::read(fs.path().join("f.bin")).unwrap(), old);
        // The space of the cut-off upload is given back.
        eventually("space returned", || fs.free() == free);
    }
    c.expect("NOOP", 200);
    assert_eq!(code(&upload_len(&mut c, "STOR small", 1000)), 226);
    assert_eq!(dir_names(fs.path()), ["f.bin", "small"]);
}

#[test]
fn mkd_stor_and_rnto_out_of_inodes_answer_452_and_change_nothing() {
    if !root_or_skip("mkd_stor_and_rnto_out_of_inodes_answer_452_and_change_nothing") {
        return;
    }
    // The root directory takes one inode, a.txt another: then it is full.
    let Some(fs) = Tmpfs::mount("size=1m,nr_inodes=3,mode=0755") else {
        return;
    };
    std::fs::write(fs.path().join("a.txt"), b"alpha").unwrap();
    let mut n = 0;
    while std::fs::write(fs.path().join(format!("fill{n}")), b"").is_ok() && n < 100 {
        n += 1;
    }
    let before = dir_names(fs.path());
    let srv = serve(fs.path());
    let mut c = srv.login();
    let r = c.cmd("MKD d");
    assert!(matches!(code(&r), 452 | 552), "MKD -> {r}");
    let r = upload_len(&mut c, "STOR b.txt", 10);
    assert!(matches!(code(&r), 452 | 552), "STOR -> {r}");
    assert_eq!(dir_names(fs.path()), before);
    // A rename needs no new inode here; whatever its outcome, the file is whole under
    // exactly one of the names.
    c.expect("RNFR a.txt", 350);
    let r = c.cmd("RNTO a-much-longer-name-than-before.txt");
    assert!(matches!(code(&r), 250 | 452 | 552), "RNTO -> {r}");
    let (old, new) = ("a.txt", "a-much-longer-name-than-before.txt");
    let (now, gone) = if code(&r) == 250 {
        (new, old)
    } else {
        (old, new)
    };
    let names = dir_names(fs.path());
    assert!(names.iter().any(|n| n == now) && !names.iter().any(|n| n == gone));
    assert_eq!(std::fs::read(fs.path().join(now)).unwrap(), b"alpha");
    // Space freed: the same session goes on.
    c.expect("DELE fill0", 250);
    c.expect("MKD d", 257);
}

/// The ftp-server binary, started by this test (and killed by pid when dropped).
struct Daemon {
    child: Child,
    addr: SocketAddr,
    /// Where the binary is linked for another user (the build directory may be private).
    _exe: Option<tempfile::TempDir>,
}

impl Daemon {
    /// Serves `root` to alice on a loopback port, as the user `uid` when given.
    fn start(root: &Path, uid: Option<u32>) -> Daemon {
        use std::os::unix::process::CommandExt;
        let bin = Path::new(env!("CARGO_BIN_EXE_ftp-server"));
        let exe = uid.map(|_| tempfile::tempdir().unwrap());
        let mut cmd = match &exe {
            Some(dir) => {
                std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o755)).unwrap();
                let linked = dir.path().join("ftp-server");
                if std::fs::hard_link(bin, &linked).is_err() {
                    std::fs::copy(bin, &linked).unwrap();
                }
                Command::new(linked)
            }
            None => Command::new(bin),
        };
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--user",
            "alice:secret",
            "--root",
        ])
        .arg(root)
        .args(["--data-timeout", "2s", "--max-sessions-per-ip", "1000"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
        if let Some(id) = uid {
            cmd.uid(id).gid(id).current_dir(root);
        }
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("the server did not say where it listens");
            if let Some(rest) = line.split("ftp://").nth(1) {
                break rest.trim_end_matches('/').parse().unwrap();
            }
        };
        Daemon {
            child,
            addr,
            _exe: exe,
        }
    }

    fn login(&self) -> Ctl {
        let mut c = Ctl::connect(self.addr);
        c.login(USER, PASS);
        c
    }

    /// `kill -9` of the server process, and wait for it.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Descriptors of process `pid` open on anonymous (`O_TMPFILE`) files in `dir`.
fn anonymous_files(pid: u32, dir: &Path) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.starts_with(dir) && t.to_string_lossy().ends_with(" (deleted)"))
        .count()
}

#[test]
fn kill_9_during_a_stor_leaves_no_debris_and_the_old_file() {
    let root = tempfile::tempdir().unwrap();
    let old: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.path().join("big.bin"), &old).unwrap();
    let mut server = Daemon::start(root.path(), None);
    let mut c = server.login();
    c.expect("TYPE I", 200);
    for name in ["big.bin", "fresh.bin"] {
        let mut d = c.epsv();
        c.expect(&format!("STOR {name}"), 150);
        let chunk = vec![7u8; 1 << 20];
        d.write_all(&chunk).unwrap();
        // The upload is under way: written to a file with no name in the directory.
        let pid = server.child.id();
        eventually("upload in progress", || {
            anonymous_files(pid, root.path()) > 0
        });
        assert_eq!(dir_names(root.path()), ["big.bin"]);
        // Cut off with a TCP reset: the upload fails and is discarded.
        rustix::net::sockopt::set_socket_linger(&d, Some(Duration::ZERO)).unwrap();
        drop(d);
        let r = c.reply();
        assert_eq!(code(&r), 426, "{r}");
        c = server.login();
        c.expect("TYPE I", 200);
    }
    // Now cut the next one off with kill -9.
    let mut d = c.epsv();
    c.expect("STOR big.bin", 150);
    d.write_all(&vec![9u8; 4 << 20]).unwrap();
    let pid = server.child.id();
    eventually("upload in progress", || {
        anonymous_files(pid, root.path()) > 0
    });
    server.kill9();
    drop((c, d));
    let server = Daemon::start(root.path(), None);
    assert_eq!(dir_names(root.path()), ["big.bin"]);
    assert_eq!(std::fs::read(root.path().join("big.bin")).unwrap(), old);
    let mut c = server.login();
    assert_eq!(code(&upload_len(&mut c, "STOR after.bin", 5000)), 226);
    assert_eq!(dir_names(root.path()), ["after.bin", "big.bin"]);
}

#[test]
fn an_unreadable_directory_answers_550_and_the_session_goes_on() {
    // Root bypasses permission bits: as root, the server runs as `nobody` (65534).
    let as_root = rustix::process::geteuid().is_root();
    let uid = as_root.then_some(65534);
    let root = tempfile::tempdir().unwrap();
    let p = |n: &str| root.path().join(n);
    std::fs::create_dir(p("sub")).unwrap();
    std::fs::write(p("sub/f"), b"inside").unwrap();
    std::fs::write(p("g"), b"top").unwrap();
    if let Some(id) = uid {
        for n in ["", "sub", "sub/f", "g"] {
            std::os::unix::fs::chown(p(n), Some(id), Some(id)).unwrap();
        }
    }
    let server = Daemon::start(root.path(), uid);
    let mut c = server.login();
    assert!(c.text("NLST sub").contains("f"));
    let mode = |n: &str, m: u32| std::fs::set_permissions(p(n), PermissionsExt::from_mode(m));
    mode("sub", 0o000).unwrap();
    mode("g", 0o000).unwrap();
    let d = c.epsv();
    let r = c.cmd("LIST sub");
    assert_eq!(code(&r), 550, "LIST -> {r}");
    drop(d);
    for line in ["SIZE sub/f", "MKD sub/x", "DELE sub/f", "RNFR sub/f"] {
        c.expect(line, 550);
    }
    for line in ["RETR sub/f", "RETR g"] {
        let d = c.epsv();
        let r = c.cmd(line);
        assert_eq!(code(&r), 550, "{line} -> {r}");
        drop(d);
    }
    let r = upload_len(&mut c, "STOR sub/new", 10);
    assert_eq!(code(&r), 550, "STOR -> {r}");
    c.expect("NOOP", 200);
    mode("sub", 0o755).unwrap();
    mode("g", 0o644).unwrap();
    assert!(c.text("NLST sub").contains("f"));
    assert_eq!(c.download("RETR g").0, b"top");
    assert_eq!(dir_names(&p("sub")), ["f"]);
}

#[test]
fn a_removed_root_answers_451_and_is_served_again_when_it_is_back() {
    let parent = tempfile::tempdir().unwrap();
    let home: PathBuf = parent.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("a"), b"first").unwrap();
    let srv = serve(&home);
    let mut c = srv.login();
    c.expect("SIZE a", 213);
    std::fs::remove_dir_all(&home).unwrap();
    eventually_slow("451 once the root is gone", || {
        code(&c.cmd("SIZE a")) == 451
    });
    for line in ["MKD x", "DELE a", "CWD /x", "MDTM a"] {
        let r = c.cmd(line);
        assert_eq!(code(&r), 451, "{line} -> {r}");
    }
    let r = upload_len(&mut c, "STOR b", 10);
    assert_eq!(code(&r), 451, "STOR -> {r}");
    // Nothing escaped into the parent directory.
    assert_eq!(dir_names(parent.path()), Vec::<String>::new());
    c.expect("PWD", 257);
    // Back: the same session is served from the new directory.
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("c"), b"again").unwrap();
    eventually_slow("served again", || code(&c.cmd("SIZE c")) == 213);
    assert_eq!(code(&upload_len(&mut c, "STOR d", 3)), 226);
    assert_eq!(dir_names(&home), ["c", "d"]);
    // Replaced by another directory: that one is served.
    std::fs::rename(&home, parent.path().join("old")).unwrap();
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("e"), b"third").unwrap();
    eventually_slow("the new directory served", || code(&c.cmd("SIZE e")) == 213);
    c.expect("SIZE c", 550);
}

/// [`eventually`] for conditions that take seconds (the root is checked once a second).
fn eventually_slow(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..50 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for: {what}");
}

#[test]
fn a_download_to_a_client_that_stops_reading_ends_at_the_data_timeout() {
    let srv = Srv::start_with(|c| c.data_timeout = Duration::from_secs(1));
    sparse(&srv.path("big"), 256 << 20);
    for ty in ["TYPE I", "TYPE A"] {
        let mut c = srv.login();
        c.expect(ty, 200);
        let d = c.epsv();
        let started = Instant::now();
        c.expect("RETR big", 150);
        // Not a byte read: the server's writes stall once the socket buffers are full.
        let r = c.reply();
        assert_eq!(code(&r), 426, "{ty}: {r}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(8), "{ty}: ended after {took:?}");
        c.expect("NOOP", 200);
        drop(d);
    }
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// What one stalled download may hold in the server, at most: a read buffer of 256 KiB and
/// the `TYPE A` conversion's buffer, with room for the allocator.
const STALLED_DOWNLOAD_KIB: u64 = 1024;

#[test]
fn a_hundred_stalled_downloads_hold_bounded_memory_and_all_end() {
    const N: usize = 100;
    let root = tempfile::tempdir().unwrap();
    sparse(&root.path().join("big"), 64 << 20);
    sparse(&root.path().join("small"), 1 << 20);
    let server = Daemon::start(root.path(), None);
    let pid = server.child.id();
    // Warm up: one whole download in each type.
    for ty in ["TYPE I", "TYPE A"] {
        let mut c = server.login();
        c.expect(ty, 200);
        assert_eq!(c.download("RETR small").1.code().as_u16(), 226);
    }
    let before = rss_kib(pid);
    let mut stalled = Vec::new();
    for i in 0..N {
        let mut c = server.login();
        c.expect(if i % 2 == 0 { "TYPE A" } else { "TYPE I" }, 200);
        let d = c.epsv();
        c.expect("RETR big", 150);
        stalled.push((c, d));
    }
    let during = rss_kib(pid);
    eprintln!("RSS {before} KiB before, {during} KiB with {N} stalled downloads");
    assert!(
        during.saturating_sub(before) < N as u64 * STALLED_DOWNLOAD_KIB,
        "RSS grew from {before} to {during} KiB"
    );
    for (c, _) in &mut stalled {
        let r = c.reply();
        assert_eq!(r.code().as_u16(), 426, "{r}");
    }
    server.login().expect("NOOP", 200);
}

#[test]
fn stale_upload_temporaries_are_swept_when_the_server_starts() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("sub")).unwrap();
    // Debris of an older version or another filesystem: an unlocked temporary, 2 hours old.
    let stale = home.path().join("sub/.f.bin.ftp-upload-eea0d098a900d2fa");
    std::fs::write(&stale, b"cut off").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    let f = std::fs::File::options().write(true).open(&stale).unwrap();
    f.set_modified(two_hours_ago).unwrap();
    drop(f);
    // A fresh one could belong to an upload that is just starting: kept.
    let fresh = home.path().join(".g.ftp-upload-0123456789abcdef");
    std::fs::write(&fresh, b"new").unwrap();
    let srv = serve(home.path());
    eventually("stale temporary removed", || !stale.exists());
    assert!(fresh.exists());
    srv.login().expect("NOOP", 200);
}
