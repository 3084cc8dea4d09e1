//! `ftp://[user[:pass]@]host[:port]/path` URLs.

use crate::error::Error;

/// A parsed FTP URL.
#[derive(Clone, PartialEq, Eq)]
pub struct FtpUrl {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (21 by default).
    pub port: u16,
    /// User name from the URL, percent-decoded.
    pub user: Option<String>,
    /// Password from the URL, percent-decoded.
    pub password: Option<String>,
    /// The path: relative to the login directory (`ftp://h/a` → `a`), absolute with a
    /// doubled slash or `%2F` (`ftp://h//a` → `/a`). Empty for the login directory.
    pub path: Vec<u8>,
    /// True if the URL's path ends with `/`.
    pub dir_hint: bool,
    /// `ftps://`: explicit FTPS (`AUTH TLS`) is required.
    pub tls: bool,
}

impl std::fmt::Debug for FtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .field("path", &String::from_utf8_lossy(&self.path))
            .finish()
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// True if `s` looks like an FTP URL (`ftp://` or `ftps://`).
pub fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("ftp://") || l.starts_with("ftps://")
}

impl FtpUrl {
    /// Parses an `ftp://` URL.
    ///
    /// ```
    /// use ftp_client::cli::url::FtpUrl;
    /// let u = FtpUrl::parse("ftp://bob:p%40ss@[::1]:2121/dir/a%20b.txt").unwrap();
    /// assert_eq!((u.host.as_str(), u.port), ("::1", 2121));
    /// assert_eq!(u.user.as_deref(), Some("bob"));
    /// assert_eq!(u.password.as_deref(), Some("p@ss"));
    /// assert_eq!(u.path, b"dir/a b.txt");
    /// ```
    pub fn parse(s: &str) -> Result<FtpUrl, Error> {
        let u = url::Url::parse(s).map_err(|e| Error::Usage(format!("invalid URL {s:?}: {e}")))?;
        let tls = match u.scheme() {
            "ftp" => false,
            "ftps" => true,
            other => return Err(Error::Usage(format!("unsupported URL scheme {other:?}"))),
        };
        let host = match u.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Domain(d)) => d.to_string(),
            None => return Err(Error::Usage(format!("no host in URL {s:?}"))),
        };
        let user = (!u.username().is_empty())
            .then(|| String::from_utf8_lossy(&percent_decode(u.username())).into_owned());
        let password = u
            .password()
            .map(|p| String::from_utf8_lossy(&percent_decode(p)).into_owned());
        let raw = u.path();
        let dir_hint = raw.ends_with('/');
        let stripped = raw.strip_prefix('/').unwrap_or(raw);
        let mut path = percent_decode(stripped);
        if path.len() > 1 && path.ends_with(b"/") {
            path.pop();
        }
        Ok(FtpUrl {
            host,
            port: u.port().unwrap_or(21),
            user,
            password,
            path,
            dir_hint,
            tls,
        })
    }

    /// The last path component (empty for the login directory).
    pub fn file_name(&self) -> &[u8] {
        match self.path.iter().rposition(|b| *b == b'/') {
            Some(i) => &self.path[i + 1..],
            None => &self.path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_relative_paths() {
        let u = FtpUrl::parse("ftp://example.org").unwrap();
        assert_eq!((u.port, u.user.clone(), u.path.clone()), (21, None, vec![]));
        let u = FtpUrl::parse("ftp://example.org/pub/").unwrap();
        assert_eq!(u.path, b"pub");
        assert!(u.dir_hint);
        let u = FtpUrl::parse("ftp://example.org//etc/motd").unwrap();
        assert_eq!(u.path, b"/etc/motd");
        assert_eq!(u.file_name(), b"motd");
        let u = FtpUrl::parse("ftp://example.org/%2Fetc").unwrap();
        assert_eq!(u.path, b"/etc");
    }

    #[test]
    fn ipv6_and_credentials() {
        let u = FtpUrl::parse("ftp://u@[fe80::1]/x").unwrap();
        assert_eq!(u.host, "fe80::1");
        assert_eq!(u.user.as_deref(), Some("u"));
        assert_eq!(u.password, None);
        assert!(!format!("{:?}", FtpUrl::parse("ftp://a:secret@h/").unwrap()).contains("secret"));
    }

    #[test]
    fn non_utf8_percent_escapes_survive() {
        let u = FtpUrl::parse("ftp://h/caf%E9").unwrap();
        assert_eq!(u.path, b"caf\xe9");
    }

    #[test]
    fn rejects_other_schemes() {
        assert!(matches!(FtpUrl::parse("http://h/"), Err(Error::Usage(_))));
        assert!(FtpUrl::parse("ftps://h/").unwrap().tls);
        assert!(!FtpUrl::parse("ftp://h/").unwrap().tls);
        assert!(FtpUrl::parse("not a url").is_err());
    }
}
