//! Our `ftp-client` binary against real servers (vsftpd, pure-ftpd, ProFTPD, pyftpdlib):
//! listing, get/put byte for byte, resume both ways, and recursive mirror both ways.
//! A peer that is not installed skips its test (fails it with `FTP_INTEROP_REQUIRED=1`).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use integration_tests::peers::{Peer, ProFtpd, PureFtpd, Pyftpdlib, Vsftpd};
use integration_tests::{bin_path, or_skip, ChildGuard, Skip};

struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(peer: &Peer, cwd: &Path, args: &[&str]) -> Out {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin_path("ftp-client"));
    cmd.args(["--timeout", "20", "--retries", "0"])
        .args(args)
        .current_dir(cwd)
        .env("HOME", home.path())
        .env("FTP_PASSWORD", &peer.pass)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut cmd).expect("spawn ftp-client");
    let mut so = child.child_mut().stdout.take().unwrap();
    let mut se = child.child_mut().stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    });
    let status = child
        .wait_timeout(Duration::from_secs(120))
        .unwrap()
        .unwrap_or_else(|| panic!("{}: ftp-client {args:?} did not finish", peer.name));
    Out {
        code: status.code().unwrap_or(-1),
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

fn ok(peer: &Peer, cwd: &Path, args: &[&str]) -> Out {
    let o = run(peer, cwd, args);
    assert_eq!(
        o.code,
        0,
        "{}: ftp-client {args:?} failed:\n{}\n--- server log ---\n{}",
        peer.name,
        o.stderr,
        peer.log()
    );
    o
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + i / 977) as u8) ^ seed).collect()
}

/// Files (relative path, bytes) under `root`, directories as `dir/`.
fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for ent in std::fs::read_dir(&d).unwrap() {
            let p = ent.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.push((rel + "/", Vec::new()));
                stack.push(p);
            } else {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn world_writable(p: &Path) {
    let mode = if p.is_dir() { 0o777 } else { 0o666 };
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn works_with(name: &str, start: fn(&Path) -> Result<Peer, Skip>) {
    let test = format!("client_works_with_{name}");
    let root = tempfile::tempdir().unwrap();
    let big = fill_root(root.path());
    let Some(peer) = or_skip(start(root.path()), &test) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let t = Peered {
        peer: &peer,
        name,
        root: root.path(),
        w: work.path(),
    };
    t.lists();
    t.gets(&big);
    t.puts();
    t.mirrors();
    // A missing file is exit code 6.
    assert_eq!(
        run(&peer, t.w, &["get", &t.url("no-such-file")]).code,
        6,
        "{name}"
    );
}

/// Writes the files the peer serves into `root`: `big.bin` (returned) and the tree `tree/`.
fn fill_root(root: &Path) -> Vec<u8> {
    let big = pattern(2_500_000, 0x5a);
    std::fs::write(root.join("big.bin"), &big).unwrap();
    std::fs::create_dir_all(root.join("tree/sub dir/deeper")).unwrap();
    std::fs::write(root.join("tree/one.txt"), b"one\n").unwrap();
    std::fs::write(root.join("tree/sub dir/two words.txt"), b"two\n").unwrap();
    std::fs::write(root.join("tree/sub dir/deeper/3.bin"), pattern(70_000, 3)).unwrap();
    big
}

/// The client working in `w` against `peer`, which serves `root`.
struct Peered<'a> {
    peer: &'a Peer,
    name: &'a str,
    root: &'a Path,
    w: &'a Path,
}

impl Peered<'_> {
    fn url(&self, p: &str) -> String {
        format!("ftp://{}@{}/{p}", self.peer.user, self.peer.addr)
    }

    /// Listing: names and kinds, whatever the server's listing format.
    fn lists(&self) {
        let (peer, w, name) = (self.peer, self.w, self.name);
        let o = ok(peer, w, &["ls", "--json", &self.url("")]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.contains(r#""name":"big.bin""#), "{name}: {text}");
        assert!(text.contains(r#""size":2500000"#), "{name}: {text}");
        assert!(
            text.contains(r#""name":"tree""#) && text.contains(r#""type":"dir""#),
            "{name}: {text}"
        );
        let o = ok(peer, w, &["ls", &self.url("tree/sub dir")]);
        let mut names: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        names.sort();
        assert_eq!(names, ["deeper", "two words.txt"], "{name}");
    }

    /// get, byte for byte; then a resumed get keeps the partial file's (altered) prefix.
    fn gets(&self, big: &[u8]) {
        let (peer, w, name) = (self.peer, self.w, self.name);
        ok(peer, w, &["get", &self.url("big.bin")]);
        assert_eq!(
            std::fs::read(w.join("big.bin")).unwrap(),
            big,
            "{name}: get"
        );
        let mut partial = vec![0xEEu8; 1_000_000];
        std::fs::write(w.join(".big.bin.part"), &partial).unwrap();
        ok(
            peer,
            w,
            &["get", "-c", "-o", "big.bin", &self.url("big.bin")],
        );
        partial.extend_from_slice(&big[1_000_000..]);
        assert_eq!(
            std::fs::read(w.join("big.bin")).unwrap(),
            partial,
            "{name}: get -c"
        );
    }

    /// put, byte for byte; then a resumed put appends to the server's (altered) prefix.
    fn puts(&self) {
        let (peer, w, name) = (self.peer, self.w, self.name);
        let up = pattern(1_200_000, 0x77);
        std::fs::write(w.join("up.bin"), &up).unwrap();
        ok(peer, w, &["put", "up.bin", &self.url("")]);
        assert_eq!(
            std::fs::read(self.root.join("up.bin")).unwrap(),
            up,
            "{name}: put"
        );
        let mut prefix = vec![0x11u8; 400_000];
        let target = self.root.join("resume.bin");
        std::fs::write(&target, &prefix).unwrap();
        world_writable(&target);
        ok(peer, w, &["put", "-c", "up.bin", &self.url("resume.bin")]);
        prefix.extend_from_slice(&up[400_000..]);
        assert_eq!(std::fs::read(&target).unwrap(), prefix, "{name}: put -c");
    }

    /// Recursive mirror down, then up into a new directory; a second mirror up has nothing
    /// to do.
    fn mirrors(&self) {
        let (peer, w, name) = (self.peer, self.w, self.name);
        ok(
            peer,
            w,
            &["mirror", "-P", "2", &self.url("tree"), "tree-copy"],
        );
        assert_eq!(
            tree(&w.join("tree-copy")),
            tree(&self.root.join("tree")),
            "{name}: mirror down"
        );
        ok(peer, w, &["mirror", "tree-copy", &self.url("tree-up")]);
        assert_eq!(
            tree(&self.root.join("tree-up")),
            tree(&w.join("tree-copy")),
            "{name}: mirror up"
        );
        let o = ok(
            peer,
            w,
            &["mirror", "--dry-run", "tree-copy", &self.url("tree-up")],
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "",
            "{name}: second mirror is a no-op"
        );
    }
}

#[test]
fn client_works_with_vsftpd() {
    works_with("vsftpd", Vsftpd::start);
}

#[test]
fn client_works_with_pure_ftpd() {
    works_with("pure-ftpd", PureFtpd::start);
}

#[test]
fn client_works_with_proftpd() {
    works_with("proftpd", ProFtpd::start);
}

#[test]
fn client_works_with_pyftpdlib() {
    works_with("pyftpdlib", Pyftpdlib::start);
}
