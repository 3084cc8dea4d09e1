//! [`MountStorage`]: a user's home with virtual folders (`[[user.mount]]`) routed inside it.
//! Every path goes to the storage of the mount whose point is its longest prefix
//! ([`Mounts::route`], in `vpath`), as that storage's own path, so each mount is confined to
//! its target exactly as a home is (its backend guards against `..` and symlinks); the rest
//! goes to the home. It wraps any [`Storage`], so mounts work the same on every backend.

use std::sync::Arc;
use std::time::SystemTime;

use super::{
    format_entries, BoxFuture, DirEntry, EntryFormatter, FileKind, Metadata, ReadStream, Sha256,
    Storage, StorageError, Upload, WriteMode,
};
use crate::vpath::{Mounts, VPath};

/// A home storage with other storages mounted at virtual directories.
///
/// Mount points (and the directories leading to them) always list and stat as directories,
/// even where the home has nothing; they cannot be removed or renamed, and nothing can be
/// renamed from one mount (or the home) into another: [`StorageError::CrossMount`].
///
/// ```
/// use std::sync::Arc;
/// use ftp_server::storage::{mount::MountStorage, MemStorage, Storage, StorageError};
/// use ftp_server::vpath::{Mounts, VPath};
/// let p = |s: &str| VPath::root().resolve(s.as_bytes()).unwrap();
/// let (home, shared) = (MemStorage::new(1 << 20), MemStorage::new(1 << 20));
/// shared.insert_file(&p("/doc.txt"), b"hi".to_vec()).unwrap();
/// let shared_dyn: Arc<dyn Storage> = Arc::new(shared);
/// let s = MountStorage::new(Arc::new(home), Mounts::new(vec![(p("/shared"), shared_dyn)]));
/// futures_lite::future::block_on(async {
///     assert_eq!(s.metadata(&p("/shared/doc.txt")).await.unwrap().len, 2);
///     assert!(s.metadata(&p("/shared")).await.unwrap().is_dir());
///     let names: Vec<_> = s.list(&VPath::root()).await.unwrap().into_iter().map(|e| e.name).collect();
///     assert_eq!(names, [b"shared".to_vec()]);
///     let across = s.rename(&p("/shared/doc.txt"), &p("/doc.txt")).await;
///     assert!(matches!(across, Err(StorageError::CrossMount)));
/// });
/// ```
#[derive(Debug)]
pub struct MountStorage {
    home: Arc<dyn Storage>,
    mounts: Mounts<Arc<dyn Storage>>,
}

/// A directory that exists only because a mount point lies below it.
fn virtual_dir() -> Metadata {
    Metadata {
        kind: FileKind::Dir,
        len: 0,
        modified: None,
        mode: Some(0o555),
        unique: None,
    }
}

impl MountStorage {
    /// `home`, with each storage of `mounts` at its mount point.
    pub fn new(home: Arc<dyn Storage>, mounts: Mounts<Arc<dyn Storage>>) -> MountStorage {
        MountStorage { home, mounts }
    }

    /// The storage serving `p`, `p` as that storage's path, and which mount it is (`None`:
    /// the home).
    fn route(&self, p: &VPath) -> (&dyn Storage, VPath, Option<usize>) {
        match self.mounts.route_index(p) {
            Some((i, inner)) => (&**self.mounts.get(i), inner, Some(i)),
            None => (&*self.home, p.clone(), None),
        }
    }

    /// Refuses to change a mount point or a directory leading to one.
    fn fixed(&self, p: &VPath) -> Result<(), StorageError> {
        match self.mounts.leads_to_mount(p) {
            true => Err(StorageError::PermissionDenied),
            false => Ok(()),
        }
    }

    /// The entries of `p` with the mount points directly in it added (replacing what the
    /// storage below has under their names).
    async fn merged_list(&self, p: &VPath) -> Result<Vec<DirEntry>, StorageError> {
        let (storage, inner, _) = self.route(p);
        let mut entries = match storage.list(&inner).await {
            Err(StorageError::NotFound) if self.mounts.leads_to_mount(p) => Vec::new(),
            r => r?,
        };
        for (name, i) in self.mounts.children(p) {
            let metadata = match self.mounts.get(i).metadata(&VPath::root()).await {
                Ok(m) if m.is_dir() => m,
                _ => virtual_dir(),
            };
            entries.retain(|e| e.name != name);
            entries.push(DirEntry {
                name: name.to_vec(),
                metadata,
            });
        }
        Ok(entries)
    }
}

impl Storage for MountStorage {
    fn metadata<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Metadata, StorageError>> {
        Box::pin(async move {
            let (storage, inner, _) = self.route(path);
            match storage.metadata(&inner).await {
                Err(StorageError::NotFound) if self.mounts.leads_to_mount(path) => {
                    Ok(virtual_dir())
                }
                r => r,
            }
        })
    }

    fn list<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<Vec<DirEntry>, StorageError>> {
        Box::pin(self.merged_list(path))
    }

    fn list_formatted<'a>(
        &'a self,
        path: &'a VPath,
        format: EntryFormatter,
        max_entries: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        Box::pin(async move {
            if self.mounts.children(path).next().is_none() {
                let (storage, inner, _) = self.route(path);
                return storage.list_formatted(&inner, format, max_entries).await;
            }
            let entries = self.merged_list(path).await?;
            format_entries(entries, &format, max_entries)
        })
    }

    fn open_read<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<ReadStream, StorageError>> {
        Box::pin(async move {
            let (storage, inner, _) = self.route(path);
            storage.open_read(&inner, offset).await
        })
    }

    fn open_read_local<'a>(
        &'a self,
        path: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<Option<std::fs::File>, StorageError>> {
        Box::pin(async move {
            let (storage, inner, _) = self.route(path);
            storage.open_read_local(&inner, offset).await
        })
    }

    fn open_write<'a>(
        &'a self,
        path: &'a VPath,
        mode: WriteMode,
    ) -> BoxFuture<'a, Result<Box<dyn Upload>, StorageError>> {
        Box::pin(async move {
            if self.mounts.leads_to_mount(path) {
                return Err(StorageError::IsADirectory);
            }
            let (storage, inner, _) = self.route(path);
            storage.open_write(&inner, mode).await
        })
    }

    fn mkdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            if self.mounts.leads_to_mount(path) {
                return Err(StorageError::AlreadyExists);
            }
            let (storage, inner, _) = self.route(path);
            storage.mkdir(&inner).await
        })
    }

    fn rmdir<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.fixed(path)?;
            let (storage, inner, _) = self.route(path);
            storage.rmdir(&inner).await
        })
    }

    fn remove<'a>(&'a self, path: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.fixed(path)?;
            let (storage, inner, _) = self.route(path);
            storage.remove(&inner).await
        })
    }

    fn rename<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.fixed(from)?;
            self.fixed(to)?;
            let (storage, inner_from, a) = self.route(from);
            let (_, inner_to, b) = self.route(to);
            if a != b {
                return Err(StorageError::CrossMount);
            }
            storage.rename(&inner_from, &inner_to).await
        })
    }

    fn set_mtime<'a>(
        &'a self,
        path: &'a VPath,
        time: SystemTime,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let (storage, inner, _) = self.route(path);
            storage.set_mtime(&inner, time).await
        })
    }

    fn available<'a>(
        &'a self,
        path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<u64>, StorageError>> {
        let (storage, inner, _) = self.route(path);
        Box::pin(async move { storage.available(&inner).await })
    }

    fn set_mode<'a>(
        &'a self,
        path: &'a VPath,
        mode: u32,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.fixed(path)?;
            let (storage, inner, _) = self.route(path);
            storage.set_mode(&inner, mode).await
        })
    }

    fn stored_sha256<'a>(
        &'a self,
        path: &'a VPath,
    ) -> BoxFuture<'a, Result<Option<Sha256>, StorageError>> {
        let (storage, inner, _) = self.route(path);
        Box::pin(async move { storage.stored_sha256(&inner).await })
    }

    fn store_sha256<'a>(
        &'a self,
        path: &'a VPath,
        digest: Sha256,
        seen: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let (storage, inner, _) = self.route(path);
        Box::pin(async move { storage.store_sha256(&inner, digest, seen).await })
    }

    /// A copy within one mount (or the home) is that storage's own; across mounts it is
    /// streamed from one into the other, atomically like an upload.
    fn copy<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            self.fixed(to)?;
            let (src, inner_from, a) = self.route(from);
            let (dst, inner_to, b) = self.route(to);
            if a == b {
                return src.copy(&inner_from, &inner_to).await;
            }
            super::copy_between(src, &inner_from, dst, &inner_to).await
        })
    }
}
