//! Typed FTP commands: parsing from a control line and serialising back.
//!
//! [`Command`] covers RFC 959, 2228/4217, 2389, 2428, 2640, 3659, 7151, `MFMT` and the `X…`
//! aliases of RFC 1123 (which parse to their standard command). Verbs are case-insensitive;
//! path arguments keep their exact bytes (spaces, quotes, non-UTF-8).
//!
//! ```
//! use ftp_proto::{Arg, Command, ReplyCode};
//!
//! let cmd = Command::parse(b"retr my file.txt").unwrap();
//! assert_eq!(cmd, Command::Retr(Arg::new("my file.txt").unwrap()));
//! assert_eq!(cmd.to_line(), b"RETR my file.txt\r\n");
//!
//! let err = Command::parse(b"FOO bar").unwrap_err();
//! assert_eq!(err.reply_code(), ReplyCode::SYNTAX_ERROR); // 500
//! ```

use std::fmt;
use std::net::{SocketAddr, SocketAddrV4};

use crate::addr;
use crate::arg::Arg;
use crate::hash::HashAlgorithm;
use crate::line;
use crate::reply::ReplyCode;
use crate::time::Timestamp;
use crate::Secret;

/// A verb of up to eight ASCII letters or digits packed big-endian into a `u64`,
/// zero-padded.
const fn verb_key(text: &str) -> u64 {
    let b = text.as_bytes();
    let mut up = [0u8; 8];
    let mut i = 0;
    while i < b.len() && i < 8 {
        up[i] = b[i];
        i += 1;
    }
    u64::from_be_bytes(up)
}

macro_rules! verbs {
    ($( $(#[$doc:meta])* $name:ident = $text:literal ),* $(,)?) => {
        /// A command verb, independent of its arguments.
        ///
        /// Useful to decide what a client may do in a state (e.g. before login) without
        /// looking at arguments.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Verb {
            $( $(#[$doc])* $name, )*
        }

        impl Verb {
            /// Every verb, in declaration order.
            pub const ALL: &'static [Verb] = &[$(Verb::$name),*];

            /// The verb's canonical wire spelling (upper case).
            pub const fn as_str(self) -> &'static str {
                match self { $( Verb::$name => $text, )* }
            }

            /// Looks up a verb, ignoring ASCII case; the RFC 1123 `X…` aliases map to their
            /// standard verbs.
            ///
            /// ```
            /// use ftp_proto::Verb;
            /// assert_eq!(Verb::from_bytes(b"xPwD"), Some(Verb::Pwd));
            /// assert_eq!(Verb::from_bytes(b"BOGUS"), None);
            /// ```
            pub fn from_bytes(word: &[u8]) -> Option<Verb> {
                if word.len() > 8 || word.is_empty() || word.contains(&0) {
                    return None;
                }
                // The upper-cased word packed into an integer (zero-padded: verbs hold no
                // NUL, so lengths cannot collide), compared against each verb's key.
                let mut up = [0u8; 8];
                for (u, b) in up.iter_mut().zip(word) {
                    *u = b.to_ascii_uppercase();
                }
                let key = u64::from_be_bytes(up);
                match key {
                    k if k == const { verb_key("XPWD") } => return Some(Verb::Pwd),
                    k if k == const { verb_key("XCWD") } => return Some(Verb::Cwd),
                    k if k == const { verb_key("XCUP") } => return Some(Verb::Cdup),
                    k if k == const { verb_key("XMKD") } => return Some(Verb::Mkd),
                    k if k == const { verb_key("XRMD") } => return Some(Verb::Rmd),
                    k if k == const { verb_key("XSHA") } => return Some(Verb::Xsha1),
                    _ => {}
                }
                $( if key == const { verb_key($text) } { return Some(Verb::$name); } )*
                None
            }
        }
    };
}

verbs! {
    /// `USER` — user name (RFC 959).
    User = "USER",
    /// `PASS` — password.
    Pass = "PASS",
    /// `ACCT` — account.
    Acct = "ACCT",
    /// `CWD` — change working directory (alias `XCWD`).
    Cwd = "CWD",
    /// `CDUP` — change to parent directory (alias `XCUP`).
    Cdup = "CDUP",
    /// `SMNT` — structure mount.
    Smnt = "SMNT",
    /// `REIN` — reinitialise the session.
    Rein = "REIN",
    /// `QUIT` — log out.
    Quit = "QUIT",
    /// `PORT` — active mode, IPv4.
    Port = "PORT",
    /// `PASV` — passive mode, IPv4.
    Pasv = "PASV",
    /// `TYPE` — representation type.
    Type = "TYPE",
    /// `STRU` — file structure.
    Stru = "STRU",
    /// `MODE` — transfer mode.
    Mode = "MODE",
    /// `RETR` — download.
    Retr = "RETR",
    /// `STOR` — upload.
    Stor = "STOR",
    /// `STOU` — upload under a unique name.
    Stou = "STOU",
    /// `APPE` — append.
    Appe = "APPE",
    /// `ALLO` — allocate.
    Allo = "ALLO",
    /// `REST` — restart marker (RFC 3659 `REST STREAM` byte offset).
    Rest = "REST",
    /// `RNFR` — rename from.
    Rnfr = "RNFR",
    /// `RNTO` — rename to.
    Rnto = "RNTO",
    /// `ABOR` — abort the transfer.
    Abor = "ABOR",
    /// `DELE` — delete a file.
    Dele = "DELE",
    /// `RMD` — remove a directory (alias `XRMD`).
    Rmd = "RMD",
    /// `MKD` — make a directory (alias `XMKD`).
    Mkd = "MKD",
    /// `PWD` — print working directory (alias `XPWD`).
    Pwd = "PWD",
    /// `LIST` — human-readable listing.
    List = "LIST",
    /// `NLST` — name list.
    Nlst = "NLST",
    /// `SITE` — site-specific commands.
    Site = "SITE",
    /// `SYST` — system type.
    Syst = "SYST",
    /// `STAT` — status.
    Stat = "STAT",
    /// `HELP` — help.
    Help = "HELP",
    /// `NOOP` — no operation.
    Noop = "NOOP",
    /// `AUTH` — security mechanism (RFC 2228, 4217).
    Auth = "AUTH",
    /// `ADAT` — authentication data (RFC 2228).
    Adat = "ADAT",
    /// `PROT` — data channel protection level (RFC 2228).
    Prot = "PROT",
    /// `PBSZ` — protection buffer size (RFC 2228).
    Pbsz = "PBSZ",
    /// `CCC` — clear command channel (RFC 2228).
    Ccc = "CCC",
    /// `MIC` — integrity-protected command (RFC 2228).
    Mic = "MIC",
    /// `CONF` — confidentiality-protected command (RFC 2228).
    Conf = "CONF",
    /// `ENC` — privacy-protected command (RFC 2228).
    Enc = "ENC",
    /// `FEAT` — feature list (RFC 2389).
    Feat = "FEAT",
    /// `OPTS` — options (RFC 2389).
    Opts = "OPTS",
    /// `EPRT` — extended active mode (RFC 2428).
    Eprt = "EPRT",
    /// `EPSV` — extended passive mode (RFC 2428).
    Epsv = "EPSV",
    /// `LANG` — language negotiation (RFC 2640).
    Lang = "LANG",
    /// `MDTM` — modification time (RFC 3659).
    Mdtm = "MDTM",
    /// `SIZE` — file size (RFC 3659).
    Size = "SIZE",
    /// `MLST` — machine listing of one entry (RFC 3659).
    Mlst = "MLST",
    /// `MLSD` — machine listing of a directory (RFC 3659).
    Mlsd = "MLSD",
    /// `HOST` — virtual host (RFC 7151).
    Host = "HOST",
    /// `MFMT` — set modification time (draft-somers-ftp-mfxx).
    Mfmt = "MFMT",
    /// `AVBL` — space available to the user (draft-peterson-streamlined-ftp-command-extensions).
    Avbl = "AVBL",
    /// `HASH` — a file's digest (draft-bryan-ftpext-hash-02).
    Hash = "HASH",
    /// `RANG` — the byte range of the next `HASH` (draft-bryan-ftp-range).
    Rang = "RANG",
    /// `XSHA256` — legacy SHA-256 digest.
    Xsha256 = "XSHA256",
    /// `XSHA512` — legacy SHA-512 digest.
    Xsha512 = "XSHA512",
    /// `XSHA1` — legacy SHA-1 digest (alias `XSHA`).
    Xsha1 = "XSHA1",
    /// `XMD5` — legacy MD5 digest.
    Xmd5 = "XMD5",
    /// `XCRC` — legacy CRC-32 checksum.
    Xcrc = "XCRC",
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text format of an ASCII or EBCDIC type (RFC 959 §3.1.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TextFormat {
    /// `N` — non-print (the default).
    #[default]
    NonPrint,
    /// `T` — Telnet format effectors.
    Telnet,
    /// `C` — ASA carriage control.
    Asa,
}

/// Representation type set by `TYPE` (RFC 959 §3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferType {
    /// `A [fmt]` — ASCII with CRLF line endings on the wire.
    Ascii(TextFormat),
    /// `E [fmt]` — EBCDIC.
    Ebcdic(TextFormat),
    /// `I` — image (binary).
    Image,
    /// `L n` — local byte size `n`; `L 8` is the same as image.
    Local(u8),
}

/// File structure set by `STRU`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Structure {
    /// `F` — file (no record structure).
    File,
    /// `R` — record.
    Record,
    /// `P` — page.
    Page,
}

/// Transfer mode set by `MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferMode {
    /// `S` — stream.
    Stream,
    /// `B` — block.
    Block,
    /// `C` — compressed.
    Compressed,
}

/// Data channel protection level set by `PROT` (RFC 2228).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtLevel {
    /// `C` — clear.
    Clear,
    /// `S` — safe (integrity).
    Safe,
    /// `E` — confidential.
    Confidential,
    /// `P` — private (TLS).
    Private,
}

/// The argument of `EPSV` (RFC 2428 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpsvArg {
    /// No argument: the protocol of the control connection.
    Any,
    /// `EPSV ALL`: from now on only EPSV may set up data connections.
    All,
    /// `EPSV 1` (IPv4) or `EPSV 2` (IPv6).
    Family(addr::AddressFamily),
}

/// One FTP command with its typed argument.
///
/// Path arguments are an [`Arg`]: the exact bytes the client sent, which cannot hold CR or LF,
/// so every command goes on the wire as it was built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `USER name`
    User(String),
    /// `PASS password` (redacted in `Debug`)
    Pass(Secret<Vec<u8>>),
    /// `ACCT account`
    Acct(String),
    /// `CWD path`
    Cwd(Arg),
    /// `CDUP`
    Cdup,
    /// `SMNT path`
    Smnt(Arg),
    /// `REIN`
    Rein,
    /// `QUIT`
    Quit,
    /// `PORT h1,h2,h3,h4,p1,p2`
    Port(SocketAddrV4),
    /// `PASV`
    Pasv,
    /// `TYPE A|E [N|T|C]`, `TYPE I`, `TYPE L n`
    Type(TransferType),
    /// `STRU F|R|P`
    Stru(Structure),
    /// `MODE S|B|C`
    Mode(TransferMode),
    /// `RETR path`
    Retr(Arg),
    /// `STOR path`
    Stor(Arg),
    /// `STOU [path]`
    Stou(Option<Arg>),
    /// `APPE path`
    Appe(Arg),
    /// `ALLO size [R record]`
    Allo {
        /// Bytes to reserve.
        size: u64,
        /// Maximum record or page size.
        record: Option<u64>,
    },
    /// `REST offset` (stream mode restart marker: a byte offset)
    Rest(u64),
    /// `RNFR path`
    Rnfr(Arg),
    /// `RNTO path`
    Rnto(Arg),
    /// `ABOR`
    Abor,
    /// `DELE path`
    Dele(Arg),
    /// `RMD path`
    Rmd(Arg),
    /// `MKD path`
    Mkd(Arg),
    /// `PWD`
    Pwd,
    /// `LIST [args]` — the argument may hold `ls`-style options such as `-la`.
    List(Option<Arg>),
    /// `NLST [args]`
    Nlst(Option<Arg>),
    /// `SITE args` (raw: the server interprets the sub-command)
    Site(Arg),
    /// `SYST`
    Syst,
    /// `STAT [path]`
    Stat(Option<Arg>),
    /// `HELP [topic]`
    Help(Option<String>),
    /// `NOOP`
    Noop,
    /// `AUTH mechanism` (e.g. `TLS`, `SSL`)
    Auth(String),
    /// `ADAT base64`
    Adat(String),
    /// `PROT C|S|E|P`
    Prot(ProtLevel),
    /// `PBSZ n`
    Pbsz(u64),
    /// `CCC`
    Ccc,
    /// `MIC base64`
    Mic(String),
    /// `CONF base64`
    Conf(String),
    /// `ENC base64`
    Enc(String),
    /// `FEAT`
    Feat,
    /// `OPTS name [value]`, e.g. `OPTS UTF8 ON`, `OPTS MLST type;size;`
    Opts {
        /// The command or feature name (upper-cased).
        name: String,
        /// The rest of the line, if any.
        value: Option<String>,
    },
    /// `EPRT |af|addr|port|`
    Eprt(SocketAddr),
    /// `EPSV [ALL|1|2]`
    Epsv(EpsvArg),
    /// `LANG [tag]`
    Lang(Option<String>),
    /// `MDTM path`
    Mdtm(Arg),
    /// `SIZE path`
    Size(Arg),
    /// `MLST [path]`
    Mlst(Option<Arg>),
    /// `MLSD [path]`
    Mlsd(Option<Arg>),
    /// `HOST name`
    Host(String),
    /// `AVBL [path]`: the bytes the user may still store there.
    Avbl(Option<Arg>),
    /// `MFMT YYYYMMDDHHMMSS path`
    Mfmt {
        /// The new modification time (UTC).
        time: Timestamp,
        /// The file.
        path: Arg,
    },
    /// `HASH path`: the digest of the selected algorithm (`OPTS HASH`).
    Hash(Arg),
    /// `RANG start end`: the next `HASH` covers bytes `start..=end`; `RANG 1 0` resets.
    Rang {
        /// The first byte.
        start: u64,
        /// The last byte (inclusive).
        end: u64,
    },
    /// `XSHA256`/`XSHA512`/`XSHA1`/`XMD5`/`XCRC path [start end]`: one algorithm's digest,
    /// of bytes `start..end` when given (end exclusive, as ProFTPD reads it).
    LegacyHash {
        /// The algorithm the verb names.
        algorithm: HashAlgorithm,
        /// The file.
        path: Arg,
        /// The byte range, `start..end`.
        range: Option<(u64, u64)>,
    },
}

/// Why a control line is not a valid command. [`ParseError::reply_code`] gives the reply a
/// server should send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line was empty.
    #[error("empty command line")]
    Empty,
    /// The verb is not a known FTP command (reply 500).
    #[error("unknown command {0:?}")]
    UnknownVerb(String),
    /// The line exceeded the control line limit (reply 500).
    #[error("command line longer than {limit} bytes")]
    LineTooLong {
        /// The limit that was crossed.
        limit: usize,
    },
    /// The command needs an argument and got none (reply 501).
    #[error("{0} needs an argument")]
    MissingArgument(Verb),
    /// The command takes no argument but got one (reply 501).
    #[error("{0} takes no argument")]
    UnexpectedArgument(Verb),
    /// The argument is malformed (reply 501).
    #[error("invalid argument for {verb}: {reason}")]
    InvalidArgument {
        /// The command.
        verb: Verb,
        /// What is wrong, for the reply text.
        reason: &'static str,
    },
    /// `EPRT` or `EPSV` named an address family other than 1 or 2 (reply 522).
    #[error("network protocol not supported, use (1,2)")]
    UnsupportedFamily(Verb),
}

impl ParseError {
    /// The reply code a server answers this error with: 500, 501 or 522.
    pub fn reply_code(&self) -> ReplyCode {
        match self {
            ParseError::Empty | ParseError::UnknownVerb(_) | ParseError::LineTooLong { .. } => {
                ReplyCode::SYNTAX_ERROR
            }
            ParseError::MissingArgument(_)
            | ParseError::UnexpectedArgument(_)
            | ParseError::InvalidArgument { .. } => ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS,
            ParseError::UnsupportedFamily(_) => ReplyCode::UNSUPPORTED_NETWORK_PROTOCOL,
        }
    }

    /// The verb, when the error is about a known verb's argument.
    pub fn verb(&self) -> Option<Verb> {
        match self {
            ParseError::MissingArgument(v)
            | ParseError::UnexpectedArgument(v)
            | ParseError::InvalidArgument { verb: v, .. }
            | ParseError::UnsupportedFamily(v) => Some(*v),
            _ => None,
        }
    }
}

impl From<line::LineError> for ParseError {
    fn from(e: line::LineError) -> Self {
        match e {
            line::LineError::TooLong { limit } => ParseError::LineTooLong { limit },
        }
    }
}

fn invalid(verb: Verb, reason: &'static str) -> ParseError {
    ParseError::InvalidArgument { verb, reason }
}

fn text(verb: Verb, arg: &[u8]) -> Result<String, ParseError> {
    String::from_utf8(arg.to_vec()).map_err(|_| invalid(verb, "not valid UTF-8"))
}

fn number(verb: Verb, arg: &[u8]) -> Result<u64, ParseError> {
    let s = std::str::from_utf8(arg.trim_ascii()).map_err(|_| invalid(verb, "not a number"))?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(verb, "not a number"));
    }
    s.parse().map_err(|_| invalid(verb, "number out of range"))
}

fn text_format(verb: Verb, rest: &[u8]) -> Result<TextFormat, ParseError> {
    match rest.trim_ascii() {
        b"" | b"N" | b"n" => Ok(TextFormat::NonPrint),
        b"T" | b"t" => Ok(TextFormat::Telnet),
        b"C" | b"c" => Ok(TextFormat::Asa),
        _ => Err(invalid(verb, "unknown format")),
    }
}

fn parse_type(arg: &[u8]) -> Result<TransferType, ParseError> {
    let v = Verb::Type;
    let arg = arg.trim_ascii();
    let (code, rest) = match arg.split_first() {
        Some((c, rest)) => (c.to_ascii_uppercase(), rest),
        None => return Err(ParseError::MissingArgument(v)),
    };
    if !rest.is_empty() && rest[0] != b' ' {
        return Err(invalid(v, "unknown type"));
    }
    match code {
        b'A' => Ok(TransferType::Ascii(text_format(v, rest)?)),
        b'E' => Ok(TransferType::Ebcdic(text_format(v, rest)?)),
        b'I' if rest.trim_ascii().is_empty() => Ok(TransferType::Image),
        b'L' => {
            let n = number(v, rest)?;
            u8::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .map(TransferType::Local)
                .ok_or_else(|| invalid(v, "byte size out of range"))
        }
        _ => Err(invalid(v, "unknown type")),
    }
}

fn one_letter(verb: Verb, arg: &[u8]) -> Result<u8, ParseError> {
    match arg.trim_ascii() {
        [c] => Ok(c.to_ascii_uppercase()),
        _ => Err(invalid(verb, "expected one letter")),
    }
}

fn parse_allo(arg: &[u8]) -> Result<Command, ParseError> {
    let v = Verb::Allo;
    let words: Vec<&[u8]> = arg
        .split(|b| *b == b' ')
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [size] => Ok(Command::Allo {
            size: number(v, size)?,
            record: None,
        }),
        [size, r, rec] if r.eq_ignore_ascii_case(b"R") => Ok(Command::Allo {
            size: number(v, size)?,
            record: Some(number(v, rec)?),
        }),
        _ => Err(invalid(v, "expected size [R record]")),
    }
}

fn parse_opts(arg: &[u8]) -> Result<Command, ParseError> {
    let arg = text(Verb::Opts, arg)?;
    let arg = arg.trim_start();
    let (name, value) = match arg.split_once(' ') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (arg, None),
    };
    if name.is_empty() {
        return Err(ParseError::MissingArgument(Verb::Opts));
    }
    Ok(Command::Opts {
        name: name.to_ascii_uppercase(),
        value,
    })
}

fn parse_epsv(arg: Option<&[u8]>) -> Result<EpsvArg, ParseError> {
    let Some(arg) = arg else {
        return Ok(EpsvArg::Any);
    };
    let arg = arg.trim_ascii();
    if arg.eq_ignore_ascii_case(b"ALL") {
        return Ok(EpsvArg::All);
    }
    match number(Verb::Epsv, arg)? {
        1 => Ok(EpsvArg::Family(addr::AddressFamily::V4)),
        2 => Ok(EpsvArg::Family(addr::AddressFamily::V6)),
        _ => Err(ParseError::UnsupportedFamily(Verb::Epsv)),
    }
}

fn parse_mfmt(arg: &[u8]) -> Result<Command, ParseError> {
    let v = Verb::Mfmt;
    let (time, path) = match arg.iter().position(|b| *b == b' ') {
        Some(i) => (&arg[..i], &arg[i + 1..]),
        None => return Err(invalid(v, "expected YYYYMMDDHHMMSS path")),
    };
    if path.is_empty() {
        return Err(ParseError::MissingArgument(v));
    }
    let time = Timestamp::parse(time).map_err(|_| invalid(v, "invalid time"))?;
    Ok(Command::Mfmt {
        time,
        path: Arg::from_line(path),
    })
}

/// `RANG start end`: two decimal numbers.
fn parse_rang(arg: &[u8]) -> Result<Command, ParseError> {
    let v = Verb::Rang;
    let mut words = arg
        .trim_ascii()
        .split(|b| *b == b' ')
        .filter(|w| !w.is_empty());
    let (Some(start), Some(end), None) = (words.next(), words.next(), words.next()) else {
        return Err(invalid(v, "expected start and end"));
    };
    Ok(Command::Rang {
        start: number(v, start)?,
        end: number(v, end)?,
    })
}

/// `XSHA256 path [start end]`: a path, and a range when the last two words are numbers (a
/// path that ends in two numbers needs a range after it).
fn parse_legacy_hash(verb: Verb, arg: &[u8]) -> Result<Command, ParseError> {
    let algorithm = HashAlgorithm::of_legacy_verb(verb).ok_or(ParseError::MissingArgument(verb))?;
    let digits = |w: &[u8]| !w.is_empty() && w.iter().all(u8::is_ascii_digit);
    let mut cut = arg.rsplitn(3, |b| *b == b' ');
    let (end, start, path) = (cut.next(), cut.next(), cut.next());
    let (path, range) = match (path, start, end) {
        (Some(p), Some(s), Some(e)) if !p.is_empty() && digits(s) && digits(e) => {
            (p, Some((number(verb, s)?, number(verb, e)?)))
        }
        _ => (arg, None),
    };
    Ok(Command::LegacyHash {
        algorithm,
        path: Arg::from_line(path),
        range,
    })
}

impl Command {
    /// Parses one control line (without its CR LF) into a command.
    ///
    /// The verb is separated from its argument by the first space; the argument is everything
    /// after it, byte for byte. Trailing spaces after an argument-less verb are tolerated.
    #[allow(
        clippy::too_many_lines,
        reason = "one match arm per verb: a table, read by row"
    )]
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let line = match line.last() {
            Some(b'\r') => &line[..line.len() - 1],
            _ => line,
        };
        if line.iter().all(|b| *b == b' ') {
            return Err(ParseError::Empty);
        }
        let (word, arg) = match line.iter().position(|b| *b == b' ') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let verb = Verb::from_bytes(word).ok_or_else(|| {
            ParseError::UnknownVerb(String::from_utf8_lossy(&word[..word.len().min(32)]).into())
        })?;
        if arg.is_some_and(|a| a.iter().any(|b| *b == b'\r' || *b == b'\n')) {
            return Err(invalid(verb, "CR or LF inside the argument"));
        }
        // A password keeps its exact bytes, even if it is only spaces.
        let raw_arg = arg;
        // An argument made only of spaces counts as none.
        let arg = arg.filter(|a| !a.iter().all(|b| *b == b' '));
        let none = |c: Command| match arg {
            None => Ok(c),
            Some(_) => Err(ParseError::UnexpectedArgument(verb)),
        };
        let need = || arg.ok_or(ParseError::MissingArgument(verb));
        // `Arg::from_line`: CR and LF were refused above.
        let path = || need().map(Arg::from_line);
        let opt_path = || arg.map(Arg::from_line);
        use Command as C;
        Ok(match verb {
            Verb::User => C::User(text(verb, need()?)?),
            Verb::Pass => C::Pass(Secret::new(raw_arg.unwrap_or_default().to_vec())),
            Verb::Acct => C::Acct(text(verb, need()?)?),
            Verb::Cwd => C::Cwd(path()?),
            Verb::Cdup => none(C::Cdup)?,
            Verb::Smnt => C::Smnt(path()?),
            Verb::Rein => none(C::Rein)?,
            Verb::Quit => none(C::Quit)?,
            Verb::Port => C::Port(
                addr::parse_port(need()?)
                    .map_err(|_| invalid(verb, "expected h1,h2,h3,h4,p1,p2"))?,
            ),
            Verb::Pasv => none(C::Pasv)?,
            Verb::Type => C::Type(parse_type(need()?)?),
            Verb::Stru => C::Stru(match one_letter(verb, need()?)? {
                b'F' => Structure::File,
                b'R' => Structure::Record,
                b'P' => Structure::Page,
                _ => return Err(invalid(verb, "unknown structure")),
            }),
            Verb::Mode => C::Mode(match one_letter(verb, need()?)? {
                b'S' => TransferMode::Stream,
                b'B' => TransferMode::Block,
                b'C' => TransferMode::Compressed,
                _ => return Err(invalid(verb, "unknown mode")),
            }),
            Verb::Retr => C::Retr(path()?),
            Verb::Stor => C::Stor(path()?),
            Verb::Stou => C::Stou(opt_path()),
            Verb::Appe => C::Appe(path()?),
            Verb::Allo => parse_allo(need()?)?,
            Verb::Rest => C::Rest(number(verb, need()?)?),
            Verb::Rnfr => C::Rnfr(path()?),
            Verb::Rnto => C::Rnto(path()?),
            Verb::Abor => none(C::Abor)?,
            Verb::Dele => C::Dele(path()?),
            Verb::Rmd => C::Rmd(path()?),
            Verb::Mkd => C::Mkd(path()?),
            Verb::Pwd => none(C::Pwd)?,
            Verb::List => C::List(opt_path()),
            Verb::Nlst => C::Nlst(opt_path()),
            Verb::Site => C::Site(path()?),
            Verb::Syst => none(C::Syst)?,
            Verb::Stat => C::Stat(opt_path()),
            Verb::Help => C::Help(arg.map(|a| text(verb, a)).transpose()?),
            Verb::Noop => none(C::Noop)?,
            Verb::Auth => match text(verb, need()?)?.trim() {
                "" => return Err(ParseError::MissingArgument(verb)),
                mechanism => C::Auth(mechanism.to_string()),
            },
            Verb::Adat => C::Adat(text(verb, need()?)?),
            Verb::Prot => C::Prot(match one_letter(verb, need()?)? {
                b'C' => ProtLevel::Clear,
                b'S' => ProtLevel::Safe,
                b'E' => ProtLevel::Confidential,
                b'P' => ProtLevel::Private,
                _ => return Err(invalid(verb, "unknown protection level")),
            }),
            Verb::Pbsz => C::Pbsz(number(verb, need()?)?),
            Verb::Ccc => none(C::Ccc)?,
            Verb::Mic => C::Mic(text(verb, need()?)?),
            Verb::Conf => C::Conf(text(verb, need()?)?),
            Verb::Enc => C::Enc(text(verb, need()?)?),
            Verb::Feat => none(C::Feat)?,
            Verb::Opts => parse_opts(need()?)?,
            Verb::Eprt => C::Eprt(addr::parse_eprt(need()?).map_err(|e| match e {
                addr::AddrError::UnsupportedFamily => ParseError::UnsupportedFamily(verb),
                _ => invalid(verb, "expected |af|addr|port|"),
            })?),
            Verb::Epsv => C::Epsv(parse_epsv(arg)?),
            Verb::Lang => C::Lang(arg.map(|a| text(verb, a)).transpose()?),
            Verb::Mdtm => C::Mdtm(path()?),
            Verb::Size => C::Size(path()?),
            Verb::Mlst => C::Mlst(opt_path()),
            Verb::Avbl => C::Avbl(opt_path()),
            Verb::Mlsd => C::Mlsd(opt_path()),
            Verb::Host => C::Host(text(verb, need()?)?),
            Verb::Mfmt => parse_mfmt(need()?)?,
            Verb::Hash => C::Hash(path()?),
            Verb::Rang => parse_rang(need()?)?,
            Verb::Xsha256 | Verb::Xsha512 | Verb::Xsha1 | Verb::Xmd5 | Verb::Xcrc => {
                parse_legacy_hash(verb, need()?)?
            }
        })
    }

    /// The command's verb.
    pub fn verb(&self) -> Verb {
        use Command as C;
        match self {
            C::User(_) => Verb::User,
            C::Pass(_) => Verb::Pass,
            C::Acct(_) => Verb::Acct,
            C::Cwd(_) => Verb::Cwd,
            C::Cdup => Verb::Cdup,
            C::Smnt(_) => Verb::Smnt,
            C::Rein => Verb::Rein,
            C::Quit => Verb::Quit,
            C::Port(_) => Verb::Port,
            C::Pasv => Verb::Pasv,
            C::Type(_) => Verb::Type,
            C::Stru(_) => Verb::Stru,
            C::Mode(_) => Verb::Mode,
            C::Retr(_) => Verb::Retr,
            C::Stor(_) => Verb::Stor,
            C::Stou(_) => Verb::Stou,
            C::Appe(_) => Verb::Appe,
            C::Allo { .. } => Verb::Allo,
            C::Rest(_) => Verb::Rest,
            C::Rnfr(_) => Verb::Rnfr,
            C::Rnto(_) => Verb::Rnto,
            C::Abor => Verb::Abor,
            C::Dele(_) => Verb::Dele,
            C::Rmd(_) => Verb::Rmd,
            C::Mkd(_) => Verb::Mkd,
            C::Pwd => Verb::Pwd,
            C::List(_) => Verb::List,
            C::Nlst(_) => Verb::Nlst,
            C::Site(_) => Verb::Site,
            C::Syst => Verb::Syst,
            C::Stat(_) => Verb::Stat,
            C::Help(_) => Verb::Help,
            C::Noop => Verb::Noop,
            C::Auth(_) => Verb::Auth,
            C::Adat(_) => Verb::Adat,
            C::Prot(_) => Verb::Prot,
            C::Pbsz(_) => Verb::Pbsz,
            C::Ccc => Verb::Ccc,
            C::Mic(_) => Verb::Mic,
            C::Conf(_) => Verb::Conf,
            C::Enc(_) => Verb::Enc,
            C::Feat => Verb::Feat,
            C::Opts { .. } => Verb::Opts,
            C::Eprt(_) => Verb::Eprt,
            C::Epsv(_) => Verb::Epsv,
            C::Lang(_) => Verb::Lang,
            C::Mdtm(_) => Verb::Mdtm,
            C::Size(_) => Verb::Size,
            C::Mlst(_) => Verb::Mlst,
            C::Avbl(_) => Verb::Avbl,
            C::Mlsd(_) => Verb::Mlsd,
            C::Host(_) => Verb::Host,
            C::Mfmt { .. } => Verb::Mfmt,
            C::Hash(_) => Verb::Hash,
            C::Rang { .. } => Verb::Rang,
            C::LegacyHash { algorithm, .. } => algorithm.legacy_verb(),
        }
    }

    /// Appends the command's wire form, including CR LF, to `out`.
    ///
    /// ```
    /// use ftp_proto::{Arg, Command};
    /// let mut out = Vec::new();
    /// Command::Pasv.encode(&mut out);
    /// Command::Cwd(Arg::new("/pub/a dir").unwrap()).encode(&mut out);
    /// assert_eq!(out, b"PASV\r\nCWD /pub/a dir\r\n");
    /// ```
    #[allow(
        clippy::too_many_lines,
        reason = "one match arm per command: a table, read by row"
    )]
    pub fn encode(&self, out: &mut Vec<u8>) {
        // Written straight into `out`: the verb needs no escaping, arguments go through the
        // same Telnet escaping as `line::encode_line`.
        out.extend_from_slice(self.verb().as_str().as_bytes());
        let mut arg = |a: &[u8]| {
            out.push(b' ');
            line::escape_into(out, a);
        };
        use Command as C;
        match self {
            C::Cdup
            | C::Rein
            | C::Quit
            | C::Pasv
            | C::Abor
            | C::Pwd
            | C::Syst
            | C::Noop
            | C::Ccc
            | C::Feat => {}
            C::User(s)
            | C::Acct(s)
            | C::Auth(s)
            | C::Adat(s)
            | C::Mic(s)
            | C::Conf(s)
            | C::Enc(s)
            | C::Host(s) => arg(s.as_bytes()),
            C::Pass(p) => arg(p.expose()),
            C::Cwd(p)
            | C::Smnt(p)
            | C::Retr(p)
            | C::Stor(p)
            | C::Appe(p)
            | C::Rnfr(p)
            | C::Rnto(p)
            | C::Dele(p)
            | C::Rmd(p)
            | C::Mkd(p)
            | C::Site(p)
            | C::Mdtm(p)
            | C::Size(p)
            | C::Hash(p) => arg(p),
            C::Stou(p)
            | C::List(p)
            | C::Nlst(p)
            | C::Stat(p)
            | C::Mlst(p)
            | C::Mlsd(p)
            | C::Avbl(p) => {
                if let Some(p) = p {
                    arg(p)
                }
            }
            C::Help(t) | C::Lang(t) => {
                if let Some(t) = t {
                    arg(t.as_bytes())
                }
            }
            C::Port(a) => arg(addr::encode_port(*a).as_bytes()),
            C::Eprt(a) => arg(addr::encode_eprt(*a).as_bytes()),
            C::Epsv(e) => match e {
                EpsvArg::Any => {}
                EpsvArg::All => arg(b"ALL"),
                EpsvArg::Family(f) => arg(f.number().to_string().as_bytes()),
            },
            C::Type(t) => {
                let fmt_letter = |f: &TextFormat| match f {
                    TextFormat::NonPrint => "N",
                    TextFormat::Telnet => "T",
                    TextFormat::Asa => "C",
                };
                let s = match t {
                    // The default format (N) is left out: `TYPE A` is what every server
                    // accepts, while some (e.g. pyftpdlib) refuse `TYPE A N`.
                    TransferType::Ascii(TextFormat::NonPrint) => "A".to_string(),
                    TransferType::Ebcdic(TextFormat::NonPrint) => "E".to_string(),
                    TransferType::Ascii(f) => format!("A {}", fmt_letter(f)),
                    TransferType::Ebcdic(f) => format!("E {}", fmt_letter(f)),
                    TransferType::Image => "I".to_string(),
                    TransferType::Local(n) => format!("L {n}"),
                };
                arg(s.as_bytes())
            }
            C::Stru(s) => arg(match s {
                Structure::File => b"F",
                Structure::Record => b"R",
                Structure::Page => b"P",
            }),
            C::Mode(m) => arg(match m {
                TransferMode::Stream => b"S",
                TransferMode::Block => b"B",
                TransferMode::Compressed => b"C",
            }),
            C::Prot(p) => arg(match p {
                ProtLevel::Clear => b"C",
                ProtLevel::Safe => b"S",
                ProtLevel::Confidential => b"E",
                ProtLevel::Private => b"P",
            }),
            C::Allo { size, record } => match record {
                None => arg(size.to_string().as_bytes()),
                Some(r) => arg(format!("{size} R {r}").as_bytes()),
            },
            C::Rest(n) => arg(n.to_string().as_bytes()),
            C::Pbsz(n) => arg(n.to_string().as_bytes()),
            C::Opts { name, value } => {
                arg(name.as_bytes());
                if let Some(v) = value {
                    arg(v.as_bytes());
                }
            }
            C::Mfmt { time, path } => {
                arg(time.to_string().as_bytes());
                arg(path);
            }
            C::Rang { start, end } => arg(format!("{start} {end}").as_bytes()),
            C::LegacyHash { path, range, .. } => {
                arg(path);
                if let Some((start, end)) = range {
                    arg(format!("{start} {end}").as_bytes());
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The command's wire form as a new buffer, including CR LF.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out);
        out
    }
}

/// Shows the command as it would be sent, with the password masked — suitable for logs and
/// transcripts.
///
/// ```
/// use ftp_proto::Command;
/// let pass = Command::parse(b"PASS hunter2").unwrap();
/// assert_eq!(pass.to_string(), "PASS ****");
/// ```
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Command::Pass(_) = self {
            return f.write_str("PASS ****");
        }
        let line = self.to_line();
        f.write_str(String::from_utf8_lossy(&line[..line.len() - 2]).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn p(s: &[u8]) -> Command {
        Command::parse(s).unwrap()
    }

    /// An argument from bytes known to hold no CR or LF.
    fn arg(bytes: &[u8]) -> Arg {
        Arg::new(bytes).unwrap()
    }

    #[test]
    fn type_ascii_is_sent_without_default_format() {
        let t = Command::Type(TransferType::Ascii(TextFormat::NonPrint));
        assert_eq!(t.to_line(), b"TYPE A\r\n");
        assert_eq!(p(b"TYPE A"), t);
        let t = Command::Type(TransferType::Ascii(TextFormat::Telnet));
        assert_eq!(t.to_line(), b"TYPE A T\r\n");
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(p(b"noop"), Command::Noop);
        assert_eq!(p(b"NoOp"), Command::Noop);
        assert_eq!(p(b"cwd /a"), Command::Cwd(arg(b"/a")));
    }

    #[test]
    fn x_aliases_map_to_standard_commands() {
        assert_eq!(p(b"XPWD"), Command::Pwd);
        assert_eq!(p(b"XCWD d"), Command::Cwd(arg(b"d")));
        assert_eq!(p(b"XCUP"), Command::Cdup);
        assert_eq!(p(b"XMKD d"), Command::Mkd(arg(b"d")));
        assert_eq!(p(b"XRMD d"), Command::Rmd(arg(b"d")));
    }

    #[test]
    fn path_arguments_keep_exact_bytes() {
        assert_eq!(p(b"RETR  lead space"), Command::Retr(arg(b" lead space")));
        assert_eq!(
            p(b"STOR a\"b\xff.txt "),
            Command::Stor(arg(b"a\"b\xff.txt "))
        );
    }

    #[test]
    fn rfc959_examples_parse() {
        // RFC 959 §5.3.1/§7 examples
        assert_eq!(
            p(b"PORT 132,235,1,2,24,131"),
            Command::Port(SocketAddrV4::new(Ipv4Addr::new(132, 235, 1, 2), 6275))
        );
        assert_eq!(
            p(b"TYPE A N"),
            Command::Type(TransferType::Ascii(TextFormat::NonPrint))
        );
        assert_eq!(
            p(b"TYPE A"),
            Command::Type(TransferType::Ascii(TextFormat::NonPrint))
        );
        assert_eq!(p(b"TYPE I"), Command::Type(TransferType::Image));
        assert_eq!(p(b"TYPE L 8"), Command::Type(TransferType::Local(8)));
        assert_eq!(
            p(b"TYPE E T"),
            Command::Type(TransferType::Ebcdic(TextFormat::Telnet))
        );
        assert_eq!(p(b"STRU F"), Command::Stru(Structure::File));
        assert_eq!(p(b"MODE S"), Command::Mode(TransferMode::Stream));
        assert_eq!(
            p(b"ALLO 1000 R 80"),
            Command::Allo {
                size: 1000,
                record: Some(80)
            }
        );
    }

    #[test]
    fn rfc2428_examples_parse() {
        assert_eq!(
            p(b"EPRT |1|132.235.1.2|6275|"),
            Command::Eprt("132.235.1.2:6275".parse().unwrap())
        );
        assert_eq!(
            p(b"EPRT |2|1080::8:800:200C:417A|5282|"),
            Command::Eprt("[1080::8:800:200C:417A]:5282".parse().unwrap())
        );
        assert_eq!(p(b"EPSV"), Command::Epsv(EpsvArg::Any));
        assert_eq!(p(b"EPSV ALL"), Command::Epsv(EpsvArg::All));
        assert_eq!(
            p(b"EPSV 2"),
            Command::Epsv(EpsvArg::Family(addr::AddressFamily::V6))
        );
        assert_eq!(
            Command::parse(b"EPSV 3").unwrap_err().reply_code().as_u16(),
            522
        );
        assert_eq!(
            Command::parse(b"EPRT |3|x|1|")
                .unwrap_err()
                .reply_code()
                .as_u16(),
            522
        );
    }

    #[test]
    fn rfc3659_and_others_parse() {
        assert_eq!(p(b"REST 1000"), Command::Rest(1000));
        assert_eq!(p(b"MLSD"), Command::Mlsd(None));
        assert_eq!(p(b"MLST a b"), Command::Mlst(Some(arg(b"a b"))));
        assert_eq!(p(b"AVBL"), Command::Avbl(None));
        assert_eq!(p(b"avbl up/dir"), Command::Avbl(Some(arg(b"up/dir"))));
        assert_eq!(
            p(b"OPTS MLST type;size;"),
            Command::Opts {
                name: "MLST".into(),
                value: Some("type;size;".into())
            }
        );
        assert_eq!(
            p(b"opts utf8 on"),
            Command::Opts {
                name: "UTF8".into(),
                value: Some("on".into())
            }
        );
        assert_eq!(
            p(b"HOST ftp.example.com"),
            Command::Host("ftp.example.com".into())
        );
        assert_eq!(p(b"PBSZ 0"), Command::Pbsz(0));
        assert_eq!(p(b"PROT P"), Command::Prot(ProtLevel::Private));
        assert_eq!(p(b"AUTH TLS"), Command::Auth("TLS".into()));
        match p(b"MFMT 20200102030405 a file") {
            Command::Mfmt { time, path } => {
                assert_eq!(time.to_string(), "20200102030405");
                assert_eq!(path, b"a file");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_carry_the_right_reply_code() {
        let code = |s: &[u8]| Command::parse(s).unwrap_err().reply_code().as_u16();
        assert_eq!(code(b"BLAH"), 500);
        assert_eq!(code(b""), 500);
        assert_eq!(code(b"RETR"), 501);
        assert_eq!(code(b"PWD x"), 501);
        assert_eq!(code(b"REST -1"), 501);
        assert_eq!(code(b"REST abc"), 501);
        assert_eq!(code(b"TYPE X"), 501);
        assert_eq!(code(b"PORT 1,2,3,4,5"), 501);
        assert_eq!(code(b"PORT 256,2,3,4,5,6"), 501);
        assert_eq!(code(b"MFMT 2020 a"), 501);
    }

    #[test]
    fn trailing_spaces_after_argless_verb_are_tolerated() {
        assert_eq!(p(b"PASV "), Command::Pasv);
        assert_eq!(p(b"LIST "), Command::List(None));
    }

    #[test]
    fn password_of_spaces_keeps_its_bytes() {
        // Regression (found by the round-trip property): an all-space password used to be
        // read as an empty one, so `PASS   ` did not parse back to what was sent.
        let c = Command::Pass(Secret::new(b"  ".to_vec()));
        assert_eq!(c.to_line(), b"PASS   \r\n");
        assert_eq!(p(b"PASS   "), c);
        assert_eq!(p(b"PASS"), Command::Pass(Secret::new(Vec::new())));
        assert_eq!(p(b"PASS "), Command::Pass(Secret::new(Vec::new())));
    }

    #[test]
    fn auth_with_only_whitespace_is_a_missing_argument() {
        // Regression (found by the parse_command fuzz target): `AUTH \x0b` parsed as
        // `Auth("")`, which serialises as `AUTH ` and no longer parses.
        assert_eq!(
            Command::parse(b"AUTH \x0b"),
            Err(ParseError::MissingArgument(Verb::Auth))
        );
        assert_eq!(
            Command::parse("AUTH \u{3000}".as_bytes()),
            Err(ParseError::MissingArgument(Verb::Auth))
        );
        assert_eq!(p(b"AUTH  TLS "), Command::Auth("TLS".into()));
    }

    #[test]
    fn pass_is_redacted_in_debug_and_display() {
        let c = p(b"PASS secret");
        assert!(!format!("{c:?}").contains("secret"));
        assert!(!c.to_string().contains("secret"));
        assert_eq!(c.to_line(), b"PASS secret\r\n");
    }

    #[test]
    fn every_verb_round_trips_through_its_spelling() {
        for v in Verb::ALL {
            assert_eq!(Verb::from_bytes(v.as_str().as_bytes()), Some(*v));
        }
    }
}
