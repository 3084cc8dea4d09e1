//! Storage in an S3 bucket (AWS, or an S3-compatible engine such as Ceph RGW).
//!
//! Each user sees the objects under a key prefix (the server's `prefix`, then the user's
//! `home`); [`object_key`] is the one function that turns a [`VPath`] into a key. Directories
//! are key prefixes: one exists while an object lies under it, or its zero-byte marker
//! (`dir/`, made by `MKD`) does; markers are never listed as entries. The FTP semantics on
//! top of S3 are in the README's "S3 storage" section; the S3 side is in `client` (signed
//! requests, retries), `requests` (one method per S3 operation), `http` (the connection
//! pool) and `upload` (streaming multipart uploads).

mod client;
mod http;
mod key;
mod requests;
mod tls;
mod upload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use ftp_proto::Secret;
use futures_lite::io::Cursor;

pub use client::{S3Client, S3ConfigError};
pub use key::{dir_prefix, object_key, Prefix, PrefixError, MAX_KEY_LEN};

use super::{
    BoxFuture, DirEntry, EntryFormatter, FileKind, Metadata, ReadStream, Sha256, Storage,
    StorageError, Upload, WriteMode,
};
use crate::vpath::VPath;
use client::{ObjectHead, MAX_COPY};
use upload::S3Upload;

/// [`S3Settings::request_timeout`] unless set: longer than any answer of a working engine,
/// short enough that a hung one turns into `451` within about a minute and a half (five
/// attempts).
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Keys per listing page (S3's most).
const PAGE: usize = 1000;

/// The S3 settings (`--s3-*` flags, the config file's `[storage]` table, the `AWS_*`
/// environment variables).
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The endpoint URL (`http://127.0.0.1:7480`); `None` means AWS in `region`.
    pub endpoint: Option<String>,
    /// The bucket.
    pub bucket: Option<String>,
    /// The region (signing needs one; most other engines accept any).
    pub region: String,
    /// The key prefix every user's home lies under.
    pub prefix: String,
    /// The access key ID.
    pub access_key_id: Option<String>,
    /// The secret access key (from `AWS_SECRET_ACCESS_KEY`), never shown.
    pub secret_access_key: Option<Secret<String>>,
    /// A file holding the secret access key (read when the storage is opened).
    pub secret_access_key_file: Option<PathBuf>,
    /// CA certificates (PEM) for an HTTPS endpoint, instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Rename non-empty directories by copying and deleting every object under them
    /// (otherwise `RNFR`/`RNTO` of a non-empty directory answers `550`).
    pub rename_dirs: bool,
    /// How long one request may wait for the engine's answer, plus a second per MB of its
    /// body, before it is sent again (idempotent requests) or fails.
    pub request_timeout: std::time::Duration,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            endpoint: None,
            bucket: None,
            region: "us-east-1".to_string(),
            prefix: String::new(),
            access_key_id: None,
            secret_access_key: None,
            secret_access_key_file: None,
            ca_file: None,
            rename_dirs: false,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("secret_access_key_file", &self.secret_access_key_file)
            .field("ca_file", &self.ca_file)
            .field("rename_dirs", &self.rename_dirs)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl S3Settings {
    /// The access key ID and the secret (from the setting, else `secret_access_key_file`).
    fn credentials(&self) -> Result<(String, Secret<String>), S3ConfigError> {
        let key = self.access_key_id.clone().ok_or(S3ConfigError::Missing(
            "an access key ID (AWS_ACCESS_KEY_ID, [storage] access_key_id)",
        ))?;
        if let Some(s) = &self.secret_access_key {
            return Ok((key, s.clone()));
        }
        let Some(path) = &self.secret_access_key_file else {
            return Err(S3ConfigError::Missing(
                "a secret access key (AWS_SECRET_ACCESS_KEY, [storage] secret_access_key_file)",
            ));
        };
        let text = std::fs::read_to_string(path).map_err(|error| S3ConfigError::Read {
            what: "secret_access_key_file",
            path: path.clone(),
            error,
        })?;
        Ok((key, Secret::new(text.trim().to_string())))
    }

    /// The server-wide prefix, checked.
    pub fn prefix(&self) -> Result<Prefix, PrefixError> {
        Prefix::new(&self.prefix)
    }
}

/// A user's view of a bucket: the objects under one key prefix.
///
/// ```no_run
/// use std::sync::Arc;
/// use ftp_server::storage::s3::{Prefix, S3Client, S3Settings, S3Storage};
/// let settings = S3Settings {
///     endpoint: Some("http://127.0.0.1:7480".into()),
///     bucket: Some("ftp".into()),
///     access_key_id: Some("key".into()),
///     secret_access_key: Some(ftp_proto::Secret::new("secret".into())),
///     ..S3Settings::default()
/// };
/// let client = Arc::new(S3Client::new(&settings).unwrap());
/// let alice = S3Storage::new(client, Prefix::new("alice/").unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct S3Storage {
    client: Arc<S3Client>,
    prefix: Prefix,
    rename_dirs: bool,
    max_entries: usize,
}

impl S3Storage {
    /// The objects under `prefix` in the client's bucket.
    pub fn new(client: Arc<S3Client>, prefix: Prefix) -> S3Storage {
        S3Storage {
            client,
            prefix,
            rename_dirs: false,
            max_entries: crate::Config::default().max_list_entries,
        }
    }

    /// Whether non-empty directories may be renamed (by copying every object).
    pub fn rename_dirs(mut self, on: bool) -> S3Storage {
        self.rename_dirs = on;
        self
    }

    /// The most entries [`Storage::list`] and a directory rename handle.
    pub fn max_entries(mut self, n: usize) -> S3Storage {
        self.max_entries = n;
        self
    }

    /// The storage's key prefix.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    fn key(&self, path: &VPath) -> Result<String, StorageError> {
        object_key(&self.prefix, path)
    }

    fn dir(&self, path: &VPath) -> Result<String, StorageError> {
        dir_prefix(&self.prefix, path)
    }

    /// True if the directory exists: the root always, others while anything (their marker
    /// included) lies under their prefix.
    async fn dir_exists(&self, path: &VPath) -> Result<bool, StorageError> {
        if path.is_root() {
            return Ok(true);
        }
        let page = self
            .client
            .list_page(&self.dir(path)?, false, None, 1)
            .await?;
        Ok(!page.contents.is_empty() || !page.common_prefixes.is_empty())
    }

    /// The object at `path`, if it is a file.
    async fn head(&self, path: &VPath) -> Result<Option<ObjectHead>, StorageError> {
        if path.is_root() {
            return Ok(None);
        }
        self.client.head(&self.key(path)?).await
    }

    /// What is at `path`, when it is not a file: a directory, or nothing.
    async fn not_a_file(&self, path: &VPath) -> StorageError {
        match self.dir_exists(path).await {
            Ok(true) => StorageError::IsADirectory,
            Ok(false) => StorageError::NotFound,
            Err(e) => e,
        }
    }

    async fn stat(&self, path: &VPath) -> Result<Metadata, StorageError> {
        if let Some(h) = self.head(path).await? {
            return Ok(file_metadata(h.len, h.modified));
        }
        match self.dir_exists(path).await? {
            true => Ok(dir_metadata()),
            false => Err(StorageError::NotFound),
        }
    }

    /// The entries of a directory, at most `max` (more: [`StorageError::TooManyEntries`]).
    async fn entries(&self, path: &VPath, max: usize) -> Result<Vec<DirEntry>, StorageError> {
        let prefix = self.dir(path)?;
        let (mut out, mut any, mut token) = (Vec::new(), false, None::<String>);
        loop {
            let page = self
                .client
                .list_page(&prefix, true, token.as_deref(), PAGE)
                .await?;
            any |= !page.contents.is_empty() || !page.common_prefixes.is_empty();
            for c in &page.contents {
                let name = &c.key[prefix.len().min(c.key.len())..];
                if !name.is_empty() && !name.contains('/') {
                    let modified = c
                        .last_modified
                        .as_deref()
                        .and_then(requests::parse_iso_date);
                    out.push(entry(name, file_metadata(c.size.unwrap_or(0), modified)));
                }
            }
            for p in &page.common_prefixes {
                let name = p.prefix[prefix.len().min(p.prefix.len())..].trim_end_matches('/');
                if !name.is_empty() && !name.contains('/') {
                    out.push(entry(name, dir_metadata()));
                }
            }
            if out.len() > max {
                return Err(StorageError::TooManyEntries { limit: max });
            }
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        if !any && !path.is_root() {
            return Err(match self.head(path).await? {
                Some(_) => StorageError::NotADirectory,
                None => StorageError::NotFound,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn read(&self, path: &VPath, offset: u64) -> Result<ReadStream, StorageError> {
        if path.is_root() {
            return Err(StorageError::IsADirectory);
        }
        match self.client.get(&self.key(path)?, offset).await {
            Ok(Some(body)) => Ok(Box::pin(body)),
            Ok(None) => Ok(Box::pin(Cursor::new(Vec::new()))),
            Err(StorageError::NotFound) => Err(self.not_a_file(path).await),
            Err(e) => Err(e),
        }
    }

    async fn write(&self, path: &VPath, mode: WriteMode) -> Result<Box<dyn Upload>, StorageError> {
        if path.is_root() {
            return Err(StorageError::IsADirectory);
        }
        let key = self.key(path).map_err(StorageError::creating)?;
        if !self.dir_exists(&path.parent()).await? {
            return Err(StorageError::NotFound);
        }
        if self.dir_exists(path).await? {
            return Err(StorageError::IsADirectory);
        }
        let existing = match mode {
            WriteMode::Replace => None,
            _ => self.client.head(&key).await?,
        };
        let keep = match (mode, &existing) {
            (WriteMode::CreateNew, Some(_)) => return Err(StorageError::AlreadyExists),
            (WriteMode::Append, Some(h)) => h.len,
            (WriteMode::At(n), Some(h)) => n.min(h.len),
            (WriteMode::At(n), None) if n > 0 => return Err(StorageError::NotFound),
            _ => 0,
        };
        let create_new = mode == WriteMode::CreateNew;
        let up = S3Upload::start(self.client.clone(), key, create_new, keep).await?;
        Ok(Box::new(up))
    }

    async fn make_dir(&self, path: &VPath) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(StorageError::AlreadyExists);
        }
        let marker = self.dir(path).map_err(StorageError::creating)?;
        if !self.dir_exists(&path.parent()).await? {
            return Err(StorageError::NotFound);
        }
        if self.head(path).await?.is_some() || self.dir_exists(path).await? {
            return Err(StorageError::AlreadyExists);
        }
        self.client
            .put(&marker, bytes::Bytes::new(), false, None)
            .await
    }

    /// Removes a directory whose prefix holds nothing but its marker (one page proves it).
    async fn remove_dir(&self, path: &VPath) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(StorageError::PermissionDenied);
        }
        let marker = self.dir(path)?;
        let page = self.client.list_page(&marker, false, None, 2).await?;
        if page.contents.is_empty() {
            return Err(match self.head(path).await? {
                Some(_) => StorageError::NotADirectory,
                None => StorageError::NotFound,
            });
        }
        if page.contents.iter().any(|c| c.key != marker) {
            return Err(StorageError::DirectoryNotEmpty);
        }
        self.client.delete(&marker).await
    }

    async fn remove_file(&self, path: &VPath) -> Result<(), StorageError> {
        match self.head(path).await? {
            Some(_) => self.client.delete(&self.key(path)?).await,
            None => Err(self.not_a_file(path).await),
        }
    }

    /// A server-side copy of `len` bytes: `CopyObject`, or a multipart copy above 5 GiB.
    async fn copy_object(&self, from: &str, to: &str, len: u64) -> Result<(), StorageError> {
        if len <= MAX_COPY {
            return self.client.copy(from, to, None).await;
        }
        let id = self.client.create_upload(to).await?;
        let chunk = len.div_ceil(len.div_ceil(MAX_COPY));
        let (mut etags, mut start) = (Vec::new(), 0);
        while start < len {
            let end = (start + chunk).min(len);
            let n = u16::try_from(etags.len() + 1).unwrap_or(u16::MAX);
            match self
                .client
                .upload_part_copy(to, &id, n, from, (start, end - 1))
                .await
            {
                Ok(etag) => etags.push(etag),
                Err(e) => {
                    let _ = self.client.abort_upload(to, &id).await;
                    return Err(e);
                }
            }
            start = end;
        }
        let r = self.client.complete_upload(to, &id, &etags, false).await;
        if r.is_err() {
            let _ = self.client.abort_upload(to, &id).await;
        }
        r
    }

    async fn rename_any(&self, from: &VPath, to: &VPath) -> Result<(), StorageError> {
        if from.is_root() || to.is_root() {
            return Err(StorageError::PermissionDenied);
        }
        let (from_key, to_key) = (
            self.key(from)?,
            self.key(to).map_err(StorageError::creating)?,
        );
        if !self.dir_exists(&to.parent()).await? {
            return Err(StorageError::NotFound);
        }
        match self.head(from).await? {
            Some(h) => {
                if self.dir_exists(to).await? {
                    return Err(StorageError::IsADirectory);
                }
                self.copy_object(&from_key, &to_key, h.len).await?;
                self.client.delete(&from_key).await
            }
            None if self.dir_exists(from).await? => self.rename_dir(from, to).await,
            None => Err(StorageError::NotFound),
        }
    }

    /// Renames a directory: its marker alone, or (with `rename_dirs`) every object under
    /// it, copied first, then deleted.
    async fn rename_dir(&self, from: &VPath, to: &VPath) -> Result<(), StorageError> {
        if self.head(to).await?.is_some() || self.dir_exists(to).await? {
            return Err(StorageError::AlreadyExists);
        }
        let (fp, tp) = (
            self.dir(from)?,
            self.dir(to).map_err(StorageError::creating)?,
        );
        let keys = self.all_keys(&fp).await?;
        if keys.iter().any(|(k, _)| *k != fp) && !self.rename_dirs {
            return Err(StorageError::PermissionDenied);
        }
        for (k, len) in &keys {
            let target = format!("{tp}{}", &k[fp.len()..]);
            if target.len() >= MAX_KEY_LEN {
                return Err(StorageError::NameTooLong { creating: true });
            }
            self.copy_object(k, &target, *len).await?;
        }
        for (k, _) in &keys {
            self.client.delete(k).await?;
        }
        Ok(())
    }

    /// Every key under `prefix` with its size, at most [`S3Storage::max_entries`].
    async fn all_keys(&self, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        let (mut keys, mut token) = (Vec::new(), None::<String>);
        loop {
            let page = self
                .client
                .list_page(prefix, false, token.as_deref(), PAGE)
                .await?;
            keys.extend(
                page.contents
                    .into_iter()
                    .map(|c| (c.key, c.size.unwrap_or(0))),
            );
            if keys.len() > self.max_entries {
                return Err(StorageError::TooManyEntries {
                    limit: self.max_entries,
                });
            }
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => return Ok(keys),
            }
        }
    }

    /// `SITE CPFR`/`CPTO`: a server-side copy (`CopyObject`, or a multipart copy above 5 GiB);
    /// the new object appears whole or not at all, with the source's digest tag.
    async fn copy_file(&self, from: &VPath, to: &VPath) -> Result<u64, StorageError> {
        if to.is_root() {
            return Err(StorageError::IsADirectory);
        }
        let to_key = self.key(to).map_err(StorageError::creating)?;
        let Some(h) = self.head(from).await? else {
            return Err(self.not_a_file(from).await);
        };
        if !self.dir_exists(&to.parent()).await? {
            return Err(StorageError::NotFound);
        }
        if self.dir_exists(to).await? {
            return Err(StorageError::IsADirectory);
        }
        self.copy_object(&self.key(from)?, &to_key, h.len).await?;
        Ok(h.len)
    }

    /// Tags the object at `path` with `digest` if it still is what `seen` describes.
    async fn keep_sha256(
        &self,
        path: &VPath,
        digest: Sha256,
        seen: &Metadata,
    ) -> Result<(), StorageError> {
        match self.head(path).await? {
            Some(h) if file_metadata(h.len, h.modified) == *seen => {
                if let Err(e) = self.client.tag_sha256(&self.key(path)?, &digest).await {
                    log::debug!("S3 {path}: digest not kept ({e})");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `MFMT`: the object copied onto itself with `x-amz-meta-mtime` replaced.
    async fn touch(&self, path: &VPath, time: SystemTime) -> Result<(), StorageError> {
        match self.head(path).await? {
            Some(h) if h.len <= MAX_COPY => {
                let key = self.key(path)?;
                self.client.copy(&key, &key, Some(time)).await
            }
            Some(_) => Err(StorageError::Other(std::io::Error::other(
                "objects over 5 GiB keep their time on S3",
            ))),
            None => match self.not_a_file(path).await {
                StorageError::IsADirectory => Err(StorageError::PermissionDenied),
                e => Err(e),
            },
        }
    }
}

fn entry(name: &str, metadata: Metadata) -> DirEntry {
    DirEntry {
        name: name.as_bytes().to_vec(),
        metadata,
    }
}

fn file_metadata(len: u64, modified: Option<SystemTime>) -> Metadata {
    Metadata {
        kind: FileKind::File,
        len,
        modified,
        mode: None,
        unique: None,
    }
}

fn dir_metadata() -> Metadata {
    Metadata {
        kind: FileKind::Dir,
        len: 0,
        modified: None,
        mode: None,
        unique: None,
    }
}

impl Storage for S3Storage {
    fn metadata<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Metadata, StorageError>> {
        Box::pin(self.stat(path))
    }

    fn list<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Vec<DirEntry>, StorageError>> {
        Box::pin(self.entries(path, self.max_entries))
    }

    fn list_formatted<'a>(
        &'a self,
        path: &'a VPath,
        format: EntryFormatter,
        max_entries: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for e in self.entries(path, max_entries).await? {
                format(&e, &mut out);
            }
            Ok(out)
        })
    }

    fn open_read<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<ReadStream, StorageError>> {
        Box::pin(self.read(path, offset))
    }

    fn open_write<'a>(
        &'a self,
        path: &'a VPath,
        mode: WriteMode,
    ) -> BoxFuture<'a, Result<Box<dyn Upload>, StorageError>> {
        Box::pin(self.write(path, mode))
    }

    fn mkdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.make_dir(path))
    }

    fn rmdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.remove_dir(path))
    }

    fn remove<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.remove_file(path))
    }

    fn rename<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.rename_any(from, to))
    }

    fn set_mtime<'a>(
        &'a self,
        path: &'a VPath,
        time: SystemTime,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.touch(path, time))
    }

    fn copy<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(self.copy_file(from, to))
    }

    fn stored_sha256<'a>(
        &'a self,
        path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<Sha256>, StorageError>> {
        Box::pin(async move {
            match path.is_root() {
                true => Ok(None),
                false => self.client.sha256_tag(&self.key(path)?).await,
            }
        })
    }

    fn store_sha256<'a>(
        &'a self,
        path: &'a VPath,
        digest: Sha256,
        seen: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.keep_sha256(path, digest, seen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_never_shown() {
        let settings = S3Settings {
            endpoint: Some("http://127.0.0.1:1".into()),
            bucket: Some("b".into()),
            access_key_id: Some("KEYID".into()),
            secret_access_key: Some(Secret::new("hunter2-secret".into())),
            ..S3Settings::default()
        };
        let client = S3Client::new(&settings).unwrap();
        let storage = S3Storage::new(Arc::new(client), Prefix::default());
        let config = crate::Config {
            storage: crate::config::StorageConfig {
                backend: crate::config::Backend::S3,
                s3: settings.clone(),
            },
            ..crate::Config::default()
        };
        for shown in [
            format!("{settings:?}"),
            format!("{storage:?}"),
            format!("{config:?}"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(
                shown.contains("KEYID") || shown.contains("S3Client"),
                "{shown}"
            );
        }
    }

    #[test]
    fn path_style_for_custom_endpoints_and_virtual_hosts_for_aws() {
        let with = |endpoint: Option<&str>| {
            let s = S3Settings {
                endpoint: endpoint.map(str::to_string),
                bucket: Some("b".into()),
                region: "eu-west-1".into(),
                access_key_id: Some("k".into()),
                secret_access_key: Some(Secret::new("s".into())),
                ..S3Settings::default()
            };
            S3Client::new(&s)
                .unwrap()
                .bucket
                .object_url("k")
                .to_string()
        };
        assert_eq!(
            with(Some("http://127.0.0.1:7480")),
            "http://127.0.0.1:7480/b/k"
        );
        assert_eq!(with(None), "https://b.s3.eu-west-1.amazonaws.com/k");
    }

    #[test]
    fn missing_settings_are_named() {
        let e = S3Client::new(&S3Settings::default()).unwrap_err();
        assert!(e.to_string().contains("bucket"), "{e}");
        let no_key = S3Settings {
            bucket: Some("b".into()),
            ..S3Settings::default()
        };
        let e = S3Client::new(&no_key).unwrap_err().to_string();
        assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
        let bad = S3Settings {
            endpoint: Some("ftp://x".into()),
            ..no_key
        };
        assert!(S3Client::new(&bad).is_err());
    }
}
