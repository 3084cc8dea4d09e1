//! Authentication: the [`Authenticator`] trait and the built-in [`UserDb`] (configured users
//! with plain or argon2 passwords, plus optional anonymous access).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ftp_proto::Secret;

use crate::access::Rules;
use crate::config::{Backend, Config, PasswordSpec, Permissions, User};
use crate::policy::{Limits, UserPolicy};
use crate::storage::mount::MountStorage;
use crate::storage::s3::{Prefix, S3Client, S3Storage};
use crate::storage::{BoxFuture, FsStorage, Storage};
use crate::vpath::{Mounts, VPath};

/// A logged-in user: who, what they see, what they may do.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user name (for logs).
    pub name: String,
    /// The user's storage; its root is the user's `/` (with its mounts routed inside:
    /// [`crate::storage::mount::MountStorage`]).
    pub storage: Arc<dyn Storage>,
    /// What the user may do outside its mounts.
    pub permissions: Permissions,
    /// What the user may do in each of its mounts.
    pub mounts: Arc<Mounts<Permissions>>,
    /// The user's access rules, inherited ones filled in.
    pub rules: Arc<Rules>,
    /// The user's quota and bandwidth limits, shared by all of the user's sessions
    /// (`UserPolicy::default()`: none).
    pub policy: UserPolicy,
}

impl Account {
    /// An account with `permissions` everywhere, no mounts, no rules and no limits.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ftp_server::{Account, Permissions, storage::MemStorage, vpath::VPath};
    /// let a = Account::new("bob", Arc::new(MemStorage::new(1024)), Permissions::READ_ONLY);
    /// assert_eq!(a.permissions_at(&VPath::root()), Permissions::READ_ONLY);
    /// ```
    pub fn new(name: &str, storage: Arc<dyn Storage>, permissions: Permissions) -> Account {
        Account {
            name: name.to_string(),
            storage,
            permissions,
            mounts: Arc::new(Mounts::default()),
            rules: Arc::new(Rules::default()),
            policy: UserPolicy::default(),
        }
    }

    /// What the user may do at `path`: the permissions of the mount serving it, else the
    /// account's.
    pub fn permissions_at(&self, path: &VPath) -> Permissions {
        match self.mounts.route(path) {
            Some((p, _)) => *p,
            None => self.permissions,
        }
    }
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Unknown user or wrong password (deliberately not told apart in the reply).
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// No such user: answered like [`AuthError::InvalidCredentials`], told apart only for
    /// the score of its source address (it weighs more than a wrong password).
    #[error("invalid user name or password (unknown user)")]
    UnknownUser,
    /// The backend failed (e.g. a malformed stored hash).
    #[error("authentication backend error: {0}")]
    Backend(String),
}

/// Checks credentials and yields an [`Account`].
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// Checks `user` / `password`.
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a Secret<Vec<u8>>,
    ) -> BoxFuture<'a, Result<Account, AuthError>>;

    /// The storages logins lead to, for the readiness probe (`/readyz` asks each for the
    /// metadata of its root). The default, none, leaves storage out of readiness.
    fn storages(&self) -> Vec<Arc<dyn Storage>> {
        Vec::new()
    }
}

/// User names that mean anonymous login.
pub const ANONYMOUS_NAMES: [&str; 2] = ["anonymous", "ftp"];

/// What a user's `UserPolicy` was made from: its limits, home and quota rescan interval.
type MadeFrom = (Limits, std::path::PathBuf, std::time::Duration);

#[derive(Debug)]
struct Entry {
    password: PasswordSpec,
    storage: Arc<dyn Storage>,
    permissions: Permissions,
    mounts: Arc<Mounts<Permissions>>,
    rules: Arc<Rules>,
    policy: UserPolicy,
    /// What `policy` was made from: a reload keeps the policy (its usage count, its
    /// buckets) of a user whose limits and home stay the same.
    made_from: MadeFrom,
}

/// The built-in authenticator over [`Config::users`] and [`Config::anonymous`].
/// [`UserDb::reload`] replaces them while the server runs (on `SIGHUP` in the daemon).
#[derive(Debug)]
pub struct UserDb {
    current: RwLock<Arc<Users>>,
}

/// Users checked by [`UserDb::prepare`], ready for [`UserDb::install`].
#[derive(Debug)]
pub struct PreparedUsers(Arc<Users>);

impl PreparedUsers {
    /// How many named users (anonymous access is not one).
    pub fn len(&self) -> usize {
        self.0.users.len()
    }

    /// True when there are no named users.
    pub fn is_empty(&self) -> bool {
        self.0.users.is_empty()
    }
}

/// One generation of [`UserDb`]'s users.
#[derive(Debug)]
struct Users {
    users: HashMap<String, Entry>,
    anonymous: Option<(Arc<dyn Storage>, UserPolicy)>,
    /// The rules of anonymous logins: the server-wide `[user_defaults]`.
    anonymous_rules: Arc<Rules>,
    /// A hash verified for unknown users so both cases cost the same.
    dummy_hash: Option<String>,
    /// Every served directory once (users sharing a home share its storage).
    roots: Vec<FsStorage>,
}

/// Errors building a [`UserDb`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserDbError {
    /// A home (or the anonymous root) is not an accessible directory.
    #[error("{}: {}", home_of(user, path), crate::config::io_reason(error))]
    Home {
        /// The user (`anonymous` for the anonymous root).
        user: String,
        /// The configured path.
        path: std::path::PathBuf,
        /// The cause (part of the message, so not a `source()`).
        error: std::io::Error,
    },
    /// Two users have the same name (e.g. a `--user` and a users file entry).
    #[error("user {0:?} is defined twice")]
    Duplicate(String),
    /// The S3 storage settings are unusable (a missing bucket or key, an invalid prefix).
    #[error("{0}")]
    S3(String),
}

fn home_of(user: &str, path: &std::path::Path) -> String {
    match user {
        "anonymous" => format!("anonymous root {}", path.display()),
        _ => format!("home of user {user:?} {}", path.display()),
    }
}

impl UserDb {
    /// Builds the database, opening each home directory.
    pub fn from_config(config: &Config) -> Result<UserDb, UserDbError> {
        Ok(UserDb {
            current: RwLock::new(Arc::new(Users::from_config(config, None)?)),
        })
    }

    /// Replaces the users and the anonymous root with those of `config`; on an error the
    /// current ones stay. Sessions already logged in keep their account. A user whose limits
    /// and home are unchanged keeps the state of them (quota usage, rate buckets).
    ///
    /// ```
    /// use ftp_server::{auth::UserDb, Config, User};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = UserDb::from_config(&Config::default()).unwrap();
    /// let cfg = Config { users: vec![User::new("bob", "pw", dir.path())], ..Config::default() };
    /// db.reload(&cfg).unwrap();
    /// assert_eq!(db.user_names(), ["bob"]);
    /// ```
    pub fn reload(&self, config: &Config) -> Result<(), UserDbError> {
        let users = self.prepare(config)?;
        self.install(users);
        Ok(())
    }

    /// The first half of [`reload`](Self::reload): checks `config`'s users and opens their
    /// homes without changing anything, so a reload can check everything before it swaps.
    ///
    /// ```
    /// use ftp_server::{auth::UserDb, Config, User};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = UserDb::from_config(&Config::default()).unwrap();
    /// let cfg = Config { users: vec![User::new("bob", "pw", dir.path())], ..Config::default() };
    /// let users = db.prepare(&cfg).unwrap();
    /// assert_eq!(users.len(), 1);
    /// assert!(db.user_names().is_empty()); // nothing changed yet
    /// db.install(users);
    /// assert_eq!(db.user_names(), ["bob"]);
    /// ```
    pub fn prepare(&self, config: &Config) -> Result<PreparedUsers, UserDbError> {
        let previous = self.snapshot();
        Ok(PreparedUsers(Arc::new(Users::from_config(
            config,
            Some(&previous),
        )?)))
    }

    /// The second half of [`reload`](Self::reload): swaps in users made by
    /// [`prepare`](Self::prepare).
    pub fn install(&self, users: PreparedUsers) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = users.0;
    }

    /// The names of the configured users, sorted (anonymous access is not a user).
    pub fn user_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.snapshot().users.keys().cloned().collect();
        names.sort();
        names
    }

    /// The directories served now, each once (what [`crate::storage::fs::Sweeper`] sweeps).
    pub fn roots(&self) -> Vec<FsStorage> {
        self.snapshot().roots.clone()
    }

    fn snapshot(&self) -> Arc<Users> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Opens the users' homes and mount targets on the configured backend: on the local
/// filesystem each served directory once (users sharing a directory share its storage and
/// its sweeping), with the modes each user's rules give new files; under S3 storage each as
/// a key prefix below the server's.
struct Homes<'a> {
    config: &'a Config,
    roots: Vec<FsStorage>,
    /// The S3 client and the server's prefix, under S3 storage.
    s3: Option<(Arc<S3Client>, Prefix)>,
}

impl<'a> Homes<'a> {
    fn new(config: &'a Config) -> Result<Homes<'a>, UserDbError> {
        let s3 = match config.storage.backend {
            Backend::Fs => None,
            Backend::S3 => {
                let settings = &config.storage.s3;
                let client = S3Client::new(settings).map_err(|e| UserDbError::S3(e.to_string()))?;
                let prefix = settings
                    .prefix()
                    .map_err(|e| UserDbError::S3(e.to_string()))?;
                Some((Arc::new(client), prefix))
            }
        };
        Ok(Homes {
            config,
            roots: Vec::new(),
            s3,
        })
    }

    fn open(
        &mut self,
        user: &str,
        path: &std::path::Path,
        rules: &Rules,
    ) -> Result<Arc<dyn Storage>, UserDbError> {
        if let Some((client, base)) = &self.s3 {
            let home = path
                .to_str()
                .and_then(|h| Prefix::new(h).ok())
                .ok_or_else(|| {
                    UserDbError::S3(format!("{}: not a valid key prefix", home_of(user, path)))
                })?;
            let s = S3Storage::new(client.clone(), base.join(&home))
                .rename_dirs(self.config.storage.s3.rename_dirs)
                .max_entries(self.config.max_list_entries);
            return Ok(Arc::new(s));
        }
        let fs = FsStorage::new(path)
            .map_err(|error| UserDbError::Home {
                user: user.to_string(),
                path: path.to_path_buf(),
                error,
            })?
            .fsync_uploads(self.config.fsync_uploads);
        let fs = match self.roots.iter().find(|r| r.root() == fs.root()) {
            Some(same) => same.clone(),
            None => {
                self.roots.push(fs.clone());
                fs
            }
        };
        Ok(Arc::new(fs.with_create_modes(rules.create_modes())))
    }

    /// A user's storage: its home, with its mounts routed inside.
    /// `policy`: the user's limits state and what it was made from.
    fn user(
        &mut self,
        u: &User,
        rules: &Rules,
        policy: (UserPolicy, MadeFrom),
    ) -> Result<Entry, UserDbError> {
        let home = self.open(&u.name, &u.home, rules)?;
        let mut storages = Vec::new();
        let mut permissions = Vec::new();
        for m in &u.mounts {
            storages.push((m.path.clone(), self.open(&u.name, &m.target, rules)?));
            permissions.push((m.path.clone(), m.permissions));
        }
        let storage: Arc<dyn Storage> = match storages.is_empty() {
            true => home,
            false => Arc::new(MountStorage::new(home, Mounts::new(storages))),
        };
        Ok(Entry {
            password: u.password.clone(),
            storage,
            permissions: u.permissions,
            mounts: Arc::new(Mounts::new(permissions)),
            rules: Arc::new(rules.clone()),
            policy: policy.0,
            made_from: policy.1,
        })
    }
}

impl Users {
    /// The users of `config`; those of `previous` with the same limits and home keep their
    /// policy.
    fn from_config(config: &Config, previous: Option<&Users>) -> Result<Users, UserDbError> {
        let mut homes = Homes::new(config)?;
        let mut users = HashMap::new();
        let mut dummy_hash = None;
        for u in &config.users {
            if let PasswordSpec::Argon2(h) = &u.password {
                dummy_hash.get_or_insert_with(|| h.clone());
            }
            let mut rules = u.rules.clone();
            rules.inherit(&config.user_defaults);
            let limits = u
                .limits
                .or(Limits::from_rules(&rules))
                .or(config.default_limits);
            let made_from = (limits, u.home.clone(), config.quota_rescan);
            let policy = match previous.and_then(|p| p.users.get(&u.name)) {
                Some(old) if old.made_from == made_from => old.policy.clone(),
                _ => UserPolicy::new(&limits, config.quota_rescan),
            };
            let entry = homes.user(u, &rules, (policy, made_from))?;
            if users.insert(u.name.clone(), entry).is_some() {
                return Err(UserDbError::Duplicate(u.name.clone()));
            }
        }
        let anonymous = match &config.anonymous {
            Some(root) => {
                // Read-only: no quota, but the default rates.
                let limits = Limits {
                    quota_bytes: None,
                    quota_files: None,
                    ..config.default_limits
                };
                let storage = homes.open("anonymous", root, &Rules::default())?;
                Some((storage, UserPolicy::new(&limits, config.quota_rescan)))
            }
            None => None,
        };
        Ok(Users {
            users,
            anonymous,
            anonymous_rules: Arc::new(config.user_defaults.clone()),
            dummy_hash,
            roots: homes.roots,
        })
    }
}

/// Compares without an early exit on the first differing byte (passwords, the admin token).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Verifies an argon2 PHC string; malformed hashes never match.
fn verify_argon2(hash: &str, password: &[u8]) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(hash) {
        Ok(h) => argon2::Argon2::default()
            .verify_password(password, &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// Checks that `hash` is a password hash [`UserDb`] can verify: an argon2 PHC string (as
/// `ftp-server hash-password` prints) with valid parameters. A hash that fails this check
/// would never match any password, so the users file is refused instead.
///
/// ```
/// use ftp_server::auth::{check_password_hash, hash_password};
/// assert!(check_password_hash(&hash_password(b"pw").unwrap()).is_ok());
/// assert!(check_password_hash("garbage").is_err());
/// assert!(check_password_hash("$2y$10$abcdefghijklmnopqrstuu").unwrap_err().contains("bcrypt"));
/// ```
pub fn check_password_hash(hash: &str) -> Result<(), String> {
    use argon2::password_hash::PasswordHash;
    const NOT_PHC: &str = "password_hash is not an argon2id PHC string";
    const MAKE_ONE: &str = "make one with `ftp-server hash-password`";
    if hash.starts_with("$2") {
        return Err(format!(
            "{NOT_PHC} (bcrypt hashes are not supported; {MAKE_ONE})"
        ));
    }
    if !hash.starts_with("$argon2") {
        return Err(format!(
            "{NOT_PHC} (it does not start with $argon2id$; {MAKE_ONE})"
        ));
    }
    let parsed = PasswordHash::new(hash).map_err(|e| format!("{NOT_PHC} ({e}; {MAKE_ONE})"))?;
    if argon2::Algorithm::try_from(parsed.algorithm).is_err() {
        return Err(format!(
            "{NOT_PHC} (algorithm {}; {MAKE_ONE})",
            parsed.algorithm
        ));
    }
    argon2::Params::try_from(&parsed).map_err(|e| format!("{NOT_PHC} ({e}; {MAKE_ONE})"))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(format!("{NOT_PHC} (no salt or hash; {MAKE_ONE})"));
    }
    Ok(())
}

/// The cost of an argon2id password hash: memory, passes and lanes. The cost is stored in
/// the hash string itself, so each user's login costs what their hash was made with, and
/// verifying never needs this setting. The default is the argon2 crate's (and OWASP's first
/// recommendation): 19 MiB, 2 passes, 1 lane, about 20 ms of one core per login.
///
/// ```
/// use ftp_server::auth::{hash_password_with, HashCost};
/// let cheap = HashCost { memory_kib: 8, iterations: 1, parallelism: 1 };
/// let h = hash_password_with(b"secret", cheap).unwrap();
/// assert!(h.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory per hash, in KiB (at least 8 × `parallelism`).
    pub memory_kib: u32,
    /// Passes over the memory (at least 1).
    pub iterations: u32,
    /// Lanes (at least 1).
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost {
            memory_kib: argon2::Params::DEFAULT_M_COST,
            iterations: argon2::Params::DEFAULT_T_COST,
            parallelism: argon2::Params::DEFAULT_P_COST,
        }
    }
}

/// Hashes a password as an argon2id PHC string at the default [`HashCost`] (what
/// `ftp-server hash-password` prints).
///
/// ```
/// let h = ftp_server::auth::hash_password(b"secret").unwrap();
/// assert!(h.starts_with("$argon2id$"));
/// ```
pub fn hash_password(password: &[u8]) -> Result<String, AuthError> {
    hash_password_with(password, HashCost::default())
}

/// Hashes a password as an argon2id PHC string at the given cost; an out-of-range cost is a
/// [`AuthError::Backend`] error naming the problem.
pub fn hash_password_with(password: &[u8], cost: HashCost) -> Result<String, AuthError> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let params = argon2::Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| AuthError::Backend(format!("argon2 cost: {e}")))?;
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Backend(e.to_string()))
}

impl Authenticator for UserDb {
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a Secret<Vec<u8>>,
    ) -> BoxFuture<'a, Result<Account, AuthError>> {
        Box::pin(async move {
            let db = self.snapshot();
            if ANONYMOUS_NAMES.contains(&user) && !db.users.contains_key(user) {
                return match &db.anonymous {
                    Some((s, policy)) => Ok(Account {
                        rules: db.anonymous_rules.clone(),
                        policy: policy.clone(),
                        ..Account::new("anonymous", s.clone(), Permissions::READ_ONLY)
                    }),
                    None => Err(AuthError::UnknownUser),
                };
            }
            let (spec, entry) = match db.users.get(user) {
                Some(e) => (Some(e.password.clone()), Some(e)),
                None => (db.dummy_hash.clone().map(PasswordSpec::Argon2), None),
            };
            let pw = password.expose().clone();
            let ok = match spec {
                Some(PasswordSpec::Plain(p)) => constant_time_eq(p.expose().as_bytes(), &pw),
                Some(PasswordSpec::Argon2(h)) => {
                    blocking::unblock(move || verify_argon2(&h, &pw)).await
                }
                None => false,
            };
            match entry {
                Some(e) if ok => Ok(Account {
                    name: user.to_string(),
                    storage: e.storage.clone(),
                    permissions: e.permissions,
                    policy: e.policy.clone(),
                    mounts: e.mounts.clone(),
                    rules: e.rules.clone(),
                }),
                Some(_) => Err(AuthError::InvalidCredentials),
                None => Err(AuthError::UnknownUser),
            }
        })
    }

    fn storages(&self) -> Vec<Arc<dyn Storage>> {
        let db = self.snapshot();
        db.roots
            .iter()
            .map(|r| Arc::new(r.clone()) as Arc<dyn Storage>)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::User;
    use futures_lite::future::block_on;

    fn pw(s: &str) -> Secret<Vec<u8>> {
        Secret::new(s.as_bytes().to_vec())
    }

    #[test]
    fn checks_plain_and_argon2_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.users.push(User::new("alice", "secret", dir.path()));
        let mut bob = User::new("bob", "", dir.path());
        bob.password = PasswordSpec::Argon2(hash_password(b"pw").unwrap());
        cfg.users.push(bob);
        let db = UserDb::from_config(&cfg).unwrap();
        assert!(block_on(db.authenticate("alice", &pw("secret"))).is_ok());
        assert!(block_on(db.authenticate("alice", &pw("nope"))).is_err());
        assert!(block_on(db.authenticate("bob", &pw("pw"))).is_ok());
        assert!(block_on(db.authenticate("bob", &pw("px"))).is_err());
        assert!(block_on(db.authenticate("carol", &pw("pw"))).is_err());
        assert!(block_on(db.authenticate("anonymous", &pw("x"))).is_err());
    }

    #[test]
    fn a_cheap_hash_verifies_with_its_own_cost_and_bad_costs_are_refused() {
        let cost = HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let h = hash_password_with(b"pw", cost).unwrap();
        assert!(h.contains("m=64,t=1,p=1"), "{h}");
        assert!(verify_argon2(&h, b"pw"));
        assert!(!verify_argon2(&h, b"px"));
        let zero = HashCost {
            iterations: 0,
            ..cost
        };
        assert!(matches!(
            hash_password_with(b"pw", zero),
            Err(AuthError::Backend(_))
        ));
    }

    #[test]
    fn anonymous_is_read_only_under_the_server_wide_default_rules() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            anonymous: Some(dir.path().to_path_buf()),
            ..Config::default()
        };
        let db = UserDb::from_config(&cfg).unwrap();
        let a = block_on(db.authenticate("ftp", &pw("me@example.com"))).unwrap();
        assert_eq!(a.permissions, Permissions::READ_ONLY);
        assert_eq!(*a.rules, Rules::default());
        let defaults = Rules {
            max_sessions: std::num::NonZeroUsize::new(3),
            ..Rules::default()
        };
        db.reload(&Config {
            user_defaults: defaults.clone(),
            ..cfg
        })
        .unwrap();
        let a = block_on(db.authenticate("anonymous", &pw("x"))).unwrap();
        assert_eq!(
            *a.rules, defaults,
            "[user_defaults] apply to anonymous logins"
        );
    }

    #[test]
    fn reload_swaps_the_users_and_a_failed_reload_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let with = |users: Vec<User>| Config {
            users,
            ..Config::default()
        };
        let db = UserDb::from_config(&with(vec![User::new("alice", "a", dir.path())])).unwrap();
        db.reload(&with(vec![User::new("bob", "b", dir.path())]))
            .unwrap();
        assert!(block_on(db.authenticate("alice", &pw("a"))).is_err());
        assert!(block_on(db.authenticate("bob", &pw("b"))).is_ok());
        let missing = dir.path().join("missing");
        let e = db
            .reload(&with(vec![User::new("carol", "c", &missing)]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "home of user \"carol\" {}: no such file or directory",
                missing.display()
            )
        );
        assert!(block_on(db.authenticate("bob", &pw("b"))).is_ok());
    }

    #[test]
    fn a_reload_keeps_the_limits_state_of_users_whose_limits_stay() {
        let dir = tempfile::tempdir().unwrap();
        let limited = |quota: u64| User {
            limits: Limits {
                quota_bytes: Some(quota),
                ..Limits::default()
            },
            ..User::new("alice", "a", dir.path())
        };
        let cfg = |u: User| Config {
            users: vec![u],
            ..Config::default()
        };
        let quota = |db: &UserDb| {
            let a = block_on(db.authenticate("alice", &pw("a"))).unwrap();
            a.policy.quota.unwrap()
        };
        let db = UserDb::from_config(&cfg(limited(100))).unwrap();
        let before = quota(&db);
        db.reload(&cfg(limited(100))).unwrap();
        assert!(Arc::ptr_eq(&before, &quota(&db)));
        db.reload(&cfg(limited(200))).unwrap();
        assert_eq!(quota(&db).bytes_limit(), Some(200));
    }

    #[test]
    fn a_user_defined_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.users.push(User::new("alice", "a", dir.path()));
        cfg.users.push(User::new("alice", "b", dir.path()));
        let e = UserDb::from_config(&cfg).unwrap_err();
        assert_eq!(e.to_string(), "user \"alice\" is defined twice");
    }
}
