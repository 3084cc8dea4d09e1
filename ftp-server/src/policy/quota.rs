//! Disk quotas: how many bytes and files a user may keep ([`Quota`]), counted once by a
//! bounded scan through the [`Storage`] trait (so every backend has quotas) and then kept up
//! to date by the server's own uploads, deletes and renames; a scan again after
//! `quota_rescan` corrects what changed behind the server's back.
//!
//! An upload holds a [`Reservation`] while it runs, through [`QuotaUpload`], which refuses the
//! write that would cross the quota (`EDQUOT`, answered `552`): the transfer then ends
//! without a commit, so a new file or a replacement never becomes visible. Other features
//! that store bytes (a server-side copy) use [`Quota::check`] before and [`Quota::charge`]
//! after.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::io::AsyncWrite;

use crate::storage::{BoxFuture, FileKind, Storage, StorageError, Upload};
use crate::vpath::VPath;

/// The most entries a quota scan reads; past it the scan stops and counts what it saw
/// (logged), so a huge tree costs a bounded amount of work.
pub const MAX_SCAN_ENTRIES: usize = 1_000_000;

/// The deepest directory a quota scan enters.
pub const MAX_SCAN_DEPTH: usize = 64;

/// What a user stores: bytes and files (directories are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes in regular files.
    pub bytes: u64,
    /// Regular files.
    pub files: u64,
}

/// One user's quota and what the user stores now, shared by all of that user's sessions.
///
/// ```
/// use ftp_server::policy::quota::{Quota, Usage};
/// use ftp_server::storage::{MemStorage, StorageError};
/// use ftp_server::vpath::VPath;
/// use std::time::Duration;
///
/// let mem = MemStorage::new(1 << 20);
/// mem.insert_file(&VPath::root().join(b"a").unwrap(), vec![0; 600]).unwrap();
/// let q = Quota::new(Some(1000), Some(10), Duration::from_secs(3600));
/// futures_lite::future::block_on(async {
///     assert_eq!(q.usage(&mem).await.unwrap(), Usage { bytes: 600, files: 1 });
///     // A copy of 600 more bytes does not fit; one of 400 does, and is charged after.
///     assert!(matches!(q.check(&mem, 600, 1).await, Err(StorageError::QuotaExceeded)));
///     q.check(&mem, 400, 1).await.unwrap();
///     q.charge(400, 1);
///     assert_eq!(q.usage(&mem).await.unwrap(), Usage { bytes: 1000, files: 2 });
/// });
/// ```
#[derive(Debug)]
pub struct Quota {
    bytes: Option<u64>,
    files: Option<u64>,
    rescan: Duration,
    state: Mutex<State>,
    /// One scan at a time.
    scanning: async_lock::Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    /// What the last scan found, with the server's own changes since; `None` before the
    /// first scan.
    usage: Option<Usage>,
    scanned: Option<Instant>,
    /// Bytes the running uploads wrote, less what they will remove when they commit.
    pending_bytes: i64,
    /// Files the running uploads will create.
    pending_files: u64,
    /// Uploads running (no rescan while some are: their bytes would be counted twice).
    open: usize,
}

impl State {
    /// The bytes and files stored with what the running uploads add.
    fn with_pending(&self) -> (i64, u64) {
        let u = self.usage.unwrap_or_default();
        (
            i64::try_from(u.bytes).unwrap_or(i64::MAX) + self.pending_bytes,
            u.files + self.pending_files,
        )
    }
}

impl Quota {
    /// A quota of at most `bytes` and `files` (`None`: no limit on that one), rescanned when
    /// the last scan is older than `rescan`.
    pub fn new(bytes: Option<u64>, files: Option<u64>, rescan: Duration) -> Quota {
        Quota {
            bytes,
            files,
            rescan,
            state: Mutex::new(State::default()),
            scanning: async_lock::Mutex::new(()),
        }
    }

    /// The byte limit.
    pub fn bytes_limit(&self) -> Option<u64> {
        self.bytes
    }

    /// The file limit.
    pub fn files_limit(&self) -> Option<u64> {
        self.files
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Scans `storage` when it never was or the last scan is older than the rescan interval
    /// (and no upload runs).
    async fn refresh(&self, storage: &dyn Storage) -> Result<(), StorageError> {
        let due = |s: &State| match s.scanned {
            None => true,
            Some(at) => s.open == 0 && at.elapsed() >= self.rescan,
        };
        if !due(&self.lock()) {
            return Ok(());
        }
        let _one = self.scanning.lock().await;
        if !due(&self.lock()) {
            return Ok(());
        }
        let found = scan(storage).await?;
        let mut s = self.lock();
        if s.open == 0 || s.usage.is_none() {
            s.usage = Some(found);
        }
        s.scanned = Some(Instant::now());
        Ok(())
    }

    /// What the user stores now (scanning first if due).
    pub async fn usage(&self, storage: &dyn Storage) -> Result<Usage, StorageError> {
        self.refresh(storage).await?;
        Ok(self.lock().usage.unwrap_or_default())
    }

    /// The bytes the user may still store (`None`: no byte limit), running uploads counted.
    pub async fn bytes_left(&self, storage: &dyn Storage) -> Result<Option<u64>, StorageError> {
        self.refresh(storage).await?;
        let (used, _) = self.lock().with_pending();
        Ok(self
            .bytes
            .map(|limit| u64::try_from(i64::try_from(limit).unwrap_or(i64::MAX) - used.max(0)))
            .map(|left| left.unwrap_or(0)))
    }

    /// `Ok` when `bytes` and `files` more fit in the quota, else
    /// [`StorageError::QuotaExceeded`]; charges nothing (see [`Quota::charge`]).
    pub async fn check(
        &self,
        storage: &dyn Storage,
        bytes: u64,
        files: u64,
    ) -> Result<(), StorageError> {
        self.refresh(storage).await?;
        self.fits(
            &self.lock(),
            i64::try_from(bytes).unwrap_or(i64::MAX),
            files,
        )
    }

    fn fits(&self, s: &State, bytes: i64, files: u64) -> Result<(), StorageError> {
        let (used, used_files) = s.with_pending();
        let over_bytes = self.bytes.is_some_and(|l| {
            bytes > 0 && used.saturating_add(bytes) > i64::try_from(l).unwrap_or(i64::MAX)
        });
        let over_files = self
            .files
            .is_some_and(|l| files > 0 && used_files.saturating_add(files) > l);
        if over_bytes || over_files {
            Err(StorageError::QuotaExceeded)
        } else {
            Ok(())
        }
    }

    /// Counts a change the server made: `bytes` and `files` more (negative: fewer). Before
    /// the first scan there is nothing to correct (the scan will see the change).
    pub fn charge(&self, bytes: i64, files: i64) {
        let mut s = self.lock();
        if let Some(u) = s.usage.as_mut() {
            u.bytes = u.bytes.saturating_add_signed(bytes);
            u.files = u.files.saturating_add_signed(files);
        }
    }

    /// Starts an upload that will remove `credit` bytes of an existing file when it is
    /// committed (what it replaces or truncates) and creates a file if `new_file`; it is
    /// `in_place` when its bytes stay even without a commit (`APPE`, `REST`). Refused when
    /// `size` bytes (from `ALLO`; at least one byte for an in-place write) would not fit, or a
    /// new file would exceed the file limit.
    pub async fn reserve(
        self: &Arc<Self>,
        storage: &dyn Storage,
        planned: Planned,
    ) -> Result<Reservation, StorageError> {
        self.refresh(storage).await?;
        let mut s = self.lock();
        let credit = i64::try_from(planned.credit).unwrap_or(i64::MAX);
        let size = i64::try_from(planned.size).unwrap_or(i64::MAX);
        self.fits(&s, size - credit, u64::from(planned.new_file))?;
        s.open += 1;
        s.pending_bytes -= credit;
        s.pending_files += u64::from(planned.new_file);
        Ok(Reservation {
            quota: self.clone(),
            planned,
            written: 0,
            done: false,
        })
    }
}

/// What an upload will do, as [`Quota::reserve`] needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Planned {
    /// Bytes of an existing file the upload removes (a replaced file, a truncated tail).
    pub credit: u64,
    /// The upload creates a file.
    pub new_file: bool,
    /// Its bytes stay even without a commit (`APPE`, `REST` + `STOR`).
    pub in_place: bool,
    /// Bytes it announced (`ALLO`), else 0.
    pub size: u64,
}

/// A running upload's share of the quota; released when dropped, counted when committed
/// (or, for in-place writes, in any case).
#[derive(Debug)]
pub struct Reservation {
    quota: Arc<Quota>,
    planned: Planned,
    written: u64,
    done: bool,
}

impl Reservation {
    /// Whether `n` more bytes fit: [`StorageError::QuotaExceeded`] when they would cross the
    /// quota.
    pub fn check(&self, n: u64) -> Result<(), StorageError> {
        let s = self.quota.lock();
        self.quota.fits(&s, i64::try_from(n).unwrap_or(i64::MAX), 0)
    }

    /// `n` more bytes were written.
    pub fn wrote(&mut self, n: u64) {
        let mut s = self.quota.lock();
        s.pending_bytes += i64::try_from(n).unwrap_or(i64::MAX);
        self.written += n;
    }

    /// The upload is visible: its bytes and file become usage.
    pub fn commit(mut self) {
        self.settle(true);
    }

    /// The upload never started (its file could not be opened): nothing to count.
    pub fn cancel(mut self) {
        self.settle(false);
    }

    /// Ends the reservation; what was written becomes usage if it `stays`.
    fn settle(&mut self, stays: bool) {
        if self.done {
            return;
        }
        self.done = true;
        let p = self.planned;
        let written = i64::try_from(self.written).unwrap_or(i64::MAX);
        let credit = i64::try_from(p.credit).unwrap_or(i64::MAX);
        let mut s = self.quota.lock();
        s.open = s.open.saturating_sub(1);
        s.pending_bytes += credit - written;
        s.pending_files = s.pending_files.saturating_sub(u64::from(p.new_file));
        if let (true, Some(u)) = (stays, s.usage.as_mut()) {
            // An in-place write created its file and truncated its tail when it opened,
            // whatever came after.
            u.bytes = u.bytes.saturating_add_signed(written - credit);
            u.files += u64::from(p.new_file);
        }
    }
}

/// Dropped without a commit: a new file or a replacement is discarded, so nothing counts;
/// an in-place write (`APPE`, `REST`) keeps what reached storage, which does.
impl Drop for Reservation {
    fn drop(&mut self) {
        let in_place = self.planned.in_place;
        self.settle(in_place);
    }
}

/// An upload counted against a quota: a write that would cross it fails with `EDQUOT`
/// (before anything of it is written), the commit counts the bytes. Bytes the server
/// `splice`s into its local file are counted through [`Upload::admit`] the same way.
pub struct QuotaUpload {
    inner: Box<dyn Upload>,
    reservation: Reservation,
}

impl std::fmt::Debug for QuotaUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaUpload")
            .field("reservation", &self.reservation)
            .finish_non_exhaustive()
    }
}

impl QuotaUpload {
    /// `inner`, counted in `reservation`.
    pub fn new(inner: Box<dyn Upload>, reservation: Reservation) -> QuotaUpload {
        QuotaUpload { inner, reservation }
    }
}

impl AsyncWrite for QuotaUpload {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // Checked first, so a write that would cross writes nothing; what the backend took
        // is counted (it is stored, if only until the upload is discarded).
        if this.reservation.check(buf.len() as u64).is_err() {
            return Poll::Ready(Err(io::ErrorKind::QuotaExceeded.into()));
        }
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            this.reservation.wrote(n as u64);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl Upload for QuotaUpload {
    fn local_file(&mut self) -> Option<&std::fs::File> {
        self.inner.local_file()
    }

    fn admit(&mut self, n: u64) -> io::Result<()> {
        if self.reservation.check(n).is_err() {
            return Err(io::ErrorKind::QuotaExceeded.into());
        }
        self.inner.admit(n)?;
        self.reservation.wrote(n);
        Ok(())
    }

    fn record_sha256(&mut self, digest: [u8; 32]) {
        self.inner.record_sha256(digest);
    }

    fn keeps_sha256(&self) -> bool {
        self.inner.keeps_sha256()
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        let QuotaUpload { inner, reservation } = *self;
        Box::pin(async move {
            inner.commit().await?;
            reservation.commit();
            Ok(())
        })
    }
}

/// Counts the regular files under the root of `storage` and their bytes, reading at most
/// [`MAX_SCAN_ENTRIES`] entries and [`MAX_SCAN_DEPTH`] levels.
pub async fn scan(storage: &dyn Storage) -> Result<Usage, StorageError> {
    let mut usage = Usage::default();
    let mut dirs = VecDeque::from([(VPath::root(), 0usize)]);
    let mut seen = 0usize;
    while let Some((dir, depth)) = dirs.pop_front() {
        let entries = match storage.list(&dir).await {
            Ok(e) => e,
            // Removed or unreadable meanwhile: what it held is not there for the user either.
            Err(StorageError::NotFound | StorageError::PermissionDenied) => continue,
            Err(e) => return Err(e),
        };
        for e in entries {
            seen += 1;
            if seen > MAX_SCAN_ENTRIES {
                log::warn!("quota scan stopped after {MAX_SCAN_ENTRIES} entries");
                return Ok(usage);
            }
            match e.metadata.kind {
                FileKind::File => {
                    usage.bytes = usage.bytes.saturating_add(e.metadata.len);
                    usage.files += 1;
                }
                FileKind::Dir if depth < MAX_SCAN_DEPTH => {
                    if let Ok(p) = dir.join(&e.name) {
                        dirs.push_back((p, depth + 1));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;
    use futures_lite::future::block_on;

    fn setup(bytes: u64, files: u64) -> (MemStorage, Arc<Quota>) {
        let mem = MemStorage::new(1 << 20);
        mem.insert_file(&VPath::root().join(b"a").unwrap(), vec![0; 40])
            .unwrap();
        let q = Arc::new(Quota::new(
            Some(bytes),
            Some(files),
            Duration::from_secs(3600),
        ));
        (mem, q)
    }

    fn usage(mem: &MemStorage, q: &Quota) -> (u64, u64) {
        let u = block_on(q.usage(mem)).unwrap();
        (u.bytes, u.files)
    }

    #[test]
    fn a_committed_replacement_counts_its_size_less_the_old_file() {
        let (mem, q) = setup(100, 5);
        let planned = Planned {
            credit: 40,
            ..Planned::default()
        };
        let mut r = block_on(q.reserve(&mem, planned)).unwrap();
        // The old file's 40 bytes are room for the new version: 100 in all fit.
        r.check(100).unwrap();
        r.wrote(100);
        assert!(r.check(1).is_err());
        r.commit();
        assert_eq!(usage(&mem, &q), (100, 1));
    }

    #[test]
    fn a_dropped_new_file_counts_nothing_a_dropped_append_its_bytes() {
        let (mem, q) = setup(100, 5);
        let new = Planned {
            new_file: true,
            ..Planned::default()
        };
        let mut r = block_on(q.reserve(&mem, new)).unwrap();
        r.wrote(30);
        drop(r);
        assert_eq!(usage(&mem, &q), (40, 1));
        let append = Planned {
            in_place: true,
            size: 1,
            ..Planned::default()
        };
        let mut r = block_on(q.reserve(&mem, append)).unwrap();
        r.wrote(30);
        drop(r);
        assert_eq!(usage(&mem, &q), (70, 1));
        // An upload that never opened its file counts nothing, in place or not.
        block_on(q.reserve(&mem, append)).unwrap().cancel();
        assert_eq!(usage(&mem, &q), (70, 1));
    }

    #[test]
    fn reservations_are_refused_over_the_limits() {
        let (mem, q) = setup(100, 1);
        let new = Planned {
            new_file: true,
            ..Planned::default()
        };
        assert!(matches!(
            block_on(q.reserve(&mem, new)),
            Err(StorageError::QuotaExceeded)
        ));
        let big = Planned {
            size: 61,
            ..Planned::default()
        };
        assert!(block_on(q.reserve(&mem, big)).is_err());
        // Two uploads at once share what is left.
        let mut a = block_on(q.reserve(&mem, Planned::default())).unwrap();
        let b = block_on(q.reserve(&mem, Planned::default())).unwrap();
        a.wrote(50);
        assert!(b.check(11).is_err());
        b.check(10).unwrap();
    }

    #[test]
    fn the_scan_counts_files_in_subdirectories_not_directories() {
        let mem = MemStorage::new(1 << 20);
        let d = VPath::root().join(b"d").unwrap();
        block_on(mem.mkdir(&d)).unwrap();
        mem.insert_file(&d.join(b"x").unwrap(), vec![0; 7]).unwrap();
        mem.insert_file(&VPath::root().join(b"y").unwrap(), vec![0; 5])
            .unwrap();
        assert_eq!(
            block_on(scan(&mem)).unwrap(),
            Usage {
                bytes: 12,
                files: 2
            }
        );
    }
}
