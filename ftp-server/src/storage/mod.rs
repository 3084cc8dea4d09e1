//! The storage backend trait. The local filesystem ([`fs::FsStorage`]) is the first
//! implementation; anything that can list, read and write by [`VPath`] can be another (an
//! object store, an in-memory tree for fuzzing), without touching session code.

pub mod fs;
pub mod memory;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use futures_lite::io::{AsyncRead, AsyncWrite};

use crate::vpath::VPath;

pub use fs::FsStorage;
pub use memory::MemStorage;

/// A boxed, `Send` future (the trait methods return these so the trait is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Writes one directory entry's line of a listing into a buffer (or nothing, to leave the
/// entry out); see [`Storage::list_formatted`]. Shared by the threads that format a listing.
pub type EntryFormatter = Arc<dyn Fn(&DirEntry, &mut Vec<u8>) + Send + Sync>;

/// A file's contents being read.
pub type ReadStream = Pin<Box<dyn AsyncRead + Send>>;

/// A file being written. Dropping it without [`Upload::commit`] discards what was written
/// when the write mode was [`WriteMode::Replace`] or [`WriteMode::CreateNew`] (no truncated
/// file ever replaces a complete one); appends and offset writes keep what reached storage.
pub trait Upload: AsyncWrite + Send + Unpin {
    /// Makes the data visible under its final name. Call after the last write.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>>;

    /// The local OS file the upload writes to, positioned where the next byte goes, when the
    /// backend keeps files on the local filesystem and nothing has been written through
    /// [`AsyncWrite`] yet. The server then moves plain binary uploads from the socket into it
    /// with `splice(2)` (no copy through user space) and calls [`Upload::commit`] as usual.
    /// Backends without local files keep the default, `None`, and are written through
    /// [`AsyncWrite`].
    fn local_file(&mut self) -> Option<&std::fs::File> {
        None
    }
}

/// How [`Storage::open_write`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Write a new version, replacing any existing file atomically on commit.
    Replace,
    /// Create a file that must not exist yet (for `STOU`); atomic on commit.
    CreateNew,
    /// Append to the file, creating it if missing.
    Append,
    /// Write in place from this byte offset (resume), truncating what follows.
    At(u64),
}

/// The kind of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Something else (device, socket, ...).
    Other,
}

/// What a listing shows about an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// File, directory or other.
    pub kind: FileKind,
    /// Size in bytes.
    pub len: u64,
    /// Last modification time.
    pub modified: Option<SystemTime>,
    /// Unix permission bits (`0o755`), if the backend has them.
    pub mode: Option<u32>,
    /// A unique identifier (RFC 3659 `unique` fact), if the backend has one.
    pub unique: Option<FileId>,
}

/// What identifies a file for the RFC 3659 `unique` fact: on local filesystems its device
/// and inode numbers. Kept as numbers (a listing of thousands of entries needs no string for
/// each) and shown as `{dev:x}g{ino:x}`.
///
/// ```
/// use ftp_server::storage::FileId;
/// assert_eq!(FileId { dev: 0x803, ino: 12 }.to_string(), "803gc");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// Device number (or any number naming the volume).
    pub dev: u64,
    /// Inode number (or any number naming the file on that volume).
    pub ino: u64,
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}g{:x}", self.dev, self.ino)
    }
}

impl Metadata {
    /// True for directories.
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Dir
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name (one path component, raw bytes).
    pub name: Vec<u8>,
    /// Its metadata.
    pub metadata: Metadata,
}

/// Why a storage operation failed. Messages never contain real (host) paths.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// No such file or directory (also: a path that would leave the root).
    #[error("no such file or directory")]
    NotFound,
    /// Not allowed.
    #[error("permission denied")]
    PermissionDenied,
    /// The target already exists.
    #[error("file exists")]
    AlreadyExists,
    /// A directory was expected.
    #[error("not a directory")]
    NotADirectory,
    /// A file was expected.
    #[error("is a directory")]
    IsADirectory,
    /// The directory is not empty.
    #[error("directory not empty")]
    DirectoryNotEmpty,
    /// Out of space or quota.
    #[error("no space left on device")]
    NoSpace,
    /// A directory too large to list: more than `limit` entries (see
    /// [`Storage::list_formatted`]).
    #[error("directory has more than {limit} entries")]
    TooManyEntries {
        /// The most entries a listing may have.
        limit: usize,
    },
    /// Any other failure.
    #[error("storage error: {0}")]
    Other(std::io::Error),
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::NotFound => StorageError::NotFound,
            K::PermissionDenied => StorageError::PermissionDenied,
            K::AlreadyExists => StorageError::AlreadyExists,
            K::NotADirectory => StorageError::NotADirectory,
            K::IsADirectory => StorageError::IsADirectory,
            K::DirectoryNotEmpty => StorageError::DirectoryNotEmpty,
            K::StorageFull | K::QuotaExceeded => StorageError::NoSpace,
            _ => StorageError::Other(e),
        }
    }
}

/// A storage backend addressed by virtual paths. All paths given are already normalised
/// [`VPath`]s; a backend must make sure nothing outside its root is reachable through them
/// (e.g. via symlinks).
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Metadata of a file or directory.
    fn metadata<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Metadata, StorageError>>;

    /// The entries of a directory (without `.` and `..`).
    fn list<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Vec<DirEntry>, StorageError>>;

    /// The entries of a directory sorted by name, each written by `format`, as one buffer:
    /// what `LIST`, `NLST` and `MLSD` send. A directory of more than `max_entries` entries
    /// is refused with [`StorageError::TooManyEntries`] (a listing is held in memory whole,
    /// so its size is bounded); entries `format` leaves out count too. The default sorts
    /// [`Storage::list`] and formats the entries one by one; a backend that reads entries on
    /// several threads overrides it to format each entry on the thread that read it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ftp_server::storage::{MemStorage, Storage, StorageError};
    /// use ftp_server::vpath::VPath;
    ///
    /// let s = MemStorage::new(1 << 20);
    /// futures_lite::future::block_on(async {
    ///     for name in ["b", "a"] {
    ///         s.mkdir(&VPath::root().join(name.as_bytes()).unwrap()).await.unwrap();
    ///     }
    ///     let names = Arc::new(|e: &ftp_server::storage::DirEntry, out: &mut Vec<u8>| {
    ///         out.extend_from_slice(&e.name);
    ///         out.push(b'\n');
    ///     });
    ///     let listed = s.list_formatted(&VPath::root(), names.clone(), 100).await;
    ///     assert_eq!(listed.unwrap(), b"a\nb\n");
    ///     let too_many = s.list_formatted(&VPath::root(), names, 1).await;
    ///     assert!(matches!(too_many, Err(StorageError::TooManyEntries { limit: 1 })));
    /// });
    /// ```
    fn list_formatted<'a>(
        &'a self,
        path: &'a VPath,
        format: EntryFormatter,
        max_entries: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        Box::pin(async move {
            let mut entries = self.list(path).await?;
            if entries.len() > max_entries {
                return Err(StorageError::TooManyEntries { limit: max_entries });
            }
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            let mut out = Vec::new();
            for e in &entries {
                format(e, &mut out);
            }
            Ok(out)
        })
    }

    /// Opens a file for reading from byte `offset`.
    fn open_read<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<ReadStream, StorageError>>;

    /// Opens a file for reading from byte `offset` as a local OS file (its position set to
    /// `offset`), when the backend keeps files on the local filesystem. This lets the server
    /// send plain binary downloads with zero-copy `sendfile`. Backends without local files
    /// keep the default, `Ok(None)`, and are read through [`Storage::open_read`].
    fn open_read_local<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<Option<std::fs::File>, StorageError>> {
        let _ = (path, offset);
        Box::pin(async { Ok(None) })
    }

    /// Opens a file for writing.
    fn open_write<'a>(
        &'a self,
        path: &'a VPath,
        mode: WriteMode,
    ) -> BoxFuture<'a, Result<Box<dyn Upload>, StorageError>>;

    /// Creates a directory.
    fn mkdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Removes an empty directory.
    fn rmdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Removes a file.
    fn remove<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Renames a file or directory, replacing a file at `to`.
    fn rename<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Sets a file's modification time.
    fn set_mtime<'a>(
        &'a self,
        path: &'a VPath,
        time: SystemTime,
    ) -> BoxFuture<'a, Result<(), StorageError>>;
}
