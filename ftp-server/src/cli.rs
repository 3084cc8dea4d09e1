// The `ftp-server` command line, included by `main.rs` and by `cargo xtask dist` (which makes
// the shell completions and the man page from it): it names everything by its full path.

/// A secure FTP server.
///
/// With no arguments: serves the current directory, read-only, to anonymous users on
/// 127.0.0.1:2121. Otherwise anonymous access is off unless --anonymous is given. Settings
/// come from the TOML file given by --config; flags override it.
#[derive(Debug, clap::Parser)]
#[command(version, about, long_about)]
struct Cli {
    // Each flag's value name, help and default come from the settings table (`command`).
    #[command(subcommand)]
    command: Option<Cmd>,

    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,

    #[arg(long)]
    listen: Vec<std::net::SocketAddr>,

    #[arg(long)]
    root: Option<std::path::PathBuf>,

    #[arg(long)]
    user: Vec<String>,

    #[arg(long)]
    users_file: Option<std::path::PathBuf>,

    #[arg(long)]
    anonymous: bool,

    #[arg(long)]
    passive_ports: Option<String>,

    #[arg(long)]
    public_address: Option<String>,

    #[arg(long)]
    proxy_protocol_from: Vec<String>,

    #[arg(long)]
    passive_ports_announced: Option<String>,

    #[arg(long)]
    allow_fxp: bool,

    #[arg(long)]
    allow_privileged_ports: bool,

    #[arg(long, value_parser = at_least_one::<usize>)]
    max_sessions: Option<usize>,

    #[arg(long, value_parser = at_least_one::<usize>)]
    max_sessions_per_ip: Option<usize>,

    #[arg(long)]
    ascii_size_limit: Option<u64>,

    #[arg(long, value_parser = at_least_one::<usize>)]
    max_list_entries: Option<usize>,

    #[arg(long, value_parser = positive_duration)]
    users_file_poll: Option<std::time::Duration>,

    #[arg(long, value_parser = positive_duration)]
    idle_timeout: Option<std::time::Duration>,

    #[arg(long, value_parser = positive_duration)]
    data_timeout: Option<std::time::Duration>,

    #[arg(long, value_parser = at_least_one::<u32>)]
    max_login_failures: Option<u32>,

    #[arg(long, value_parser = humantime_duration)]
    login_failure_delay: Option<std::time::Duration>,

    #[arg(long, value_parser = humantime_duration)]
    shutdown_grace: Option<std::time::Duration>,

    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,

    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,

    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,

    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: bool,

    #[arg(long)]
    implicit_tls_listen: Vec<std::net::SocketAddr>,

    #[arg(long)]
    require_tls_login: bool,

    #[arg(long)]
    require_prot_p: bool,

    #[arg(long)]
    no_tls_session_reuse: bool,

    #[arg(long)]
    tls_allow_ccc: bool,

    #[arg(long)]
    fsync_uploads: bool,

    #[arg(long, value_parser = at_least_one::<u64>)]
    download_rate: Option<u64>,

    #[arg(long, value_parser = at_least_one::<u64>)]
    upload_rate: Option<u64>,

    #[arg(long)]
    max_hash_bytes: Option<u64>,

    #[arg(long, value_parser = at_least_one::<usize>)]
    max_concurrent_hashes: Option<usize>,

    #[arg(long)]
    hash_all_uploads: bool,

    #[arg(long)]
    admin_listen: Option<std::net::SocketAddr>,

    #[arg(long)]
    admin_token_file: Option<std::path::PathBuf>,

    #[arg(long)]
    xferlog: Option<std::path::PathBuf>,

    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[arg(long, global = true, value_parser = ["fs", "s3"])]
    storage: Option<String>,

    #[arg(long, global = true)]
    s3_endpoint: Option<String>,

    #[arg(long, global = true)]
    s3_bucket: Option<String>,

    #[arg(long, global = true)]
    s3_region: Option<String>,

    #[arg(long, global = true)]
    s3_prefix: Option<String>,

    #[arg(long, global = true)]
    s3_ca_file: Option<std::path::PathBuf>,

    #[arg(long, global = true, value_parser = positive_duration)]
    s3_request_timeout: Option<std::time::Duration>,
}

/// How log lines look (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// `[INFO ftp_server] [s1 127.0.0.1:5555] connected`, as env_logger writes them.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Read a password (prompt on a terminal, else one line of stdin) and print its argon2id
    /// hash for the users file. The cost is stored in the hash, so each login costs what its
    /// hash was made with (defaults: 19456 KiB, 2 passes, 1 lane: about 20 ms a login).
    HashPassword {
        /// Memory per hash, in KiB.
        #[arg(long, value_name = "KIB", default_value_t = ftp_server::auth::HashCost::default().memory_kib)]
        memory_kib: u32,
        /// Passes over the memory.
        #[arg(long, value_name = "N", default_value_t = ftp_server::auth::HashCost::default().iterations)]
        iterations: u32,
        /// Lanes.
        #[arg(long, value_name = "N", default_value_t = ftp_server::auth::HashCost::default().parallelism)]
        parallelism: u32,
    },
    /// S3 storage tasks (the bucket comes from the --s3-* flags or --config).
    S3 {
        #[command(subcommand)]
        command: S3Cmd,
    },
}

#[derive(Debug, clap::Subcommand)]
enum S3Cmd {
    /// Check the bucket and the credentials, and add the lifecycle rule that removes
    /// multipart uploads left incomplete for a day (by a server killed mid-upload).
    InitBucket,
}

/// The command line, each setting's value name, help line and default taken from the settings table
/// (`ftp_server::settings::table`), where they are written once.
pub(crate) fn command() -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    for s in ftp_server::settings::table() {
        let Some(mut words) = s.flag.map(|f| f.split(' ')) else {
            continue;
        };
        let long = words.next().unwrap_or_default().trim_start_matches("--");
        let value_name = words.next();
        let id = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .map(|a| a.get_id().clone());
        let doc = s.doc.replace('`', "");
        let help = match s.default.as_str() {
            "–" => doc,
            default => format!("{doc} [default: {default}]"),
        };
        if let Some(id) = id {
            cmd = cmd.mut_arg(id, |a| match value_name {
                Some(v) => a.help(help).value_name(v),
                None => a.help(help),
            });
        }
    }
    cmd
}

fn humantime_duration(s: &str) -> Result<std::time::Duration, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    parse_duration(s)
}

/// A duration above zero (a zero timeout would end every session or transfer at once).
fn positive_duration(s: &str) -> Result<std::time::Duration, String> {
    match humantime_duration(s)? {
        d if d.is_zero() => Err("must be more than 0".to_string()),
        d => Ok(d),
    }
}

/// A whole number of at least 1.
fn at_least_one<T: std::str::FromStr + PartialOrd + From<u8>>(s: &str) -> Result<T, String> {
    match s.trim().parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        Ok(_) => Err("must be at least 1".to_string()),
        Err(_) => Err("expected a whole number".to_string()),
    }
}

/// Parses `300ms`, `30s`, `5m`, `1h`.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("invalid duration {s:?}"))?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    Ok(match unit {
        "ms" => std::time::Duration::from_millis(n),
        "s" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_secs(n * 60),
        "h" => std::time::Duration::from_secs(n * 3600),
        _ => {
            return Err(format!(
                "invalid duration unit in {s:?} (use ms, s, m or h)"
            ))
        }
    })
}

