//! Quotas and bandwidth in the session: `ALLO`, `AVBL`, `SITE QUOTA`, the usage lines of
//! `STAT`, and the hooks the other families call: [`Session::open_upload`] (an upload
//! counted against the quota), [`Session::meter`] (a transfer's bandwidth meter) and
//! [`counted_file`] (what a delete or an overwriting rename gives back). The rules live in
//! [`crate::policy`]; a user without limits skips all of it.

use std::sync::Arc;

use ftp_proto::{Reply, ReplyCode};

use super::{reply, Action, Context, Handled, Session, TransferData};
use crate::auth::Account;
use crate::policy::quota::{Planned, Quota, QuotaUpload};
use crate::policy::rate::Meter;
use crate::storage::{StorageError, Upload, WriteMode};
use crate::vpath::VPath;

/// A file a command is about to remove (`DELE`, `RNTO` over an existing file), as the quota
/// counts it; [`Freed::settle`] once it is gone gives its bytes and its file back.
pub(super) struct Freed(Option<(Arc<Quota>, u64)>);

impl Freed {
    /// Nothing to give back.
    pub(super) fn none() -> Freed {
        Freed(None)
    }

    /// The file is gone.
    pub(super) fn settle(self) {
        if let Some((q, len)) = self.0 {
            q.charge(-i64::try_from(len).unwrap_or(i64::MAX), -1);
        }
    }
}

/// What removing `p` gives back to the account's quota: nothing without a quota, or when `p`
/// is no file.
pub(super) async fn counted_file(acct: &Account, p: &VPath) -> Freed {
    let Some(q) = &acct.policy.quota else {
        return Freed(None);
    };
    match acct.storage.metadata(p).await {
        Ok(m) if !m.is_dir() => Freed(Some((q.clone(), m.len))),
        _ => Freed(None),
    }
}

impl Session {
    /// Opens `p` for an upload in `mode`, counted against the account's quota when it has
    /// one: refused (`552`) before anything is written when the announced size (`allo`) or,
    /// for `APPE`/`REST`, any byte more, or one more file, would cross it.
    pub(super) async fn open_upload(
        &self,
        acct: &Account,
        p: &VPath,
        mode: WriteMode,
        allo: Option<u64>,
    ) -> Result<Box<dyn Upload>, StorageError> {
        let Some(q) = &acct.policy.quota else {
            return acct.storage.open_write(p, mode).await;
        };
        let old = match acct.storage.metadata(p).await {
            Ok(m) if !m.is_dir() => Some(m.len),
            Ok(_) | Err(StorageError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let in_place = matches!(mode, WriteMode::Append | WriteMode::At(_));
        let planned = Planned {
            credit: match mode {
                WriteMode::Replace => old.unwrap_or(0),
                WriteMode::At(off) => old.unwrap_or(0).saturating_sub(off),
                WriteMode::Append | WriteMode::CreateNew => 0,
            },
            new_file: old.is_none(),
            in_place,
            size: allo.unwrap_or(u64::from(in_place)),
        };
        let reservation = q.reserve(&*acct.storage, planned).await?;
        match acct.storage.open_write(p, mode).await {
            Ok(up) => Ok(Box::new(QuotaUpload::new(up, reservation))),
            Err(e) => {
                reservation.cancel();
                Err(e)
            }
        }
    }

    /// The bandwidth meter of a transfer of `data`: the user's bucket for its direction and
    /// the server's; `None` when neither limits it (and for listings).
    pub(super) fn meter(&self, data: &TransferData) -> Option<Meter> {
        let policy = &self.account()?.policy;
        match data {
            TransferData::Send(_) | TransferData::SendFile(_) => {
                Meter::new([policy.download.as_ref(), self.caps.download.as_ref()])
            }
            TransferData::Receive(_) => {
                Meter::new([policy.upload.as_ref(), self.caps.upload.as_ref()])
            }
            TransferData::SendBytes(_) => None,
        }
    }

    /// `ALLO size`: with a quota, `552` when `size` bytes no longer fit, else the size is
    /// kept for the next upload (which checks it again); without one, not needed.
    pub(super) async fn allo(&mut self, size: u64, cx: &Context) -> Handled {
        let acct = cx.account()?;
        let Some(q) = &acct.policy.quota else {
            return Ok(reply(ReplyCode::SUPERFLUOUS, "ALLO not needed."));
        };
        q.check(&*acct.storage, size, 0).await?;
        self.pending.set_allo(size);
        Ok(reply(
            ReplyCode::OK,
            format!("ALLO {size} bytes: room enough."),
        ))
    }

    /// `AVBL [dir]` (draft-peterson-streamlined-ftp-command-extensions): `213` and the bytes
    /// the user may still store: what the quota leaves, else the free space the backend
    /// reports (`550` when it reports none); 0 for a user without the write and append
    /// permissions.
    pub(super) async fn avbl(&self, arg: Option<&[u8]>, cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path_or_cwd(arg)?;
        if !acct.storage.metadata(&p).await?.is_dir() {
            return Err(reply(ReplyCode::FILE_NOT_AVAILABLE, "Not a directory."));
        }
        // A user who may not store anything has nothing left, whatever the disk has.
        let may_store = acct.permissions.write || acct.permissions.append;
        let quota_left = match &acct.policy.quota {
            _ if !may_store => Some(0),
            Some(q) => q.bytes_left(&*acct.storage).await?,
            None => None,
        };
        let left = match quota_left {
            Some(n) => Some(n),
            None => acct.storage.available(&p).await?,
        };
        match left {
            Some(n) => Ok(reply(ReplyCode::FILE_STATUS, n.to_string())),
            None => Err(reply(
                ReplyCode::FILE_NOT_AVAILABLE,
                "Available space unknown.",
            )),
        }
    }

    /// `SITE QUOTA`: the account's usage and limits.
    pub(super) async fn site_quota(&self, cx: &Context) -> Handled {
        let acct = cx.account()?;
        let mut lines = vec![format!("Quota of {}:", acct.name)];
        lines.extend(quota_lines(acct).await?);
        lines.push("End".to_string());
        Ok(Action::Reply(Reply::multi(ReplyCode::OK, lines)))
    }
}

/// The usage lines of `SITE QUOTA` and `STAT`: bytes and files used, each with its limit.
pub(super) async fn quota_lines(acct: &Account) -> Result<Vec<String>, Action> {
    let Some(q) = &acct.policy.quota else {
        return Ok(vec![" No quota".to_string()]);
    };
    let used = q.usage(&*acct.storage).await.map_err(Action::from)?;
    let line = |what: &str, used: u64, limit: Option<u64>| match limit {
        Some(l) => format!(
            " {what}: {used} used of {l}, {} left",
            l.saturating_sub(used)
        ),
        None => format!(" {what}: {used} used, no limit"),
    };
    Ok(vec![
        line("Bytes", used.bytes, q.bytes_limit()),
        line("Files", used.files, q.files_limit()),
    ])
}
