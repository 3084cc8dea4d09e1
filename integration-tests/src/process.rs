//! Child processes that are always cleaned up: each runs in its own process group, which is
//! terminated (then killed) by id when the guard drops.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};

/// A spawned child process (and everything it forked) that is terminated on drop.
///
/// The child is started in a new process group; dropping the guard sends `SIGTERM` to that
/// group, waits up to two seconds, then sends `SIGKILL` and reaps the child.
///
/// ```
/// use std::process::Command;
/// let mut sleeper = integration_tests::ChildGuard::spawn(Command::new("sleep").arg("60")).unwrap();
/// assert!(sleeper.try_wait().unwrap().is_none());
/// drop(sleeper); // killed by pid, not left behind
/// ```
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    exited: Option<ExitStatus>,
}

impl ChildGuard {
    /// Spawns `cmd` in a new process group.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<ChildGuard> {
        let child = cmd.process_group(0).spawn()?;
        Ok(ChildGuard {
            child,
            exited: None,
        })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child itself, e.g. to take its stdout.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The exit status if the child has exited, without blocking.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait()?;
        }
        Ok(self.exited)
    }

    /// Waits for the child to exit on its own for at most `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal_group(&self, signal: Signal) {
        let pid = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw);
        if let Some(pid) = pid {
            // The group may already be gone; nothing to do then.
            let _ = kill_process_group(pid, signal);
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // The group can outlive the leader (forked session processes), so signal it even
        // when the leader has exited.
        self.signal_group(Signal::TERM);
        if matches!(self.wait_timeout(Duration::from_secs(2)), Ok(Some(_))) {
            self.signal_group(Signal::KILL);
            return;
        }
        self.signal_group(Signal::KILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` to completion with stdin closed and output captured, killing it (and its process
/// group) if it takes longer than `timeout`.
///
/// # Panics
/// When the command cannot start or times out (with what it printed so far).
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// let out = integration_tests::output_within(Command::new("echo").arg("hi"), Duration::from_secs(10));
/// assert_eq!(out.stdout, b"hi\n");
/// ```
pub fn output_within(cmd: &mut Command, timeout: Duration) -> std::process::Output {
    output_fed(cmd, std::process::Stdio::null(), timeout)
}

/// Like [`output_within`], reading `stdin` (say, a file holding a script) as its input.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// let script = tempfile::NamedTempFile::new().unwrap();
/// std::fs::write(script.path(), "fed\n").unwrap();
/// let input = std::fs::File::open(script.path()).unwrap();
/// let out = integration_tests::output_fed(&mut Command::new("cat"), input, Duration::from_secs(10));
/// assert_eq!(out.stdout, b"fed\n");
/// ```
pub fn output_fed(
    cmd: &mut Command,
    stdin: impl Into<std::process::Stdio>,
    timeout: Duration,
) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    let shown = format!("{cmd:?}");
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(cmd).unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let mut stdout = guard.child_mut().stdout.take().expect("piped stdout");
    let mut stderr = guard.child_mut().stderr.take().expect("piped stderr");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = guard
        .wait_timeout(timeout)
        .unwrap_or_else(|e| panic!("waiting for {shown}: {e}"));
    match status {
        Some(status) => {
            // The group may hold the pipes open (background children); the guard kills it.
            drop(guard);
            let stdout = out_thread.join().unwrap_or_default();
            let stderr = err_thread.join().unwrap_or_default();
            std::process::Output {
                status,
                stdout,
                stderr,
            }
        }
        None => {
            drop(guard);
            let stdout = out_thread.join().unwrap_or_default();
            let stderr = err_thread.join().unwrap_or_default();
            panic!(
                "{shown} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            )
        }
    }
}

/// Starts the `ftp-server` binary with `args` (in `cwd` when given) and waits for the start-up
/// banner that names its `ftp://` address. Returns the guarded process, that address and the
/// banner lines printed with it.
///
/// # Panics
/// When the server prints no address within 30 seconds.
pub fn start_server_binary(
    args: &[&str],
    cwd: Option<&std::path::Path>,
) -> (ChildGuard, std::net::SocketAddr, Vec<String>) {
    let mut cmd = Command::new(crate::bin_path("ftp-server"));
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    start_server_command(cmd)
}

/// [`start_server_binary`] for a prepared `ftp-server` command (its own environment, say):
/// starts it with `RUST_LOG=warn` unless set, stdout read for the banner, stderr dropped.
///
/// # Panics
/// When the server prints no address within 30 seconds.
pub fn start_server_command(mut cmd: Command) -> (ChildGuard, std::net::SocketAddr, Vec<String>) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    if !cmd.get_envs().any(|(k, _)| k == "RUST_LOG") {
        cmd.env("RUST_LOG", "warn");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = ChildGuard::spawn(&mut cmd).expect("start ftp-server");
    let stdout = child.child_mut().stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut banner = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("ftp-server printed its address");
        let found = line
            .split("ftp://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok());
        banner.push(line);
        if let Some(a) = found {
            break a;
        }
    };
    // The rest of the banner is printed at once: collect it briefly.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        banner.push(line);
    }
    (child, addr, banner)
}

/// The SHA-256 fingerprint `ftp-server --tls-self-signed` printed in its start-up `banner`.
///
/// # Panics
/// When the banner names none.
pub fn banner_fingerprint(banner: &[String]) -> String {
    banner
        .iter()
        .find_map(|l| l.split("SHA-256 fingerprint ").nth(1))
        .unwrap_or_else(|| panic!("no fingerprint in {banner:?}"))
        .trim()
        .to_string()
}

/// Runs `cmd` with a 90-second limit and asserts that it succeeded; returns its output.
///
/// # Panics
/// When the command fails or overruns, with its stderr in the message.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = output_within(cmd, Duration::from_secs(90));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Asserts that the file at `path` holds exactly `want` (the length is compared first, so a
/// failure stays readable for large files).
pub fn assert_file(path: &std::path::Path, want: &[u8]) {
    let got = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(got.len(), want.len(), "length of {}", path.display());
    assert!(got == want, "contents of {} differ", path.display());
}
