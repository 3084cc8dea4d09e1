//! Moving files over the data connection: `REST`, `RETR`, `STOR`, `APPE`, `STOU`, with
//! `ABOR` (no transfer running: a running one is aborted by the connection). `ALLO` is in
//! `limits`, with the quota it checks.

use ftp_proto::{Reply, ReplyCode, Verb};

use super::{allow, reply, Action, Context, Handled, Session, Transfer, TransferData};
use crate::auth::Account;
use crate::storage::{StorageError, WriteMode};
use crate::vpath::VPath;

impl Session {
    /// `REST n`: the next `RETR` or `STOR` starts at byte `n`.
    pub(super) fn rest_cmd(&mut self, n: u64) -> Handled {
        self.pending.set_rest(n);
        Ok(reply(
            ReplyCode::PENDING,
            format!("Restarting at {n}. Send STORE or RETRIEVE."),
        ))
    }

    /// `RETR path`: a local file for zero-copy sending where the backend has one (binary
    /// only), else the backend's stream.
    pub(super) async fn retr(&self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).read)?;
        let rest = cx.rest;
        self.check_rest(acct, &p, rest).await?;
        if !self.ascii {
            if let Some(f) = acct.storage.open_read_local(&p, rest).await? {
                return Ok(self.transfer(Verb::Retr, p, TransferData::SendFile(f), None));
            }
        }
        let s = acct.storage.open_read(&p, rest).await?;
        Ok(self.transfer(Verb::Retr, p, TransferData::Send(s), None))
    }

    /// `STOR path`: replaces the file, or after `REST n` writes into it from byte `n` (which
    /// needs the append permission too).
    pub(super) async fn stor(&self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let rest = cx.rest;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).write)?;
        allow(rest == 0 || acct.permissions_at(&p).append)?;
        self.check_rest(acct, &p, rest).await?;
        let mode = if rest > 0 {
            WriteMode::At(rest)
        } else {
            WriteMode::Replace
        };
        self.upload(Verb::Stor, p, mode, cx).await
    }

    /// `APPE path`.
    pub(super) async fn appe(&self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).append)?;
        self.upload(Verb::Appe, p, WriteMode::Append, cx).await
    }

    /// `STOU [name]`: the first of `name`, `name.1`, ... `name.99` that does not exist yet
    /// (`ftp-upload` without a name); the `150` names it.
    pub(super) async fn stou(&self, arg: Option<&[u8]>, cx: &Context) -> Handled {
        let acct = cx.account()?;
        let base = self.path(arg.unwrap_or(b"ftp-upload"))?;
        allow(acct.permissions_at(&base).write)?;
        for i in 0..100u32 {
            let p = if i == 0 {
                base.clone()
            } else {
                let mut n = base.file_name().to_vec();
                n.extend_from_slice(format!(".{i}").as_bytes());
                match base.parent().join(&n) {
                    Ok(p) => p,
                    Err(_) => break,
                }
            };
            match self
                .open_upload(acct, &p, WriteMode::CreateNew, cx.allo)
                .await
            {
                Ok(up) => {
                    let up = self.hashing(up, WriteMode::CreateNew);
                    let mut text = b"FILE: ".to_vec();
                    text.extend_from_slice(p.file_name());
                    let opening = Reply::new(ReplyCode::FILE_STATUS_OK, text);
                    return Ok(self.transfer(
                        Verb::Stou,
                        p,
                        TransferData::Receive(up),
                        Some(opening),
                    ));
                }
                Err(StorageError::AlreadyExists) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(reply(
            ReplyCode::FILE_NAME_NOT_ALLOWED,
            "Could not find a unique name.",
        ))
    }

    /// A restart offset must lie within the existing file (RFC 1123 §4.1.3.4: `554`).
    async fn check_rest(&self, acct: &Account, p: &VPath, rest: u64) -> Result<(), Action> {
        if rest == 0 {
            return Ok(());
        }
        let invalid = |text: &str| {
            Err(Action::Reply(Reply::new(
                ReplyCode::new(554).unwrap_or(ReplyCode::FILE_NOT_AVAILABLE),
                text,
            )))
        };
        // A stream-mode restart marker counts the bytes as transferred (RFC 3659 §5), which
        // in TYPE A are not the file's bytes: refused rather than resumed at the wrong place.
        if self.ascii {
            return invalid("Resuming in TYPE A is not supported; use TYPE I.");
        }
        match acct.storage.metadata(p).await {
            Ok(m) if !m.is_dir() && m.len >= rest => Ok(()),
            Ok(_) | Err(StorageError::NotFound) => invalid("Invalid REST parameter."),
            Err(e) => Err(e.into()),
        }
    }

    /// The transfer of `data`, with `opening` as its `150` (by default one naming the mode
    /// and the path).
    pub(super) fn transfer(
        &self,
        verb: Verb,
        path: VPath,
        data: TransferData,
        opening: Option<Reply>,
    ) -> Action {
        let ascii = self.ascii && !matches!(data, TransferData::SendBytes(_));
        let opening = opening.unwrap_or_else(|| {
            let mode = if ascii { "ASCII" } else { "BINARY" };
            let mut text = format!("Opening {mode} mode data connection for ").into_bytes();
            text.extend_from_slice(path.as_bytes());
            Reply::new(ReplyCode::FILE_STATUS_OK, text)
        });
        let meter = self.meter(&data);
        Action::Transfer(Transfer {
            verb,
            path,
            data,
            ascii,
            opening,
            meter,
        })
    }

    async fn upload(&self, verb: Verb, p: VPath, mode: WriteMode, cx: &Context) -> Handled {
        let up = self.open_upload(cx.account()?, &p, mode, cx.allo).await?;
        let up = self.hashing(up, mode);
        Ok(self.transfer(verb, p, TransferData::Receive(up), None))
    }
}
