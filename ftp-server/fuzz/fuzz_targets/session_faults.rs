//! Drives the session state machine with arbitrary control input against an in-memory
//! storage that fails when the input says so: any storage call may answer an error (disk
//! full, quota exceeded, permission denied, storage unavailable, I/O error, not found), a
//! download may break off after some bytes, an upload may fail while written or committed.
//!
//! Input: a flags byte (bit 0: log in first; bit 1: abandon uploads uncommitted), a length
//! byte n and n bytes of fault script (each storage call takes the next byte, cyclically; a
//! byte below 0x40 injects a fault), then the control input.
//!
//! Invariants: nothing panics; every reply re-decodes to itself; the working directory stays
//! a normalised absolute path; storage never exceeds its limit; a `STOR` (no `REST`) that
//! fails leaves the old file as it was, one that succeeds leaves exactly the bytes sent.
#![no_main]

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use ftp_proto::{Command, Verb};
use ftp_server::session::TransferData;
use ftp_server::storage::{
    BoxFuture, DirEntry, MemStorage, Metadata, ReadStream, Storage, StorageError, Upload, WriteMode,
};
use ftp_server::vpath::VPath;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{check_cwd, step, Input};

const LIMIT: u64 = 64 * 1024;

/// The fault script: each storage call takes the next byte.
#[derive(Debug)]
struct Plan {
    script: Vec<u8>,
    at: AtomicUsize,
}

impl Plan {
    fn next(&self) -> u8 {
        if self.script.is_empty() {
            return 0xff;
        }
        let i = self.at.fetch_add(1, Ordering::Relaxed);
        self.script[i % self.script.len()]
    }

    /// The error to answer with, if this call fails.
    fn fault(&self) -> Option<StorageError> {
        let b = self.next();
        (b < 0x40).then(|| match b % 6 {
            0 => StorageError::NoSpace,
            1 => StorageError::PermissionDenied,
            2 => StorageError::Unavailable,
            3 => StorageError::Other(std::io::Error::other("injected I/O error")),
            4 => StorageError::QuotaExceeded,
            _ => StorageError::NotFound,
        })
    }

    /// After how many bytes a stream breaks, if it does.
    fn break_after(&self) -> Option<usize> {
        let b = self.next();
        (b < 0x40).then_some(usize::from(b) * 97)
    }
}

/// `MemStorage` with faults injected by the plan.
#[derive(Debug, Clone)]
struct Faulty {
    mem: MemStorage,
    plan: Arc<Plan>,
}

macro_rules! faulty {
    ($self:ident, $call:expr) => {{
        match $self.plan.fault() {
            Some(e) => Box::pin(async move { Err(e) }),
            None => $call,
        }
    }};
}

impl Storage for Faulty {
    fn metadata<'a>(&'a self, p: &'a VPath) -> BoxFuture<'a, Result<Metadata, StorageError>> {
        faulty!(self, self.mem.metadata(p))
    }

    fn list<'a>(&'a self, p: &'a VPath) -> BoxFuture<'a, Result<Vec<DirEntry>, StorageError>> {
        faulty!(self, self.mem.list(p))
    }

    fn open_read<'a>(
        &'a self,
        p: &'a VPath,
        offset: u64,
    ) -> BoxFuture<'a, Result<ReadStream, StorageError>> {
        faulty!(self, {
            let left = self.plan.break_after();
            Box::pin(async move {
                let inner = self.mem.open_read(p, offset).await?;
                Ok(Box::pin(BreakingRead { inner, left }) as ReadStream)
            })
        })
    }

    fn open_write<'a>(
        &'a self,
        p: &'a VPath,
        mode: WriteMode,
    ) -> BoxFuture<'a, Result<Box<dyn Upload>, StorageError>> {
        faulty!(self, {
            let (left, commit) = (self.plan.break_after(), self.plan.fault());
            Box::pin(async move {
                let inner = self.mem.open_write(p, mode).await?;
                Ok(Box::new(BreakingUpload {
                    inner,
                    left,
                    commit,
                }) as Box<dyn Upload>)
            })
        })
    }

    fn mkdir<'a>(&'a self, p: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        faulty!(self, self.mem.mkdir(p))
    }

    fn rmdir<'a>(&'a self, p: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        faulty!(self, self.mem.rmdir(p))
    }

    fn remove<'a>(&'a self, p: &'a VPath) -> BoxFuture<'a, Result<(), StorageError>> {
        faulty!(self, self.mem.remove(p))
    }

    fn rename<'a>(
        &'a self,
        from: &'a VPath,
        to: &'a VPath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        faulty!(self, self.mem.rename(from, to))
    }

    fn set_mtime<'a>(
        &'a self,
        p: &'a VPath,
        time: SystemTime,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        faulty!(self, self.mem.set_mtime(p, time))
    }
}

/// A download that fails with an I/O error after `left` bytes, if set.
struct BreakingRead {
    inner: ReadStream,
    left: Option<usize>,
}

impl AsyncRead for BreakingRead {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let max = match self.left {
            Some(0) => return Poll::Ready(Err(std::io::Error::other("injected read error"))),
            Some(n) => n.min(buf.len()),
            None => buf.len(),
        };
        let n = std::task::ready!(self.inner.as_mut().poll_read(cx, &mut buf[..max]))?;
        if let Some(left) = &mut self.left {
            *left -= n;
        }
        Poll::Ready(Ok(n))
    }
}

/// An upload that fails with "disk full" after `left` bytes, and at commit with `commit`.
struct BreakingUpload {
    inner: Box<dyn Upload>,
    left: Option<usize>,
    commit: Option<StorageError>,
}

impl AsyncWrite for BreakingUpload {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let max = match self.left {
            Some(0) => return Poll::Ready(Err(std::io::ErrorKind::StorageFull.into())),
            Some(n) => n.min(buf.len()),
            None => buf.len(),
        };
        let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..max]))?;
        if let Some(left) = &mut self.left {
            *left -= n;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl Upload for BreakingUpload {
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        let BreakingUpload { inner, commit, .. } = *self;
        match commit {
            // Dropping the upload uncommitted discards it, as a failing backend would.
            Some(e) => Box::pin(async move { Err(e) }),
            None => inner.commit(),
        }
    }
}

/// Uploads up to 1 KiB of `rest` into `up`; returns the bytes if it was committed.
async fn upload(mut up: Box<dyn Upload>, rest: &[u8], commit: bool) -> Option<Vec<u8>> {
    let data = &rest[..rest.len().min(1024)];
    up.write_all(data).await.ok()?;
    if !commit {
        return None;
    }
    up.close().await.ok()?;
    up.commit().await.ok()?;
    Some(data.to_vec())
}

fuzz_target!(|data: &[u8]| {
    let [flags, n, input @ ..] = data else {
        return;
    };
    let n = usize::from(*n % 32).min(input.len());
    let (script, input) = input.split_at(n);
    let mem = MemStorage::new(LIMIT);
    let vp = |s: &str| VPath::root().resolve(s.as_bytes()).unwrap();
    mem.insert_file(&vp("f"), b"line one\nline two\n".to_vec())
        .unwrap();
    futures_lite::future::block_on(mem.mkdir(&vp("d"))).unwrap();
    let storage = Faulty {
        mem: mem.clone(),
        plan: Arc::new(Plan {
            script: script.to_vec(),
            at: AtomicUsize::new(0),
        }),
    };
    let (mut session, script) = common::session(Arc::new(storage), flags & 1 == 1, input);
    futures_lite::future::block_on(async {
        let mut input = Input::new(&script);
        // A REST since the last RETR/STOR/APPE/STOU makes the next STOR an in-place write
        // (a listing leaves the offset pending: `Pending::rest_for`).
        let mut rest_given = false;
        while let Some(cmd) = input.next_command() {
            rest_given |= matches!(cmd, Ok(Command::Rest(_)));
            let Some(transfer) = step(&mut session, cmd).await else {
                break;
            };
            if let Some(t) = transfer {
                let replacing = t.verb == Verb::Stor && !rest_given && !t.ascii;
                if matches!(t.verb, Verb::Retr | Verb::Stor | Verb::Appe | Verb::Stou) {
                    rest_given = false;
                }
                match t.data {
                    TransferData::Send(mut r) => {
                        let mut sink = Vec::new();
                        let _ = r.read_to_end(&mut sink).await;
                        assert!(sink.len() as u64 <= LIMIT);
                    }
                    TransferData::Receive(up) => {
                        let before = mem.file(&t.path).ok();
                        let sent = upload(up, input.rest(), flags & 2 == 0).await;
                        if replacing {
                            let after = mem.file(&t.path).ok();
                            assert_eq!(after, sent.or(before), "STOR {:?}", t.path);
                        }
                    }
                    _ => {}
                }
            }
            check_cwd(&session);
            assert!(mem.used() <= LIMIT);
        }
    });
});
