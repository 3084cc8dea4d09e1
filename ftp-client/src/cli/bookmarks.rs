//! Bookmarks: servers by name, in `$XDG_CONFIG_HOME/ftp-client/bookmarks.toml`
//! (`~/.config/…` without it), never with a password (netrc, `FTP_PASSWORD` or the prompt
//! supply it when the bookmark is opened).
//!
//! ```toml
//! [bookmark.mirror]
//! url = "ftp://anonymous@ftp.example.org/pub/"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use super::fail;
use super::url::{is_url, without_password, FtpUrl};
use crate::error::ErrorClass;

/// The bookmarks file, as TOML.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Bookmarks {
    #[serde(default)]
    bookmark: BTreeMap<String, Bookmark>,
}

/// One bookmark.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Bookmark {
    url: String,
}

/// `$XDG_CONFIG_HOME/ftp-client/bookmarks.toml`, else `~/.config/ftp-client/bookmarks.toml`.
pub(crate) fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("ftp-client").join("bookmarks.toml"))
}

/// A name a bookmark may have: letters, digits, `-`, `_` and `.`, not starting with `-` or
/// `.`, and not a URL.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(fail(
            ErrorClass::Usage,
            format!("{name:?} cannot be a bookmark name (letters, digits, - _ .)"),
        ))
    }
}

impl Bookmarks {
    /// The bookmarks file's contents (none when it does not exist).
    pub fn load() -> Result<Bookmarks> {
        let Some(p) = path() else {
            return Ok(Bookmarks::default());
        };
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Bookmarks::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        toml::from_str(&text).map_err(|e| {
            fail(
                ErrorClass::Usage,
                format!("{}: {}", p.display(), e.message()),
            )
        })
    }

    /// Writes the file (through a temporary file renamed over it).
    pub fn save(&self) -> Result<()> {
        let p = path().ok_or_else(|| fail(ErrorClass::Usage, "no HOME for the bookmarks"))?;
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = toml::to_string(self).context("writing the bookmarks")?;
        let tmp = p.with_extension("toml.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))?;
        Ok(())
    }

    /// The URL of bookmark `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.bookmark.get(name).map(|b| b.url.as_str())
    }

    /// Adds (or replaces) `name`; the URL is checked and stored without its password.
    pub fn add(&mut self, name: &str, url: &str) -> Result<String> {
        check_name(name)?;
        if !is_url(url) {
            return Err(fail(
                ErrorClass::Usage,
                format!("{url:?} is not an ftp:// URL"),
            ));
        }
        FtpUrl::parse(url)?;
        let url = without_password(url);
        self.bookmark
            .insert(name.to_string(), Bookmark { url: url.clone() });
        Ok(url)
    }

    /// Removes `name`; false if there was none.
    pub fn remove(&mut self, name: &str) -> bool {
        self.bookmark.remove(name).is_some()
    }

    /// Every (name, URL), sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.bookmark
            .iter()
            .map(|(n, b)| (n.as_str(), b.url.as_str()))
    }
}

/// The URL of bookmark `name`, if the file has one (a broken file counts as none).
pub(crate) fn lookup(name: &str) -> Option<String> {
    Bookmarks::load().ok()?.get(name).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookmarks_keep_no_password_and_refuse_odd_names() {
        let mut b = Bookmarks::default();
        let url = b.add("work", "ftp://u:secret@h:2121/pub/").unwrap();
        assert_eq!(url, "ftp://u@h:2121/pub/");
        let text = toml::to_string(&b).unwrap();
        assert!(!text.contains("secret"), "{text}");
        let back: Bookmarks = toml::from_str(&text).unwrap();
        assert_eq!(back.get("work"), Some("ftp://u@h:2121/pub/"));
        for bad in ["", "-x", "a b", "ftp://h/", ".hidden"] {
            assert!(b.add(bad, "ftp://h/").is_err(), "{bad:?}");
        }
        assert!(b.add("x", "not a url").is_err());
        assert!(b.remove("work") && !b.remove("work"));
    }
}
