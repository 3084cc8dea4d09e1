//! File digests for `HASH` (draft-bryan-ftpext-hash-02) and its legacy spellings (`XSHA256`,
//! `XSHA512`, `XSHA1`, `XMD5`, `XCRC`): the algorithms with their IANA names, a streaming
//! [`Hasher`] and the parsing of a `213` `HASH` reply. Server and client hash with the same
//! code, so what one computes the other can compare byte for byte.
//!
//! ```
//! use ftp_proto::hash::{HashAlgorithm, Hasher};
//!
//! let alg = HashAlgorithm::from_name("sha-256").unwrap();
//! let mut h = Hasher::new(alg);
//! h.update(b"abc");
//! assert_eq!(
//!     h.finish_hex(),
//!     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//! );
//! assert_eq!(alg.name(), "SHA-256");
//! ```

use std::fmt;

use sha2::Digest as _;

use crate::command::Verb;

/// A digest algorithm the `HASH` command can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256 (FIPS 180-4), the default.
    Sha256,
    /// SHA-512.
    Sha512,
    /// SHA-1.
    Sha1,
    /// MD5 (RFC 1321).
    Md5,
    /// CRC-32 (IEEE 802.3, as zlib's `crc32`), shown as 8 hex digits.
    Crc32,
}

impl HashAlgorithm {
    /// Every algorithm, in the order `FEAT` lists them.
    pub const ALL: [HashAlgorithm; 5] = [
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha512,
        HashAlgorithm::Sha1,
        HashAlgorithm::Md5,
        HashAlgorithm::Crc32,
    ];

    /// The IANA "Hash Function Textual Name" (`SHA-256`), as `FEAT`, `OPTS HASH` and the
    /// `213` reply spell it.
    pub const fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "SHA-256",
            HashAlgorithm::Sha512 => "SHA-512",
            HashAlgorithm::Sha1 => "SHA-1",
            HashAlgorithm::Md5 => "MD5",
            HashAlgorithm::Crc32 => "CRC32",
        }
    }

    /// The algorithm with this name, ignoring ASCII case; `SHA256`, `SHA512` and `SHA1`
    /// (without the dash, as some clients and tools write them) are accepted too.
    ///
    /// ```
    /// use ftp_proto::hash::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::from_name("md5"), Some(HashAlgorithm::Md5));
    /// assert_eq!(HashAlgorithm::from_name("SHA512"), Some(HashAlgorithm::Sha512));
    /// assert_eq!(HashAlgorithm::from_name("CRC-37"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<HashAlgorithm> {
        let n = name.trim().to_ascii_uppercase();
        HashAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == n || a.name().replace('-', "") == n)
    }

    /// The legacy command that hashes with this algorithm (`XSHA256` …, `XCRC`).
    pub const fn legacy_verb(self) -> Verb {
        match self {
            HashAlgorithm::Sha256 => Verb::Xsha256,
            HashAlgorithm::Sha512 => Verb::Xsha512,
            HashAlgorithm::Sha1 => Verb::Xsha1,
            HashAlgorithm::Md5 => Verb::Xmd5,
            HashAlgorithm::Crc32 => Verb::Xcrc,
        }
    }

    /// The algorithm a legacy verb hashes with (`None` for every other verb).
    pub const fn of_legacy_verb(verb: Verb) -> Option<HashAlgorithm> {
        Some(match verb {
            Verb::Xsha256 => HashAlgorithm::Sha256,
            Verb::Xsha512 => HashAlgorithm::Sha512,
            Verb::Xsha1 => HashAlgorithm::Sha1,
            Verb::Xmd5 => HashAlgorithm::Md5,
            Verb::Xcrc => HashAlgorithm::Crc32,
            _ => return None,
        })
    }

    /// The digest's length in hex digits.
    pub const fn hex_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 64,
            HashAlgorithm::Sha512 => 128,
            HashAlgorithm::Sha1 => 40,
            HashAlgorithm::Md5 => 32,
            HashAlgorithm::Crc32 => 8,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A digest being computed over bytes fed in any number of pieces.
#[derive(Clone)]
pub struct Hasher(State);

#[derive(Clone)]
enum State {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
    Sha1(sha1::Sha1),
    Md5(md5::Md5),
    Crc32(crc32fast::Hasher),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hasher({})", self.algorithm())
    }
}

impl Hasher {
    /// A new digest of `alg` over no bytes yet.
    pub fn new(alg: HashAlgorithm) -> Hasher {
        Hasher(match alg {
            HashAlgorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha512 => State::Sha512(sha2::Sha512::new()),
            HashAlgorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            HashAlgorithm::Md5 => State::Md5(md5::Md5::new()),
            HashAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> HashAlgorithm {
        match &self.0 {
            State::Sha256(_) => HashAlgorithm::Sha256,
            State::Sha512(_) => HashAlgorithm::Sha512,
            State::Sha1(_) => HashAlgorithm::Sha1,
            State::Md5(_) => HashAlgorithm::Md5,
            State::Crc32(_) => HashAlgorithm::Crc32,
        }
    }

    /// Feeds more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.0 {
            State::Sha256(h) => h.update(bytes),
            State::Sha512(h) => h.update(bytes),
            State::Sha1(h) => h.update(bytes),
            State::Md5(h) => h.update(bytes),
            State::Crc32(h) => h.update(bytes),
        }
    }

    /// The digest's bytes (CRC-32: its four bytes, most significant first).
    pub fn finish(self) -> Vec<u8> {
        match self.0 {
            State::Sha256(h) => h.finalize().to_vec(),
            State::Sha512(h) => h.finalize().to_vec(),
            State::Sha1(h) => h.finalize().to_vec(),
            State::Md5(h) => h.finalize().to_vec(),
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
        }
    }

    /// The digest in lower-case hex, as `sha256sum` prints it.
    pub fn finish_hex(self) -> String {
        to_hex(&self.finish())
    }
}

/// Bytes as lower-case hex.
///
/// ```
/// assert_eq!(ftp_proto::hash::to_hex(&[0x0f, 0xa0]), "0fa0");
/// ```
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// What a `213` reply to `HASH` says: `SHA-256 0-1024 <hex> <path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashReply {
    /// The algorithm the server used.
    pub algorithm: HashAlgorithm,
    /// The first byte hashed.
    pub start: u64,
    /// The end of the range hashed, as the server wrote it.
    pub end: u64,
    /// The digest, lower-cased hex.
    pub hex: String,
}

impl HashReply {
    /// Reads the text of a `213` reply's last line (without the code). `None` when it is not
    /// `name start-end hex ...` with a known algorithm and a digest of the right length.
    ///
    /// ```
    /// use ftp_proto::hash::{HashAlgorithm, HashReply};
    /// let r = HashReply::parse("MD5 0-3 900150983CD24FB0D6963F7D28E17F72 a b.txt").unwrap();
    /// assert_eq!(r.algorithm, HashAlgorithm::Md5);
    /// assert_eq!((r.start, r.end), (0, 3));
    /// assert_eq!(r.hex, "900150983cd24fb0d6963f7d28e17f72");
    /// assert!(HashReply::parse("Computing SHA-256 digest").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<HashReply> {
        let mut words = text.trim_start().splitn(4, ' ');
        let algorithm = HashAlgorithm::from_name(words.next()?)?;
        let (start, end) = words.next()?.split_once('-')?;
        let (start, end) = (start.parse().ok()?, end.parse().ok()?);
        let hex = parse_hex_digest(words.next()?, algorithm)?;
        Some(HashReply {
            algorithm,
            start,
            end,
            hex,
        })
    }
}

/// A digest in hex of the length `alg` gives, lower-cased; `None` when `word` is not one.
///
/// ```
/// use ftp_proto::hash::{parse_hex_digest, HashAlgorithm};
/// assert_eq!(parse_hex_digest("352441C2", HashAlgorithm::Crc32).unwrap(), "352441c2");
/// assert!(parse_hex_digest("xyz", HashAlgorithm::Crc32).is_none());
/// ```
pub fn parse_hex_digest(word: &str, alg: HashAlgorithm) -> Option<String> {
    let word = word.trim();
    (word.len() == alg.hex_len() && word.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| word.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_of(alg: HashAlgorithm, data: &[u8]) -> String {
        let mut h = Hasher::new(alg);
        for piece in data.chunks(7) {
            h.update(piece);
        }
        h.finish_hex()
    }

    #[test]
    fn digests_match_the_published_vectors() {
        let abc = b"abc";
        assert_eq!(
            hex_of(HashAlgorithm::Sha1, abc),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex_of(HashAlgorithm::Md5, abc),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(hex_of(HashAlgorithm::Crc32, abc), "352441c2");
        assert!(hex_of(HashAlgorithm::Sha512, abc).starts_with("ddaf35a193617aba"));
        for alg in HashAlgorithm::ALL {
            assert_eq!(hex_of(alg, b"x").len(), alg.hex_len());
        }
    }

    #[test]
    fn every_algorithm_has_one_legacy_verb_and_back() {
        for alg in HashAlgorithm::ALL {
            assert_eq!(HashAlgorithm::of_legacy_verb(alg.legacy_verb()), Some(alg));
            assert_eq!(HashAlgorithm::from_name(alg.name()), Some(alg));
        }
        assert_eq!(HashAlgorithm::of_legacy_verb(Verb::Retr), None);
    }

    #[test]
    fn hash_reply_needs_a_range_and_a_digest_of_the_right_length() {
        assert!(HashReply::parse("SHA-1 0-3 abcd x").is_none());
        assert!(HashReply::parse("SHA-1 3 a9993e364706816aba3e25717850c26c9cd0d89d x").is_none());
        let r = HashReply::parse("SHA-1 0-3 a9993e364706816aba3e25717850c26c9cd0d89d").unwrap();
        assert_eq!(r.end, 3);
    }
}
