//! The `ftp-client` binary against our server: every subcommand, mirror both ways, exit codes,
//! credentials and the shell driven through piped stdin.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::hostile::{HostileServer, Name};
use integration_tests::{bin_path, ChildGuard, TestServer};

struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `ftp-client args` in `cwd` with HOME = `home`, stdin null (or `input`), 60 s limit.
fn run_in(
    cwd: &Path,
    home: &Path,
    args: &[&str],
    input: Option<&[u8]>,
    env: &[(&str, &str)],
) -> Out {
    let mut cmd = Command::new(bin_path("ftp-client"));
    cmd.args(["--timeout", "10"])
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("FTP_PASSWORD")
        .env_remove("RUST_LOG")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = ChildGuard::spawn(&mut cmd).expect("spawn ftp-client");
    if let Some(input) = input {
        let mut stdin = child.child_mut().stdin.take().unwrap();
        stdin.write_all(input).unwrap();
    }
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
        .wait_timeout(Duration::from_secs(60))
        .unwrap()
        .unwrap_or_else(|| panic!("ftp-client {args:?} did not finish in 60 s"));
    Out {
        code: status.code().unwrap_or(-1),
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

struct Env {
    server: TestServer,
    work: tempfile::TempDir,
    home: tempfile::TempDir,
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
    fn run(&self, args: &[&str]) -> Out {
        run_in(self.work.path(), self.home.path(), args, None, &[])
    }
    fn ok(&self, args: &[&str]) -> Out {
        let o = self.run(args);
        assert_eq!(o.code, 0, "ftp-client {args:?} failed: {}", o.stderr);
        o
    }
    fn local(&self, p: &str) -> std::path::PathBuf {
        self.work.path().join(p)
    }
    /// `ftp-client shell` on the server's root, reading `script` from a pipe.
    fn shell(&self, script: &[u8]) -> Out {
        run_in(
            self.work.path(),
            self.home.path(),
            &["shell", &self.url("")],
            Some(script),
            &[],
        )
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 253) as u8 ^ (i >> 8) as u8).collect()
}

#[test]
fn ls_prints_names_long_format_and_json() {
    let e = Env::new();
    std::fs::create_dir(e.server.path("sub")).unwrap();
    std::fs::write(e.server.path("a file.txt"), b"12345").unwrap();
    let o = e.ok(&["ls", &e.url("")]);
    let mut names: Vec<_> = o.text().lines().map(str::to_string).collect();
    names.sort();
    assert_eq!(names, ["a file.txt", "sub"]);
    let o = e.ok(&["ls", "-l", &e.url("")]);
    let line = o
        .text()
        .lines()
        .find(|l| l.ends_with("a file.txt"))
        .unwrap()
        .to_string();
    assert!(line.starts_with('-') && line.contains(" 5 "), "{line}");
    assert!(o
        .text()
        .lines()
        .any(|l| l.starts_with('d') && l.ends_with("sub")));
    let o = e.ok(&["ls", "--json", &e.url("")]);
    let text = o.text();
    assert!(text.trim_start().starts_with('['), "{text}");
    assert!(
        text.contains(r#""name":"a file.txt""#) && text.contains(r#""size":5"#),
        "{text}"
    );
    assert!(text.contains(r#""type":"dir""#), "{text}");
}

#[test]
fn get_downloads_byte_exact_without_leaving_a_part_file() {
    let e = Env::new();
    let data = pattern(1_500_000);
    std::fs::write(e.server.path("data.bin"), &data).unwrap();
    let o = e.ok(&["get", &e.url("data.bin")]);
    assert!(o.stdout.is_empty(), "nothing on stdout");
    assert_eq!(std::fs::read(e.local("data.bin")).unwrap(), data);
    assert!(!e.local(".data.bin.part").exists());
    e.ok(&["get", "-o", "renamed.bin", &e.url("data.bin")]);
    assert_eq!(std::fs::read(e.local("renamed.bin")).unwrap(), data);
    let o = e.ok(&["get", "-o", "-", &e.url("data.bin")]);
    assert_eq!(o.stdout, data);
    let o = e.ok(&["cat", &e.url("data.bin")]);
    assert_eq!(o.stdout, data);
}

#[test]
fn get_continue_resumes_from_the_partial_file() {
    let e = Env::new();
    let data = pattern(200_000);
    std::fs::write(e.server.path("r.bin"), &data).unwrap();
    // A partial download whose bytes differ from the server's: a resume keeps them.
    let mut partial = vec![0xAAu8; 50_000];
    std::fs::write(e.local(".r.bin.part"), &partial).unwrap();
    e.ok(&["get", "-c", &e.url("r.bin")]);
    partial.extend_from_slice(&data[50_000..]);
    assert_eq!(std::fs::read(e.local("r.bin")).unwrap(), partial);
    // Without -c the download starts over.
    std::fs::write(e.local(".r.bin.part"), vec![0xAAu8; 50_000]).unwrap();
    e.ok(&["get", &e.url("r.bin")]);
    assert_eq!(std::fs::read(e.local("r.bin")).unwrap(), data);
}

#[test]
fn get_recursive_copies_a_tree() {
    let e = Env::new();
    std::fs::create_dir_all(e.server.path("tree/a/b")).unwrap();
    std::fs::write(e.server.path("tree/top.txt"), b"top").unwrap();
    std::fs::write(e.server.path("tree/a/b/deep name.txt"), b"deep").unwrap();
    let o = e.run(&["get", &e.url("tree")]);
    assert_eq!(o.code, 6);
    assert!(
        o.stderr.contains("is a directory (use get -r)"),
        "{}",
        o.stderr
    );
    e.ok(&["get", "-r", &e.url("tree")]);
    assert_eq!(std::fs::read(e.local("tree/top.txt")).unwrap(), b"top");
    assert_eq!(
        std::fs::read(e.local("tree/a/b/deep name.txt")).unwrap(),
        b"deep"
    );
}

#[test]
fn put_uploads_creates_dirs_and_resumes() {
    let e = Env::new();
    let data = pattern(300_000);
    std::fs::write(e.local("up.bin"), &data).unwrap();
    e.ok(&["put", "up.bin", &e.url("")]);
    assert_eq!(std::fs::read(e.server.path("up.bin")).unwrap(), data);
    e.ok(&["put", "up.bin", &e.url("renamed.bin")]);
    assert_eq!(std::fs::read(e.server.path("renamed.bin")).unwrap(), data);
    let o = e.run(&["put", "up.bin", &e.url("no/such/dir/x.bin")]);
    assert_ne!(o.code, 0);
    e.ok(&["put", "--create-dirs", "up.bin", &e.url("new/deep/x.bin")]);
    assert_eq!(
        std::fs::read(e.server.path("new/deep/x.bin")).unwrap(),
        data
    );
    // Resume: the server holds a (different) prefix; -c sends only the rest.
    let mut prefix = vec![0x55u8; 100_000];
    std::fs::write(e.server.path("part.bin"), &prefix).unwrap();
    e.ok(&["put", "-c", "up.bin", &e.url("part.bin")]);
    prefix.extend_from_slice(&data[100_000..]);
    assert_eq!(std::fs::read(e.server.path("part.bin")).unwrap(), prefix);
}

#[test]
fn file_management_subcommands() {
    let e = Env::new();
    std::fs::write(e.server.path("f1"), b"one").unwrap();
    std::fs::write(e.server.path("f2"), b"two").unwrap();
    e.ok(&["mkdir", &e.url("d")]);
    assert!(e.server.path("d").is_dir());
    e.ok(&["mkdir", "-p", &e.url("p/q/r")]);
    assert!(e.server.path("p/q/r").is_dir());
    e.ok(&["rmdir", &e.url("d")]);
    assert!(!e.server.path("d").exists());
    e.ok(&["mv", &e.url("f1"), "moved"]);
    assert!(e.server.path("moved").is_file() && !e.server.path("f1").exists());
    let o = e.ok(&["stat", &e.url("moved")]);
    assert!(
        o.text().contains("type: file") && o.text().contains("size: 3"),
        "{}",
        o.text()
    );
    let o = e.ok(&["stat", &e.url("p")]);
    assert!(o.text().contains("type: directory"), "{}", o.text());
    e.ok(&["rm", &e.url("moved"), &e.url("f2")]);
    assert!(!e.server.path("moved").exists() && !e.server.path("f2").exists());
}

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

#[test]
fn mirror_downloads_and_uploads_trees_with_delete_and_only_newer() {
    let e = Env::new();
    std::fs::create_dir_all(e.server.path("site/img/icons")).unwrap();
    std::fs::write(e.server.path("site/index.html"), b"<html>").unwrap();
    std::fs::write(e.server.path("site/img/logo.png"), pattern(70_000)).unwrap();
    std::fs::write(e.server.path("site/img/icons/a b.ico"), b"ico").unwrap();
    e.ok(&["mirror", "-P", "3", &e.url("site"), "copy"]);
    assert_eq!(tree(&e.local("copy")), tree(&e.server.path("site")));

    // Nothing to do the second time.
    let o = e.ok(&["mirror", "--dry-run", &e.url("site"), "copy"]);
    assert_eq!(o.text(), "", "dry run after a mirror lists nothing");

    // Upload direction with --delete: local changes win, remote extras go.
    std::fs::write(e.local("copy/new.txt"), b"new").unwrap();
    std::fs::remove_file(e.local("copy/index.html")).unwrap();
    let o = e.ok(&["mirror", "--delete", "--dry-run", "copy", &e.url("site")]);
    assert!(
        o.text().contains("put ") && o.text().contains("delete "),
        "{}",
        o.text()
    );
    assert!(
        e.server.path("site/index.html").exists(),
        "dry run changes nothing"
    );
    e.ok(&["mirror", "--delete", "copy", &e.url("site")]);
    assert_eq!(tree(&e.local("copy")), tree(&e.server.path("site")));

    // --only-newer skips a destination file that is newer than the source.
    std::fs::write(e.server.path("site/new.txt"), b"server edit").unwrap();
    let o = e.ok(&[
        "mirror",
        "--only-newer",
        "--dry-run",
        "copy",
        &e.url("site"),
    ]);
    assert!(!o.text().contains("new.txt"), "{}", o.text());
    // Upload to a directory that does not exist yet.
    e.ok(&["mirror", "-P", "2", "copy", &e.url("fresh/site")]);
    assert_eq!(tree(&e.local("copy")), tree(&e.server.path("fresh/site")));
}

#[test]
fn exit_codes_follow_the_failure_class() {
    let e = Env::new();
    std::fs::write(e.server.path("exists"), b"x").unwrap();
    assert_eq!(e.run(&["get", &e.url("missing")]).code, 6);
    assert!(!e.local("missing").exists() && !e.local(".missing.part").exists());
    let bad = format!("ftp://alice:wrong@{}/", e.server.addr);
    assert_eq!(e.run(&["ls", &bad]).code, 4);
    let refused = format!("ftp://127.0.0.1:{}/", integration_tests::free_port());
    assert_eq!(e.run(&["ls", &refused]).code, 3);
    assert_eq!(e.run(&["ls"]).code, 2);
    assert_eq!(e.run(&["ls", "http://example.invalid/"]).code, 2);
    // ftpes:// to a server without TLS: AUTH TLS is refused, a TLS failure.
    let no_tls = format!("ftpes://alice:secret@{}/", e.server.addr);
    assert_eq!(e.run(&["ls", &no_tls]).code, 5);
    assert_eq!(e.run(&["rm", &e.url("exists"), &e.url("missing")]).code, 9);
    assert_eq!(e.run(&["mirror", "a", "b"]).code, 2);
}

#[test]
fn reply_timeout_exits_with_the_timeout_code() {
    let e = Env::new();
    // Accepts connections (in the backlog) but never greets.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ftp://{}/", silent.local_addr().unwrap());
    let o = e.run(&["--timeout", "0.5", "ls", &url]);
    assert_eq!(o.code, 8, "{}", o.stderr);
}

#[test]
fn transcript_masks_the_password_and_data_stays_on_stdout() {
    let e = Env::new();
    std::fs::write(e.server.path("f"), b"payload").unwrap();
    let o = e.ok(&["-vv", "cat", &e.url("f")]);
    assert_eq!(o.stdout, b"payload");
    assert!(o.stderr.contains("PASS ****"), "{}", o.stderr);
    assert!(o.stderr.contains("RETR f"), "{}", o.stderr);
    assert!(!o.stderr.contains(TestServer::PASS), "{}", o.stderr);
    let o = e.ok(&["-q", "get", &e.url("f")]);
    assert_eq!(o.stderr, "");
}

#[test]
fn password_sources_netrc_env_and_no_prompt_without_tty() {
    let e = Env::new();
    std::fs::write(e.server.path("f"), b"x").unwrap();
    let url = format!("ftp://alice@{}/", e.server.addr);
    // No password anywhere and stdin is not a terminal: fail at once, do not prompt.
    let o = e.run(&["ls", &url]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    // The environment variable.
    let o = run_in(
        e.work.path(),
        e.home.path(),
        &["ls", &url],
        None,
        &[("FTP_PASSWORD", "secret")],
    );
    assert_eq!((o.code, o.text().trim()), (0, "f"), "{}", o.stderr);
    // ~/.netrc, user included.
    std::fs::write(
        e.home.path().join(".netrc"),
        format!(
            "machine {} login alice password secret\n",
            e.server.addr.ip()
        ),
    )
    .unwrap();
    let anon = format!("ftp://{}/", e.server.addr);
    let netrc = e.home.path().join(".netrc");
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = e.ok(&["ls", &anon]);
    assert_eq!((o.text().trim(), o.stderr.as_str()), ("f", ""));
    // Readable by others: it still works, with a warning.
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = e.ok(&["ls", &anon]);
    assert!(o.stderr.contains("other users can read it"), "{}", o.stderr);
    // A --netrc file that does not exist is an error, not "no password".
    let o = e.run(&["--netrc", "/nonexistent/netrc", "ls", &anon]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("--netrc /nonexistent/netrc"),
        "{}",
        o.stderr
    );
}

#[test]
fn shell_runs_classic_commands_from_piped_stdin() {
    let e = Env::new();
    std::fs::create_dir(e.server.path("docs")).unwrap();
    std::fs::write(e.server.path("docs/a.txt"), b"alpha").unwrap();
    std::fs::write(e.server.path("docs/b.txt"), b"beta").unwrap();
    std::fs::write(e.server.path("docs/c.bin"), b"gamma").unwrap();
    std::fs::write(e.local("local.txt"), b"from local").unwrap();
    std::fs::write(e.local("m1.dat"), b"m1").unwrap();
    std::fs::write(e.local("m2.dat"), b"m2").unwrap();
    let script = "\
pwd
cd docs
pwd
ls
size a.txt
get a.txt
mget *.txt
put local.txt up.txt
mput *.dat
mkdir newdir
mkdir gone
rmdir gone
rename up.txt newdir/moved.txt
delete c.bin
binary
ascii
passive
passive
status
quote NOOP
modtime b.txt
cdup
lcd sub
dir docs
help get
bye
";
    std::fs::create_dir(e.local("sub")).unwrap();
    std::fs::write(e.local("sub/x.dat"), b"x").unwrap();
    let o = e.shell(script.as_bytes());
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let out = o.text();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "/");
    assert_eq!(lines[1], "/docs");
    assert!(
        out.contains("a.txt\tb.txt") || out.contains("a.txt\t5"),
        "{out}"
    );
    assert!(out.contains("a.txt\t5"), "{out}");
    assert!(
        out.contains("Passive mode: off") && out.contains("Passive mode: on"),
        "{out}"
    );
    assert!(out.contains("200"), "{out}");
    assert!(out.contains("Connected to"), "{out}");
    assert!(out.contains("b.txt\t"), "{out}");
    assert!(out.contains("get REMOTE"), "{out}");
    assert_eq!(std::fs::read(e.local("a.txt")).unwrap(), b"alpha");
    assert_eq!(std::fs::read(e.local("b.txt")).unwrap(), b"beta");
    assert_eq!(
        std::fs::read(e.server.path("docs/newdir/moved.txt")).unwrap(),
        b"from local"
    );
    assert_eq!(std::fs::read(e.server.path("docs/m1.dat")).unwrap(), b"m1");
    assert_eq!(std::fs::read(e.server.path("docs/m2.dat")).unwrap(), b"m2");
    assert!(!e.server.path("docs/c.bin").exists());
    assert!(!e.server.path("docs/gone").exists() && e.server.path("docs/newdir").is_dir());
    assert!(
        out.lines()
            .any(|l| l.starts_with('d') && l.ends_with("newdir")),
        "{out}"
    );
}

#[test]
fn shell_turns_the_active_mode_data_peer_check_off_and_on() {
    let e = Env::new();
    std::fs::write(e.server.path("seen.txt"), b"x").unwrap();
    let script = "\
passive off
verify-data-peer off
ls
status
verify-data-peer
status
verify-data-peer on
bye
";
    let o = e.shell(script.as_bytes());
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let out = o.text();
    assert!(out.contains("Data peer check: off"), "{out}");
    assert!(out.contains("seen.txt"), "active-mode listing: {out}");
    assert!(
        out.contains("Mode: active; type: binary; data peer check: off."),
        "{out}"
    );
    assert!(
        out.contains("Mode: active; type: binary; data peer check: on."),
        "{out}"
    );
    assert_eq!(out.matches("Data peer check: on").count(), 2, "{out}");

    let o = e.shell(b"verify-data-peer sometimes\n");
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("expected on or off"), "{}", o.stderr);
}

#[test]
fn shell_reports_failures_in_its_exit_code_when_scripted() {
    let e = Env::new();
    let o = e.shell(b"get missing\npwd\n");
    assert_eq!(o.code, 6, "{}", o.stderr);
    assert_eq!(o.text().trim(), "/", "later commands still run");
    let o = run_in(
        e.work.path(),
        e.home.path(),
        &["shell"],
        Some(b"pwd\n"),
        &[],
    );
    assert_eq!(o.code, 2, "not connected is a usage error: {}", o.stderr);
    let o = run_in(
        e.work.path(),
        e.home.path(),
        &[&e.url("")],
        Some(b"pwd\nbye\n"),
        &[],
    );
    assert_eq!(
        (o.code, o.text().trim()),
        (0, "/"),
        "ftp-client URL opens the shell"
    );
}

#[test]
fn ipv6_urls_and_active_mode_work() {
    let server = TestServer::start_v6();
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let data = pattern(123_456);
    std::fs::write(server.path("v6.bin"), &data).unwrap();
    let url = format!("ftp://alice:secret@{}/v6.bin", server.addr);
    assert!(url.contains("[::1]"), "{url}");
    for extra in [&[][..], &["--active"][..]] {
        let mut args = extra.to_vec();
        args.extend(["get", "-o", "-", url.as_str()]);
        let o = run_in(work.path(), home.path(), &args, None, &[]);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        assert_eq!(o.stdout, data, "{args:?}");
    }
    let e = Env::new();
    std::fs::write(e.local("up.bin"), &data).unwrap();
    e.ok(&["--active", "put", "up.bin", &e.url("")]);
    assert_eq!(std::fs::read(e.server.path("up.bin")).unwrap(), data);
}

/// Drives `ftp-client shell URL` on a pseudo-terminal (through util-linux `script`): each
/// step is typed once the next prompt has appeared. Returns everything printed.
fn pty_session(e: &Env, history: &Path, steps: &[&str]) -> Option<String> {
    let steps: Vec<Step<'_>> = steps.iter().map(|s| Step::Prompt(s)).collect();
    pty_session_with(e, &e.url(""), history, &steps)
}

/// When [`pty_session_with`] types a step.
enum Step<'a> {
    /// At the next prompt.
    Prompt(&'a str),
    /// As soon as the condition holds (within 20 s).
    When(&'a dyn Fn() -> bool, &'a str),
}

/// [`pty_session`] on `url`, with steps typed at prompts or when a condition holds.
fn pty_session_with(e: &Env, url: &str, history: &Path, steps: &[Step<'_>]) -> Option<String> {
    let script = integration_tests::or_skip(integration_tests::tool("script"), "pty shell")?;
    // `exec`: whatever shell `script` starts (`$SHELL`, else a non-exec'ing `sh`) must not
    // stay in the terminal's foreground group, where Ctrl-C would kill it.
    let cmdline = format!(
        "exec {} --timeout 10 shell {url}",
        bin_path("ftp-client").display(),
    );
    let mut cmd = Command::new(script);
    cmd.args(["-qfec", &cmdline, "/dev/null"])
        .current_dir(e.work.path())
        .env("HOME", e.home.path())
        .env("FTP_CLIENT_HISTORY", history)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = ChildGuard::spawn(&mut cmd).expect("spawn script");
    let mut stdin = child.child_mut().stdin.take().unwrap();
    let mut stdout = child.child_mut().stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    // rustyline switches bracketed paste on once per prompt (redraws after a completion
    // repeat "ftp> " but not this).
    let prompts = |out: &[u8]| out.windows(8).filter(|w| w == b"\x1b[?2004h").count();
    let mut prompted = 0;
    for step in steps {
        let deadline = Instant::now() + Duration::from_secs(20);
        let text = match step {
            Step::Prompt(text) => {
                prompted += 1;
                text
            }
            Step::When(_, text) => text,
        };
        let ready = |out: &[u8]| match step {
            Step::Prompt(_) => prompts(out) >= prompted,
            Step::When(cond, _) => cond(),
        };
        while !ready(&out) {
            assert!(
                Instant::now() < deadline,
                "step {text:?} not ready within 20 s; output so far: {}",
                String::from_utf8_lossy(&out)
            );
            if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
                out.extend_from_slice(&chunk);
            }
        }
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let status = child
        .wait_timeout(Duration::from_secs(30))
        .unwrap()
        .expect("the shell exits after bye");
    // The reader thread ends at end of file, which comes once `script` has exited: drain until
    // then (bounded), so no output is lost however slowly that thread is scheduled.
    let drained_by = Instant::now() + Duration::from_secs(20);
    while let Some(left) = drained_by.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(_) => break,
        }
    }
    assert!(status.success(), "{}", String::from_utf8_lossy(&out));
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn shell_on_a_terminal_completes_remote_paths_and_keeps_history() {
    let e = Env::new();
    std::fs::create_dir(e.server.path("subdirectory")).unwrap();
    std::fs::write(e.server.path("subdirectory/inside.txt"), b"x").unwrap();
    let history = e.home.path().join("history");
    // Tab completes the command and the remote directory name.
    let Some(out) = pty_session(
        &e,
        &history,
        &["he\t get\n", "cd sub\t\n", "pwd\n", "bye\n"],
    ) else {
        return;
    };
    assert!(out.contains("get REMOTE"), "help completed: {out}");
    assert!(out.contains("/subdirectory"), "cd completed: {out}");
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("cd subdirectory/"), "history saved: {saved}");
    // The next session recalls the previous lines: up arrow three times (past `bye` and
    // `pwd`) → "cd subdirectory/".
    let out = pty_session(&e, &history, &["\x1b[A\x1b[A\x1b[A\n", "pwd\n", "bye\n"]).unwrap();
    assert!(out.contains("/subdirectory"), "history recalled: {out}");
}

#[test]
fn shell_open_user_and_reget() {
    let e = Env::new();
    let data = pattern(80_000);
    std::fs::write(e.server.path("r.bin"), &data).unwrap();
    let mut partial = vec![0xABu8; 30_000];
    std::fs::write(e.local(".r.bin.part"), &partial).unwrap();
    let script = format!(
        "open 127.0.0.1 {port}\nuser alice secret\nstatus\nreget r.bin\nclose\nstatus\nopen {url}\npwd\nbye\n",
        port = e.server.addr.port(),
        url = e.url("")
    );
    let o = run_in(
        e.work.path(),
        e.home.path(),
        &["shell"],
        Some(script.as_bytes()),
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = o.text();
    assert!(out.contains("as alice."), "{out}");
    assert!(out.contains("Not connected."), "{out}");
    assert!(out.trim_end().ends_with('/'), "{out}");
    partial.extend_from_slice(&data[30_000..]);
    assert_eq!(
        std::fs::read(e.local("r.bin")).unwrap(),
        partial,
        "reget resumed"
    );
}

/// The names a hostile server lists to make a client write outside its directory, with one
/// harmless name; `root` stands for the absolute path the server names.
fn escaping_names(root: &Path) -> Vec<Name> {
    let abs = root.join("abs/abs_escape.txt");
    vec![
        Name::file("../escape1.txt"),
        Name::file(abs.to_str().unwrap()),
        Name::file("sub/../../escape2.txt"),
        Name::file("nul\0name"),
        Name::file("ok.txt"),
    ]
}

/// Every file under `root`, as paths relative to it.
fn files_under(root: &Path) -> Vec<String> {
    tree(root)
        .into_iter()
        .filter(|(p, _)| !p.ends_with('/'))
        .map(|(p, _)| p)
        .collect()
}

/// A hostile server listing [`escaping_names`], a scratch tree `root` to catch escapes, the
/// client's directory `root/a/b` (with a `sub` to walk through) and a HOME.
fn escape_attempt() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    HostileServer,
    tempfile::TempDir,
) {
    let root = tempfile::tempdir().unwrap();
    let cwd = root.path().join("a/b");
    std::fs::create_dir_all(cwd.join("sub")).unwrap();
    std::fs::create_dir_all(root.path().join("abs")).unwrap();
    let fake = HostileServer::start(escaping_names(root.path()));
    (root, cwd, fake, tempfile::tempdir().unwrap())
}

#[test]
fn mget_never_writes_outside_the_local_directory() {
    let (root, cwd, fake, home) = escape_attempt();
    let o = run_in(
        &cwd,
        home.path(),
        &["shell", &fake.url()],
        Some(b"mget *\nbye\n"),
        &[],
    );
    assert_eq!(files_under(root.path()), ["a/b/ok.txt"], "{}", o.stderr);
    assert_eq!(
        std::fs::read(cwd.join("ok.txt")).unwrap(),
        b"hostile:ok.txt"
    );
    assert_eq!(
        o.code, 9,
        "skipped names make the batch partial: {}",
        o.stderr
    );
    assert_eq!(
        o.stderr.matches("warning: skipped").count(),
        4,
        "{}",
        o.stderr
    );
}

#[test]
fn recursive_get_and_mirror_skip_escaping_names_loudly() {
    let (root, cwd, fake, home) = escape_attempt();
    let o = run_in(
        &cwd,
        home.path(),
        &["get", "-r", &fake.url(), "-o", "t"],
        None,
        &[],
    );
    assert_eq!(o.code, 9, "{}", o.stderr);
    assert_eq!(
        o.stderr.matches("warning: skipped").count(),
        4,
        "{}",
        o.stderr
    );
    let o = run_in(&cwd, home.path(), &["mirror", &fake.url(), "m"], None, &[]);
    assert_eq!(o.code, 9, "{}", o.stderr);
    assert_eq!(files_under(root.path()), ["a/b/m/ok.txt", "a/b/t/ok.txt"]);
}

/// Runs the shell command line `cmdline` on a pseudo-terminal (util-linux `script`) in `dir`
/// (also its HOME), within 60 s; `None` (a skip) without `script`.
fn on_a_pty(cmdline: &str, dir: &Path) -> Option<std::process::Output> {
    let script = integration_tests::or_skip(integration_tests::tool("script"), "pty run")?;
    let mut cmd = Command::new(script);
    cmd.args(["-qfec", cmdline, "/dev/null"])
        .current_dir(dir)
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    Some(integration_tests::output_within(
        &mut cmd,
        Duration::from_secs(60),
    ))
}

#[test]
fn remote_names_reach_a_terminal_escaped_and_a_pipe_raw() {
    let fake = HostileServer::start(vec![
        Name::file("esc\x1b[31mred"),
        Name::file("evil\x1b]0;PWNED\x07title"),
    ]);
    let (work, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let run = |args: &[&str]| run_in(work.path(), home.path(), args, None, &[]);
    // On a pipe the names are data: byte for byte.
    let o = run(&["ls", &fake.url()]);
    assert_eq!(o.stdout, b"esc\x1b[31mred\nevil\x1b]0;PWNED\x07title\n");
    let o = run(&["ls", "--json", &fake.url()]);
    assert!(!o.stdout.contains(&0x1b), "{}", o.text());
    assert!(o.text().contains(r#""esc\u001b[31mred""#), "{}", o.text());
    // Messages on stderr are for people: escaped.
    let url = format!("{}evil%1B%5D0;PWNED%07title", fake.url());
    let o = run(&["get", "-o", "out", &url]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains('\x1b'), "{:?}", o.stderr);
    assert!(
        o.stderr.contains(r"evil\e]0;PWNED\atitle"),
        "{:?}",
        o.stderr
    );
    // On a terminal (a pty from util-linux `script`), ls and ls -l escape them.
    for flag in ["", "-l"] {
        let cmdline = format!(
            "{} ls {flag} {}",
            bin_path("ftp-client").display(),
            fake.url()
        );
        let Some(o) = on_a_pty(&cmdline, home.path()) else {
            return;
        };
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(!o.stdout.contains(&0x1b), "{text:?}");
        assert!(text.contains(r"esc\e[31mred"), "{text:?}");
        assert!(text.contains(r"evil\e]0;PWNED\atitle"), "{text:?}");
    }
    // The shell's banner and quote output: the server's words, escaped too.
    let cmdline = format!(
        "printf 'quote HELP\\nbye\\n' | {} shell {}",
        bin_path("ftp-client").display(),
        fake.url()
    );
    let o = on_a_pty(&cmdline, home.path()).unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!o.stdout.contains(&0x1b), "{text:?}");
    assert!(text.contains(r"214 help\e[2Jme"), "{text:?}");
    assert!(text.contains(r"hostile \e]0;PWNED\aserver"), "{text:?}");
}

#[test]
fn shell_history_never_stores_a_password() {
    let e = Env::new();
    let history = e.home.path().join("history");
    let open = format!("open {}\n", e.url(""));
    let steps = ["user alice secret\n", &open, "quote PASS secret\n", "bye\n"];
    let Some(out) = pty_session(&e, &history, &steps) else {
        return;
    };
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(!saved.contains(TestServer::PASS), "{saved}\n{out}");
    assert!(saved.contains("user alice\n"), "{saved}");
    assert!(
        saved.contains(&format!("open ftp://alice@{}/", e.server.addr)),
        "{saved}"
    );
}

/// Waits (up to 30 s) for `child` to exit; returns its status and what it wrote to its
/// piped stderr.
fn exit_and_stderr(child: &mut ChildGuard) -> (std::process::ExitStatus, String) {
    let status = child
        .wait_timeout(Duration::from_secs(30))
        .unwrap()
        .expect("ftp-client exits within 30 s");
    let mut stderr = String::new();
    let mut pipe = child.child_mut().stderr.take().unwrap();
    pipe.read_to_string(&mut stderr).unwrap();
    (status, stderr)
}

/// True once `fake` has received a command starting with `verb`.
fn received(fake: &HostileServer, verb: &str) -> bool {
    fake.commands().iter().any(|c| c.starts_with(verb))
}

#[test]
fn ctrl_c_in_the_shell_aborts_the_get_and_returns_to_the_prompt() {
    let e = Env::new();
    let fake = HostileServer::start_with(vec![Name::file("slow.bin")], true);
    let history = e.home.path().join("history");
    let retr_running = || received(&fake, "RETR") && e.local(".slow.bin.part").exists();
    let steps = [
        Step::Prompt("get slow.bin\n"),
        Step::When(&retr_running, "\x03"),
        Step::Prompt("pwd\n"),
        Step::Prompt("bye\n"),
    ];
    let Some(out) = pty_session_with(&e, &fake.url(), &history, &steps) else {
        return;
    };
    assert!(received(&fake, "ABOR"), "{:?}", fake.commands());
    assert!(out.contains("interrupted"), "{out}");
    assert!(
        out.contains(".slow.bin.part") || out.contains("nothing was kept"),
        "{out}"
    );
    let after_abor: Vec<_> = fake
        .commands()
        .into_iter()
        .skip_while(|c| c != "ABOR")
        .collect();
    assert!(after_abor.contains(&"PWD".to_string()), "{after_abor:?}");
}

#[test]
fn ctrl_c_in_a_one_shot_get_says_where_the_partial_file_is() {
    let fake = HostileServer::start_with(vec![Name::file("slow.bin")], true);
    let (work, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = format!("{}slow.bin", fake.url());
    let mut cmd = Command::new(bin_path("ftp-client"));
    cmd.args(["get", &url])
        .current_dir(work.path())
        .env("HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut cmd).unwrap();
    let part = work.path().join(".slow.bin.part");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(received(&fake, "RETR") && part.metadata().is_ok_and(|m| m.len() > 0)) {
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let (status, stderr) = exit_and_stderr(&mut child);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(received(&fake, "ABOR"), "{:?}", fake.commands());
    assert!(stderr.contains(".slow.bin.part"), "{stderr}");
    assert!(
        stderr.contains(&format!("ftp-client get -c ftp://u@{}/slow.bin", fake.addr)),
        "{stderr}"
    );
    assert!(part.metadata().unwrap().len() > 0);
}

#[test]
fn mv_refuses_a_target_on_another_server_port_or_user() {
    let e = Env::new();
    std::fs::write(e.server.path("f"), b"x").unwrap();
    let port = e.server.addr.port();
    for other in [
        format!("ftp://alice@127.0.0.2:{port}/g"),
        format!("ftp://alice@127.0.0.1:{}/g", port.wrapping_add(1)),
        format!("ftp://bob@127.0.0.1:{port}/g"),
    ] {
        let o = e.run(&["mv", &e.url("f"), &other]);
        assert_eq!(o.code, 2, "{other}: {}", o.stderr);
        assert!(o.stderr.contains("same server and user"), "{}", o.stderr);
        assert!(e.server.path("f").exists() && !e.server.path("g").exists());
    }
    e.ok(&[
        "mv",
        &e.url("f"),
        &format!("ftp://alice@{}/g", e.server.addr),
    ]);
    assert!(e.server.path("g").exists() && !e.server.path("f").exists());
}

#[test]
fn shell_completion_escapes_spaces_and_completes_inside_escaped_words() {
    let e = Env::new();
    std::fs::create_dir_all(e.server.path("dir with spaces/inner dir")).unwrap();
    let history = e.home.path().join("history");
    let steps = ["cd di\t\n", "pwd\n", "cd inner\\ \t\n", "pwd\n", "bye\n"];
    let Some(out) = pty_session(&e, &history, &steps) else {
        return;
    };
    assert!(out.contains("cd dir\\ with\\ spaces/"), "{out}");
    assert!(out.contains("/dir with spaces/inner dir"), "{out}");
    assert!(!out.contains("550"), "{out}");
}

#[test]
fn shell_open_takes_host_colon_port_and_urls_get_suggestions() {
    let e = Env::new();
    let script = format!("open {}\nuser alice secret\npwd\nbye\n", e.server.addr);
    let o = run_in(
        e.work.path(),
        e.home.path(),
        &["shell"],
        Some(script.as_bytes()),
        &[],
    );
    assert_eq!((o.code, o.text().trim()), (0, "/"), "{}", o.stderr);
    let o = e.run(&["ls", "127.0.0.1"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("did you mean ftp://127.0.0.1/"),
        "{}",
        o.stderr
    );
    let o = e.run(&["ls", "ftp://::1:2556/"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("ftp://[::1]:2556/"), "{}", o.stderr);
}

#[test]
fn a_failed_open_in_the_shell_keeps_the_working_connection() {
    let e = Env::new();
    let refused = format!("open 127.0.0.1:{}\n", integration_tests::free_port());
    let missing_dir = format!("open {}\n", e.url("no/such/dir"));
    let script = format!("cd /\n{refused}{missing_dir}pwd\nstatus\n");
    let o = e.shell(script.as_bytes());
    assert_eq!(o.code, 6, "the last failure: {}", o.stderr);
    let out = o.text();
    assert!(out.starts_with("/\n"), "pwd still works: {out}");
    assert!(out.contains("as alice."), "{out}");
}

#[test]
fn put_keeps_the_mtime_and_puts_into_an_existing_directory() {
    let e = Env::new();
    std::fs::create_dir(e.server.path("existingdir")).unwrap();
    let f = std::fs::File::create(e.local("old.txt")).unwrap();
    std::io::Write::write_all(&mut &f, b"old").unwrap();
    let then = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    f.set_modified(then).unwrap();
    e.ok(&["put", "old.txt", &e.url("existingdir")]);
    let stored = e.server.path("existingdir/old.txt");
    assert_eq!(std::fs::read(&stored).unwrap(), b"old");
    assert_eq!(stored.metadata().unwrap().modified().unwrap(), then);
    // A name that is no directory stays the target's name.
    e.ok(&["put", "old.txt", &e.url("new.txt")]);
    assert_eq!(std::fs::read(e.server.path("new.txt")).unwrap(), b"old");
}

#[test]
fn ls_and_cat_into_a_closed_pipe_exit_quietly() {
    let e = Env::new();
    for i in 0..3000 {
        std::fs::write(e.server.path(&format!("file-with-a-long-name-{i:05}")), b"").unwrap();
    }
    std::fs::write(e.server.path("big.bin"), pattern(8 << 20)).unwrap();
    for args in [["ls", &e.url("")], ["cat", &e.url("big.bin")]] {
        let mut cmd = Command::new(bin_path("ftp-client"));
        cmd.args(args)
            .env("HOME", e.home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(&mut cmd).unwrap();
        let mut first = [0u8; 10];
        let mut out = child.child_mut().stdout.take().unwrap();
        out.read_exact(&mut first).unwrap();
        drop(out);
        let (status, stderr) = exit_and_stderr(&mut child);
        assert_eq!((status.code(), stderr.as_str()), (Some(0), ""), "{args:?}");
    }
}

#[test]
fn get_no_clobber_keeps_local_files_and_continue_refuses_a_larger_one() {
    let e = Env::new();
    std::fs::write(e.server.path("f.txt"), b"remote").unwrap();
    std::fs::write(e.local("f.txt"), b"local").unwrap();
    let o = e.ok(&["get", "--no-clobber", &e.url("f.txt")]);
    assert!(o.stderr.contains("not overwritten"), "{}", o.stderr);
    assert_eq!(std::fs::read(e.local("f.txt")).unwrap(), b"local");
    let o = e.shell(b"clobber off\nget f.txt\nclobber on\nget f.txt g.txt\n");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::read(e.local("f.txt")).unwrap(), b"local");
    assert_eq!(std::fs::read(e.local("g.txt")).unwrap(), b"remote");
    // -c with a local file longer than the remote one: said, and the file is left alone.
    std::fs::write(e.local("f.txt"), b"much longer local").unwrap();
    let o = e.run(&["get", "-c", &e.url("f.txt")]);
    assert_eq!(o.code, 7, "{}", o.stderr);
    assert!(
        o.stderr.contains("larger than the remote one"),
        "{}",
        o.stderr
    );
    assert_eq!(
        std::fs::read(e.local("f.txt")).unwrap(),
        b"much longer local"
    );
    // -c on a complete file says so.
    std::fs::write(e.local("f.txt"), b"remote").unwrap();
    let o = e.ok(&["get", "-c", &e.url("f.txt")]);
    assert!(o.stderr.contains("already complete"), "{}", o.stderr);
}

#[test]
fn shell_ls_and_dir_match_globs_on_the_client() {
    let e = Env::new();
    std::fs::create_dir(e.server.path("docs")).unwrap();
    for f in ["a.txt", "b.txt", "c.bin"] {
        std::fs::write(e.server.path(&format!("docs/{f}")), b"x").unwrap();
    }
    let o = e.shell(b"cd docs\nls *.txt\ndir ?.bin\ncd /\nls docs/[ab]*\n");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o
        .stdout
        .split(|b| *b == b'\n')
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    assert_eq!(&lines[..2], ["a.txt", "b.txt"], "{lines:?}");
    assert!(
        lines[2].starts_with('-') && lines[2].ends_with(" c.bin"),
        "{lines:?}"
    );
    assert_eq!(&lines[3..5], ["docs/a.txt", "docs/b.txt"], "{lines:?}");
    let o = e.shell(b"ls *.none\n");
    assert_eq!(o.code, 6, "{}", o.stderr);
}

/// `s` without ANSI CSI sequences (`ESC [ … letter`).
fn strip_csi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn progress_bar_fits_a_60_column_terminal_and_shows_a_percentage() {
    let name = "a-very-long-file-name-that-would-never-fit-in-sixty-columns.bin";
    let fake = HostileServer::start_with(vec![Name::file(name)], true);
    let work = tempfile::tempdir().unwrap();
    let cmdline = format!(
        "stty cols 60 rows 24; timeout -s INT 3 {} get {}{name}",
        bin_path("ftp-client").display(),
        fake.url()
    );
    let Some(o) = on_a_pty(&cmdline, work.path()) else {
        return;
    };
    let text = strip_csi(&String::from_utf8_lossy(&o.stdout));
    let bars: Vec<&str> = text
        .split(['\r', '\n'])
        .filter(|l| l.contains("% ["))
        .collect();
    assert!(!bars.is_empty(), "no progress bar drawn: {text:?}");
    for bar in bars {
        assert!(bar.chars().count() <= 60, "{bar:?}");
        assert!(bar.starts_with("a-very-long"), "{bar:?}");
    }
}

#[test]
fn json_for_stat_put_rm_and_mirror_with_mode_and_perm_apart() {
    let e = Env::new();
    std::fs::write(e.server.path("f"), b"abc").unwrap();
    std::fs::write(e.local("up.txt"), b"12345").unwrap();
    let o = e.ok(&["stat", "--json", &e.url("f")]);
    let t = o.text();
    assert!(
        t.contains(r#""name":"f""#) && t.contains(r#""size":3"#),
        "{t}"
    );
    assert!(t.contains(r#""mode":"rw-"#), "UNIX mode: {t}");
    assert!(t.contains(r#""perm":""#), "RFC 3659 perm: {t}");
    assert!(t.contains(r#"Z""#), "MLST times are UTC: {t}");
    let o = e.ok(&["stat", &e.url("f")]);
    assert!(
        o.text().contains(" UTC\n") && o.text().contains("mode: rw-"),
        "{}",
        o.text()
    );
    let o = e.ok(&["ls", "-l", &e.url("")]);
    assert!(o.text().contains(" UTC "), "{}", o.text());
    let o = e.ok(&["put", "--json", "up.txt", &e.url("")]);
    assert_eq!(o.text().trim(), r#"{"path":"up.txt","size":5}"#);
    let o = e.run(&["rm", "--json", &e.url("up.txt"), &e.url("missing")]);
    assert_eq!(o.code, 9);
    let t = o.text();
    assert!(t.contains(r#"{"deleted":true,"path":"up.txt"}"#), "{t}");
    assert!(
        t.contains(r#""deleted":false"#) && t.contains(r#""path":"missing""#),
        "{t}"
    );
    let o = e.ok(&["mirror", "--json", "--dry-run", &e.url(""), "copy"]);
    assert!(
        o.text().contains(r#""actions":2"#) && o.text().contains("planned"),
        "{}",
        o.text()
    );
    let o = e.ok(&["mirror", "--json", &e.url(""), "copy"]);
    assert!(o.text().contains(r#""failed":0"#), "{}", o.text());
    assert_eq!(std::fs::read(e.local("copy/f")).unwrap(), b"abc");
}

#[test]
fn json_gives_names_that_are_not_utf8_losslessly() {
    let fake = HostileServer::start(vec![Name::file(&b"caf\xe9 1"[..])]);
    let (work, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let o = run_in(
        work.path(),
        home.path(),
        &["ls", "--json", &fake.url()],
        None,
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.text().contains(r#""name_url":"caf%E9%201""#),
        "{}",
        o.text()
    );
}

#[test]
fn shell_completes_local_paths_where_a_command_takes_one() {
    let e = Env::new();
    std::fs::write(e.server.path("remote-only.txt"), b"from the server").unwrap();
    std::fs::write(e.local("copy-of-remote.txt"), b"old").unwrap();
    std::fs::create_dir(e.local("up-local")).unwrap();
    std::fs::write(e.local("up-local/f.txt"), b"uploaded").unwrap();
    let history = e.home.path().join("history");
    // get's second word and mirror -R's first are local paths; Tab completes them here.
    let steps = [
        "get remote-only.txt copy-of-\t\n",
        "mirror -R up-lo\t remote-dest\n",
        "bye\n",
    ];
    let Some(out) = pty_session(&e, &history, &steps) else {
        return;
    };
    assert_eq!(
        std::fs::read(e.local("copy-of-remote.txt")).unwrap(),
        b"from the server",
        "{out}"
    );
    assert_eq!(
        std::fs::read(e.server.path("remote-dest/f.txt")).unwrap(),
        b"uploaded",
        "{out}"
    );
}
