//! The local-filesystem [`Storage`] backend.
//!
//! Every path is opened relative to a file descriptor of the root directory with
//! `openat2(2)` and `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: the kernel itself refuses any
//! resolution (`..`, a symlink, a symlink swapped in by a local user while a command runs) that
//! would leave the root, so checking and using a path are one system call and cannot be raced.
//! Operations on a directory entry itself (create, remove, rename) first open the parent
//! directory that way and then act on the single name with the `*at` calls, which do not
//! follow a final symlink.
//!
//! An absolute symlink whose target is inside the root is still followed: when the kernel
//! refuses a path with `EXDEV`, its canonical form is checked to be under the root and opened
//! again with the same `RESOLVE_BENEATH` confinement (so a race can at worst make it fail).
//!
//! Everything that would lead outside the root answers exactly like a missing file
//! ([`StorageError::NotFound`]), whatever the target is (existing, missing, unreadable), so
//! nothing about the outside can be learnt. Symlinks that lead outside are not listed.
//!
//! On kernels without `openat2` (before Linux 5.6, or when a seccomp filter refuses it) the
//! backend falls back to canonicalising each path and checking that it is under the root
//! before using it; that check and the use are separate system calls, so only that fallback
//! can be raced by a local user who can create symlinks inside the root. Filesystem calls that
//! may take long (listing, creating, renaming, removing) run on the `blocking` thread pool;
//! quick lookups (stat, open for reading) run inline unless one was slow (see
//! `Root::quick`), and uploads are written from the data loop (see
//! `data::receive_file`).
//!
//! Uploads are crash-safe: a replacing upload is an anonymous `O_TMPFILE` file until it is
//! complete, then linked into place (see the `upload` submodule); where a filesystem refuses
//! that, named temporaries are used and swept ([`Sweeper`], [`FsStorage::sweep_temporaries`]).
//! The root directory is checked against its path once a second (see [`FsStorage::new`]).

use std::ffi::{CStr, OsStr};
use std::io::{Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use blocking::{unblock, Unblock};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::{
    BoxFuture, DirEntry, EntryFormatter, FileId, FileKind, Metadata, ReadStream, Sha256, Storage,
    StorageError, Upload, WriteMode,
};
use crate::vpath::VPath;

mod digest;
mod sweep;
mod upload;

pub use sweep::{SweepReport, Sweeper};
use upload::{is_temp_name, open_staged, FsUpload};

/// Buffer size between the blocking pool and a transfer.
const IO_BUFFER: usize = 256 * 1024;

/// How often the root directory is checked against its path (removed, replaced, back).
const ROOT_CHECK: Duration = Duration::from_secs(1);

/// A lookup run inline that takes longer than this sends lookups to the blocking pool.
const SLOW_LOOKUP: Duration = Duration::from_millis(5);

/// How long lookups stay on the blocking pool after a slow one.
const POOLED_FOR: Duration = Duration::from_secs(10);

/// How `openat2` resolves every path: never above the root fd, no `/proc` magic links.
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);

/// Serves a directory of the local filesystem.
///
/// ```
/// use ftp_server::storage::{FsStorage, Storage};
/// use ftp_server::vpath::VPath;
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.txt"), b"hi").unwrap();
/// let fs = FsStorage::new(dir.path()).unwrap();
/// let p = VPath::root().resolve(b"a.txt").unwrap();
/// let m = futures_lite::future::block_on(fs.metadata(&p)).unwrap();
/// assert_eq!(m.len, 2);
/// ```
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: Arc<Root>,
    /// Modes for new files and directories (`None`: `666`/`777` less the process umask).
    modes: Option<(u32, u32)>,
}

impl FsStorage {
    /// Serves `root`, which must be an existing directory. The directory is opened once and
    /// checked against its (canonical) path about once a second: if it is renamed, this
    /// storage keeps serving it; if another directory takes its place, that one is served;
    /// if it is removed, every operation fails with [`StorageError::Unavailable`] until a
    /// directory is back at the path. A symlink put in its place is not followed.
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<FsStorage> {
        let path = std::fs::canonicalize(root.as_ref())?;
        if !path.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a directory", path.display()),
            ));
        }
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            &path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        // Probe once: a kernel (or seccomp filter) without openat2 selects the fallback.
        let openat2 = rustix::fs::openat2(
            &fd,
            ".",
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            RESOLVE,
        )
        .is_ok();
        // Never inline on network filesystems.
        let pooled_until = if is_local_fs(&fd) { 0 } else { u64::MAX };
        Ok(FsStorage {
            root: Arc::new(Root {
                path,
                fd: RwLock::new(Arc::new(fd)),
                checked: AtomicU64::new(0),
                gone: AtomicBool::new(false),
                openat2: AtomicBool::new(openat2),
                tmpfile: AtomicBool::new(true),
                fsync: AtomicBool::new(false),
                named_temps: AtomicBool::new(false),
                next_sweep: AtomicU64::new(u64::MAX),
                born: Instant::now(),
                pooled_until: AtomicU64::new(pooled_until),
            }),
            modes: None,
        })
    }

    /// With `on`, every upload is flushed to disk (`fsync`) before its `226`: the file
    /// before it is renamed into place, then its directory (the `fsync_uploads` setting).
    /// Off by default, as in other FTP servers: it costs a disk flush per upload.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let fs = ftp_server::storage::FsStorage::new(dir.path()).unwrap().fsync_uploads(true);
    /// # drop(fs);
    /// ```
    pub fn fsync_uploads(self, on: bool) -> FsStorage {
        self.root.fsync.store(on, Ordering::Relaxed);
        self
    }

    /// This storage (the same directory, shared with `self`) giving new files the mode
    /// `modes.0` and new directories `modes.1`, whatever the process umask; `None` keeps
    /// `666`/`777` less the process umask. An existing file that is appended to or resumed
    /// keeps its mode; a replaced one is a new file.
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// use ftp_server::storage::{FsStorage, Storage};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let fs = FsStorage::new(dir.path()).unwrap().with_create_modes(Some((0o640, 0o750)));
    /// let p = ftp_server::vpath::VPath::root().join(b"d").unwrap();
    /// futures_lite::future::block_on(fs.mkdir(&p)).unwrap();
    /// let mode = std::fs::metadata(dir.path().join("d")).unwrap().permissions().mode();
    /// assert_eq!(mode & 0o777, 0o750);
    /// ```
    pub fn with_create_modes(&self, modes: Option<(u32, u32)>) -> FsStorage {
        FsStorage {
            root: self.root.clone(),
            modes,
        }
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root.path
    }

    /// True when paths are resolved by the kernel with `openat2(RESOLVE_BENEATH)` (race-free);
    /// false on the check-then-use fallback for kernels without it.
    pub fn uses_openat2(&self) -> bool {
        self.root.openat2.load(Ordering::Relaxed)
    }

    /// Opens a file for writing ([`Storage::open_write`]).
    async fn open_upload(&self, path: &VPath, mode: WriteMode) -> Result<FsUpload, StorageError> {
        let r = self.root.clone();
        let path = path.clone();
        let fsync = r.fsync.load(Ordering::Relaxed);
        let file_mode = self.modes.map(|m| m.0);
        let (file, pending) = unblock(move || {
            match mode {
                WriteMode::Replace | WriteMode::CreateNew => {
                    let (dir, name) = r.creatable(&path)?;
                    match r.visible_entry(&dir, name, &path) {
                        Ok(_) if mode == WriteMode::CreateNew => {
                            return Err(StorageError::AlreadyExists)
                        }
                        Ok(st) => {
                            let is_dir = match FileType::from_raw_mode(st.st_mode) {
                                FileType::Symlink => r
                                    .open(&path, OFlags::PATH, Mode::empty())
                                    .ok()
                                    .and_then(|t| rustix::fs::fstat(&t).ok())
                                    .is_some_and(|t| {
                                        FileType::from_raw_mode(t.st_mode) == FileType::Directory
                                    }),
                                t => t == FileType::Directory,
                            };
                            if is_dir {
                                return Err(StorageError::IsADirectory);
                            }
                        }
                        // Missing, or a symlink leading outside (replaced by the upload).
                        Err(StorageError::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                    let no_replace = mode == WriteMode::CreateNew;
                    let tmpfile = r.tmpfile.load(Ordering::Relaxed);
                    let (file, pending, named) =
                        open_staged(dir, name.as_bytes(), no_replace, fsync, tmpfile)?;
                    if named {
                        r.uses_named_temporaries();
                    }
                    if let Some(m) = file_mode {
                        rustix::fs::fchmod(&file, Mode::from_raw_mode(m)).map_err(errno)?;
                    }
                    Ok((file, Some(pending)))
                }
                WriteMode::Append => {
                    let fd = r.open_or_create(&path, OFlags::WRONLY | OFlags::APPEND, file_mode)?;
                    Ok((std::fs::File::from(fd), None))
                }
                WriteMode::At(offset) => {
                    let fd = r.open_or_create(&path, OFlags::WRONLY, file_mode)?;
                    let mut f = std::fs::File::from(fd);
                    f.set_len(offset)?;
                    f.seek(SeekFrom::Start(offset))?;
                    Ok((f, None))
                }
            }
        })
        .await
        .map_err(StorageError::creating)?;
        Ok(FsUpload::new(file, pending, fsync))
    }

    /// Opens a regular file for reading, positioned at `offset`.
    async fn open_file(&self, path: &VPath, offset: u64) -> Result<std::fs::File, StorageError> {
        let path = path.clone();
        self.root
            .quick(move |r| {
                // O_NONBLOCK: opening a FIFO must not block (regular files ignore the flag).
                let fd = r.open(&path, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())?;
                let mut f = std::fs::File::from(fd);
                let m = f.metadata()?;
                if m.is_dir() {
                    return Err(StorageError::IsADirectory);
                }
                if !m.is_file() {
                    return Err(StorageError::PermissionDenied);
                }
                if offset > 0 {
                    f.seek(SeekFrom::Start(offset))?;
                }
                Ok::<_, StorageError>(f)
            })
            .await
    }
}

/// True when `fd` lives on a filesystem of local disks or memory (ext2/3/4, XFS, Btrfs,
/// bcachefs, F2FS, ZFS, tmpfs, ramfs, overlayfs), whose lookups and writes never wait for a
/// network peer: only there do [`Root::quick`] lookups and [`crate::data::receive_file`]
/// writes run on the executor thread. NFS, SMB, FUSE and anything unknown use the blocking
/// pool (a dead server could otherwise hang an executor thread).
pub(crate) fn is_local_fs(fd: impl std::os::fd::AsFd) -> bool {
    const LOCAL: [u64; 9] = [
        0xEF53,      // ext2/3/4
        0x5846_5342, // XFS
        0x9123_683E, // Btrfs
        0xCA45_1A4E, // bcachefs
        0xF2F5_2010, // F2FS
        0x2FC1_2FC1, // ZFS
        0x0102_1994, // tmpfs
        0x8584_58F6, // ramfs
        0x794C_7630, // overlayfs
    ];
    #[allow(clippy::unnecessary_cast)] // f_type's integer type varies by target
    match rustix::fs::fstatfs(fd) {
        Ok(st) => LOCAL.contains(&((st.f_type as u64) & 0xFFFF_FFFF)),
        Err(_) => false,
    }
}

/// The root directory: its canonical path and an open descriptor every lookup starts from.
#[derive(Debug)]
struct Root {
    path: PathBuf,
    /// The directory served; replaced when another one takes its place at `path`.
    fd: RwLock<Arc<OwnedFd>>,
    /// When `fd` was last checked against `path` (nanoseconds after `born`).
    checked: AtomicU64,
    /// The directory was removed and nothing is at `path`: everything is unavailable.
    gone: AtomicBool,
    openat2: AtomicBool,
    /// Uploads try anonymous `O_TMPFILE` files first (tests turn it off).
    tmpfile: AtomicBool,
    /// `fsync` uploads before committing them.
    fsync: AtomicBool,
    /// Some upload had to use a named temporary: the root is swept periodically.
    named_temps: AtomicBool,
    /// When the sweeper should sweep this root next (nanoseconds after `born`; `u64::MAX`:
    /// not again).
    next_sweep: AtomicU64,
    /// When this storage was opened (the clock of `pooled_until`).
    born: Instant,
    /// Until when (nanoseconds after `born`) lookups run on the blocking pool, because one
    /// run inline was slow.
    pooled_until: AtomicU64,
}

/// Why a path could not be opened beneath the root.
enum Resolve {
    /// It would leave the root (answered as [`StorageError::NotFound`]).
    Escape,
    /// Any other failure.
    Failed(StorageError),
}

impl From<Resolve> for StorageError {
    fn from(r: Resolve) -> Self {
        match r {
            Resolve::Escape => StorageError::NotFound,
            Resolve::Failed(e) => e,
        }
    }
}

fn errno(e: Errno) -> StorageError {
    match e {
        // A symlink loop (or a magic link) is as invisible as a missing file.
        Errno::LOOP | Errno::XDEV => StorageError::NotFound,
        e => std::io::Error::from(e).into(),
    }
}

/// The path of a [`VPath`] relative to the root (`.` for the root itself).
fn rel(p: &VPath) -> PathBuf {
    let mut r = PathBuf::new();
    for c in p.components() {
        r.push(OsStr::from_bytes(c));
    }
    if r.as_os_str().is_empty() {
        r.push(".");
    }
    r
}

impl Root {
    /// Runs `f`, a lookup that the page and dentry caches normally answer in microseconds
    /// (open a file, stat a path), right on the calling thread: a hand-off to the blocking
    /// pool and back would cost more than the work itself (nginx opens files on its event
    /// loop the same way). When one takes longer than [`SLOW_LOOKUP`] (a cold cache on a slow
    /// disk), lookups go to the blocking pool for the next [`POOLED_FOR`]; on a network
    /// filesystem (see [`is_local_fs`]) they always do.
    async fn quick<T: Send + 'static>(
        self: &Arc<Root>,
        f: impl FnOnce(&Root) -> T + Send + 'static,
    ) -> T {
        let now = self.born.elapsed();
        let until = Duration::from_nanos(self.pooled_until.load(Ordering::Relaxed));
        if now < until {
            let r = self.clone();
            return unblock(move || f(&r)).await;
        }
        let out = f(self);
        let took = self.born.elapsed().saturating_sub(now);
        if took > SLOW_LOOKUP {
            let until = (now + took + POOLED_FOR).as_nanos();
            self.pooled_until
                .store(u64::try_from(until).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        out
    }

    /// The root directory's descriptor, checked against the root's path at most every
    /// [`ROOT_CHECK`] (see [`FsStorage::new`]).
    fn dir(&self) -> Result<Arc<OwnedFd>, Resolve> {
        let now = u64::try_from(self.born.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let last = self.checked.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= ROOT_CHECK.as_nanos() as u64;
        // One caller rechecks; the others go on with what is open.
        let ours = || {
            let relaxed = Ordering::Relaxed;
            self.checked
                .compare_exchange(last, now, relaxed, relaxed)
                .is_ok()
        };
        if due && ours() {
            self.recheck();
        }
        if self.gone.load(Ordering::Relaxed) {
            return Err(Resolve::Failed(StorageError::Unavailable));
        }
        Ok(self.fd.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Compares the open root directory with what is at its path now: serves a directory
    /// that took its place, marks the root gone when it was removed and nothing is there,
    /// and available again when a directory is back.
    fn recheck(&self) {
        let current = self.fd.read().unwrap_or_else(|e| e.into_inner()).clone();
        let alive = rustix::fs::fstat(&*current).is_ok_and(|st| st.st_nlink > 0);
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let at_path = rustix::fs::openat(rustix::fs::CWD, &self.path, flags, Mode::empty()).ok();
        let inode = |fd: &OwnedFd| rustix::fs::fstat(fd).map(|st| (st.st_dev, st.st_ino)).ok();
        match at_path {
            Some(fd) if inode(&fd) != inode(&current) || !alive => {
                *self.fd.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fd);
                self.gone.store(false, Ordering::Relaxed);
                log::warn!(
                    "{}: another directory is there now; serving it",
                    self.path.display()
                );
            }
            None if !alive && !self.gone.swap(true, Ordering::Relaxed) => {
                log::error!(
                    "{}: the served directory is gone; commands answer 451 until it is back",
                    self.path.display()
                );
            }
            _ => {}
        }
    }

    /// Opens `rel` beneath the root, following symlinks only while they stay inside it.
    fn open_inner(&self, rel: &Path, flags: OFlags, mode: Mode) -> Result<OwnedFd, Resolve> {
        let flags = flags | OFlags::CLOEXEC;
        let root = self.dir()?;
        if self.openat2.load(Ordering::Relaxed) {
            // EAGAIN: a concurrent rename raced a `..` lookup; the kernel asks to retry.
            for _ in 0..8 {
                match rustix::fs::openat2(&*root, rel, flags, mode, RESOLVE) {
                    Ok(fd) => return Ok(fd),
                    Err(Errno::AGAIN) => continue,
                    Err(Errno::NOSYS) => {
                        self.openat2.store(false, Ordering::Relaxed);
                        return self.open_fallback(rel, flags, mode);
                    }
                    Err(Errno::XDEV) => {
                        // An absolute symlink (or a `..` through one): follow it only if its
                        // canonical target is inside, and then still confined by the kernel.
                        let canon = self.canonical_inside(rel, flags)?;
                        return rustix::fs::openat2(&*root, &canon, flags, mode, RESOLVE).map_err(
                            |e| match e {
                                Errno::XDEV | Errno::LOOP => Resolve::Escape,
                                e => Resolve::Failed(errno(e)),
                            },
                        );
                    }
                    Err(Errno::LOOP) => return Err(Resolve::Escape),
                    Err(e) => return Err(Resolve::Failed(errno(e))),
                }
            }
            return Err(Resolve::Failed(std::io::Error::from(Errno::AGAIN).into()));
        }
        self.open_fallback(rel, flags, mode)
    }

    /// Without openat2: check the canonical path, then open it (a separate system call).
    fn open_fallback(&self, rel: &Path, flags: OFlags, mode: Mode) -> Result<OwnedFd, Resolve> {
        let canon = self.canonical_inside(rel, flags)?;
        let root = self.dir()?;
        rustix::fs::openat(&*root, &canon, flags, mode).map_err(|e| Resolve::Failed(errno(e)))
    }

    /// `rel`'s canonical path relative to the root, if it is inside. With `O_CREAT`, a missing
    /// final component is allowed (its parent is canonicalised). Every failure here is an
    /// escape, answered like a missing file, so nothing about an outside target is revealed.
    fn canonical_inside(&self, rel: &Path, flags: OFlags) -> Result<PathBuf, Resolve> {
        let full = self.path.join(rel);
        let canon = match std::fs::canonicalize(&full) {
            Ok(c) => c,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && flags.contains(OFlags::CREATE)
                    && std::fs::symlink_metadata(&full).is_err() =>
            {
                let (Some(parent), Some(name)) = (full.parent(), full.file_name()) else {
                    return Err(Resolve::Escape);
                };
                std::fs::canonicalize(parent)
                    .map_err(|_| Resolve::Escape)?
                    .join(name)
            }
            Err(_) => return Err(Resolve::Escape),
        };
        match canon.strip_prefix(&self.path) {
            Ok(r) if r.as_os_str().is_empty() => Ok(PathBuf::from(".")),
            Ok(r) => Ok(r.to_path_buf()),
            Err(_) => Err(Resolve::Escape),
        }
    }

    fn open(&self, p: &VPath, flags: OFlags, mode: Mode) -> Result<OwnedFd, StorageError> {
        Ok(self.open_inner(&rel(p), flags, mode)?)
    }

    /// Opens `p` with `flags`, creating it when missing; a file it creates gets `mode`
    /// exactly (`fchmod`, whatever the process umask), or `666` less the umask.
    fn open_or_create(
        &self,
        p: &VPath,
        flags: OFlags,
        mode: Option<u32>,
    ) -> Result<OwnedFd, StorageError> {
        let Some(mode) = mode.map(Mode::from_raw_mode) else {
            return self.open(p, flags | OFlags::CREATE, Mode::from_raw_mode(0o666));
        };
        match self.open(p, flags, Mode::empty()) {
            Err(StorageError::NotFound) => {}
            r => return r,
        }
        let fd = self.open(p, flags | OFlags::CREATE | OFlags::EXCL, mode)?;
        rustix::fs::fchmod(&fd, mode).map_err(errno)?;
        Ok(fd)
    }

    /// The parent directory of `p` (opened beneath the root) and `p`'s last component.
    fn parent<'p>(&self, p: &'p VPath) -> Result<(OwnedFd, &'p OsStr), StorageError> {
        if p.is_root() {
            return Err(StorageError::PermissionDenied);
        }
        let dir = self.open(&p.parent(), OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        Ok((dir, OsStr::from_bytes(p.file_name())))
    }

    /// [`Root::parent`] of a path a client creates: never a name of the shape of our upload
    /// temporaries, which belong to the server (the sweeper removes them).
    fn creatable<'p>(&self, p: &'p VPath) -> Result<(OwnedFd, &'p OsStr), StorageError> {
        if is_temp_name(p.file_name()) {
            return Err(StorageError::PermissionDenied);
        }
        self.parent(p)
    }

    /// An upload had to use a named temporary: sweep this root periodically from now on.
    fn uses_named_temporaries(&self) {
        if !self.named_temps.swap(true, Ordering::Relaxed) {
            let next = self.born.elapsed() + sweep::SWEEP_EVERY;
            let next = u64::try_from(next.as_nanos()).unwrap_or(u64::MAX);
            self.next_sweep.fetch_min(next, Ordering::Relaxed);
            log::info!(
                "{}: the filesystem refuses O_TMPFILE; uploads use named temporaries, swept \
                 every {} s",
                self.path.display(),
                sweep::SWEEP_EVERY.as_secs()
            );
        }
    }

    /// The entry `name` in `dir` without following it; `NotFound` for a symlink that leads
    /// outside the root (such entries are invisible, like in listings).
    fn visible_entry(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        p: &VPath,
    ) -> Result<rustix::fs::Stat, StorageError> {
        let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            if let Err(Resolve::Escape) = self.open_inner(&rel(p), OFlags::PATH, Mode::empty()) {
                return Err(StorageError::NotFound);
            }
        }
        Ok(st)
    }
}

#[allow(clippy::unnecessary_cast, clippy::useless_conversion)] // field types vary by target
fn metadata_of(st: &rustix::fs::Stat) -> Metadata {
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => FileKind::Dir,
        FileType::RegularFile => FileKind::File,
        _ => FileKind::Other,
    };
    let secs = st.st_mtime as i64;
    let nanos = (st.st_mtime_nsec as u64).min(999_999_999) as u32;
    let modified = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nanos))))
    };
    Metadata {
        kind,
        len: u64::try_from(st.st_size).unwrap_or(0),
        modified,
        mode: Some((st.st_mode as u32) & 0o7777),
        unique: Some(FileId {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
        }),
    }
}

/// Sets its flag when dropped: tells work on the blocking pool that its future is gone.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Names read from a directory are stat'ed in batches of this many. Once a directory has
/// more, helper threads of the blocking pool (one per further core) stat the batches already
/// read while the directory is still being read; small directories stay on one thread.
/// Small enough that the threads finish close together (the last batch one of them takes
/// is the other's wait), large enough that the queue is rarely touched.
const STAT_BATCH: usize = 256;

/// The number of cores this process may use (read once: the standard library looks it up
/// in cgroup files on every call).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A batch of names read from a directory, kept NUL-terminated one after another in one
/// buffer: no allocation per name, and `statat` takes each as it is.
#[derive(Default)]
struct Names {
    bytes: Vec<u8>,
    /// Where each name starts and ends in `bytes` (its NUL follows at `end`).
    spans: Vec<(usize, usize)>,
}

impl Names {
    fn push(&mut self, name: &CStr) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(name.to_bytes_with_nul());
        self.spans.push((start, self.bytes.len() - 1));
    }

    fn name(&self, (start, end): (usize, usize)) -> &[u8] {
        &self.bytes[start..end]
    }

    /// The name with its NUL, as `statat` takes it.
    fn c_name(&self, (start, end): (usize, usize)) -> Option<&CStr> {
        CStr::from_bytes_with_nul(&self.bytes[start..=end]).ok()
    }
}

/// Batches of names waiting to be stat'ed, shared by the thread reading a directory and its
/// helpers (see [`read_listing`]).
#[derive(Default)]
struct StatQueue {
    /// The batches not taken yet, and whether the directory has been read to the end.
    state: std::sync::Mutex<(Vec<Names>, bool)>,
    ready: std::sync::Condvar,
}

impl StatQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<Names>, bool)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, batch: Names) {
        self.lock().0.push(batch);
        self.ready.notify_one();
    }

    /// No more batches will come: the workers finish once the queue is empty.
    fn close(&self) {
        self.lock().1 = true;
        self.ready.notify_all();
    }

    /// Stats batches until the directory is read and none is left, and formats their
    /// entries with `format` if given.
    fn work(&self, dir: &ListedDir, format: Option<&EntryFormatter>) -> Vec<Stated> {
        let mut out = Vec::new();
        loop {
            let batch = {
                let mut st = self.lock();
                loop {
                    if let Some(b) = st.0.pop() {
                        break Some(b);
                    }
                    if st.1 {
                        break None;
                    }
                    st = self
                        .ready
                        .wait(st)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            match batch {
                Some(b) => out.push(dir.stat(b, format)),
                None => return out,
            }
        }
    }
}

/// Closes a [`StatQueue`] when dropped, so helpers never wait for a reader that is gone.
struct CloseOnDrop<'a>(&'a StatQueue);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// One batch of a listing, stat'ed, in name order. Unformatted, its entries; formatted,
/// the span of each entry's name in `names` and where its line ends in `text` (it starts
/// where the one before ends).
struct Stated {
    names: Names,
    entries: Vec<DirEntry>,
    lines: Vec<((usize, usize), usize)>,
    text: Vec<u8>,
}

/// The directory being listed: what stat'ing its entries needs.
struct ListedDir {
    root: Arc<Root>,
    fd: OwnedFd,
    path: VPath,
}

impl ListedDir {
    /// Stats the entries `names` (in name order) and formats them with `format` if given;
    /// entries that vanished meanwhile, and symlinks leading outside the root, are left out.
    fn stat(&self, mut names: Names, format: Option<&EntryFormatter>) -> Stated {
        let Names { bytes, spans } = &mut names;
        spans.sort_unstable_by(|&(a, a_end), &(b, b_end)| bytes[a..a_end].cmp(&bytes[b..b_end]));
        let (mut entries, mut lines) = (Vec::new(), Vec::new());
        // About what a `LIST` line takes besides the name, so the buffer rarely grows.
        let mut text = Vec::with_capacity(format.map_or(0, |_| bytes.len() + 56 * spans.len()));
        // Formatting borrows one entry, refilled for each name instead of allocated.
        let mut scratch: Option<DirEntry> = None;
        for &span in &names.spans {
            let Some(metadata) = names.c_name(span).and_then(|n| self.metadata(n)) else {
                continue;
            };
            let name = names.name(span);
            let Some(f) = format else {
                let name = name.to_vec();
                entries.push(DirEntry { name, metadata });
                continue;
            };
            let e = match &mut scratch {
                Some(e) => {
                    e.name.clear();
                    e.name.extend_from_slice(name);
                    e.metadata = metadata;
                    e
                }
                None => scratch.insert(DirEntry {
                    name: name.to_vec(),
                    metadata,
                }),
            };
            f(e, &mut text);
            lines.push((span, text.len()));
        }
        Stated {
            names,
            entries,
            lines,
            text,
        }
    }

    /// The metadata of the entry `name`; a symlink shows as what it points to, and only if
    /// that is inside the root.
    fn metadata(&self, name: &CStr) -> Option<Metadata> {
        let st = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            return Some(metadata_of(&st));
        }
        let p = self.path.join(name.to_bytes()).ok()?;
        let target = self.root.open(&p, OFlags::PATH, Mode::empty()).ok()?;
        Some(metadata_of(&rustix::fs::fstat(&target).ok()?))
    }
}

/// All entries of `batches`, sorted by name. Each batch is sorted already, so the stable
/// sort only merges the runs it finds.
fn merge_entries(batches: Vec<Stated>) -> Vec<DirEntry> {
    let mut out: Vec<DirEntry> = batches.into_iter().flat_map(|b| b.entries).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The lines of formatted `batches` in name order, as one buffer. The sort moves pairs of
/// references, not entries, and a single batch (a directory of up to [`STAT_BATCH`]
/// entries) is already the whole listing.
fn merge_lines(mut batches: Vec<Stated>) -> Vec<u8> {
    if batches.len() == 1 {
        return batches.pop().map(|b| b.text).unwrap_or_default();
    }
    let count = batches.iter().map(|b| b.lines.len()).sum();
    let mut lines: Vec<(&[u8], &[u8])> = Vec::with_capacity(count);
    for b in &batches {
        let mut start = 0;
        for &(span, end) in &b.lines {
            lines.push((b.names.name(span), &b.text[start..end]));
            start = end;
        }
    }
    lines.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::with_capacity(batches.iter().map(|b| b.text.len()).sum());
    for (_, line) in lines {
        out.extend_from_slice(line);
    }
    out
}

/// Reads the directory `path`, stats its entries and formats them with `format` if given:
/// the batches of entries, each sorted by name (see [`merge_entries`], [`merge_lines`]).
/// Reading a directory of many thousands of entries and stat'ing them cost about the same,
/// so batches of names are stat'ed (and formatted) by helper threads while the rest is still
/// being read; the reading thread joins in once it is done. Each batch is sorted where it is
/// stat'ed, so the final merge doesn't sort whole entries again.
fn read_listing(
    r: &Arc<Root>,
    path: &VPath,
    format: Option<EntryFormatter>,
    max_entries: usize,
) -> Result<Vec<Stated>, StorageError> {
    let dir = Arc::new(ListedDir {
        root: r.clone(),
        fd: r.open(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?,
        path: path.clone(),
    });
    // The kernel fills this many bytes per `getdents64` (about 1000 entries of short names).
    let mut buf = Vec::with_capacity(32 << 10);
    let mut entries = rustix::fs::RawDir::new(&dir.fd, buf.spare_capacity_mut());
    let queue = Arc::new(StatQueue::default());
    let mut helpers = Vec::new();
    let mut out = {
        let closing = CloseOnDrop(&queue);
        let mut batch = Names::default();
        let mut count = 0usize;
        while let Some(e) = entries.next() {
            let Ok(e) = e else { break };
            let name = e.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            count += 1;
            if count > max_entries {
                // The helpers find the queue empty and closed, and stop.
                queue.lock().0.clear();
                return Err(StorageError::TooManyEntries { limit: max_entries });
            }
            batch.push(name);
            if batch.spans.len() == STAT_BATCH {
                if helpers.len() + 1 < cores() {
                    let (q, dir, format) = (queue.clone(), dir.clone(), format.clone());
                    helpers.push(unblock(move || q.work(&dir, format.as_ref())));
                }
                queue.push(std::mem::take(&mut batch));
            }
        }
        queue.push(batch);
        drop(closing);
        queue.work(&dir, format.as_ref())
    };
    for h in helpers {
        out.extend(futures_lite::future::block_on(h));
    }
    Ok(out)
}

impl Storage for FsStorage {
    fn backend_name(&self) -> &'static str {
        "fs"
    }

    fn metadata<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Metadata, StorageError>> {
        let path = path.clone();
        Box::pin(self.root.quick(move |r| {
            let fd = r.open(&path, OFlags::PATH, Mode::empty())?;
            Ok(metadata_of(&rustix::fs::fstat(&fd).map_err(errno)?))
        }))
    }

    fn list<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Vec<DirEntry>, StorageError>> {
        let r = self.root.clone();
        let path = path.clone();
        Box::pin(unblock(move || {
            read_listing(&r, &path, None, usize::MAX).map(merge_entries)
        }))
    }

    fn list_formatted<'a>(
        &'a self,
        path: &'a VPath,
        format: EntryFormatter,
        max_entries: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        let r = self.root.clone();
        let path = path.clone();
        Box::pin(unblock(move || {
            read_listing(&r, &path, Some(format), max_entries).map(merge_lines)
        }))
    }

    fn open_read<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<ReadStream, StorageError>> {
        Box::pin(async move {
            let file = self.open_file(path, offset).await?;
            Ok(Box::pin(Unblock::with_capacity(IO_BUFFER, file)) as ReadStream)
        })
    }

    fn open_read_local<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<Option<std::fs::File>, StorageError>> {
        Box::pin(async move { self.open_file(path, offset).await.map(Some) })
    }

    fn open_write<'a>(
        &'a self,
        path: &'a VPath,
        mode: WriteMode,
    ) -> BoxFuture<'a, Result<Box<dyn Upload>, StorageError>> {
        Box::pin(async move {
            let up = self.open_upload(path, mode).await?;
            Ok(Box::new(up) as Box<dyn Upload>)
        })
    }

    fn mkdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = self.root.clone();
        let path = path.clone();
        let dir_mode = self.modes.map(|m| m.1);
        Box::pin(unblock(move || {
            let (dir, name) = r.creatable(&path).map_err(StorageError::creating)?;
            let mode = Mode::from_raw_mode(dir_mode.unwrap_or(0o777));
            rustix::fs::mkdirat(&dir, name, mode).map_err(|e| errno(e).creating())?;
            if dir_mode.is_some() {
                // On the directory just made, not on what a symlink swapped in leads to.
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let made = rustix::fs::openat(&dir, name, flags, Mode::empty()).map_err(errno)?;
                rustix::fs::fchmod(&made, mode).map_err(errno)?;
            }
            Ok(())
        }))
    }

    fn rmdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = self.root.clone();
        let path = path.clone();
        Box::pin(unblock(move || {
            let (dir, name) = r.parent(&path)?;
            r.visible_entry(&dir, name, &path)?;
            rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR).map_err(errno)
        }))
    }

    fn remove<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = self.root.clone();
        let path = path.clone();
        Box::pin(unblock(move || {
            let (dir, name) = r.parent(&path)?;
            let st = r.visible_entry(&dir, name, &path)?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                return Err(StorageError::IsADirectory);
            }
            rustix::fs::unlinkat(&dir, name, AtFlags::empty()).map_err(errno)
        }))
    }

    fn rename<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = self.root.clone();
        let (from, to) = (from.clone(), to.clone());
        Box::pin(unblock(move || {
            let (fdir, fname) = r.parent(&from)?;
            r.visible_entry(&fdir, fname, &from)?;
            let (tdir, tname) = r.creatable(&to).map_err(StorageError::creating)?;
            rustix::fs::renameat(&fdir, fname, &tdir, tname).map_err(|e| errno(e).creating())
        }))
    }

    fn set_mtime<'a>(
        &'a self,
        path: &'a VPath,
        time: SystemTime,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = self.root.clone();
        let path = path.clone();
        Box::pin(unblock(move || {
            let fd = r.open(&path, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())?;
            Ok(std::fs::File::from(fd).set_modified(time)?)
        }))
    }

    /// The free space of the filesystem holding the root, for unprivileged users.
    fn available<'a>(
        &'a self,
        _path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<u64>, StorageError>> {
        let r = self.root.clone();
        Box::pin(unblock(move || {
            let st = rustix::fs::fstatvfs(&*r.dir()?).map_err(std::io::Error::from)?;
            Ok(Some(st.f_bavail.saturating_mul(st.f_frsize)))
        }))
    }
    fn set_mode<'a>(
        &'a self,
        path: &'a VPath,
        mode: u32,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = self.root.clone();
        let path = path.clone();
        Box::pin(unblock(move || {
            // Confined like every lookup, then changed through the descriptor's /proc link
            // (fchmod refuses O_PATH descriptors, and opening for reading needs read access).
            let fd = r.open(&path, OFlags::PATH, Mode::empty())?;
            let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
            rustix::fs::chmodat(
                rustix::fs::CWD,
                link.as_str(),
                Mode::from_raw_mode(mode),
                AtFlags::empty(),
            )
            .map_err(errno)
        }))
    }

    fn stored_sha256<'a>(
        &'a self,
        path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<Sha256>, StorageError>> {
        Box::pin(async move {
            let file = self.open_file(path, 0).await?;
            Ok(digest::read(&file))
        })
    }

    fn store_sha256<'a>(
        &'a self,
        path: &'a VPath,
        sha256: Sha256,
        seen: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let file = self.open_file(path, 0).await?;
            let (len, modified) = (seen.len, seen.modified);
            unblock(move || {
                digest::write(&file, &sha256, |st| {
                    let now = metadata_of(st);
                    now.len == len && now.modified == modified
                });
            })
            .await;
            Ok(())
        })
    }

    fn copy<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let src = self.open_file(from, 0).await?;
            let mut up = self.open_upload(to, WriteMode::Replace).await?;
            // Set when this future is dropped (ABOR): the pool thread stops at its next chunk.
            let stop = Arc::new(AtomicBool::new(false));
            let _guard = StopOnDrop(stop.clone());
            let (up, copied) = unblock(move || {
                let r = up.fill_from(&src, &stop);
                (up, r)
            })
            .await;
            let n = copied?;
            Box::new(up).commit().await?;
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use futures_lite::io::{AsyncReadExt, AsyncWriteExt};

    /// The storage, with the kernel's `openat2` or forced onto the check-then-use fallback.
    fn both_modes(root: &Path) -> [FsStorage; 2] {
        let a = FsStorage::new(root).unwrap();
        let b = FsStorage::new(root).unwrap();
        b.root.openat2.store(false, Ordering::Relaxed);
        [a, b]
    }

    fn vp(s: &str) -> VPath {
        VPath::root().resolve(s.as_bytes()).unwrap()
    }

    #[test]
    fn lists_a_large_directory_sorted_and_whole_across_threads() {
        let (dir, n) = large_dir();
        let fs = FsStorage::new(dir.path()).unwrap();
        let list = block_on(fs.list(&VPath::root())).unwrap();
        assert_eq!(list.len(), n + 1);
        for (i, e) in list[..n].iter().enumerate() {
            assert_eq!(e.name, format!("f{i:05}").into_bytes());
            assert_eq!(e.metadata.len, (i % 7) as u64);
        }
        assert_eq!(list[n].name, b"zz-in");
        assert_eq!(list[n].metadata.len, 3);
    }

    /// A directory of several stat batches: `f00000`.. with `i % 7` bytes each, a symlink
    /// inside the root (`zz-in`) and one leading out (`zz-out`); and the number of files.
    fn large_dir() -> (tempfile::TempDir, usize) {
        let dir = tempfile::tempdir().unwrap();
        let n = 4 * STAT_BATCH + 123;
        for i in 0..n {
            std::fs::write(dir.path().join(format!("f{i:05}")), vec![0u8; i % 7]).unwrap();
        }
        std::os::unix::fs::symlink("f00003", dir.path().join("zz-in")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("zz-out")).unwrap();
        (dir, n)
    }

    #[test]
    fn a_listing_over_the_entry_limit_is_refused() {
        let (dir, n) = large_dir();
        let fs = FsStorage::new(dir.path()).unwrap();
        let names: EntryFormatter = Arc::new(|e: &DirEntry, out: &mut Vec<u8>| {
            out.extend_from_slice(&e.name);
        });
        // n files and two symlinks; the one leading out of the root counts too.
        let list = |max| block_on(fs.list_formatted(&VPath::root(), names.clone(), max));
        assert!(matches!(
            list(n + 1),
            Err(StorageError::TooManyEntries { limit }) if limit == n + 1
        ));
        assert!(list(n + 2).unwrap().ends_with(b"zz-in"));
    }

    #[test]
    fn formats_a_large_directory_across_threads_as_its_sorted_listing() {
        let (dir, _) = large_dir();
        std::fs::create_dir(dir.path().join("small")).unwrap();
        for name in ["c", "a", "b"] {
            std::fs::write(dir.path().join("small").join(name), name).unwrap();
        }
        let fs = FsStorage::new(dir.path()).unwrap();
        // Entries of odd size are left out, as a listing's filters leave entries out.
        let format: EntryFormatter = Arc::new(|e: &DirEntry, out: &mut Vec<u8>| {
            if e.metadata.len.is_multiple_of(2) {
                out.extend_from_slice(&e.name);
                out.extend_from_slice(format!(" {}\n", e.metadata.len).as_bytes());
            }
        });
        for path in [VPath::root(), vp("/small")] {
            let text = block_on(fs.list_formatted(&path, format.clone(), usize::MAX)).unwrap();
            let mut want = Vec::new();
            for e in block_on(fs.list(&path)).unwrap() {
                format(&e, &mut want);
            }
            assert_eq!(text, want);
        }
        let text = block_on(fs.list_formatted(&VPath::root(), format.clone(), usize::MAX)).unwrap();
        assert!(text.starts_with(b"f00000 0\nf00002 2\nf00004 4\nf00006 6\nf00007 0\n"));
        assert!(!text.windows(6).any(|w| w == b"zz-out"));
    }

    #[test]
    fn sweeping_skips_pseudo_filesystems() {
        let fs = FsStorage::new("/proc/self").unwrap();
        let r = fs.sweep_temporaries();
        assert_eq!((r.directories, r.removed), (0, 0), "{r:?}");
    }

    #[test]
    fn proc_is_not_a_local_disk_filesystem() {
        let proc = std::fs::File::open("/proc/self/stat").unwrap();
        assert!(!is_local_fs(&proc));
    }

    #[test]
    fn a_slow_inline_lookup_sends_the_next_ones_to_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"xyz").unwrap();
        let fs = FsStorage::new(dir.path()).unwrap();
        let on_caller = |fs: &FsStorage| {
            let caller = std::thread::current().id();
            block_on(
                fs.root
                    .quick(move |_| std::thread::current().id() == caller),
            )
        };
        assert!(on_caller(&fs));
        // A lookup that takes longer than the limit (standing in for a cold disk).
        block_on(fs.root.quick(|_| std::thread::sleep(SLOW_LOOKUP * 2)));
        assert!(!on_caller(&fs));
        // Results are the same either way.
        assert_eq!(block_on(fs.metadata(&vp("a"))).unwrap().len, 3);
        let mut f = block_on(fs.open_read(&vp("a"), 1)).unwrap();
        let mut got = Vec::new();
        block_on(f.read_to_end(&mut got)).unwrap();
        assert_eq!(got, b"yz");
    }

    #[test]
    fn refuses_symlink_leading_outside_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("s")).unwrap();
        for fs in both_modes(root.path()) {
            assert!(block_on(fs.metadata(&vp("/out/secret"))).is_err());
            assert!(block_on(fs.open_read(&vp("/s"), 0)).is_err());
            assert!(block_on(fs.list(&vp("/out"))).is_err());
            assert!(block_on(fs.open_write(&vp("/out/new"), WriteMode::Replace)).is_err());
            assert!(block_on(fs.open_write(&vp("/s"), WriteMode::Append)).is_err());
            assert!(block_on(fs.list(&vp("/"))).unwrap().is_empty());
            assert!(!outside.path().join("new").exists());
        }
    }

    #[test]
    fn upload_dropped_without_commit_leaves_old_file() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"complete").unwrap();
        let fs = FsStorage::new(root.path()).unwrap();
        block_on(async {
            let mut up = fs.open_write(&vp("/f"), WriteMode::Replace).await.unwrap();
            up.write_all(b"trunc").await.unwrap();
            drop(up);
        });
        assert_eq!(std::fs::read(root.path().join("f")).unwrap(), b"complete");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
        block_on(async {
            let mut up = fs.open_write(&vp("/f"), WriteMode::Replace).await.unwrap();
            up.write_all(b"new").await.unwrap();
            up.commit().await.unwrap();
        });
        assert_eq!(std::fs::read(root.path().join("f")).unwrap(), b"new");
    }

    #[test]
    fn reads_from_offset_and_writes_at_offset() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"0123456789").unwrap();
        let fs = FsStorage::new(root.path()).unwrap();
        block_on(async {
            let mut s = String::new();
            fs.open_read(&vp("f"), 4)
                .await
                .unwrap()
                .read_to_string(&mut s)
                .await
                .unwrap();
            assert_eq!(s, "456789");
            let mut up = fs.open_write(&vp("f"), WriteMode::At(3)).await.unwrap();
            up.write_all(b"x").await.unwrap();
            up.commit().await.unwrap();
        });
        assert_eq!(std::fs::read(root.path().join("f")).unwrap(), b"012x");
    }

    /// Every way out of the root fails exactly like a missing file, whether the outside target
    /// exists, is missing or is unreadable.
    #[test]
    fn outside_targets_are_indistinguishable_from_missing_files() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("exists"), b"s").unwrap();
        let root = tempfile::tempdir().unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, root.path().join(name)).unwrap()
        };
        link(&outside.path().join("exists"), "abs_exists");
        link(&outside.path().join("missing"), "abs_missing");
        link(Path::new("../../../../../../etc/passwd"), "rel_exists");
        link(Path::new("../../../../../../nonexistent"), "rel_missing");
        link(outside.path(), "dir");
        for fs in both_modes(root.path()) {
            for name in [
                "/abs_exists",
                "/abs_missing",
                "/rel_exists",
                "/rel_missing",
                "/dir/exists",
                "/dir/missing",
                "/nothing_here",
            ] {
                let p = vp(name);
                let nf = |r: Result<(), StorageError>| {
                    assert!(matches!(r, Err(StorageError::NotFound)), "{name}: {r:?}")
                };
                nf(block_on(fs.metadata(&p)).map(drop));
                nf(block_on(fs.open_read(&p, 0)).map(drop));
                nf(block_on(fs.list(&p)).map(drop));
                nf(block_on(fs.remove(&p)));
                nf(block_on(fs.rmdir(&p)));
                nf(block_on(fs.rename(&p, &vp("/renamed"))));
                nf(block_on(fs.set_mtime(&p, SystemTime::UNIX_EPOCH)));
                if name != "/nothing_here" {
                    // (A missing plain name would be created; a link out never is.)
                    nf(block_on(fs.open_write(&p, WriteMode::Append)).map(drop));
                }
            }
            assert_eq!(std::fs::read(outside.path().join("exists")).unwrap(), b"s");
            assert!(!outside.path().join("missing").exists());
        }
    }

    /// A directory swapped for a symlink to the outside is never followed: the kernel refuses
    /// the lookup itself, so there is no window between a check and the use.
    #[test]
    fn swapped_in_symlink_is_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("f"), b"outside").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("d")).unwrap();
        std::fs::write(root.path().join("d/f"), b"inside").unwrap();
        for fs in both_modes(root.path()) {
            let mut s = String::new();
            block_on(async {
                let mut r = fs.open_read(&vp("/d/f"), 0).await.unwrap();
                r.read_to_string(&mut s).await.unwrap();
            });
            assert_eq!(s, "inside");
            std::fs::rename(root.path().join("d"), root.path().join("old")).unwrap();
            std::os::unix::fs::symlink(outside.path(), root.path().join("d")).unwrap();
            assert!(matches!(
                block_on(fs.open_read(&vp("/d/f"), 0)),
                Err(StorageError::NotFound)
            ));
            assert!(matches!(
                block_on(fs.open_write(&vp("/d/new"), WriteMode::Replace)),
                Err(StorageError::NotFound)
            ));
            assert!(matches!(
                block_on(fs.mkdir(&vp("/d/x"))),
                Err(StorageError::NotFound)
            ));
            assert_eq!(dir_count(outside.path()), 1);
            // Back to the real directory for the other mode.
            std::fs::remove_file(root.path().join("d")).unwrap();
            std::fs::rename(root.path().join("old"), root.path().join("d")).unwrap();
        }
    }

    fn dir_count(p: &Path) -> usize {
        std::fs::read_dir(p).unwrap().count()
    }

    /// An absolute symlink whose target is inside the root still works (re-checked and
    /// reopened beneath the root), and uploading over an outside symlink replaces the link.
    #[test]
    fn absolute_symlink_inside_root_is_followed_and_outside_link_is_replaced_on_upload() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("t"), b"outside").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("in"), b"inside").unwrap();
        std::os::unix::fs::symlink(root.path().join("in"), root.path().join("abs")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("t"), root.path().join("out")).unwrap();
        let fs = FsStorage::new(root.path()).unwrap();
        assert_eq!(block_on(fs.metadata(&vp("/abs"))).unwrap().len, 6);
        block_on(async {
            let mut up = fs
                .open_write(&vp("/out"), WriteMode::Replace)
                .await
                .unwrap();
            up.write_all(b"new").await.unwrap();
            up.commit().await.unwrap();
        });
        assert_eq!(std::fs::read(outside.path().join("t")).unwrap(), b"outside");
        assert_eq!(std::fs::read(root.path().join("out")).unwrap(), b"new");
        assert!(!std::fs::symlink_metadata(root.path().join("out"))
            .unwrap()
            .is_symlink());
    }

    /// Writes `data` to `path` with `mode` and commits it.
    fn upload(fs: &FsStorage, path: &str, mode: WriteMode, data: &[u8]) {
        block_on(async {
            let mut up = fs.open_write(&vp(path), mode).await.unwrap();
            up.write_all(data).await.unwrap();
            up.close().await.unwrap();
            up.commit().await.unwrap();
        })
    }

    #[test]
    fn an_upload_has_no_name_on_disk_until_it_is_committed() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"old").unwrap();
        let fs = FsStorage::new(root.path()).unwrap().fsync_uploads(true);
        block_on(async {
            let mut up = fs.open_write(&vp("/f"), WriteMode::Replace).await.unwrap();
            up.write_all(b"new data").await.unwrap();
            up.flush().await.unwrap();
            assert_eq!(dir_count(root.path()), 1, "a temporary is visible");
            up.commit().await.unwrap();
        });
        assert_eq!(std::fs::read(root.path().join("f")).unwrap(), b"new data");
        assert_eq!(dir_count(root.path()), 1);
        assert!(!fs.root.named_temps.load(Ordering::Relaxed));
        upload(&fs, "/fresh", WriteMode::CreateNew, b"u");
        assert_eq!(std::fs::read(root.path().join("fresh")).unwrap(), b"u");
    }

    #[test]
    fn without_o_tmpfile_a_named_temporary_is_used_and_removed_on_failure() {
        let root = tempfile::tempdir().unwrap();
        let fs = FsStorage::new(root.path()).unwrap().fsync_uploads(true);
        fs.root.tmpfile.store(false, Ordering::Relaxed);
        block_on(async {
            let mut up = fs.open_write(&vp("/f"), WriteMode::Replace).await.unwrap();
            up.write_all(b"cut off").await.unwrap();
            let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
            assert_eq!(names.len(), 1);
            let name = names[0].as_ref().unwrap().file_name();
            assert!(is_temp_name(name.as_bytes()), "{name:?}");
        });
        assert_eq!(dir_count(root.path()), 0);
        assert!(fs.root.named_temps.load(Ordering::Relaxed));
        assert!(fs.root.next_sweep.load(Ordering::Relaxed) < u64::MAX);
        upload(&fs, "/f", WriteMode::Replace, b"whole");
        assert_eq!(std::fs::read(root.path().join("f")).unwrap(), b"whole");
        assert_eq!(dir_count(root.path()), 1);
    }

    #[test]
    fn clients_cannot_create_names_of_upload_temporaries() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"x").unwrap();
        let fs = FsStorage::new(root.path()).unwrap();
        let temp = "/.f.ftp-upload-0123456789abcdef";
        for mode in [WriteMode::Replace, WriteMode::CreateNew] {
            let r = block_on(fs.open_write(&vp(temp), mode));
            assert!(matches!(r, Err(StorageError::PermissionDenied)));
        }
        let denied = |r| matches!(r, Err(StorageError::PermissionDenied));
        assert!(denied(block_on(fs.mkdir(&vp(temp)))));
        assert!(denied(block_on(fs.rename(&vp("/f"), &vp(temp)))));
        assert_eq!(dir_count(root.path()), 1);
    }

    /// Sets the modification time of `p` to `secs` seconds ago.
    fn age(p: &Path, secs: u64) {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn sweeping_removes_only_old_unlocked_temporaries_anywhere_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        let p = |n: &str| root.path().join(n);
        std::fs::create_dir_all(p("a/b")).unwrap();
        let stale = [
            "a/b/.x.ftp-upload-0000000000000001",
            ".y.ftp-upload-00000000000000aa",
        ];
        let young = ".z.ftp-upload-0000000000000002";
        let locked = "a/.w.ftp-upload-0000000000000003";
        let other = ["a/.x.ftp-upload-notours", "a/b/x"];
        for n in stale.iter().chain(&[young, locked]).chain(&other) {
            std::fs::write(p(n), b"debris").unwrap();
        }
        for n in stale.iter().chain(&[locked]).chain(&other) {
            age(&p(n), 3600);
        }
        // A live upload (of any process) holds the lock; directories are never removed.
        let held = std::fs::File::open(p(locked)).unwrap();
        rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
        std::fs::create_dir(p(".d.ftp-upload-0000000000000004")).unwrap();
        std::os::unix::fs::symlink(root.path(), p("a/loop")).unwrap();
        let fs = FsStorage::new(root.path()).unwrap();
        let r = fs.sweep_temporaries();
        assert_eq!((r.removed, r.bytes, r.kept), (2, 12, 2), "{r:?}");
        for n in stale {
            assert!(!p(n).exists(), "{n}");
        }
        for n in other.iter().chain(&[young, locked]) {
            assert!(p(n).exists(), "{n}");
        }
        // What was kept is looked at again soon.
        assert!(fs.root.next_sweep.load(Ordering::Relaxed) < u64::MAX);
        drop(held);
    }

    #[test]
    fn a_removed_root_is_unavailable_until_a_directory_is_back_at_its_path() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("root");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("f"), b"one").unwrap();
        let fs = FsStorage::new(&dir).unwrap();
        let recheck = || fs.root.checked.store(0, Ordering::Relaxed);
        std::fs::remove_dir_all(&dir).unwrap();
        recheck();
        std::thread::sleep(ROOT_CHECK);
        for r in [
            block_on(fs.metadata(&vp("/f"))).map(drop),
            block_on(fs.open_write(&vp("/new"), WriteMode::Replace)).map(drop),
            block_on(fs.mkdir(&vp("/d"))),
        ] {
            assert!(matches!(r, Err(StorageError::Unavailable)), "{r:?}");
        }
        assert_eq!(dir_count(parent.path()), 0, "nothing created outside");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("g"), b"two").unwrap();
        recheck();
        std::thread::sleep(ROOT_CHECK);
        assert_eq!(block_on(fs.metadata(&vp("/g"))).unwrap().len, 3);
        // Replaced by another directory: that one is served; by a symlink: not followed.
        std::fs::rename(&dir, parent.path().join("old")).unwrap();
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("h"), b"three").unwrap();
        recheck();
        std::thread::sleep(ROOT_CHECK);
        assert_eq!(block_on(fs.metadata(&vp("/h"))).unwrap().len, 5);
        std::fs::rename(&dir, parent.path().join("older")).unwrap();
        std::os::unix::fs::symlink(parent.path().join("old"), &dir).unwrap();
        recheck();
        std::thread::sleep(ROOT_CHECK);
        assert_eq!(block_on(fs.metadata(&vp("/h"))).unwrap().len, 5);
    }

    /// STOU's commit never replaces a file created after the name was chosen.
    #[test]
    fn create_new_commit_does_not_replace_a_file_created_meanwhile() {
        let root = tempfile::tempdir().unwrap();
        let fs = FsStorage::new(root.path()).unwrap();
        let up = block_on(fs.open_write(&vp("/u"), WriteMode::CreateNew)).unwrap();
        std::fs::write(root.path().join("u"), b"first").unwrap();
        assert!(block_on(up.commit()).is_err());
        assert_eq!(std::fs::read(root.path().join("u")).unwrap(), b"first");
        assert_eq!(dir_count(root.path()), 1);
    }
}
