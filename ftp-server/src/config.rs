//! Server configuration: [`Config`] (with safe defaults), users and their [`Permissions`], and
//! the TOML configuration and users files.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ftp_proto::Secret;
use serde::Deserialize;

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
    };

    /// Parses permission names (`list`, `read`, `write`, `append`, `delete`, `rename`, `mkdir`,
    /// `rmdir`, or `all`).
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
    /// What the user may do.
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 2121))],
            anonymous: None,
            users: Vec::new(),
            passive_ports: None,
            public_address: None,
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
        }
    }
}

/// Errors reading configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not valid TOML of the expected shape.
    #[error("invalid {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: toml::de::Error,
    },
    /// A permission name is not known.
    #[error("unknown permission {0:?} (expected list, read, write, append, delete, rename, mkdir, rmdir or all)")]
    UnknownPermission(String),
    /// The TLS certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A value is malformed.
    #[error("invalid {what}: {value:?}")]
    Invalid {
        /// Which setting.
        what: &'static str,
        /// The offending value.
        value: String,
    },
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

fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<UserEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    password_hash: Option<String>,
    password: Option<String>,
    home: PathBuf,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

/// Loads a users file:
///
/// ```toml
/// [[user]]
/// name = "alice"
/// password_hash = "$argon2id$v=19$..."   # from `ftp-server hash-password`
/// home = "/srv/ftp/alice"
/// permissions = ["list", "read", "write", "append", "delete", "rename", "mkdir", "rmdir"]
/// ```
///
/// `permissions` defaults to read-only. A relative `home` is relative to the file's directory.
pub fn load_users_file(path: &Path) -> Result<Vec<User>, ConfigError> {
    let file: UsersFile = read_toml(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    file.user
        .into_iter()
        .map(|u| {
            let password = match (u.password_hash, u.password) {
                (Some(h), _) => PasswordSpec::Argon2(h),
                (None, Some(p)) => PasswordSpec::Plain(Secret::new(p)),
                (None, None) => {
                    return Err(ConfigError::Invalid {
                        what: "user without password_hash",
                        value: u.name,
                    })
                }
            };
            let permissions = match u.permissions {
                Some(names) => Permissions::from_names(names)?,
                None => Permissions::READ_ONLY,
            };
            Ok(User {
                name: u.name,
                password,
                home: base.join(u.home),
                permissions,
            })
        })
        .collect()
}

/// The TOML configuration file (`--config`). Every key is optional; durations are in seconds.
///
/// ```toml
/// listen = ["127.0.0.1:2121", "[::1]:2121"]
/// anonymous_root = "/srv/ftp/pub"
/// users_file = "users.toml"
/// passive_ports = "50000-50100"
/// public_address = "ftp.example.com"
/// max_sessions = 1000
/// idle_timeout = 300
/// ascii_size_limit = 67108864       # bytes; SIZE in TYPE A above it answers 550
/// max_list_entries = 200000         # larger directories answer 550 to LIST/NLST/MLSD
/// tls_cert = "cert.pem"             # FTPS; reloaded on SIGHUP
/// tls_key = "key.pem"
/// implicit_tls_listen = ["0.0.0.0:990"]
/// require_tls_login = true
/// require_prot_p = true
/// require_tls_session_reuse = true  # the default
/// tls_allow_ccc = false             # the default: CCC answers 534
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Control listen addresses.
    pub listen: Option<Vec<SocketAddr>>,
    /// Root for anonymous read-only access.
    pub anonymous_root: Option<PathBuf>,
    /// A users file (see [`load_users_file`]).
    pub users_file: Option<PathBuf>,
    /// Passive port range `LOW-HIGH`.
    pub passive_ports: Option<String>,
    /// Address announced in `227` replies.
    pub public_address: Option<String>,
    /// Allow FXP (PORT to other hosts).
    pub allow_foreign_data_address: Option<bool>,
    /// Allow PORT to ports below 1024.
    pub allow_privileged_data_port: Option<bool>,
    /// Maximum sessions.
    pub max_sessions: Option<usize>,
    /// Maximum sessions per IP.
    pub max_sessions_per_ip: Option<usize>,
    /// Maximum control line length.
    pub max_line: Option<usize>,
    /// Largest file whose `SIZE` is computed in `TYPE A`, bytes.
    pub ascii_size_limit: Option<u64>,
    /// Most entries a directory listing may have.
    pub max_list_entries: Option<usize>,
    /// Idle timeout, seconds.
    pub idle_timeout: Option<u64>,
    /// Data timeout, seconds.
    pub data_timeout: Option<u64>,
    /// Failed-login delay, milliseconds.
    pub login_failure_delay_ms: Option<u64>,
    /// Failed logins before disconnect.
    pub max_login_failures: Option<u32>,
    /// Shutdown grace period, seconds.
    pub shutdown_grace: Option<u64>,
    /// Greeting text.
    pub greeting: Option<String>,
    /// TLS certificate chain, PEM (with `tls_key`: enables FTPS).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key, PEM.
    pub tls_key: Option<PathBuf>,
    /// Implicit-FTPS listen addresses.
    pub implicit_tls_listen: Option<Vec<SocketAddr>>,
    /// Refuse logins without TLS.
    pub require_tls_login: Option<bool>,
    /// Refuse transfers without `PROT P`.
    pub require_prot_p: Option<bool>,
    /// Require TLS data connections to resume the control connection's session (default on).
    pub require_tls_session_reuse: Option<bool>,
    /// Accept `CCC` after login (back to a plain control connection; default off).
    pub tls_allow_ccc: Option<bool>,
}

impl ConfigFile {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let mut f: ConfigFile = read_toml(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        f.users_file = f.users_file.map(|u| base.join(u));
        f.anonymous_root = f.anonymous_root.map(|u| base.join(u));
        f.tls_cert = f.tls_cert.map(|u| base.join(u));
        f.tls_key = f.tls_key.map(|u| base.join(u));
        Ok(f)
    }

    /// Applies the settings present in the file to `config`.
    pub fn apply(self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(v) = self.listen {
            config.listen = v;
        }
        if let Some(v) = self.anonymous_root {
            config.anonymous = Some(v);
        }
        if let Some(p) = self.users_file {
            config.users.extend(load_users_file(&p)?);
        }
        if let Some(v) = self.passive_ports {
            config.passive_ports = Some(parse_port_range(&v)?);
        }
        if let Some(v) = self.public_address {
            config.public_address = Some(v);
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { config.$f = v; } )* };
        }
        set!(
            allow_foreign_data_address,
            allow_privileged_data_port,
            max_sessions,
            max_sessions_per_ip,
            max_line,
            ascii_size_limit,
            max_list_entries,
            max_login_failures,
            greeting
        );
        if let Some(v) = self.idle_timeout {
            config.idle_timeout = Duration::from_secs(v);
        }
        if let Some(v) = self.data_timeout {
            config.data_timeout = Duration::from_secs(v);
        }
        if let Some(v) = self.login_failure_delay_ms {
            config.login_failure_delay = Duration::from_millis(v);
        }
        if let Some(v) = self.shutdown_grace {
            config.shutdown_grace = Duration::from_secs(v);
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => {
                let cert = crate::tls::ReloadableCert::from_pem_files(c, k)?;
                config.tls = Some(crate::tls::TlsConfig::new(cert));
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid {
                    what: "TLS settings (tls_cert and tls_key go together)",
                    value: String::new(),
                })
            }
        }
        if let Some(t) = config.tls.as_mut() {
            if let Some(v) = self.require_tls_login {
                t.require_tls_login = v;
            }
            if let Some(v) = self.require_prot_p {
                t.require_prot_p = v;
            }
            if let Some(v) = self.require_tls_session_reuse {
                t.require_session_reuse = v;
            }
            if let Some(v) = self.tls_allow_ccc {
                t.allow_ccc = v;
            }
        }
        if let Some(v) = self.implicit_tls_listen {
            config.implicit_tls_listen = v;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_file_parses_hash_home_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("users.toml");
        std::fs::write(
            &p,
            "[[user]]\nname = \"alice\"\npassword_hash = \"$argon2id$x\"\nhome = \"alice\"\npermissions = [\"list\", \"read\", \"mkdir\"]\n",
        )
        .unwrap();
        let users = load_users_file(&p).unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].home, dir.path().join("alice"));
        assert!(users[0].permissions.mkdir && !users[0].permissions.write);
        assert_eq!(
            users[0].password,
            PasswordSpec::Argon2("$argon2id$x".into())
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

    #[test]
    fn rejects_unknown_config_keys() {
        assert!(toml::from_str::<ConfigFile>("bogus = 1").is_err());
    }
}
