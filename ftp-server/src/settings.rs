//! The server's settings, each listed once: its flag, its config-file key (with the type the
//! file holds and how it lands in [`Config`]), its default and one line of documentation.
//!
//! The table below generates [`ConfigFile`] (one field per key), the key-by-key part of
//! [`ConfigFile::apply`], and the settings table of `ftp-server/README.md` ([`markdown_table`];
//! a test fails when the README is out of step). [`Config`] keeps its typed fields and its
//! `Default`, which the table's default column reads. The flags are clap fields in the binary
//! (`ftp-server/src/main.rs`, with their type and value parser) whose `--help` line and
//! default come from this table; a test there checks that the binary's flags and this
//! table's are the same set.
//!
//! ```
//! let rows = ftp_server::settings::table();
//! let max = rows.iter().find(|s| s.key == Some("max_sessions")).unwrap();
//! assert_eq!(max.flag, Some("--max-sessions N"));
//! assert_eq!(max.default, "1000");
//! ```

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::access::IpNet;
use crate::config::{parse_port_range, Config, ConfigError, UserDefaults};

/// One entry of `passive_address_overrides`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideEntry {
    /// The clients' range (`10.0.0.0/8`).
    pub from: String,
    /// The IPv4 address they are told.
    pub address: std::net::Ipv4Addr,
}

/// `--proxy-protocol-from` / `proxy_protocol_from`: the ranges, each parsed.
pub fn parse_cidrs(v: &[String]) -> Result<crate::proxy::ProxyFrom, ConfigError> {
    v.iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()
        .map(crate::proxy::ProxyFrom)
}

/// One row of the settings table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The flag with its value name (`--max-sessions N`), if there is one.
    pub flag: Option<&'static str>,
    /// The config-file key, if there is one.
    pub key: Option<&'static str>,
    /// The default, as a reader would write it.
    pub default: String,
    /// What it does, in one line (Markdown).
    pub doc: &'static str,
}

/// Declares the settings: each row is `flag`, `key: NAME: FILE_TYPE => APPLY` (APPLY sets the
/// value on a `&mut Config`; rows without it are applied by hand in `config.rs`), or
/// `storage_key: …` for a key of the file's `[storage]` table, `default` (a [`Config`] field,
/// shown through [`Shown`], or a literal) and `doc`. `flag` and the key are optional.
macro_rules! settings {
    ($({
        $(flag: $flag:literal,)?
        $(key: $key:ident: $ty:ty $(=> $apply:expr)?,)?
        $(storage_key: $skey:ident: $sty:ty => $sapply:expr,)?
        default: $default:tt,
        doc: $doc:literal $(,)?
    })*) => {
        /// The TOML configuration file (`--config`). Every key is optional; durations are in
        /// seconds (`login_failure_delay_ms` in milliseconds). The keys are the rows of
        /// [`table`] that have one.
        ///
        /// ```toml
        /// listen = ["127.0.0.1:2121", "[::1]:2121"]
        /// anonymous_root = "/srv/ftp/pub"
        /// users_file = "users.toml"
        /// passive_ports = "50000-50100"
        /// max_sessions = 1000
        /// idle_timeout = 300
        /// tls_cert = "cert.pem"             # FTPS; reloaded on SIGHUP
        /// tls_key = "key.pem"
        /// require_tls_session_reuse = true  # the default
        /// ```
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct ConfigFile {
            $($(
                #[doc = $doc]
                pub $key: Option<$ty>,
            )?)*
            /// The `[storage]` table: the backend and, for S3, the bucket.
            pub storage: Option<StorageSection>,
        }

        /// The config file's `[storage]` table.
        ///
        /// ```toml
        /// [storage]
        /// backend = "s3"
        /// endpoint = "http://127.0.0.1:7480"
        /// bucket = "ftp"
        /// secret_access_key_file = "s3-secret"
        /// ```
        #[derive(Debug, Default, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct StorageSection {
            $($(
                #[doc = $doc]
                pub $skey: Option<$sty>,
            )?)*
        }

        impl StorageSection {
            /// Applies the keys present, in table order.
            pub(crate) fn apply_keys(self, config: &mut Config) -> Result<(), ConfigError> {
                $($(
                    if let Some(v) = self.$skey {
                        apply(config, v, $sapply)?;
                    }
                )?)*
                Ok(())
            }
        }

        impl ConfigFile {
            /// Applies the keys that have an APPLY in the table, in table order.
            pub(crate) fn apply_keys(self, config: &mut Config) -> Result<(), ConfigError> {
                $($($(
                    if let Some(v) = self.$key {
                        apply(config, v, $apply)?;
                    }
                )?)?)*
                Ok(())
            }
        }

        /// Every setting, in the order of the README table, with its default taken from
        /// [`Config::default`].
        ///
        /// ```
        /// let rows = ftp_server::settings::table();
        /// assert!(rows.iter().any(|s| s.flag == Some("--no-tls-session-reuse")
        ///     && s.key == Some("require_tls_session_reuse")));
        /// ```
        pub fn table() -> Vec<Setting> {
            let defaults = Config::default();
            vec![$(Setting {
                flag: settings!(@some $($flag)?),
                key: settings!(@some $(stringify!($key))? $(concat!("[storage] ", stringify!($skey)))?),
                default: settings!(@default defaults, $default),
                doc: $doc,
            }),*]
        }
    };
    (@some) => { None };
    (@some $name:expr) => { Some($name) };
    (@default $c:ident, $text:literal) => { String::from($text) };
    (@default $c:ident, $field:ident) => { Shown::shown(&$c.$field) };
}

settings! {
    {
        flag: "--config FILE",
        default: "–",
        doc: "TOML configuration file; flags override its settings",
    }
    {
        flag: "--listen ADDR",
        key: listen: Vec<SocketAddr> => |c, v| c.listen = v,
        default: listen,
        doc: "control-connection listen address (the flag is repeatable)",
    }
    {
        flag: "--root DIR",
        default: "the current directory",
        doc: "directory served to `--user` accounts and to anonymous users of `--anonymous`",
    }
    {
        flag: "--user NAME:PASSWORD",
        default: "–",
        doc: "a user with every permission on `--root` (repeatable; for tests and quick starts)",
    }
    {
        flag: "--anonymous",
        key: anonymous_root: PathBuf,
        default: "off (on with no arguments at all)",
        doc: "anonymous read-only logins (`anonymous`/`ftp`): the flag serves `--root`, the key the directory it names",
    }
    {
        flag: "--users-file FILE",
        key: users_file: PathBuf,
        default: "–",
        doc: "a users file (below), or with S3 storage an object of the bucket outside the served prefix (`s3:KEY`); re-read on `SIGHUP` and when it changes",
    }
    {
        flag: "--users-file-poll DURATION",
        key: users_file_poll: NonZeroU64 => |c, v| c.users_file_poll = Duration::from_secs(v.get()),
        default: users_file_poll,
        doc: "how often the users file (and config file) is checked for changes and reloaded when it changed; a broken file keeps the old users (key: seconds)",
    }
    {
        flag: "--passive-ports LOW-HIGH",
        key: passive_ports: String => |c, v| -> Result<(), ConfigError> {
            c.passive_ports = Some(parse_port_range(&v)?);
            Ok(())
        },
        default: "chosen by the OS",
        doc: "ports for passive data listeners",
    }
    {
        flag: "--public-address HOST",
        key: public_address: String => |c, v| c.public_address = Some(v),
        default: "the control connection's local address",
        doc: "IPv4 address or host name announced in `227` replies, for servers behind NAT",
    }
    {
        key: passive_address_overrides: Vec<OverrideEntry> => |c, v| -> Result<(), ConfigError> {
            c.passive_address_overrides = v
                .into_iter()
                .map(|e| Ok(crate::config::PassiveOverride { from: e.from.parse()?, address: e.address }))
                .collect::<Result<_, ConfigError>>()?;
            Ok(())
        },
        default: "–",
        doc: "split horizon: `[{ from = \"10.0.0.0/8\", address = \"10.1.2.3\" }]` tells clients in a range another `227` address",
    }
    {
        flag: "--passive-ports-announced LOW-HIGH",
        key: passive_ports_announced: String => |c, v| -> Result<(), ConfigError> {
            c.passive_ports_announced = Some(parse_port_range(&v)?);
            Ok(())
        },
        default: "the listened ports",
        doc: "ports announced in `227`/`229` replies when a NAT or balancer maps them onto `passive_ports` (same size)",
    }
    {
        flag: "--proxy-protocol-from CIDR",
        key: proxy_protocol_from: Vec<String> => |c, v| -> Result<(), ConfigError> {
            c.proxy_protocol_from = parse_cidrs(&v)?;
            Ok(())
        },
        default: "–",
        doc: "load balancers (repeatable): their connections, control and data, must start with a PROXY v1/v2 header naming the real client",
    }
    {
        flag: "--allow-fxp",
        key: allow_foreign_data_address: bool => |c, v| c.allow_foreign_data_address = v,
        default: allow_foreign_data_address,
        doc: "allow `PORT`/`EPRT` to addresses other than the client's (FXP)",
    }
    {
        flag: "--allow-privileged-ports",
        key: allow_privileged_data_port: bool => |c, v| c.allow_privileged_data_port = v,
        default: allow_privileged_data_port,
        doc: "allow `PORT`/`EPRT` to ports below 1024",
    }
    {
        flag: "--max-sessions N",
        key: max_sessions: NonZeroUsize => |c, v| c.max_sessions = v.get(),
        default: max_sessions,
        doc: "most simultaneous sessions; further clients get `421`",
    }
    {
        flag: "--max-sessions-per-ip N",
        key: max_sessions_per_ip: NonZeroUsize => |c, v| c.max_sessions_per_ip = v.get(),
        default: max_sessions_per_ip,
        doc: "most simultaneous sessions from one client address",
    }
    {
        key: max_line: NonZeroUsize => |c, v| c.max_line = v.get(),
        default: max_line,
        doc: "longest control line, bytes",
    }
    {
        flag: "--ascii-size-limit BYTES",
        key: ascii_size_limit: u64 => |c, v| c.ascii_size_limit = v,
        default: ascii_size_limit,
        doc: "largest file whose `SIZE` is answered in `TYPE A` (it means reading the file); bigger ones get `550`",
    }
    {
        flag: "--max-list-entries N",
        key: max_list_entries: NonZeroUsize => |c, v| c.max_list_entries = v.get(),
        default: max_list_entries,
        doc: "most entries of a `LIST`/`NLST`/`MLSD` (built in memory); larger directories get `550`",
    }
    {
        flag: "--idle-timeout DURATION",
        key: idle_timeout: NonZeroU64 => |c, v| c.idle_timeout = Duration::from_secs(v.get()),
        default: idle_timeout,
        doc: "close a control connection idle this long (key: seconds)",
    }
    {
        flag: "--data-timeout DURATION",
        key: data_timeout: NonZeroU64 => |c, v| c.data_timeout = Duration::from_secs(v.get()),
        default: data_timeout,
        doc: "limit for passive accepts, active connects and stalled transfers (key: seconds)",
    }
    {
        flag: "--login-failure-delay DURATION",
        key: login_failure_delay_ms: u64 => |c, v| c.login_failure_delay = Duration::from_millis(v),
        default: login_failure_delay,
        doc: "delay before answering a failed login (key: milliseconds)",
    }
    {
        flag: "--max-login-failures N",
        key: max_login_failures: NonZeroU32 => |c, v| c.max_login_failures = v.get(),
        default: max_login_failures,
        doc: "failed logins after which the connection is closed",
    }
    {
        flag: "--shutdown-grace DURATION",
        key: shutdown_grace: u64 => |c, v| c.shutdown_grace = Duration::from_secs(v),
        default: shutdown_grace,
        doc: "how long running transfers may go on after SIGINT/SIGTERM (key: seconds)",
    }
    {
        key: greeting: String => |c, v| c.greeting = v,
        default: greeting,
        doc: "text of the `220` greeting",
    }
    {
        flag: "--workers N",
        default: "1",
        doc: "threads running sessions; protected (TLS) transfers run on a thread per core anyway",
    }
    {
        flag: "--tls-cert FILE",
        key: tls_cert: PathBuf,
        default: "–",
        doc: "TLS certificate chain (PEM); with the key, enables FTPS; re-read on `SIGHUP` without dropping sessions; an expired certificate (or one expiring within 14 days) is logged as a warning",
    }
    {
        flag: "--tls-key FILE",
        key: tls_key: PathBuf,
        default: "–",
        doc: "the private key (PEM) of the TLS certificate",
    }
    {
        flag: "--tls-self-signed",
        default: "–",
        doc: "generate a certificate at start-up and print its SHA-256 fingerprint",
    }
    {
        flag: "--implicit-tls-listen ADDR",
        key: implicit_tls_listen: Vec<SocketAddr> => |c, v| c.implicit_tls_listen = v,
        default: implicit_tls_listen,
        doc: "implicit-FTPS listen address: TLS from the first byte (port 990 style)",
    }
    {
        flag: "--require-tls-login",
        key: require_tls_login: bool => |c, v| tls(c, |t| t.require_tls_login = v),
        default: "off",
        doc: "`USER` without TLS gets `530`",
    }
    {
        flag: "--require-prot-p",
        key: require_prot_p: bool => |c, v| tls(c, |t| t.require_prot_p = v),
        default: "off",
        doc: "transfers without `PROT P` get `521`, `PROT C` gets `534`",
    }
    {
        flag: "--no-tls-session-reuse",
        key: require_tls_session_reuse: bool => |c, v| tls(c, |t| t.require_session_reuse = v),
        default: "reuse required",
        doc: "a TLS data connection must resume a session of the same user and address; turning that off allows data-connection hijacking (only for clients that never resume)",
    }
    {
        flag: "--tls-allow-ccc",
        key: tls_allow_ccc: bool => |c, v| tls(c, |t| t.allow_ccc = v),
        default: "off",
        doc: "accept `CCC` after login (the control connection goes back to plain text); otherwise `534`",
    }
    {
        flag: "--storage BACKEND",
        storage_key: backend: String => |c, v| -> Result<(), ConfigError> {
            c.storage.backend = v.parse()?;
            Ok(())
        },
        default: "fs",
        doc: "where files live: `fs` (homes and `--root` are directories) or `s3` (homes and `--root` are key prefixes in the bucket)",
    }
    {
        flag: "--s3-endpoint URL",
        storage_key: endpoint: String => |c, v| c.storage.s3.endpoint = Some(v),
        default: "AWS in the region",
        doc: "S3 endpoint (`http://127.0.0.1:7480`); path-style URLs, except for AWS (virtual-hosted)",
    }
    {
        flag: "--s3-bucket NAME",
        storage_key: bucket: String => |c, v| c.storage.s3.bucket = Some(v),
        default: "–",
        doc: "the bucket; the server refuses to start if it is missing or the credentials fail",
    }
    {
        flag: "--s3-region REGION",
        storage_key: region: String => |c, v| c.storage.s3.region = v,
        default: "us-east-1",
        doc: "the region requests are signed for",
    }
    {
        flag: "--s3-prefix PREFIX",
        storage_key: prefix: String => |c, v| c.storage.s3.prefix = v,
        default: "the whole bucket",
        doc: "key prefix every home lies under (`site1/`)",
    }
    {
        storage_key: access_key_id: String => |c, v| c.storage.s3.access_key_id = Some(v),
        default: "`AWS_ACCESS_KEY_ID`",
        doc: "S3 access key ID (the environment variable `AWS_ACCESS_KEY_ID` overrides it)",
    }
    {
        storage_key: secret_access_key_file: PathBuf => |c, v| c.storage.s3.secret_access_key_file = Some(v),
        default: "`AWS_SECRET_ACCESS_KEY`",
        doc: "file holding the S3 secret access key (re-read on `SIGHUP`; `AWS_SECRET_ACCESS_KEY` overrides it); never inline",
    }
    {
        flag: "--s3-ca-file FILE",
        storage_key: ca_file: PathBuf => |c, v| c.storage.s3.ca_file = Some(v),
        default: "the system roots",
        doc: "CA certificates (PEM) that verify an HTTPS S3 endpoint",
    }
    {
        flag: "--s3-request-timeout DURATION",
        storage_key: request_timeout: NonZeroU64 => |c, v| c.storage.s3.request_timeout = Duration::from_secs(v.get()),
        default: "15s",
        doc: "how long one S3 request waits for the engine's answer (plus a second per MB it sends) before it is retried; after five attempts the command gets `451` (key: seconds)",
    }
    {
        storage_key: rename_dirs: bool => |c, v| c.storage.s3.rename_dirs = v,
        default: "off",
        doc: "S3: rename non-empty directories by copying and deleting each object (not atomic); off: `550`",
    }
    {
        flag: "--fsync-uploads",
        key: fsync_uploads: bool => |c, v| c.fsync_uploads = v,
        default: fsync_uploads,
        doc: "flush every upload to disk (file, then directory) before its `226`, so a `226` survives a power cut; costs a disk flush per upload",
    }
    {
        key: quota_bytes: u64 => |c, v| c.default_limits.quota_bytes = Some(v),
        default: "none",
        doc: "bytes each user may store, for users of the users file that set no `quota_bytes` of their own (see Quotas and limits)",
    }
    {
        key: quota_files: u64 => |c, v| c.default_limits.quota_files = Some(v),
        default: "none",
        doc: "files each user may store, for users that set no `quota_files` of their own",
    }
    {
        key: quota_rescan: NonZeroU64 => |c, v| c.quota_rescan = Duration::from_secs(v.get()),
        default: quota_rescan,
        doc: "count a user's files again after this long, to see changes made outside the server (key: seconds)",
    }
    {
        key: user_download_rate: NonZeroU64 => |c, v| c.default_limits.download_rate = Some(v),
        default: "unlimited",
        doc: "bytes a second for all downloads of one user together, for users that set no `download_rate`",
    }
    {
        key: user_upload_rate: NonZeroU64 => |c, v| c.default_limits.upload_rate = Some(v),
        default: "unlimited",
        doc: "bytes a second for all uploads of one user together, for users that set no `upload_rate`",
    }
    {
        flag: "--download-rate BYTES",
        key: download_rate: NonZeroU64 => |c, v| c.download_rate = Some(v),
        default: "unlimited",
        doc: "bytes a second for all downloads of the server together",
    }
    {
        flag: "--upload-rate BYTES",
        key: upload_rate: NonZeroU64 => |c, v| c.upload_rate = Some(v),
        default: "unlimited",
        doc: "bytes a second for all uploads of the server together",
    }
    {
        flag: "--max-hash-bytes BYTES",
        key: max_hash_bytes: u64 => |c, v| c.max_hash_bytes = v,
        default: max_hash_bytes,
        doc: "most bytes one `HASH`/`XSHA256`/… reads; larger files get `556` (`550`) unless their SHA-256 is stored with them",
    }
    {
        flag: "--max-concurrent-hashes N",
        key: max_concurrent_hashes: NonZeroUsize => |c, v| c.max_concurrent_hashes = v.get(),
        default: max_concurrent_hashes,
        doc: "most digests computed at once in the whole server; more get `450` (try again later)",
    }
    {
        flag: "--hash-all-uploads",
        key: hash_all_uploads: bool => |c, v| c.hash_all_uploads = v,
        default: hash_all_uploads,
        doc: "also compute and store the SHA-256 of uploads into local files as they arrive (plain binary ones then go through a buffer instead of `splice`); off, the first `HASH` computes and stores it",
    }
    {
        key: deny_ips: Vec<IpNet> => |c, v| c.deny_ips = v,
        default: "–",
        doc: "client addresses (CIDR blocks, like `[\"192.0.2.0/24\"]`) refused at accept, before the greeting; checked before `allow_ips`",
    }
    {
        key: allow_ips: Vec<IpNet> => |c, v| c.allow_ips = v,
        default: "every address",
        doc: "when set, only client addresses in these CIDR blocks are served; the others are refused at accept, before the greeting",
    }
    {
        key: ban_score: u32 => |c, v| c.bans.score = v,
        default: "15",
        doc: "score that bans a client address (unknown user 2, wrong password 1, `PORT` to a foreign host 5, over a session limit 1); `0`: no bans",
    }
    {
        key: ban_window: NonZeroU64 => |c, v| c.bans.window = Duration::from_secs(v.get()),
        default: "600s",
        doc: "the time within which `ban_score` must be reached (seconds)",
    }
    {
        key: ban_duration: NonZeroU64 => |c, v| c.bans.duration = Duration::from_secs(v.get()),
        default: "900s",
        doc: "length of a first ban (seconds); each further ban of the address lasts twice as long, up to a day; banned addresses are refused at accept",
    }
    {
        key: ban_max_tracked: NonZeroUsize => |c, v| c.bans.max_tracked = v.get(),
        default: "10000",
        doc: "most client addresses whose score is kept (memory bound); the quietest are forgotten first",
    }
    {
        key: user_defaults: UserDefaults,
        default: "–",
        doc: "a table of per-user keys (`max_sessions`, `allowed_ips`, `require_tls`, `umask`, …; see the users file) for every user that neither it nor its groups set; re-read on `SIGHUP`",
    }
    {
        flag: "--admin-listen ADDR",
        key: admin_listen: SocketAddr => |c, v| c.admin_listen = Some(v),
        default: "off",
        doc: "the admin HTTP listener: `/metrics`, `/healthz`, `/readyz` and the `/api/v1` admin API (keep it on a private address)",
    }
    {
        flag: "--admin-token-file FILE",
        key: admin_token_file: PathBuf => |c, v| c.admin_token_file = Some(v),
        default: "–",
        doc: "file holding the admin API's bearer token (re-read on reload); without it `/api/` answers `403`",
    }
    {
        flag: "--xferlog FILE",
        key: xferlog: PathBuf => |c, v| c.xferlog = Some(v),
        default: "–",
        doc: "append one line per file transfer in the wu-ftpd/vsftpd `xferlog` format; reopened on `SIGHUP` (logrotate)",
    }
    {
        flag: "--log-format FORMAT",
        default: "text",
        doc: "`text`, or `json`: one JSON object per line (`ts`, `level`, `session`, `peer`, `user`, `event`, `msg`, …)",
    }
}

/// Runs one row's APPLY; the closure's signature comes from here.
fn apply<T, R: Applied>(
    config: &mut Config,
    value: T,
    f: impl FnOnce(&mut Config, T) -> R,
) -> Result<(), ConfigError> {
    f(config, value).into_result()
}

/// Sets a TLS policy when TLS is configured (without a certificate the policies mean nothing).
fn tls(config: &mut Config, set: impl FnOnce(&mut crate::tls::TlsConfig)) {
    if let Some(t) = config.tls.as_mut() {
        set(t);
    }
}

/// What an APPLY may return: nothing, or a result.
trait Applied {
    fn into_result(self) -> Result<(), ConfigError>;
}

impl Applied for () {
    fn into_result(self) -> Result<(), ConfigError> {
        Ok(())
    }
}

impl Applied for Result<(), ConfigError> {
    fn into_result(self) -> Result<(), ConfigError> {
        self
    }
}

/// A default as the settings table shows it.
///
/// ```
/// use ftp_server::settings::Shown;
/// assert_eq!(std::time::Duration::from_secs(300).shown(), "300s");
/// assert_eq!(false.shown(), "off");
/// ```
pub trait Shown {
    /// The text for the table.
    fn shown(&self) -> String;
}

impl Shown for bool {
    fn shown(&self) -> String {
        String::from(if *self { "on" } else { "off" })
    }
}

impl Shown for Duration {
    fn shown(&self) -> String {
        match self.subsec_millis() {
            0 => format!("{}s", self.as_secs()),
            _ => format!("{}ms", self.as_millis()),
        }
    }
}

impl Shown for String {
    fn shown(&self) -> String {
        format!("{self:?}")
    }
}

impl Shown for Vec<SocketAddr> {
    fn shown(&self) -> String {
        match self.is_empty() {
            true => String::from("–"),
            false => self
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

macro_rules! shown_as_display {
    ($($t:ty),*) => { $(impl Shown for $t {
        fn shown(&self) -> String {
            self.to_string()
        }
    })* };
}
shown_as_display!(usize, u64, u32);

/// The settings table as Markdown, as `ftp-server/README.md` carries it.
///
/// ```
/// let t = ftp_server::settings::markdown_table();
/// assert!(t.starts_with("| flag | config key | default | meaning |\n|---|---|---|---|\n"));
/// assert!(t.contains("| – | `max_line` | 4096 | "));
/// ```
pub fn markdown_table() -> String {
    let code = |s: Option<&str>| s.map_or_else(|| "–".to_string(), |s| format!("`{s}`"));
    let mut out = String::from("| flag | config key | default | meaning |\n|---|---|---|---|\n");
    for s in table() {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            code(s.flag),
            code(s.key),
            s.default,
            s.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_settings_table_is_the_generated_one() {
        let readme = include_str!("../README.md");
        let (start, end) = (
            "<!-- settings table -->\n",
            "<!-- end of settings table -->",
        );
        let from = readme.find(start).expect("README has the start marker") + start.len();
        let to = readme[from..].find(end).expect("README has the end marker") + from;
        let want = markdown_table();
        assert!(
            readme[from..to] == want,
            "ftp-server/README.md's settings table differs from settings::table(); \
             put this between its markers:\n{want}"
        );
    }

    #[test]
    fn keys_and_flags_are_each_in_one_row() {
        let rows = table();
        let mut seen = std::collections::HashSet::new();
        for name in rows.iter().flat_map(|s| [s.flag, s.key]).flatten() {
            assert!(seen.insert(name), "{name} is in two rows");
        }
    }
}
