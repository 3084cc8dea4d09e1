//! `ftp://[user[:pass]@]host[:port]/path` URLs, and `ftps://` (implicit FTPS) and
//! `ftpes://` (explicit FTPS) as curl, lftp, FileZilla and WinSCP spell them.

use crate::error::Error;
use crate::tls::TlsMode;

/// The URL schemes understood: name, FTPS mode, default port. `ftp://` leaves TLS to the
/// command line (`--tls`, `--implicit-tls`).
const SCHEMES: [(&str, TlsMode, u16); 3] = [
    ("ftp", TlsMode::Off, 21),
    ("ftps", TlsMode::Implicit, 990),
    ("ftpes", TlsMode::Explicit, 21),
];

/// A parsed FTP URL.
#[derive(Clone, PartialEq, Eq)]
pub struct FtpUrl {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (990 by default for `ftps://`, else 21).
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
    /// The FTPS the scheme asks for: `ftps://` implicit, `ftpes://` explicit (`AUTH TLS`),
    /// `ftp://` [`TlsMode::Off`] (the command line may still ask for TLS).
    pub tls: TlsMode,
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

/// `s` without the password, if it is a URL with one (for the shell's history and for
/// messages); otherwise `s` unchanged.
///
/// ```
/// use ftp_client::cli::url::without_password;
/// assert_eq!(without_password("ftp://u:p@h/dir/"), "ftp://u@h/dir/");
/// assert_eq!(without_password("ftp://h/"), "ftp://h/");
/// ```
pub fn without_password(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => s.to_string(),
    }
}

/// A suggestion for a string that is not a valid URL: a host without `ftp://`, or an IPv6
/// address without brackets.
fn hint(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return format!(" (did you mean ftp://{s}/ ?)");
    };
    let authority = rest.split('/').next().unwrap_or("");
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    if host.starts_with('[') || host.matches(':').count() < 2 {
        return String::new();
    }
    let path = &rest[authority.len()..];
    let bracketed = match host.rsplit_once(':') {
        Some((addr, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            format!("[{addr}]:{port}")
        }
        _ => format!("[{host}]"),
    };
    format!(" (IPv6 addresses go in brackets: {scheme}://{userinfo}{bracketed}{path})")
}

/// True if `s` looks like an FTP URL (`ftp://`, `ftps://` or `ftpes://`).
///
/// ```
/// use ftp_client::cli::url::is_url;
/// assert!(is_url("FTPES://host/") && is_url("ftps://h") && !is_url("host:21"));
/// ```
pub fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    SCHEMES
        .iter()
        .any(|(name, ..)| l.strip_prefix(name).is_some_and(|r| r.starts_with("://")))
}

/// Parses `s` and reads its scheme: the URL as an `ftp://` URL (so that hosts and paths of
/// every scheme are read alike: the `url` crate treats only `ftp` as a special scheme), the
/// FTPS mode, and the port (given, or the scheme's default).
fn parse_scheme(s: &str) -> Result<(url::Url, TlsMode, u16), Error> {
    let parse = |u: &str| {
        url::Url::parse(u).map_err(|e| Error::Usage(format!("invalid URL {s:?}: {e}{}", hint(s))))
    };
    let real = parse(s)?;
    let Some(&(name, tls, default_port)) = SCHEMES.iter().find(|(n, ..)| *n == real.scheme())
    else {
        return Err(Error::Usage(format!(
            "unsupported URL scheme {:?} (ftp://, ftps:// for implicit FTPS or ftpes:// for \
             explicit FTPS){}",
            real.scheme(),
            hint(s)
        )));
    };
    // `ftp` URLs drop a port of 21; the others keep any port given.
    let port = real.port().unwrap_or(default_port);
    if name == "ftp" {
        return Ok((real, tls, port));
    }
    let rest = s.trim_start().get(name.len()..).unwrap_or_default();
    Ok((parse(&format!("ftp{rest}"))?, tls, port))
}

impl FtpUrl {
    /// Parses an `ftp://`, `ftps://` (implicit FTPS, port 990 by default) or `ftpes://`
    /// (explicit FTPS) URL.
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
        let (u, tls, port) = parse_scheme(s)?;
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
            port,
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
    fn invalid_urls_get_a_suggestion() {
        let msg = |s: &str| FtpUrl::parse(s).unwrap_err().to_string();
        assert!(msg("127.0.0.1").contains("did you mean ftp://127.0.0.1/ ?"));
        assert!(msg("host:2121").contains("did you mean ftp://host:2121/ ?"));
        let m = msg("ftp://::1:2556/x");
        assert!(m.contains("brackets: ftp://[::1]:2556/x"), "{m}");
    }

    #[test]
    fn rejects_other_schemes() {
        assert!(matches!(FtpUrl::parse("http://h/"), Err(Error::Usage(_))));
        assert!(FtpUrl::parse("sftp://h/").is_err());
        assert!(FtpUrl::parse("not a url").is_err());
    }

    #[test]
    fn ftps_is_implicit_on_990_and_ftpes_explicit_on_21() {
        let tls_port = |s: &str| FtpUrl::parse(s).map(|u| (u.tls, u.port)).unwrap();
        assert_eq!(tls_port("ftp://h/"), (TlsMode::Off, 21));
        assert_eq!(tls_port("ftps://h/"), (TlsMode::Implicit, 990));
        assert_eq!(tls_port("FTPS://h"), (TlsMode::Implicit, 990));
        assert_eq!(tls_port("ftpes://h/"), (TlsMode::Explicit, 21));
        assert_eq!(tls_port("ftps://h:2990/"), (TlsMode::Implicit, 2990));
        assert_eq!(tls_port("ftps://h:21/"), (TlsMode::Implicit, 21));
        assert_eq!(tls_port("ftpes://h:990/"), (TlsMode::Explicit, 990));
    }

    #[test]
    fn ftps_and_ftpes_urls_parse_like_ftp_urls() {
        for scheme in ["ftps", "ftpes"] {
            let u =
                FtpUrl::parse(&format!("{scheme}://bob:p%40ss@[::1]:2121//etc/a%20b/")).unwrap();
            assert_eq!((u.host.as_str(), u.port), ("::1", 2121));
            assert_eq!(u.user.as_deref(), Some("bob"));
            assert_eq!(u.password.as_deref(), Some("p@ss"));
            assert_eq!((u.path.as_slice(), u.dir_hint), (&b"/etc/a b"[..], true));
            let u = FtpUrl::parse(&format!("{scheme}://Example.ORG")).unwrap();
            assert_eq!(
                (u.host.as_str(), u.path.as_slice()),
                ("example.org", &b""[..])
            );
            let u = FtpUrl::parse(&format!("{scheme}://127.0.0.1/x")).unwrap();
            assert_eq!(
                (u.host.as_str(), u.path.as_slice()),
                ("127.0.0.1", &b"x"[..])
            );
        }
    }
}
