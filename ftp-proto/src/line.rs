//! Control-connection line framing with a hard length bound and Telnet handling.
//!
//! FTP's control connection carries Telnet NVT lines ending in CRLF (RFC 959 §4.1, §5.3).
//! [`LineDecoder`] turns a byte stream into lines:
//!
//! - lines end at LF; a CR right before it is removed, so CRLF and bare LF both work;
//! - a line longer than the limit is reported **once** as [`LineError::TooLong`] and then
//!   discarded up to the next LF — it is never buffered whole, so a peer cannot grow memory;
//! - Telnet commands (RFC 854) are removed: `IAC IP`, `IAC DM` and other two-byte commands,
//!   `IAC WILL/WONT/DO/DONT <option>`, and `IAC IAC` becomes a single `0xFF` byte. This is what
//!   lets an "urgent" `IAC IP IAC DM ABOR` be read as a plain `ABOR` line, also when the
//!   kernel removed the out-of-band `DM` byte from the stream;
//! - an `IAC` followed by a byte that is no Telnet command (below 240) is kept as data with
//!   that byte, so a name holding a lone `0xFF` is never changed (only at the start of a line,
//!   where no name can be, is such an `IAC` dropped as the rest of a Synch).
//!
//! # Example
//! ```
//! use ftp_proto::line::{LineDecoder, Decoded};
//!
//! let mut dec = LineDecoder::new(16);
//! let input = b"NOOP\r\nRETR a\xff\xf4\xff\xf2";
//! let (line, rest) = dec.decode(input);
//! assert_eq!(line, Some(Ok(b"NOOP".to_vec())));
//! let (line, rest) = dec.decode(rest);
//! assert_eq!(line, None); // "RETR a" is incomplete: no LF yet
//! assert!(rest.is_empty()); // the decoder holds it
//! assert_eq!(dec.decode(b"\n").0, Some(Ok(b"RETR a".to_vec())));
//! ```

/// The default maximum length of a control line, in bytes, excluding the line ending.
///
/// RFC 959 sets no limit; 4 KiB holds a verb and any path Linux accepts (`PATH_MAX` is 4096)
/// while keeping what one session may buffer small.
pub const DEFAULT_MAX_LINE: usize = 4096;

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

/// A framing error for one line; the decoder recovers by itself and goes on with the next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line exceeded the limit; its bytes up to the next LF are discarded.
    #[error("line longer than {limit} bytes")]
    TooLong {
        /// The limit that was crossed.
        limit: usize,
    },
}

/// What one call to [`LineDecoder::decode`] produced, if anything.
pub type Decoded = Option<Result<Vec<u8>, LineError>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Telnet {
    /// Plain data.
    Data,
    /// Just saw IAC.
    Iac,
    /// Saw IAC WILL/WONT/DO/DONT: the next byte is an option code to drop.
    Option,
    /// Inside a subnegotiation (IAC SB ... IAC SE): drop everything.
    Sub,
    /// Inside a subnegotiation, just saw IAC.
    SubIac,
}

/// Incremental, bounded line decoder. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct LineDecoder {
    max: usize,
    buf: Vec<u8>,
    discarding: bool,
    telnet_enabled: bool,
    telnet: Telnet,
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl LineDecoder {
    /// A decoder that accepts lines of at most `max_line` bytes (excluding CR LF) and strips
    /// Telnet commands.
    pub fn new(max_line: usize) -> Self {
        LineDecoder {
            max: max_line,
            buf: Vec::new(),
            discarding: false,
            telnet_enabled: true,
            telnet: Telnet::Data,
        }
    }

    /// Turns Telnet command handling on (the default) or off. With it off, `0xFF` bytes are
    /// ordinary data.
    pub fn with_telnet(mut self, enabled: bool) -> Self {
        self.telnet_enabled = enabled;
        self
    }

    /// The maximum line length this decoder accepts.
    pub fn max_line(&self) -> usize {
        self.max
    }

    /// Bytes of the current, unfinished line held by the decoder (always `<= max_line`).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Consumes bytes from `input` until one line is complete or `input` is used up.
    ///
    /// Returns, in the shape every decoder of this crate has (what was found, then the rest of
    /// the input), the line if one was completed (or the error for an overlong one, after
    /// which the decoder goes on by itself) and the bytes after it. Call again with the rest to
    /// get further lines; `None` means all of `input` is held until the line's LF arrives.
    ///
    /// ```
    /// use ftp_proto::line::LineDecoder;
    ///
    /// let mut dec = LineDecoder::new(64);
    /// let (line, rest) = dec.decode(b"USER a\r\nPASS");
    /// assert_eq!((line, rest), (Some(Ok(b"USER a".to_vec())), &b"PASS"[..]));
    /// assert_eq!(dec.decode(rest), (None, &b""[..]));
    /// ```
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> (Decoded, &'a [u8]) {
        let mut i = 0;
        while i < input.len() {
            // Fast path: outside Telnet sequences, a run of bytes that are neither LF nor IAC
            // is plain data, copied (or skipped while discarding) in one go.
            if self.telnet == Telnet::Data {
                let rest = &input[i..];
                let stop = if self.telnet_enabled {
                    rest.iter().position(|&b| b == b'\n' || b == IAC)
                } else {
                    rest.iter().position(|&b| b == b'\n')
                }
                .unwrap_or(rest.len());
                if stop > 0 {
                    if self.discarding {
                        i += stop;
                        continue;
                    }
                    let take = stop.min(self.max.saturating_sub(self.buf.len()));
                    self.buf.extend_from_slice(&rest[..take]);
                    i += take;
                    if take == stop {
                        continue;
                    }
                    // At the limit: the byte-wise path decides (a CR may still fit).
                }
            }
            let b = input[i];
            i += 1;
            if let Some(out) = self.byte(b) {
                return (Some(out), &input[i..]);
            }
        }
        (None, &[])
    }

    /// Feeds one byte; returns a finished line or error.
    fn byte(&mut self, b: u8) -> Option<Result<Vec<u8>, LineError>> {
        if self.telnet_enabled {
            match self.telnet {
                Telnet::Data if b == IAC => {
                    self.telnet = Telnet::Iac;
                    return None;
                }
                Telnet::Data => {}
                Telnet::Iac => {
                    self.telnet = Telnet::Data;
                    match b {
                        IAC => {} // escaped 0xFF: fall through as data
                        WILL..=DONT => {
                            self.telnet = Telnet::Option;
                            return None;
                        }
                        SB => {
                            self.telnet = Telnet::Sub;
                            return None;
                        }
                        SE..=249 => return None, // IP, DM, AO, AYT, ... : dropped
                        // IAC before a byte that is no Telnet command (below 240) is no
                        // command either. At the start of a line it is what is left of a
                        // Synch whose DM went out of band (`IAC IP IAC ABOR`): the IAC is
                        // dropped. Anywhere else it is a lone 0xFF in the data (a file name
                        // sent without doubling it): both bytes are kept.
                        _ if self.buf.is_empty() => {}
                        _ => {
                            if let Some(too_long) = self.data(IAC) {
                                // The line is now being discarded, and `b` with it (an LF
                                // ends the discarding).
                                let _ = self.data(b);
                                return Some(too_long);
                            }
                        }
                    }
                }
                Telnet::Option => {
                    self.telnet = Telnet::Data;
                    return None;
                }
                Telnet::Sub => {
                    if b == IAC {
                        self.telnet = Telnet::SubIac;
                    }
                    return None;
                }
                Telnet::SubIac => {
                    self.telnet = if b == SE { Telnet::Data } else { Telnet::Sub };
                    return None;
                }
            }
        }
        self.data(b)
    }

    /// Feeds one data byte (Telnet handling done); returns a finished line or error.
    fn data(&mut self, b: u8) -> Option<Result<Vec<u8>, LineError>> {
        if b == b'\n' {
            if self.discarding {
                self.discarding = false;
                self.buf.clear();
                return None;
            }
            let mut line = std::mem::take(&mut self.buf);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Some(Ok(line));
        }
        if self.discarding {
            return None;
        }
        // Allow one byte past the limit for a CR that may precede the LF.
        if self.buf.len() > self.max || (self.buf.len() == self.max && b != b'\r') {
            self.buf = Vec::new();
            self.discarding = true;
            return Some(Err(LineError::TooLong { limit: self.max }));
        }
        self.buf.push(b);
        None
    }
}

/// Appends `line` to `out` as a control line: `0xFF` bytes are doubled (Telnet `IAC IAC`) and
/// CR LF is added. Interior CR or LF bytes cannot be represented and are written as NUL, as
/// RFC 959 does for a LF inside a pathname.
///
/// ```
/// let mut out = Vec::new();
/// ftp_proto::line::encode_line(&mut out, b"RETR a\xffb");
/// assert_eq!(out, b"RETR a\xff\xffb\r\n");
/// ```
pub fn encode_line(out: &mut Vec<u8>, line: &[u8]) {
    out.reserve(line.len() + 2);
    escape_into(out, line);
    out.extend_from_slice(b"\r\n");
}

/// Appends `bytes` to `out` with `0xFF` doubled and CR / LF written as NUL (no line ending).
pub(crate) fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut rest = bytes;
    while let Some(p) = rest
        .iter()
        .position(|&b| b == IAC || b == b'\r' || b == b'\n')
    {
        out.extend_from_slice(&rest[..p]);
        match rest[p] {
            IAC => out.extend_from_slice(&[IAC, IAC]),
            _ => out.push(0),
        }
        rest = &rest[p + 1..];
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_lines(dec: &mut LineDecoder, mut input: &[u8]) -> Vec<Result<Vec<u8>, LineError>> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let (line, rest) = dec.decode(input);
            input = rest;
            out.extend(line);
        }
        out
    }

    #[test]
    fn accepts_crlf_and_bare_lf() {
        let mut d = LineDecoder::new(100);
        let lines = all_lines(&mut d, b"USER a\r\nPASS b\nNOOP\r\n");
        assert_eq!(
            lines,
            vec![
                Ok(b"USER a".to_vec()),
                Ok(b"PASS b".to_vec()),
                Ok(b"NOOP".to_vec())
            ]
        );
    }

    #[test]
    fn overlong_line_errors_once_then_recovers() {
        let mut d = LineDecoder::new(8);
        let lines = all_lines(&mut d, b"0123456789abcdef\r\nNOOP\r\n");
        assert_eq!(
            lines,
            vec![Err(LineError::TooLong { limit: 8 }), Ok(b"NOOP".to_vec())]
        );
    }

    #[test]
    fn line_exactly_at_limit_is_accepted_with_crlf() {
        let mut d = LineDecoder::new(4);
        assert_eq!(all_lines(&mut d, b"NOOP\r\n"), vec![Ok(b"NOOP".to_vec())]);
        assert_eq!(
            all_lines(&mut d, b"NOOPX\r\n"),
            vec![Err(LineError::TooLong { limit: 4 })]
        );
    }

    #[test]
    fn never_buffers_more_than_the_limit() {
        let mut d = LineDecoder::new(64);
        let big = vec![b'A'; 1 << 20];
        let mut rest = &big[..];
        let mut errors = 0;
        while !rest.is_empty() {
            let line;
            (line, rest) = d.decode(rest);
            if line.is_some() {
                errors += 1;
            }
            assert!(d.pending() <= 65);
        }
        assert_eq!(errors, 1);
    }

    #[test]
    fn strips_telnet_interrupt_and_synch_before_abor() {
        let mut d = LineDecoder::new(100);
        let lines = all_lines(&mut d, b"\xff\xf4\xff\xf2ABOR\r\n");
        assert_eq!(lines, vec![Ok(b"ABOR".to_vec())]);
    }

    #[test]
    fn synch_with_out_of_band_dm_removed_still_yields_abor() {
        let mut d = LineDecoder::new(100);
        assert_eq!(
            all_lines(&mut d, b"\xff\xf4\xffABOR\r\n"),
            vec![Ok(b"ABOR".to_vec())]
        );
    }

    #[test]
    fn escaped_iac_is_one_0xff_byte() {
        let mut d = LineDecoder::new(100);
        assert_eq!(
            all_lines(&mut d, b"RETR \xff\xff\r\n"),
            vec![Ok(b"RETR \xff".to_vec())]
        );
    }

    #[test]
    fn lone_iac_inside_a_line_is_kept_with_the_next_byte() {
        // Regression (issue 22, bug 8): `STOR bad\xffa`, as Python's ftplib sends it, was
        // read as `STOR bada` and overwrote that file.
        let mut d = LineDecoder::new(100);
        assert_eq!(
            all_lines(&mut d, b"STOR bad\xffa\r\nRETR x\xff\r\n"),
            vec![Ok(b"STOR bad\xffa".to_vec()), Ok(b"RETR x\xff".to_vec())]
        );
        // Split across reads, the same.
        let mut d = LineDecoder::new(100);
        let mut lines = all_lines(&mut d, b"STOR bad\xff");
        lines.extend(all_lines(&mut d, b"a\r\n"));
        assert_eq!(lines, vec![Ok(b"STOR bad\xffa".to_vec())]);
    }

    #[test]
    fn lone_iac_at_the_limit_counts_towards_it() {
        let mut d = LineDecoder::new(4);
        assert_eq!(
            all_lines(&mut d, b"ABCD\xffE\nNOOP\n"),
            vec![Err(LineError::TooLong { limit: 4 }), Ok(b"NOOP".to_vec())]
        );
        let mut d = LineDecoder::new(4);
        assert_eq!(
            all_lines(&mut d, b"ABCD\xff\nNOOP\n"),
            vec![Err(LineError::TooLong { limit: 4 }), Ok(b"NOOP".to_vec())]
        );
        let mut d = LineDecoder::new(4);
        assert_eq!(
            all_lines(&mut d, b"ABC\xffE\n"),
            vec![Err(LineError::TooLong { limit: 4 })]
        );
        assert_eq!(
            all_lines(&mut d, b"AB\xffC\n"),
            vec![Ok(b"AB\xffC".to_vec())]
        );
    }

    #[test]
    fn option_negotiation_and_subnegotiation_are_dropped() {
        let mut d = LineDecoder::new(100);
        let lines = all_lines(&mut d, b"\xff\xfb\x01NO\xff\xfa\x18abc\xff\xf0OP\r\n");
        assert_eq!(lines, vec![Ok(b"NOOP".to_vec())]);
    }

    #[test]
    fn telnet_can_be_disabled() {
        let mut d = LineDecoder::new(100).with_telnet(false);
        assert_eq!(
            all_lines(&mut d, b"a\xff\xf4\n"),
            vec![Ok(b"a\xff\xf4".to_vec())]
        );
    }

    #[test]
    fn encode_line_escapes_iac_and_newlines() {
        let mut out = Vec::new();
        encode_line(&mut out, b"a\xffb\nc");
        assert_eq!(out, b"a\xff\xffb\0c\r\n");
    }
}
