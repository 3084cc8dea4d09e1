//! Questions about files and the server: `SIZE`, `MDTM`, `MFMT`, `MLST`, `STAT`, `FEAT`,
//! `HELP`, `OPTS`, `LANG` (and `SYST`, `NOOP`, answered in the dispatch table).

use ftp_proto::ascii::ToNetwork;
use ftp_proto::facts::FactSet;
use ftp_proto::feat::Features;
use ftp_proto::{Reply, ReplyCode, Timestamp, Verb};
use futures_lite::io::AsyncReadExt;

use super::{allow, reply, Action, Context, Handled, Session};
use crate::listing;
use crate::storage::{Storage, StorageError};
use crate::vpath::VPath;

impl Session {
    /// `SIZE path`: the file's length; in `TYPE A` the bytes a `RETR` would send (RFC 3659
    /// §4), counted up to `ascii_size_limit`.
    pub(super) async fn size(&self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).read)?;
        let m = acct.storage.metadata(&p).await?;
        if m.is_dir() {
            return Err(reply(ReplyCode::FILE_NOT_AVAILABLE, "Not a regular file."));
        }
        if !self.ascii {
            return Ok(reply(ReplyCode::FILE_STATUS, m.len.to_string()));
        }
        let limit = self.cfg.ascii_size_limit;
        let counted = if m.len > limit {
            None
        } else {
            ascii_size(&*acct.storage, &p, limit).await?
        };
        match counted {
            Some(n) => Ok(reply(ReplyCode::FILE_STATUS, n.to_string())),
            None => Err(reply(
                ReplyCode::FILE_NOT_AVAILABLE,
                format!(
                    "SIZE not available in ASCII mode for files over {limit} bytes; use TYPE I."
                ),
            )),
        }
    }

    /// `MDTM path`: the modification time, in whole seconds.
    pub(super) async fn mdtm(&self, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).read)?;
        let Some(t) = acct.storage.metadata(&p).await?.modified else {
            return Err(reply(ReplyCode::FILE_NOT_AVAILABLE, "Time not available."));
        };
        let (s, _) = Timestamp::from_system_time(t).to_unix();
        Ok(reply(
            ReplyCode::FILE_STATUS,
            Timestamp::from_unix(s, 0).to_string(),
        ))
    }

    /// `MFMT time path`: sets the modification time.
    pub(super) async fn mfmt(&self, time: Timestamp, arg: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path(arg)?;
        allow(acct.permissions_at(&p).write)?;
        acct.storage.set_mtime(&p, time.to_system_time()).await?;
        let mut text = format!("Modify={time}; ").into_bytes();
        text.extend_from_slice(p.as_bytes());
        Ok(reply(ReplyCode::FILE_STATUS, text))
    }

    /// `MLST [path]` (RFC 3659 §7): one entry's facts on the control connection.
    pub(super) async fn mlst(&self, arg: Option<&[u8]>, cx: &Context) -> Handled {
        let acct = cx.account()?;
        let p = self.path_or_cwd(arg)?;
        allow(acct.permissions_at(&p).list)?;
        let m = acct.storage.metadata(&p).await?;
        let mut line = b" ".to_vec();
        listing::facts(&m, &acct.permissions_at(&p)).format(self.mlst, p.as_bytes(), &mut line);
        let mut first = b"Listing ".to_vec();
        first.extend_from_slice(p.as_bytes());
        Ok(Action::Reply(Reply::multi(
            ReplyCode::FILE_ACTION_OK,
            [first, line, b"End".to_vec()],
        )))
    }

    /// `STAT` (the session's status) or `STAT path` (its `LIST` lines, on the control
    /// connection).
    pub(super) async fn stat(&self, arg: Option<&[u8]>, cx: &Context) -> Handled {
        let Some(arg) = arg else {
            return Ok(Action::Reply(self.status(cx).await));
        };
        let acct = cx.account()?;
        let (all, p) = listing::split_list_args(arg);
        let p = self.path_or_cwd(p)?;
        allow(acct.permissions_at(&p).list)?;
        let (is_dir, bytes) = self.list_bytes(Verb::List, &p, all, acct, None).await?;
        let code = if is_dir {
            ReplyCode::DIRECTORY_STATUS
        } else {
            ReplyCode::FILE_STATUS
        };
        let mut first = b"Status of ".to_vec();
        first.extend_from_slice(p.as_bytes());
        first.push(b':');
        let mut lines = vec![first];
        lines.extend(
            bytes
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .filter(|l| !l.is_empty())
                .map(|l| [b" ", l].concat()),
        );
        lines.push(b"End of status".to_vec());
        Ok(Action::Reply(Reply::multi(code, lines)))
    }

    /// `LANG [tag]` (RFC 2640): English only.
    pub(super) fn lang(&self, tag: Option<&str>) -> Handled {
        match tag {
            None => Ok(reply(ReplyCode::OK, "Using EN.")),
            Some(t) if t.to_ascii_uppercase().starts_with("EN") => {
                Ok(reply(ReplyCode::OK, "Using EN."))
            }
            Some(_) => Err(reply(
                ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                "Only EN is supported.",
            )),
        }
    }

    /// The features `FEAT` announces.
    pub fn features(&self) -> Features {
        let mut f = Features::new();
        f.add("AVBL", None)
            .add("EPRT", None)
            .add("EPSV", None)
            .add("HASH", Some(&self.hash_feat()))
            .add("HOST", None)
            .add("MDTM", None)
            .add("MFMT", None)
            .add("MLST", Some(&self.mlst_feat()))
            .add("PASV", None)
            .add("REST", Some("STREAM"))
            .add("SIZE", None)
            .add("TVFS", None)
            .add("UTF8", None);
        if self.cfg.tls.is_some() {
            f.add("AUTH", Some("TLS"))
                .add("PBSZ", None)
                .add("PROT", None);
        }
        f
    }

    fn mlst_feat(&self) -> String {
        // `type*;size*;...` without the leading "MLST ".
        let line = self.mlst.feat_line();
        line.strip_prefix("MLST ").unwrap_or(&line).to_string()
    }

    pub(super) fn opts(&mut self, name: &str, value: Option<&str>) -> Action {
        match name.to_ascii_uppercase().as_str() {
            "UTF8" | "UTF-8" => match value.map(|v| v.trim().to_ascii_uppercase()) {
                Some(v) if v == "ON" || v.is_empty() => {
                    reply(ReplyCode::OK, "Always in UTF8 mode.")
                }
                None => reply(ReplyCode::OK, "Always in UTF8 mode."),
                _ => reply(
                    ReplyCode::NOT_IMPLEMENTED_FOR_PARAMETER,
                    "UTF8 cannot be turned off.",
                ),
            },
            "HASH" => self.opts_hash(value),
            "MLST" => {
                self.mlst = FactSet::from_opts(value.unwrap_or(""));
                let opts = self.mlst.to_opts();
                reply(ReplyCode::OK, format!("MLST OPTS {opts}"))
            }
            _ => reply(
                ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS,
                "Option not understood.",
            ),
        }
    }

    pub(super) fn help(&self) -> Reply {
        let mut lines = vec!["The following commands are recognized:".to_string()];
        // CCC only where it can succeed (TLS with `tls_allow_ccc`).
        let ccc = self.cfg.tls.as_ref().is_some_and(|t| t.allow_ccc);
        let names: Vec<&str> = Verb::ALL
            .iter()
            .filter(|v| match v {
                Verb::Ccc => ccc,
                Verb::Smnt | Verb::Adat | Verb::Mic | Verb::Conf | Verb::Enc => false,
                _ => true,
            })
            .map(|v| v.as_str())
            .collect();
        for chunk in names.chunks(8) {
            lines.push(format!(" {}", chunk.join(" ")));
        }
        lines.push("Help OK.".to_string());
        Reply::multi(ReplyCode::HELP, lines)
    }

    async fn status(&self, cx: &Context) -> Reply {
        let mut lines = vec![
            "FTP server status:".to_string(),
            format!(" Connected to {}", self.peer.ip()),
        ];
        if let Some(u) = self.user() {
            lines.push(format!(" Logged in as {u}"));
        }
        lines.push(format!(
            " TYPE: {}",
            if self.ascii { "ASCII" } else { "BINARY" }
        ));
        lines.push(" No data connection".to_string());
        if let Some(acct) = &cx.acct {
            match super::limits::quota_lines(acct).await {
                Ok(usage) => lines.extend(usage),
                Err(_) => lines.push(" Quota usage unavailable".to_string()),
            }
        }
        lines.push("End of status".to_string());
        Reply::multi(ReplyCode::SYSTEM_STATUS, lines)
    }
}

/// How many bytes a `RETR` of `path` in `TYPE A` sends: the file read through the storage
/// backend in fixed chunks and counted with the conversion the transfer applies
/// ([`ToNetwork`], starting at offset 0). `None` once more than `limit` bytes of the file
/// have been read (it may have grown since its metadata was read).
async fn ascii_size(
    storage: &dyn Storage,
    path: &VPath,
    limit: u64,
) -> Result<Option<u64>, StorageError> {
    const CHUNK: usize = 64 * 1024;
    let mut src = storage.open_read(path, 0).await?;
    let mut buf = vec![0u8; CHUNK];
    let mut counter = ToNetwork::default();
    let (mut read, mut wire) = (0u64, 0u64);
    loop {
        let n = src.read(&mut buf).await?;
        if n == 0 {
            return Ok(Some(wire));
        }
        read += n as u64;
        if read > limit {
            return Ok(None);
        }
        wire += counter.converted_len(&buf[..n]);
    }
}
