//! Object keys: THE one place where a user's key prefix and a [`VPath`] become an S3 key.
//!
//! A [`Prefix`] is empty or a run of non-empty components each followed by `/`
//! (`site1/alice/`), with no `.` or `..` component: checked once, when it is made. A
//! [`VPath`] is already normalised (no empty, `.` or `..` components), so joining the two
//! with `/` cannot produce `..`, `//`, or a key outside the prefix.

use crate::storage::StorageError;
use crate::vpath::VPath;

/// The longest key S3 accepts, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// A key prefix inside the bucket (the server's `prefix` joined with a user's `home`).
///
/// ```
/// use ftp_server::storage::s3::Prefix;
/// assert_eq!(Prefix::new("/site1//alice").unwrap().as_str(), "site1/alice/");
/// assert_eq!(Prefix::new("").unwrap().as_str(), "");
/// assert!(Prefix::new("a/../b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Prefix(String);

/// Why a prefix is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid S3 key prefix {0:?} (no `.` or `..` components, no control characters)")]
pub struct PrefixError(pub String);

impl Prefix {
    /// Normalises `s`: empty components (leading, trailing or doubled `/`) are dropped and a
    /// `/` ends every component; `.`, `..` and control characters are refused.
    pub fn new(s: &str) -> Result<Prefix, PrefixError> {
        let mut out = String::with_capacity(s.len() + 1);
        for c in s.split('/').filter(|c| !c.is_empty()) {
            if c == "." || c == ".." || c.chars().any(char::is_control) {
                return Err(PrefixError(s.to_string()));
            }
            out.push_str(c);
            out.push('/');
        }
        Ok(Prefix(out))
    }

    /// This prefix followed by `inner` (the server's prefix, then a user's home).
    ///
    /// ```
    /// use ftp_server::storage::s3::Prefix;
    /// let p = Prefix::new("site1").unwrap().join(&Prefix::new("alice/").unwrap());
    /// assert_eq!(p.as_str(), "site1/alice/");
    /// ```
    pub fn join(&self, inner: &Prefix) -> Prefix {
        Prefix(format!("{}{}", self.0, inner.0))
    }

    /// The prefix as a string (empty, or ending in `/`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The object key of `path` under `prefix`; for the root, the prefix itself (which names no
/// object). A name that is not UTF-8 cannot be a key: [`StorageError::NotFound`]. A key
/// longer than S3 allows: [`StorageError::NameTooLong`].
///
/// ```
/// use ftp_server::storage::s3::{object_key, Prefix};
/// use ftp_server::vpath::VPath;
/// let p = Prefix::new("alice").unwrap();
/// let v = VPath::root().resolve(b"/docs/../a//b.txt").unwrap();
/// assert_eq!(object_key(&p, &v).unwrap(), "alice/a/b.txt");
/// assert_eq!(object_key(&p, &VPath::root()).unwrap(), "alice/");
/// ```
pub fn object_key(prefix: &Prefix, path: &VPath) -> Result<String, StorageError> {
    let mut key = String::with_capacity(prefix.0.len() + path.as_bytes().len());
    key.push_str(&prefix.0);
    for (i, c) in path.components().enumerate() {
        let c = std::str::from_utf8(c).map_err(|_| StorageError::NotFound)?;
        // A VPath never holds these; checked anyway, as this is the only gate.
        if c.is_empty() || c == "." || c == ".." || c.contains('/') {
            return Err(StorageError::NotFound);
        }
        if i > 0 {
            key.push('/');
        }
        key.push_str(c);
    }
    // A directory's marker adds a `/`, so keep room for it.
    if key.len() >= MAX_KEY_LEN {
        return Err(StorageError::NameTooLong { creating: false });
    }
    Ok(key)
}

/// The key prefix of the directory `path`: its key and a `/` (for the root, the prefix). A
/// directory's marker object has this key.
///
/// ```
/// use ftp_server::storage::s3::{dir_prefix, Prefix};
/// use ftp_server::vpath::VPath;
/// let p = Prefix::new("").unwrap();
/// assert_eq!(dir_prefix(&p, &VPath::root().join(b"d").unwrap()).unwrap(), "d/");
/// assert_eq!(dir_prefix(&p, &VPath::root()).unwrap(), "");
/// ```
pub fn dir_prefix(prefix: &Prefix, path: &VPath) -> Result<String, StorageError> {
    let mut key = object_key(prefix, path)?;
    if !path.is_root() {
        key.push('/');
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vp(s: &[u8]) -> VPath {
        VPath::root().resolve(s).unwrap()
    }

    #[test]
    fn prefixes_are_normalised_and_refuse_dot_components() {
        for (given, want) in [
            ("", ""),
            ("/", ""),
            ("a", "a/"),
            ("a/", "a/"),
            ("//a//b//", "a/b/"),
            ("a.b/..c", "a.b/..c/"),
        ] {
            assert_eq!(Prefix::new(given).unwrap().as_str(), want, "{given:?}");
        }
        for bad in [".", "..", "a/./b", "a/..", "../x", "a\nb", "a\0b"] {
            assert!(Prefix::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_join_prefix_and_path_without_escaping_it() {
        let p = Prefix::new("site/alice").unwrap();
        assert_eq!(
            object_key(&p, &vp(b"/../../bob/x")).unwrap(),
            "site/alice/bob/x"
        );
        assert_eq!(object_key(&p, &vp(b"a/./b")).unwrap(), "site/alice/a/b");
        assert_eq!(dir_prefix(&p, &vp(b"/d")).unwrap(), "site/alice/d/");
        assert!(matches!(
            object_key(&p, &vp(b"/caf\xe9")),
            Err(StorageError::NotFound)
        ));
        let long = vec![b'x'; MAX_KEY_LEN];
        assert!(matches!(
            object_key(&p, &vp(&long)),
            Err(StorageError::NameTooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn no_client_path_leaves_the_prefix(
            prefix in "[a-z./]{0,12}",
            client in proptest::collection::vec(
                prop_oneof![Just(b'/'), Just(b'.'), Just(b'a'), Just(b'\\'), any::<u8>()], 0..40),
        ) {
            let Ok(prefix) = Prefix::new(&prefix) else { return Ok(()) };
            let Ok(path) = VPath::root().resolve(&client) else { return Ok(()) };
            if let Ok(key) = object_key(&prefix, &path) {
                prop_assert!(key.starts_with(prefix.as_str()));
                let rest = &key[prefix.as_str().len()..];
                prop_assert!(!rest.starts_with('/'));
                prop_assert!(!key.contains("//"));
                prop_assert!(key.split('/').all(|c| c != ".." && c != "."));
                prop_assert_eq!(rest.is_empty(), path.is_root());
            }
        }
    }
}
