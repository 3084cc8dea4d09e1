//! Remote paths as bytes, local paths from remote names, and walking a remote tree.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::fail;
use super::names::{escape_controls, local_name_or_warn, safe_local_name};
use crate::error::ErrorClass;
use crate::listing::{Entry, EntryKind};
use crate::Client;

/// A remote name for a message on stderr (controls escaped).
pub(crate) fn lossy(b: &[u8]) -> String {
    escape_controls(b).into_owned()
}

/// The deepest directory tree the client walks, remote or local (a symlink loop or a
/// hostile server would otherwise never end).
const MAX_TREE_DEPTH: usize = 64;

/// An error when a walk is deeper than [`MAX_TREE_DEPTH`].
pub(crate) fn check_depth(depth: usize) -> Result<()> {
    if depth > MAX_TREE_DEPTH {
        return Err(fail(
            ErrorClass::Transfer,
            format!("directory tree deeper than {MAX_TREE_DEPTH} levels"),
        ));
    }
    Ok(())
}

/// Joins remote path components.
pub(crate) fn rjoin(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return name.to_vec();
    }
    let mut p = dir.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// A local path from remote name bytes.
pub(crate) fn local_name(name: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(name))
}

/// The local file for a remote path's last component (a usage error if it cannot be one).
pub(crate) fn named_after(name: &[u8]) -> Result<PathBuf> {
    safe_local_name(name)
        .map_err(|why| fail(ErrorClass::Usage, format!("{why}; name the local file")))
}

/// Remote name bytes from a local path component.
pub(crate) fn remote_name(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

/// Recursively collects the entries under `dir` as (relative path, entry); bounded depth.
/// Names that cannot be local file names are left out with a warning and counted in
/// `skipped` (the caller's batch is then partial); so are the entries for which `keep(relative
/// path, entry)` is false, without a warning (directories left out are not entered).
pub(crate) async fn walk_remote(
    c: &mut Client,
    dir: &[u8],
    skipped: &mut usize,
    keep: &dyn Fn(&[u8], &Entry) -> bool,
) -> Result<Vec<(Vec<u8>, Entry)>> {
    walk_tree(c, dir, |r, e| {
        if local_name_or_warn(&e.name).is_none() {
            *skipped += 1;
            return false;
        }
        keep(r, e)
    })
    .await
}

/// Recursively collects the entries under `dir` that `keep(relative path, entry)` accepts,
/// as (relative path, entry), a directory before what it holds (directories left out are not
/// entered); bounded depth. Symbolic links are not followed.
pub(crate) async fn walk_tree(
    c: &mut Client,
    dir: &[u8],
    mut keep: impl FnMut(&[u8], &Entry) -> bool,
) -> Result<Vec<(Vec<u8>, Entry)>> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), 0usize)];
    while let Some((rel, depth)) = stack.pop() {
        check_depth(depth)?;
        let full = rjoin(dir, &rel);
        let entries = c.list(Some(&full)).await?;
        for e in entries {
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let r = rjoin(&rel, &e.name);
            if !keep(&r, &e) {
                continue;
            }
            if e.kind == EntryKind::Dir {
                stack.push((r.clone(), depth + 1));
            }
            out.push((r, e));
        }
    }
    Ok(out)
}

/// Creates every parent directory of `path` (errors ignored: they may exist).
pub(crate) async fn make_parents(c: &mut Client, path: &[u8]) {
    let parts: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
    for i in 0..parts.len().saturating_sub(1) {
        if parts[i].is_empty() {
            continue;
        }
        let prefix = parts[..=i].join(&b'/');
        let _ = c.mkdir(&prefix).await;
    }
}
