//! Project automation: `cargo xtask check | ci | install | interop | fuzz | bench | soak |
//! dist | ceph`.
//!
//! Every subcommand is a thin, printed sequence of ordinary commands (`cargo`, `apt-get`,
//! `pip`), so what it does can be read in the log and repeated by hand.

mod bench;
mod ceph;
mod check;
mod dist;
mod idle_memory;
mod soak;
#[cfg(test)]
mod tidy;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// Debian packages the interop suite runs directly (installed normally with `apt-get install`).
/// (rclone: Go's TLS client, with one session cache shared by all its connections.)
/// (haproxy: the balancer in front of a cluster of our servers.)
const APT_TOOLS: &[&str] = &["curl", "lftp", "openssl", "passwd", "rclone", "haproxy"];

/// Third-party FTP servers. Debian's packages conflict with each other (they all provide
/// `ftp-server`), so each is fetched with `apt-get download` and unpacked side by side with
/// `dpkg -x` under `target/peers/<dir>/`; only their shared-library dependencies are installed.
const PEER_DEBS: &[PeerDeb] = &[
    PeerDeb {
        dir: "vsftpd",
        packages: &["vsftpd"],
        files: &["usr/sbin/vsftpd"],
    },
    PeerDeb {
        dir: "pure-ftpd",
        packages: &["pure-ftpd", "pure-ftpd-common"],
        files: &["usr/sbin/pure-ftpd"],
    },
    // mod_tls (FTPS) is in proftpd-mod-crypto, loaded from the unpacked tree.
    PeerDeb {
        dir: "proftpd",
        packages: &["proftpd-core", "proftpd-mod-crypto"],
        files: &["usr/sbin/proftpd", "usr/lib/proftpd/mod_tls.so"],
    },
];

/// The system account vsftpd logs in (vsftpd authenticates only system accounts through
/// PAM, and refuses a writable anonymous root). Must match `integration_tests::peers`.
const VSFTPD_USER: &str = "ftpinterop";
const VSFTPD_PASS: &str = "interop-pw";

struct PeerDeb {
    dir: &'static str,
    packages: &'static [&'static str],
    /// Files the unpacked packages provide; all present means nothing to do.
    files: &'static [&'static str],
}

#[derive(Parser, Debug)]
#[command(
    name = "xtask",
    about = "Project automation for the rust-ftp workspace"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the checks a contributor runs before pushing, without root or peers: fmt, clippy,
    /// tests, docs with warnings denied (all `--locked`), a build at the declared MSRV and a
    /// compile of the fuzz crates (xtask/src/check.rs).
    Check,
    /// Run exactly what CI runs (`bash .ci/run`): install peers, fmt, clippy, tests, interop.
    Ci,
    /// Install the third-party peers the interop tests need (Debian packages, PyPI, unpacked
    /// FTP servers); idempotent, needs root for apt-get.
    Install,
    /// Run the interop suite (integration-tests/tests/interop_*.rs) with peers mandatory.
    Interop {
        /// Install the peers first (same as `cargo xtask install`).
        #[arg(long)]
        install: bool,
        /// Run only one suite: a test file name (`curl` for interop_curl.rs) or a test-name
        /// filter applied to every interop file (`vsftpd`).
        #[arg(long, value_name = "NAME")]
        only: Option<String>,
    },
    /// Run the cargo-fuzz targets of every `*/fuzz` directory (needs the nightly toolchain).
    Fuzz {
        /// Only this target (e.g. parse_command).
        #[arg(long, value_name = "T")]
        target: Option<String>,
        /// Seconds per target.
        #[arg(long, value_name = "N", default_value_t = 30)]
        seconds: u64,
        /// cargo-fuzz's sanitizer. `none` by default: every crate of ours forbids unsafe
        /// code, so what the runs look for (panics, hangs, unbounded memory) needs only the
        /// coverage, and without AddressSanitizer the build takes 40% less time and each
        /// input runs faster. `address` also checks the dependencies' unsafe code.
        #[arg(long, default_value = "none", value_parser = ["none", "address"])]
        sanitizer: String,
    },
    /// Run the benchmarks: ftp-proto's criterion benches, idle memory, and the side-by-side
    /// comparison with vsftpd, pure-ftpd, ProFTPD and pyftpdlib (xtask/src/bench/).
    Bench {
        /// Small sizes, one round: finishes in under a minute (skips the criterion benches).
        #[arg(long)]
        quick: bool,
        /// Rounds over all servers (medians and min-max are taken over them). [default: 3, quick: 1]
        #[arg(long, value_name = "N")]
        rounds: Option<usize>,
        /// Only compare ours with this server (vsftpd, pure-ftpd, proftpd, pyftpdlib).
        #[arg(long, value_name = "SERVER")]
        only: Option<String>,
        /// Only the S3 comparison: 1 GiB (quick: 64 MiB) STOR and RETR through our server
        /// into the Ceph cluster of `cargo xtask ceph start`, against rclone directly over
        /// S3; writes s3.json beside the JSON output (xtask/src/bench/s3.rs).
        #[arg(long)]
        s3: bool,
        /// Only the FTPS scenarios (AUTH TLS + PROT P; xtask/src/bench/tls.rs).
        #[arg(long, conflicts_with = "plain")]
        tls: bool,
        /// Only the plain-FTP scenarios (no FTPS rows).
        #[arg(long)]
        plain: bool,
        /// JSON output.
        #[arg(long, value_name = "PATH", default_value = "target/bench/results.json")]
        json: PathBuf,
        /// SVG chart output.
        #[arg(long, value_name = "PATH", default_value = "target/bench/chart.svg")]
        svg: PathBuf,
    },
    /// (Internal to `bench`) the null FTP server of the benchmark's floor figures: serves
    /// `--root` on 127.0.0.1, prints its port on stdout (xtask/src/bench/floor.rs).
    #[command(hide = true)]
    FloorServer {
        /// Directory served as `/`.
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// Send downloads as ProFTPD does: `TCP_CORK` around one blocking `sendfile`.
        #[arg(long)]
        cork: bool,
    },
    /// Soak the server: many concurrent logged-in sessions held, then many short sessions
    /// with transfers; fails unless its descriptors and memory come back to where they
    /// started (xtask/src/soak.rs). Loopback only.
    Soak {
        /// Concurrent logged-in sessions held.
        #[arg(long, value_name = "N", default_value_t = 10_000)]
        sessions: usize,
        /// Seconds they are held.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        hold: u64,
        /// Short sessions (log in, download, upload, quit) run afterwards.
        #[arg(long, value_name = "M", default_value_t = 100_000)]
        short: usize,
        /// Fail if the short sessions take longer than this.
        #[arg(long, value_name = "SECS", default_value_t = 1800)]
        max_seconds: u64,
        /// Soak the debug build (as `cargo test` built it) instead of a release build.
        #[arg(long)]
        debug: bool,
    },
    /// Generate shell completions (bash, zsh, fish) and man pages for ftp-client and
    /// ftp-server from their clap definitions into target/dist/ (xtask/src/dist.rs).
    Dist {
        /// Write here instead of target/dist.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// A replicated Ceph cluster with an S3 gateway on 127.0.0.1:7480 for the S3 tests:
    /// `start` (idempotent; prints the tests' environment), `stop`, `status`
    /// (xtask/src/ceph.rs). All state under target/ceph (or $FTP_CEPH_DIR).
    Ceph {
        #[command(subcommand)]
        action: CephAction,
    },
    /// Measure the release ftp-server's memory per idle logged-in session (part of `bench`).
    IdleMemory {
        /// Idle control connections to open.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        connections: usize,
    },
}

/// What `cargo xtask ceph` does.
#[derive(Subcommand, Debug)]
enum CephAction {
    /// Make and start the cluster unless it runs; wait until S3 answers; print the
    /// environment (`FTP_S3_ENDPOINT=...` lines) the S3 tests read.
    Start,
    /// Stop every daemon of the scratch directory, by the PIDs of its pid files.
    Stop,
    /// Say which daemons run and whether S3 answers.
    Status,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    std::env::set_current_dir(&root).with_context(|| format!("cd {}", root.display()))?;
    match cli.cmd {
        Cmd::Check => check::check(&root),
        Cmd::Ci => run(Command::new("bash").arg(".ci/run")),
        Cmd::Install => install(&root),
        Cmd::Interop { install: i, only } => {
            if i {
                install(&root)?;
            }
            interop(&root, only.as_deref())
        }
        Cmd::Fuzz {
            target,
            seconds,
            sanitizer,
        } => fuzz(&root, target.as_deref(), seconds, &sanitizer),
        Cmd::Bench {
            quick,
            rounds,
            s3: true,
            json,
            ..
        } => bench::s3::run(
            &root,
            if quick { 64 << 20 } else { 1 << 30 },
            rounds.unwrap_or(if quick { 1 } else { 3 }).max(1),
            &json.with_file_name("s3.json"),
        ),
        Cmd::Bench {
            quick,
            rounds,
            only,
            tls,
            plain,
            json,
            svg,
            ..
        } => {
            let opts = bench::Options {
                quick,
                rounds: rounds.unwrap_or(if quick { 1 } else { 3 }).max(1),
                only,
                tls_only: tls,
                plain_only: plain,
                json,
                svg,
            };
            bench(&root, &opts)
        }
        Cmd::FloorServer { root: files, cork } => bench::floor_server(&files, cork),
        Cmd::Dist { out } => dist::dist(&root, out.as_deref()).map(drop),
        Cmd::Ceph { action } => match action {
            CephAction::Start => ceph::start(&root),
            CephAction::Stop => ceph::stop(&root),
            CephAction::Status => ceph::status(&root),
        },
        Cmd::IdleMemory { connections } => idle_memory::run(&root, connections),
        Cmd::Soak {
            sessions,
            hold,
            short,
            max_seconds,
            debug,
        } => soak::run(
            &root,
            &soak::Options {
                sessions,
                hold: std::time::Duration::from_secs(hold),
                short,
                max_time: std::time::Duration::from_secs(max_seconds),
                debug,
            },
        ),
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

/// `cargo`, honouring the `CARGO` variable cargo sets for the processes it runs.
fn cargo() -> Command {
    without_xtask_env(Command::new(
        std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
    ))
}

/// `cargo` through rustup's proxy, for `cargo +toolchain …`.
fn rustup_cargo() -> Command {
    without_xtask_env(Command::new("cargo"))
}

/// Removes the variables `cargo run` set for xtask itself (`CARGO_PKG_NAME=xtask`,
/// `CARGO_MANIFEST_DIR`, …). Build scripts such as ring's watch them
/// (`rerun-if-env-changed`), so passing them on rebuilt those crates at every xtask step
/// and again at the next plain `cargo test`.
fn without_xtask_env(mut cmd: Command) -> Command {
    const SET_FOR_XTASK: [&str; 5] = [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_CRATE_",
        "CARGO_BIN_",
        "CARGO_PRIMARY_PACKAGE",
    ];
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if SET_FOR_XTASK.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// Builds `packages` (`--release` unless `debug`) and returns the directory their binaries
/// are in (`target/release` or `target/debug`, honouring `CARGO_TARGET_DIR`).
fn build_bins(root: &Path, packages: &[&str], debug: bool) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.arg("build");
    if !debug {
        cmd.arg("--release");
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    run(&mut cmd)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join(if debug { "debug" } else { "release" }))
}

/// Runs a command with inherited stdio, printing it first and failing on a non-zero exit.
fn run(cmd: &mut Command) -> Result<()> {
    let shown = show(cmd);
    eprintln!("xtask: $ {shown}");
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{shown}`"))?;
    eprintln!(
        "xtask: `{shown}` finished in {:.1}s ({status})",
        start.elapsed().as_secs_f64()
    );
    if !status.success() {
        bail!("`{shown}` failed: {status}");
    }
    Ok(())
}

/// Runs a command quietly and reports only whether it succeeded.
fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs a command and returns its stdout.
fn output(cmd: &mut Command) -> Result<String> {
    let shown = show(cmd);
    let out = cmd
        .output()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !out.status.success() {
        bail!(
            "`{shown}` failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

fn apt_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("ok installed"))
        .unwrap_or(false)
}

/// apt-get waits up to five minutes for the dpkg lock another apt-get holds, instead of
/// failing at once (several installs may run side by side on one machine).
const APT_LOCK_WAIT: &[&str] = &["-o", "DPkg::Lock::Timeout=300"];

/// Remembers whether `apt-get update` ran, so it runs at most once and only when needed.
struct Apt {
    updated: bool,
}

impl Apt {
    fn update_once(&mut self) -> Result<()> {
        if !self.updated {
            run(Command::new("apt-get")
                .args(APT_LOCK_WAIT)
                .args(["update", "-qq"]))?;
            self.updated = true;
        }
        Ok(())
    }

    fn install(&mut self, packages: &[String]) -> Result<()> {
        let missing: Vec<&String> = packages.iter().filter(|p| !apt_installed(p)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.update_once()?;
        run(Command::new("apt-get")
            .args(APT_LOCK_WAIT)
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    }
}

/// Installs every peer the interop suite needs; a no-op when all are present.
fn install(root: &Path) -> Result<()> {
    let mut apt = Apt { updated: false };
    apt.install(&APT_TOOLS.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    // The replicated Ceph cluster of the S3 tests (`cargo xtask ceph start`).
    apt.install(
        &ceph::PACKAGES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    )?;

    // pyOpenSSL: pyftpdlib's TLS_FTPHandler needs it (the FTPS interop tests).
    pip_install("pyftpdlib, OpenSSL", &["pyftpdlib", "pyopenssl"])?;
    // aioftp: Python's asyncio FTP client (interop_aioftp.rs).
    pip_install("aioftp", &["aioftp"])?;

    let peers = root.join("target").join("peers");
    install_node_peers(&mut apt, &peers)?;
    let debs = peers.join("debs");
    for peer in PEER_DEBS {
        let dest = peers.join(peer.dir);
        if !peer.files.iter().all(|f| dest.join(f).is_file()) {
            std::fs::create_dir_all(&debs)?;
            apt.update_once()?;
            run(Command::new("apt-get")
                .args(APT_LOCK_WAIT)
                .args(["-o", "APT::Sandbox::User=root", "download"])
                .args(peer.packages)
                .current_dir(&debs))?;
            for package in peer.packages {
                let deb = find_deb(&debs, package)?;
                run(Command::new("dpkg").arg("-x").arg(&deb).arg(&dest))?;
            }
        }
        // The unpacked binaries still need their shared libraries, which do not conflict.
        for package in peer.packages {
            let deb = match find_deb(&debs, package) {
                Ok(deb) => deb,
                Err(_) => continue, // unpacked by an earlier run whose debs were cleaned
            };
            apt.install(&library_depends(&deb)?)?;
        }
    }

    ensure_vsftpd_account()?;
    eprintln!("xtask: peers installed under {}", peers.display());
    Ok(())
}

/// `pip install`s `packages` unless python3 can already `import {modules}`.
fn pip_install(modules: &str, packages: &[&str]) -> Result<()> {
    if succeeds(Command::new("python3").args(["-c", &format!("import {modules}")])) {
        return Ok(());
    }
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--root-user-action=ignore")
        .args(packages))
}

/// npm packages the interop suite runs, installed into `target/peers/node` (the tests point
/// `NODE_PATH` at its `node_modules`): basic-ftp, Node's FTP client (interop_basic_ftp.rs).
const NPM_PEERS: &[&str] = &["basic-ftp"];

fn install_node_peers(apt: &mut Apt, peers: &Path) -> Result<()> {
    let dir = peers.join("node");
    let missing: Vec<&str> = NPM_PEERS
        .iter()
        .copied()
        .filter(|p| {
            !dir.join("node_modules")
                .join(p)
                .join("package.json")
                .is_file()
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // Debian's npm, unless Node.js (which may bring its own npm) is there already.
    if !succeeds(Command::new("npm").arg("--version")) {
        apt.install(&["nodejs".to_string(), "npm".to_string()])?;
    }
    std::fs::create_dir_all(&dir)?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&dir)
        .args(&missing))
}

/// The `.deb` file of `package` in `dir` (`<package>_<version>_<arch>.deb`).
fn find_deb(dir: &Path, package: &str) -> Result<PathBuf> {
    let prefix = format!("{package}_");
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if let Some(name) = name {
            if name.starts_with(&prefix) && name.ends_with(".deb") {
                return Ok(path);
            }
        }
    }
    bail!("no {package}_*.deb in {}", dir.display())
}

/// The `lib*` packages a `.deb` depends on (first alternative of each, versions dropped).
fn library_depends(deb: &Path) -> Result<Vec<String>> {
    let depends = output(Command::new("dpkg-deb").arg("-f").arg(deb).arg("Depends"))?;
    Ok(lib_packages(&depends))
}

/// The `lib*` package names of a Debian `Depends` field, except PAM modules.
fn lib_packages(depends: &str) -> Vec<String> {
    depends
        .split(',')
        .filter_map(|dep| dep.split('|').next())
        .filter_map(|dep| dep.split_whitespace().next())
        .map(|name| name.split(':').next().unwrap_or(name).to_string())
        .filter(|name| name.starts_with("lib") && !name.starts_with("libpam-"))
        .collect()
}

/// vsftpd logs in system accounts only: a no-shell system account with a known password,
/// whose home is `/` (vsftpd changes into the home before `local_root`).
fn ensure_vsftpd_account() -> Result<()> {
    if !succeeds(Command::new("id").arg(VSFTPD_USER)) {
        run(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--home-dir",
            "/",
            "--shell",
            "/bin/false",
            "--gid",
            "nogroup",
            VSFTPD_USER,
        ]))?;
    }
    let mut chpasswd = Command::new("chpasswd");
    chpasswd.stdin(std::process::Stdio::piped());
    let mut child = chpasswd.spawn().context("cannot start chpasswd")?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        writeln!(stdin, "{VSFTPD_USER}:{VSFTPD_PASS}")?;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("chpasswd failed: {status}");
    }
    Ok(())
}

/// The interop test files, by name without the `interop_` prefix (`curl`, `peers`, …).
fn interop_suites(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("integration-tests").join("tests");
    let mut suites = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(suite) = name
            .strip_prefix("interop_")
            .and_then(|n| n.strip_suffix(".rs"))
        {
            suites.push(suite.to_string());
        }
    }
    suites.sort();
    Ok(suites)
}

fn interop(root: &Path, only: Option<&str>) -> Result<()> {
    let suites = interop_suites(root)?;
    if suites.is_empty() {
        bail!("no integration-tests/tests/interop_*.rs files");
    }
    let mut cmd = cargo();
    // `--workspace` (not `-p integration-tests`) keeps the feature resolution of
    // `cargo test --workspace`, so CI reuses what that step built instead of rebuilding.
    cmd.args(["test", "--workspace"])
        .env("FTP_INTEROP_REQUIRED", "1");
    let filter = match only {
        Some(name) if suites.iter().any(|s| s == name) => {
            cmd.arg("--test").arg(format!("interop_{name}"));
            None
        }
        other => {
            for suite in &suites {
                cmd.arg("--test").arg(format!("interop_{suite}"));
            }
            other
        }
    };
    if let Some(filter) = filter {
        // Test names use `_` where peer names use `-` (pure-ftpd -> pure_ftpd_...).
        cmd.arg("--").arg(filter.replace('-', "_"));
    }
    run(&mut cmd)
}

/// Every directory `<crate>/fuzz` with a Cargo.toml, e.g. `ftp-proto/fuzz`.
fn fuzz_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let dir = entry?.path().join("fuzz");
        if dir.join("Cargo.toml").is_file() {
            dirs.push(dir);
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn fuzz(root: &Path, only: Option<&str>, seconds: u64, sanitizer: &str) -> Result<()> {
    if !succeeds(rustup_cargo().args(["+nightly", "fuzz", "--version"])) {
        run(rustup_cargo().args(["install", "--locked", "cargo-fuzz"]))?;
    }
    let dirs = fuzz_dirs(root)?;
    if dirs.is_empty() {
        bail!("no */fuzz directories with a Cargo.toml");
    }
    let mut ran = 0;
    for dir in dirs {
        let listed = output(
            rustup_cargo()
                .args(["+nightly", "fuzz", "list", "--fuzz-dir"])
                .arg(&dir),
        )?;
        let targets: Vec<&str> = listed
            .lines()
            .map(str::trim)
            .filter(|t| !t.is_empty() && only.is_none_or(|o| o == *t))
            .collect();
        if targets.is_empty() {
            continue;
        }
        // One build of every target of the directory, then one run each.
        run(rustup_cargo()
            .args([
                "+nightly",
                "fuzz",
                "build",
                "--sanitizer",
                sanitizer,
                "--fuzz-dir",
            ])
            .arg(&dir))?;
        // As many targets at a time as there are cores: libFuzzer runs on one.
        let jobs = std::thread::available_parallelism().map_or(1, usize::from);
        for batch in targets.chunks(jobs) {
            let children = batch
                .iter()
                .map(|t| Ok((*t, start_fuzz(&dir, t, seconds, sanitizer)?)))
                .collect::<Result<Vec<_>>>()?;
            let mut crashed = Vec::new();
            for (target, mut child) in children {
                if !child.wait()?.success() {
                    crashed.push(keep_crash(&dir, target)?);
                }
                ran += 1;
            }
            if !crashed.is_empty() {
                bail!("{}", crashed.join("; "));
            }
        }
    }
    if ran == 0 {
        bail!("no fuzz target named {}", only.unwrap_or("(any)"));
    }
    eprintln!("xtask: {ran} fuzz target(s) ran {seconds}s each without a crash");
    Ok(())
}

/// Starts one target for `seconds` over its working corpus (`fuzz/corpus/T`, not
/// committed), the committed seeds (`fuzz/seeds/T`) and the committed crash inputs of
/// earlier findings (`fuzz/regressions/T`, each re-run first).
fn start_fuzz(dir: &Path, target: &str, seconds: u64, sanitizer: &str) -> Result<Child> {
    let corpus = dir.join("corpus").join(target);
    let artifacts = dir.join("artifacts").join(target);
    std::fs::create_dir_all(&corpus)?;
    // Only this run's findings are in it afterwards.
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts)?;
    let mut cmd = rustup_cargo();
    // The same sanitizer as the build, or cargo-fuzz would build the target again.
    cmd.args([
        "+nightly",
        "fuzz",
        "run",
        "--sanitizer",
        sanitizer,
        target,
        "--fuzz-dir",
    ])
    .arg(dir)
    .arg(&corpus);
    for kept in ["seeds", "regressions"] {
        let d = dir.join(kept).join(target);
        if d.is_dir() {
            cmd.arg(d);
        }
    }
    // cargo-fuzz points libFuzzer's -artifact_prefix at fuzz/artifacts/T/.
    cmd.arg("--").arg(format!("-max_total_time={seconds}"));
    eprintln!("xtask: $ {cmd:?}");
    cmd.spawn()
        .with_context(|| format!("start fuzz target {target}"))
}

/// After a target failed: copies its crash inputs into `fuzz/regressions/T`, to be
/// committed beside the fix, and says so.
fn keep_crash(dir: &Path, target: &str) -> Result<String> {
    let artifacts = dir.join("artifacts").join(target);
    let regressions = dir.join("regressions").join(target);
    std::fs::create_dir_all(&regressions)?;
    let mut kept = Vec::new();
    for entry in std::fs::read_dir(&artifacts)? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_owned();
        std::fs::copy(&path, regressions.join(&name))?;
        kept.push(regressions.join(name).display().to_string());
    }
    Ok(format!(
        "fuzz target {target} crashed; its input is kept as a regression (commit it with the fix): {}",
        kept.join(", ")
    ))
}

fn bench(root: &Path, opts: &bench::Options) -> Result<()> {
    // `--tls` is only the FTPS rows: no codec or idle-memory figures.
    if !opts.quick && !opts.tls_only {
        idle_memory::run(root, 1000)?;
        run(cargo().args(["bench", "-p", "ftp-proto"]))?;
    }
    bench::run(root, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lib_packages_keeps_first_library_alternative_without_versions() {
        let depends = "adduser, libpam-runtime, libc6 (>= 2.34), libcap2 (>= 1:2.10), \
                       libssl3 (>= 3.0.0) | libssl1.1, debconf (>= 0.5) | debconf-2.0, \
                       libwrap0:amd64 (>= 7.6-4~)";
        assert_eq!(
            lib_packages(depends),
            ["libc6", "libcap2", "libssl3", "libwrap0"]
        );
    }

    #[test]
    fn interop_suites_lists_the_interop_test_files() {
        let suites = interop_suites(&workspace_root().unwrap()).unwrap();
        for expected in ["curl", "ftplib", "lftp", "peers"] {
            assert!(suites.iter().any(|s| s == expected), "{suites:?}");
        }
    }
}
