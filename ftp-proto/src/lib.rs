//! Sans-io FTP protocol types for clients and servers.
//!
//! `ftp-proto` knows how FTP looks on the wire and nothing about sockets or runtimes:
//!
//! - [`line`](mod@line) frames control-connection bytes into lines, with a hard length limit
//!   and Telnet `IAC` handling;
//! - [`command`] parses a line into a typed [`Command`] and writes it back; its paths and
//!   other byte arguments are an [`Arg`], which cannot hold CR or LF;
//! - [`reply`] holds [`ReplyCode`] and [`Reply`], with an incremental multi-line parser;
//! - [`ascii`] converts `TYPE A` text between local LF and network CR LF;
//! - [`addr`] encodes and decodes the data-channel addresses of `PORT`, `PASV`, `EPRT`, `EPSV`;
//! - [`time`] is the RFC 3659 timestamp used by `MDTM`, `MFMT` and `MLSx`;
//! - [`facts`] formats and parses RFC 3659 `MLST`/`MLSD` entries;
//! - [`feat`] builds and parses the RFC 2389 `FEAT` reply;
//! - [`hash`] holds the `HASH` digests (SHA-256, SHA-512, SHA-1, MD5, CRC-32) and reads a `213` `HASH` reply;
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
//!
//! # One shape for every decoder
//! Each decoder returns what it found first and the rest of its input second:
//! [`LineDecoder::decode`](line::LineDecoder::decode) gives `(line, rest)` (the line is `None`
//! while the decoder holds an unfinished one), [`Reply::decode`] gives `Some((reply, rest))`
//! (`None`: more bytes needed), and [`Facts::parse`](facts::Facts::parse) gives
//! `(facts, name)`, the name being the rest of the line. A caller goes on with `rest`:
//!
//! ```
//! use ftp_proto::Reply;
//!
//! let mut wire: &[u8] = b"150 Opening.\r\n226 Done.\r\n";
//! let mut codes = Vec::new();
//! while let Some((reply, rest)) = Reply::decode(wire).unwrap() {
//!     codes.push(reply.code().as_u16());
//!     wire = rest;
//! }
//! assert_eq!(codes, [150, 226]);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod arg;
pub mod ascii;
pub mod command;
pub mod facts;
pub mod feat;
pub mod hash;
#[cfg(feature = "io")]
pub mod io;
pub mod line;
pub mod reply;
pub mod time;

pub use arg::{Arg, ArgError};
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
