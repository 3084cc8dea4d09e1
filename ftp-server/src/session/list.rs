//! Directory listings over the data connection: `LIST`, `NLST`, `MLSD` (and the listing
//! bytes `STAT path` sends on the control connection).

use std::sync::Arc;
use std::time::SystemTime;

use ftp_proto::{Reply, ReplyCode, Verb};

use super::{allow, reply, Context, Handled, Session, TransferData};
use crate::auth::Account;
use crate::listing;
use crate::storage::{DirEntry, EntryFormatter, StorageError};
use crate::vpath::VPath;

impl Session {
    /// `LIST [-a] [path]`: `ls -l` lines.
    pub(super) async fn list(&self, arg: Option<&[u8]>, cx: &Context) -> Handled {
        let acct = cx.account()?;
        let (all, p) = listing::split_list_args(arg.unwrap_or(b""));
        let p = self.path_or_cwd(p)?;
        allow(acct.permissions_at(&p).list)?;
        self.listing(Verb::List, p, all, acct, None).await
    }

    /// `NLST [-a] [path]`: names, prefixed with the path as given.
    pub(super) async fn nlst(&self, arg: Option<&[u8]>, cx: &Context) -> Handled {
        let acct = cx.account()?;
        let (all, given) = listing::split_list_args(arg.unwrap_or(b""));
        let p = self.path_or_cwd(given)?;
        allow(acct.permissions_at(&p).list)?;
        self.listing(Verb::Nlst, p, all, acct, given).await
    }

    /// `MLSD [dir]` (RFC 3659 §7): a directory's entries as facts.
    pub(super) async fn mlsd(&self, arg: Option<&[u8]>, cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path_or_cwd(arg)?;
        allow(acct.permissions_at(&p).list)?;
        self.listing(Verb::Mlsd, p, true, acct, None).await
    }

    /// The listing of `p` as a transfer (`550` for `MLSD` of a file).
    async fn listing(
        &self,
        verb: Verb,
        p: VPath,
        all: bool,
        acct: &Account,
        given: Option<&[u8]>,
    ) -> Handled {
        let bytes = match self.list_bytes(verb, &p, all, acct, given).await {
            Ok((_, bytes)) => bytes,
            Err(StorageError::NotADirectory) if verb == Verb::Mlsd => {
                return Err(reply(ReplyCode::FILE_NOT_AVAILABLE, "Not a directory."));
            }
            Err(e) => return Err(e.into()),
        };
        let mut text = b"Here comes the directory listing for ".to_vec();
        text.extend_from_slice(p.as_bytes());
        let opening = Reply::new(ReplyCode::FILE_STATUS_OK, text);
        Ok(self.transfer(verb, p, TransferData::SendBytes(bytes), Some(opening)))
    }

    /// Listing bytes for `p`: `(is_dir, bytes)`. `NLST` names are prefixed with the path the
    /// client gave (`NLST dir` lists `dir/a`, `dir/b`), as classic servers do.
    pub(super) async fn list_bytes(
        &self,
        verb: Verb,
        p: &VPath,
        all: bool,
        acct: &Account,
        given: Option<&[u8]>,
    ) -> Result<(bool, Vec<u8>), StorageError> {
        // `LIST *.txt` / `NLST dir/*.txt`: a name that does not exist but is a glob pattern
        // lists the matching entries of its directory.
        let (dir, pattern, m) = match acct.storage.metadata(p).await {
            Ok(m) => (p.clone(), None, m),
            Err(StorageError::NotFound) if verb != Verb::Mlsd => {
                let pattern = std::str::from_utf8(p.file_name())
                    .ok()
                    .filter(|n| n.contains(['*', '?', '[']))
                    .and_then(|n| glob::Pattern::new(n).ok())
                    .ok_or(StorageError::NotFound)?;
                let parent = p.parent();
                let m = acct.storage.metadata(&parent).await?;
                if !m.is_dir() {
                    return Err(StorageError::NotFound);
                }
                (parent, Some(pattern), m)
            }
            Err(e) => return Err(e),
        };
        let p = &dir;
        let now = SystemTime::now();
        let mut out = Vec::new();
        if !m.is_dir() {
            match verb {
                Verb::Nlst => {
                    out.extend_from_slice(given.unwrap_or(p.file_name()));
                    out.extend_from_slice(b"\r\n");
                }
                Verb::Mlsd => return Err(StorageError::NotADirectory),
                _ => listing::list_line(&m, p.file_name(), now, &mut out),
            }
            return Ok((false, out));
        }
        let prefix: Vec<u8> = match given {
            Some(g) if pattern.is_some() => match g.iter().rposition(|&b| b == b'/') {
                Some(i) => g[..=i].to_vec(),
                None => Vec::new(),
            },
            Some(g) if g.ends_with(b"/") => g.to_vec(),
            Some(g) => [g, b"/"].concat(),
            None => Vec::new(),
        };
        let (mlst, perms) = (self.mlst, acct.permissions_at(p));
        let format: EntryFormatter = Arc::new(move |e: &DirEntry, out: &mut Vec<u8>| {
            if !all && e.name.first() == Some(&b'.') {
                return;
            }
            if let Some(pat) = &pattern {
                match std::str::from_utf8(&e.name) {
                    Ok(n) if pat.matches(n) => {}
                    _ => return,
                }
            }
            // A name with CR or LF would break the line framing of a listing, and no
            // command could name it anyway.
            if e.name.iter().any(|&b| b == b'\r' || b == b'\n') {
                return;
            }
            match verb {
                Verb::Nlst => {
                    out.extend_from_slice(&prefix);
                    out.extend_from_slice(&e.name);
                    out.extend_from_slice(b"\r\n");
                }
                Verb::Mlsd => listing::mlsd_line(&e.metadata, &e.name, &perms, mlst, out),
                _ => listing::list_line(&e.metadata, &e.name, now, out),
            }
        });
        let max = self.cfg.max_list_entries;
        Ok((true, acct.storage.list_formatted(p, format, max).await?))
    }
}
