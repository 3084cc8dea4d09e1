//! The `ftp-client` command line: argument parsing and the subcommands. The binary's `main`
//! only calls [`main_with_args`].

mod mirror;
pub mod netrc;
mod ops;
mod shell;
pub mod url;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};

use crate::error::ErrorClass;
use crate::tls::{TlsMode, Verify};
use crate::{DataMode, Options, TransferKind};

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
  9  partial failure of a batch (mirror, recursive get, mget/mput, rm of several files)"
    };
}

/// The exit codes, as documented in `--help` (see also [`crate::ErrorClass`]).
pub const EXIT_CODES: &str = exit_codes!();

const LONG_ABOUT: &str = concat!(
    "An FTP client for scripts and people.

URLs look like ftp://[user[:pass]@]host[:port]/path (IPv6 hosts in brackets); ftps:// (or
--tls) requires explicit FTPS (AUTH TLS), --implicit-tls uses implicit FTPS (TLS from the first
byte; give the port, usually 990). Certificates are checked against the system roots, or
--ca-file, or --pin-sha256; --insecure skips the check. Paths are
relative to the login directory; use a doubled slash (ftp://host//etc) for an absolute path.
The password comes from the URL, the FTP_PASSWORD environment variable, ~/.netrc, or a prompt
when stdin is a terminal (never otherwise). Anonymous login is used when no user is given.
`ftp-client URL` opens the interactive shell.

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
    #[arg(long, global = true, default_value_t = 1.0, value_name = "SECS")]
    pub retry_delay: f64,
    /// Time limit in seconds for connecting, for each reply and for stalled data.
    #[arg(long, global = true, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
    /// Seconds between NOOP keep-alives on the control connection during transfers (0: off).
    #[arg(long, global = true, default_value_t = 30.0, value_name = "SECS")]
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
    /// Require explicit FTPS (AUTH TLS) on ftp:// URLs too.
    #[arg(long, global = true)]
    pub tls: bool,
    /// Implicit FTPS: TLS from the first byte (for servers on port 990).
    #[arg(long, global = true)]
    pub implicit_tls: bool,
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
    },
    /// Delete remote files.
    Rm {
        /// ftp:// URLs.
        #[arg(required = true)]
        urls: Vec<String>,
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
    },
    /// Write a remote file to stdout.
    Cat {
        /// ftp:// URL.
        url: String,
    },
    /// Mirror a directory tree: SRC and DST are one ftp:// URL and one local directory.
    Mirror {
        /// Source (URL or local directory).
        src: String,
        /// Destination (local directory or URL).
        dst: String,
        /// Only transfer files newer on the source side (or missing on the destination).
        #[arg(long)]
        only_newer: bool,
        /// Delete destination files that are not on the source side.
        #[arg(long)]
        delete: bool,
        /// Show what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Parallel transfers (each on its own connection).
        #[arg(short = 'P', long, default_value_t = 1, value_name = "N")]
        parallel: usize,
    },
    /// The interactive shell (reads commands from stdin when it is not a terminal).
    Shell {
        /// Server to open first.
        url: Option<String>,
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
            return match io.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    ErrorClass::NotFound
                }
                std::io::ErrorKind::TimedOut => ErrorClass::Timeout,
                _ => ErrorClass::Transfer,
            };
        }
    }
    ErrorClass::Transfer
}

/// The error and its causes, leaving out causes already included in the text.
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
    text
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
        if rec.target() == crate::TRANSCRIPT_TARGET {
            writeln!(f, "{}", rec.args())
        } else {
            writeln!(
                f,
                "ftp-client: {}: {}",
                rec.level().as_str().to_lowercase(),
                rec.args()
            )
        }
    });
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        b.write_style(env_logger::WriteStyle::Never);
    }
    b.target(env_logger::Target::Stderr);
    let _ = b.try_init();
}

/// Parses `args` (including the program name), runs the command and returns the exit code.
/// `ftp-client URL` is short for `ftp-client shell URL`.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let mut args = args;
    const SUBCOMMANDS: &[&str] = &[
        "ls", "get", "put", "rm", "mkdir", "rmdir", "mv", "stat", "cat", "mirror", "shell", "help",
    ];
    let first_sub = args
        .iter()
        .skip(1)
        .position(|a| a.to_str().is_some_and(|a| SUBCOMMANDS.contains(&a)));
    let first_url = args
        .iter()
        .skip(1)
        .position(|a| a.to_str().is_some_and(url::is_url));
    if let Some(u) = first_url {
        if first_sub.is_none_or(|s| s > u) {
            args.insert(u + 1, "shell".into());
        }
    }
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
        Cmd::Shell { url } => shell::run(ctx, url),
        cmd => smol::block_on(ops::run(&ctx, cmd)),
    };
    match result {
        Ok(()) => 0,
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
    fn active_data_connections_are_verified_unless_turned_off() {
        assert!(opts_for(&["ftp-client", "--active", "ls", "ftp://h/"]).verify_data_peer);
        let off = opts_for(&["ftp-client", "ls", "ftp://h/", "--no-verify-data-peer"]);
        assert!(!off.verify_data_peer);
    }
}
