//! The local-filesystem [`Storage`] backend.
//!
//! Every path is mapped under the canonical root, and every path that is followed is
//! canonicalised and checked to still be under the root, so symlinks that lead outside are
//! refused. Blocking filesystem calls run on the `blocking` thread pool.
//!
//! Known limit: the check and the use are separate system calls, so a local user who can
//! swap a directory for a symlink between them could race it; clients cannot create symlinks.

use std::ffi::OsStr;
use std::io::{Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use blocking::{unblock, Unblock};
use futures_lite::io::{AsyncWrite, AsyncWriteExt};

use super::{
    BoxFuture, DirEntry, FileKind, Metadata, ReadStream, Storage, StorageError, Upload, WriteMode,
};
use crate::vpath::VPath;

/// Buffer size between the blocking pool and a transfer.
const IO_BUFFER: usize = 256 * 1024;

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
    root: Arc<PathBuf>,
}

impl FsStorage {
    /// Serves `root`, which must be an existing directory.
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<FsStorage> {
        let root = std::fs::canonicalize(root.as_ref())?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(FsStorage {
            root: Arc::new(root),
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Real paths, computed on the blocking pool.
#[derive(Debug, Clone)]
struct Resolver {
    root: Arc<PathBuf>,
}

impl Resolver {
    fn joined(&self, p: &VPath) -> PathBuf {
        let mut r = PathBuf::from(&**self.root);
        for c in p.components() {
            r.push(OsStr::from_bytes(c));
        }
        r
    }

    fn inside(&self, canon: PathBuf) -> Result<PathBuf, StorageError> {
        if canon.starts_with(&*self.root) {
            Ok(canon)
        } else {
            Err(StorageError::PermissionDenied)
        }
    }

    /// An existing object, following symlinks, which must stay inside the root.
    fn existing(&self, p: &VPath) -> Result<PathBuf, StorageError> {
        let canon = std::fs::canonicalize(self.joined(p))?;
        self.inside(canon)
    }

    /// The entry itself (not following a final symlink): canonical parent + name.
    fn entry(&self, p: &VPath) -> Result<PathBuf, StorageError> {
        if p.is_root() {
            return Err(StorageError::PermissionDenied);
        }
        let parent = self.existing(&p.parent())?;
        if !parent.is_dir() {
            return Err(StorageError::NotADirectory);
        }
        Ok(parent.join(OsStr::from_bytes(p.file_name())))
    }

    /// A path to create or replace: the parent must exist inside the root; an existing symlink
    /// at the name must lead inside the root.
    fn for_create(&self, p: &VPath) -> Result<PathBuf, StorageError> {
        let e = self.entry(p)?;
        match std::fs::symlink_metadata(&e) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(&e) {
                Ok(c) => self.inside(c),
                Err(_) => Err(StorageError::PermissionDenied),
            },
            _ => Ok(e),
        }
    }
}

fn metadata_of(m: &std::fs::Metadata) -> Metadata {
    let kind = if m.is_dir() {
        FileKind::Dir
    } else if m.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    };
    Metadata {
        kind,
        len: m.len(),
        modified: m.modified().ok(),
        mode: Some(m.mode() & 0o7777),
        unique: Some(format!("{:x}g{:x}", m.dev(), m.ino())),
    }
}

fn temp_name(dir: &Path, name: &[u8]) -> PathBuf {
    let mut n = b".".to_vec();
    n.extend_from_slice(name);
    n.extend_from_slice(format!(".ftp-upload-{:016x}", rand::random::<u64>()).as_bytes());
    dir.join(OsStr::from_bytes(&n))
}

/// A file being written; see [`Upload`].
#[derive(Debug)]
struct FsUpload {
    file: Option<Unblock<std::fs::File>>,
    /// `(temp, final)` when the data goes to a temporary file first.
    rename: Option<(PathBuf, PathBuf)>,
}

impl AsyncWrite for FsUpload {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.file.as_mut() {
            Some(f) => Pin::new(f).poll_write(cx, buf),
            None => Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.file.as_mut() {
            Some(f) => Pin::new(f).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = match self.file.as_mut() {
            Some(f) => std::task::ready!(Pin::new(f).poll_close(cx)),
            None => return Poll::Ready(Ok(())),
        };
        // The file is closed (and dropped by `Unblock`); nothing more to write.
        self.file = None;
        Poll::Ready(r)
    }
}

impl Upload for FsUpload {
    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        let file = self.file.take();
        let rename = self.rename.take();
        Box::pin(async move {
            if let Some(mut f) = file {
                if let Err(e) = f.close().await {
                    if let Some((temp, _)) = &rename {
                        let _ = std::fs::remove_file(temp);
                    }
                    return Err(e.into());
                }
            }
            if let Some((temp, dest)) = rename {
                unblock(move || {
                    std::fs::rename(&temp, &dest).inspect_err(|_| {
                        let _ = std::fs::remove_file(&temp);
                    })
                })
                .await?;
            }
            Ok(())
        })
    }
}

impl Drop for FsUpload {
    fn drop(&mut self) {
        if let Some((temp, _)) = self.rename.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

impl Storage for FsStorage {
    fn metadata<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Metadata, StorageError>> {
        let r = Resolver {
            root: self.root.clone(),
        };
        let path = path.clone();
        Box::pin(unblock(move || {
            let p = r.existing(&path)?;
            Ok(metadata_of(&std::fs::metadata(p)?))
        }))
    }

    fn list<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Vec<DirEntry>, StorageError>> {
        let r = Resolver {
            root: self.root.clone(),
        };
        let path = path.clone();
        Box::pin(unblock(move || {
            let dir = r.existing(&path)?;
            let mut out = Vec::new();
            for e in std::fs::read_dir(dir)? {
                let Ok(e) = e else { continue };
                let Ok(lm) = e.metadata() else { continue };
                let m = if lm.file_type().is_symlink() {
                    // Show a symlink as what it points to, and only if that is inside the root.
                    match std::fs::canonicalize(e.path())
                        .ok()
                        .and_then(|c| r.inside(c).ok())
                        .and_then(|c| std::fs::metadata(c).ok())
                    {
                        Some(m) => m,
                        None => continue,
                    }
                } else {
                    lm
                };
                out.push(DirEntry {
                    name: e.file_name().as_bytes().to_vec(),
                    metadata: metadata_of(&m),
                });
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        }))
    }

    fn open_read<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<ReadStream, StorageError>> {
        let r = Resolver {
            root: self.root.clone(),
        };
        let path = path.clone();
        Box::pin(async move {
            let file = unblock(move || {
                let p = r.existing(&path)?;
                let mut f = std::fs::File::open(p)?;
                if f.metadata()?.is_dir() {
                    return Err(StorageError::IsADirectory);
                }
                if offset > 0 {
                    f.seek(SeekFrom::Start(offset))?;
                }
                Ok::<_, StorageError>(f)
            })
            .await?;
            Ok(Box::pin(Unblock::with_capacity(IO_BUFFER, file)) as ReadStream)
        })
    }

    fn open_write<'a>(
        &'a self,
        path: &'a VPath,
        mode: WriteMode,
    ) -> BoxFuture<'a, Result<Box<dyn Upload>, StorageError>> {
        let r = Resolver {
            root: self.root.clone(),
        };
        let path = path.clone();
        Box::pin(async move {
            let (file, rename) = unblock(move || {
                let dest = r.for_create(&path)?;
                if dest.is_dir() {
                    return Err(StorageError::IsADirectory);
                }
                match mode {
                    WriteMode::Replace | WriteMode::CreateNew => {
                        if mode == WriteMode::CreateNew && std::fs::symlink_metadata(&dest).is_ok()
                        {
                            return Err(StorageError::AlreadyExists);
                        }
                        let dir = dest.parent().ok_or(StorageError::PermissionDenied)?;
                        let temp = temp_name(dir, path.file_name());
                        let f = std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&temp)?;
                        Ok((f, Some((temp, dest))))
                    }
                    WriteMode::Append => {
                        let f = std::fs::OpenOptions::new()
                            .append(true)
                            .create(true)
                            .open(&dest)?;
                        Ok((f, None))
                    }
                    WriteMode::At(offset) => {
                        let mut f = std::fs::OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(false)
                            .open(&dest)?;
                        f.set_len(offset)?;
                        f.seek(SeekFrom::Start(offset))?;
                        Ok((f, None))
                    }
                }
            })
            .await?;
            Ok(Box::new(FsUpload {
                file: Some(Unblock::with_capacity(IO_BUFFER, file)),
                rename,
            }) as Box<dyn Upload>)
        })
    }

    fn mkdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = Resolver {
            root: self.root.clone(),
        };
        let path = path.clone();
        Box::pin(unblock(move || {
            let e = r.entry(&path)?;
            Ok(std::fs::create_dir(e)?)
        }))
    }

    fn rmdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = Resolver {
            root: self.root.clone(),
        };
        let path = path.clone();
        Box::pin(unblock(move || {
            let e = r.entry(&path)?;
            Ok(std::fs::remove_dir(e)?)
        }))
    }

    fn remove<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = Resolver {
            root: self.root.clone(),
        };
        let path = path.clone();
        Box::pin(unblock(move || {
            let e = r.entry(&path)?;
            if std::fs::symlink_metadata(&e)?.is_dir() {
                return Err(StorageError::IsADirectory);
            }
            Ok(std::fs::remove_file(e)?)
        }))
    }

    fn rename<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = Resolver {
            root: self.root.clone(),
        };
        let (from, to) = (from.clone(), to.clone());
        Box::pin(unblock(move || {
            let f = r.entry(&from)?;
            std::fs::symlink_metadata(&f)?;
            let t = r.entry(&to)?;
            Ok(std::fs::rename(f, t)?)
        }))
    }

    fn set_mtime<'a>(
        &'a self,
        path: &'a VPath,
        time: SystemTime,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let r = Resolver {
            root: self.root.clone(),
        };
        let path = path.clone();
        Box::pin(unblock(move || {
            let p = r.existing(&path)?;
            let f = std::fs::File::open(p)?;
            Ok(f.set_modified(time)?)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use futures_lite::io::AsyncReadExt;

    fn vp(s: &str) -> VPath {
        VPath::root().resolve(s.as_bytes()).unwrap()
    }

    #[test]
    fn refuses_symlink_leading_outside_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("s")).unwrap();
        let fs = FsStorage::new(root.path()).unwrap();
        assert!(block_on(fs.metadata(&vp("/out/secret"))).is_err());
        assert!(block_on(fs.open_read(&vp("/s"), 0)).is_err());
        assert!(block_on(fs.list(&vp("/out"))).is_err());
        assert!(block_on(fs.open_write(&vp("/out/new"), WriteMode::Replace)).is_err());
        assert!(block_on(fs.open_write(&vp("/s"), WriteMode::Append)).is_err());
        assert!(block_on(fs.list(&vp("/"))).unwrap().is_empty());
        assert!(!outside.path().join("new").exists());
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
}
