//! The directory tree: `PWD`, `CWD`, `CDUP`, `MKD`, `RMD`, `DELE`, `RNFR`, `RNTO`.

use ftp_proto::{Reply, ReplyCode};

use super::limits::counted_file;
use super::pending::Source;
use super::{allow, denied, reply, Action, Context, Handled, Session};
use crate::vpath::VPath;

impl Session {
    /// `PWD`.
    pub(super) fn pwd(&self) -> Handled {
        Ok(Action::Reply(Reply::path(
            self.cwd.as_bytes(),
            "is the current directory",
        )))
    }

    /// `CWD path`.
    pub(super) async fn cwd_cmd(&mut self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).list)?;
        self.change_dir(p, cx).await
    }

    /// `CDUP`.
    pub(super) async fn cdup(&mut self, cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.cwd.parent();
        allow(acct.permissions_at(&p).list)?;
        self.change_dir(p, cx).await
    }

    async fn change_dir(&mut self, p: VPath, cx: &Context) -> Handled {
        let m = cx.account()?.storage.metadata(&p).await?;
        if !m.is_dir() {
            return Err(reply(ReplyCode::FILE_NOT_AVAILABLE, "Not a directory."));
        }
        self.cwd = p;
        Ok(reply(
            ReplyCode::FILE_ACTION_OK,
            "Directory successfully changed.",
        ))
    }

    /// `MKD path`.
    pub(super) async fn mkd(&self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).mkdir)?;
        acct.storage.mkdir(&p).await?;
        Ok(Action::Reply(Reply::path(p.as_bytes(), "created")))
    }

    /// `RMD path` (never the root).
    pub(super) async fn rmd(&self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).rmdir)?;
        if p.is_root() {
            return Err(denied());
        }
        acct.storage.rmdir(&p).await?;
        Ok(reply(ReplyCode::FILE_ACTION_OK, "Directory removed."))
    }

    /// `DELE path`.
    pub(super) async fn dele(&self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).delete)?;
        let freed = counted_file(acct, &p).await;
        acct.storage.remove(&p).await?;
        freed.settle();
        Ok(reply(ReplyCode::FILE_ACTION_OK, "File deleted."))
    }

    /// `RNFR path`: remembers an existing source (never the root) for the next command.
    pub(super) async fn rnfr(&mut self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).rename)?;
        if p.is_root() {
            return Err(denied());
        }
        acct.storage.metadata(&p).await?;
        self.pending.set_source(Source::Rename(p));
        Ok(reply(ReplyCode::PENDING, "Ready for RNTO."))
    }

    /// `RNTO path`, right after `RNFR`; never onto the root or into the source itself.
    pub(super) async fn rnto(&self, arg: &[u8], cx: &Context) -> Handled {
        let Some(Source::Rename(from)) = &cx.source else {
            return Err(reply(ReplyCode::BAD_SEQUENCE, "RNFR required first."));
        };
        let acct = cx.account()?;
        let to = self.path(arg)?;
        if to.is_root() || to.as_bytes().starts_with(&[from.as_bytes(), b"/"].concat()) {
            return Err(reply(
                ReplyCode::FILE_NAME_NOT_ALLOWED,
                "Cannot rename there.",
            ));
        }
        // A file at `to` is replaced: the quota gets it back.
        let freed = match to == *from {
            true => super::limits::Freed::none(),
            false => counted_file(acct, &to).await,
        };
        acct.storage.rename(from, &to).await?;
        freed.settle();
        Ok(reply(ReplyCode::FILE_ACTION_OK, "Rename successful."))
    }
}
