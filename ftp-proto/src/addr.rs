//! Data-channel address encodings: `PORT`/`227` (`h1,h2,h3,h4,p1,p2`), `EPRT` (`|af|addr|port|`)
//! and `229` (`(|||port|)`), as `SocketAddr` values (RFC 959 §4.1.2, RFC 2428).
//!
//! ```
//! use ftp_proto::addr;
//! use std::net::SocketAddr;
//!
//! let a: SocketAddr = "[::1]:2121".parse().unwrap();
//! assert_eq!(addr::encode_eprt(a), "|2|::1|2121|");
//! assert_eq!(addr::parse_eprt(b"|2|::1|2121|").unwrap(), a);
//!
//! // 227 replies come in many shapes; the six numbers are found wherever they are.
//! let p = addr::parse_pasv_reply(b"Entering Passive Mode 127,0,0,1,4,1").unwrap();
//! assert_eq!(p.to_string(), "127.0.0.1:1025");
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::reply::{Reply, ReplyCode};

/// Why an address string is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddrError {
    /// Not of the expected shape.
    #[error("malformed address")]
    Malformed,
    /// A number is out of range (a byte above 255, a port above 65535).
    #[error("number out of range")]
    OutOfRange,
    /// The EPRT address family is neither 1 (IPv4) nor 2 (IPv6).
    #[error("unsupported address family")]
    UnsupportedFamily,
}

/// An RFC 2428 network protocol number: 1 for IPv4, 2 for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// IPv4 (`1`).
    V4,
    /// IPv6 (`2`).
    V6,
}

impl AddressFamily {
    /// The RFC 2428 number: 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            AddressFamily::V4 => 1,
            AddressFamily::V6 => 2,
        }
    }

    /// The family of an IP address.
    pub fn of(ip: IpAddr) -> AddressFamily {
        match ip {
            IpAddr::V4(_) => AddressFamily::V4,
            IpAddr::V6(_) => AddressFamily::V6,
        }
    }
}

/// Encodes an IPv4 socket address as `h1,h2,h3,h4,p1,p2`.
///
/// ```
/// use std::net::SocketAddrV4;
/// let a: SocketAddrV4 = "132.235.1.2:6275".parse().unwrap();
/// assert_eq!(ftp_proto::addr::encode_port(a), "132,235,1,2,24,131");
/// ```
pub fn encode_port(addr: SocketAddrV4) -> String {
    let [a, b, c, d] = addr.ip().octets();
    let port = addr.port();
    format!("{a},{b},{c},{d},{},{}", port >> 8, port & 0xff)
}

fn six_numbers(s: &[u8]) -> Result<SocketAddrV4, AddrError> {
    let mut n = [0u16; 6];
    let mut parts = s.split(|b| *b == b',');
    for slot in n.iter_mut() {
        let part = parts.next().ok_or(AddrError::Malformed)?.trim_ascii();
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return Err(AddrError::Malformed);
        }
        *slot = part.iter().fold(0, |acc, d| acc * 10 + u16::from(d - b'0'));
        if *slot > 255 {
            return Err(AddrError::OutOfRange);
        }
    }
    if parts.next().is_some() {
        return Err(AddrError::Malformed);
    }
    let ip = Ipv4Addr::new(n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8);
    Ok(SocketAddrV4::new(ip, (n[4] << 8) | n[5]))
}

/// Parses a `PORT` argument `h1,h2,h3,h4,p1,p2` (spaces around numbers are tolerated).
pub fn parse_port(arg: &[u8]) -> Result<SocketAddrV4, AddrError> {
    six_numbers(arg.trim_ascii())
}

/// The `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` reply for `addr`.
pub fn pasv_reply(addr: SocketAddrV4) -> Reply {
    Reply::new(
        ReplyCode::PASSIVE_MODE,
        format!("Entering Passive Mode ({}).", encode_port(addr)),
    )
}

/// Finds `h1,h2,h3,h4,p1,p2` in the text of a 227 reply: with or without parentheses, with
/// any text around it (RFC 1123 §4.1.2.6 tells clients to scan for it).
pub fn parse_pasv_reply(text: &[u8]) -> Result<SocketAddrV4, AddrError> {
    let mut last_err = AddrError::Malformed;
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_digit() {
            let end = text[i..]
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b',' || *b == b' '))
                .map_or(text.len(), |p| i + p);
            let candidate = text[i..end].trim_ascii_end();
            let candidate = candidate.strip_suffix(b",").unwrap_or(candidate);
            match six_numbers(candidate) {
                Ok(a) => return Ok(a),
                Err(e) => last_err = e,
            }
            i = end;
        } else {
            i += 1;
        }
    }
    Err(last_err)
}

/// Encodes `|af|addr|port|` for `EPRT`, with `|` as delimiter.
pub fn encode_eprt(addr: SocketAddr) -> String {
    let af = AddressFamily::of(addr.ip()).number();
    format!("|{af}|{}|{}|", addr.ip(), addr.port())
}

/// Parses an `EPRT` argument `<d>af<d>addr<d>port<d>`, where `<d>` is any byte from 33 to 126.
pub fn parse_eprt(arg: &[u8]) -> Result<SocketAddr, AddrError> {
    let arg = arg.trim_ascii();
    let (&d, rest) = arg.split_first().ok_or(AddrError::Malformed)?;
    if !(33..=126).contains(&d) {
        return Err(AddrError::Malformed);
    }
    let fields: Vec<&[u8]> = rest.split(|b| *b == d).collect();
    let [af, host, port, end] = fields.as_slice() else {
        return Err(AddrError::Malformed);
    };
    if !end.is_empty() {
        return Err(AddrError::Malformed);
    }
    let host = std::str::from_utf8(host).map_err(|_| AddrError::Malformed)?;
    let ip: IpAddr = match *af {
        b"1" => IpAddr::V4(host.parse().map_err(|_| AddrError::Malformed)?),
        b"2" => IpAddr::V6(host.parse().map_err(|_| AddrError::Malformed)?),
        _ if !af.is_empty() && af.iter().all(u8::is_ascii_digit) => {
            return Err(AddrError::UnsupportedFamily)
        }
        _ => return Err(AddrError::Malformed),
    };
    Ok(SocketAddr::new(ip, parse_port_number(port)?))
}

fn parse_port_number(s: &[u8]) -> Result<u16, AddrError> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return Err(AddrError::Malformed);
    }
    let n = s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    u16::try_from(n).map_err(|_| AddrError::OutOfRange)
}

/// The `229 Entering Extended Passive Mode (|||port|)` reply.
///
/// ```
/// let r = ftp_proto::addr::epsv_reply(6446);
/// assert_eq!(r.to_bytes(), b"229 Entering Extended Passive Mode (|||6446|)\r\n");
/// assert_eq!(ftp_proto::addr::parse_epsv_reply(&r.lines()[0]).unwrap(), 6446);
/// ```
pub fn epsv_reply(port: u16) -> Reply {
    Reply::new(
        ReplyCode::EXTENDED_PASSIVE_MODE,
        format!("Entering Extended Passive Mode (|||{port}|)"),
    )
}

/// Finds `(<d><d><d>port<d>)` in the text of a 229 reply and returns the port.
pub fn parse_epsv_reply(text: &[u8]) -> Result<u16, AddrError> {
    let open = text
        .iter()
        .position(|b| *b == b'(')
        .ok_or(AddrError::Malformed)?;
    let inner = &text[open + 1..];
    let close = inner
        .iter()
        .position(|b| *b == b')')
        .ok_or(AddrError::Malformed)?;
    let inner = &inner[..close];
    let (&d, rest) = inner.split_first().ok_or(AddrError::Malformed)?;
    if !(33..=126).contains(&d) {
        return Err(AddrError::Malformed);
    }
    match rest {
        [a, b, port @ .., last] if *a == d && *b == d && *last == d => parse_port_number(port),
        _ => Err(AddrError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_round_trip_and_limits() {
        let a: SocketAddrV4 = "10.0.0.1:65535".parse().unwrap();
        assert_eq!(parse_port(encode_port(a).as_bytes()), Ok(a));
        assert_eq!(parse_port(b"1,2,3,4,256,0"), Err(AddrError::OutOfRange));
        assert_eq!(parse_port(b"1,2,3,4,5"), Err(AddrError::Malformed));
        assert_eq!(parse_port(b"1,2,3,4,5,6,7"), Err(AddrError::Malformed));
        assert_eq!(parse_port(b"1,2,3,4,5,-6"), Err(AddrError::Malformed));
        assert_eq!(
            parse_port(b" 1, 2,3,4,0,21 "),
            Ok("1.2.3.4:21".parse().unwrap())
        );
    }

    #[test]
    fn pasv_reply_variants_seen_in_the_wild() {
        let want: SocketAddrV4 = "192.168.1.5:5001".parse().unwrap();
        for text in [
            &b"Entering Passive Mode (192,168,1,5,19,137)."[..],
            b"Entering Passive Mode 192,168,1,5,19,137",
            b"=192,168,1,5,19,137",
            b"Passive mode OK (192,168,1,5,19,137)",
            b"Entering Passive Mode (192, 168, 1, 5, 19, 137)",
        ] {
            assert_eq!(
                parse_pasv_reply(text),
                Ok(want),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        assert!(parse_pasv_reply(b"Entering Passive Mode").is_err());
        assert!(parse_pasv_reply(b"(1,2,3,4,999,1)").is_err());
    }

    #[test]
    fn pasv_reply_encodes_rfc959_form() {
        let r = pasv_reply("127.0.0.1:1025".parse().unwrap());
        assert_eq!(
            r.to_bytes(),
            b"227 Entering Passive Mode (127,0,0,1,4,1).\r\n"
        );
    }

    #[test]
    fn eprt_accepts_any_delimiter_and_both_families() {
        assert_eq!(
            parse_eprt(b"!1!10.0.0.1!21!"),
            Ok("10.0.0.1:21".parse().unwrap())
        );
        assert_eq!(
            parse_eprt(b"~2~fe80::1~21~"),
            Ok("[fe80::1]:21".parse().unwrap())
        );
        assert_eq!(parse_eprt(b"|1|::1|21|"), Err(AddrError::Malformed));
        assert_eq!(parse_eprt(b"|3|x|21|"), Err(AddrError::UnsupportedFamily));
        assert_eq!(parse_eprt(b"|1|1.2.3.4|70000|"), Err(AddrError::OutOfRange));
        assert_eq!(parse_eprt(b" 1 1.2.3.4 21 "), Err(AddrError::Malformed));
        assert_eq!(parse_eprt(b"|1|1.2.3.4|21"), Err(AddrError::Malformed));
    }

    #[test]
    fn epsv_reply_parses_rfc2428_example_and_other_delimiters() {
        assert_eq!(
            parse_epsv_reply(b"Entering Extended Passive Mode (|||6446|)"),
            Ok(6446)
        );
        assert_eq!(parse_epsv_reply(b"ok (!!!21!)"), Ok(21));
        assert!(parse_epsv_reply(b"(|||70000|)").is_err());
        assert!(parse_epsv_reply(b"(||6446|)").is_err());
        assert!(parse_epsv_reply(b"no parens").is_err());
    }
}
