//! The shell's lftp-style commands against our server, driven by scripts on stdin: `mirror`
//! on the open connection, the local side (`!`, `lls`, `lmkdir`), `pget` (100 MiB, killed
//! and resumed), `rm -r`, `mrm`, `du`, `find`, globs, `chmod`, `set`, bookmarks, `-c` and
//! `source` scripts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::peers::Pyftpdlib;
use integration_tests::{bin_path, or_skip, output_fed, test_bytes, ChildGuard, TestServer};

/// A server, a local working directory and a home (bookmarks, history) for one test.
struct Env {
    server: TestServer,
    work: tempfile::TempDir,
    home: tempfile::TempDir,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Env {
    fn new() -> Env {
        Env {
            server: TestServer::start(),
            work: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url_with_login())
    }

    fn local(&self, p: &str) -> PathBuf {
        self.work.path().join(p)
    }

    fn client(&self) -> Command {
        let mut cmd = Command::new(bin_path("ftp-client"));
        cmd.args(["--timeout", "20"])
            .current_dir(self.work.path())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("NO_COLOR", "1")
            .env_remove("FTP_PASSWORD")
            .env_remove("RUST_LOG");
        cmd
    }

    /// `ftp-client args`, reading `script` on stdin.
    fn run(&self, args: &[&str], script: &str) -> Out {
        let file = self.home.path().join("script.in");
        std::fs::write(&file, script).unwrap();
        let input = std::fs::File::open(&file).unwrap();
        let o = output_fed(self.client().args(args), input, Duration::from_secs(120));
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// The shell on the server's root, reading `script` on stdin; it must succeed.
    fn shell_ok(&self, script: &str) -> Out {
        let o = self.run(&["shell", &self.url("")], script);
        assert_eq!(o.code, 0, "script:\n{script}\nstderr:\n{}", o.stderr);
        o
    }
}

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

#[test]
fn shell_runs_local_commands_on_the_local_side() {
    let e = Env::new();
    write(e.work.path(), "one.txt", b"1");
    let o = e.shell_ok(
        "lmkdir -p made/deeper\nlmkdir single\nlls\nlls *.txt\n!echo from-the-shell > bang.txt\n\
         ! exit 0\nlcd made\nlpwd\n",
    );
    assert!(e.local("made/deeper").is_dir() && e.local("single").is_dir());
    assert_eq!(
        std::fs::read_to_string(e.local("bang.txt")).unwrap(),
        "from-the-shell\n"
    );
    assert!(
        o.stdout.contains("one.txt") && o.stdout.contains("single"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.trim_end().ends_with("/made"), "{}", o.stdout);
    let o = e.run(&["shell", &e.url("")], "!exit 3\n");
    assert_eq!(o.code, 7, "a failing local command fails: {}", o.stderr);
    assert!(o.stderr.contains("exit status 3"), "{}", o.stderr);
}

#[test]
fn shell_mirror_runs_on_the_open_connection_with_the_subcommands_options() {
    let e = Env::new();
    write(e.server.root.path(), "site/a.txt", b"alpha");
    write(e.server.root.path(), "site/sub/b.txt", b"beta");
    write(e.work.path(), "up/c.txt", b"gamma");
    write(e.work.path(), "up/d/e.txt", b"epsilon");
    let o = e.shell_ok(
        "cd site\nmirror -P 2 . copy\nmirror --dry-run --json . copy\ncd /\n\
         mirror -R up remote-up\nmirror --help\n",
    );
    assert_eq!(std::fs::read(e.local("copy/a.txt")).unwrap(), b"alpha");
    assert_eq!(std::fs::read(e.local("copy/sub/b.txt")).unwrap(), b"beta");
    assert_eq!(
        std::fs::read(e.server.path("remote-up/d/e.txt")).unwrap(),
        b"epsilon"
    );
    assert!(o.stdout.contains("\"actions\":0"), "{}", o.stdout);
    assert!(
        o.stdout.contains("--only-newer"),
        "mirror --help: {}",
        o.stdout
    );

    // --delete, and DST defaulting to SRC's last component.
    std::fs::remove_file(e.server.path("site/a.txt")).unwrap();
    e.shell_ok("lcd copy\nmirror --delete site .\n");
    assert!(!e.local("copy/a.txt").exists() && e.local("copy/sub/b.txt").exists());
    e.shell_ok("mirror site site\n");
    assert!(e.local("site/sub/b.txt").exists());

    let o = e.run(&["shell", &e.url("")], "mirror --no-such-option site x\n");
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--no-such-option"), "{}", o.stderr);
}

#[test]
fn shell_removes_trees_and_globs_and_sizes_them_up() {
    let e = Env::new();
    let root = e.server.root.path();
    write(root, "tree/a/one.bin", &[1; 1000]);
    write(root, "tree/a/b/two.bin", &[2; 2000]);
    write(root, "tree/three.bin", &[3; 500]);
    write(root, "logs/x.log", b"x");
    write(root, "logs/y.log", b"y");
    write(root, "logs/keep.txt", b"k");
    write(root, "docs/p.txt", b"p");
    write(root, "docs/q.txt", b"q");
    write(root, "docs/r.dat", b"r");
    std::fs::create_dir(e.local("into")).unwrap();
    let o = e.shell_ok(
        "du tree\ndu -s tree\ndu -sh tree\nfind tree\ndu tree/three.bin\nfind docs/p.txt\n\
         get docs/*.txt into\nmkdir moved\n\
         mv docs/*.dat moved\nmrm logs/*.log\nrm -r tree\nls logs\n",
    );
    let out = &o.stdout;
    for line in ["2000\ttree/a/b", "3000\ttree/a", "3500\ttree"] {
        assert!(out.lines().any(|l| l == line), "du: {line} in\n{out}");
    }
    assert!(out.lines().any(|l| l == "3.4K\ttree"), "du -sh:\n{out}");
    assert!(
        out.lines().any(|l| l == "500\ttree/three.bin"),
        "du FILE:\n{out}"
    );
    assert!(out.lines().any(|l| l == "docs/p.txt"), "find FILE:\n{out}");
    let found: Vec<&str> = out.lines().filter(|l| l.starts_with("tree/")).collect();
    assert_eq!(
        found,
        [
            "tree/",
            "tree/a/",
            "tree/a/b/",
            "tree/a/b/two.bin",
            "tree/a/one.bin",
            "tree/three.bin"
        ],
        "find"
    );
    assert_eq!(std::fs::read(e.local("into/p.txt")).unwrap(), b"p");
    assert_eq!(std::fs::read(e.local("into/q.txt")).unwrap(), b"q");
    assert!(!e.local("into/r.dat").exists());
    assert!(e.server.path("moved/r.dat").exists() && !e.server.path("docs/r.dat").exists());
    assert!(!root.join("tree").exists(), "rm -r");
    assert!(!root.join("logs/x.log").exists() && !root.join("logs/y.log").exists());
    assert!(out.contains("keep.txt"), "{out}");

    let o = e.run(&["shell", &e.url("")], "rm docs\nmrm *.none\nrm -x f\n");
    assert_eq!(o.code, 2, "the last failure is a usage error: {}", o.stderr);
    assert!(o.stderr.contains("*.none: no match"), "{}", o.stderr);
    assert!(
        e.server.path("docs/p.txt").exists(),
        "rm without -r keeps a directory"
    );
}

#[test]
fn set_changes_the_settings_and_status_shows_them() {
    let e = Env::new();
    let o = e.shell_ok(
        "set timeout 7.5\nset retries 0\nset passive off\nset ascii on\nset keepalive 0\n\
         set parallel 3\nset fail-exit off\nstatus\nset\nset ascii\n",
    );
    assert!(
        o.stdout.contains(
            "Settings: timeout 7.5, retries 0, passive off, ascii on, keepalive 0, \
             parallel 3, fail-exit off."
        ),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("Mode: active; type: ascii"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.lines().any(|l| l == "parallel 3"), "{}", o.stdout);
    for bad in [
        "set parallel 99",
        "set timeout 0",
        "set nosuch 1",
        "set passive maybe",
    ] {
        let o = e.run(&["shell", &e.url("")], &format!("{bad}\n"));
        assert_eq!(o.code, 2, "{bad}: {}", o.stderr);
    }
}

#[test]
fn bookmarks_keep_no_password_and_open_by_name() {
    let e = Env::new();
    std::fs::create_dir(e.server.path("pub")).unwrap();
    write(e.server.root.path(), "pub/file.txt", b"bookmarked");
    let o = e.shell_ok(&format!(
        "cd pub\nbookmark add here\nbookmark add other {}\nbookmark list\n",
        e.url("")
    ));
    assert!(o.stdout.contains("here\tftp://alice@"), "{}", o.stdout);
    let file = e.home.path().join("config/ftp-client/bookmarks.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("[bookmark.here]") && !text.contains("secret"),
        "{text}"
    );

    // The password comes from FTP_PASSWORD (or netrc, or a prompt).
    let mut cmd = e.client();
    cmd.env("FTP_PASSWORD", TestServer::PASS).arg("here");
    std::fs::write(e.home.path().join("script.in"), "pwd\nget file.txt\n").unwrap();
    let input = std::fs::File::open(e.home.path().join("script.in")).unwrap();
    let o = output_fed(&mut cmd, input, Duration::from_secs(60));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "/pub");
    assert_eq!(std::fs::read(e.local("file.txt")).unwrap(), b"bookmarked");

    let o = e.run(&["shell"], "bookmark del other\nbookmark list\n");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stdout.contains("other\t"), "{}", o.stdout);
    let o = e.run(&["shell"], "bookmark del other\n");
    assert_eq!(o.code, 6, "{}", o.stderr);
    let o = e.run(&["shell"], "bookmark add 'bad name' ftp://h/\n");
    assert_eq!(o.code, 2, "{}", o.stderr);
}

#[test]
fn scripts_stop_at_the_first_failure_unless_told_to_keep_going() {
    let e = Env::new();
    write(e.server.root.path(), "pub/a.iso", b"a");
    write(e.server.root.path(), "pub/b.iso", b"b");
    let cmds = format!("open {}; cd pub; mget *.iso", e.url(""));
    let o = e.run(&["-c", &cmds], "");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(e.local("a.iso").exists() && e.local("b.iso").exists());

    let o = e.run(
        &["-c", &format!("open {}; get missing; pwd", e.url(""))],
        "",
    );
    assert_eq!(o.code, 6, "the failure's exit code: {}", o.stderr);
    assert!(o.stdout.is_empty(), "pwd did not run: {}", o.stdout);
    let o = e.run(&["-c", "get missing; pwd", "--keep-going", &e.url("")], "");
    assert_eq!((o.code, o.stdout.trim()), (6, "/"), "{}", o.stderr);

    write(
        e.work.path(),
        "s.ftp",
        b"# a script\ncd pub\nget nothing\nlmkdir after\n",
    );
    let o = e.run(&["shell", &e.url("")], "source s.ftp\nlmkdir next\n");
    assert_eq!(o.code, 6, "{}", o.stderr);
    assert!(
        !e.local("after").exists(),
        "source stops at the failing line"
    );
    assert!(e.local("next").exists(), "stdin goes on after it");
    e.run(&["shell", &e.url("")], "set fail-exit off\nsource s.ftp\n");
    assert!(
        e.local("after").exists(),
        "fail-exit off: the rest of the file runs"
    );
    write(e.work.path(), "loop.ftp", b"source loop.ftp\n");
    let o = e.run(&["shell", &e.url("")], "source loop.ftp\n");
    assert_eq!(o.code, 2, "{}", o.stderr);
}

#[test]
fn chmod_sends_site_chmod_and_refuses_a_bad_mode() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    write(e.server.root.path(), "f.txt", b"f");
    let o = e.run(&["shell", &e.url("")], "chmod 640 f.txt\nchmod 9z f.txt\n");
    assert_eq!(o.code, 2, "a bad mode is a usage error: {}", o.stderr);
    let mode = std::fs::metadata(e.server.root.path().join("f.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640, "our server's SITE CHMOD: {}", o.stderr);

    let Some(root) = or_skip(
        integration_tests::python_module("pyftpdlib").map(|_| tempfile::tempdir().unwrap()),
        "chmod_sends_site_chmod_and_refuses_a_bad_mode",
    ) else {
        return;
    };
    write(root.path(), "g.txt", b"g");
    write(root.path(), "h.txt", b"h");
    let Some(peer) = or_skip(Pyftpdlib::start(root.path()), "chmod (pyftpdlib)") else {
        return;
    };
    let url = peer
        .url()
        .replacen("ftp://", &format!("ftp://{}@", peer.userpass()), 1);
    let o = e.run(&["shell", &url], "chmod 600 *.txt\n");
    assert_eq!(o.code, 0, "{}", o.stderr);
    for f in ["g.txt", "h.txt"] {
        let mode = std::fs::metadata(root.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
}

/// The bytes a progress file records as on disk (`seg START NEXT END` lines).
fn recorded(state: &Path) -> u64 {
    let text = std::fs::read_to_string(state).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let v: Vec<u64> = l
                .strip_prefix("seg ")?
                .split(' ')
                .filter_map(|n| n.parse().ok())
                .collect();
            Some(v.get(1)? - v.first()?)
        })
        .sum()
}

#[test]
fn pget_of_100_mib_is_byte_identical_and_resumes_after_a_kill() {
    let e = Env::new();
    let data = test_bytes(100 << 20, 20);
    std::fs::write(e.server.path("big.bin"), &data).unwrap();
    e.shell_ok("pget -n 4 big.bin\n");
    assert!(
        std::fs::read(e.local("big.bin")).unwrap() == data,
        "pget copy differs"
    );
    std::fs::remove_file(e.local("big.bin")).unwrap();

    // The one-shot form, killed once its progress file shows some bytes.
    let url = e.url("big.bin");
    let mut cmd = e.client();
    cmd.args(["get", "--segments", "4", &url])
        .stderr(std::process::Stdio::null());
    let mut child = ChildGuard::spawn(&mut cmd).unwrap();
    let state = e.local(".big.bin.part.segments");
    let deadline = Instant::now() + Duration::from_secs(60);
    while recorded(&state) == 0 && child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no progress in 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.child_mut().kill();
    child.wait_timeout(Duration::from_secs(10)).unwrap();
    let kept = recorded(&state);
    eprintln!("killed with {kept} bytes recorded");
    if kept == 0 || kept == data.len() as u64 {
        eprintln!("note: the download ended before the kill; resuming from {kept} bytes");
    }
    let o = output_fed(
        e.client().args(["get", "-c", "--segments", "4", &url]),
        std::process::Stdio::null(),
        Duration::from_secs(120),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read(e.local("big.bin")).unwrap() == data,
        "resumed copy differs"
    );
    assert!(!state.exists() && !e.local(".big.bin.part").exists());
}

/// Leaves what a `pget` of `name` (`size` bytes, on the server) killed half way leaves:
/// range 0 done up to byte 1000, range 1 done, its bytes on disk marked `M` (so a fetch
/// again would show). Returns the server's bytes.
fn killed_pget(e: &Env, name: &str, size: u64) -> Vec<u8> {
    let data = test_bytes(size as usize, 21);
    std::fs::write(e.server.path(name), &data).unwrap();
    let mut part = vec![0u8; size as usize];
    let half = size / 2;
    part[..1000].copy_from_slice(&data[..1000]);
    part[half as usize..].fill(b'M');
    std::fs::write(e.local(&format!(".{name}.part")), &part).unwrap();
    let mtime = std::fs::metadata(e.server.path(name))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let state = format!(
        "ftp-client segments 1\nsize {size:020}\nmtime {mtime:>20}\n\
         seg {:020} {:020} {half:020}\nseg {half:020} {size:020} {size:020}\n",
        0, 1000
    );
    std::fs::write(e.local(&format!(".{name}.part.segments")), state).unwrap();
    data
}

#[test]
fn pget_resume_keeps_the_ranges_already_on_disk() {
    let e = Env::new();
    let size: u64 = 4 << 20;
    let half = size / 2;
    let data = killed_pget(&e, "r.bin", size);
    e.shell_ok("pget -c r.bin\n");
    let got = std::fs::read(e.local("r.bin")).unwrap();
    assert!(
        got[..half as usize] == data[..half as usize],
        "range 0 completed"
    );
    assert!(
        got[half as usize..].iter().all(|b| *b == b'M'),
        "range 1 not fetched again"
    );

    // Small files take one stream and leave no progress file.
    std::fs::write(e.server.path("small.bin"), b"tiny").unwrap();
    e.shell_ok("pget -n 8 small.bin\n");
    assert_eq!(std::fs::read(e.local("small.bin")).unwrap(), b"tiny");
    assert!(!e.local(".small.bin.part.segments").exists());
}

#[test]
fn a_one_stream_resume_after_a_killed_pget_fetches_its_gaps() {
    let e = Env::new();
    let data = killed_pget(&e, "g.bin", 4 << 20);
    e.shell_ok("reget g.bin\n");
    assert!(
        std::fs::read(e.local("g.bin")).unwrap() == data,
        "holes left in the file"
    );
    assert!(!e.local(".g.bin.part.segments").exists());
}

#[test]
fn pget_takes_one_stream_from_a_server_without_rest_stream() {
    use integration_tests::hostile::{HostileServer, Name};
    // The fake server announces no REST STREAM and dribbles a 1 GB file slowly.
    let fake = HostileServer::start_with(vec![Name::file("slow.bin")], true);
    let e = Env::new();
    let url = format!("{}slow.bin", fake.url());
    let mut cmd = e.client();
    cmd.args(["get", "--segments", "4", &url])
        .stderr(std::process::Stdio::null());
    let mut child = ChildGuard::spawn(&mut cmd).unwrap();
    let retrs = || {
        fake.commands()
            .iter()
            .filter(|c| c.starts_with("RETR"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while retrs() == 0 {
        assert!(Instant::now() < deadline, "no RETR: {:?}", fake.commands());
        std::thread::sleep(Duration::from_millis(20));
    }
    // Ranges would all have started by now (a lower bound: one stream never fails this).
    std::thread::sleep(Duration::from_secs(1));
    let _ = child.child_mut().kill();
    child.wait_timeout(Duration::from_secs(10)).unwrap();
    let commands = fake.commands();
    assert_eq!(retrs(), 1, "{commands:?}");
    assert!(
        !commands.iter().any(|c| c.starts_with("REST")),
        "{commands:?}"
    );
    assert!(!e.local(".slow.bin.part.segments").exists());
}

#[test]
fn segmented_downloads_work_over_strict_ftps() {
    // TLS login, PROT P and TLS session reuse required; every range ends with ABOR on its
    // own TLS data connection.
    let t = integration_tests::TlsServer::strict();
    let data = test_bytes(8 << 20, 22);
    std::fs::write(t.server.path("s.bin"), &data).unwrap();
    let work = tempfile::tempdir().unwrap();
    let url = format!(
        "ftpes://{}:{}@127.0.0.1:{}/s.bin",
        TestServer::USER,
        TestServer::PASS,
        t.port(false)
    );
    let o = integration_tests::ftp_client_tls(
        &t.ca_file,
        None,
        &["get", "--segments", "4", &url],
        work.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(work.path().join("s.bin")).unwrap() == data);
}

#[test]
fn pget_works_against_pyftpdlib() {
    let test = "pget_works_against_pyftpdlib";
    let Some(root) = or_skip(
        integration_tests::python_module("pyftpdlib").map(|_| tempfile::tempdir().unwrap()),
        test,
    ) else {
        return;
    };
    let data = test_bytes(6 << 20, 23);
    std::fs::write(root.path().join("p.bin"), &data).unwrap();
    let Some(peer) = or_skip(Pyftpdlib::start(root.path()), test) else {
        return;
    };
    let e = Env::new();
    let url = peer
        .url()
        .replacen("ftp://", &format!("ftp://{}@", peer.userpass()), 1);
    let o = e.run(&["shell", &url], "pget -n 3 p.bin\n");
    assert_eq!(o.code, 0, "{}\n{}", o.stderr, peer.log());
    assert!(std::fs::read(e.local("p.bin")).unwrap() == data);
}
