//! The client's error type and the failure classes the binary maps to exit codes.

use std::io;

use std::net::IpAddr;
use std::path::PathBuf;

use ftp_proto::addr::AddrError;
use ftp_proto::io::ReadReplyError;
use ftp_proto::{Reply, ReplyCode};

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
/// | [`ErrorClass::Interrupted`] (Ctrl-C) | 130 |
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
    /// Interrupted by the user (SIGINT, Ctrl-C).
    Interrupted,
}

impl ErrorClass {
    /// The class of an I/O error, on a connection or on a local file: the one mapping from
    /// [`io::ErrorKind`] to exit codes.
    ///
    /// ```
    /// use ftp_client::ErrorClass;
    /// use std::io::ErrorKind;
    /// assert_eq!(ErrorClass::of_io(ErrorKind::PermissionDenied), ErrorClass::NotFound);
    /// assert_eq!(ErrorClass::of_io(ErrorKind::ConnectionReset), ErrorClass::Connect);
    /// assert_eq!(ErrorClass::of_io(ErrorKind::StorageFull), ErrorClass::Transfer);
    /// ```
    pub fn of_io(kind: io::ErrorKind) -> ErrorClass {
        match kind {
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => ErrorClass::NotFound,
            io::ErrorKind::TimedOut => ErrorClass::Timeout,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => ErrorClass::Connect,
            _ => ErrorClass::Transfer,
        }
    }

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
            ErrorClass::Interrupted => 130,
        }
    }
}

/// An error from the FTP client library.
///
/// Every variant keeps what caused it as a typed value: the server's [`Reply`], the
/// [`io::Error`], a [`ProtocolError`] or a [`TlsError`]. The message (`Display`) is whole, cause
/// included, and [`std::error::Error::source`] returns the cause for code that inspects it,
/// so a printer that walks the chain leaves out a cause the message already includes.
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
    /// The server broke the protocol: see [`ProtocolError`] for the ways.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The server closed the control connection.
    #[error("the server closed the connection ({0})")]
    Disconnected(String),
    /// Invalid arguments from the caller.
    #[error("{0}")]
    Usage(String),
    /// A TLS failure: see [`TlsError`] for the ways.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// How a server broke the protocol. Each variant keeps what was received.
///
/// ```
/// use ftp_client::{Error, ProtocolError};
/// let e = Error::from(ProtocolError::ListingTooLarge { max: 1024 });
/// assert_eq!(e.to_string(), "protocol error: listing larger than 1024 bytes");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The control connection carried something that is not a reply (too long, no code).
    #[error("{0}")]
    Unreadable(#[source] ReadReplyError),
    /// A `227` or `229` reply whose address cannot be read.
    #[error("bad {command} reply ({source}): {reply}")]
    BadAddress {
        /// `PASV` or `EPSV`.
        command: &'static str,
        /// The reply.
        reply: Reply,
        /// What is wrong with the address.
        source: AddrError,
    },
    /// A reply to `SIZE` or `MDTM` that does not hold a size or a time.
    #[error("bad {command} reply: {reply}")]
    BadValue {
        /// `SIZE` or `MDTM`.
        command: &'static str,
        /// The reply.
        reply: Reply,
    },
    /// A `257` reply to `PWD` without a quoted path.
    #[error("no quoted path in PWD reply: {0}")]
    NoQuotedPath(Reply),
    /// More than 16 `1xx` replies to one command.
    #[error("too many preliminary replies to {0}")]
    TooManyPreliminary(String),
    /// Bytes after the `234` reply to `AUTH TLS`, before the handshake (they could be
    /// injected plain text).
    #[error("the server sent more after 234 before the TLS handshake")]
    DataAfterAuthTls,
    /// The stale `NOOP` replies after an interrupted transfer never came.
    #[error("could not resynchronise the control connection")]
    LostSync,
    /// Active mode over IPv6 to a server that knows `PORT` only.
    #[error("the server refuses EPRT and PORT cannot carry an IPv6 address")]
    NoEprt,
    /// A data connection without a TCP socket underneath (cannot `sendfile`).
    #[error("no TCP socket under the data connection")]
    NoTcpSocket,
    /// A listing over the client's size limit.
    #[error("listing larger than {max} bytes")]
    ListingTooLarge {
        /// The limit.
        max: usize,
    },
    /// Active mode: only hosts other than the server connected to the data port.
    #[error("{count} data connections came from other hosts than the server {server}; gave up")]
    ForeignDataConnections {
        /// How many were closed.
        count: usize,
        /// The server's address.
        server: IpAddr,
    },
}

/// Why TLS failed. Each variant keeps its cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The server answered `AUTH TLS` with another reply than `234`.
    #[error("the server refused AUTH TLS: {0}")]
    AuthRefused(Reply),
    /// The handshake failed: the certificate did not verify, or the peer broke TLS.
    #[error("handshake on the {what}: {source}")]
    Handshake {
        /// Which connection: the control connection or a data connection.
        what: String,
        /// The error from rustls, inside an I/O error.
        source: io::Error,
    },
    /// The server's certificate is signed by nobody the client trusts (a self-signed or
    /// private-CA certificate): the message gives its SHA-256 to pin.
    #[error(
        "the server's certificate on the {what} is from an unknown issuer (no trusted CA \
         signed it); its SHA-256 fingerprint is {sha256}. If you trust it, pass \
         --pin-sha256 {sha256}, or its CA certificate with --ca-file FILE"
    )]
    UnknownIssuer {
        /// Which connection.
        what: String,
        /// The certificate's SHA-256, `AB:CD:…`.
        sha256: String,
    },
    /// The server's certificate has expired.
    #[error("the server's certificate on the {what} expired on {not_after}")]
    Expired {
        /// Which connection.
        what: String,
        /// Its `notAfter` date, `2026-01-02 12:00 UTC`.
        not_after: String,
    },
    /// The server's certificate is not valid yet (or the local clock is wrong).
    #[error(
        "the server's certificate on the {what} is not valid before {not_before} \
         (check this computer's clock)"
    )]
    NotYetValid {
        /// Which connection.
        what: String,
        /// Its `notBefore` date, `2026-01-02 12:00 UTC`.
        not_before: String,
    },
    /// The peer answered the TLS handshake with something that is not TLS.
    #[error("the server answered in plain text on the {what}, not TLS")]
    PlainText {
        /// Which connection.
        what: String,
    },
    /// An implicit-FTPS connection (`ftps://`, `--implicit-tls`) to a port where the server
    /// greets in plain text.
    #[error(
        "the server answered in plain text: it does not speak implicit FTPS on this port; \
         try ftpes:// or ftp:// with --tls"
    )]
    NotImplicitFtps,
    /// A certificate in the CA file that rustls refuses.
    #[error("CA file {}: {source}", path.display())]
    CaCertificate {
        /// The CA file.
        path: PathBuf,
        /// Why rustls refused it.
        source: rustls::Error,
    },
    /// A CA file without any PEM certificate.
    #[error("CA file {}: no PEM certificates", path.display())]
    NoCaCertificates {
        /// The CA file.
        path: PathBuf,
    },
    /// The system has no usable root certificates.
    #[error("no system root certificates found (use --ca-file or --pin-sha256)")]
    NoSystemRoots,
    /// rustls refused the configuration.
    #[error("{0}")]
    Config(#[source] rustls::Error),
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
                reply.code().is_transient() && reply.code() != ReplyCode::FILE_UNAVAILABLE
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
            Error::Reply { reply, .. } => match reply.code() {
                ReplyCode::NOT_LOGGED_IN
                | ReplyCode::NEED_ACCOUNT
                | ReplyCode::NEED_ACCOUNT_TO_STORE => ErrorClass::Login,
                ReplyCode::FILE_NOT_AVAILABLE
                | ReplyCode::FILE_NAME_NOT_ALLOWED
                | ReplyCode::FILE_UNAVAILABLE => ErrorClass::NotFound,
                ReplyCode::NOT_AVAILABLE => ErrorClass::Connect,
                _ => ErrorClass::Transfer,
            },
            Error::Io { source, .. } => ErrorClass::of_io(source.kind()),
            Error::Protocol(_) => ErrorClass::Transfer,
        }
    }

    /// An I/O error on a connection or a file, with what was being done.
    ///
    /// ```
    /// let e = ftp_client::Error::io("reading a.txt", std::io::ErrorKind::NotFound.into());
    /// assert_eq!(e.class(), ftp_client::ErrorClass::NotFound);
    /// ```
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
