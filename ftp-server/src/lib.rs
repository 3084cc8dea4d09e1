//! An FTP server daemon and library on the smol runtime.
//!
//! [`Server::bind`] a [`Config`], then [`Server::run`] it; [`ShutdownHandle::shutdown`] stops
//! it gracefully. Every connection is a [`session::Session`] (a socket-free state machine)
//! driven by a connection task; paths go through [`vpath::VPath`] (the virtual root) and
//! [`storage::Storage`]; logins through [`auth::Authenticator`].
//!
//! Security defaults (RFC 2577): `PORT`/`EPRT` only to the client's own address and ports ≥
//! 1024; passive data connections accepted only from the client's address; unknown users
//! and wrong passwords get the same delayed `530`; repeated failures close the connection;
//! bounded line length, sessions (total and per IP), idle and data timeouts; uploads go to an
//! anonymous file linked into place on success, so a crash leaves nothing behind (see
//! [`storage::fs`]).
//!
//! FTPS (RFC 4217): with [`Config::tls`] set, `AUTH TLS`, `PBSZ` and `PROT` are offered,
//! [`Config::implicit_tls_listen`] adds implicit-FTPS listeners, and protected data
//! connections must resume the control connection's TLS session (see [`tls`]).
//!
//! ```
//! use ftp_server::{Config, Server, User};
//! use std::io::{BufRead, BufReader, Write};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let cfg = Config {
//!     listen: vec!["127.0.0.1:0".parse().unwrap()],
//!     users: vec![User::new("alice", "secret", dir.path())],
//!     ..Config::default()
//! };
//! let server = smol::block_on(Server::bind(cfg)).unwrap();
//! let addr = server.local_addrs()[0];
//! let stop = server.shutdown_handle();
//! let t = std::thread::spawn(move || smol::block_on(server.run()));
//!
//! let mut s = std::net::TcpStream::connect(addr).unwrap();
//! let mut r = BufReader::new(s.try_clone().unwrap());
//! let mut line = String::new();
//! r.read_line(&mut line).unwrap();
//! assert!(line.starts_with("220 "));
//! s.write_all(b"USER alice\r\nPASS secret\r\nPWD\r\n").unwrap();
//! for want in ["331 ", "230 ", "257 \"/\""] {
//!     line.clear();
//!     r.read_line(&mut line).unwrap();
//!     assert!(line.starts_with(want), "{line}");
//! }
//! stop.shutdown();
//! t.join().unwrap().unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod admin;
pub mod auth;
pub mod config;
mod conn;
mod data;
pub mod listing;
pub mod metrics;
pub mod policy;
pub mod proxy;
pub mod reload;
mod server;
pub mod session;
pub mod settings;
mod shared;
pub mod storage;
pub mod tls;
pub mod users_file;
pub mod vpath;
pub mod xferlog;

pub use auth::{Account, Authenticator};
pub use config::{Config, PasswordSpec, Permissions, User};
pub use reload::{ReloadHandle, ReloadReport};
pub use server::{Server, ServerError, ShutdownHandle};
pub use storage::Storage;
