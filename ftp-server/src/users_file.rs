//! Where the users file is: a path on a disk, or, with S3 storage, an object in the bucket
//! (`users_file = "s3:etc/users.toml"`), so that every node of a cluster reads the same users
//! without a shared disk. [`load`] reads either; [`Watched`] tells when one changed (a file's
//! bytes, an object's `ETag`) for [`crate::reload::watch_files`].
//!
//! An object lies outside the prefix the server serves: inside it, FTP users could read the
//! password hashes or replace the file and give themselves any rights.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{load_users_file_for, parse_users, Backend, ConfigError, StorageConfig};
use crate::storage::s3::{S3Client, S3Settings};
use crate::User;

/// The object key of a users file named `s3:KEY` (a leading `/` of the key is dropped), or
/// `None` for a file path.
///
/// ```
/// use std::path::Path;
/// use ftp_server::users_file::object_key;
/// assert_eq!(object_key(Path::new("s3:etc/users.toml")), Some("etc/users.toml"));
/// assert_eq!(object_key(Path::new("s3:/etc/users.toml")), Some("etc/users.toml"));
/// assert_eq!(object_key(Path::new("/etc/ftp/users.toml")), None);
/// ```
pub fn object_key(path: &Path) -> Option<&str> {
    Some(path.to_str()?.strip_prefix("s3:")?.trim_start_matches('/'))
}

/// Reads the users of the users file `path`: a file ([`load_users_file_for`]), or the object
/// `s3:KEY` in the bucket of `storage` (which must be S3 storage, the key outside its prefix).
/// Blocks (an object is read with `async_io::block_on`): call it off the executor.
///
/// ```
/// use std::path::Path;
/// use ftp_server::config::StorageConfig;
/// let fs = StorageConfig::default();
/// let e = ftp_server::users_file::load(Path::new("s3:etc/users.toml"), &fs).unwrap_err();
/// assert_eq!(e.to_string(), "users file s3:etc/users.toml: needs S3 storage (--storage s3)");
/// ```
pub fn load(path: &Path, storage: &StorageConfig) -> Result<Vec<User>, ConfigError> {
    let Some(key) = object_key(path) else {
        return load_users_file_for(path, storage.backend);
    };
    let err = |reason: String| ConfigError::Object {
        key: key.to_string(),
        reason,
    };
    let client = object_client(key, storage).map_err(err)?;
    let bytes = async_io::block_on(client.get_small(key))
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no such object in the bucket".into()))?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| err("not UTF-8 text".into()))?;
    let name = PathBuf::from(format!("s3:{key}"));
    parse_users(&name, text, storage.backend)
}

/// A client for the bucket holding the users object `key`, once the key is known to be a
/// safe place for one.
fn object_client(key: &str, storage: &StorageConfig) -> Result<S3Client, String> {
    if storage.backend != Backend::S3 {
        return Err("needs S3 storage (--storage s3)".into());
    }
    check_key(key, &storage.s3)?;
    S3Client::new(&storage.s3).map_err(|e| e.to_string())
}

/// A users object needs a name, outside the served prefix.
fn check_key(key: &str, s3: &S3Settings) -> Result<(), String> {
    if key.is_empty() || key.ends_with('/') {
        return Err("names no object (expected s3:KEY, such as s3:etc/users.toml)".into());
    }
    let prefix = s3.prefix().map_err(|e| e.to_string())?;
    if key.starts_with(prefix.as_str()) {
        return Err(format!(
            "lies inside the served prefix {:?}, where FTP users could read or replace it; \
             keep it outside (set [storage] prefix, such as \"files/\")",
            prefix.as_str()
        ));
    }
    Ok(())
}

/// The users and config files a server polls, and what each held when last looked at.
pub(crate) struct Watched {
    files: Arc<Vec<PathBuf>>,
    /// For objects (`s3:KEY`); `None` when the storage is not a usable S3 bucket.
    client: Option<S3Client>,
}

/// What one watched file holds: a hash of its bytes or of the object's `ETag` (`None`:
/// missing or unreadable).
pub(crate) type Fingerprint = Option<u64>;

impl Watched {
    pub(crate) fn new(files: Vec<PathBuf>, storage: &StorageConfig) -> Watched {
        let objects = files.iter().any(|f| object_key(f).is_some());
        let client = (objects && storage.backend == Backend::S3)
            .then(|| S3Client::new(&storage.s3).ok())
            .flatten();
        Watched {
            files: Arc::new(files),
            client,
        }
    }

    /// Each file's fingerprint now. An object whose `HEAD` failed for another reason than
    /// its absence (the gateway unreachable) keeps its entry of `last`: no change seen.
    pub(crate) async fn look(&self, last: &[Fingerprint]) -> Vec<Fingerprint> {
        let files = self.files.clone();
        let mut now: Vec<Fingerprint> =
            blocking::unblock(move || files.iter().map(|f| file_hash(f)).collect()).await;
        for (i, f) in self.files.iter().enumerate() {
            let Some(key) = object_key(f) else { continue };
            now[i] = match &self.client {
                None => None,
                Some(c) => match c.head(key).await {
                    Ok(head) => head.and_then(|h| h.etag).map(|e| hash(e.as_bytes())),
                    Err(_) => last.get(i).copied().flatten(),
                },
            };
        }
        now
    }
}

/// The hash of a file's bytes; `None` for an object or an unreadable file.
fn file_hash(f: &Path) -> Fingerprint {
    if object_key(f).is_some() {
        return None;
    }
    std::fs::read(f).ok().map(|b| hash(&b))
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(prefix: &str) -> S3Settings {
        S3Settings {
            prefix: prefix.into(),
            ..S3Settings::default()
        }
    }

    #[test]
    fn a_users_object_must_lie_outside_the_served_prefix() {
        assert_eq!(check_key("etc/users.toml", &s3("files")), Ok(()));
        assert_eq!(check_key("filesx/users.toml", &s3("files/")), Ok(()));
        let inside = check_key("files/users.toml", &s3("/files/")).unwrap_err();
        assert!(
            inside.starts_with("lies inside the served prefix \"files/\""),
            "{inside}"
        );
        // The whole bucket served: nowhere is outside.
        assert!(check_key("users.toml", &s3("")).is_err());
        assert!(check_key("etc/", &s3("files"))
            .unwrap_err()
            .starts_with("names no object"));
        assert!(check_key("", &s3("files")).is_err());
    }
}
