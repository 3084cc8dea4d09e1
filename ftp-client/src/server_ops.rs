//! Work the server does on its own files: digests (`HASH`, draft-bryan-ftpext-hash-02, with
//! the legacy `XSHA256`/`XSHA512`/`XSHA1`/`XMD5`/`XCRC` as fallback) and copies (`SITE
//! CPFR`/`CPTO` as ProFTPD's mod_copy spells them, or `SITE COPY`).

use ftp_proto::hash::{parse_hex_digest, HashAlgorithm, HashReply};
use ftp_proto::{Arg, Command, Reply, ReplyCode};

use crate::client::{arg, Client};
use crate::error::{Error, Result};

/// True for the replies of a server that does not know a command (`500`, `502`, `504`).
fn unknown(r: &Reply) -> bool {
    matches!(r.code().as_u16(), 500 | 502 | 504)
}

fn refused(command: &Command, reply: Reply) -> Error {
    Error::Reply {
        command: command.to_string(),
        reply,
    }
}

impl Client {
    /// The server's digest of the whole file `path` with `alg`, in lower-case hex: `HASH`
    /// (after `OPTS HASH` selects `alg`) where `FEAT` lists it with `alg`, else the legacy
    /// command of `alg`. `Ok(None)` when the server knows neither; an error when it refuses
    /// for the file (`550` missing, `556` too large, `450` busy).
    ///
    /// ```no_run
    /// # async fn f(c: &mut ftp_client::Client) -> ftp_client::Result<()> {
    /// use ftp_proto::hash::HashAlgorithm;
    /// match c.hash("pub/file.iso", HashAlgorithm::Sha256).await? {
    ///     Some(hex) => println!("{hex}  file.iso"),
    ///     None => eprintln!("the server cannot hash"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn hash(
        &mut self,
        path: impl AsRef<[u8]>,
        alg: HashAlgorithm,
    ) -> Result<Option<String>> {
        let path = arg(path)?;
        let offers = self.feat().await?.params("HASH").is_some_and(|list| {
            list.split(';')
                .any(|n| HashAlgorithm::from_name(n.trim_end_matches('*')) == Some(alg))
        });
        if offers {
            if let Some(hex) = self.hash_command(&path, alg).await? {
                return Ok(Some(hex));
            }
        }
        self.legacy_hash(&path, alg).await
    }

    /// `OPTS HASH alg` then `HASH path`; `Ok(None)` if the server turns out not to know them.
    async fn hash_command(&mut self, path: &Arg, alg: HashAlgorithm) -> Result<Option<String>> {
        let opts = Command::Opts {
            name: "HASH".into(),
            value: Some(alg.name().into()),
        };
        let r = self.command(&opts).await?;
        if !r.code().is_completion() {
            return if unknown(&r) {
                Ok(None)
            } else {
                Err(refused(&opts, r))
            };
        }
        let cmd = Command::Hash(path.clone());
        let r = self.command(&cmd).await?;
        if unknown(&r) {
            return Ok(None);
        }
        if r.code() != ReplyCode::FILE_STATUS {
            return Err(refused(&cmd, r));
        }
        let last = r
            .lines()
            .last()
            .map(|l| String::from_utf8_lossy(l).into_owned());
        match last.as_deref().and_then(HashReply::parse) {
            Some(h) if h.algorithm == alg => Ok(Some(h.hex)),
            _ => Err(refused(&cmd, r)),
        }
    }

    /// The legacy command of `alg` (`XSHA256 path` …); the digest is the reply's last line
    /// (ProFTPD sends `250-Computing…` first, and upper-case hex).
    async fn legacy_hash(&mut self, path: &Arg, alg: HashAlgorithm) -> Result<Option<String>> {
        let cmd = Command::LegacyHash {
            algorithm: alg,
            path: path.clone(),
            range: None,
        };
        let r = self.command(&cmd).await?;
        if unknown(&r) {
            return Ok(None);
        }
        if !r.code().is_completion() {
            return Err(refused(&cmd, r));
        }
        let last = r
            .lines()
            .last()
            .map(|l| String::from_utf8_lossy(l).into_owned());
        let hex = last
            .as_deref()
            .and_then(|l| l.split_whitespace().find_map(|w| parse_hex_digest(w, alg)));
        hex.map(Some).ok_or_else(|| refused(&cmd, r))
    }

    /// Copies `from` to `to` on the server, without the data crossing the network: `SITE
    /// CPFR` + `SITE CPTO`, else `SITE COPY`. `Ok(false)` when the server has neither (copy
    /// the data through the client then); an error when it refuses this copy.
    ///
    /// ```no_run
    /// # async fn f(c: &mut ftp_client::Client) -> ftp_client::Result<()> {
    /// if !c.copy_on_server("a.txt", "backup/a.txt").await? {
    ///     eprintln!("no server-side copy here");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn copy_on_server(
        &mut self,
        from: impl AsRef<[u8]>,
        to: impl AsRef<[u8]>,
    ) -> Result<bool> {
        let (from, to) = (from.as_ref(), to.as_ref());
        let cpfr = Command::Site(arg([&b"CPFR "[..], from].concat())?);
        let r = self.command(&cpfr).await?;
        if r.code() == ReplyCode::PENDING {
            let cpto = Command::Site(arg([&b"CPTO "[..], to].concat())?);
            let r = self.command(&cpto).await?;
            return if r.code().is_completion() {
                Ok(true)
            } else {
                Err(refused(&cpto, r))
            };
        }
        if !unknown(&r) {
            return Err(refused(&cpfr, r));
        }
        let copy = Command::Site(arg(
            [&b"COPY "[..], &quoted(from), b" ", &quoted(to)].concat()
        )?);
        let r = self.command(&copy).await?;
        match r {
            r if r.code().is_completion() => Ok(true),
            r if unknown(&r) => Ok(false),
            r => Err(refused(&copy, r)),
        }
    }
}

/// A name for `SITE COPY`: as it is, or in double quotes (quotes doubled) when it holds a
/// space or starts with a quote.
fn quoted(name: &[u8]) -> Vec<u8> {
    if !name.contains(&b' ') && name.first() != Some(&b'"') {
        return name.to_vec();
    }
    let mut q = vec![b'"'];
    for &b in name {
        if b == b'"' {
            q.push(b'"');
        }
        q.push(b);
    }
    q.push(b'"');
    q
}

/// The digest of everything `reader` yields, on the calling thread (a local file's, to
/// compare with [`Client::hash`]).
///
/// ```
/// use ftp_proto::hash::HashAlgorithm;
/// let hex = ftp_client::digest_of(&b"abc"[..], HashAlgorithm::Md5).unwrap();
/// assert_eq!(hex, "900150983cd24fb0d6963f7d28e17f72");
/// ```
pub fn digest_of(mut reader: impl std::io::Read, alg: HashAlgorithm) -> std::io::Result<String> {
    let mut h = ftp_proto::hash::Hasher::new(alg);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(h.finish_hex()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_with_spaces_or_quotes_are_quoted() {
        assert_eq!(quoted(b"a.txt"), b"a.txt");
        assert_eq!(quoted(b"a b"), b"\"a b\"");
        assert_eq!(quoted(b"\"x y\""), b"\"\"\"x y\"\"\"");
    }
}
