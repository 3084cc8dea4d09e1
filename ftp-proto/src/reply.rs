//! Replies: typed codes, single- and multi-line text, incremental parsing and serialisation.
//!
//! A reply is a three-digit code and one or more lines of text (RFC 959 §4.2). On the wire a
//! multi-line reply starts with `123-first line` and ends with `123 last line`; lines between
//! may hold anything, so [`Reply::multi`] escapes an inner line that would read as a
//! terminator (three digits and a space) by prefixing a space, as RFC 959 suggests.
//!
//! ```
//! use ftp_proto::{Reply, ReplyCode};
//!
//! let r = Reply::multi(ReplyCode::SYSTEM_STATUS, ["Features:", " SIZE", " MDTM", "End"]);
//! assert_eq!(r.to_bytes(), b"211-Features:\r\n SIZE\r\n MDTM\r\n211 End\r\n");
//!
//! let (parsed, rest) = Reply::decode(b"220 hello\r\n230-x").unwrap().unwrap();
//! assert_eq!((parsed.code(), rest), (ReplyCode::SERVICE_READY, &b"230-x"[..]));
//! assert_eq!(parsed.text(), "hello");
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::line::{self, LineDecoder};

/// A reply code: three digits, the first from 1 to 6 (6 is RFC 2228's protected replies).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

/// The class of a reply, from its first digit (RFC 959 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyClass {
    /// 1yz: the action is starting; expect another reply.
    PositivePreliminary,
    /// 2yz: the action completed.
    PositiveCompletion,
    /// 3yz: accepted, more information needed.
    PositiveIntermediate,
    /// 4yz: not done, may succeed if retried.
    TransientNegative,
    /// 5yz: not done, do not retry as is.
    PermanentNegative,
    /// 6yz: protected reply (RFC 2228).
    Protected,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident = $n:literal ),* $(,)?) => {
        impl ReplyCode {
            $( $(#[$doc])* pub const $name: ReplyCode = ReplyCode($n); )*
        }
    };
}

codes! {
    /// 110 Restart marker reply.
    RESTART_MARKER = 110,
    /// 120 Service ready in nnn minutes.
    SERVICE_READY_SOON = 120,
    /// 125 Data connection already open; transfer starting.
    DATA_ALREADY_OPEN = 125,
    /// 150 File status okay; about to open data connection.
    FILE_STATUS_OK = 150,
    /// 200 Command okay.
    OK = 200,
    /// 202 Command not implemented, superfluous at this site.
    SUPERFLUOUS = 202,
    /// 211 System status, or system help reply (also FEAT).
    SYSTEM_STATUS = 211,
    /// 212 Directory status.
    DIRECTORY_STATUS = 212,
    /// 213 File status (also SIZE, MDTM, STAT of a file).
    FILE_STATUS = 213,
    /// 214 Help message.
    HELP = 214,
    /// 215 NAME system type.
    SYSTEM_TYPE = 215,
    /// 220 Service ready for new user.
    SERVICE_READY = 220,
    /// 221 Service closing control connection.
    CLOSING = 221,
    /// 225 Data connection open; no transfer in progress.
    DATA_OPEN = 225,
    /// 226 Closing data connection; requested file action successful.
    CLOSING_DATA = 226,
    /// 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).
    PASSIVE_MODE = 227,
    /// 228 Entering Long Passive Mode.
    LONG_PASSIVE_MODE = 228,
    /// 229 Entering Extended Passive Mode (|||port|).
    EXTENDED_PASSIVE_MODE = 229,
    /// 230 User logged in, proceed.
    LOGGED_IN = 230,
    /// 232 User logged in, authorized by security data exchange.
    LOGGED_IN_SECURE = 232,
    /// 234 Security data exchange complete (AUTH TLS accepted).
    AUTH_OK = 234,
    /// 235 Security data exchange completed successfully.
    SECURITY_DATA_OK = 235,
    /// 250 Requested file action okay, completed.
    FILE_ACTION_OK = 250,
    /// 257 "PATHNAME" created / is the current directory.
    PATH_CREATED = 257,
    /// 331 User name okay, need password.
    NEED_PASSWORD = 331,
    /// 332 Need account for login.
    NEED_ACCOUNT = 332,
    /// 334 Security mechanism accepted, ADAT data required.
    SECURITY_ACCEPTED = 334,
    /// 335 Security data acceptable, more required.
    SECURITY_MORE = 335,
    /// 336 Username okay, need password; challenge is "…".
    PASSWORD_CHALLENGE = 336,
    /// 350 Requested file action pending further information.
    PENDING = 350,
    /// 421 Service not available, closing control connection.
    NOT_AVAILABLE = 421,
    /// 425 Can't open data connection.
    CANT_OPEN_DATA = 425,
    /// 426 Connection closed; transfer aborted.
    TRANSFER_ABORTED = 426,
    /// 430 Invalid username or password.
    INVALID_CREDENTIALS = 430,
    /// 431 Need some unavailable resource to process security.
    SECURITY_RESOURCE_UNAVAILABLE = 431,
    /// 434 Requested host unavailable.
    HOST_UNAVAILABLE = 434,
    /// 450 Requested file action not taken; file unavailable (busy).
    FILE_UNAVAILABLE = 450,
    /// 451 Requested action aborted: local error in processing.
    LOCAL_ERROR = 451,
    /// 452 Requested action not taken; insufficient storage space.
    INSUFFICIENT_STORAGE = 452,
    /// 500 Syntax error, command unrecognized.
    SYNTAX_ERROR = 500,
    /// 501 Syntax error in parameters or arguments.
    SYNTAX_ERROR_IN_ARGUMENTS = 501,
    /// 502 Command not implemented.
    NOT_IMPLEMENTED = 502,
    /// 503 Bad sequence of commands.
    BAD_SEQUENCE = 503,
    /// 504 Command not implemented for that parameter.
    NOT_IMPLEMENTED_FOR_PARAMETER = 504,
    /// 521 Data connection cannot be opened with this PROT setting.
    PROT_NOT_ALLOWED = 521,
    /// 522 Network protocol not supported (EPRT/EPSV).
    UNSUPPORTED_NETWORK_PROTOCOL = 522,
    /// 530 Not logged in.
    NOT_LOGGED_IN = 530,
    /// 532 Need account for storing files.
    NEED_ACCOUNT_TO_STORE = 532,
    /// 533 Command protection level denied for policy reasons.
    PROTECTION_DENIED = 533,
    /// 534 Request denied for policy reasons.
    POLICY_DENIED = 534,
    /// 535 Failed security check.
    SECURITY_CHECK_FAILED = 535,
    /// 536 Requested PROT level not supported by mechanism.
    PROT_LEVEL_NOT_SUPPORTED = 536,
    /// 537 Command protection level not supported by security mechanism.
    COMMAND_PROTECTION_NOT_SUPPORTED = 537,
    /// 550 Requested action not taken; file unavailable (not found, no access).
    FILE_NOT_AVAILABLE = 550,
    /// 551 Requested action aborted: page type unknown.
    PAGE_TYPE_UNKNOWN = 551,
    /// 552 Requested file action aborted: exceeded storage allocation.
    EXCEEDED_STORAGE = 552,
    /// 553 Requested action not taken; file name not allowed.
    FILE_NAME_NOT_ALLOWED = 553,
    /// 556 Not processed for policy reasons (draft-bryan-ftpext-hash: `HASH` of a file larger
    /// than the server hashes).
    POLICY_REFUSED = 556,
    /// 631 Integrity protected reply.
    INTEGRITY_PROTECTED = 631,
    /// 632 Confidentiality and integrity protected reply.
    CONFIDENTIALITY_PROTECTED = 632,
    /// 633 Confidentiality protected reply.
    PRIVACY_PROTECTED = 633,
}

impl ReplyCode {
    /// A code from a number; `None` unless it is in `100..=699`.
    ///
    /// ```
    /// use ftp_proto::ReplyCode;
    /// assert_eq!(ReplyCode::new(226), Some(ReplyCode::CLOSING_DATA));
    /// assert_eq!(ReplyCode::new(99), None);
    /// assert_eq!(ReplyCode::new(700), None);
    /// ```
    pub const fn new(code: u16) -> Option<ReplyCode> {
        if code >= 100 && code <= 699 {
            Some(ReplyCode(code))
        } else {
            None
        }
    }

    /// The code as a number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The code's class, from its first digit.
    pub const fn class(self) -> ReplyClass {
        match self.0 / 100 {
            1 => ReplyClass::PositivePreliminary,
            2 => ReplyClass::PositiveCompletion,
            3 => ReplyClass::PositiveIntermediate,
            4 => ReplyClass::TransientNegative,
            5 => ReplyClass::PermanentNegative,
            _ => ReplyClass::Protected,
        }
    }

    /// 1yz: preliminary; another reply follows.
    pub const fn is_preliminary(self) -> bool {
        self.0 / 100 == 1
    }

    /// 2yz: completed.
    pub const fn is_completion(self) -> bool {
        self.0 / 100 == 2
    }

    /// 3yz: intermediate; the server waits for another command.
    pub const fn is_intermediate(self) -> bool {
        self.0 / 100 == 3
    }

    /// 4yz or 5yz: the command failed.
    pub const fn is_negative(self) -> bool {
        matches!(self.0 / 100, 4 | 5)
    }

    /// 4yz: transient failure, worth retrying.
    pub const fn is_transient(self) -> bool {
        self.0 / 100 == 4
    }

    fn digits(self) -> [u8; 3] {
        [
            b'0' + (self.0 / 100) as u8,
            b'0' + (self.0 / 10 % 10) as u8,
            b'0' + (self.0 % 10) as u8,
        ]
    }
}

impl fmt::Debug for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplyCode({})", self.0)
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A complete reply: a code and at least one line of text (bytes, not necessarily UTF-8).
///
/// Lines never contain CR or LF: the constructors split text at LF and drop CR.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    code: ReplyCode,
    lines: Vec<Vec<u8>>,
}

/// Why bytes are not a valid reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A reply line does not start with a three-digit code in 100..=699.
    #[error("malformed reply line {0:?}")]
    Malformed(String),
    /// A reply line was longer than the line limit.
    #[error("reply line longer than {limit} bytes")]
    LineTooLong {
        /// The limit that was crossed.
        limit: usize,
    },
    /// A multi-line reply had more lines than the limit.
    #[error("multi-line reply longer than {limit} lines")]
    TooManyLines {
        /// The limit that was crossed.
        limit: usize,
    },
    /// A multi-line reply's text exceeded the byte limit.
    #[error("multi-line reply longer than {limit} bytes")]
    TooLarge {
        /// The limit that was crossed.
        limit: usize,
    },
}

impl From<line::LineError> for ReplyError {
    fn from(e: line::LineError) -> Self {
        match e {
            line::LineError::TooLong { limit } => ReplyError::LineTooLong { limit },
        }
    }
}

fn split_lines(text: &[u8], into: &mut Vec<Vec<u8>>) {
    for part in text.split(|b| *b == b'\n') {
        into.push(part.iter().copied().filter(|b| *b != b'\r').collect());
    }
}

/// True when an inner line of a multi-line reply would read as a terminator.
fn looks_like_terminator(line: &[u8]) -> bool {
    line.len() >= 3
        && line[..3].iter().all(u8::is_ascii_digit)
        && (line.len() == 3 || line[3] == b' ')
}

impl Reply {
    /// A reply with the given text; LF in `text` makes it a multi-line reply.
    ///
    /// ```
    /// use ftp_proto::{Reply, ReplyCode};
    /// let r = Reply::new(ReplyCode::OK, "Command okay.");
    /// assert_eq!(r.to_bytes(), b"200 Command okay.\r\n");
    /// ```
    pub fn new(code: ReplyCode, text: impl AsRef<[u8]>) -> Reply {
        Reply::multi(code, [text])
    }

    /// A reply from several lines (each may itself contain LF, which splits it further).
    /// Inner lines that would look like a terminator get a leading space.
    pub fn multi<I, T>(code: ReplyCode, lines: I) -> Reply
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut out = Vec::new();
        for l in lines {
            split_lines(l.as_ref(), &mut out);
        }
        if out.is_empty() {
            out.push(Vec::new());
        }
        let n = out.len();
        if n > 2 {
            for l in &mut out[1..n - 1] {
                if looks_like_terminator(l) {
                    l.insert(0, b' ');
                }
            }
        }
        Reply { code, lines: out }
    }

    /// The reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The lines of text, as sent (for a multi-line reply, the first line after `123-`, the
    /// inner lines whole, the last line after `123 `).
    pub fn lines(&self) -> &[Vec<u8>] {
        &self.lines
    }

    /// All lines joined with `\n`, decoded lossily as UTF-8.
    pub fn text(&self) -> Cow<'_, str> {
        if self.lines.len() == 1 {
            return String::from_utf8_lossy(&self.lines[0]);
        }
        Cow::Owned(
            self.lines
                .iter()
                .map(|l| String::from_utf8_lossy(l))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }

    /// Appends the reply's wire form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let digits = self.code.digits();
        let last = self.lines.len() - 1;
        for (i, l) in self.lines.iter().enumerate() {
            if i == 0 || i == last {
                // Digits and separator never need Telnet escaping: written as they are.
                out.extend_from_slice(&digits);
                out.push(if i == last { b' ' } else { b'-' });
            }
            line::encode_line(out, l);
        }
    }

    /// The reply's wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.len() + 6).sum());
        self.encode(&mut out);
        out
    }

    /// Parses the first complete reply in `input`: `Ok(None)` if more bytes are needed,
    /// otherwise the reply and the rest of the input after it (what was found, then the rest:
    /// the shape every decoder of this crate has). Uses the default line limit.
    pub fn decode(input: &[u8]) -> Result<Option<(Reply, &[u8])>, ReplyError> {
        let mut dec = LineDecoder::default();
        let mut parser = ReplyParser::default();
        let mut rest = input;
        while !rest.is_empty() {
            let line;
            (line, rest) = dec.decode(rest);
            if let Some(line) = line {
                if let Some(reply) = parser.push_owned_line(line?)? {
                    return Ok(Some((reply, rest)));
                }
            }
        }
        Ok(None)
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("code", &self.code.0)
            .field("text", &self.text())
            .finish()
    }
}

/// Shows the reply as `CODE text` (lines joined with `\n`).
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text())
    }
}

/// The default maximum number of lines in one multi-line reply.
pub const DEFAULT_MAX_REPLY_LINES: usize = 1 << 20;

/// The default maximum size of one multi-line reply's text, in bytes (16 MiB): far above any
/// real `FEAT`, `HELP` or `STAT` listing, and low enough that a hostile server cannot make a
/// client buffer without bound.
pub const DEFAULT_MAX_REPLY_BYTES: usize = 16 << 20;

/// Assembles replies from control lines, one line at a time.
///
/// ```
/// use ftp_proto::reply::ReplyParser;
///
/// let mut p = ReplyParser::default();
/// assert_eq!(p.push_line(b"211-Features:").unwrap(), None);
/// assert_eq!(p.push_line(b"200 is not the end: another code").unwrap(), None);
/// let r = p.push_line(b"211 End").unwrap().unwrap();
/// assert_eq!(r.lines().len(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct ReplyParser {
    open: Option<(ReplyCode, Vec<Vec<u8>>)>,
    /// After [`ReplyError::TooManyLines`]: the code whose terminator ends the skipped reply.
    skipping: Option<ReplyCode>,
    /// Text bytes held by the open reply.
    open_bytes: usize,
    max_lines: usize,
    max_bytes: usize,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser::new(DEFAULT_MAX_REPLY_LINES)
    }
}

fn code_of(line: &[u8]) -> Option<ReplyCode> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = line[..3]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    ReplyCode::new(n)
}

impl ReplyParser {
    /// A parser that refuses multi-line replies longer than `max_lines` (and, by default,
    /// larger than [`DEFAULT_MAX_REPLY_BYTES`]).
    pub fn new(max_lines: usize) -> Self {
        ReplyParser {
            open: None,
            skipping: None,
            open_bytes: 0,
            max_lines,
            max_bytes: DEFAULT_MAX_REPLY_BYTES,
        }
    }

    /// Sets the maximum size of one multi-line reply's text, in bytes.
    ///
    /// ```
    /// use ftp_proto::reply::{ReplyError, ReplyParser};
    /// let mut p = ReplyParser::default().with_max_bytes(8);
    /// assert_eq!(p.push_line(b"211-abc").unwrap(), None);
    /// assert_eq!(p.push_line(b"0123456789"), Err(ReplyError::TooLarge { limit: 8 }));
    /// assert_eq!(p.push_line(b"211 end").unwrap(), None); // the rest of it is skipped
    /// assert!(p.push_line(b"200 ok").unwrap().is_some());
    /// ```
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// True while a multi-line reply has started and not yet ended.
    pub fn in_progress(&self) -> bool {
        self.open.is_some() || self.skipping.is_some()
    }

    /// Feeds one line (without CR LF). Returns the reply once its last line arrives.
    ///
    /// Inside a multi-line reply only a line with the *same* code followed by a space (or
    /// nothing) ends it, so inner lines starting with digits are kept as text.
    ///
    /// A reply longer than the line limit is reported once as [`ReplyError::TooManyLines`];
    /// its remaining lines, up to and including its last one, are then skipped (`Ok(None)`), so
    /// the parser stays in step with the server.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        self.push_owned_line(line.to_vec())
    }

    /// [`push_line`](Self::push_line) for a line the caller owns: its buffer becomes the
    /// reply's text line, without another copy.
    pub(crate) fn push_owned_line(
        &mut self,
        mut line: Vec<u8>,
    ) -> Result<Option<Reply>, ReplyError> {
        // Stray CRs are not part of the text: the line is read as if they were not there.
        if line.iter().any(|b| *b == b'\r' || *b == b'\n') {
            line.retain(|b| *b != b'\r' && *b != b'\n');
        }
        let ends = |line: &[u8], code: ReplyCode| {
            line.len() >= 3 && line[..3] == code.digits() && (line.len() == 3 || line[3] == b' ')
        };
        // The text after `123 ` / `123-`: the line's own buffer, shifted.
        let text_after_code = |mut line: Vec<u8>| {
            line.drain(..line.len().min(4));
            line
        };
        if let Some(code) = self.skipping {
            if ends(&line, code) {
                self.skipping = None;
            }
            return Ok(None);
        }
        if let Some((code, lines)) = &mut self.open {
            if ends(&line, *code) {
                self.open_bytes = 0;
                lines.push(text_after_code(line));
                let (code, lines) = self.open.take().expect("open reply");
                return Ok(Some(Reply { code, lines }));
            }
            let error = if lines.len() >= self.max_lines {
                Some(ReplyError::TooManyLines {
                    limit: self.max_lines,
                })
            } else if self.open_bytes + line.len() > self.max_bytes {
                Some(ReplyError::TooLarge {
                    limit: self.max_bytes,
                })
            } else {
                None
            };
            if let Some(error) = error {
                self.skipping = Some(*code);
                self.open = None;
                self.open_bytes = 0;
                return Err(error);
            }
            self.open_bytes += line.len();
            lines.push(line);
            return Ok(None);
        }
        let malformed = |line: &[u8]| {
            ReplyError::Malformed(String::from_utf8_lossy(&line[..line.len().min(64)]).into())
        };
        let code = code_of(&line).ok_or_else(|| malformed(&line))?;
        match line.get(3) {
            None => Ok(Some(Reply {
                code,
                lines: vec![Vec::new()],
            })),
            Some(b' ') => Ok(Some(Reply {
                code,
                lines: vec![text_after_code(line)],
            })),
            Some(b'-') => {
                let first = text_after_code(line);
                self.open_bytes = first.len();
                self.open = Some((code, vec![first]));
                Ok(None)
            }
            Some(_) => Err(malformed(&line)),
        }
    }
}

/// Quotes a path for a 257 reply: wrapped in `"` with inner `"` doubled (RFC 959 Appendix II).
///
/// ```
/// use ftp_proto::reply::{quote_path, unquote_path};
/// let q = quote_path(b"/a \"b\"");
/// assert_eq!(q, b"\"/a \"\"b\"\"\"");
/// assert_eq!(unquote_path(&q).unwrap(), b"/a \"b\"");
/// ```
pub fn quote_path(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 2);
    out.push(b'"');
    for &b in path {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

/// Extracts the quoted path from a 257 reply's text (undoing doubled quotes); `None` if the
/// text holds no quoted string.
pub fn unquote_path(text: &[u8]) -> Option<Vec<u8>> {
    let start = text.iter().position(|b| *b == b'"')? + 1;
    let mut out = Vec::new();
    let mut i = start;
    while i < text.len() {
        if text[i] == b'"' {
            if text.get(i + 1) == Some(&b'"') {
                out.push(b'"');
                i += 2;
                continue;
            }
            return Some(out);
        }
        out.push(text[i]);
        i += 1;
    }
    None
}

impl Reply {
    /// A 257 reply naming `path`, quoted per RFC 959, followed by `comment`.
    ///
    /// ```
    /// use ftp_proto::Reply;
    /// let r = Reply::path(b"/pub", "is the current directory");
    /// assert_eq!(r.to_bytes(), b"257 \"/pub\" is the current directory\r\n");
    /// assert_eq!(r.quoted_path().unwrap(), b"/pub");
    /// ```
    pub fn path(path: &[u8], comment: &str) -> Reply {
        let mut text = quote_path(path);
        if !comment.is_empty() {
            text.push(b' ');
            text.extend_from_slice(comment.as_bytes());
        }
        Reply::new(ReplyCode::PATH_CREATED, text)
    }

    /// The quoted path in this reply's first line, as in a 257 reply.
    pub fn quoted_path(&self) -> Option<Vec<u8>> {
        unquote_path(&self.lines[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Vec<Reply> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some((r, after)) = Reply::decode(rest).unwrap() {
            out.push(r);
            rest = after;
        }
        out
    }

    #[test]
    fn parses_rfc959_multiline_example() {
        // RFC 959 §4.2 example
        let wire = b"123-First line\r\nSecond line\r\n  234 A line beginning with numbers\r\n123 The last line\r\n";
        let r = &parse_all(wire)[0];
        assert_eq!(r.code().as_u16(), 123);
        assert_eq!(r.lines().len(), 4);
        assert_eq!(r.lines()[2], b"  234 A line beginning with numbers");
        assert_eq!(r.lines()[3], b"The last line");
        assert_eq!(r.to_bytes(), wire);
    }

    #[test]
    fn inner_line_with_other_code_does_not_end_reply() {
        let r = &parse_all(b"211-a\r\n200 not the end\r\n211 end\r\n")[0];
        assert_eq!(r.lines().len(), 3);
    }

    #[test]
    fn terminator_lookalike_inner_lines_are_escaped() {
        let r = Reply::multi(ReplyCode::SYSTEM_STATUS, ["a", "211 fake", "b"]);
        assert_eq!(r.to_bytes(), b"211-a\r\n 211 fake\r\n211 b\r\n");
        assert_eq!(parse_all(&r.to_bytes())[0], r);
    }

    #[test]
    fn text_with_newlines_becomes_multiline() {
        let r = Reply::new(ReplyCode::HELP, "one\r\ntwo");
        assert_eq!(r.to_bytes(), b"214-one\r\n214 two\r\n");
    }

    #[test]
    fn stray_cr_inside_a_reply_line_is_dropped() {
        // Regression (found by the parse_reply fuzz target): a bare CR inside a line was kept,
        // so the parsed reply broke the "no CR or LF in lines" invariant and re-serialised
        // differently (CR written as NUL).
        let (r, _) = Reply::decode(b"220 a\rb\r\n").unwrap().unwrap();
        assert_eq!(r.lines(), [b"ab".to_vec()]);
        let wire = b"211-x\ry\r\n\rin\r\n211 e\rnd\r\n";
        let (r, _) = Reply::decode(wire).unwrap().unwrap();
        assert_eq!(r.lines(), [b"xy".to_vec(), b"in".to_vec(), b"end".to_vec()]);
        assert_eq!(Reply::decode(&r.to_bytes()).unwrap().unwrap().0, r);
        // Found next by the same target: a CR before an inner line's code must not hide a
        // terminator that re-serialisation would reveal; the line is read without it.
        let (r, rest) = Reply::decode(b"211-a\r\n\r211 end\r\n211 more\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((r.lines().len(), rest), (2, &b"211 more\r\n"[..]));
        assert_eq!(Reply::decode(&r.to_bytes()).unwrap().unwrap().0, r);
    }

    #[test]
    fn bare_code_and_missing_text_are_accepted() {
        assert_eq!(parse_all(b"200\r\n")[0].text(), "");
        assert_eq!(parse_all(b"200 \r\n")[0].text(), "");
    }

    #[test]
    fn rejects_garbage_and_out_of_range_codes() {
        assert!(Reply::decode(b"hello\r\n").is_err());
        assert!(Reply::decode(b"099 x\r\n").is_err());
        assert!(Reply::decode(b"700 x\r\n").is_err());
        assert!(Reply::decode(b"200x\r\n").is_err());
    }

    #[test]
    fn needs_more_input_for_partial_replies() {
        assert_eq!(Reply::decode(b"220-hi\r\n"), Ok(None));
        assert_eq!(Reply::decode(b"220 h"), Ok(None));
    }

    #[test]
    fn too_many_lines_is_an_error() {
        let mut p = ReplyParser::new(2);
        p.push_line(b"211-a").unwrap();
        p.push_line(b"b").unwrap();
        assert!(p.push_line(b"c").is_err());
    }

    #[test]
    fn overlong_reply_is_skipped_to_its_end_after_the_error() {
        // Previously the parser forgot the open reply after the error, read its remaining
        // lines as malformed replies and took its terminator for the next reply.
        let mut p = ReplyParser::new(2);
        assert_eq!(p.push_line(b"211-a"), Ok(None));
        assert_eq!(p.push_line(b"b"), Ok(None));
        assert_eq!(
            p.push_line(b"c"),
            Err(ReplyError::TooManyLines { limit: 2 })
        );
        assert!(p.in_progress());
        assert_eq!(p.push_line(b"d"), Ok(None));
        assert_eq!(p.push_line(b"200 other code"), Ok(None));
        assert_eq!(p.push_line(b"211 End"), Ok(None));
        assert!(!p.in_progress());
        let next = p.push_line(b"226 Done").unwrap().unwrap();
        assert_eq!(next.code(), ReplyCode::CLOSING_DATA);
    }

    #[test]
    fn unquote_handles_text_around_and_unterminated() {
        assert_eq!(unquote_path(b"\"/x\" created"), Some(b"/x".to_vec()));
        assert_eq!(unquote_path(b"MKD ok \"/a\"\"b\""), Some(b"/a\"b".to_vec()));
        assert_eq!(unquote_path(b"no quotes"), None);
        assert_eq!(unquote_path(b"\"open"), None);
    }

    #[test]
    fn code_classes() {
        assert!(ReplyCode::FILE_STATUS_OK.is_preliminary());
        assert!(ReplyCode::NEED_PASSWORD.is_intermediate());
        assert!(ReplyCode::CANT_OPEN_DATA.is_transient());
        assert!(ReplyCode::FILE_NOT_AVAILABLE.is_negative());
        assert_eq!(
            ReplyCode::INTEGRITY_PROTECTED.class(),
            ReplyClass::Protected
        );
    }
}
