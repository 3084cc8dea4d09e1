//! The `ftp-server` daemon.
//!
//! With no arguments it serves the current directory read-only to anonymous users on
//! 127.0.0.1:2121. See `ftp-server --help`.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::FromArgMatches;
use ftp_server::auth::{hash_password_with, HashCost, UserDb};
use ftp_server::config::{io_reason, parse_port_range, parse_user_spec, Backend, ConfigFile};
use ftp_server::reload::ReloadError;
use ftp_server::storage::s3::S3Client;
use ftp_server::tls::{ReloadableCert, TlsConfig};
use ftp_server::{Config, Server, ServerError};
use futures_lite::StreamExt;

// The command line (`Cli`, `Cmd`, `command`) is in its own file, so that `cargo xtask dist`
// can include it to generate shell completions and the man page.
include!("cli.rs");

/// The quick start: no configuration and no users at all, so anonymous read-only access.
fn quick_start(cli: &Cli) -> bool {
    cli.config.is_none() && cli.user.is_empty() && cli.users_file.is_none()
}

/// Who may log in, from the config file's `users_file` and `anonymous_root`, `--user`,
/// `--users-file` and `--anonymous`: what `SIGHUP` reads again.
fn apply_users(cli: &Cli, file: Option<&ConfigFile>, cfg: &mut Config) -> Result<()> {
    cfg.users.clear();
    cfg.anonymous = None;
    apply_storage(cli, file, cfg)?;
    if let Some(f) = file {
        f.apply_users(cfg)?;
    }
    let root = match &cli.root {
        // Under S3, `--root` is a key prefix (checked when the storage opens).
        _ if cfg.storage.backend == Backend::S3 => cli.root.clone().unwrap_or_default(),
        Some(r) => match std::fs::metadata(r) {
            Ok(m) if m.is_dir() => r.clone(),
            Ok(_) => bail!("--root {}: not a directory", r.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("--root {}: no such directory", r.display())
            }
            Err(e) => bail!("--root {}: {}", r.display(), io_reason(&e)),
        },
        None => std::env::current_dir().context("current directory")?,
    };
    for spec in &cli.user {
        cfg.users.push(parse_user_spec(spec, &root)?);
    }
    if let Some(f) = &cli.users_file {
        cfg.users
            .extend(ftp_server::users_file::load(f, &cfg.storage)?);
    }
    if cli.anonymous || quick_start(cli) {
        cfg.anonymous = Some(root);
    }
    Ok(())
}

/// The storage: the config file's `[storage]` table, then the flags, then the `AWS_*`
/// environment variables for the credentials.
fn apply_storage(cli: &Cli, file: Option<&ConfigFile>, cfg: &mut Config) -> Result<()> {
    if let Some(f) = file {
        f.apply_storage(cfg)?;
    }
    if let Some(b) = &cli.storage {
        cfg.storage.backend = b.parse()?;
    }
    let s3 = &mut cfg.storage.s3;
    s3.endpoint = cli.s3_endpoint.clone().or(s3.endpoint.take());
    s3.bucket = cli.s3_bucket.clone().or(s3.bucket.take());
    if let Some(r) = &cli.s3_region {
        s3.region = r.clone();
    }
    if let Some(p) = &cli.s3_prefix {
        s3.prefix = p.clone();
    }
    s3.ca_file = cli.s3_ca_file.clone().or(s3.ca_file.take());
    if let Some(t) = cli.s3_request_timeout {
        s3.request_timeout = t;
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(k) = env("AWS_ACCESS_KEY_ID") {
        s3.access_key_id = Some(k);
    }
    if let Some(k) = env("AWS_SECRET_ACCESS_KEY") {
        s3.secret_access_key = Some(ftp_proto::Secret::new(k));
    }
    Ok(())
}

/// Start-up under S3: the bucket must exist and take the credentials (else one line and
/// exit); the lifecycle rule for abandoned uploads is added if missing (a warning if that
/// is not allowed, or an error when `strict`, as in `s3 init-bucket`).
fn check_s3(cfg: &Config, strict: bool) -> Result<()> {
    let s3 = &cfg.storage.s3;
    let client = S3Client::new(s3)?;
    smol::block_on(async {
        client.check_bucket().await.map_err(anyhow::Error::msg)?;
        let prefix = s3.prefix()?;
        match client.ensure_lifecycle_rule(prefix.as_str()).await {
            Ok(true) => log::info!(
                "S3 bucket {:?}: lifecycle rule added (incomplete multipart uploads are removed after a day)",
                client.bucket_name()
            ),
            Ok(false) => {}
            Err(e) if strict => bail!(e),
            Err(e) => log::warn!("{e}; abandoned multipart uploads will stay until removed (run `ftp-server s3 init-bucket` with rights to the bucket's lifecycle)"),
        }
        Ok(())
    })
}

fn init_bucket(cli: &Cli) -> Result<()> {
    let mut cfg = Config::default();
    let file = cli.config.as_deref().map(ConfigFile::load).transpose()?;
    apply_storage(cli, file.as_ref(), &mut cfg)?;
    cfg.storage.backend = Backend::S3;
    check_s3(&cfg, true)?;
    println!(
        "S3 bucket {:?} is ready (lifecycle rule for incomplete uploads in place)",
        cfg.storage.s3.bucket.as_deref().unwrap_or_default()
    );
    Ok(())
}

/// The configuration from the config file and the flags. `keep` is the certificate in use
/// when reloading: a self-signed one stays (a new one would change the fingerprint clients
/// pinned).
fn build_config(cli: &Cli, keep: Option<&Arc<ReloadableCert>>) -> Result<(Config, bool)> {
    let mut cfg = Config::default();
    let file = cli.config.as_deref().map(ConfigFile::load).transpose()?;
    apply_users(cli, file.as_ref(), &mut cfg)?;
    if let Some(f) = file {
        f.apply(&mut cfg)?;
    }
    if !cli.listen.is_empty() {
        cfg.listen = cli.listen.clone();
    }
    if let Some(p) = &cli.passive_ports {
        cfg.passive_ports = Some(parse_port_range(p)?);
    }
    if let Some(a) = &cli.public_address {
        cfg.public_address = Some(a.clone());
    }
    if let Some(p) = &cli.passive_ports_announced {
        cfg.passive_ports_announced = Some(parse_port_range(p)?);
    }
    if !cli.proxy_protocol_from.is_empty() {
        cfg.proxy_protocol_from = ftp_server::settings::parse_cidrs(&cli.proxy_protocol_from)?;
    }
    cfg.allow_foreign_data_address |= cli.allow_fxp;
    cfg.allow_privileged_data_port |= cli.allow_privileged_ports;
    cfg.fsync_uploads |= cli.fsync_uploads;
    if let Some(r) = cli.download_rate {
        cfg.download_rate = std::num::NonZeroU64::new(r);
    }
    if let Some(r) = cli.upload_rate {
        cfg.upload_rate = std::num::NonZeroU64::new(r);
    }
    cfg.hash_all_uploads |= cli.hash_all_uploads;
    if let Some(a) = cli.admin_listen {
        cfg.admin_listen = Some(a);
    }
    if let Some(f) = &cli.admin_token_file {
        cfg.admin_token_file = Some(f.clone());
    }
    if let Some(f) = &cli.xferlog {
        cfg.xferlog = Some(f.clone());
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = cli.$f { cfg.$f = v; } )* };
    }
    set!(
        max_sessions,
        max_sessions_per_ip,
        ascii_size_limit,
        max_list_entries,
        idle_timeout,
        users_file_poll,
        data_timeout,
        max_login_failures,
        login_failure_delay,
        shutdown_grace,
        max_hash_bytes,
        max_concurrent_hashes
    );
    if !cli.implicit_tls_listen.is_empty() {
        cfg.implicit_tls_listen = cli.implicit_tls_listen.clone();
    }
    apply_tls(cli, &mut cfg, keep)?;
    check_listen_addresses(&cfg)?;
    if cfg.users.is_empty() && cfg.anonymous.is_none() {
        bail!("no users and no anonymous access: nobody could log in (use --user, --users-file or --anonymous)");
    }
    Ok((cfg, quick_start(cli)))
}

/// The TLS flags: a certificate (files or self-signed) and the policies that need one.
fn apply_tls(cli: &Cli, cfg: &mut Config, keep: Option<&Arc<ReloadableCert>>) -> Result<()> {
    let cert = if let (Some(c), Some(k)) = (&cli.tls_cert, &cli.tls_key) {
        Some(ReloadableCert::from_pem_files(c, k)?)
    } else if let (true, Some(kept)) = (cli.tls_self_signed, keep) {
        Some(kept.clone())
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
    Ok(())
}

/// Refuses an address given twice (in `--listen`, `--implicit-tls-listen` or both), which
/// would otherwise fail later as "address in use". Port 0 asks for a new port each time.
fn check_listen_addresses(cfg: &Config) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for addr in cfg.listen.iter().chain(&cfg.implicit_tls_listen) {
        if addr.port() != 0 && !seen.insert(addr) {
            bail!("listen address {addr} is given twice");
        }
    }
    Ok(())
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

/// Logging from `RUST_LOG`, at `info` when it is unset, empty or invalid (an invalid filter
/// would otherwise leave only errors), as text or JSON lines.
fn init_logging(format: LogFormat) {
    let mut builder = env_logger::Builder::new();
    if format == LogFormat::Json {
        builder.format(|buf, record| {
            use std::io::Write;
            writeln!(buf, "{}", json_line(record))
        });
    }
    builder.filter_level(log::LevelFilter::Info);
    match std::env::var("RUST_LOG") {
        Ok(spec) if spec.trim().is_empty() => {}
        Ok(spec) => match env_filter::Builder::new().try_parse(&spec) {
            Ok(_) => {
                builder.parse_filters(&spec);
            }
            Err(e) => eprintln!(
                "ftp-server: RUST_LOG={spec:?} is not a log filter ({e}); logging at info"
            ),
        },
        Err(_) => {}
    }
    builder.parse_write_style(&std::env::var("RUST_LOG_STYLE").unwrap_or_default());
    builder.init();
}

/// A log record as one JSON object: `ts`, `level`, `target`, `event` (`message` unless the
/// record names one), `session`, `peer` and `user` (from the session tag
/// `[s12 127.0.0.1:5555 alice]` that starts a session's lines; `user` is `null` before a
/// login), the record's key-value fields (`event`, `user`, `result`, …) and `msg`.
/// serde_json escapes every control character, so a user name or path with a newline stays
/// on its line.
fn json_line(record: &log::Record<'_>) -> serde_json::Value {
    use serde_json::{Map, Value};
    struct Fields<'a>(&'a mut Map<String, Value>);
    impl<'kvs> log::kv::VisitSource<'kvs> for Fields<'_> {
        fn visit_pair(
            &mut self,
            key: log::kv::Key<'kvs>,
            value: log::kv::Value<'kvs>,
        ) -> Result<(), log::kv::Error> {
            let v = if let Some(n) = value.to_u64() {
                Value::from(n)
            } else if let Some(b) = value.to_bool() {
                Value::from(b)
            } else if let Some(f) = value.to_f64().filter(|f| f.is_finite()) {
                Value::from(f)
            } else {
                Value::from(value.to_string())
            };
            self.0.insert(key.as_str().to_string(), v);
            Ok(())
        }
    }
    let mut obj = Map::new();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    obj.insert("ts".into(), now.into());
    obj.insert(
        "level".into(),
        record.level().as_str().to_lowercase().into(),
    );
    obj.insert("target".into(), record.target().into());
    let msg = record.args().to_string();
    let rest = match ftp_server::session::parse_log_tag(&msg) {
        Some(tag) => {
            obj.insert("session".into(), tag.session.into());
            obj.insert("peer".into(), tag.peer.into());
            obj.insert("user".into(), tag.user.map_or(Value::Null, Value::from));
            tag.rest
        }
        None => &msg,
    };
    // Every line has an event; the record's own (`login`, `transfer`, …) replaces this one.
    obj.insert("event".into(), "message".into());
    let _ = record.key_values().visit(&mut Fields(&mut obj));
    obj.insert("msg".into(), rest.into());
    Value::Object(obj)
}

/// An error and its causes on one line, each once (many messages end with their cause
/// already), with a hint where one helps.
fn report(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    if let Some(ServerError::Bind { addr, source }) = e.downcast_ref::<ServerError>() {
        if source.kind() == std::io::ErrorKind::PermissionDenied && addr.port() < 1024 {
            line.push_str(
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE; \
                 see ftp-server/deploy/ftp-server.service)",
            );
        }
    }
    line
}

fn main() -> ExitCode {
    // Sessions run on the server's own worker threads (`--workers`, `Server::with_workers`);
    // smol's global executor only runs the signal handlers.
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit());
    init_logging(cli.log_format);
    let result = match cli.command {
        Some(Cmd::HashPassword {
            memory_kib,
            iterations,
            parallelism,
        }) => hash_password(HashCost {
            memory_kib,
            iterations,
            parallelism,
        }),
        Some(Cmd::S3 {
            command: S3Cmd::InitBucket,
        }) => init_bucket(&cli),
        None => serve(cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftp-server: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}

/// Prints where the server listens and who may log in.
fn print_banner(server: &Server, cfg_anonymous: Option<&str>, users: &[String], quick: bool) {
    for addr in server.local_addrs() {
        let host = match addr {
            SocketAddr::V6(_) => format!("[{}]:{}", addr.ip(), addr.port()),
            SocketAddr::V4(_) => addr.to_string(),
        };
        if let Some(root) = cfg_anonymous {
            println!("Serving {root} read-only to anonymous users on ftp://{host}/");
        }
        if !users.is_empty() {
            println!("Users {} may log in on ftp://{host}/", users.join(", "));
        }
        if quick {
            println!("Connect with: ftp-client ftp://{host}/   or   curl ftp://{host}/");
        }
    }
    for addr in server.implicit_tls_addrs() {
        println!("Implicit FTPS on {addr}");
    }
    if let Some(addr) = server.admin_addr() {
        println!("Admin HTTP on http://{addr}/ (/metrics, /healthz, /readyz, /api/v1)");
    }
}

/// The files whose changes reload the server: the config file and the users files.
fn watched_files(cli: &Cli) -> Vec<std::path::PathBuf> {
    let file = cli.config.as_deref().and_then(|p| ConfigFile::load(p).ok());
    let from_config = file.and_then(|f| f.users_file);
    cli.config
        .iter()
        .chain(&cli.users_file)
        .chain(&from_config)
        .cloned()
        .collect()
}

/// One log line for a reload caused by a changed file.
fn report_change(r: Result<ftp_server::reload::ReloadReport, ReloadError>) {
    match r {
        Ok(rep) => log::info!(
            event = "reload";
            "users or config file changed: reloaded ({} users)",
            rep.users.map_or("–".to_string(), |n| n.to_string())
        ),
        Err(e) => log::error!(
            event = "reload";
            "users or config file changed, reload refused, old users kept: {e}"
        ),
    }
}

/// `SIGHUP`: the server reads its configuration again through the loader (see `serve`),
/// checks all of it and swaps it in, or keeps everything on an error.
fn reload(handle: &ftp_server::ReloadHandle, cert: Option<&ReloadableCert>) {
    match handle.reload() {
        Ok(report) => {
            if let (Some(fp), Some(cert)) = (report.certificate, cert) {
                log::info!(event = "reload"; "SIGHUP: TLS certificate reloaded ({fp})");
                warn_about_validity(cert);
            }
            if let Some(n) = report.users {
                log::info!(event = "reload"; "SIGHUP: users reloaded ({n} users)");
            }
            if !report.needs_restart.is_empty() {
                let names = report.needs_restart.join(", ");
                log::warn!(event = "reload"; "SIGHUP: these settings change only with a restart: {names}");
            }
            log::info!(event = "reload"; "SIGHUP: configuration reloaded");
        }
        Err(e) => log::error!(
            event = "reload";
            "SIGHUP: reload refused, nothing changed (users, certificate and settings kept): {e}"
        ),
    }
}

fn warn_about_validity(cert: &ReloadableCert) {
    if let Some(warning) = cert.validity_warning() {
        log::warn!("{warning}");
    }
}

fn serve(cli: Cli) -> Result<()> {
    let (cfg, quick) = build_config(&cli, None)?;
    if cfg.storage.backend == Backend::S3 {
        check_s3(&cfg, false)?;
    }
    let cli = Arc::new(cli);
    let workers = usize::from(cli.workers.unwrap_or(1));
    let anonymous = cfg
        .anonymous
        .as_ref()
        .map(|root| match cfg.storage.backend {
            Backend::Fs => root.display().to_string(),
            Backend::S3 => {
                let s3 = &cfg.storage.s3;
                let bucket = s3.bucket.as_deref().unwrap_or_default();
                format!("s3://{bucket}/{}{}", s3.prefix, root.display())
            }
        });
    let tls_cert = cfg.tls.as_ref().map(|t| t.settings.cert().clone());
    if let Some(cert) = &tls_cert {
        warn_about_validity(cert);
    }
    let auth = Arc::new(UserDb::from_config(&cfg)?);
    let cert = tls_cert.clone();
    let watched = watched_files(&cli);
    let loader: ftp_server::reload::ConfigLoader = Arc::new(move || {
        build_config(&cli, tls_cert.as_ref())
            .map(|(cfg, _)| cfg)
            .map_err(|e| ReloadError::Invalid(report(&e)))
    });
    smol::block_on(async move {
        let server = Server::bind_users(cfg, auth.clone())
            .await?
            .with_workers(workers)
            .with_config_loader(loader);
        let users = auth.user_names();
        // The handlers are in place before the banner, which tells supervisors (and tests)
        // that the server is ready, signals included.
        let mut hup = async_signal::Signals::new([async_signal::Signal::Hup])
            .context("installing the SIGHUP handler")?;
        let handle = server.reload_handle();
        smol::spawn(async move {
            while let Some(Ok(_)) = hup.next().await {
                let (handle, cert) = (handle.clone(), cert.clone());
                // Reading files and opening homes may block: not on the executor.
                blocking::unblock(move || reload(&handle, cert.as_deref())).await;
            }
        })
        .detach();
        if !watched.is_empty() {
            let handle = server.reload_handle();
            // Its first fingerprints are taken before the banner.
            let watcher = ftp_server::reload::watch_files(handle, watched, report_change).await;
            smol::spawn(watcher).detach();
        }
        let stop = server.shutdown_handle();
        let mut signals =
            async_signal::Signals::new([async_signal::Signal::Int, async_signal::Signal::Term])
                .context("installing signal handlers")?;
        smol::spawn(async move {
            if let Some(Ok(sig)) = signals.next().await {
                log::info!("received {sig:?}: shutting down");
                stop.shutdown();
            }
        })
        .detach();
        print_banner(&server, anonymous.as_deref(), &users, quick);
        server.run().await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn cli_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn every_flag_is_a_row_of_the_settings_table_and_back() {
        let cli = Cli::command();
        let mut flags: Vec<String> = cli
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|l| !["help", "version"].contains(l))
            .map(|l| format!("--{l}"))
            .collect();
        let mut rows: Vec<String> = ftp_server::settings::table()
            .into_iter()
            .filter_map(|s| s.flag)
            .map(|f| f.split(' ').next().unwrap_or(f).to_string())
            .collect();
        flags.sort();
        rows.sort();
        assert_eq!(flags, rows, "add the flag to ftp-server/src/settings.rs");
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
        let (cfg, quick) = build_config(&cli, None).unwrap();
        assert!(quick && cfg.anonymous.is_some() && cfg.users.is_empty());
        let cli = Cli::parse_from(["ftp-server", "--user", "a:b"]);
        let (cfg, quick) = build_config(&cli, None).unwrap();
        assert!(!quick && cfg.anonymous.is_none());
    }

    #[test]
    fn under_s3_the_root_is_a_key_prefix_and_the_flags_set_the_bucket() {
        let cli = Cli::parse_from([
            "ftp-server",
            "--storage",
            "s3",
            "--s3-endpoint",
            "http://127.0.0.1:7480",
            "--s3-bucket",
            "ftp",
            "--s3-prefix",
            "site1/",
            "--root",
            "no/such/dir",
            "--user",
            "a:b",
        ]);
        let (cfg, _) = build_config(&cli, None).unwrap();
        assert_eq!(cfg.storage.backend, Backend::S3);
        assert_eq!(cfg.users[0].home, Path::new("no/such/dir"));
        let s3 = &cfg.storage.s3;
        assert_eq!(s3.bucket.as_deref(), Some("ftp"));
        assert_eq!(
            (s3.prefix.as_str(), s3.region.as_str()),
            ("site1/", "us-east-1")
        );
        let fs = Cli::parse_from(["ftp-server", "--root", "no/such/dir", "--user", "a:b"]);
        assert!(
            build_config(&fs, None).is_err(),
            "on the filesystem the root must exist"
        );
    }

    #[test]
    fn errors_are_reported_once_and_a_refused_low_port_gets_a_hint() {
        let bind = |addr: &str| {
            anyhow::Error::from(ServerError::Bind {
                addr: addr.parse().unwrap(),
                source: std::io::Error::from_raw_os_error(13),
            })
        };
        assert_eq!(
            report(&bind("0.0.0.0:21")),
            "cannot listen on 0.0.0.0:21: Permission denied (os error 13) (ports below 1024 \
             need root or CAP_NET_BIND_SERVICE; see ftp-server/deploy/ftp-server.service)"
        );
        assert_eq!(
            report(&bind("0.0.0.0:2121")),
            "cannot listen on 0.0.0.0:2121: Permission denied (os error 13)"
        );
        let wrapped =
            anyhow::Error::from(std::io::Error::from_raw_os_error(2)).context("reading x");
        assert_eq!(
            report(&wrapped),
            "reading x: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn zero_is_refused_for_counts_and_timeouts() {
        assert_eq!(
            at_least_one::<usize>("0"),
            Err("must be at least 1".to_string())
        );
        assert_eq!(
            at_least_one::<u32>("x"),
            Err("expected a whole number".to_string())
        );
        assert_eq!(at_least_one::<usize>("7"), Ok(7));
        assert!(positive_duration("0s").is_err() && positive_duration("0").is_err());
        assert_eq!(positive_duration("1ms"), Ok(Duration::from_millis(1)));
    }
}
