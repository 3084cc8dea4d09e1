//! An in-memory [`Storage`] with a size limit: for tests and fuzzing, and a model for
//! backends that are not a filesystem.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::SystemTime;

use futures_lite::io::{AsyncWrite, Cursor};

use super::{
    BoxFuture, DirEntry, FileKind, Metadata, ReadStream, Storage, StorageError, Upload, WriteMode,
};
use crate::vpath::VPath;

#[derive(Debug, Clone)]
enum Node {
    File {
        data: Vec<u8>,
        mtime: SystemTime,
    },
    Dir {
        entries: BTreeMap<Vec<u8>, Node>,
        mtime: SystemTime,
    },
}

impl Node {
    fn new_dir() -> Node {
        Node::Dir {
            entries: BTreeMap::new(),
            mtime: SystemTime::now(),
        }
    }

    fn metadata(&self) -> Metadata {
        match self {
            Node::File { data, mtime } => Metadata {
                kind: FileKind::File,
                len: data.len() as u64,
                modified: Some(*mtime),
                mode: Some(0o644),
                unique: None,
            },
            Node::Dir { mtime, .. } => Metadata {
                kind: FileKind::Dir,
                len: 0,
                modified: Some(*mtime),
                mode: Some(0o755),
                unique: None,
            },
        }
    }
}

#[derive(Debug)]
struct Tree {
    root: Node,
    used: u64,
    limit: u64,
}

impl Tree {
    fn get(&self, p: &VPath) -> Result<&Node, StorageError> {
        let mut n = &self.root;
        for c in p.components() {
            match n {
                Node::Dir { entries, .. } => n = entries.get(c).ok_or(StorageError::NotFound)?,
                Node::File { .. } => return Err(StorageError::NotADirectory),
            }
        }
        Ok(n)
    }

    fn get_mut(&mut self, p: &VPath) -> Result<&mut Node, StorageError> {
        let mut n = &mut self.root;
        for c in p.components() {
            match n {
                Node::Dir { entries, .. } => {
                    n = entries.get_mut(c).ok_or(StorageError::NotFound)?
                }
                Node::File { .. } => return Err(StorageError::NotADirectory),
            }
        }
        Ok(n)
    }

    /// The entries of `p`'s parent directory.
    fn parent_entries(&mut self, p: &VPath) -> Result<&mut BTreeMap<Vec<u8>, Node>, StorageError> {
        if p.is_root() {
            return Err(StorageError::PermissionDenied);
        }
        match self.get_mut(&p.parent())? {
            Node::Dir { entries, .. } => Ok(entries),
            Node::File { .. } => Err(StorageError::NotADirectory),
        }
    }

    /// Accounts for a size change of `delta` bytes.
    fn charge(&mut self, old: u64, new: u64) -> Result<(), StorageError> {
        let used = self.used - old.min(self.used) + new;
        if new > old && used > self.limit {
            return Err(StorageError::NoSpace);
        }
        self.used = used;
        Ok(())
    }

    fn put_file(&mut self, p: &VPath, data: Vec<u8>, create_new: bool) -> Result<(), StorageError> {
        let name = p.file_name().to_vec();
        let old = match self.parent_entries(p)?.get(&name) {
            Some(Node::Dir { .. }) => return Err(StorageError::IsADirectory),
            Some(Node::File { .. }) if create_new => return Err(StorageError::AlreadyExists),
            Some(Node::File { data, .. }) => data.len() as u64,
            None => 0,
        };
        self.charge(old, data.len() as u64)?;
        self.parent_entries(p)?.insert(
            name,
            Node::File {
                data,
                mtime: SystemTime::now(),
            },
        );
        Ok(())
    }
}

/// A file tree held in memory, limited to `limit` bytes of file content in total.
///
/// ```
/// use ftp_server::storage::{MemStorage, Storage};
/// use ftp_server::vpath::VPath;
/// let s = MemStorage::new(1 << 20);
/// s.insert_file(&VPath::root().join(b"a.txt").unwrap(), b"hi".to_vec()).unwrap();
/// let m = futures_lite::future::block_on(s.metadata(&VPath::root().join(b"a.txt").unwrap()));
/// assert_eq!(m.unwrap().len, 2);
/// ```
#[derive(Debug, Clone)]
pub struct MemStorage {
    tree: Arc<Mutex<Tree>>,
}

impl MemStorage {
    /// An empty tree holding at most `limit` bytes of file data.
    pub fn new(limit: u64) -> MemStorage {
        MemStorage {
            tree: Arc::new(Mutex::new(Tree {
                root: Node::new_dir(),
                used: 0,
                limit,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates or replaces a file (the parent directory must exist).
    pub fn insert_file(&self, p: &VPath, data: Vec<u8>) -> Result<(), StorageError> {
        self.lock().put_file(p, data, false)
    }

    /// A file's contents.
    pub fn file(&self, p: &VPath) -> Result<Vec<u8>, StorageError> {
        match self.lock().get(p)? {
            Node::File { data, .. } => Ok(data.clone()),
            Node::Dir { .. } => Err(StorageError::IsADirectory),
        }
    }

    /// Bytes of file data stored.
    pub fn used(&self) -> u64 {
        self.lock().used
    }
}

/// An upload into a [`MemStorage`]: buffered, applied on commit (or, for appends and offset
/// writes, also when dropped, as a filesystem would keep what was written).
#[derive(Debug)]
struct MemUpload {
    storage: MemStorage,
    path: VPath,
    mode: WriteMode,
    buf: Vec<u8>,
    applied: bool,
}

impl MemUpload {
    fn apply(&mut self) -> Result<(), StorageError> {
        if std::mem::replace(&mut self.applied, true) {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let mut t = self.storage.lock();
        let existing = match t.get(&self.path) {
            Ok(Node::File { data, .. }) => Some(data.clone()),
            Ok(Node::Dir { .. }) => return Err(StorageError::IsADirectory),
            Err(_) => None,
        };
        let data = match self.mode {
            WriteMode::Replace | WriteMode::CreateNew => buf,
            WriteMode::Append => [existing.unwrap_or_default(), buf].concat(),
            WriteMode::At(off) => {
                let mut d = existing.unwrap_or_default();
                d.truncate(usize::try_from(off).unwrap_or(usize::MAX));
                d.extend_from_slice(&buf);
                d
            }
        };
        t.put_file(&self.path, data, self.mode == WriteMode::CreateNew)
    }
}

impl AsyncWrite for MemUpload {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let limit = self.storage.lock().limit;
        if (self.buf.len() + buf.len()) as u64 > limit {
            return Poll::Ready(Err(std::io::ErrorKind::StorageFull.into()));
        }
        self.buf.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Upload for MemUpload {
    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        let r = self.apply();
        Box::pin(async move { r })
    }
}

impl Drop for MemUpload {
    fn drop(&mut self) {
        if matches!(self.mode, WriteMode::Append | WriteMode::At(_)) {
            let _ = self.apply();
        }
    }
}

fn ready<'a, T: Send + 'a>(v: T) -> BoxFuture<'a, T> {
    Box::pin(async move { v })
}

impl Storage for MemStorage {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    fn metadata<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Metadata, StorageError>> {
        ready(self.lock().get(path).map(Node::metadata))
    }

    fn list<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Vec<DirEntry>, StorageError>> {
        ready(match self.lock().get(path) {
            Ok(Node::Dir { entries, .. }) => Ok(entries
                .iter()
                .map(|(name, n)| DirEntry {
                    name: name.clone(),
                    metadata: n.metadata(),
                })
                .collect()),
            Ok(Node::File { .. }) => Err(StorageError::NotADirectory),
            Err(e) => Err(e),
        })
    }

    fn open_read<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<ReadStream, StorageError>> {
        ready(match self.lock().get(path) {
            Ok(Node::File { data, .. }) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                Ok(Box::pin(Cursor::new(data[start..].to_vec())) as ReadStream)
            }
            Ok(Node::Dir { .. }) => Err(StorageError::IsADirectory),
            Err(e) => Err(e),
        })
    }

    fn open_write<'a>(
        &'a self,
        path: &'a VPath,
        mode: WriteMode,
    ) -> BoxFuture<'a, Result<Box<dyn Upload>, StorageError>> {
        let check = {
            let mut t = self.lock();
            match t.parent_entries(path) {
                Ok(entries) => match entries.get(path.file_name()) {
                    Some(Node::Dir { .. }) => Err(StorageError::IsADirectory),
                    Some(_) if mode == WriteMode::CreateNew => Err(StorageError::AlreadyExists),
                    _ => Ok(()),
                },
                Err(e) => Err(e),
            }
        };
        ready(check.map(|()| {
            Box::new(MemUpload {
                storage: self.clone(),
                path: path.clone(),
                mode,
                buf: Vec::new(),
                applied: false,
            }) as Box<dyn Upload>
        }))
    }

    fn mkdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let mut t = self.lock();
        ready(t.parent_entries(path).and_then(|e| {
            if e.contains_key(path.file_name()) {
                return Err(StorageError::AlreadyExists);
            }
            e.insert(path.file_name().to_vec(), Node::new_dir());
            Ok(())
        }))
    }

    fn rmdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let mut t = self.lock();
        ready(
            t.parent_entries(path)
                .and_then(|e| match e.get(path.file_name()) {
                    Some(Node::Dir { entries, .. }) if entries.is_empty() => {
                        e.remove(path.file_name());
                        Ok(())
                    }
                    Some(Node::Dir { .. }) => Err(StorageError::DirectoryNotEmpty),
                    Some(Node::File { .. }) => Err(StorageError::NotADirectory),
                    None => Err(StorageError::NotFound),
                }),
        )
    }

    fn remove<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        let mut t = self.lock();
        let r = t
            .parent_entries(path)
            .and_then(|e| match e.get(path.file_name()) {
                Some(Node::File { data, .. }) => {
                    let n = data.len() as u64;
                    e.remove(path.file_name());
                    Ok(n)
                }
                Some(Node::Dir { .. }) => Err(StorageError::IsADirectory),
                None => Err(StorageError::NotFound),
            });
        ready(r.and_then(|n| t.charge(n, 0)))
    }

    fn rename<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let mut t = self.lock();
        let r = (|| {
            if to.as_bytes().starts_with(&[from.as_bytes(), b"/"].concat()) {
                return Err(StorageError::PermissionDenied);
            }
            t.get(from)?;
            let target_size = match t.get(to) {
                Ok(Node::File { data, .. }) => data.len() as u64,
                Ok(Node::Dir { .. }) => return Err(StorageError::IsADirectory),
                Err(_) => 0,
            };
            t.parent_entries(to)?;
            let node = t
                .parent_entries(from)?
                .remove(from.file_name())
                .ok_or(StorageError::NotFound)?;
            t.parent_entries(to)?.insert(to.file_name().to_vec(), node);
            t.charge(target_size, 0)
        })();
        ready(r)
    }

    fn set_mtime<'a>(
        &'a self,
        path: &'a VPath,
        time: SystemTime,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let mut t = self.lock();
        ready(t.get_mut(path).map(|n| match n {
            Node::File { mtime, .. } | Node::Dir { mtime, .. } => *mtime = time,
        }))
    }

    fn available<'a>(
        &'a self,
        _path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<u64>, StorageError>> {
        let t = self.lock();
        ready(Ok(Some(t.limit.saturating_sub(t.used))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use futures_lite::io::AsyncWriteExt;

    fn vp(s: &str) -> VPath {
        VPath::root().resolve(s.as_bytes()).unwrap()
    }

    #[test]
    fn replace_is_atomic_and_append_keeps_partial_data() {
        let s = MemStorage::new(1000);
        s.insert_file(&vp("f"), b"old".to_vec()).unwrap();
        block_on(async {
            let mut up = s.open_write(&vp("f"), WriteMode::Replace).await.unwrap();
            up.write_all(b"new!").await.unwrap();
            drop(up);
            assert_eq!(s.file(&vp("f")).unwrap(), b"old");
            let mut up = s.open_write(&vp("f"), WriteMode::Append).await.unwrap();
            up.write_all(b"+x").await.unwrap();
            drop(up);
            assert_eq!(s.file(&vp("f")).unwrap(), b"old+x");
            let mut up = s.open_write(&vp("f"), WriteMode::At(1)).await.unwrap();
            up.write_all(b"Z").await.unwrap();
            up.commit().await.unwrap();
        });
        assert_eq!(s.file(&vp("f")).unwrap(), b"oZ");
        assert_eq!(s.used(), 2);
    }

    #[test]
    fn enforces_the_size_limit() {
        let s = MemStorage::new(10);
        assert!(matches!(
            s.insert_file(&vp("big"), vec![0; 11]),
            Err(StorageError::NoSpace)
        ));
        s.insert_file(&vp("a"), vec![0; 6]).unwrap();
        assert!(s.insert_file(&vp("b"), vec![0; 6]).is_err());
        block_on(s.remove(&vp("a"))).unwrap();
        s.insert_file(&vp("b"), vec![0; 6]).unwrap();
    }

    #[test]
    fn directories_and_renames() {
        let s = MemStorage::new(100);
        block_on(async {
            s.mkdir(&vp("d")).await.unwrap();
            assert!(matches!(
                s.mkdir(&vp("d")).await,
                Err(StorageError::AlreadyExists)
            ));
            s.insert_file(&vp("d/f"), b"x".to_vec()).unwrap();
            assert!(matches!(
                s.rmdir(&vp("d")).await,
                Err(StorageError::DirectoryNotEmpty)
            ));
            s.rename(&vp("d"), &vp("e")).await.unwrap();
            assert!(s.rename(&vp("e"), &vp("e/inner")).await.is_err());
            assert_eq!(s.list(&vp("e")).await.unwrap()[0].name, b"f");
            assert!(matches!(
                s.metadata(&vp("d")).await,
                Err(StorageError::NotFound)
            ));
        });
    }
}
