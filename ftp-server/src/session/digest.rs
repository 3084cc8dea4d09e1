//! Digests: `HASH` with `OPTS HASH` and `RANG` (draft-bryan-ftpext-hash-02,
//! draft-bryan-ftp-range), the legacy `XSHA256` `XSHA512` `XSHA1` `XMD5` `XCRC` (ProFTPD's
//! mod_digest spellings: `path [start end]`, end exclusive), and the SHA-256 of uploads.
//!
//! A digest is computed as an [`Action::Job`]: the file is read in chunks of
//! [`HASH_CHUNK`] and hashed on the blocking pool, while the connection goes on answering
//! `ABOR`, `STAT` and `NOOP`. One runs at a time per session (a job holds the session like a
//! transfer), at most `max_concurrent_hashes` in the server (`450` beyond), and none reads more
//! than `max_hash_bytes` (`556`). A whole file's SHA-256 that the backend stored with it
//! ([`Storage::stored_sha256`]) answers at once, without reading.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use ftp_proto::hash::{HashAlgorithm, Hasher};
use ftp_proto::{Reply, ReplyCode, Verb};
use futures_lite::io::{AsyncReadExt, AsyncWrite};
use sha2::Digest as _;

use super::pending::Source;
use super::{allow, reply, Action, Context, Handled, Job, Session};
use crate::storage::{BoxFuture, Sha256, Storage, StorageError, Upload, WriteMode};
use crate::vpath::VPath;

/// How much of a file one step on the blocking pool reads and hashes; the buffer is reused.
pub(crate) const HASH_CHUNK: usize = 1024 * 1024;

/// What is hashed and how the reply reads.
#[derive(Debug, Clone, Copy)]
struct Request {
    algorithm: HashAlgorithm,
    /// The first byte.
    start: u64,
    /// How many bytes (`None`: to the end of the file).
    len: Option<u64>,
    /// `HASH` (the draft's `213` reply) or a legacy verb (`250 <hex>`).
    verb: Verb,
    /// The range as the reply shows it (`RANG`'s inclusive end, else the exclusive end).
    shown_end: Option<u64>,
}

impl Session {
    /// `HASH path`, over the range of a `RANG` right before it.
    pub(super) async fn hash(&self, arg: &[u8], cx: &Context) -> Handled {
        let (start, len, shown_end) = match cx.source {
            Some(Source::Range { start, end }) => (start, Some(end - start + 1), Some(end)),
            _ => (0, None, None),
        };
        let req = Request {
            algorithm: self.hash_alg,
            start,
            len,
            verb: Verb::Hash,
            shown_end,
        };
        self.digest(arg, req, cx).await
    }

    /// `XSHA256 path [start end]` and the other legacy spellings: bytes `start..end`.
    pub(super) async fn legacy_hash(
        &self,
        algorithm: HashAlgorithm,
        arg: &[u8],
        range: Option<(u64, u64)>,
        cx: &Context,
    ) -> Handled {
        let (start, len) = match range {
            Some((s, e)) if e > s => (s, Some(e - s)),
            Some((s, e)) => {
                return Err(reply(
                    ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS,
                    format!("End ({e}) must be greater than start ({s})."),
                ))
            }
            None => (0, None),
        };
        let req = Request {
            algorithm,
            start,
            len,
            verb: algorithm.legacy_verb(),
            shown_end: None,
        };
        self.digest(arg, req, cx).await
    }

    /// `RANG start end` (`RANG 1 0` resets): the range of the next command, if it is `HASH`.
    pub(super) fn rang(&mut self, start: u64, end: u64) -> Handled {
        if (start, end) == (1, 0) {
            return Ok(reply(ReplyCode::PENDING, "Range reset to the whole file."));
        }
        if start > end {
            return Err(reply(
                ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS,
                "Start after end; range reset to the whole file.",
            ));
        }
        self.pending.set_source(Source::Range { start, end });
        Ok(reply(
            ReplyCode::PENDING,
            format!("Restarting at {start}. End byte range at {end}."),
        ))
    }

    /// `OPTS HASH [name]`: the selected algorithm, or selects one.
    pub(super) fn opts_hash(&mut self, value: Option<&str>) -> Action {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => reply(ReplyCode::OK, self.hash_alg.name()),
            Some(v) => match HashAlgorithm::from_name(v) {
                Some(a) => {
                    self.hash_alg = a;
                    reply(ReplyCode::OK, a.name())
                }
                None => reply(
                    ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS,
                    "Unknown algorithm, current selection not changed.",
                ),
            },
        }
    }

    /// The `FEAT` line's value: `SHA-256*;SHA-512;SHA-1;MD5;CRC32`, the selected one starred.
    pub(super) fn hash_feat(&self) -> String {
        let names: Vec<String> = HashAlgorithm::ALL
            .iter()
            .map(|a| {
                let star = if *a == self.hash_alg { "*" } else { "" };
                format!("{}{star}", a.name())
            })
            .collect();
        names.join(";")
    }

    /// Checks the request, then answers from a stored digest or starts the job computing it.
    async fn digest(&self, arg: &[u8], req: Request, cx: &Context) -> Handled {
        let acct = cx.account()?;
        allow(acct.permissions.read)?;
        let p = self.path(arg)?;
        let storage = acct.storage.clone();
        let m = storage.metadata(&p).await?;
        if !matches!(m.kind, crate::storage::FileKind::File) {
            return Err(reply(ReplyCode::FILE_NOT_AVAILABLE, "Not a regular file."));
        }
        let len = match req.len {
            None => m.len.saturating_sub(req.start),
            Some(n) if req.start.checked_add(n).is_some_and(|e| e <= m.len) => n,
            Some(_) => {
                return Err(reply(
                    ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS,
                    format!("Range beyond the end of the file ({} bytes).", m.len),
                ))
            }
        };
        let whole = req.start == 0 && len == m.len;
        if whole && req.algorithm == HashAlgorithm::Sha256 {
            if let Some(d) = storage.stored_sha256(&p).await? {
                return Ok(Action::Reply(answer(
                    &req,
                    len,
                    &ftp_proto::hash::to_hex(&d),
                    arg,
                )));
            }
        }
        if len > self.cfg.max_hash_bytes {
            let code = if req.verb == Verb::Hash {
                ReplyCode::POLICY_REFUSED
            } else {
                ReplyCode::FILE_NOT_AVAILABLE
            };
            let limit = self.cfg.max_hash_bytes;
            return Err(reply(
                code,
                format!("Too large to hash here (over {limit} bytes)."),
            ));
        }
        let Some(slot) = self.hash_slots.try_acquire_arc() else {
            return Err(reply(
                ReplyCode::FILE_UNAVAILABLE,
                "Too many digests being computed; try again later.",
            ));
        };
        let progress = Arc::new(AtomicU64::new(0));
        let verb = req.verb;
        let (p2, shown_arg, counted) = (p.clone(), arg.to_vec(), progress.clone());
        let work = async move {
            let _slot = slot;
            let read = read_digest(&*storage, &p2, req.algorithm, req.start, len, &counted).await;
            match read {
                Ok(bytes) => {
                    if whole && req.algorithm == HashAlgorithm::Sha256 {
                        if let Ok(d) = Sha256::try_from(bytes.as_slice()) {
                            let _ = storage.store_sha256(&p2, d, &m).await;
                        }
                    }
                    answer(&req, len, &ftp_proto::hash::to_hex(&bytes), &shown_arg)
                }
                Err(e) => super::storage_error_reply(&e),
            }
        };
        Ok(Action::Job(Job {
            verb,
            path: p,
            progress,
            work: Box::pin(work),
        }))
    }

    /// The upload `up` opened with `mode`, with its SHA-256 computed on the way when the
    /// backend has no local files (reading an object back for `HASH` would cost a download)
    /// or `hash_all_uploads` is set; only whole-file uploads to backends that keep the digest
    /// ([`Upload::keeps_sha256`]) are hashed.
    ///
    /// An upload into a local file is not hashed by default, over TLS or in `TYPE A` either:
    /// SHA-256 costs about 0.7 s of CPU per GiB here, a third of a TLS upload's whole cost,
    /// for a command few clients send; `HASH` reads the file at disk speed instead and keeps
    /// what it computed.
    pub(super) fn hashing(&self, mut up: Box<dyn Upload>, mode: WriteMode) -> Box<dyn Upload> {
        if !matches!(mode, WriteMode::Replace | WriteMode::CreateNew) || !up.keeps_sha256() {
            return up;
        }
        if up.local_file().is_none() || self.cfg.hash_all_uploads {
            Box::new(Sha256Upload {
                inner: up,
                hasher: sha2::Sha256::new(),
            })
        } else {
            up
        }
    }
}

/// The reply to a digest request: `213 SHA-256 0-1024 <hex> <path>` for `HASH`, `250 <hex>`
/// for the legacy commands.
fn answer(req: &Request, len: u64, hex: &str, arg: &[u8]) -> Reply {
    if req.verb != Verb::Hash {
        return Reply::new(ReplyCode::FILE_ACTION_OK, hex);
    }
    let end = req.shown_end.unwrap_or(req.start + len);
    let mut text = format!("{} {}-{end} {hex} ", req.algorithm.name(), req.start).into_bytes();
    text.extend_from_slice(arg);
    Reply::new(ReplyCode::FILE_STATUS, text)
}

/// The digest of `len` bytes of `path` from `start` (fewer when the file shrank meanwhile),
/// counting the bytes read in `progress`. A local file is read and hashed in one step on the
/// blocking pool per chunk; other backends' streams are read here and hashed on the pool.
async fn read_digest(
    storage: &dyn Storage,
    path: &VPath,
    alg: HashAlgorithm,
    start: u64,
    len: u64,
    progress: &AtomicU64,
) -> Result<Vec<u8>, StorageError> {
    let mut hasher = Hasher::new(alg);
    let mut buf = vec![0u8; HASH_CHUNK];
    let mut left = len;
    if let Some(mut file) = storage.open_read_local(path, start).await? {
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(HASH_CHUNK);
            let (f, h, b, n) = blocking::unblock(move || {
                let n = fill(&mut file, &mut buf[..want]);
                if let Ok(n) = n {
                    hasher.update(&buf[..n]);
                }
                (file, hasher, buf, n)
            })
            .await;
            (file, hasher, buf) = (f, h, b);
            match n? {
                0 => break,
                n => left = step(left, n, progress),
            }
        }
        return Ok(hasher.finish());
    }
    let mut src = storage.open_read(path, start).await?;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(HASH_CHUNK);
        let n = src.read(&mut buf[..want]).await?;
        if n == 0 {
            break;
        }
        (hasher, buf) = blocking::unblock(move || {
            hasher.update(&buf[..n]);
            (hasher, buf)
        })
        .await;
        left = step(left, n, progress);
    }
    Ok(hasher.finish())
}

/// `n` more bytes were hashed: what is left of `left`.
fn step(left: u64, n: usize, progress: &AtomicU64) -> u64 {
    progress.fetch_add(n as u64, Ordering::Relaxed);
    left.saturating_sub(n as u64)
}

/// Reads into all of `buf` unless the file ends first; the bytes read.
fn fill(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match std::io::Read::read(file, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// An upload whose SHA-256 is computed from the bytes written into it, handed to the backend
/// before the commit ([`Upload::record_sha256`]).
struct Sha256Upload {
    inner: Box<dyn Upload>,
    hasher: sha2::Sha256,
}

impl AsyncWrite for Sha256Upload {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.hasher.update(&buf[..n]);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl Upload for Sha256Upload {
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        let Sha256Upload { mut inner, hasher } = *self;
        inner.record_sha256(hasher.finalize().into());
        inner.commit()
    }
}
