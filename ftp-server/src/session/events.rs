//! What the connection reports to the session besides commands, and the replies the session
//! chooses for them: a command that arrives while a transfer runs ([`Session::during_transfer`]),
//! a transfer's end ([`Session::transfer_ended`]), a passive listener opened or not, the idle
//! timeout and the server's shutdown.
//! The connection only moves bytes and keeps time; every reply it sends comes from here or
//! from [`Session::handle`].

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use ftp_proto::{Command, ParseError, Reply, ReplyCode, Verb};

use super::{storage_error_reply, Session};
use crate::storage::StorageError;
use crate::tls::DataTlsError;
use crate::vpath::VPath;

/// How a transfer ended, as the connection reports it to [`Session::transfer_ended`]. Its
/// `Display` is the result column of the transfer log line (`ok`, `failed: ...`).
#[derive(Debug)]
#[non_exhaustive]
pub enum TransferEnd {
    /// All data moved: this many bytes.
    Done(u64),
    /// The data connection could not be opened (no connection in time, connect refused).
    NoConnection(io::Error),
    /// The data connection failed or timed out during the transfer.
    Data(io::Error),
    /// The storage backend failed (reading, writing or committing the upload).
    Storage(StorageError),
    /// TLS on the data connection failed or did not resume the control connection's session.
    Tls(DataTlsError),
    /// A job ([`Action::Job`](super::Action::Job)) ended with this reply.
    Job(Reply),
}

impl TransferEnd {
    /// The end of the rest of a transfer whose first `sent` bytes went out before.
    pub(crate) fn after(self, sent: u64) -> TransferEnd {
        match self {
            TransferEnd::Done(n) => TransferEnd::Done(sent + n),
            other => other,
        }
    }
}

impl fmt::Display for TransferEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferEnd::Done(_) => f.write_str("ok"),
            TransferEnd::NoConnection(e) => write!(f, "failed: no data connection: {e}"),
            TransferEnd::Data(e) => write!(f, "failed: data connection: {e}"),
            TransferEnd::Tls(e) => write!(f, "failed: {e}"),
            TransferEnd::Storage(e) => write!(f, "failed: storage: {e}"),
            TransferEnd::Job(r)
                if r.code().class() == ftp_proto::reply::ReplyClass::PositiveCompletion =>
            {
                f.write_str("ok")
            }
            TransferEnd::Job(r) => write!(f, "failed: {}", r.code().as_u16()),
        }
    }
}

/// A running transfer, as the connection reports it to [`Session::during_transfer`].
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The transfer's command.
    pub verb: Verb,
    /// Its file or directory.
    pub path: &'a VPath,
    /// The bytes moved so far.
    pub bytes: u64,
}

/// What the connection does with a command that arrives while a transfer runs.
#[derive(Debug)]
#[non_exhaustive]
pub enum Busy {
    /// `ABOR`: stop the transfer (dropping it closes the data connection and discards an
    /// unfinished upload), then send both replies in turn (`426`, then `226`).
    Abort(Reply, Reply),
    /// Send this reply now; the transfer goes on (`STAT`, `NOOP`).
    Reply(Reply),
    /// `QUIT`: after the transfer's own reply, send [`Session::goodbye`] and close.
    QuitAfter,
    /// Keep the command and [`handle`](Session::handle) it once the transfer ended; the
    /// connection reads no further command meanwhile (bounded input).
    Defer,
}

impl Session {
    /// What to do with `cmd`, which arrived while the transfer described by `progress` runs:
    /// `ABOR`, `STAT` and `NOOP` are answered at once, `QUIT` after the transfer, anything
    /// else waits for it.
    pub fn during_transfer(
        &self,
        cmd: &Result<Command, ParseError>,
        progress: Progress<'_>,
    ) -> Busy {
        match cmd {
            Ok(Command::Abor) => Busy::Abort(
                Reply::new(ReplyCode::TRANSFER_ABORTED, "Transfer aborted."),
                Reply::new(ReplyCode::CLOSING_DATA, "ABOR successful."),
            ),
            Ok(Command::Stat(None)) => {
                let mut text =
                    format!("Transfer in progress: {} ", progress.verb.as_str()).into_bytes();
                text.extend_from_slice(progress.path.as_bytes());
                text.extend_from_slice(format!(", {} bytes", progress.bytes).as_bytes());
                Busy::Reply(Reply::multi(
                    ReplyCode::SYSTEM_STATUS,
                    [text, b"End of status".to_vec()],
                ))
            }
            Ok(Command::Noop) => Busy::Reply(noop_reply()),
            Ok(Command::Quit) => Busy::QuitAfter,
            _ => Busy::Defer,
        }
    }

    /// The final reply of a transfer that ended with `end`.
    pub fn transfer_ended(&self, end: &TransferEnd) -> Reply {
        match end {
            TransferEnd::Done(_) => Reply::new(ReplyCode::CLOSING_DATA, "Transfer complete."),
            TransferEnd::NoConnection(_) => {
                Reply::new(ReplyCode::CANT_OPEN_DATA, "Can't open data connection.")
            }
            TransferEnd::Data(_) => Reply::new(
                ReplyCode::TRANSFER_ABORTED,
                "Connection closed; transfer aborted.",
            ),
            TransferEnd::Tls(DataTlsError::NotResumed) => Reply::new(
                ReplyCode::CANT_OPEN_DATA,
                "TLS session of data connection not resumed.",
            ),
            TransferEnd::Tls(_) => Reply::new(
                ReplyCode::CANT_OPEN_DATA,
                "TLS handshake on the data connection failed.",
            ),
            TransferEnd::Storage(e) => storage_error_reply(e),
            TransferEnd::Job(r) => r.clone(),
        }
    }

    /// The reply to a transfer command when no data connection was set up.
    pub fn no_data_connection(&self) -> Reply {
        Reply::new(
            ReplyCode::CANT_OPEN_DATA,
            "Use PORT, PASV, EPRT or EPSV first.",
        )
    }

    /// The reply to `PASV` (`extended` false) or `EPSV` once the connection tried to open a
    /// listener: on `port` (`None`: it could not bind one), announced for `PASV` as `ipv4`
    /// (`None`: an IPv6 control connection with no public IPv4 address, where only `EPSV`
    /// works).
    pub fn passive_opened(
        &self,
        extended: bool,
        ipv4: Option<Ipv4Addr>,
        port: Option<u16>,
    ) -> Reply {
        match (extended, ipv4, port) {
            (false, None, _) => Reply::new(ReplyCode::CANT_OPEN_DATA, "PASV needs IPv4; use EPSV."),
            (_, _, None) => Reply::new(ReplyCode::CANT_OPEN_DATA, "Can't open passive connection."),
            (true, _, Some(port)) => ftp_proto::addr::epsv_reply(port),
            (false, Some(ip), Some(port)) => {
                ftp_proto::addr::pasv_reply(SocketAddrV4::new(ip, port))
            }
        }
    }

    /// When the connection closes for idling if no command arrives first: the configured
    /// idle timeout after `last`, the moment the last command arrived or the last transfer
    /// ended (no idle limit runs during a transfer).
    pub fn idle_deadline(&self, last: Instant) -> Instant {
        last + self.cfg.idle_timeout
    }

    /// The reply before the connection closes at its [`idle_deadline`](Self::idle_deadline).
    pub fn idle_timeout(&self) -> Reply {
        Reply::new(
            ReplyCode::NOT_AVAILABLE,
            "Idle timeout, closing control connection.",
        )
    }

    /// The reply before the connection closes because the administrator closed the session
    /// (`DELETE /api/v1/sessions/{id}`); a running transfer is aborted first.
    pub fn kicked(&self) -> Reply {
        Reply::new(
            ReplyCode::NOT_AVAILABLE,
            "Session closed by the administrator.",
        )
    }

    /// The reply before the connection closes because the server shuts down: at once when
    /// no transfer runs, after the running transfer, or when the grace period ends.
    pub fn shutdown(&self) -> Reply {
        Reply::new(ReplyCode::NOT_AVAILABLE, "Server shutting down.")
    }
}

/// The reply to `NOOP`, with or without a transfer running.
pub(super) fn noop_reply() -> Reply {
    Reply::new(ReplyCode::OK, "NOOP ok.")
}
