//! An async FTP client on smol / `futures-io`, and the `ftp-client` command-line tool.
//!
//! The library speaks FTP through [`ftp_proto`]'s types. It opens data connections with
//! `EPSV` (falling back to `PASV` for the rest of the session) or, in active mode, `EPRT`
//! (falling back to `PORT`); it ignores the address in a `227` reply in favour of the control
//! connection's peer unless told to trust it; it lists with `MLSD` when offered and parses
//! Unix and DOS `LIST` output otherwise; every reply and every stalled data connection has
//! a time limit, and long transfers send `NOOP` keep-alives.
//!
//! Errors are [`Error`]s that keep their causes typed ([`ProtocolError`], [`TlsError`], the
//! server's reply, the I/O error) and map to the binary's exit codes ([`ErrorClass`]).
//!
//! The `cli` feature (on by default) adds `ftp_client::cli`, the `ftp-client` binary's
//! argument parsing and shell, with clap, rustyline, indicatif and the rest; link the library
//! with `default-features = false` to leave them out.
//!
//! FTPS: set [`Options::tls`] (explicit `AUTH TLS` or implicit) and [`Options::verify`];
//! data connections then use TLS and resume the control connection's session (see [`tls`]).
//!
//! ```no_run
//! use futures_lite::io::AsyncReadExt;
//! use ftp_client::{Client, Options};
//!
//! # fn main() -> Result<(), ftp_client::Error> {
//! smol::block_on(async {
//!     let mut client = Client::connect("127.0.0.1", 21, Options::default()).await?;
//!     client.login("alice", "secret").await?;
//!     for entry in client.list(None).await? {
//!         println!("{:?} {}", entry.kind, entry.name_lossy());
//!     }
//!     // Upload from any AsyncRead, download as an AsyncRead.
//!     client.stor("hello.txt", &b"hello\n"[..], 0).await?;
//!     let mut dl = client.retr("hello.txt", 0).await?;
//!     let mut text = String::new();
//!     dl.read_to_string(&mut text).await.map_err(|e| ftp_client::Error::io("reading the download", e))?;
//!     dl.finish().await?;
//!     client.quit().await
//! })
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
mod client;
mod data;
mod error;
pub mod listing;
mod server_ops;
pub mod tls;

pub use client::{BoxStream, Client, DataMode, Options, Stream, TransferKind, TRANSCRIPT_TARGET};
pub use data::{CopyError, Download};
pub use error::{Error, ErrorClass, ProtocolError, Result, TlsError};
pub use listing::{Entry, EntryKind};
pub use server_ops::digest_of;
