//! Uploads to the local filesystem, written so that a crash at any moment leaves nothing
//! behind and no truncated file under the final name.
//!
//! A replacing upload (`STOR`, `STOU`) goes into an anonymous file: `O_TMPFILE` in the target
//! directory, an inode without a name, which the kernel frees when its last descriptor closes,
//! also when the process is killed. Only when the upload completed is it linked into the
//! directory, with `linkat` of `/proc/self/fd/N` and `AT_SYMLINK_FOLLOW` (which needs no
//! capability, unlike `AT_EMPTY_PATH`), under a temporary name that is then renamed over the
//! target, so the replace stays atomic; `STOU` links it under its final name directly
//! (`linkat` never replaces an existing name). The splice path ([`Upload::local_file`]) is the
//! same as for any file: it writes into the descriptor.
//!
//! Where the filesystem refuses `O_TMPFILE` (NFS, SMB, most FUSE filesystems, vfat) or `/proc`
//! is not mounted, the upload goes to a named temporary file `.NAME.ftp-upload-<16 hex>`
//! instead, removed when the upload fails and swept after a crash (see [`super::sweep`]).
//! Either file carries an exclusive `flock` while it is written: that is how the sweeper tells
//! a live temporary (of this or another server process) from debris.
//!
//! `APPE` and `REST` + `STOR` write in place (their point is to extend the file that is
//! there; after a crash the client resumes from what reached the disk).
//!
//! With `fsync_uploads` the file is flushed to disk before it is linked and renamed, and the
//! directory after, so a `226` means the data is on disk.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::pin::Pin;
use std::task::{Context, Poll};

use blocking::{unblock, Unblock};
use futures_lite::io::{AsyncWrite, AsyncWriteExt};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use std::sync::atomic::{AtomicBool, Ordering};

use super::super::{BoxFuture, Sha256, StorageError, Upload};
use super::{digest, errno};

/// Buffer size between an upload and the blocking pool (allocated when the first write
/// arrives): large writes mean fewer system calls and thread hand-offs per GiB.
const UPLOAD_BUFFER: usize = 1024 * 1024;

/// What marks our temporary names: `.NAME` + this + 16 lower-case hex digits.
const TEMP_MARK: &[u8] = b".ftp-upload-";

/// The named temporary for an upload of `name`.
pub(super) fn temp_name(name: &[u8]) -> Vec<u8> {
    // No longer than the longest name (`NAME_MAX`), so any name that may exist can be uploaded.
    const NAME_MAX: usize = 255;
    let keep = name.len().min(NAME_MAX - 1 - TEMP_MARK.len() - 16);
    let mut n = b".".to_vec();
    n.extend_from_slice(&name[..keep]);
    n.extend_from_slice(TEMP_MARK);
    n.extend_from_slice(format!("{:016x}", rand::random::<u64>()).as_bytes());
    n
}

/// True when `name` has the shape of [`temp_name`]'s names. Clients cannot create such names
/// (see [`super::FsStorage`]), so the sweeper only ever removes files of ours.
///
/// ```text
/// .report.pdf.ftp-upload-eea0d098a900d2fa
/// ```
pub(crate) fn is_temp_name(name: &[u8]) -> bool {
    let Some(head_len) = name.len().checked_sub(16) else {
        return false;
    };
    let (head, hex) = name.split_at(head_len);
    head.len() > 1 + TEMP_MARK.len()
        && head[0] == b'.'
        && head.ends_with(TEMP_MARK)
        && hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// True when descriptors can be linked by their `/proc/self/fd` path (checked once).
fn proc_fd_links() -> bool {
    static PROC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PROC.get_or_init(|| std::path::Path::new("/proc/self/fd").is_dir())
}

/// Takes the exclusive `flock` that marks a file as being written (best effort: where the
/// filesystem has no locks, the sweeper goes by age alone).
fn locked(fd: OwnedFd) -> std::fs::File {
    let _ = rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive);
    std::fs::File::from(fd)
}

/// Opens the file a replacing upload of `name` in `dir` is written to: anonymous when
/// `tmpfile` and the filesystem allow it, else named. Returns the file, what commits it, and
/// whether a named temporary was created (so the root gets swept).
pub(super) fn open_staged(
    dir: OwnedFd,
    name: &[u8],
    no_replace: bool,
    fsync: bool,
    tmpfile: bool,
) -> Result<(std::fs::File, Pending, bool), StorageError> {
    let mode = Mode::from_raw_mode(0o666);
    let mut pending = Pending {
        dir,
        name: name.to_vec(),
        temp: None,
        no_replace,
        fsync,
    };
    if tmpfile && proc_fd_links() {
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        match rustix::fs::openat(&pending.dir, ".", flags, mode) {
            Ok(fd) => return Ok((locked(fd), pending, false)),
            // Not supported by this filesystem (EISDIR: by this kernel).
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {}
            Err(e) => return Err(errno(e)),
        }
    }
    let temp = temp_name(name);
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
    let fd =
        rustix::fs::openat(&pending.dir, OsStr::from_bytes(&temp), flags, mode).map_err(errno)?;
    pending.temp = Some(temp);
    Ok((locked(fd), pending, true))
}

/// How a replacing upload becomes visible: its directory, final name and, for a named
/// temporary, that name (removed when dropped uncommitted).
#[derive(Debug)]
pub(super) struct Pending {
    dir: OwnedFd,
    name: Vec<u8>,
    /// A named temporary that exists on disk and is removed on drop.
    temp: Option<Vec<u8>>,
    /// `STOU`: never replace an existing file, even one created meanwhile.
    no_replace: bool,
    /// Flush the directory after the rename.
    fsync: bool,
}

impl Pending {
    /// Links or renames `file` (already written and, with fsync, flushed) under its name.
    fn finish(mut self, file: &std::fs::File) -> Result<(), StorageError> {
        let name = OsStr::from_bytes(&self.name);
        match self.temp.take() {
            None if self.no_replace => link(file, &self.dir, name)?,
            None => {
                let temp = temp_name(&self.name);
                link(file, &self.dir, OsStr::from_bytes(&temp))?;
                // Removed again on drop if the rename fails.
                self.temp = Some(temp);
                self.rename()?;
            }
            Some(temp) => {
                self.temp = Some(temp);
                self.rename()?;
            }
        }
        self.temp = None;
        if self.fsync {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let dir = rustix::fs::openat(&self.dir, ".", flags, Mode::empty()).map_err(errno)?;
            rustix::fs::fsync(&dir).map_err(std::io::Error::from)?;
        }
        Ok(())
    }

    /// Renames the temporary over the final name.
    fn rename(&self) -> Result<(), StorageError> {
        let temp = self.temp.as_deref().unwrap_or_default();
        let (t, n) = (OsStr::from_bytes(temp), OsStr::from_bytes(&self.name));
        let r = if self.no_replace {
            rustix::fs::renameat_with(&self.dir, t, &self.dir, n, RenameFlags::NOREPLACE)
        } else {
            rustix::fs::renameat(&self.dir, t, &self.dir, n)
        };
        Ok(r.map_err(std::io::Error::from)?)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(t) = &self.temp {
            let _ = rustix::fs::unlinkat(&self.dir, OsStr::from_bytes(t), AtFlags::empty());
        }
    }
}

/// Gives the anonymous file `file` the name `name` in `dir`.
fn link(file: &std::fs::File, dir: &OwnedFd, name: &OsStr) -> std::io::Result<()> {
    let path = format!("/proc/self/fd/{}", file.as_fd().as_raw_fd());
    let cwd = rustix::fs::CWD;
    Ok(rustix::fs::linkat(
        cwd,
        path.as_str(),
        dir,
        name,
        AtFlags::SYMLINK_FOLLOW,
    )?)
}

/// Where an upload's bytes go: the file itself (which the server can `splice(2)` into, see
/// [`Upload::local_file`]), written where [`AsyncWrite`] is polled while that is quick; else
/// a buffered pipe to the blocking pool.
///
/// Why in place: a TLS upload decrypts on the encryption pool's thread, and writing the
/// plaintext from there into the page cache costs less than the pipe's extra copy and the
/// hand-offs to a pool thread (1 GiB over TLS 1.3: a median of 1.07 s of CPU against 1.36). Only on a
/// local filesystem ([`super::is_local_fs`]; a network one could hang the thread), and only
/// until one write takes longer than [`crate::data::SLOW_DRAIN`] (the kernel throttling
/// writers during write-back): the rest of the upload then goes through the pool, so a slow
/// disk holds up the thread's other work once.
#[derive(Debug)]
enum Sink {
    Local(std::fs::File),
    Pooled(Unblock<std::fs::File>),
}

/// A file being written; see [`Upload`].
#[derive(Debug)]
pub(super) struct FsUpload {
    file: Option<Sink>,
    /// Writes go into [`Sink::Local`] where they are polled (see [`Sink`]).
    in_place: bool,
    /// Set for replacing uploads: what makes the file visible on commit.
    pending: Option<Pending>,
    /// Flush the file to disk before it is committed.
    fsync: bool,
    /// `poll_close` was called: no more writes (the file stays open for the commit).
    closed: bool,
    /// The SHA-256 of what was written ([`Upload::record_sha256`]), stored with the file.
    sha256: Option<Sha256>,
}

impl FsUpload {
    /// An upload into `file`, committed by `pending` (none for in-place writes).
    pub(super) fn new(file: std::fs::File, pending: Option<Pending>, fsync: bool) -> FsUpload {
        FsUpload {
            in_place: super::is_local_fs(&file),
            file: Some(Sink::Local(file)),
            pending,
            fsync,
            closed: false,
            sha256: None,
        }
    }

    /// Copies `src` from its position to its end into the upload's file (which nothing was
    /// written to yet), with `copy_file_range(2)` (which lets the filesystem share blocks or
    /// copy inside the kernel), else through a buffer; blocking, so it runs on the pool. Stops
    /// with `Interrupted` once `stop` is set (the copy was abandoned).
    pub(super) fn fill_from(
        &mut self,
        src: &std::fs::File,
        stop: &AtomicBool,
    ) -> std::io::Result<u64> {
        const CHUNK: usize = 16 * 1024 * 1024;
        let Some(Sink::Local(dst)) = self.file.as_ref() else {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        };
        let mut total = 0u64;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            match rustix::fs::copy_file_range(src, None, dst, None, CHUNK) {
                Ok(0) => return Ok(total),
                Ok(n) => total += n as u64,
                Err(Errno::INTR) => {}
                // Across filesystems on old kernels, special files, filesystems without it.
                Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL) => break,
                Err(e) => return Err(e.into()),
            }
        }
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = match std::io::Read::read(&mut &*src, &mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            std::io::Write::write_all(&mut &*dst, &buf[..n])?;
            total += n as u64;
        }
    }

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
        if self.closed {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        if let (Some(Sink::Local(f)), true) = (&self.file, self.in_place) {
            let started = std::time::Instant::now();
            let r = crate::data::retrying(|| std::io::Write::write(&mut &*f, buf));
            self.in_place = started.elapsed() <= crate::data::SLOW_DRAIN;
            return Poll::Ready(r);
        }
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

    /// Writes out what is buffered; the file itself stays open until the commit (an
    /// anonymous file is linked by its descriptor).
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.as_mut().poll_flush(cx))?;
        self.closed = true;
        Poll::Ready(Ok(()))
    }
}

impl Upload for FsUpload {
    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        let (file, pending, fsync) = (self.file.take(), self.pending.take(), self.fsync);
        let sha256 = self.sha256.take();
        Box::pin(async move {
            // On an error `pending` is dropped, which removes a named temporary.
            let file = match file {
                Some(Sink::Pooled(mut f)) => {
                    f.flush().await?;
                    f.into_inner().await
                }
                Some(Sink::Local(f)) => f,
                None => return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into()),
            };
            // Closing (and linking, renaming, flushing) may wait for the disk: on the pool.
            unblock(move || {
                if let Some(d) = sha256 {
                    // The file is complete: its size and time now are what the digest covers.
                    digest::write(&file, &d, |_| true);
                }
                if fsync {
                    file.sync_all()?;
                }
                match pending {
                    Some(p) => p.finish(&file),
                    None => Ok(()),
                }
            })
            .await
        })
    }

    fn local_file(&mut self) -> Option<&std::fs::File> {
        match self.file.as_ref() {
            Some(Sink::Local(f)) => Some(f),
            _ => None,
        }
    }

    fn record_sha256(&mut self, digest: Sha256) {
        self.sha256 = Some(digest);
    }

    fn keeps_sha256(&self) -> bool {
        self.pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_recognised_and_nothing_else() {
        let t = temp_name(b"report.pdf");
        assert!(is_temp_name(&t), "{}", String::from_utf8_lossy(&t));
        assert!(is_temp_name(b".f.bin.ftp-upload-eea0d098a900d2fa"));
        for other in [
            &b"report.pdf"[..],
            b".ftp-upload-eea0d098a900d2fa",
            b"..ftp-upload-eea0d098a900d2fa",
            b"f.bin.ftp-upload-eea0d098a900d2fa",
            b".f.bin.ftp-upload-EEA0D098A900D2FA",
            b".f.bin.ftp-upload-eea0d098a900d2f",
            b".f.bin.ftp-upload-eea0d098a900d2fa0",
            b"",
        ] {
            assert!(!is_temp_name(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
