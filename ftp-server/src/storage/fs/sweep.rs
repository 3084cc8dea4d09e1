//! Sweeping the named temporaries that interrupted uploads leave behind.
//!
//! Uploads normally go to anonymous `O_TMPFILE` files, which a crash cannot leave behind (see
//! [`super::upload`]). Named temporaries `.NAME.ftp-upload-<16 hex>` remain where the
//! filesystem refuses `O_TMPFILE`, in the instant between linking and renaming a finished
//! upload, and from server versions before anonymous uploads. The [`Sweeper`] walks every
//! served root once at start-up and then, every [`SWEEP_EVERY`], the roots that use named
//! temporaries (or where it found one it had to keep), and removes each regular file of that
//! name pattern that nobody holds a `flock` on (a live upload always does, in any process)
//! and that is older than [`MIN_AGE`]. It never follows a symlink, never leaves the root
//! (directories are opened with the root's `openat2(RESOLVE_BENEATH)`) and skips the
//! kernel's pseudo filesystems (`/proc`, `/sys`, ...) mounted inside it. Every removal and
//! every sweep that removed anything is logged.

use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::upload::is_temp_name;
use super::{metadata_of, FsStorage, Root};

/// A temporary younger than this is kept even when unlocked: it may have been created an
/// instant ago, before its upload took the lock.
pub(super) const MIN_AGE: Duration = Duration::from_secs(60);

/// Where the filesystem has no `flock`, a temporary is removed only after this long
/// (longer than any upload may stall: `data_timeout` aborts those).
const MIN_AGE_UNLOCKED: Duration = Duration::from_secs(3600);

/// How often a root that uses named temporaries is swept again.
pub(super) const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// How often the [`Sweeper`] looks for roots that are due.
const TICK: Duration = Duration::from_secs(60);

/// What one sweep of a root did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Stale temporaries removed.
    pub removed: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Temporaries kept: being written (locked) or too young to tell.
    pub kept: usize,
    /// Directories read.
    pub directories: usize,
    /// Directories or files that could not be read or removed.
    pub errors: usize,
}

impl FsStorage {
    /// Removes the stale temporaries of interrupted uploads anywhere under the root: regular
    /// files named `.NAME.ftp-upload-<16 hex digits>` that no upload holds an `flock` on and
    /// that are older than a minute (an hour where the filesystem has no locks). It never
    /// follows symlinks, never leaves the root and skips `/proc`-like pseudo filesystems;
    /// each removal is logged. Blocking: it reads the whole tree. The server runs it in the
    /// background through [`Sweeper`].
    ///
    /// ```
    /// use ftp_server::storage::FsStorage;
    /// let dir = tempfile::tempdir().unwrap();
    /// let fs = FsStorage::new(dir.path()).unwrap();
    /// assert_eq!(fs.sweep_temporaries().removed, 0);
    /// ```
    pub fn sweep_temporaries(&self) -> SweepReport {
        sweep(&self.root, MIN_AGE, &|| false)
    }
}

/// Walks the tree under `root` and removes stale temporaries, until `stop` says so.
fn sweep(root: &Root, min_age: Duration, stop: &dyn Fn() -> bool) -> SweepReport {
    let mut report = SweepReport::default();
    let mut pending = vec![PathBuf::from(".")];
    while let Some(rel) = pending.pop() {
        if stop() {
            break;
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW;
        let Ok(fd) = root.open_inner(&rel, flags, Mode::empty()) else {
            report.errors += 1;
            continue;
        };
        if is_pseudo_fs(&fd) {
            continue;
        }
        report.directories += 1;
        sweep_dir(root, &fd, &rel, min_age, &mut pending, &mut report);
    }
    let now = root.born.elapsed();
    let next = if report.kept > 0 {
        Some(now + min_age)
    } else if root.named_temps.load(Ordering::Relaxed) {
        Some(now + SWEEP_EVERY)
    } else {
        None
    };
    let next = next.map_or(u64::MAX, |t| {
        u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)
    });
    root.next_sweep.store(next, Ordering::Relaxed);
    report
}

/// True for the kernel's pseudo filesystems (`/proc`, `/sys` and the like), where no upload
/// can have been written: a root of `/` is not swept through them.
fn is_pseudo_fs(dir: &OwnedFd) -> bool {
    const PSEUDO: [u64; 12] = [
        0x9FA0,      // proc
        0x6265_6572, // sysfs
        0x1CD1,      // devpts
        0x0027_E0EB, // cgroup
        0x6367_7270, // cgroup2
        0x6462_6720, // debugfs
        0x7472_6163, // tracefs
        0x7363_6673, // securityfs
        0xCAFE_4A11, // bpf
        0x6573_5546, // fusectl
        0x6265_6570, // configfs
        0x6165_6C42, // pstore
    ];
    #[allow(clippy::unnecessary_cast)] // f_type's integer type varies by target
    rustix::fs::fstatfs(dir).is_ok_and(|st| PSEUDO.contains(&((st.f_type as u64) & 0xFFFF_FFFF)))
}

/// Sweeps the entries of one directory, queueing its subdirectories.
fn sweep_dir(
    root: &Root,
    dir: &OwnedFd,
    rel: &Path,
    min_age: Duration,
    pending: &mut Vec<PathBuf>,
    report: &mut SweepReport,
) {
    let mut buf = Vec::with_capacity(32 << 10);
    let mut entries = rustix::fs::RawDir::new(dir, buf.spare_capacity_mut());
    while let Some(e) = entries.next() {
        let Ok(e) = e else {
            report.errors += 1;
            break;
        };
        let name = e.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        let kind = match e.file_type() {
            FileType::Unknown => rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .map_or(FileType::Unknown, |st| FileType::from_raw_mode(st.st_mode)),
            k => k,
        };
        if kind == FileType::Directory {
            pending.push(rel.join(std::ffi::OsStr::from_bytes(bytes)));
        } else if kind == FileType::RegularFile && is_temp_name(bytes) {
            sweep_file(root, dir, rel, name, min_age, report);
        }
    }
}

/// Removes the temporary `name` if nobody writes it and it is old enough.
fn sweep_file(
    root: &Root,
    dir: &OwnedFd,
    rel: &Path,
    name: &CStr,
    min_age: Duration,
    report: &mut SweepReport,
) {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::openat(dir, name, flags, Mode::empty()) else {
        report.errors += 1;
        return;
    };
    let Ok(st) = rustix::fs::fstat(&fd) else {
        report.errors += 1;
        return;
    };
    let min_age = match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => min_age,
        Err(Errno::WOULDBLOCK) => {
            report.kept += 1;
            return;
        }
        Err(_) => min_age.max(MIN_AGE_UNLOCKED),
    };
    let meta = metadata_of(&st);
    let age = meta
        .modified
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    // The name must still be this file (it carries 64 random bits: never reused).
    let same = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|now| now.st_ino == st.st_ino && now.st_dev == st.st_dev);
    if age < min_age || !same || FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        report.kept += usize::from(same);
        return;
    }
    let shown = root
        .path
        .join(rel)
        .join(std::ffi::OsStr::from_bytes(name.to_bytes()));
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => {
            log::info!(
                "removed the stale upload temporary {} ({} bytes, {} s old)",
                shown.display(),
                meta.len,
                age.as_secs()
            );
            report.removed += 1;
            report.bytes += meta.len;
        }
        Err(e) => {
            log::warn!(
                "cannot remove the stale upload temporary {}: {e}",
                shown.display()
            );
            report.errors += 1;
        }
    }
}

/// Sweeps served roots of stale upload temporaries in the background (see
/// [`FsStorage::sweep_temporaries`]): every root at start-up (a root inside another is swept
/// with it), then, every hour, the roots whose filesystem refused anonymous `O_TMPFILE`
/// uploads, and a minute later those where a sweep had to keep a temporary that was in use
/// or too young to judge. Runs on a thread of its own, which stops when the `Sweeper` is
/// dropped. [`crate::Server::run`] runs one over its users' homes.
#[derive(Debug)]
pub struct Sweeper {
    _stop: std::sync::mpsc::Sender<()>,
}

impl Sweeper {
    /// Starts sweeping `roots`.
    ///
    /// ```
    /// use ftp_server::storage::fs::Sweeper;
    /// use ftp_server::storage::FsStorage;
    /// let dir = tempfile::tempdir().unwrap();
    /// let sweeper = Sweeper::start(vec![FsStorage::new(dir.path()).unwrap()]).unwrap();
    /// drop(sweeper); // stops it
    /// ```
    pub fn start(roots: Vec<FsStorage>) -> std::io::Result<Sweeper> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("ftp-sweep".into())
            .spawn(move || run(&roots, &rx))?;
        Ok(Sweeper { _stop: tx })
    }
}

fn run(roots: &[FsStorage], rx: &Receiver<()>) {
    let stopped = || matches!(rx.try_recv(), Err(TryRecvError::Disconnected));
    for (i, s) in roots.iter().enumerate() {
        let covered = roots.iter().enumerate().any(|(j, o)| {
            let (inner, outer) = (&s.root.path, &o.root.path);
            inner.starts_with(outer) && (inner != outer || j < i)
        });
        if !covered {
            logged_sweep(&s.root, &stopped);
        }
    }
    loop {
        match rx.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        for s in roots {
            let now = u64::try_from(s.root.born.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if now >= s.root.next_sweep.load(Ordering::Relaxed) {
                logged_sweep(&s.root, &stopped);
            }
        }
    }
}

fn logged_sweep(root: &Root, stop: &dyn Fn() -> bool) {
    let started = Instant::now();
    let r = sweep(root, MIN_AGE, stop);
    let took = started.elapsed().as_millis();
    let level = if r.removed > 0 || r.errors > 0 || took >= 1000 {
        log::Level::Info
    } else {
        log::Level::Debug
    };
    log::log!(
        level,
        "swept {}: {} stale upload temporaries removed ({} bytes), {} kept (in use or younger \
         than {} s), {} directories read, {} unreadable, in {took} ms",
        root.path.display(),
        r.removed,
        r.bytes,
        r.kept,
        MIN_AGE.as_secs(),
        r.directories,
        r.errors
    );
}
