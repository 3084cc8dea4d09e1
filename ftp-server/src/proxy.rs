//! The PROXY protocol (v1 text and v2 binary, parsed with the `ppp` crate): a load balancer
//! in front of the server starts every connection it forwards, control and data alike, with
//! a header naming the real client. Connections from the addresses in
//! `proxy_protocol_from` ([`ProxyFrom`]) must start with one; from anywhere else a header is
//! never looked for (nobody can spoof an address by sending one).
//!
//! [`read_header`] reads exactly the header's bytes (byte by byte after the first 15: nothing
//! of the FTP stream behind it is consumed), within a deadline and at most
//! [`MAX_HEADER`] bytes. `PROXY UNKNOWN` (v1) and `LOCAL` (v2, the balancer's own health
//! checks) keep the connection's real addresses, as the specification says.
//!
//! ```
//! use ftp_server::proxy::{parse, Parsed};
//! let h = b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 21\r\nUSER x\r\n";
//! let Parsed::Header { len, source, .. } = parse(h).unwrap() else { panic!() };
//! assert_eq!(len, 41);
//! assert_eq!(source.unwrap().to_string(), "192.0.2.7:40000");
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_lite::io::{AsyncRead, AsyncReadExt};

/// The longest header read: v1 lines are at most 107 bytes; v2 headers carry TLVs after the
/// addresses, which balancers keep short. A longer one is refused.
pub const MAX_HEADER: usize = 4096;
/// How long a connection from a balancer may take to send its header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The v2 signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The shortest header there is: `PROXY UNKNOWN\r\n`.
const MIN_HEADER: usize = 15;
/// The longest v1 line, CRLF included.
const MAX_V1: usize = 107;

/// An address range (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the range (IPv4-mapped IPv6 addresses count as IPv4).
    ///
    /// ```
    /// use ftp_server::proxy::Cidr;
    /// let lan: Cidr = "10.0.0.0/8".parse().unwrap();
    /// assert!(lan.contains("10.9.8.7".parse().unwrap()));
    /// assert!(lan.contains("::ffff:10.1.1.1".parse().unwrap()));
    /// assert!(!lan.contains("11.0.0.1".parse().unwrap()));
    /// ```
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: u128, width: u32| {
            let shift = width - u32::from(self.prefix);
            a.checked_shr(shift).unwrap_or(0)
        };
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                bits(u32::from(net).into(), 32) == bits(u32::from(ip).into(), 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => bits(net.into(), 128) == bits(ip.into(), 128),
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = crate::config::ConfigError;

    fn from_str(s: &str) -> Result<Cidr, Self::Err> {
        let bad = || crate::config::ConfigError::Invalid {
            what: "address range (expected ADDRESS or ADDRESS/PREFIX)",
            value: s.to_string(),
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => width,
        };
        if prefix > width {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The balancers' addresses (`--proxy-protocol-from`): connections from them must start with
/// a PROXY header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyFrom(pub Vec<Cidr>);

impl ProxyFrom {
    /// Whether a connection from `ip` must start with a header.
    pub fn requires_header(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// Whether no balancer is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why a connection from a balancer was closed before its header was read.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Nothing, or too little, arrived within [`HEADER_TIMEOUT`].
    #[error("no PROXY header within {0:?}")]
    Timeout(Duration),
    /// The connection ended or failed before the header was complete.
    #[error("connection ended before the PROXY header: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a PROXY header.
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
    /// Longer than [`MAX_HEADER`].
    #[error("PROXY header longer than {MAX_HEADER} bytes")]
    TooLong,
}

/// What [`parse`] makes of the bytes at the start of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// A whole header of `len` bytes; `source`/`destination` are `None` for `UNKNOWN` and
    /// `LOCAL` (the connection's own addresses apply) and for address families other than
    /// TCP over IPv4/IPv6.
    Header {
        /// The header's length in bytes.
        len: usize,
        /// The client's address.
        source: Option<SocketAddr>,
        /// The address the client connected to (the balancer's).
        destination: Option<SocketAddr>,
    },
}

/// Parses the start of a connection: a whole header, [`Parsed::Incomplete`], or an error.
/// Pure (no I/O), for the fuzz target and [`read_header`].
pub fn parse(buf: &[u8]) -> Result<Parsed, ProxyError> {
    let malformed = |e: &dyn std::fmt::Debug| Err(ProxyError::Malformed(format!("{e:?}")));
    if is_v2(buf) {
        if buf.len() >= 16 && 16 + usize::from(u16::from_be_bytes([buf[14], buf[15]])) > MAX_HEADER
        {
            return Err(ProxyError::TooLong);
        }
        return match ppp::v2::Header::try_from(buf) {
            Ok(h) => {
                let (source, destination) = match (h.command, h.addresses) {
                    (ppp::v2::Command::Local, _) => (None, None),
                    (_, ppp::v2::Addresses::IPv4(a)) => (
                        Some((a.source_address, a.source_port).into()),
                        Some((a.destination_address, a.destination_port).into()),
                    ),
                    (_, ppp::v2::Addresses::IPv6(a)) => (
                        Some((a.source_address, a.source_port).into()),
                        Some((a.destination_address, a.destination_port).into()),
                    ),
                    _ => (None, None),
                };
                let len = h.len();
                Ok(Parsed::Header {
                    len,
                    source,
                    destination,
                })
            }
            Err(ppp::v2::ParseError::Incomplete(_) | ppp::v2::ParseError::Partial(..)) => {
                Ok(Parsed::Incomplete)
            }
            Err(e) => malformed(&e),
        };
    }
    if !buf.starts_with(b"PROXY ") && !b"PROXY ".starts_with(buf) {
        return malformed(&"neither a v1 line nor the v2 signature");
    }
    let v1 = &buf[..buf.len().min(MAX_V1)];
    let Some(end) = v1.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= MAX_V1 {
            malformed(&"v1 line without CRLF within 107 bytes")
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let line = &buf[..end + 2];
    match ppp::v1::Header::try_from(line) {
        Ok(h) => {
            let (source, destination) = match h.addresses {
                ppp::v1::Addresses::Tcp4(a) => (
                    Some((a.source_address, a.source_port).into()),
                    Some((a.destination_address, a.destination_port).into()),
                ),
                ppp::v1::Addresses::Tcp6(a) => (
                    Some((a.source_address, a.source_port).into()),
                    Some((a.destination_address, a.destination_port).into()),
                ),
                ppp::v1::Addresses::Unknown => (None, None),
            };
            Ok(Parsed::Header {
                len: line.len(),
                source,
                destination,
            })
        }
        Err(e) => malformed(&e),
    }
}

/// Whether `buf` starts like a v2 header (as far as it goes).
fn is_v2(buf: &[u8]) -> bool {
    let n = buf.len().min(V2_SIGNATURE.len());
    n > 0 && buf[..n] == V2_SIGNATURE[..n]
}

/// The header's addresses, read off a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addresses {
    /// The real client, if the header names one (`None`: `UNKNOWN`/`LOCAL`).
    pub source: Option<SocketAddr>,
    /// The address the client connected to.
    pub destination: Option<SocketAddr>,
}

/// Reads one header off `stream` and nothing more, within `limit`.
pub async fn read_header<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> Result<Addresses, ProxyError> {
    let read = async {
        let mut buf = vec![0u8; MIN_HEADER];
        stream.read_exact(&mut buf).await?;
        loop {
            match parse(&buf)? {
                Parsed::Header {
                    len,
                    source,
                    destination,
                } => {
                    debug_assert_eq!(len, buf.len());
                    return Ok(Addresses {
                        source,
                        destination,
                    });
                }
                Parsed::Incomplete if buf.len() >= MAX_HEADER => return Err(ProxyError::TooLong),
                Parsed::Incomplete => {
                    // v2 announces its length after 16 bytes: read the rest at once.
                    let want = if is_v2(&buf) && buf.len() >= 16 {
                        16 + usize::from(u16::from_be_bytes([buf[14], buf[15]]))
                    } else {
                        buf.len() + 1
                    };
                    if want > MAX_HEADER {
                        return Err(ProxyError::TooLong);
                    }
                    let old = buf.len();
                    buf.resize(want.max(old + 1), 0);
                    stream.read_exact(&mut buf[old..]).await?;
                }
            }
        }
    };
    futures_lite::future::or(read, async {
        async_io::Timer::after(limit).await;
        Err(ProxyError::Timeout(limit))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(src: &str, dst: &str, tlv: usize) -> Vec<u8> {
        let (s, d): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        let mut b = ppp::v2::Builder::with_addresses(
            ppp::v2::Version::Two | ppp::v2::Command::Proxy,
            ppp::v2::Protocol::Stream,
            (s, d),
        );
        if tlv > 0 {
            b = b.write_tlv(ppp::v2::Type::NoOp, &vec![0; tlv]).unwrap();
        }
        b.build().unwrap()
    }

    fn read(bytes: &[u8]) -> (Result<Addresses, ProxyError>, Vec<u8>) {
        let mut cur = futures_lite::io::Cursor::new(bytes.to_vec());
        let r = smol::block_on(read_header(&mut cur, Duration::from_secs(5)));
        let mut rest = Vec::new();
        smol::block_on(cur.read_to_end(&mut rest)).unwrap();
        (r, rest)
    }

    #[test]
    fn v1_header_gives_the_client_address_and_leaves_the_commands() {
        let (r, rest) = read(b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 21\r\nUSER a\r\n");
        let a = r.unwrap();
        assert_eq!(a.source, Some("192.0.2.1:5000".parse().unwrap()));
        assert_eq!(a.destination, Some("127.0.0.1:21".parse().unwrap()));
        assert_eq!(rest, b"USER a\r\n");
    }

    #[test]
    fn v1_tcp6_and_unknown() {
        let (r, _) = read(b"PROXY TCP6 ::1 ::2 1 2\r\n");
        assert_eq!(r.unwrap().source, Some("[::1]:1".parse().unwrap()));
        let (r, rest) = read(b"PROXY UNKNOWN\r\nX");
        assert_eq!(r.unwrap().source, None);
        assert_eq!(rest, b"X");
    }

    #[test]
    fn v2_header_with_tlvs_is_read_whole_and_nothing_more() {
        let mut h = v2("192.0.2.9:7000", "127.0.0.1:2121", 100);
        h.extend_from_slice(b"QUIT\r\n");
        let (r, rest) = read(&h);
        assert_eq!(r.unwrap().source, Some("192.0.2.9:7000".parse().unwrap()));
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn v2_local_keeps_the_real_addresses() {
        let h = ppp::v2::Builder::with_addresses(
            ppp::v2::Version::Two | ppp::v2::Command::Local,
            ppp::v2::Protocol::Unspecified,
            ppp::v2::Addresses::Unspecified,
        )
        .build()
        .unwrap();
        let (r, _) = read(&h);
        assert_eq!(
            r.unwrap(),
            Addresses {
                source: None,
                destination: None
            }
        );
    }

    #[test]
    fn missing_malformed_short_and_oversized_headers_are_errors() {
        assert!(matches!(
            read(b"USER anonymous\r\n").0,
            Err(ProxyError::Malformed(_))
        ));
        assert!(matches!(
            read(b"PROXY TCP4 x y 1 2\r\n").0,
            Err(ProxyError::Malformed(_))
        ));
        assert!(matches!(read(b"PROXY TCP4 1.2").0, Err(ProxyError::Io(_))));
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
        assert!(matches!(read(&long).0, Err(ProxyError::Malformed(_))));
        let big = v2("192.0.2.9:7000", "127.0.0.1:2121", MAX_HEADER);
        assert!(matches!(read(&big).0, Err(ProxyError::TooLong)));
    }

    #[test]
    fn a_silent_balancer_times_out() {
        let (mut a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let _ = &mut a;
        let mut s = async_io::Async::new(a).unwrap();
        let r = smol::block_on(read_header(&mut s, Duration::from_millis(50)));
        assert!(matches!(r, Err(ProxyError::Timeout(_))));
    }

    #[test]
    fn cidr_parses_and_matches() {
        let c: Cidr = "127.0.0.0/8".parse().unwrap();
        assert!(c.contains("127.1.2.3".parse().unwrap()));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}
