//! The `ftp-server` daemon.
//!
//! With no arguments it serves the current directory read-only to anonymous users on
//! 127.0.0.1:2121. See `ftp-server --help`.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ftp_server::auth::{hash_password_with, HashCost};
use ftp_server::config::{load_users_file, parse_port_range, parse_user_spec, ConfigFile};
use ftp_server::tls::{ReloadableCert, TlsConfig};
use ftp_server::{Config, Server};

/// A secure FTP server.
///
/// With no arguments: serves the current directory, read-only, to anonymous users on
/// 127.0.0.1:2121. Otherwise anonymous access is off unless --anonymous is given. Settings
/// come from the TOML file given by --config; flags override it.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,

    /// TOML configuration file (flags override its settings).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Control-connection listen address; repeatable. [default: 127.0.0.1:2121]
    #[arg(long, value_name = "ADDR")]
    listen: Vec<SocketAddr>,

    /// Directory served to --user accounts and to anonymous users. [default: current directory]
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// Add a user NAME:PASSWORD with all permissions on --root; repeatable.
    #[arg(long, value_name = "NAME:PASSWORD")]
    user: Vec<String>,

    /// TOML users file ([[user]] name, password_hash, home, permissions).
    #[arg(long, value_name = "FILE")]
    users_file: Option<PathBuf>,

    /// Allow anonymous (read-only) logins to --root. [default: off, except with no arguments]
    #[arg(long)]
    anonymous: bool,

    /// Passive data port range, e.g. 50000-50100. [default: chosen by the OS]
    #[arg(long, value_name = "LOW-HIGH")]
    passive_ports: Option<String>,

    /// IPv4 address or host name announced in PASV (227) replies, for NAT. [default: the
    /// control connection's local address]
    #[arg(long, value_name = "HOST")]
    public_address: Option<String>,

    /// Allow PORT/EPRT to addresses other than the client's (FXP). [default: off]
    #[arg(long)]
    allow_fxp: bool,

    /// Allow PORT/EPRT to ports below 1024. [default: off]
    #[arg(long)]
    allow_privileged_ports: bool,

    /// Maximum simultaneous sessions. [default: 1000]
    #[arg(long, value_name = "N")]
    max_sessions: Option<usize>,

    /// Maximum simultaneous sessions per client IP. [default: 50]
    #[arg(long, value_name = "N")]
    max_sessions_per_ip: Option<usize>,

    /// Largest file, in bytes, whose SIZE is answered in TYPE A (counting the CR LF a RETR
    /// sends means reading the file); bigger ones answer 550. [default: 67108864]
    #[arg(long, value_name = "BYTES")]
    ascii_size_limit: Option<u64>,

    /// Most entries a directory listing (LIST, NLST, MLSD) may have; larger directories
    /// answer 550 (a listing is built in memory). [default: 200000]
    #[arg(long, value_name = "N")]
    max_list_entries: Option<usize>,

    /// Idle timeout of the control connection, e.g. 300s or 5m. [default: 5m]
    #[arg(long, value_name = "DURATION", value_parser = humantime_duration)]
    idle_timeout: Option<Duration>,

    /// Timeout for passive accepts, active connects and stalled transfers. [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = humantime_duration)]
    data_timeout: Option<Duration>,

    /// Failed logins before the connection is closed. [default: 3]
    #[arg(long, value_name = "N")]
    max_login_failures: Option<u32>,

    /// Delay before answering a failed login, e.g. 1s. [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = humantime_duration)]
    login_failure_delay: Option<Duration>,

    /// How long running transfers may continue after SIGINT/SIGTERM. [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = humantime_duration)]
    shutdown_grace: Option<Duration>,

    /// Threads running sessions. More than one pays off only when sessions need CPU of
    /// their own (many concurrent TLS transfers). [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,

    /// TLS certificate chain (PEM) for FTPS; reloaded with --tls-key on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// TLS private key (PEM) for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Generate a self-signed certificate at start-up (prints its SHA-256 fingerprint), for
    /// trying FTPS out.
    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: bool,

    /// Implicit-FTPS listen address (TLS from the first byte, port 990 style); repeatable.
    #[arg(long, value_name = "ADDR")]
    implicit_tls_listen: Vec<SocketAddr>,

    /// Refuse logins on control connections without TLS. [default: off]
    #[arg(long)]
    require_tls_login: bool,

    /// Refuse transfers without PROT P (TLS data connections). [default: off]
    #[arg(long)]
    require_prot_p: bool,

    /// Accept TLS data connections that do not resume the control connection's TLS session
    /// (weaker: allows data-connection hijacking). [default: reuse required]
    #[arg(long)]
    no_tls_session_reuse: bool,

    /// Accept CCC after login: TLS on the control connection ends and commands continue in
    /// plain text (data connections stay as PROT set them). [default: off, CCC gets 534]
    #[arg(long)]
    tls_allow_ccc: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Read a password (prompt on a terminal, else one line of stdin) and print its argon2id
    /// hash for the users file. The cost is stored in the hash, so each login costs what its
    /// hash was made with (defaults: 19456 KiB, 2 passes, 1 lane: about 20 ms a login).
    HashPassword {
        /// Memory per hash, in KiB.
        #[arg(long, value_name = "KIB", default_value_t = HashCost::default().memory_kib)]
        memory_kib: u32,
        /// Passes over the memory.
        #[arg(long, value_name = "N", default_value_t = HashCost::default().iterations)]
        iterations: u32,
        /// Lanes.
        #[arg(long, value_name = "N", default_value_t = HashCost::default().parallelism)]
        parallelism: u32,
    },
}

fn humantime_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    parse_duration(s)
}

/// Parses `300ms`, `30s`, `5m`, `1h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("invalid duration {s:?}"))?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => {
            return Err(format!(
                "invalid duration unit in {s:?} (use ms, s, m or h)"
            ))
        }
    })
}

fn build_config(cli: &Cli) -> Result<(Config, bool)> {
    let mut cfg = Config::default();
    if let Some(p) = &cli.config {
        ConfigFile::load(p)?.apply(&mut cfg)?;
    }
    let quick_start = cli.config.is_none() && cli.user.is_empty() && cli.users_file.is_none();
    let root = match &cli.root {
        Some(r) => r.clone(),
        None => std::env::current_dir().context("current directory")?,
    };
    if !cli.listen.is_empty() {
        cfg.listen = cli.listen.clone();
    }
    for spec in &cli.user {
        cfg.users.push(parse_user_spec(spec, &root)?);
    }
    if let Some(f) = &cli.users_file {
        cfg.users.extend(load_users_file(f)?);
    }
    if cli.anonymous || quick_start {
        cfg.anonymous = Some(root);
    }
    if let Some(p) = &cli.passive_ports {
        cfg.passive_ports = Some(parse_port_range(p)?);
    }
    if let Some(a) = &cli.public_address {
        cfg.public_address = Some(a.clone());
    }
    cfg.allow_foreign_data_address |= cli.allow_fxp;
    cfg.allow_privileged_data_port |= cli.allow_privileged_ports;
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = cli.$f { cfg.$f = v; } )* };
    }
    set!(
        max_sessions,
        max_sessions_per_ip,
        ascii_size_limit,
        max_list_entries,
        idle_timeout,
        data_timeout,
        max_login_failures,
        login_failure_delay,
        shutdown_grace
    );
    let cert = if let (Some(c), Some(k)) = (&cli.tls_cert, &cli.tls_key) {
        Some(ReloadableCert::from_pem_files(c, k)?)
    } else if cli.tls_self_signed {
        let (cert, fp) =
            ReloadableCert::self_signed(&["localhost".to_string(), "127.0.0.1".to_string()])?;
        println!("Self-signed TLS certificate, SHA-256 fingerprint {fp}");
        Some(cert)
    } else {
        None
    };
    if let Some(cert) = cert {
        cfg.tls = Some(TlsConfig::new(cert));
    }
    if !cli.implicit_tls_listen.is_empty() {
        cfg.implicit_tls_listen = cli.implicit_tls_listen.clone();
    }
    if let Some(t) = cfg.tls.as_mut() {
        t.require_tls_login |= cli.require_tls_login;
        t.require_prot_p |= cli.require_prot_p;
        t.require_session_reuse &= !cli.no_tls_session_reuse;
        t.allow_ccc |= cli.tls_allow_ccc;
    } else if cli.require_tls_login
        || cli.require_prot_p
        || cli.tls_allow_ccc
        || !cfg.implicit_tls_listen.is_empty()
    {
        bail!("TLS options need --tls-cert and --tls-key, --tls-self-signed, or tls_cert/tls_key in --config");
    }
    if cfg.users.is_empty() && cfg.anonymous.is_none() {
        bail!("no users and no anonymous access: nobody could log in (use --user, --users-file or --anonymous)");
    }
    Ok((cfg, quick_start))
}

fn hash_password(cost: HashCost) -> Result<()> {
    let pw = if std::io::stdin().is_terminal() {
        let a = rpassword_prompt("Password: ")?;
        let b = rpassword_prompt("Again: ")?;
        if a != b {
            bail!("passwords differ");
        }
        a
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if pw.is_empty() {
        bail!("empty password");
    }
    println!("{}", hash_password_with(pw.as_bytes(), cost)?);
    Ok(())
}

fn rpassword_prompt(prompt: &str) -> Result<String> {
    Ok(rpassword::prompt_password(prompt)?)
}

fn main() -> Result<()> {
    // Sessions run on the server's own worker threads (`--workers`, `Server::with_workers`);
    // smol's global executor only runs the signal handlers below.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    if let Some(Cmd::HashPassword {
        memory_kib,
        iterations,
        parallelism,
    }) = cli.command
    {
        return hash_password(HashCost {
            memory_kib,
            iterations,
            parallelism,
        });
    }
    let (cfg, quick_start) = build_config(&cli)?;
    let workers = usize::from(cli.workers.unwrap_or(1));
    let anonymous = cfg.anonymous.clone();
    let users: Vec<String> = cfg.users.iter().map(|u| u.name.clone()).collect();
    let tls_cert = cfg.tls.as_ref().map(|t| t.settings.cert().clone());
    smol::block_on(async move {
        let server = Server::bind(cfg).await?.with_workers(workers);
        for addr in server.local_addrs() {
            let host = match addr {
                SocketAddr::V6(_) => format!("[{}]:{}", addr.ip(), addr.port()),
                SocketAddr::V4(_) => addr.to_string(),
            };
            if let Some(root) = &anonymous {
                println!(
                    "Serving {} read-only to anonymous users on ftp://{host}/",
                    root.display()
                );
            }
            if !users.is_empty() {
                println!("Users {} may log in on ftp://{host}/", users.join(", "));
            }
            if quick_start {
                println!("Connect with: ftp-client ftp://{host}/   or   curl ftp://{host}/");
            }
        }
        for addr in server.implicit_tls_addrs() {
            println!("Implicit FTPS on {addr}");
        }
        if let Some(cert) = tls_cert {
            let hup = async_signal::Signals::new([async_signal::Signal::Hup])
                .context("installing the SIGHUP handler")?;
            smol::spawn(async move {
                use futures_lite::StreamExt;
                let mut hup = hup;
                while let Some(Ok(_)) = hup.next().await {
                    match cert.reload() {
                        Ok(true) => {
                            log::info!("SIGHUP: TLS certificate reloaded ({})", cert.fingerprint())
                        }
                        Ok(false) => log::info!("SIGHUP: self-signed certificate kept"),
                        Err(e) => log::error!("SIGHUP: TLS certificate not reloaded: {e}"),
                    }
                }
            })
            .detach();
        }
        let stop = server.shutdown_handle();
        let signals =
            async_signal::Signals::new([async_signal::Signal::Int, async_signal::Signal::Term])
                .context("installing signal handlers")?;
        smol::spawn(async move {
            use futures_lite::StreamExt;
            let mut signals = signals;
            if let Some(Ok(sig)) = signals.next().await {
                log::info!("received {sig:?}: shutting down");
                stop.shutdown();
            }
        })
        .detach();
        server.run().await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(humantime_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(humantime_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            humantime_duration("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert!(humantime_duration("5 parsecs").is_err());
    }

    #[test]
    fn no_arguments_means_anonymous_read_only_quick_start() {
        let cli = Cli::parse_from(["ftp-server"]);
        let (cfg, quick) = build_config(&cli).unwrap();
        assert!(quick && cfg.anonymous.is_some() && cfg.users.is_empty());
        let cli = Cli::parse_from(["ftp-server", "--user", "a:b"]);
        let (cfg, quick) = build_config(&cli).unwrap();
        assert!(!quick && cfg.anonymous.is_none());
    }
}
