//! Server configuration: [`Config`] (with safe defaults), users and their [`Permissions`], and
//! the TOML configuration and users files.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ftp_proto::Secret;
use serde::Deserialize;
use toml::Spanned;

use crate::access::{entry_with_rules, rule_keys, BanPolicy, IpNet, Rules};
use crate::vpath::VPath;

pub use crate::settings::{ConfigFile, StorageSection};

/// What a user may do. `list` covers directory listings and `CWD`; `read` covers downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions {
    /// List directories (`LIST`, `NLST`, `MLSD`, `MLST`, `STAT path`) and change into them.
    pub list: bool,
    /// Download files (`RETR`) and query them (`SIZE`, `MDTM`).
    pub read: bool,
    /// Create and overwrite files (`STOR`, `STOU`, `MFMT`).
    pub write: bool,
    /// Append to files (`APPE`, `REST` + `STOR`).
    pub append: bool,
    /// Delete files (`DELE`).
    pub delete: bool,
    /// Rename files and directories (`RNFR`/`RNTO`).
    pub rename: bool,
    /// Create directories (`MKD`).
    pub mkdir: bool,
    /// Remove directories (`RMD`).
    pub rmdir: bool,
    /// Change permission bits (`SITE CHMOD`; never for anonymous logins).
    pub chmod: bool,
}

impl Permissions {
    /// Every permission.
    pub const ALL: Permissions = Permissions {
        list: true,
        read: true,
        write: true,
        append: true,
        delete: true,
        rename: true,
        mkdir: true,
        rmdir: true,
        chmod: true,
    };

    /// Listing and downloading only.
    pub const READ_ONLY: Permissions = Permissions {
        list: true,
        read: true,
        write: false,
        append: false,
        delete: false,
        rename: false,
        mkdir: false,
        rmdir: false,
        chmod: false,
    };

    /// Parses permission names (`list`, `read`, `write`, `append`, `delete`, `rename`, `mkdir`,
    /// `rmdir`, `chmod`, or `all`).
    ///
    /// ```
    /// use ftp_server::Permissions;
    /// let p = Permissions::from_names(["list", "read"]).unwrap();
    /// assert_eq!(p, Permissions::READ_ONLY);
    /// assert!(Permissions::from_names(["fly"]).is_err());
    /// ```
    pub fn from_names<I, S>(names: I) -> Result<Permissions, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut p = Permissions::default();
        for n in names {
            match n.as_ref().trim().to_ascii_lowercase().as_str() {
                "list" => p.list = true,
                "read" => p.read = true,
                "write" => p.write = true,
                "append" => p.append = true,
                "delete" => p.delete = true,
                "rename" => p.rename = true,
                "mkdir" => p.mkdir = true,
                "rmdir" => p.rmdir = true,
                "chmod" => p.chmod = true,
                "all" => p = Permissions::ALL,
                other => return Err(ConfigError::UnknownPermission(other.to_string())),
            }
        }
        Ok(p)
    }
}

/// How a user's password is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSpec {
    /// A plain-text password (for `--user NAME:PASSWORD` quick starts and tests).
    Plain(Secret<String>),
    /// An argon2 PHC string (`$argon2id$...`), as `ftp-server hash-password` prints.
    Argon2(String),
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Password check.
    pub password: PasswordSpec,
    /// The directory that is `/` for this user.
    pub home: PathBuf,
    /// What the user may do (in its home; each mount has its own).
    pub permissions: Permissions,
    /// The access rules it sets, with those of its groups filled in (the server-wide
    /// [`Config::user_defaults`] are added when the users are loaded).
    pub rules: Rules,
    /// Its virtual folders: other directories that appear inside its tree.
    pub mounts: Vec<Mount>,
    /// Quotas and bandwidth limits the user sets itself (a program's users; the files
    /// set them as rules); unset ones come from its rules, then [`Config::default_limits`].
    pub limits: crate::policy::Limits,
}

/// A virtual folder (`[[user.mount]]`): the directory `target` appears at `path` in the
/// user's tree, with its own permissions. `path` never is `/`; the longest mount path that
/// is a prefix of a client path serves it, confined to its target like a home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it appears (`/shared`).
    pub path: VPath,
    /// The directory served there (on an object store, the key prefix).
    pub target: PathBuf,
    /// What the user may do inside it.
    pub permissions: Permissions,
}

impl User {
    /// A user with a plain-text password and every permission.
    ///
    /// ```
    /// use ftp_server::{Permissions, User};
    /// let u = User::new("alice", "secret", "/srv/ftp/alice");
    /// assert_eq!(u.permissions, Permissions::ALL);
    /// ```
    pub fn new(name: &str, plain_password: &str, home: impl Into<PathBuf>) -> User {
        User {
            name: name.to_string(),
            password: PasswordSpec::Plain(Secret::new(plain_password.to_string())),
            home: home.into(),
            permissions: Permissions::ALL,
            limits: crate::policy::Limits::default(),
            rules: Rules::default(),
            mounts: Vec::new(),
        }
    }
}

/// Everything the server needs to run. `Default` gives the safe defaults: listen on
/// `127.0.0.1:2121`, no anonymous access, no users, bounce protection on.
#[derive(Debug, Clone)]
pub struct Config {
    /// Control-connection listen addresses (port 0 lets the OS choose).
    pub listen: Vec<SocketAddr>,
    /// `Some(root)`: anonymous (`anonymous`/`ftp`) read-only login serving `root`.
    pub anonymous: Option<PathBuf>,
    /// User accounts.
    pub users: Vec<User>,
    /// Ports for passive data listeners; `None` lets the OS choose.
    pub passive_ports: Option<RangeInclusive<u16>>,
    /// Address (IPv4 or host name) announced in `227` replies instead of the local address,
    /// for servers behind NAT.
    pub public_address: Option<String>,
    /// Split horizon: clients in a range are told its address in `227` replies instead of
    /// `public_address` (the first matching range wins).
    pub passive_address_overrides: Vec<PassiveOverride>,
    /// The ports announced in `227`/`229` replies when a port-translating NAT or balancer
    /// maps them onto `passive_ports` (same size, in order); `None`: the listened ports.
    pub passive_ports_announced: Option<RangeInclusive<u16>>,
    /// How often the daemon looks at its users file (and config file) for changes
    /// ([`crate::reload::watch_files`]).
    pub users_file_poll: Duration,
    /// Allow `PORT`/`EPRT` to addresses other than the client's (FXP). Off by default.
    pub allow_foreign_data_address: bool,
    /// Allow `PORT`/`EPRT` to ports below 1024. Off by default.
    pub allow_privileged_data_port: bool,
    /// Maximum simultaneous sessions (further clients get `421`).
    pub max_sessions: usize,
    /// Maximum simultaneous sessions from one IP address.
    pub max_sessions_per_ip: usize,
    /// Maximum control line length in bytes.
    pub max_line: usize,
    /// Largest file (bytes on disk) whose `SIZE` is answered in `TYPE A`. The answer there is
    /// what a `RETR` in `TYPE A` sends (RFC 3659 §4), which takes reading the whole file;
    /// bigger files get `550` (use `TYPE I`). `TYPE I` answers from metadata at any size.
    pub ascii_size_limit: u64,
    /// Most entries a directory listing (`LIST`, `NLST`, `MLSD`) may have; larger
    /// directories answer `550`. A listing is held in memory whole while it is built (a few
    /// hundred bytes per entry), so this bounds what one command can take.
    pub max_list_entries: usize,
    /// Close a control connection after this long without a complete command (and no
    /// transfer running).
    pub idle_timeout: Duration,
    /// How long a passive listener waits for its connection, an active connect may take, and a
    /// data connection may stall.
    pub data_timeout: Duration,
    /// Delay before answering a failed login.
    pub login_failure_delay: Duration,
    /// Failed logins after which the connection is closed.
    pub max_login_failures: u32,
    /// On shutdown, how long running transfers may take to finish.
    pub shutdown_grace: Duration,
    /// Text of the `220` greeting.
    pub greeting: String,
    /// FTPS (`AUTH TLS`, `PBSZ`, `PROT`) and its policies; `None` disables TLS.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Implicit-FTPS listen addresses (TLS from the first byte, port 990 style); needs `tls`.
    pub implicit_tls_listen: Vec<SocketAddr>,
    /// Flush every upload to disk (`fsync` of the file before it is renamed into place, then
    /// of its directory) before answering `226`. Off by default, as in other servers: it
    /// costs a disk flush per upload.
    pub fsync_uploads: bool,
    /// Limits for users that do not set their own (`quota_bytes`, `quota_files`,
    /// `user_download_rate`, `user_upload_rate` in the config file).
    pub default_limits: crate::policy::Limits,
    /// How old a user's quota usage may get before it is counted again (changes made
    /// outside the server show then).
    pub quota_rescan: Duration,
    /// Bytes a second for all downloads of the server together.
    pub download_rate: Option<std::num::NonZeroU64>,
    /// Bytes a second for all uploads of the server together.
    pub upload_rate: Option<std::num::NonZeroU64>,
    /// Most bytes one `HASH` (or `XSHA256` …) reads; larger files (or ranges) answer `556`
    /// (`550` for the legacy commands) unless their SHA-256 is stored with them.
    pub max_hash_bytes: u64,
    /// Most digests computed at once in the whole server; more answer `450` (try later).
    pub max_concurrent_hashes: usize,
    /// Also compute the SHA-256 of uploads into local files as they arrive, so that `HASH`
    /// answers at once; plain binary ones then go through a buffer instead of `splice(2)`.
    /// Off, a local upload's digest is computed by the first `HASH` and kept. Uploads to
    /// backends without local files are always hashed (reading them back would cost a
    /// download).
    pub hash_all_uploads: bool,
    /// Client addresses refused at accept, before the greeting (checked before `allow_ips`).
    pub deny_ips: Vec<IpNet>,
    /// When not empty, only these client addresses are served; others are refused at
    /// accept, before the greeting.
    pub allow_ips: Vec<IpNet>,
    /// When bad events ban their source address ([`crate::access::Defender`]).
    pub bans: BanPolicy,
    /// Rules for every user that neither it nor its groups set (`[user_defaults]`).
    pub user_defaults: Rules,
    /// The admin HTTP listener (`/metrics`, `/healthz`, `/readyz`, `/api/v1/…`); `None`:
    /// off. See [`crate::admin`].
    pub admin_listen: Option<SocketAddr>,
    /// The file holding the admin API's bearer token (read at start and on reload); without
    /// it the API answers `403`.
    pub admin_token_file: Option<PathBuf>,
    /// The transfer log in the `xferlog` format ([`crate::xferlog`]), opened again on reload.
    pub xferlog: Option<PathBuf>,
    /// Where files live: the local filesystem (homes are directories) or an S3 bucket (homes
    /// are key prefixes).
    pub storage: StorageConfig,
    /// The load balancers whose connections (control and data) start with a PROXY header
    /// naming the real client ([`crate::proxy`]); empty: none.
    pub proxy_protocol_from: crate::proxy::ProxyFrom,
}

/// Which storage backend serves the users' files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The local filesystem: homes and `--root` are directories.
    #[default]
    Fs,
    /// An S3 bucket: homes and `--root` are key prefixes.
    S3,
}

impl std::str::FromStr for Backend {
    type Err = ConfigError;

    /// `fs` or `s3`.
    ///
    /// ```
    /// use ftp_server::config::Backend;
    /// assert_eq!("s3".parse::<Backend>().unwrap(), Backend::S3);
    /// assert!("nfs".parse::<Backend>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Backend, ConfigError> {
        match s {
            "fs" => Ok(Backend::Fs),
            "s3" => Ok(Backend::S3),
            _ => Err(ConfigError::Invalid {
                what: "storage backend (expected fs or s3)",
                value: s.to_string(),
            }),
        }
    }
}

/// The storage settings: the backend and, for S3, where the bucket is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConfig {
    /// The backend.
    pub backend: Backend,
    /// The S3 settings (used when `backend` is [`Backend::S3`]).
    pub s3: crate::storage::s3::S3Settings,
}

/// One split-horizon rule: clients in `from` are told `address` for passive connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassiveOverride {
    /// The clients.
    pub from: crate::proxy::Cidr,
    /// The address they are told.
    pub address: std::net::Ipv4Addr,
}

impl Config {
    /// The IPv4 address a passive reply announces to a client at `client`: a matching
    /// override, else `public` (the resolved `public_address`), else `local` when IPv4.
    ///
    /// ```
    /// use ftp_server::config::{Config, PassiveOverride};
    /// let c = Config {
    ///     passive_address_overrides: vec![PassiveOverride {
    ///         from: "10.0.0.0/8".parse().unwrap(),
    ///         address: "10.1.2.3".parse().unwrap(),
    ///     }],
    ///     ..Config::default()
    /// };
    /// let public = Some("203.0.113.5".parse().unwrap());
    /// let local = "192.168.0.2".parse().unwrap();
    /// assert_eq!(c.passive_address("10.9.9.9".parse().unwrap(), public, local), Some("10.1.2.3".parse().unwrap()));
    /// assert_eq!(c.passive_address("198.51.100.1".parse().unwrap(), public, local), public);
    /// ```
    pub fn passive_address(
        &self,
        client: std::net::IpAddr,
        public: Option<std::net::Ipv4Addr>,
        local: std::net::IpAddr,
    ) -> Option<std::net::Ipv4Addr> {
        if let Some(o) = self
            .passive_address_overrides
            .iter()
            .find(|o| o.from.contains(client))
        {
            return Some(o.address);
        }
        match (public, local.to_canonical()) {
            (Some(p), _) => Some(p),
            (None, std::net::IpAddr::V4(v4)) => Some(v4),
            (None, std::net::IpAddr::V6(_)) => None,
        }
    }

    /// The port a passive reply announces for the listened `port` (`passive_ports_announced`).
    ///
    /// ```
    /// use ftp_server::Config;
    /// let c = Config {
    ///     passive_ports: Some(50000..=50099),
    ///     passive_ports_announced: Some(60000..=60099),
    ///     ..Config::default()
    /// };
    /// assert_eq!(c.announced_port(50007), 60007);
    /// ```
    pub fn announced_port(&self, port: u16) -> u16 {
        match (&self.passive_ports, &self.passive_ports_announced) {
            (Some(l), Some(a)) if l.contains(&port) => a.start() + (port - l.start()),
            _ => port,
        }
    }

    /// Checks that `passive_ports_announced` maps onto `passive_ports` one to one.
    pub fn check_announced_ports(&self) -> Result<(), ConfigError> {
        let Some(a) = &self.passive_ports_announced else {
            return Ok(());
        };
        let same = self
            .passive_ports
            .as_ref()
            .is_some_and(|l| l.end() - l.start() == a.end() - a.start());
        if same {
            return Ok(());
        }
        Err(ConfigError::Invalid {
            what: "passive_ports_announced (needs passive_ports of the same size)",
            value: format!("{}-{}", a.start(), a.end()),
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 2121))],
            anonymous: None,
            users: Vec::new(),
            passive_ports: None,
            public_address: None,
            passive_address_overrides: Vec::new(),
            passive_ports_announced: None,
            users_file_poll: Duration::from_secs(5),
            allow_foreign_data_address: false,
            allow_privileged_data_port: false,
            max_sessions: 1000,
            max_sessions_per_ip: 50,
            max_line: 4096,
            ascii_size_limit: 64 * 1024 * 1024,
            max_list_entries: 200_000,
            idle_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(60),
            login_failure_delay: Duration::from_secs(1),
            max_login_failures: 3,
            shutdown_grace: Duration::from_secs(30),
            greeting: "FTP server ready.".to_string(),
            tls: None,
            implicit_tls_listen: Vec::new(),
            fsync_uploads: false,
            default_limits: crate::policy::Limits::default(),
            quota_rescan: Duration::from_secs(3600),
            download_rate: None,
            upload_rate: None,
            max_hash_bytes: 64 << 30,
            max_concurrent_hashes: 4,
            hash_all_uploads: false,
            deny_ips: Vec::new(),
            allow_ips: Vec::new(),
            bans: BanPolicy::default(),
            user_defaults: Rules::default(),
            admin_listen: None,
            admin_token_file: None,
            xferlog: None,
            storage: StorageConfig::default(),
            proxy_protocol_from: crate::proxy::ProxyFrom::default(),
        }
    }
}

/// Which file a [`ConfigError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// The configuration file (`--config`).
    Config,
    /// A users file (`--users-file`, `users_file`).
    Users,
}

impl std::fmt::Display for FileRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileRole::Config => "config file",
            FileRole::Users => "users file",
        })
    }
}

/// Errors reading configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {role} {}: {}", path.display(), io_reason(error))]
    Read {
        /// Which file it is.
        role: FileRole,
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so not a `source()`).
        error: std::io::Error,
    },
    /// A file is not valid TOML of the expected shape, or a value in it is unusable.
    #[error("{role} {}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        /// Which file it is.
        role: FileRole,
        /// The file.
        path: PathBuf,
        /// The line (from 1) the problem is on, when known.
        line: Option<usize>,
        /// What is wrong, in the words of the file's documentation.
        message: String,
    },
    /// A permission name is not known.
    #[error("unknown permission {0:?} (expected list, read, write, append, delete, rename, mkdir, rmdir, chmod or all)")]
    UnknownPermission(String),
    /// The TLS certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A setting needs another one that is missing.
    #[error("{0}")]
    Incomplete(&'static str),
    /// A users file kept as an object (`s3:KEY`) could not be read or may not be used.
    #[error("users file s3:{key}: {reason}")]
    Object {
        /// The object's key in the bucket.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A value is malformed.
    #[error("invalid {what}: {value:?}")]
    Invalid {
        /// Which setting.
        what: &'static str,
        /// The offending value.
        value: String,
    },
}

/// An I/O error's reason without the `(os error N)` suffix, lower-case, for messages that
/// name the file themselves (`cannot read users file u.toml: no such file or directory`).
///
/// ```
/// let e = std::io::Error::from_raw_os_error(2);
/// assert_eq!(ftp_server::config::io_reason(&e), "no such file or directory");
/// ```
pub fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Parses a port range `LOW-HIGH` (or a single port).
///
/// ```
/// assert_eq!(ftp_server::config::parse_port_range("50000-50100").unwrap(), 50000..=50100);
/// assert!(ftp_server::config::parse_port_range("9-1").is_err());
/// ```
pub fn parse_port_range(s: &str) -> Result<RangeInclusive<u16>, ConfigError> {
    let bad = || ConfigError::Invalid {
        what: "port range",
        value: s.to_string(),
    };
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let lo: u16 = lo.parse().map_err(|_| bad())?;
    let hi: u16 = hi.parse().map_err(|_| bad())?;
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok(lo..=hi)
}

/// Parses `NAME:PASSWORD` (the `--user` flag) into a user with every permission at `home`.
///
/// ```
/// let u = ftp_server::config::parse_user_spec("bob:pw:with:colons", "/tmp".as_ref()).unwrap();
/// assert_eq!(u.name, "bob");
/// ```
pub fn parse_user_spec(spec: &str, home: &Path) -> Result<User, ConfigError> {
    match spec.split_once(':') {
        Some((n, p)) if !n.is_empty() => Ok(User::new(n, p, home)),
        _ => Err(ConfigError::Invalid {
            what: "user (expected NAME:PASSWORD)",
            value: spec.split(':').next().unwrap_or_default().to_string(),
        }),
    }
}

/// A TOML file being read: its role, path and text, for error messages with line numbers.
struct TomlFile {
    role: FileRole,
    path: PathBuf,
    text: String,
}

impl TomlFile {
    fn read(role: FileRole, path: &Path) -> Result<TomlFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            role,
            path: path.to_path_buf(),
            error,
        })?;
        Ok(TomlFile {
            role,
            path: path.to_path_buf(),
            text,
        })
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self) -> Result<T, ConfigError> {
        toml::from_str(&self.text).map_err(|e| {
            let at = e.span().map(|s| s.start);
            self.error(at, friendly_toml_message(e.message()))
        })
    }

    /// The line (from 1) holding the byte at `at`.
    fn line_at(&self, at: usize) -> usize {
        let before = self.text.get(..at).unwrap_or(&self.text);
        before.bytes().filter(|&b| b == b'\n').count() + 1
    }

    /// An error about the byte at `at` (if known).
    fn error(&self, at: Option<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::Parse {
            role: self.role,
            path: self.path.clone(),
            line: at.map(|at| self.line_at(at)),
            message: message.into(),
        }
    }
}

/// serde's message for a TOML error in the words of the documentation: an unknown key names
/// the closest known one, Rust type names become words.
fn friendly_toml_message(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((key, expected)) = rest.split_once('`') {
            // "expected one of `a`, `b`": the known keys are the quoted words.
            let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let closest = known
                .iter()
                .map(|k| (strsim::jaro_winkler(key, k), *k))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            return match closest {
                Some((_, k)) => format!("unknown key `{key}` (did you mean `{k}`?)"),
                None => format!("unknown key `{key}` (known keys: {})", known.join(", ")),
            };
        }
    }
    let mut m = message.replace("missing field", "missing key");
    for (rust, words) in [
        ("a nonzero usize", "a whole number above 0"),
        ("a nonzero u64", "a whole number above 0"),
        ("a nonzero u32", "a whole number above 0"),
        ("usize", "a whole number"),
        ("u64", "a whole number"),
        ("u32", "a whole number"),
        ("u16", "a whole number"),
    ] {
        m = m.replace(&format!("expected {rust}"), &format!("expected {words}"));
    }
    m
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<UserEntry>,
    #[serde(default)]
    group: Vec<GroupEntry>,
}

rule_keys!(entry_with_rules! {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct UserEntry {
        name: Spanned<String>,
        password_hash: Option<Spanned<String>>,
        password: Option<Spanned<String>>,
        home: PathBuf,
        #[serde(default)]
        permissions: Option<Spanned<Vec<String>>>,
        #[serde(default)]
        groups: Option<Spanned<Vec<String>>>,
        #[serde(default)]
        mount: Vec<MountEntry>,
    }
});

rule_keys!(entry_with_rules! {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct GroupEntry {
        name: Spanned<String>,
        #[serde(default)]
        permissions: Option<Spanned<Vec<String>>>,
        #[serde(default)]
        mount: Vec<MountEntry>,
    }
});

rule_keys!(entry_with_rules! {
    /// The config file's `[user_defaults]`: the rules of every user that neither it nor
    /// its groups set (the keys of [`Rules`]).
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct UserDefaults {}
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MountEntry {
    path: Spanned<String>,
    target: PathBuf,
    #[serde(default)]
    permissions: Option<Spanned<Vec<String>>>,
}

/// A mount as read: its path (where in the file), target and permissions if set.
type MountAt = (Spanned<String>, PathBuf, Option<Permissions>);

/// A group as loaded: its rules, permissions (if it sets them) and mounts.
struct Group {
    rules: Rules,
    permissions: Option<Permissions>,
    mounts: Vec<MountAt>,
}

impl TomlFile {
    /// Permission names at their place in the file; `who` prefixes the error.
    fn permissions(
        &self,
        who: &str,
        names: Option<Spanned<Vec<String>>>,
    ) -> Result<Option<Permissions>, ConfigError> {
        let Some(names) = names else { return Ok(None) };
        let at = names.span().start;
        Permissions::from_names(names.into_inner())
            .map(Some)
            .map_err(|e| self.error(Some(at), format!("{who}: {e}")))
    }

    /// The mounts of an entry, targets relative to `base`, permissions unresolved.
    fn mounts(
        &self,
        who: &str,
        entries: Vec<MountEntry>,
        base: &Path,
    ) -> Result<Vec<MountAt>, ConfigError> {
        entries
            .into_iter()
            .map(|m| {
                let p = self.permissions(who, m.permissions)?;
                Ok((m.path, base.join(m.target), p))
            })
            .collect()
    }

    /// The `[[group]]`s by name.
    fn groups(
        &self,
        entries: Vec<GroupEntry>,
        base: &Path,
    ) -> Result<std::collections::HashMap<String, Group>, ConfigError> {
        let mut groups = std::collections::HashMap::new();
        for g in entries {
            let at = g.name.span().start;
            let rules = g.rules();
            let name = g.name.into_inner();
            let who = format!("group {name:?}");
            let group = Group {
                rules,
                permissions: self.permissions(&who, g.permissions)?,
                mounts: self.mounts(&who, g.mount, base)?,
            };
            if groups.insert(name, group).is_some() {
                return Err(self.error(Some(at), format!("{who}: defined twice")));
            }
        }
        Ok(groups)
    }

    /// A `[[user]]` entry with its groups resolved.
    fn user(
        &self,
        u: UserEntry,
        groups: &std::collections::HashMap<String, Group>,
        base: &Path,
    ) -> Result<User, ConfigError> {
        let name_at = u.name.span().start;
        let name = u.name.get_ref().clone();
        let who = format!("user {name:?}");
        let bad = |at: usize, what: String| self.error(Some(at), format!("{who}: {what}"));
        let password = match (&u.password_hash, &u.password) {
            (Some(h), None) => {
                crate::auth::check_password_hash(h.get_ref())
                    .map_err(|why| bad(h.span().start, why))?;
                PasswordSpec::Argon2(h.get_ref().clone())
            }
            (None, Some(p)) => PasswordSpec::Plain(Secret::new(p.get_ref().clone())),
            (Some(h), Some(_)) => {
                return Err(bad(
                    h.span().start,
                    "both password and password_hash (keep one)".into(),
                ))
            }
            (None, None) => return Err(bad(name_at, "no password_hash".into())),
        };
        let mut rules = u.rules();
        let mut permissions = self.permissions(&who, u.permissions)?;
        let mut mounts = self.mounts(&who, u.mount, base)?;
        let own = mounts.len();
        for g in u.groups.iter().flat_map(|g| g.get_ref()) {
            let at = u.groups.as_ref().map_or(name_at, |g| g.span().start);
            let group = groups
                .get(g)
                .ok_or_else(|| bad(at, format!("no group {g:?} in this file")))?;
            rules.inherit(&group.rules);
            permissions = permissions.or(group.permissions);
            mounts.extend(group.mounts.iter().cloned());
        }
        let permissions = permissions.unwrap_or(Permissions::READ_ONLY);
        Ok(User {
            name,
            password,
            home: base.join(u.home),
            permissions,
            rules,
            mounts: self.resolve_mounts(&who, mounts, own, permissions)?,
            limits: crate::policy::Limits::default(),
        })
    }

    /// Mount paths checked (absolute, not `/`, each once: a user's own mount hides a
    /// group's at the same path); unset permissions are the user's.
    fn resolve_mounts(
        &self,
        who: &str,
        mounts: Vec<MountAt>,
        own: usize,
        permissions: Permissions,
    ) -> Result<Vec<Mount>, ConfigError> {
        let mut out: Vec<Mount> = Vec::new();
        for (i, (path, target, p)) in mounts.into_iter().enumerate() {
            let at = Some(path.span().start);
            let text = path.into_inner();
            let bad = |what: &str| self.error(at, format!("{who}: mount path {text:?} {what}"));
            let vpath = match VPath::root().resolve(text.as_bytes()) {
                Ok(v) if text.starts_with('/') && !v.is_root() => v,
                _ => return Err(bad("must be an absolute path below /")),
            };
            if out.iter().any(|m| m.path == vpath) {
                if i < own {
                    return Err(bad("is mounted twice"));
                }
                continue;
            }
            out.push(Mount {
                path: vpath,
                target,
                permissions: p.unwrap_or(permissions),
            });
        }
        Ok(out)
    }
}

/// Loads a users file:
///
/// ```toml
/// [[user]]
/// name = "alice"
/// password_hash = "$argon2id$v=19$..."   # from `ftp-server hash-password`
/// home = "/srv/ftp/alice"
/// permissions = ["list", "read", "write", "append", "delete", "rename", "mkdir", "rmdir"]
/// groups = ["staff"]                     # takes what it does not set from these
/// quota_bytes = 1_000_000_000             # optional: what the user may store
/// download_rate = 1_000_000               # optional: bytes a second, all sessions together
/// max_sessions = 4                       # and the other keys of `Rules`
///
/// [[user.mount]]                         # /shared in alice's tree is /srv/shared
/// path = "/shared"
/// target = "/srv/shared"
/// permissions = ["list", "read"]
///
/// [[group]]
/// name = "staff"
/// allowed_ips = ["10.0.0.0/8"]
/// require_tls = true
/// umask = "027"
/// ```
///
/// `permissions` defaults to the first group's that sets them, else read-only; a mount's to
/// the user's. A relative `home` or mount `target` is relative to the file's directory.
/// Every entry is checked: a name given twice, a `password_hash` that is not an argon2 PHC
/// string, both `password` and `password_hash` or neither, an unknown group, a mount path
/// given twice are errors naming the line.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("users.toml");
/// std::fs::write(&path, "[[user]]\nname = \"alice\"\npassword_hash = \"$2y$10$abc\"\nhome = \".\"\n").unwrap();
/// let e = ftp_server::config::load_users_file(&path).unwrap_err().to_string();
/// assert!(e.ends_with("users.toml:3: user \"alice\": password_hash is not an argon2id PHC string \
///                      (bcrypt hashes are not supported; make one with `ftp-server hash-password`)"), "{e}");
/// ```
pub fn load_users_file(path: &Path) -> Result<Vec<User>, ConfigError> {
    load_users_file_for(path, Backend::Fs)
}

/// [`load_users_file`] for a backend: under [`Backend::S3`] a `home` is a key prefix, kept
/// as written (not made relative to the file's directory).
pub fn load_users_file_for(path: &Path, backend: Backend) -> Result<Vec<User>, ConfigError> {
    users_from(&TomlFile::read(FileRole::Users, path)?, backend)
}

/// The users of a users file's `text`, read from where `name` says (an error names it).
pub(crate) fn parse_users(
    name: &Path,
    text: String,
    backend: Backend,
) -> Result<Vec<User>, ConfigError> {
    let file = TomlFile {
        role: FileRole::Users,
        path: name.to_path_buf(),
        text,
    };
    users_from(&file, backend)
}

fn users_from(file: &TomlFile, backend: Backend) -> Result<Vec<User>, ConfigError> {
    let entries: UsersFile = file.parse()?;
    // Under S3 storage homes and mount targets are key prefixes, kept as written.
    let base = match backend {
        Backend::Fs => file.path.parent().unwrap_or(Path::new(".")),
        Backend::S3 => Path::new(""),
    };
    let groups = file.groups(entries.group, base)?;
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let mut users = Vec::with_capacity(entries.user.len());
    for u in entries.user {
        let name_at = u.name.span().start;
        let name = u.name.get_ref().clone();
        if let Some(first) = seen.insert(name.clone(), name_at) {
            let first = file.line_at(first);
            return Err(file.error(
                Some(name_at),
                format!("user {name:?}: defined twice (first on line {first})"),
            ));
        }
        users.push(file.user(u, &groups, base)?);
    }
    Ok(users)
}

impl ConfigFile {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let mut f: ConfigFile = TomlFile::read(FileRole::Config, path)?.parse()?;
        let base = path.parent().unwrap_or(Path::new("."));
        f.users_file = f
            .users_file
            .map(|u| match crate::users_file::object_key(&u) {
                Some(_) => u,
                None => base.join(u),
            });
        f.anonymous_root = f.anonymous_root.map(|u| base.join(u));
        f.tls_cert = f.tls_cert.map(|u| base.join(u));
        f.tls_key = f.tls_key.map(|u| base.join(u));
        if let Some(s) = f.storage.as_mut() {
            s.secret_access_key_file = s.secret_access_key_file.take().map(|u| base.join(u));
            s.ca_file = s.ca_file.take().map(|u| base.join(u));
        }
        Ok(f)
    }

    /// Applies who may log in and how: `anonymous_root`, the users of `users_file` (added to
    /// `config.users`) and `[user_defaults]`. Kept apart from [`ConfigFile::apply`] so users can
    /// be re-read while the server runs. Homes are read for `config.storage.backend` (apply the
    /// storage first).
    pub fn apply_users(&self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(v) = &self.anonymous_root {
            config.anonymous = Some(v.clone());
        }
        if let Some(p) = &self.users_file {
            config
                .users
                .extend(crate::users_file::load(p, &config.storage)?);
        }
        if let Some(d) = &self.user_defaults {
            config.user_defaults = d.rules();
        }
        Ok(())
    }

    /// Applies the `[storage]` table. Kept apart from [`ConfigFile::apply`] because who may
    /// log in depends on it (a home is a directory or a key prefix) and flags override it.
    ///
    /// ```
    /// use ftp_server::config::{Backend, ConfigFile};
    /// let f: ConfigFile = toml::from_str("[storage]\nbackend = \"s3\"\nbucket = \"ftp\"").unwrap();
    /// let mut c = ftp_server::Config::default();
    /// f.apply_storage(&mut c).unwrap();
    /// assert_eq!(c.storage.backend, Backend::S3);
    /// assert_eq!(c.storage.s3.bucket.as_deref(), Some("ftp"));
    /// ```
    pub fn apply_storage(&self, config: &mut Config) -> Result<(), ConfigError> {
        match &self.storage {
            Some(s) => s.clone().apply_keys(config),
            None => Ok(()),
        }
    }

    /// Applies the settings present in the file to `config`, except those of
    /// [`ConfigFile::apply_users`] and [`ConfigFile::apply_storage`].
    pub fn apply(self, config: &mut Config) -> Result<(), ConfigError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => {
                let cert = crate::tls::ReloadableCert::from_pem_files(c, k)?;
                config.tls = Some(crate::tls::TlsConfig::new(cert));
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Incomplete(
                    "config file: tls_cert and tls_key go together (one is missing)",
                ))
            }
        }
        self.apply_keys(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cheap argon2id hash of `pw`.
    fn cheap_hash(pw: &[u8]) -> String {
        let cost = crate::auth::HashCost {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        };
        crate::auth::hash_password_with(pw, cost).unwrap()
    }

    /// Writes `text` as `users.toml` in a new directory and loads it.
    fn users_file(text: &str) -> (tempfile::TempDir, Result<Vec<User>, ConfigError>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("users.toml");
        std::fs::write(&p, text).unwrap();
        let users = load_users_file(&p);
        (dir, users)
    }

    #[test]
    fn users_file_parses_hash_home_and_permissions() {
        let hash = cheap_hash(b"pw");
        let (dir, users) = users_file(&format!(
            "[[user]]\nname = \"alice\"\npassword_hash = \"{hash}\"\nhome = \"alice\"\npermissions = [\"list\", \"read\", \"mkdir\"]\n",
        ));
        let users = users.unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].home, dir.path().join("alice"));
        assert!(users[0].permissions.mkdir && !users[0].permissions.write);
        assert_eq!(users[0].password, PasswordSpec::Argon2(hash));
    }

    /// The error message for a users file holding `text`, without the directory.
    fn users_file_error(text: &str) -> String {
        let (dir, users) = users_file(text);
        let e = users.expect_err("the users file is refused").to_string();
        e.replace(&format!("{}/", dir.path().display()), "")
    }

    #[test]
    fn invalid_password_hashes_are_refused_with_file_line_and_user() {
        let head = "# users\n\n[[user]]\nname = \"alice\"\nhome = \".\"\n";
        for hash in [
            "garbage",
            "$2y$10$abcdefghijklmnopqrstuuvwxyz",
            "$argon2id$x",
        ] {
            let e = users_file_error(&format!("{head}password_hash = \"{hash}\"\n"));
            assert!(
                e.starts_with(
                    "users file users.toml:6: user \"alice\": password_hash is not an argon2id PHC string ("
                ),
                "{hash}: {e}"
            );
        }
    }

    #[test]
    fn users_file_refuses_duplicates_and_ambiguous_passwords() {
        let alice = "[[user]]\nname = \"alice\"\npassword = \"a\"\nhome = \".\"\n";
        assert_eq!(
            users_file_error(&format!("{alice}{alice}")),
            "users file users.toml:6: user \"alice\": defined twice (first on line 2)"
        );
        let both = format!("{alice}password_hash = \"{}\"\n", cheap_hash(b"a"));
        assert_eq!(
            users_file_error(&both),
            "users file users.toml:5: user \"alice\": both password and password_hash (keep one)"
        );
        assert_eq!(
            users_file_error("[[user]]\nname = \"bob\"\nhome = \".\"\n"),
            "users file users.toml:2: user \"bob\": no password_hash"
        );
        let fly = format!("{alice}permissions = [\"fly\"]\n");
        assert!(users_file_error(&fly)
            .starts_with("users file users.toml:5: user \"alice\": unknown permission \"fly\""));
    }

    #[test]
    fn groups_and_mounts_resolve_and_their_mistakes_name_the_line() {
        let text = "[[group]]\nname = \"g\"\nmax_sessions = 2\nrequire_tls = true\n\
                    permissions = [\"all\"]\n[[group.mount]]\npath = \"/pub\"\ntarget = \"pub\"\n\
                    [[user]]\nname = \"a\"\npassword = \"a\"\nhome = \".\"\ngroups = [\"g\"]\n\
                    require_tls = false\numask = 0o027\n\
                    [[user.mount]]\npath = \"/in/\"\ntarget = \"in\"\npermissions = [\"write\"]\n";
        let (dir, users) = users_file(text);
        let u = &users.unwrap()[0];
        assert_eq!(u.permissions, Permissions::ALL);
        assert_eq!(u.rules.max_sessions.map(|n| n.get()), Some(2));
        assert_eq!(u.rules.require_tls, Some(false));
        assert_eq!(u.rules.umask, Some(crate::access::FileMode(0o027)));
        let mounts: Vec<_> = u
            .mounts
            .iter()
            .map(|m| (m.path.to_string(), m.target.clone()))
            .collect();
        assert_eq!(
            mounts,
            [
                ("/in".to_string(), dir.path().join("in")),
                ("/pub".to_string(), dir.path().join("pub"))
            ]
        );
        assert!(u.mounts[0].permissions.write && !u.mounts[0].permissions.read);
        assert_eq!(u.mounts[1].permissions, Permissions::ALL);

        let user = "[[user]]\nname = \"a\"\npassword = \"a\"\nhome = \".\"\n";
        assert_eq!(
            users_file_error(&format!("{user}groups = [\"nope\"]\n")),
            "users file users.toml:5: user \"a\": no group \"nope\" in this file"
        );
        let mount = |path: &str| format!("[[user.mount]]\npath = \"{path}\"\ntarget = \".\"\n");
        assert_eq!(
            users_file_error(&format!("{user}{}", mount("/"))),
            "users file users.toml:6: user \"a\": mount path \"/\" must be an absolute path below /"
        );
        assert_eq!(
            users_file_error(&format!("{user}{}{}", mount("/x"), mount("/y/../x"))),
            "users file users.toml:9: user \"a\": mount path \"/y/../x\" is mounted twice"
        );
        assert!(users_file_error(&format!("{user}umask = \"999\"\n"))
            .starts_with("users file users.toml:5: \"999\" is not a mode"));
        assert!(
            users_file_error(&format!("{user}allowed_ips = [\"10.0.0.0/40\"]\n"))
                .starts_with("users file users.toml:5: \"10.0.0.0/40\" is not an IP address")
        );
        assert_eq!(
            users_file_error("[[group]]\nname = \"g\"\nmax_sesions = 1\n"),
            "users file users.toml:3: unknown key `max_sesions` (did you mean `max_sessions`?)"
        );
    }

    #[test]
    fn the_config_file_sets_address_rules_bans_and_user_defaults() {
        let c = applied(
            "deny_ips = [\"192.0.2.0/24\"]\nallow_ips = [\"::/0\", \"0.0.0.0/0\"]\nban_score = 4\n\
             ban_window = 5\nban_duration = 6\nban_max_tracked = 7\n",
        );
        assert_eq!(c.deny_ips, ["192.0.2.0/24".parse().unwrap()]);
        assert_eq!(c.allow_ips.len(), 2);
        assert_eq!(
            (
                c.bans.score,
                c.bans.window.as_secs(),
                c.bans.duration.as_secs(),
                c.bans.max_tracked
            ),
            (4, 5, 6, 7)
        );
        let f: ConfigFile = toml::from_str("[user_defaults]\nmax_sessions = 3\n").unwrap();
        let mut c = Config::default();
        f.apply_users(&mut c).unwrap();
        assert_eq!(c.user_defaults.max_sessions.map(|n| n.get()), Some(3));
    }

    #[test]
    fn unknown_keys_name_the_line_and_the_closest_key() {
        let e = users_file_error("[[user]]\nname = \"a\"\npasword = \"a\"\nhome = \".\"\n");
        assert_eq!(
            e,
            "users file users.toml:3: unknown key `pasword` (did you mean `password`?)"
        );
    }

    /// The default configuration with the config file `toml` applied.
    fn applied(toml: &str) -> Config {
        let f: ConfigFile = toml::from_str(toml).unwrap();
        let mut c = Config::default();
        f.apply(&mut c).unwrap();
        c
    }

    #[test]
    fn cluster_keys_parse_from_the_config_file() {
        let c = applied(
            "passive_address_overrides = [{ from = \"10.0.0.0/8\", address = \"10.1.2.3\" }]\n\
             passive_ports = \"50000-50099\"\npassive_ports_announced = \"60000-60099\"\n\
             proxy_protocol_from = [\"127.0.0.1\", \"10.0.0.0/8\"]",
        );
        assert_eq!(
            c.passive_address_overrides[0].address,
            std::net::Ipv4Addr::new(10, 1, 2, 3)
        );
        assert_eq!(c.announced_port(50099), 60099);
        assert!(c.check_announced_ports().is_ok());
        assert!(c
            .proxy_protocol_from
            .requires_header("10.2.3.4".parse().unwrap()));
        assert!(!c
            .proxy_protocol_from
            .requires_header("127.0.0.2".parse().unwrap()));
        let f: Result<ConfigFile, _> = toml::from_str("proxy_protocol_from = [\"10.0.0.0/99\"]");
        let mut d = Config::default();
        assert!(f.unwrap().apply(&mut d).is_err());
    }

    #[test]
    fn config_file_overrides_only_given_keys() {
        let c = applied("max_sessions = 7\npassive_ports = \"6000-6010\"");
        assert_eq!(c.max_sessions, 7);
        assert_eq!(c.passive_ports, Some(6000..=6010));
        assert_eq!(c.max_sessions_per_ip, Config::default().max_sessions_per_ip);
    }

    #[test]
    fn config_file_sets_the_ascii_size_limit() {
        assert_eq!(Config::default().ascii_size_limit, 64 * 1024 * 1024);
        assert_eq!(applied("ascii_size_limit = 1000").ascii_size_limit, 1000);
    }

    #[test]
    fn config_file_sets_the_listing_limit() {
        assert_eq!(Config::default().max_list_entries, 200_000);
        assert_eq!(applied("max_list_entries = 12").max_list_entries, 12);
    }

    #[test]
    fn config_file_enables_tls_with_its_policies() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::tls::SelfSigned::generate(&["localhost".into()]).unwrap();
        std::fs::write(dir.path().join("c.pem"), &s.cert_pem).unwrap();
        std::fs::write(dir.path().join("k.pem"), &s.key_pem).unwrap();
        let p = dir.path().join("ftp.toml");
        std::fs::write(
            &p,
            "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nrequire_prot_p = true\n\
             require_tls_session_reuse = false\nimplicit_tls_listen = [\"127.0.0.1:0\"]\n\
             tls_allow_ccc = true\n",
        )
        .unwrap();
        let mut c = Config::default();
        ConfigFile::load(&p).unwrap().apply(&mut c).unwrap();
        let t = c.tls.expect("TLS configured");
        assert!(t.require_prot_p && !t.require_session_reuse && !t.require_tls_login);
        assert!(t.allow_ccc);
        assert_eq!(t.settings.cert().fingerprint(), s.fingerprint);
        assert_eq!(c.implicit_tls_listen.len(), 1);
        let half: ConfigFile = toml::from_str("tls_cert = \"c.pem\"").unwrap();
        assert!(half.apply(&mut Config::default()).is_err());
    }

    /// The error message for a config file holding `text`, without the directory.
    fn config_file_error(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ftp.toml");
        std::fs::write(&p, text).unwrap();
        let e = ConfigFile::load(&p).expect_err("refused").to_string();
        e.replace(&format!("{}/", dir.path().display()), "")
    }

    #[test]
    fn config_file_errors_are_one_line_with_file_line_and_plain_words() {
        assert_eq!(
            config_file_error("max_sessions = 5\npassive_port = \"1-2\"\n"),
            "config file ftp.toml:2: unknown key `passive_port` (did you mean `passive_ports`?)"
        );
        let e = config_file_error("bogus = 1");
        assert!(e.starts_with("config file ftp.toml:1: unknown key `bogus` (known keys: listen, "));
        assert_eq!(
            config_file_error("\nascii_size_limit = \"x\""),
            "config file ftp.toml:2: invalid type: string \"x\", expected a whole number"
        );
    }

    #[test]
    fn config_file_refuses_zero_where_zero_makes_no_sense() {
        for key in [
            "max_sessions",
            "max_sessions_per_ip",
            "max_line",
            "max_list_entries",
            "idle_timeout",
            "data_timeout",
            "max_login_failures",
            "quota_rescan",
            "download_rate",
            "upload_rate",
            "user_download_rate",
            "user_upload_rate",
        ] {
            assert_eq!(
                config_file_error(&format!("{key} = 0")),
                format!("config file ftp.toml:1: invalid value: integer `0`, expected a whole number above 0"),
                "{key}"
            );
        }
        assert_eq!(applied("shutdown_grace = 0").shutdown_grace, Duration::ZERO);
    }

    #[test]
    fn users_file_and_config_file_set_quotas_and_rates() {
        let (_dir, users) = users_file(
            "[[user]]\nname = \"a\"\npassword = \"a\"\nhome = \".\"\nquota_bytes = 1000\n\
             upload_rate = 5000\n",
        );
        let l = crate::policy::Limits::from_rules(&users.unwrap()[0].rules);
        assert_eq!((l.quota_bytes, l.quota_files), (Some(1000), None));
        assert_eq!(l.upload_rate.map(|r| r.get()), Some(5000));
        let c = applied(
            "quota_files = 7\nuser_download_rate = 10\ndownload_rate = 20\nquota_rescan = 60",
        );
        assert_eq!(c.default_limits.quota_files, Some(7));
        assert_eq!(c.default_limits.download_rate.map(|r| r.get()), Some(10));
        assert_eq!(c.download_rate.map(|r| r.get()), Some(20));
        assert_eq!(c.quota_rescan, Duration::from_secs(60));
        assert_eq!(
            users_file_error(
                "[[user]]\nname = \"a\"\npassword = \"a\"\nhome = \".\"\ndownload_rate = 0\n"
            ),
            "users file users.toml:5: invalid value: integer `0`, expected a whole number above 0"
        );
    }

    #[test]
    fn config_file_storage_table_selects_s3_and_reads_relative_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ftp.toml");
        std::fs::write(
            &p,
            "[storage]\nbackend = \"s3\"\nendpoint = \"http://127.0.0.1:7480\"\nbucket = \"ftp\"\n\
             prefix = \"site1/\"\nsecret_access_key_file = \"secret\"\nrename_dirs = true\n",
        )
        .unwrap();
        let mut c = Config::default();
        ConfigFile::load(&p).unwrap().apply_storage(&mut c).unwrap();
        assert_eq!(c.storage.backend, Backend::S3);
        let s3 = &c.storage.s3;
        assert_eq!(s3.bucket.as_deref(), Some("ftp"));
        assert_eq!(s3.prefix, "site1/");
        assert_eq!(s3.secret_access_key_file, Some(dir.path().join("secret")));
        assert!(s3.rename_dirs && s3.region == "us-east-1");
        assert_eq!(
            config_file_error("[storage]\nbackend = \"s3\"\nsecret_access_key = \"x\"\n"),
            "config file ftp.toml:3: unknown key `secret_access_key` (did you mean `secret_access_key_file`?)"
        );
        let nfs: ConfigFile = toml::from_str("[storage]\nbackend = \"nfs\"").unwrap();
        assert!(nfs.apply_storage(&mut Config::default()).is_err());
    }

    #[test]
    fn s3_homes_stay_key_prefixes() {
        let (dir, _) = users_file("");
        let p = dir.path().join("users.toml");
        std::fs::write(
            &p,
            "[[user]]\nname = \"a\"\npassword = \"pw\"\nhome = \"alice/\"\n",
        )
        .unwrap();
        let users = load_users_file_for(&p, Backend::S3).unwrap();
        assert_eq!(users[0].home, Path::new("alice/"));
        assert_eq!(
            load_users_file(&p).unwrap()[0].home,
            dir.path().join("alice/")
        );
    }

    #[test]
    fn config_file_turns_on_fsync_of_uploads() {
        assert!(!Config::default().fsync_uploads);
        assert!(applied("fsync_uploads = true").fsync_uploads);
    }
}
