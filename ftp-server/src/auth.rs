//! Authentication: the [`Authenticator`] trait and the built-in [`UserDb`] (configured users
//! with plain or argon2 passwords, plus optional anonymous access).

use std::collections::HashMap;
use std::sync::Arc;

use ftp_proto::Secret;

use crate::config::{Config, PasswordSpec, Permissions};
use crate::storage::{BoxFuture, FsStorage, Storage};

/// A logged-in user: who, what they see, what they may do.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user name (for logs).
    pub name: String,
    /// The user's storage; its root is the user's `/`.
    pub storage: Arc<dyn Storage>,
    /// What the user may do.
    pub permissions: Permissions,
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Unknown user or wrong password (deliberately not told apart).
    #[error("invalid user name or password")]
    InvalidCredentials,
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
}

/// User names that mean anonymous login.
pub const ANONYMOUS_NAMES: [&str; 2] = ["anonymous", "ftp"];

#[derive(Debug)]
struct Entry {
    password: PasswordSpec,
    storage: Arc<dyn Storage>,
    permissions: Permissions,
}

/// The built-in authenticator over [`Config::users`] and [`Config::anonymous`].
#[derive(Debug)]
pub struct UserDb {
    users: HashMap<String, Entry>,
    anonymous: Option<Arc<dyn Storage>>,
    /// A hash verified for unknown users so both cases cost the same.
    dummy_hash: Option<String>,
}

/// Errors building a [`UserDb`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserDbError {
    /// A home (or the anonymous root) is not an accessible directory.
    #[error("home of {user}: {path}: {source}")]
    Home {
        /// The user (`anonymous` for the anonymous root).
        user: String,
        /// The configured path.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl UserDb {
    /// Builds the database, opening each home directory.
    pub fn from_config(config: &Config) -> Result<UserDb, UserDbError> {
        let open = |user: &str, path: &std::path::Path| {
            FsStorage::new(path).map_err(|source| UserDbError::Home {
                user: user.to_string(),
                path: path.to_path_buf(),
                source,
            })
        };
        let mut users = HashMap::new();
        let mut dummy_hash = None;
        for u in &config.users {
            if let PasswordSpec::Argon2(h) = &u.password {
                dummy_hash.get_or_insert_with(|| h.clone());
            }
            users.insert(
                u.name.clone(),
                Entry {
                    password: u.password.clone(),
                    storage: Arc::new(open(&u.name, &u.home)?),
                    permissions: u.permissions,
                },
            );
        }
        let anonymous = match &config.anonymous {
            Some(root) => Some(Arc::new(open("anonymous", root)?) as Arc<dyn Storage>),
            None => None,
        };
        Ok(UserDb {
            users,
            anonymous,
            dummy_hash,
        })
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
            if ANONYMOUS_NAMES.contains(&user) && !self.users.contains_key(user) {
                return match &self.anonymous {
                    Some(s) => Ok(Account {
                        name: "anonymous".to_string(),
                        storage: s.clone(),
                        permissions: Permissions::READ_ONLY,
                    }),
                    None => Err(AuthError::InvalidCredentials),
                };
            }
            let (spec, entry) = match self.users.get(user) {
                Some(e) => (Some(e.password.clone()), Some(e)),
                None => (self.dummy_hash.clone().map(PasswordSpec::Argon2), None),
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
                }),
                _ => Err(AuthError::InvalidCredentials),
            }
        })
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
    fn anonymous_is_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            anonymous: Some(dir.path().to_path_buf()),
            ..Config::default()
        };
        let db = UserDb::from_config(&cfg).unwrap();
        let a = block_on(db.authenticate("ftp", &pw("me@example.com"))).unwrap();
        assert_eq!(a.permissions, Permissions::READ_ONLY);
    }
}
