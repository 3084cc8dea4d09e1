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
//! [`crate::data::receive_file`]).

use std::ffi::{CStr, OsStr};
use std::io::{Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use blocking::{unblock, Unblock};
use futures_lite::io::{AsyncWrite, AsyncWriteExt};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, ResolveFlags};
use rustix::io::Errno;

use super::{
    BoxFuture, DirEntry, EntryFormatter, FileId, FileKind, Metadata, ReadStream, Storage,
    StorageError, Upload, WriteMode,
};
use crate::vpath::VPath;

/// Buffer size between the blocking pool and a transfer.
const IO_BUFFER: usize = 256 * 1024;

/// Buffer size between an upload and the blocking pool (allocated when the first write
/// arrives): large writes mean fewer system calls and thread hand-offs per GiB.
const UPLOAD_BUFFER: usize = 1024 * 1024;

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
}

impl FsStorage {
    /// Serves `root`, which must be an existing directory. The directory is opened once: if
    /// it is later renamed, this storage keeps serving it.
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
                fd,
                openat2: AtomicBool::new(openat2),
                born: Instant::now(),
                pooled_until: AtomicU64::new(pooled_until),
            }),
        })
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
    fd: OwnedFd,
    openat2: AtomicBool,
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

    /// Opens `rel` beneath the root, following symlinks only while they stay inside it.
    fn open_inner(&self, rel: &Path, flags: OFlags, mode: Mode) -> Result<OwnedFd, Resolve> {
        let flags = flags | OFlags::CLOEXEC;
        if self.openat2.load(Ordering::Relaxed) {
            // EAGAIN: a concurrent rename raced a `..` lookup; the kernel asks to retry.
            for _ in 0..8 {
                match rustix::fs::openat2(&self.fd, rel, flags, mode, RESOLVE) {
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
                        return rustix::fs::openat2(&self.fd, &canon, flags, mode, RESOLVE)
                            .map_err(|e| match e {
                                Errno::XDEV | Errno::LOOP => Resolve::Escape,
                                e => Resolve::Failed(errno(e)),
                            });
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
        rustix::fs::openat(&self.fd, &canon, flags, mode).map_err(|e| Resolve::Failed(errno(e)))
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

    /// The parent directory of `p` (opened beneath the root) and `p`'s last component.
    fn parent<'p>(&self, p: &'p VPath) -> Result<(OwnedFd, &'p OsStr), StorageError> {
        if p.is_root() {
            return Err(StorageError::PermissionDenied);
        }
        let dir = self.open(&p.parent(), OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        Ok((dir, OsStr::from_bytes(p.file_name())))
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

fn temp_name(name: &[u8]) -> Vec<u8> {
    let mut n = b".".to_vec();
    n.extend_from_slice(name);
    n.extend_from_slice(format!(".ftp-upload-{:016x}", rand::random::<u64>()).as_bytes());
    n
}

/// A temporary file in `dir` to be renamed to `name` on commit.
#[derive(Debug)]
struct Pending {
    dir: OwnedFd,
    temp: Vec<u8>,
    name: Vec<u8>,
    /// `STOU`: never replace an existing file, even one created meanwhile.
    no_replace: bool,
}

impl Pending {
    fn discard(&self) {
        let _ = rustix::fs::unlinkat(&self.dir, OsStr::from_bytes(&self.temp), AtFlags::empty());
    }

    fn finish(&self) -> Result<(), StorageError> {
        let (t, n) = (OsStr::from_bytes(&self.temp), OsStr::from_bytes(&self.name));
        let r = if self.no_replace {
            rustix::fs::renameat_with(&self.dir, t, &self.dir, n, RenameFlags::NOREPLACE)
        } else {
            rustix::fs::renameat(&self.dir, t, &self.dir, n)
        };
        r.map_err(|e| {
            self.discard();
            std::io::Error::from(e).into()
        })
    }
}

/// Where an upload's bytes go: the file itself until the first [`AsyncWrite`] call (so the
/// server can `splice(2)` into it, see [`Upload::local_file`]), then a buffered pipe to the
/// blocking pool.
#[derive(Debug)]
enum Sink {
    Local(std::fs::File),
    Pooled(Unblock<std::fs::File>),
}

/// A file being written; see [`Upload`].
#[derive(Debug)]
struct FsUpload {
    file: Option<Sink>,
    /// Set when the data goes to a temporary file first.
    rename: Option<Pending>,
}

impl FsUpload {
    /// The pooled writer, switching to it on first use.
    fn pooled(&mut self) -> Option<&mut Unblock<std::fs::File>> {
        if let Some(Sink::Local(_)) = self.file {
            if let Some(Sink::Local(f)) = self.file.take() {
                self.file = Some(Sink::Pooled(Unblock::with_capacity(UPLOAD_BUFFER, f)));
            }
        }
        match self.file.as_mut() {
            Some(Sink::Pooled(u)) => Some(u),
            _ => None,
        }
    }
}

impl AsyncWrite for FsUpload {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.pooled() {
            Some(f) => Pin::new(f).poll_write(cx, buf),
            None => Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.file.as_mut() {
            Some(Sink::Pooled(f)) => Pin::new(f).poll_flush(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = match self.file.as_mut() {
            Some(Sink::Pooled(f)) => std::task::ready!(Pin::new(f).poll_close(cx)),
            Some(Sink::Local(_)) => Ok(()),
            None => return Poll::Ready(Ok(())),
        };
        // The file is closed (and dropped); nothing more to write.
        self.file = None;
        Poll::Ready(r)
    }
}

impl Upload for FsUpload {
    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        let file = self.file.take();
        let rename = self.rename.take();
        Box::pin(async move {
            let local = match file {
                Some(Sink::Pooled(mut f)) => {
                    if let Err(e) = f.close().await {
                        if let Some(p) = &rename {
                            p.discard();
                        }
                        return Err(e.into());
                    }
                    None
                }
                Some(Sink::Local(f)) => Some(f),
                None => None,
            };
            if local.is_some() || rename.is_some() {
                unblock(move || {
                    drop(local);
                    match rename {
                        Some(p) => p.finish(),
                        None => Ok(()),
                    }
                })
                .await?;
            }
            Ok(())
        })
    }

    fn local_file(&mut self) -> Option<&std::fs::File> {
        match self.file.as_ref() {
            Some(Sink::Local(f)) => Some(f),
            _ => None,
        }
    }
}

impl Drop for FsUpload {
    fn drop(&mut self) {
        if let Some(p) = self.rename.take() {
            p.discard();
        }
    }
}

impl Storage for FsStorage {
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
        let r = self.root.clone();
        let path = path.clone();
        Box::pin(async move {
            let (file, rename) = unblock(move || {
                let create = Mode::from_raw_mode(0o666);
                match mode {
                    WriteMode::Replace | WriteMode::CreateNew => {
                        let (dir, name) = r.parent(&path)?;
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
                                            FileType::from_raw_mode(t.st_mode)
                                                == FileType::Directory
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
                        let temp = temp_name(path.file_name());
                        let fd = rustix::fs::openat(
                            &dir,
                            OsStr::from_bytes(&temp),
                            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
                            create,
                        )
                        .map_err(errno)?;
                        let pending = Pending {
                            dir,
                            temp,
                            name: name.as_bytes().to_vec(),
                            no_replace: mode == WriteMode::CreateNew,
                        };
                        Ok((std::fs::File::from(fd), Some(pending)))
                    }
                    WriteMode::Append => {
                        let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE;
                        let fd = r.open(&path, flags, create)?;
                        Ok((std::fs::File::from(fd), None))
                    }
                    WriteMode::At(offset) => {
                        let fd = r.open(&path, OFlags::WRONLY | OFlags::CREATE, create)?;
                        let mut f = std::fs::File::from(fd);
                        f.set_len(offset)?;
                        f.seek(SeekFrom::Start(offset))?;
                        Ok((f, None))
                    }
                }
            })
            .await?;
            Ok(Box::new(FsUpload {
                file: Some(Sink::Local(file)),
                rename,
            }) as Box<dyn Upload>)
        })
    }

    fn mkdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = self.root.clone();
        let path = path.clone();
        Box::pin(unblock(move || {
            let (dir, name) = r.parent(&path)?;
            rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o777)).map_err(errno)
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
            let (tdir, tname) = r.parent(&to)?;
            rustix::fs::renameat(&fdir, fname, &tdir, tname).map_err(errno)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use futures_lite::io::AsyncReadExt;

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
            if e.metadata.len % 2 == 0 {
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
