//! Virtual paths: THE one place where a client-supplied path is mapped into the session's
//! virtual root.
//!
//! A [`VPath`] is always absolute and normalised: it starts with `/`, has no empty, `.` or
//! `..` components and no NUL byte. `..` at the root stays at the root, so no client path can
//! name anything above `/`. Storage backends map a `VPath` to real objects (and must still
//! guard against symlinks; see [`crate::storage::fs`]).
//!
//! ```
//! use ftp_server::vpath::VPath;
//! let cwd = VPath::root().join(b"pub").unwrap();
//! assert_eq!(cwd.resolve(b"../../../etc//passwd").unwrap().as_bytes(), b"/etc/passwd");
//! assert_eq!(cwd.resolve(b"./a/./b/..").unwrap().as_bytes(), b"/pub/a");
//! assert!(cwd.resolve(b"a\0b").is_err());
//! ```

use std::fmt;

/// Why a client path is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VPathError {
    /// The path contains a NUL byte.
    #[error("path contains a NUL byte")]
    Nul,
    /// The path is empty.
    #[error("empty path")]
    Empty,
}

/// A normalised absolute path inside the virtual root.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VPath(Vec<u8>);

impl VPath {
    /// `/`.
    pub fn root() -> VPath {
        VPath(b"/".to_vec())
    }

    /// Resolves a client path: absolute paths start from the root, relative ones from `self`
    /// (the working directory).
    pub fn resolve(&self, client: &[u8]) -> Result<VPath, VPathError> {
        if client.contains(&0) {
            return Err(VPathError::Nul);
        }
        if client.is_empty() {
            return Err(VPathError::Empty);
        }
        let mut parts: Vec<&[u8]> = if client.first() == Some(&b'/') {
            Vec::new()
        } else {
            self.components().collect()
        };
        for c in client.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let mut out = Vec::with_capacity(client.len() + self.0.len() + 1);
        for p in &parts {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        Ok(VPath(out))
    }

    /// Appends one or more components (same rules as [`VPath::resolve`] for a relative path).
    pub fn join(&self, rel: &[u8]) -> Result<VPath, VPathError> {
        let rel: Vec<u8> = rel.iter().copied().skip_while(|&b| b == b'/').collect();
        if rel.is_empty() {
            return Ok(self.clone());
        }
        self.resolve(&rel)
    }

    /// The components, root first (none for `/`).
    pub fn components(&self) -> impl Iterator<Item = &[u8]> {
        self.0.split(|&b| b == b'/').filter(|c| !c.is_empty())
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        self.0 == b"/"
    }

    /// The parent directory (`/` for `/`).
    pub fn parent(&self) -> VPath {
        match self.0.iter().rposition(|&b| b == b'/') {
            Some(0) | None => VPath::root(),
            Some(i) => VPath(self.0[..i].to_vec()),
        }
    }

    /// The last component (empty for `/`).
    pub fn file_name(&self) -> &[u8] {
        match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// The path bytes, e.g. `/pub/file.txt`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl VPath {
    /// This path seen from inside `base`: `/a/b/c` inside `/a` is `/b/c`, `/a` itself is
    /// `/`; `None` when it is not inside (`/ab` is not inside `/a`).
    ///
    /// ```
    /// use ftp_server::vpath::VPath;
    /// let p = |s: &str| VPath::root().resolve(s.as_bytes()).unwrap();
    /// assert_eq!(p("/a/b/c").inside(&p("/a")), Some(p("/b/c")));
    /// assert_eq!(p("/a").inside(&p("/a")), Some(VPath::root()));
    /// assert_eq!(p("/ab").inside(&p("/a")), None);
    /// assert_eq!(p("/x").inside(&VPath::root()), Some(p("/x")));
    /// ```
    pub fn inside(&self, base: &VPath) -> Option<VPath> {
        if base.is_root() {
            return Some(self.clone());
        }
        let rest = self.0.strip_prefix(base.0.as_slice())?;
        match rest.first() {
            None => Some(VPath::root()),
            Some(b'/') => Some(VPath(rest.to_vec())),
            Some(_) => None,
        }
    }
}

/// Mount points: virtual directories that another storage serves (`[[user.mount]]`), each
/// with a value (the storage, or the permissions there). A path belongs to the mount whose
/// point is its longest prefix (by whole components), and is resolved there by
/// [`VPath::inside`]: the mount's target is its `/`, so nothing above it can be named.
///
/// ```
/// use ftp_server::vpath::{Mounts, VPath};
/// let p = |s: &str| VPath::root().resolve(s.as_bytes()).unwrap();
/// let m = Mounts::new(vec![(p("/a"), "outer"), (p("/a/b"), "inner")]);
/// assert_eq!(m.route(&p("/a/b/../c")), Some((&"outer", p("/c"))));
/// assert_eq!(m.route(&p("/a/b/x")), Some((&"inner", p("/x"))));
/// assert_eq!(m.route(&p("/ab")), None);
/// ```
#[derive(Debug, Clone)]
pub struct Mounts<T> {
    /// Longest mount point first, so the first match is the longest prefix.
    points: Vec<(VPath, T)>,
}

impl<T> Default for Mounts<T> {
    fn default() -> Self {
        Mounts { points: Vec::new() }
    }
}

impl<T> Mounts<T> {
    /// The mount points and their values (a point given twice: the first counts).
    pub fn new(mut points: Vec<(VPath, T)>) -> Mounts<T> {
        points.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        Mounts { points }
    }

    /// True without mount points.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The mount serving `p` and `p`'s path inside it, or `None` outside every mount.
    pub fn route(&self, p: &VPath) -> Option<(&T, VPath)> {
        self.route_index(p)
            .map(|(i, inner)| (&self.points[i].1, inner))
    }

    /// [`Mounts::route`] with the mount's index (for [`Mounts::get`]).
    pub fn route_index(&self, p: &VPath) -> Option<(usize, VPath)> {
        self.points
            .iter()
            .enumerate()
            .find_map(|(i, (point, _))| p.inside(point).map(|inner| (i, inner)))
    }

    /// The value of the mount at `index`.
    pub fn get(&self, index: usize) -> &T {
        &self.points[index].1
    }

    /// The mount points directly in `dir`, as their names there and indexes.
    pub fn children<'a>(&'a self, dir: &'a VPath) -> impl Iterator<Item = (&'a [u8], usize)> + 'a {
        self.points
            .iter()
            .enumerate()
            .filter(move |(_, (point, _))| point.parent() == *dir)
            .map(|(i, (point, _))| (point.file_name(), i))
    }

    /// True when `p` is a mount point, or a directory on the way to one.
    pub fn leads_to_mount(&self, p: &VPath) -> bool {
        self.points
            .iter()
            .any(|(point, _)| point.inside(p).is_some())
    }
}

impl fmt::Display for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VPath({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cwd: &str, p: &str) -> String {
        VPath::root()
            .resolve(cwd.as_bytes())
            .unwrap()
            .resolve(p.as_bytes())
            .unwrap()
            .to_string()
    }

    #[test]
    fn dotdot_never_climbs_above_root() {
        assert_eq!(r("/", ".."), "/");
        assert_eq!(r("/a/b", "../../../../x"), "/x");
        assert_eq!(r("/a", "/../.."), "/");
    }

    #[test]
    fn absolute_and_relative_paths_resolve_against_cwd() {
        assert_eq!(r("/a", "b/c"), "/a/b/c");
        assert_eq!(r("/a", "/b"), "/b");
        assert_eq!(r("/a", "//b///c//"), "/b/c");
        assert_eq!(r("/a", "."), "/a");
    }

    #[test]
    fn rejects_nul_and_empty() {
        assert_eq!(VPath::root().resolve(b"a\0"), Err(VPathError::Nul));
        assert_eq!(VPath::root().resolve(b""), Err(VPathError::Empty));
    }

    #[test]
    fn parent_and_file_name() {
        let p = VPath::root().resolve(b"/a/b").unwrap();
        assert_eq!(p.parent().to_string(), "/a");
        assert_eq!(p.file_name(), b"b");
        assert_eq!(p.parent().parent(), VPath::root());
        assert!(VPath::root().parent().is_root());
    }

    #[test]
    fn backslash_and_odd_bytes_are_plain_name_bytes() {
        assert_eq!(r("/", "..\\..\\etc"), "/..\\..\\etc");
        let p = VPath::root().resolve(b"\xff\xfe").unwrap();
        assert_eq!(p.components().count(), 1);
    }
}
