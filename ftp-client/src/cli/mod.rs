//! The `ftp-client` command line: argument parsing and the subcommands. The binary's `main`
//! only calls [`main_with_args`].

mod bookmarks;
mod doctor;
mod integrity;
mod interrupt;
pub mod mirror;
pub mod names;
pub mod netrc;
mod ops;
mod output;
mod paths;
mod progress;
mod segments;
mod session;
mod shell;
mod transfer;
pub mod url;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};

use crate::error::ErrorClass;
use crate::tls::{TlsMode, TlsVersion, Verify};
use crate::{DataMode, Options, TransferKind};

/// A number of seconds, not negative, and more than 0 unless `zero_ok`.
fn seconds(s: &str, zero_ok: bool) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0)) => Ok(v),
        Ok(_) if zero_ok => Err("must be 0 or more seconds".into()),
        Ok(_) => Err("must be more than 0 seconds".into()),
        Err(_) => Err(format!("{s:?} is not a number of seconds")),
    }
}

/// For `--timeout` (0 would time everything out at once).
fn positive_secs(s: &str) -> Result<f64, String> {
    seconds(s, false)
}

fn secs_or_zero(s: &str) -> Result<f64, String> {
    seconds(s, true)
}

fn parse_tls_version(s: &str) -> Result<TlsVersion, String> {
    match s {
        "1.2" => Ok(TlsVersion::Tls12),
        "1.3" => Ok(TlsVersion::Tls13),
        _ => Err(format!(
            "{s:?} is not a TLS version this client offers (1.2 or 1.3)"
        )),
    }
}

fn parse_pin(s: &str) -> Result<[u8; 32], String> {
    crate::tls::parse_pin(s).map_err(|e| e.to_string())
}

macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success
  2  usage error (bad arguments or URL)
  3  cannot connect (refused, unreachable, connection lost, 421)
  4  login failed
  5  TLS error (handshake, certificate verification, AUTH TLS refused)
  6  not found or permission denied (550, 553, local file missing)
  7  transfer failed (other server errors, protocol errors)
  8  timeout
  9  partial failure of a batch (mirror, recursive get, mget/mput, rm of several files)
  130  interrupted (Ctrl-C)"
    };
}

/// The exit codes, as documented in `--help` (see also [`crate::ErrorClass`]).
pub const EXIT_CODES: &str = exit_codes!();

const LONG_ABOUT: &str = concat!(
    "An FTP client for scripts and people.

URLs look like ftp://[user[:pass]@]host[:port]/path (IPv6 hosts in brackets).
ftps:// is implicit FTPS (port 990), ftpes:// explicit FTPS (AUTH TLS); ftp:// takes --tls/--implicit-tls.
Certificates are checked against the system roots, or
--ca-file, or --pin-sha256; --insecure skips the check. Paths are
relative to the login directory; use a doubled slash (ftp://host//etc) for an absolute path.
The password comes from the URL, the FTP_PASSWORD environment variable, ~/.netrc, or a prompt
when stdin is a terminal (never otherwise). Anonymous login is used when no user is given.
`ftp-client URL` opens the interactive shell, `ftp-client BOOKMARK` a bookmark's server
(`bookmark add` in the shell), and `ftp-client -c \"open URL; cd pub; mget *.iso\"` runs shell
commands, stopping at the first that fails (--keep-going runs them all).

Data goes to stdout, everything else to stderr. -v logs progress, -vv also shows the
control-connection transcript (with PASS masked). RUST_LOG and NO_COLOR are respected.
Interrupted transfers are retried (--retries) and resumed with REST; downloads are written to
.NAME.part and renamed when complete.

",
    exit_codes!()
);

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "ftp-client", version, args_override_self = true, about = "An FTP client for scripts and people", long_about = LONG_ABOUT)]
pub struct Cli {
    /// Print nothing but data and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More output: -v progress details, -vv the control-connection transcript.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Retries of an interrupted transfer (resumed with REST).
    #[arg(long, global = true, default_value_t = 3, value_name = "N")]
    pub retries: u32,
    /// First delay between retries in seconds (doubled each time, at most 30).
    #[arg(long, global = true, default_value_t = 1.0, value_name = "SECS", value_parser = secs_or_zero)]
    pub retry_delay: f64,
    /// Time limit in seconds for connecting, for each reply and for stalled data.
    #[arg(long, global = true, default_value_t = 30.0, value_name = "SECS", value_parser = positive_secs)]
    pub timeout: f64,
    /// Seconds between NOOP keep-alives on the control connection during transfers (0: off).
    #[arg(long, global = true, default_value_t = 30.0, value_name = "SECS", value_parser = secs_or_zero)]
    pub keepalive: f64,
    /// Active mode: the server connects to us (EPRT, falling back to PORT).
    #[arg(long, global = true)]
    pub active: bool,
    /// Connect to the address in 227 replies instead of the server's control address.
    #[arg(long, global = true)]
    pub trust_pasv_address: bool,
    /// Active mode: also accept data connections from other addresses than the server's
    /// control address (for multi-homed servers; unsafe: anyone may connect first).
    #[arg(long, global = true)]
    pub no_verify_data_peer: bool,
    /// Transfer in ASCII mode (TYPE A, line ends converted).
    #[arg(long, global = true)]
    pub ascii: bool,
    /// User name (overrides the URL's).
    #[arg(short, long, global = true)]
    pub user: Option<String>,
    /// The netrc file to read (default ~/.netrc).
    #[arg(long, global = true, value_name = "FILE")]
    pub netrc: Option<PathBuf>,
    /// Require explicit FTPS (AUTH TLS) on ftp:// URLs (ftpes:// URLs always do).
    #[arg(long, global = true)]
    pub tls: bool,
    /// Implicit FTPS on ftp:// URLs: TLS from the first byte (ftps:// URLs always are; they
    /// default to port 990).
    #[arg(long, global = true)]
    pub implicit_tls: bool,
    /// The newest TLS version to offer: 1.3 (default) or 1.2 (for servers that want a TLS 1.3
    /// session ticket used again on every data connection, such as ProFTPD 1.3.8).
    #[arg(long, global = true, value_name = "1.2|1.3", value_parser = parse_tls_version, default_value = "1.3")]
    pub tls_max_version: TlsVersion,
    /// Verify the server certificate against the CA certificates in this PEM file.
    #[arg(long, global = true, value_name = "FILE", conflicts_with_all = ["insecure", "pin_sha256"])]
    pub ca_file: Option<PathBuf>,
    /// Trust exactly the server certificate with this SHA-256 (hex, or base64 like
    /// curl's sha256//...).
    #[arg(long, global = true, value_name = "DIGEST", value_parser = parse_pin, conflicts_with = "insecure")]
    pub pin_sha256: Option<[u8; 32]>,
    /// Do not verify the server certificate (unsafe: anyone in the path can read along).
    #[arg(long, short = 'k', global = true)]
    pub insecure: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List a directory.
    Ls {
        /// ftp:// URL of the directory.
        url: String,
        /// Long format: type, size, time, name.
        #[arg(short = 'l')]
        long: bool,
        /// JSON array of entries.
        #[arg(long, conflicts_with = "long")]
        json: bool,
    },
    /// Download a file (or a directory with -r).
    Get {
        /// ftp:// URL of the file.
        url: String,
        /// Output file, or `-` for stdout (default: the remote name in the current directory).
        #[arg(short, long, value_name = "FILE")]
        output: Option<String>,
        /// Resume a partial download.
        #[arg(short = 'c', long = "continue")]
        resume: bool,
        /// Download a directory tree.
        #[arg(short, long)]
        recursive: bool,
        /// Never overwrite an existing local file (it is skipped with a notice).
        #[arg(short = 'n', long, conflicts_with = "resume")]
        no_clobber: bool,
        /// Download over N connections at once, each fetching one range (REST), into one
        /// preallocated .NAME.part whose progress -c resumes; one stream when the server
        /// lacks REST STREAM or the file is under 2 MiB.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=16), conflicts_with = "recursive")]
        segments: Option<u16>,
        /// Compare the server's SHA-256 (HASH) with the downloaded file's before keeping it;
        /// on a mismatch exit 7 and keep the `.NAME.part` file.
        #[arg(long)]
        verify: bool,
    },
    /// Upload a file (`-` for stdin).
    Put {
        /// Local file.
        file: PathBuf,
        /// ftp:// URL of the target (ending in `/`: a directory to put the file in).
        url: String,
        /// Resume a partial upload.
        #[arg(short = 'c', long = "continue")]
        resume: bool,
        /// Create missing remote directories.
        #[arg(long)]
        create_dirs: bool,
        /// Print {"path": …, "size": …} for the uploaded file.
        #[arg(long)]
        json: bool,
        /// Compare the server's SHA-256 (HASH) of the uploaded file with the local file's;
        /// exit 7 on a mismatch.
        #[arg(long)]
        verify: bool,
    },
    /// Delete remote files.
    Rm {
        /// ftp:// URLs.
        #[arg(required = true)]
        urls: Vec<String>,
        /// Print a JSON array: {"path": …, "deleted": true|false, "error": …} per URL.
        #[arg(long)]
        json: bool,
    },
    /// Create a remote directory.
    Mkdir {
        /// ftp:// URL.
        url: String,
        /// Create parents as needed, no error if it exists.
        #[arg(short, long)]
        parents: bool,
    },
    /// Remove an empty remote directory.
    Rmdir {
        /// ftp:// URL.
        url: String,
    },
    /// Rename a remote file or directory.
    Mv {
        /// ftp:// URL of the source.
        url: String,
        /// New path (on the same server; relative to the login directory, or an ftp:// URL).
        to: String,
    },
    /// Show a remote file's type, size and modification time.
    Stat {
        /// ftp:// URL.
        url: String,
        /// A JSON object (the fields of ls --json).
        #[arg(long)]
        json: bool,
    },
    /// Write a remote file to stdout.
    Cat {
        /// ftp:// URL.
        url: String,
    },
    /// Mirror a directory tree: SRC and DST are one ftp:// URL and one local directory.
    ///
    /// An interrupted mirror (killed, connection lost, --max-errors) leaves a journal in
    /// $XDG_STATE_HOME/ftp-client/mirror/: the same command continues with what was left,
    /// without comparing the trees again (--fresh compares them anyway).
    Mirror(mirror::MirrorArgs),
    /// Probe a server: what works (FEAT, EPSV/PASV/EPRT/PORT, MLSD, TLS versions, times,
    /// HASH, REST STREAM) and which flags to use. Uploads a small probe file (and deletes
    /// it) when allowed, to read the server's clock and time precision.
    Doctor {
        /// ftp:// URL of the server (its path is not used).
        url: String,
        /// One JSON object: {"url", "steps": [{"name", "ok", "ms", "detail"}], "findings",
        /// "advice"}.
        #[arg(long)]
        json: bool,
    },
    /// Print a remote file's digest (`HASH`), as sha256sum prints it.
    Hash {
        /// ftp:// URL of the file.
        url: String,
        /// sha-256, sha-512, sha-1, md5 or crc32.
        #[arg(long, default_value = "sha-256", value_parser = integrity::parse_alg)]
        alg: ftp_proto::hash::HashAlgorithm,
    },
    /// Copy a remote file: on the server (SITE CPFR/CPTO, SITE COPY) when it can, else
    /// streamed through two connections (no local copy).
    Cp {
        /// ftp:// URL of the source file.
        src: String,
        /// Destination: a path on the same server (relative to the login directory) or an
        /// ftp:// URL (on another server: streamed).
        dst: String,
    },
    /// The interactive shell (reads commands from stdin when it is not a terminal).
    /// `ftp-client URL`, `ftp-client BOOKMARK` and `ftp-client -c "…"` are short for it.
    Shell {
        /// Server to open first: a URL or a bookmark's name.
        url: Option<String>,
        /// Run these commands (separated by `;` or new lines) and quit; the first that fails
        /// ends the run with its exit code.
        #[arg(short = 'c', long = "commands", value_name = "COMMANDS")]
        commands: Option<String>,
        /// A failing command does not stop a -c or `source` script (`set fail-exit off`).
        #[arg(long)]
        keep_going: bool,
    },
}

/// Settings shared by all subcommands.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub opts: Options,
    pub retries: u32,
    pub retry_delay: Duration,
    pub quiet: bool,
    pub verbose: u8,
    pub progress: bool,
    pub color: bool,
    pub kind: TransferKind,
    pub user: Option<String>,
    pub netrc: Option<PathBuf>,
    pub interactive: bool,
    /// Stdout is a terminal: names printed there have their control characters escaped.
    pub stdout_tty: bool,
    /// Downloads skip existing local files (`get --no-clobber`, the shell's `clobber off`).
    pub no_clobber: bool,
    /// Connections for `mirror` without `-P` (the shell's `set parallel`).
    pub parallel: usize,
    /// `mirror --json`: a JSON summary on stdout instead of progress and a line on stderr.
    pub json: bool,
    /// `get --verify`, `put --verify`: compare digests after each transfer.
    pub verify: bool,
    /// `mirror --checksum`: compare digests where sizes match.
    pub checksum: bool,
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::from_secs(3600))
}

impl Ctx {
    fn from_cli(cli: &Cli) -> Ctx {
        let t = secs(cli.timeout);
        let opts = Options {
            connect_timeout: t,
            reply_timeout: t,
            data_timeout: t,
            keepalive: (cli.keepalive > 0.0).then(|| secs(cli.keepalive)),
            mode: if cli.active {
                DataMode::Active
            } else {
                DataMode::Passive
            },
            trust_pasv_address: cli.trust_pasv_address,
            verify_data_peer: !cli.no_verify_data_peer,
            tls: if cli.implicit_tls {
                TlsMode::Implicit
            } else if cli.tls {
                TlsMode::Explicit
            } else {
                TlsMode::Off
            },
            verify: if let Some(f) = &cli.ca_file {
                Verify::CaFile(f.clone())
            } else if let Some(pin) = cli.pin_sha256 {
                Verify::PinSha256(pin)
            } else if cli.insecure {
                Verify::DangerAcceptAnyCertificate
            } else {
                Verify::System
            },
            tls_max: cli.tls_max_version,
            ..Options::default()
        };
        if cli.insecure {
            eprintln!("warning: --insecure: the server's TLS certificate is not verified");
        }
        let stderr_tty = std::io::stderr().is_terminal();
        Ctx {
            opts,
            retries: cli.retries,
            retry_delay: secs(cli.retry_delay),
            quiet: cli.quiet,
            verbose: cli.verbose,
            progress: stderr_tty && !cli.quiet,
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            kind: if cli.ascii {
                TransferKind::Ascii
            } else {
                TransferKind::Binary
            },
            user: cli.user.clone(),
            netrc: cli.netrc.clone(),
            interactive: std::io::stdin().is_terminal(),
            stdout_tty: std::io::stdout().is_terminal(),
            no_clobber: false,
            parallel: 1,
            json: false,
            verify: false,
            checksum: false,
        }
    }
}

/// An error that carries its exit class.
#[derive(Debug, thiserror::Error)]
#[error("{msg}")]
pub(crate) struct Failure {
    pub class: ErrorClass,
    pub msg: String,
}

pub(crate) fn fail(class: ErrorClass, msg: impl Into<String>) -> anyhow::Error {
    Failure {
        class,
        msg: msg.into(),
    }
    .into()
}

/// The exit class of an error from a subcommand.
pub(crate) fn classify(e: &anyhow::Error) -> ErrorClass {
    for cause in e.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.class;
        }
        if let Some(f) = cause.downcast_ref::<crate::Error>() {
            return f.class();
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return ErrorClass::of_io(io.kind());
        }
    }
    ErrorClass::Transfer
}

/// True if writing to stdout failed because its reader has gone (EPIPE).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, each printed once: a cause whose text the message already
/// includes (as [`crate::Error`]'s do) is left out; control characters (from names a server
/// sent) escaped. Everything the binary says about an error goes through here.
pub(crate) fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if !text.contains(&c) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&c);
        }
    }
    names::escape_controls(text.as_bytes()).into_owned()
}

fn init_logging(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        _ => "info,ftp_client::transcript=debug",
    };
    let env = env_logger::Env::default().default_filter_or(default);
    let mut b = env_logger::Builder::from_env(env);
    b.format(|f, rec| {
        use std::io::Write;
        let text = rec.args().to_string();
        let text = names::escape_controls(text.as_bytes());
        if rec.target() == crate::TRANSCRIPT_TARGET {
            writeln!(f, "{text}")
        } else {
            writeln!(
                f,
                "ftp-client: {}: {text}",
                rec.level().as_str().to_lowercase(),
            )
        }
    });
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        b.write_style(env_logger::WriteStyle::Never);
    }
    b.target(env_logger::Target::Stderr);
    let _ = b.try_init();
}

/// The subcommands' names (and `help`).
/// Whether `word` names a subcommand (from the clap definition, and `help`).
fn is_subcommand(word: &str) -> bool {
    use clap::CommandFactory;
    word == "help"
        || Cli::command()
            .get_subcommands()
            .any(|s| s.get_name() == word)
}

/// Inserts the `shell` subcommand that `ftp-client URL`, `ftp-client BOOKMARK` and
/// `ftp-client -c "…"` leave out.
fn implied_shell(args: &mut Vec<OsString>) {
    let words: Vec<Option<&str>> = args.iter().skip(1).map(|a| a.to_str()).collect();
    let (mut first_sub, mut first_url, mut script, mut bookmark) = (None, None, false, false);
    let mut marks = None;
    let mut i = 0;
    while i < words.len() {
        match words[i] {
            Some("-c" | "--commands") => {
                script = true;
                i += 1;
            }
            Some(w) if w.starts_with("--commands=") => script = true,
            Some(w) if first_sub.is_none() && is_subcommand(w) => first_sub = Some(i),
            Some(w) if first_url.is_none() && url::is_url(w) => first_url = Some(i),
            Some(w) if first_sub.is_none() && !w.starts_with('-') => {
                let m = marks.get_or_insert_with(|| bookmarks::Bookmarks::load().ok());
                bookmark |= m.as_ref().is_some_and(|m| m.get(w).is_some());
            }
            _ => {}
        }
        i += 1;
    }
    if first_sub.is_some_and(|s| first_url.is_none_or(|u| s < u)) {
        return;
    }
    if script || (bookmark && first_url.is_none()) {
        args.insert(1, "shell".into());
    } else if let Some(u) = first_url {
        args.insert(u + 1, "shell".into());
    }
}

/// Parses `args` (including the program name), runs the command and returns the exit code.
/// `ftp-client URL` is short for `ftp-client shell URL`.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let mut args = args;
    implied_shell(&mut args);
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                ErrorClass::Usage.exit_code()
            } else {
                0
            };
            let _ = e.print();
            return code;
        }
    };
    init_logging(&cli);
    let ctx = Ctx::from_cli(&cli);
    let result = match cli.command {
        Cmd::Shell {
            url,
            commands,
            keep_going,
        } => shell::run(
            ctx,
            shell::Start {
                url,
                commands,
                keep_going,
            },
        ),
        cmd => smol::block_on(ops::run(&ctx, cmd)),
    };
    match result {
        Ok(()) => 0,
        // The reader went away (`ls URL | head`): not an error for a Unix filter.
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            let class = classify(&e);
            eprintln!("ftp-client: {}", error_text(&e));
            class.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts_for(args: &[&str]) -> Options {
        let cli = Cli::try_parse_from(args).expect("parse");
        Ctx::from_cli(&cli).opts
    }

    #[test]
    fn a_zero_or_negative_timeout_is_refused() {
        for bad in ["0", "-1", "nan", "x"] {
            let err = Cli::try_parse_from(["ftp-client", "--timeout", bad, "ls", "ftp://h/"]);
            assert!(err.is_err(), "--timeout {bad}");
        }
        let err = Cli::try_parse_from(["ftp-client", "--keepalive", "-5", "ls", "ftp://h/"]);
        assert!(err.is_err());
        assert!(Cli::try_parse_from(["ftp-client", "--keepalive", "0", "ls", "ftp://h/"]).is_ok());
    }

    #[test]
    fn the_shell_is_implied_by_a_url_or_commands_but_not_before_a_subcommand() {
        let with = |args: &[&str]| {
            let mut v: Vec<OsString> = args.iter().map(OsString::from).collect();
            implied_shell(&mut v);
            v.into_iter()
                .map(|a| a.into_string().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            with(&["f", "-v", "ftp://h/"]),
            ["f", "-v", "shell", "ftp://h/"]
        );
        assert_eq!(
            with(&["f", "-c", "ls; get x", "ftp://h/"]),
            ["f", "shell", "-c", "ls; get x", "ftp://h/"]
        );
        assert_eq!(with(&["f", "-c", "ls"]), ["f", "shell", "-c", "ls"]);
        assert_eq!(with(&["f", "ls", "ftp://h/"]), ["f", "ls", "ftp://h/"]);
        assert_eq!(
            with(&["f", "get", "-c", "ftp://h/x"]),
            ["f", "get", "-c", "ftp://h/x"]
        );
    }

    #[test]
    fn active_data_connections_are_verified_unless_turned_off() {
        assert!(opts_for(&["ftp-client", "--active", "ls", "ftp://h/"]).verify_data_peer);
        let off = opts_for(&["ftp-client", "ls", "ftp://h/", "--no-verify-data-peer"]);
        assert!(!off.verify_data_peer);
    }
}
