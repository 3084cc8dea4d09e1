//! Copies on the server: `SITE CPFR` then `SITE CPTO` (ProFTPD's mod_copy spelling; `CPTO`
//! must come right after `CPFR`, like `RNTO` after `RNFR`), and `SITE COPY source destination`.
//!
//! Safe by construction where mod_copy was not (CVE-2015-3306): `SITE` is refused before
//! login like every command outside `allowed_before_login`, both paths go through `vpath`
//! (outside the root reads as missing), the source needs `read`, the destination `write`.
//! The copy itself is [`Storage::copy`](crate::storage::Storage::copy), atomic like an upload
//! (an existing destination stays whole until the copy is complete), run as an
//! [`Action::Job`] so `ABOR`, `STAT` and `NOOP` are answered while it runs.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use ftp_proto::{ReplyCode, Verb};

use super::pending::Source;
use super::site::usage;
use super::{allow, reply, Action, Context, Handled, Job, Session};
use crate::auth::Account;
use crate::storage::{FileKind, Metadata};
use crate::vpath::VPath;

impl Session {
    /// `SITE CPFR path`: an existing file to copy with the next command, `SITE CPTO`.
    pub(super) async fn site_cpfr(&mut self, arg: &[u8], cx: &Context) -> Handled {
        if arg.is_empty() {
            return Err(usage("CPFR"));
        }
        let (p, _) = self.copy_source(arg, cx).await?;
        self.pending.set_source(Source::Copy(p));
        Ok(reply(
            ReplyCode::PENDING,
            "File or directory exists, ready for destination name",
        ))
    }

    /// `SITE CPTO path`, right after `SITE CPFR`.
    pub(super) async fn site_cpto(&self, arg: &[u8], cx: &Context) -> Handled {
        let Some(Source::Copy(from)) = &cx.source else {
            return Err(reply(ReplyCode::BAD_SEQUENCE, "SITE CPFR required first."));
        };
        if arg.is_empty() {
            return Err(usage("CPTO"));
        }
        let acct = cx.account()?;
        // The source is checked again: it may have changed since CPFR.
        let m = self.source_metadata(acct, from).await?;
        self.copy_job(acct, from.clone(), m, arg)
    }

    /// `SITE COPY source destination` (a name with spaces in double quotes).
    pub(super) async fn site_copy(&self, arg: &[u8], cx: &Context) -> Handled {
        let Some((src, dst)) = two_names(arg) else {
            return Err(usage("COPY"));
        };
        let acct = cx.account()?;
        let (from, m) = self.copy_source(&src, cx).await?;
        self.copy_job(acct, from, m, &dst)
    }

    /// The source of a copy: a readable regular file.
    async fn copy_source(&self, arg: &[u8], cx: &Context) -> Result<(VPath, Metadata), Action> {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        let m = self.source_metadata(acct, &p).await?;
        Ok((p, m))
    }

    async fn source_metadata(&self, acct: &Account, p: &VPath) -> Result<Metadata, Action> {
        allow(acct.permissions.read)?;
        let m = acct.storage.metadata(p).await?;
        if m.kind != FileKind::File {
            return Err(reply(
                ReplyCode::FILE_NOT_AVAILABLE,
                "Only regular files can be copied.",
            ));
        }
        Ok(m)
    }

    /// Checks the destination `arg`, then starts copying `from` (with metadata `m`) there.
    fn copy_job(&self, acct: &Account, from: VPath, m: Metadata, arg: &[u8]) -> Handled {
        allow(acct.permissions.write)?;
        let to = self.path(arg)?;
        if to.is_root() {
            return Err(reply(
                ReplyCode::FILE_NAME_NOT_ALLOWED,
                "Cannot copy there.",
            ));
        }
        self.charge_copy(acct, &to, m.len)?;
        let storage = acct.storage.clone();
        let progress = Arc::new(AtomicU64::new(0));
        let counted = progress.clone();
        let (f2, t2) = (from, to.clone());
        let work = async move {
            match storage.copy(&f2, &t2).await {
                Ok(n) => {
                    counted.store(n, std::sync::atomic::Ordering::Relaxed);
                    ftp_proto::Reply::new(ReplyCode::FILE_ACTION_OK, "Copy successful")
                }
                Err(e) => super::storage_error_reply(&e.creating()),
            }
        };
        Ok(Action::Job(Job {
            verb: Verb::Site,
            path: to,
            progress,
            work: Box::pin(work),
        }))
    }

    /// The one place where a copy's size counts against the user's storage: `bytes` more
    /// under `to`. Quotas check (and charge) here; without them every copy fits.
    fn charge_copy(&self, acct: &Account, to: &VPath, bytes: u64) -> Result<(), Action> {
        let _ = (acct, to, bytes);
        Ok(())
    }
}

/// Two names: each a word, or in double quotes when it holds spaces (`""` inside quotes is a
/// quote).
fn two_names(arg: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (a, rest) = one_name(arg)?;
    let (b, rest) = one_name(rest)?;
    rest.is_empty().then_some((a, b))
}

fn one_name(s: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let s = s.strip_prefix(b" ").unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    if s[0] != b'"' {
        let end = s.iter().position(|&b| b == b' ').unwrap_or(s.len());
        return Some((s[..end].to_vec(), &s[end..]));
    }
    let mut name = Vec::new();
    let mut i = 1;
    while i < s.len() {
        match (s[i], s.get(i + 1)) {
            (b'"', Some(b'"')) => {
                name.push(b'"');
                i += 2;
            }
            (b'"', _) => return (!name.is_empty()).then_some((name, &s[i + 1..])),
            (b, _) => {
                name.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_are_words_or_quoted() {
        let v = |s: &str| s.as_bytes().to_vec();
        assert_eq!(two_names(b"a b"), Some((v("a"), v("b"))));
        assert_eq!(
            two_names(b"\"a b\" \"c \"\"d\"\"\""),
            Some((v("a b"), v("c \"d\"")))
        );
        assert_eq!(two_names(b"a"), None);
        assert_eq!(two_names(b"a b c"), None);
        assert_eq!(two_names(b"\"a b"), None);
    }
}
