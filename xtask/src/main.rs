//! Project automation: `cargo xtask ci | install | interop | fuzz | bench`.
//!
//! Every subcommand is a thin, printed sequence of ordinary commands (`cargo`, `apt-get`,
//! `pip`), so what it does can be read in the log and repeated by hand.

mod bench;
mod idle_memory;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// Debian packages the interop suite runs directly (installed normally with `apt-get install`).
const APT_TOOLS: &[&str] = &["curl", "lftp", "openssl", "passwd"];

/// Third-party FTP servers. Debian's packages conflict with each other (they all provide
/// `ftp-server`), so each is fetched with `apt-get download` and unpacked side by side with
/// `dpkg -x` under `target/peers/<dir>/`; only their shared-library dependencies are installed.
const PEER_DEBS: &[PeerDeb] = &[
    PeerDeb {
        dir: "vsftpd",
        packages: &["vsftpd"],
        binary: "usr/sbin/vsftpd",
    },
    PeerDeb {
        dir: "pure-ftpd",
        packages: &["pure-ftpd", "pure-ftpd-common"],
        binary: "usr/sbin/pure-ftpd",
    },
    PeerDeb {
        dir: "proftpd",
        packages: &["proftpd-core"],
        binary: "usr/sbin/proftpd",
    },
];

/// The system account vsftpd logs in (vsftpd authenticates only system accounts through
/// PAM, and refuses a writable anonymous root). Must match `integration_tests::peers`.
const VSFTPD_USER: &str = "ftpinterop";
const VSFTPD_PASS: &str = "interop-pw";

struct PeerDeb {
    dir: &'static str,
    packages: &'static [&'static str],
    binary: &'static str,
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
    },
    /// Measure the release ftp-server's memory per idle logged-in session (part of `bench`).
    IdleMemory {
        /// Idle control connections to open.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        connections: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    std::env::set_current_dir(&root).with_context(|| format!("cd {}", root.display()))?;
    match cli.cmd {
        Cmd::Ci => run(Command::new("bash").arg(".ci/run")),
        Cmd::Install => install(&root),
        Cmd::Interop { install: i, only } => {
            if i {
                install(&root)?;
            }
            interop(&root, only.as_deref())
        }
        Cmd::Fuzz { target, seconds } => fuzz(&root, target.as_deref(), seconds),
        Cmd::Bench {
            quick,
            rounds,
            only,
            json,
            svg,
        } => {
            let opts = bench::Options {
                quick,
                rounds: rounds.unwrap_or(if quick { 1 } else { 3 }).max(1),
                only,
                json,
                svg,
            };
            bench(&root, &opts)
        }
        Cmd::FloorServer { root: files } => bench::floor_server(&files),
        Cmd::IdleMemory { connections } => idle_memory::run(&root, connections),
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
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
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

/// Remembers whether `apt-get update` ran, so it runs at most once and only when needed.
struct Apt {
    updated: bool,
}

impl Apt {
    fn update_once(&mut self) -> Result<()> {
        if !self.updated {
            run(Command::new("apt-get").args(["update", "-qq"]))?;
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
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    }
}

/// Installs every peer the interop suite needs; a no-op when all are present.
fn install(root: &Path) -> Result<()> {
    let mut apt = Apt { updated: false };
    apt.install(&APT_TOOLS.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;

    // pyOpenSSL: pyftpdlib's TLS_FTPHandler needs it (the FTPS interop tests).
    if !succeeds(Command::new("python3").args(["-c", "import pyftpdlib, OpenSSL"])) {
        run(Command::new("python3").args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--root-user-action=ignore",
            "pyftpdlib",
            "pyopenssl",
        ]))?;
    }

    let peers = root.join("target").join("peers");
    let debs = peers.join("debs");
    for peer in PEER_DEBS {
        let dest = peers.join(peer.dir);
        if !dest.join(peer.binary).is_file() {
            std::fs::create_dir_all(&debs)?;
            apt.update_once()?;
            run(Command::new("apt-get")
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

fn fuzz(root: &Path, only: Option<&str>, seconds: u64) -> Result<()> {
    if !succeeds(Command::new("cargo").args(["+nightly", "fuzz", "--version"])) {
        run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    let dirs = fuzz_dirs(root)?;
    if dirs.is_empty() {
        bail!("no */fuzz directories with a Cargo.toml");
    }
    let mut ran = 0;
    for dir in dirs {
        let listed = output(
            Command::new("cargo")
                .args(["+nightly", "fuzz", "list", "--fuzz-dir"])
                .arg(&dir),
        )?;
        for target in listed.lines().map(str::trim).filter(|t| !t.is_empty()) {
            if only.is_some_and(|o| o != target) {
                continue;
            }
            run(Command::new("cargo")
                .args(["+nightly", "fuzz", "run", target, "--fuzz-dir"])
                .arg(&dir)
                .arg("--")
                .arg(format!("-max_total_time={seconds}")))?;
            ran += 1;
        }
    }
    if ran == 0 {
        bail!("no fuzz target named {}", only.unwrap_or("(any)"));
    }
    eprintln!("xtask: {ran} fuzz target(s) ran {seconds}s each without a crash");
    Ok(())
}

fn bench(root: &Path, opts: &bench::Options) -> Result<()> {
    if !opts.quick {
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
