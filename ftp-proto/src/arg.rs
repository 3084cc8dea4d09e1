//! [`Arg`]: a command argument that a control line can carry — any bytes but CR and LF.
//!
//! A control line ends at LF, so an argument holding CR or LF cannot be sent as it is (RFC 959
//! would turn the LF into a NUL). An `Arg` is checked once, when it is made, so a
//! [`Command`](crate::Command) always goes on the wire byte for byte as it was built.
//!
//! ```
//! use ftp_proto::{Arg, Command};
//!
//! let path = Arg::new(b"dir/a file\xff.txt".to_vec()).unwrap();
//! assert_eq!(Command::Retr(path).to_line(), b"RETR dir/a file\xff\xff.txt\r\n");
//!
//! let err = Arg::new("a\nb").unwrap_err();
//! assert_eq!(err.to_string(), "a command argument cannot hold LF (at byte 1)");
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// The bytes of a command argument (a path, `SITE` or `LIST` arguments, a password): anything
/// but CR and LF, kept exactly (spaces, quotes, `0xFF`, NUL and non-UTF-8 included).
///
/// It reads as a byte slice (`Deref<Target = [u8]>`, [`AsRef<[u8]>`]) and compares equal to
/// byte strings:
///
/// ```
/// use ftp_proto::Arg;
///
/// let arg = Arg::try_from("report.pdf").unwrap();
/// assert_eq!(arg, b"report.pdf");
/// assert_eq!(arg.len(), 10);
/// assert!(arg.ends_with(b".pdf"));
/// assert_eq!(arg.into_vec(), b"report.pdf".to_vec());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Arg(Vec<u8>);

/// Why bytes cannot be a command argument: they hold a CR or an LF.
///
/// ```
/// use ftp_proto::{Arg, ArgError};
///
/// let err: ArgError = Arg::try_from("two\r\nlines").unwrap_err();
/// assert_eq!((err.byte(), err.position()), (b'\r', 3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("a command argument cannot hold {} (at byte {at})", if *byte == b'\r' { "CR" } else { "LF" })]
pub struct ArgError {
    byte: u8,
    at: usize,
}

impl ArgError {
    /// The offending byte: `b'\r'` or `b'\n'`.
    pub fn byte(&self) -> u8 {
        self.byte
    }

    /// Its position in the bytes given.
    pub fn position(&self) -> usize {
        self.at
    }
}

impl Arg {
    /// Checks `bytes` and wraps them; an error names the first CR or LF.
    ///
    /// ```
    /// use ftp_proto::Arg;
    /// assert!(Arg::new("a b").is_ok());
    /// let err = Arg::new(b"ab\r".to_vec()).unwrap_err();
    /// assert_eq!((err.byte(), err.position()), (b'\r', 2));
    /// ```
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Arg, ArgError> {
        let bytes = bytes.into();
        match bytes.iter().position(|b| *b == b'\r' || *b == b'\n') {
            Some(at) => Err(ArgError {
                byte: bytes[at],
                at,
            }),
            None => Ok(Arg(bytes)),
        }
    }

    /// Wraps bytes that were taken from one control line, so hold no CR or LF.
    pub(crate) fn from_line(bytes: &[u8]) -> Arg {
        debug_assert!(!bytes.iter().any(|b| *b == b'\r' || *b == b'\n'));
        Arg(bytes.to_vec())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Unwraps the bytes.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl Deref for Arg {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Arg {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for Arg {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl From<Arg> for Vec<u8> {
    fn from(arg: Arg) -> Vec<u8> {
        arg.0
    }
}

macro_rules! try_from {
    ($($t:ty),*) => {$(
        impl TryFrom<$t> for Arg {
            type Error = ArgError;

            fn try_from(bytes: $t) -> Result<Arg, ArgError> {
                Arg::new(bytes)
            }
        }
    )*};
}

try_from!(Vec<u8>, &[u8], String, &str);

impl PartialEq<[u8]> for Arg {
    fn eq(&self, other: &[u8]) -> bool {
        self.0 == other
    }
}

impl PartialEq<&[u8]> for Arg {
    fn eq(&self, other: &&[u8]) -> bool {
        self.0 == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Arg {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.0 == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Arg {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.0 == *other
    }
}

impl PartialEq<Vec<u8>> for Arg {
    fn eq(&self, other: &Vec<u8>) -> bool {
        &self.0 == other
    }
}

/// Shows the bytes as an escaped byte string: `Arg("a b\xff")`.
impl fmt::Debug for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Arg(\"{}\")", self.0.escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_cr_and_lf_anywhere_and_keeps_every_other_byte() {
        let all_but: Vec<u8> = (0..=255u8).filter(|b| *b != b'\r' && *b != b'\n').collect();
        assert_eq!(Arg::new(all_but.clone()).unwrap(), all_but);
        assert_eq!(Arg::new(b"\nx".to_vec()).unwrap_err().position(), 0);
        assert_eq!(Arg::new("x\r\n").unwrap_err().byte(), b'\r');
        assert_eq!(
            Arg::try_from("a\rb").unwrap_err().to_string(),
            "a command argument cannot hold CR (at byte 1)"
        );
    }

    #[test]
    fn debug_shows_escaped_bytes() {
        assert_eq!(
            format!("{:?}", Arg::new(b"a \"b\"\xff".to_vec()).unwrap()),
            r#"Arg("a \"b\"\xff")"#
        );
    }
}
