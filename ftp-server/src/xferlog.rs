//! The transfer log in the classic wu-ftpd/vsftpd `xferlog` format (`--xferlog FILE`): one
//! line per file transfer, so existing log analysers read it. The file is opened for
//! appending and opened again by [`Xferlog::reopen`] (on `SIGHUP`, after logrotate moved it).
//!
//! The line's fields, separated by single spaces (the time is `ctime`'s five words, in UTC):
//! `current-time transfer-time remote-host file-size filename transfer-type
//! special-action-flag direction access-mode username service-name authentication-method
//! authenticated-user-id completion-status`.
//!
//! ```
//! use ftp_server::xferlog::{line, Entry};
//! let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
//! let l = line(&Entry {
//!     at: t, seconds: 2, host: "127.0.0.1".parse().unwrap(), bytes: 1024,
//!     path: b"/pub/a file.txt", ascii: false, upload: false, anonymous: false,
//!     user: "alice", complete: true,
//! });
//! assert_eq!(l, "Tue Nov 14 22:13:20 2023 2 127.0.0.1 1024 /pub/a_file.txt b _ o r alice ftp 0 * c\n");
//! assert_eq!(l.split_whitespace().count(), 18);
//! ```

use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// One finished (or broken off) file transfer.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// When it ended.
    pub at: SystemTime,
    /// How long it took, in whole seconds.
    pub seconds: u64,
    /// The client's address.
    pub host: IpAddr,
    /// Bytes moved.
    pub bytes: u64,
    /// The virtual path.
    pub path: &'a [u8],
    /// `TYPE A`.
    pub ascii: bool,
    /// An upload (else a download).
    pub upload: bool,
    /// An anonymous login.
    pub anonymous: bool,
    /// The user name.
    pub user: &'a str,
    /// All data moved.
    pub complete: bool,
}

/// A field without spaces or control characters (they would shift every later field):
/// each becomes `_`, as vsftpd does for spaces; bytes that are not UTF-8 become `?`.
fn field(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| match c {
            c if c.is_whitespace() || c.is_control() => '_',
            '\u{fffd}' => '?',
            c => c,
        })
        .collect()
}

/// The log line of `e`, with its newline.
pub fn line(e: &Entry<'_>) -> String {
    let at = time::OffsetDateTime::from(e.at);
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    let when = at.format(&fmt).unwrap_or_default();
    let user = match field(e.user.as_bytes()) {
        u if u.is_empty() => "-".to_string(),
        u => u,
    };
    format!(
        "{when} {} {} {} {} {} _ {} {} {user} ftp 0 * {}\n",
        e.seconds,
        e.host.to_canonical(),
        e.bytes,
        field(e.path),
        if e.ascii { 'a' } else { 'b' },
        if e.upload { 'i' } else { 'o' },
        if e.anonymous { 'a' } else { 'r' },
        if e.complete { 'c' } else { 'i' },
    )
}

/// The transfer log file, if one is configured.
#[derive(Debug, Default)]
pub struct Xferlog {
    file: Mutex<Option<(PathBuf, File)>>,
}

impl Xferlog {
    /// Opens `path` for appending (creating it), or no log at all for `None`.
    pub fn open(path: Option<&Path>) -> std::io::Result<Xferlog> {
        let file = match path {
            Some(p) => Some((p.to_path_buf(), append(p)?)),
            None => None,
        };
        Ok(Xferlog {
            file: Mutex::new(file),
        })
    }

    /// Opens the file again under its name (after logrotate moved the old one away). On an
    /// error the old file stays in use.
    pub fn reopen(&self) -> std::io::Result<()> {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((path, file)) = f.as_mut() {
            *file = append(path)?;
        }
        Ok(())
    }

    /// Takes `other`'s file in place of this one's (a reload that changed the path).
    pub fn replace(&self, other: Xferlog) {
        let new = other.file.into_inner().unwrap_or_else(|e| e.into_inner());
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = new;
    }

    /// Appends the line of `e` (a write error is logged, never fatal).
    pub fn write(&self, e: &Entry<'_>) {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((path, file)) = f.as_mut() {
            if let Err(err) = file.write_all(line(e).as_bytes()) {
                log::warn!("xferlog {}: {err}", path.display());
            }
        }
    }

    /// Whether a file is configured.
    pub fn is_on(&self) -> bool {
        self.file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

fn append(p: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
}
