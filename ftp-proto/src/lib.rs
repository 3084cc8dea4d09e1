//! Sans-io FTP protocol types for clients and servers.
//!
//! `ftp-proto` knows how FTP looks on the wire and nothing about sockets or runtimes:
//!
//! - [`line`](mod@line) frames control-connection bytes into lines, with a hard length limit
//!   and Telnet `IAC` handling;
//! - [`command`] parses a line into a typed [`Command`] and writes it back;
//! - [`reply`] holds [`ReplyCode`] and [`Reply`], with an incremental multi-line parser;
//! - [`ascii`] converts `TYPE A` text between local LF and network CR LF;
//! - [`addr`] encodes and decodes the data-channel addresses of `PORT`, `PASV`, `EPRT`, `EPSV`;
//! - [`time`] is the RFC 3659 timestamp used by `MDTM`, `MFMT` and `MLSx`;
//! - [`facts`] formats and parses RFC 3659 `MLST`/`MLSD` entries;
//! - [`feat`] builds and parses the RFC 2389 `FEAT` reply;
//! - [`io`] (feature `io`, on by default) adapts all of this to `futures::io` streams.
//!
//! # Parsing a command and building a reply
//! ```
//! use ftp_proto::{Command, Reply, ReplyCode};
//!
//! let cmd = Command::parse(b"CWD /pub/incoming").unwrap();
//! let reply = match cmd {
//!     Command::Cwd(path) => Reply::new(
//!         ReplyCode::FILE_ACTION_OK,
//!         format!("Now in {}", String::from_utf8_lossy(&path)),
//!     ),
//!     _ => Reply::new(ReplyCode::NOT_IMPLEMENTED, "Not implemented."),
//! };
//! assert_eq!(reply.to_bytes(), b"250 Now in /pub/incoming\r\n");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod ascii;
pub mod command;
pub mod facts;
pub mod feat;
#[cfg(feature = "io")]
pub mod io;
pub mod line;
pub mod reply;
pub mod time;

pub use command::{Command, ParseError, Verb};
pub use reply::{Reply, ReplyCode};
pub use time::Timestamp;

use std::fmt;

/// A value that must not be shown in logs: `Debug` prints `Secret(****)`.
///
/// ```
/// use ftp_proto::Secret;
/// let s = Secret::new("hunter2".to_string());
/// assert_eq!(format!("{s:?}"), "Secret(****)");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The wrapped value; call sites that use it are easy to find.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}
