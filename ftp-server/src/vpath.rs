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
