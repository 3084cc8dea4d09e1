//! [`IpNet`]: an address block in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one
//! address), for `allowed_ips`, `allow_ips` and `deny_ips`.

use std::net::IpAddr;
use std::str::FromStr;

/// An address block: the addresses whose first `prefix` bits equal `addr`'s. IPv4-mapped
/// IPv6 addresses (`::ffff:10.0.0.1`) are matched as the IPv4 addresses they are.
///
/// ```
/// use ftp_server::access::IpNet;
/// let lan: IpNet = "192.168.0.0/16".parse().unwrap();
/// assert!(lan.contains("192.168.4.2".parse().unwrap()));
/// assert!(lan.contains("::ffff:192.168.4.2".parse().unwrap()));
/// assert!(!lan.contains("10.0.0.1".parse().unwrap()));
/// let one: IpNet = "127.0.0.3".parse().unwrap();
/// assert_eq!(one.to_string(), "127.0.0.3/32");
/// assert!("10.0.0.0/33".parse::<IpNet>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a text is not an address block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR block (like 10.0.0.0/8 or 2001:db8::/32)")]
pub struct IpNetError(String);

impl IpNet {
    /// True when `ip` is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }

    /// True when any block of `nets` contains `ip`.
    pub fn any_contains(nets: &[IpNet], ip: IpAddr) -> bool {
        nets.iter().any(|n| n.contains(ip))
    }
}

/// The first `prefix` bits of a `width`-bit number.
fn masked(value: u128, width: u8, prefix: u8) -> u128 {
    match width - prefix.min(width) {
        0 => value,
        n if n >= 128 => 0,
        n => value >> n,
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<IpNet, IpNetError> {
        let bad = || IpNetError(s.to_string());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr = addr.parse::<IpAddr>().map_err(|_| bad())?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= width)
                .ok_or_else(bad)?,
            None => width,
        };
        // `::ffff:10.0.0.0/104` is `10.0.0.0/8`.
        match addr.to_canonical() {
            v4 @ IpAddr::V4(_) if addr.is_ipv6() && prefix >= 96 => Ok(IpNet {
                addr: v4,
                prefix: prefix - 96,
            }),
            _ => Ok(IpNet { addr, prefix }),
        }
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl<'de> serde::Deserialize<'de> for IpNet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_match_their_addresses_only() {
        assert!(net("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
        assert!(!net("0.0.0.0/0").contains("::1".parse().unwrap()));
        assert!(net("::/0").contains("::1".parse().unwrap()));
        assert!(net("127.0.0.0/8").contains("127.0.0.3".parse().unwrap()));
        assert!(!net("127.0.0.3/32").contains("127.0.0.4".parse().unwrap()));
        assert!(net("2001:db8::/32").contains("2001:db8:1::5".parse().unwrap()));
        assert!(!net("2001:db8::/32").contains("2001:db9::5".parse().unwrap()));
        assert!(net("::ffff:10.0.0.0/104").contains("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn nonsense_is_refused() {
        for s in [
            "",
            "10.0.0.0/",
            "10.0.0/8",
            "::1/129",
            "host/8",
            "10.0.0.0/-1",
        ] {
            assert!(s.parse::<IpNet>().is_err(), "{s}");
        }
    }
}
