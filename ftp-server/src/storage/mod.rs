//! The storage backend trait. The local filesystem ([`fs::FsStorage`]) is the first
//! implementation; anything that can list, read and write by [`VPath`] can be another (an
//! object store, an in-memory tree for fuzzing), without touching session code.

pub mod fs;
pub mod memory;
pub mod mount;
pub mod s3;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use ftp_proto::ReplyCode;
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

    /// `n` more bytes are about to be written into [`Upload::local_file`] (bypassing
    /// [`AsyncWrite`]): an error refuses them, and the upload ends without a commit. The
    /// default admits everything; a quota ([`crate::policy::quota::QuotaUpload`]) counts them.
    fn admit(&mut self, n: u64) -> std::io::Result<()> {
        let _ = n;
        Ok(())
    }

    /// The SHA-256 of everything written, which the server computed while receiving it; called
    /// (at most once) before [`Upload::commit`], for replacing uploads only. A backend that can
    /// keep it with the file (an extended attribute, object metadata) does, so that
    /// [`Storage::stored_sha256`] answers `HASH` without reading the file; the default forgets
    /// it.
    fn record_sha256(&mut self, digest: [u8; 32]) {
        let _ = digest;
    }

    /// True when [`Upload::record_sha256`] keeps the digest, so the server computes it; the
    /// default, `false`, spares the work.
    fn keeps_sha256(&self) -> bool {
        false
    }
}

/// A SHA-256 digest's 32 bytes, as a backend keeps it with a file ([`Storage::stored_sha256`]).
pub type Sha256 = [u8; 32];

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
    /// Out of space.
    #[error("no space left on device")]
    NoSpace,
    /// Over the user's disk quota (`EDQUOT`).
    #[error("disk quota exceeded")]
    QuotaExceeded,
    /// A directory too large to list: more than `limit` entries (see
    /// [`Storage::list_formatted`]).
    #[error("directory has more than {limit} entries")]
    TooManyEntries {
        /// The most entries a listing may have.
        limit: usize,
    },
    /// A name in the path is longer than the backend allows (`ENAMETOOLONG`).
    #[error("file name too long")]
    NameTooLong {
        /// The name was one the operation would create (`STOR`, `MKD`, `RNTO`), as opposed
        /// to one it looks up; see [`StorageError::creating`].
        creating: bool,
    },
    /// The storage itself is unreachable for now (the served directory was removed, an
    /// object store is down); worth retrying later.
    #[error("storage unavailable")]
    Unavailable,
    /// A rename from one mount (or the home) into another: refused rather than copied.
    #[error("cannot rename across mounts")]
    CrossMount,
    /// Any other failure.
    #[error("storage error: {0}")]
    Other(std::io::Error),
}

impl StorageError {
    /// Marks the error as coming from an operation that creates the path's last name (an
    /// upload, a new directory, a rename's target), which changes the FTP reply of
    /// [`StorageError::NameTooLong`] from `550` to `553` (file name not allowed).
    ///
    /// ```
    /// use ftp_server::storage::StorageError;
    /// let e = StorageError::NameTooLong { creating: false }.creating();
    /// assert!(matches!(e, StorageError::NameTooLong { creating: true }));
    /// assert!(matches!(StorageError::NotFound.creating(), StorageError::NotFound));
    /// ```
    pub fn creating(self) -> StorageError {
        match self {
            StorageError::NameTooLong { .. } => StorageError::NameTooLong { creating: true },
            e => e,
        }
    }

    /// The FTP reply for this error: a permanent `5xx` for everything the client must change
    /// (a missing file, a name too long, ...), `452` for a full disk, `451` for the rest.
    ///
    /// ```
    /// use ftp_server::storage::StorageError;
    /// let (code, text) = StorageError::NameTooLong { creating: true }.reply();
    /// assert_eq!((code.as_u16(), &*text), (553, "File name too long."));
    /// assert_eq!(StorageError::NameTooLong { creating: false }.reply().0.as_u16(), 550);
    /// ```
    pub fn reply(&self) -> (ReplyCode, Cow<'static, str>) {
        let (code, text) = match self {
            StorageError::NotFound => (ReplyCode::FILE_NOT_AVAILABLE, "No such file or directory."),
            StorageError::PermissionDenied => (ReplyCode::FILE_NOT_AVAILABLE, "Permission denied."),
            StorageError::AlreadyExists => (ReplyCode::FILE_NOT_AVAILABLE, "File exists."),
            StorageError::NotADirectory => (ReplyCode::FILE_NOT_AVAILABLE, "Not a directory."),
            StorageError::IsADirectory => (ReplyCode::FILE_NOT_AVAILABLE, "Is a directory."),
            StorageError::DirectoryNotEmpty => {
                (ReplyCode::FILE_NOT_AVAILABLE, "Directory not empty.")
            }
            StorageError::NoSpace => (
                ReplyCode::INSUFFICIENT_STORAGE,
                "Insufficient storage space.",
            ),
            StorageError::QuotaExceeded => (ReplyCode::EXCEEDED_STORAGE, "Disk quota exceeded."),
            StorageError::Unavailable => (
                ReplyCode::LOCAL_ERROR,
                "Storage unavailable; try again later.",
            ),
            StorageError::NameTooLong { creating: true } => {
                (ReplyCode::FILE_NAME_NOT_ALLOWED, "File name too long.")
            }
            StorageError::NameTooLong { creating: false } => {
                (ReplyCode::FILE_NOT_AVAILABLE, "File name too long.")
            }
            StorageError::TooManyEntries { limit } => {
                return (
                    ReplyCode::FILE_NOT_AVAILABLE,
                    format!("Directory too large to list (more than {limit} entries).").into(),
                );
            }
            StorageError::CrossMount => (
                ReplyCode::FILE_NAME_NOT_ALLOWED,
                "Cannot rename across mounts.",
            ),
            StorageError::Other(_) => (ReplyCode::LOCAL_ERROR, "Local error in processing."),
        };
        (code, text.into())
    }
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        // A backend's own error, carried through an `AsyncWrite` (see `s3::upload`).
        if e.get_ref().is_some_and(|inner| inner.is::<StorageError>()) {
            if let Some(Ok(inner)) = e.into_inner().map(|b| b.downcast::<StorageError>()) {
                return *inner;
            }
            return StorageError::Unavailable;
        }
        match e.kind() {
            K::NotFound => StorageError::NotFound,
            K::PermissionDenied => StorageError::PermissionDenied,
            K::AlreadyExists => StorageError::AlreadyExists,
            K::NotADirectory => StorageError::NotADirectory,
            K::IsADirectory => StorageError::IsADirectory,
            K::DirectoryNotEmpty => StorageError::DirectoryNotEmpty,
            K::StorageFull => StorageError::NoSpace,
            K::QuotaExceeded => StorageError::QuotaExceeded,
            _ if e.raw_os_error() == Some(rustix::io::Errno::NAMETOOLONG.raw_os_error()) => {
                StorageError::NameTooLong { creating: false }
            }
            _ => StorageError::Other(e),
        }
    }
}

/// A storage backend addressed by virtual paths. All paths given are already normalised
/// [`VPath`]s; a backend must make sure nothing outside its root is reachable through them
/// (e.g. via symlinks).
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// A short name of the backend for metrics (`ftp_storage_operation_seconds{backend}`):
    /// `fs`, `memory`, … A fixed word per backend type, never a path or a user.
    fn backend_name(&self) -> &'static str {
        "other"
    }

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
        Box::pin(async move { format_entries(self.list(path).await?, &format, max_entries) })
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

    /// The bytes that can still be stored under `path` (a directory), if the backend knows:
    /// what `AVBL` answers for a user without a quota. The default, `Ok(None)`, is a backend
    /// without such a figure (an object store).
    ///
    /// ```
    /// use ftp_server::storage::{MemStorage, Storage};
    /// use ftp_server::vpath::VPath;
    /// let s = MemStorage::new(1000);
    /// s.insert_file(&VPath::root().join(b"f").unwrap(), vec![0; 300]).unwrap();
    /// let left = futures_lite::future::block_on(s.available(&VPath::root())).unwrap();
    /// assert_eq!(left, Some(700));
    /// ```
    fn available<'a>(
        &'a self,
        path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<u64>, StorageError>> {
        let _ = path;
        Box::pin(async { Ok(None) })
    }
    /// Sets a file's Unix permission bits (`SITE CHMOD`). The default refuses: a backend
    /// without modes answers `550`.
    fn set_mode<'a>(
        &'a self,
        path: &'a VPath,
        mode: u32,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let _ = (path, mode);
        Box::pin(async { Err(StorageError::PermissionDenied) })
    }

    /// The SHA-256 of the whole file as the backend stored it with the file (see
    /// [`Upload::record_sha256`] and [`Storage::store_sha256`]), if it is still valid for what
    /// the file holds now. `Ok(None)`: compute it. The default stores nothing.
    fn stored_sha256<'a>(
        &'a self,
        path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<Sha256>, StorageError>> {
        let _ = path;
        Box::pin(async { Ok(None) })
    }

    /// Keeps `digest`, the SHA-256 of the whole file computed from its contents when it had the
    /// metadata `seen`, with the file, unless the file changed since (best effort: a backend
    /// that cannot keep it, or a file that changed, is no error). The default keeps nothing.
    fn store_sha256<'a>(
        &'a self,
        path: &'a VPath,
        digest: Sha256,
        seen: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let _ = (path, digest, seen);
        Box::pin(async { Ok(()) })
    }

    /// Copies the file `from` to `to` on the storage itself (`SITE CPFR`/`CPTO`, `SITE COPY`),
    /// atomically like an upload with [`WriteMode::Replace`]: an existing `to` stays as it was
    /// until the copy is complete. Returns the bytes copied. The default streams the file
    /// through [`Storage::open_read`] into [`Storage::open_write`] with a fixed buffer, so
    /// every backend has it; a backend that copies better (`copy_file_range(2)`, an object
    /// store's server-side copy) overrides it. Dropping the future abandons the copy.
    ///
    /// ```
    /// use ftp_server::storage::{MemStorage, Storage, WriteMode};
    /// use ftp_server::vpath::VPath;
    /// use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let s = MemStorage::new(1 << 20);
    /// let (a, b) = (VPath::root().join(b"a").unwrap(), VPath::root().join(b"b").unwrap());
    /// futures_lite::future::block_on(async {
    ///     let mut up = s.open_write(&a, WriteMode::Replace).await.unwrap();
    ///     up.write_all(b"hello").await.unwrap();
    ///     up.close().await.unwrap();
    ///     up.commit().await.unwrap();
    ///     assert_eq!(s.copy(&a, &b).await.unwrap(), 5);
    ///     let mut copied = Vec::new();
    ///     s.open_read(&b, 0).await.unwrap().read_to_end(&mut copied).await.unwrap();
    ///     assert_eq!(copied, b"hello");
    /// });
    /// ```
    fn copy<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(copy_between(self, from, self, to))
    }
}

/// The buffer of [`Storage::copy`]'s default, streamed implementation.
pub const COPY_BUFFER: usize = 256 * 1024;

/// Copies the file `from` of `src` to `to` of `dst` through a fixed buffer, atomically like
/// an upload with [`WriteMode::Replace`]: [`Storage::copy`]'s default, and a copy between two
/// storages (mounts).
pub(crate) async fn copy_between(
    src: &(impl Storage + ?Sized),
    from: &VPath,
    dst: &(impl Storage + ?Sized),
    to: &VPath,
) -> Result<u64, StorageError> {
    use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
    let mut reader = src.open_read(from, 0).await?;
    let mut up = dst.open_write(to, WriteMode::Replace).await?;
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        up.write_all(&buf[..n]).await?;
        total += n as u64;
    }
    up.close().await?;
    up.commit().await?;
    Ok(total)
}
/// What the default [`Storage::list_formatted`] does with [`Storage::list`]'s entries: sorts
/// them by name and formats each, refusing more than `max_entries`.
pub(crate) fn format_entries(
    mut entries: Vec<DirEntry>,
    format: &EntryFormatter,
    max_entries: usize,
) -> Result<Vec<u8>, StorageError> {
    if entries.len() > max_entries {
        return Err(StorageError::TooManyEntries { limit: max_entries });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for e in &entries {
        format(e, &mut out);
    }
    Ok(out)
}
