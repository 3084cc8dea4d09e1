//! The client's error type and the failure classes the binary maps to exit codes.

use std::io;

use ftp_proto::Reply;

/// A failure class, used by the `ftp-client` binary to choose its exit code.
///
/// | class | exit code |
/// |---|---|
/// | success | 0 |
/// | [`ErrorClass::Usage`] | 2 |
/// | [`ErrorClass::Connect`] | 3 |
/// | [`ErrorClass::Login`] | 4 |
/// | [`ErrorClass::Tls`] | 5 |
/// | [`ErrorClass::NotFound`] (not found or permission denied) | 6 |
/// | [`ErrorClass::Transfer`] (transfer failed, protocol error) | 7 |
/// | [`ErrorClass::Timeout`] | 8 |
/// | [`ErrorClass::Partial`] (some items of a batch failed) | 9 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Bad arguments or URL.
    Usage,
    /// Could not reach the server, or the connection was lost.
    Connect,
    /// Login refused.
    Login,
    /// TLS failed: handshake, certificate verification, or `AUTH TLS` refused.
    Tls,
    /// The file or directory does not exist, or access was denied.
    NotFound,
    /// A transfer or another command failed.
    Transfer,
    /// The server or the network did not answer in time.
    Timeout,
    /// Some items of a batch (mirror, mget, recursive get) failed.
    Partial,
}

impl ErrorClass {
    /// The process exit code for this class.
    ///
    /// ```
    /// use ftp_client::ErrorClass;
    /// assert_eq!(ErrorClass::Login.exit_code(), 4);
    /// assert_eq!(ErrorClass::Partial.exit_code(), 9);
    /// ```
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorClass::Usage => 2,
            ErrorClass::Connect => 3,
            ErrorClass::Login => 4,
            ErrorClass::Tls => 5,
            ErrorClass::NotFound => 6,
            ErrorClass::Transfer => 7,
            ErrorClass::Timeout => 8,
            ErrorClass::Partial => 9,
        }
    }
}

/// An error from the FTP client library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Connecting to the server failed.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// The host and port tried.
        target: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The server refused the login.
    #[error("login failed: {reply}")]
    Login {
        /// The server's reply.
        reply: Reply,
    },
    /// The server answered a command with an error (or an unexpected) reply.
    #[error("{command}: server replied {reply}")]
    Reply {
        /// The command, as sent (passwords masked).
        command: String,
        /// The server's reply.
        reply: Reply,
    },
    /// An I/O error on the control or data connection, or on a local file.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The server or the data connection did not answer in time.
    #[error("timed out {0}")]
    Timeout(String),
    /// The server broke the protocol (malformed reply, bad address, closed connection).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server closed the control connection.
    #[error("the server closed the connection ({0})")]
    Disconnected(String),
    /// Invalid arguments from the caller.
    #[error("{0}")]
    Usage(String),
    /// A TLS failure: handshake, certificate verification, or `AUTH TLS` refused.
    #[error("TLS: {0}")]
    Tls(String),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The server's reply, if this error carries one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Error::Login { reply } | Error::Reply { reply, .. } => Some(reply),
            _ => None,
        }
    }

    /// True if retrying (and resuming) the operation may help: timeouts, connection losses
    /// and 4xx replies (other than 450 "file unavailable", which is often permanent).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout(_) | Error::Io { .. } | Error::Connect { .. } => true,
            Error::Disconnected(_) => true,
            Error::Protocol(_) => true,
            Error::Reply { reply, .. } => {
                reply.code().is_transient() && reply.code().as_u16() != 450
            }
            _ => false,
        }
    }

    /// The failure class, which the binary maps to an exit code.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Connect { .. } | Error::Disconnected(_) => ErrorClass::Connect,
            Error::Login { .. } => ErrorClass::Login,
            Error::Tls(_) => ErrorClass::Tls,
            Error::Usage(_) => ErrorClass::Usage,
            Error::Timeout(_) => ErrorClass::Timeout,
            Error::Reply { reply, .. } => match reply.code().as_u16() {
                530 | 332 | 532 => ErrorClass::Login,
                550 | 553 | 450 => ErrorClass::NotFound,
                421 => ErrorClass::Connect,
                _ => ErrorClass::Transfer,
            },
            Error::Io { source, .. } => match source.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => ErrorClass::NotFound,
                io::ErrorKind::TimedOut => ErrorClass::Timeout,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => ErrorClass::Connect,
                _ => ErrorClass::Transfer,
            },
            Error::Protocol(_) => ErrorClass::Transfer,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
