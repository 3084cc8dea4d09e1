//! File transfers: downloads through `.NAME.part` (or straight into stdout, a pipe or a
//! device) and uploads, with progress, resume and retries.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use indicatif::ProgressBar;

use super::output::{progress_bar, summary};
use super::paths::{lossy, remote_name};
use super::session::{retry_pause, Session};
use super::{fail, Ctx};
use crate::error::ErrorClass;
use crate::Error;

/// The error for a download interrupted by Ctrl-C: where its partial file is and how to
/// resume it (`resume`, a command line), or that nothing was kept.
pub(crate) fn interrupted_download(local: &Path, resume: &str) -> anyhow::Error {
    let part = part_path(local);
    let len = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let segments = super::segments::state_path(&part);
    let msg = if segments.exists() {
        format!(
            "interrupted: the download was aborted; what arrived is kept in {}, its progress \
             in {} (`{resume}` resumes it)",
            lossy(&remote_name(&part)),
            lossy(&remote_name(&segments))
        )
    } else if len > 0 {
        format!(
            "interrupted: the download was aborted; its first {len} bytes are kept in {} \
             (`{resume}` resumes it)",
            lossy(&remote_name(&part))
        )
    } else {
        let _ = std::fs::remove_file(&part);
        "interrupted: the download was aborted; nothing was kept".to_string()
    };
    fail(ErrorClass::Interrupted, msg)
}

pub(crate) fn part_path(local: &Path) -> PathBuf {
    let name = local
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let mut part = std::ffi::OsString::from(".");
    part.push(name);
    part.push(".part");
    local.with_file_name(part)
}

/// Downloads `remote` to `local` through `.name.part`, resuming it on retries (and at the
/// start if `resume`); sets the local mtime from the server. `mtime` and `size`, when known
/// from a listing, spare the `MDTM` and `SIZE` commands. Returns bytes received.
pub(crate) async fn download_file(
    ctx: &Ctx,
    sess: &mut Session,
    remote: &[u8],
    local: &Path,
    resume: bool,
    mtime: Option<ftp_proto::Timestamp>,
    size: Option<u64>,
) -> Result<u64> {
    if std::fs::metadata(local).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return download_special(ctx, sess, remote, local).await;
    }
    let name = lossy(remote);
    if ctx.no_clobber && !resume && local.exists() {
        if !ctx.quiet {
            let l = lossy(&remote_name(local));
            eprintln!("get {name}: {l} exists, not overwritten (no-clobber)");
        }
        return Ok(0);
    }
    let started = Instant::now();
    let (size, mtime) = {
        let c = sess.client().await?;
        let size = match size {
            Some(s) => Some(s),
            None => c.size(remote).await.ok(),
        };
        let mtime = match mtime {
            Some(t) => Some(t),
            None => c.mdtm(remote).await.ok(),
        };
        (size, mtime)
    };
    let part = prepare_part(local, &name, resume, size)?;
    let start_len = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let pb = progress_bar(ctx, &name, size, start_len);
    let mut attempt = 0;
    let got = loop {
        match download_once(sess, remote, &part, size, mtime, pb.as_ref()).await {
            Ok(n) => break n,
            Err(e) => {
                if let Err(e) = retry_pause(ctx, sess, &name, e, &mut attempt).await {
                    if std::fs::metadata(&part).is_ok_and(|m| m.len() == 0) {
                        let _ = std::fs::remove_file(&part);
                    }
                    return Err(e);
                }
            }
        }
    };
    if ctx.verify {
        let kept = format!("kept {}", part.display());
        super::integrity::verify(ctx, sess, remote, &part, &kept).await?;
    }
    std::fs::rename(&part, local).with_context(|| format!("renaming to {}", local.display()))?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    if got == start_len && start_len > 0 {
        if !ctx.quiet {
            eprintln!("get {name}: already complete ({got} bytes)");
        }
    } else {
        summary(ctx, "get", &name, got.saturating_sub(start_len), started);
    }
    Ok(got)
}

/// A device or a FIFO (`-o /dev/null`): written into; a `.part` renamed over it would
/// replace it.
async fn download_special(
    ctx: &Ctx,
    sess: &mut Session,
    remote: &[u8],
    local: &Path,
) -> Result<u64> {
    let out = std::fs::OpenOptions::new()
        .write(true)
        .open(local)
        .with_context(|| format!("opening {}", local.display()))?;
    let started = Instant::now();
    let n = download_stream(ctx, sess, remote, out, &local.display().to_string()).await?;
    summary(ctx, "get", &lossy(remote), n, started);
    Ok(n)
}

/// The `.part` file of `local`, ready for the download: removed unless resuming; when
/// resuming a complete-looking `local`, `local` itself, renamed (unless it is larger than
/// the remote file's `size`).
fn prepare_part(local: &Path, name: &str, resume: bool, size: Option<u64>) -> Result<PathBuf> {
    let part = part_path(local);
    // A segmented download's `.part` has holes: one stream goes on from its first gap.
    super::segments::to_one_stream(&part, resume)?;
    if !resume {
        let _ = std::fs::remove_file(&part);
    } else if !part.exists() && local.exists() {
        let have = std::fs::metadata(local).map(|m| m.len()).unwrap_or(0);
        if let Some(size) = size.filter(|s| have > *s) {
            return Err(fail(
                ErrorClass::Transfer,
                format!(
                    "get {name}: the local file ({have} bytes) is larger than the remote one \
                     ({size} bytes), so it cannot be resumed; download without -c to replace it"
                ),
            ));
        }
        std::fs::rename(local, &part).with_context(|| format!("renaming {}", local.display()))?;
    }
    Ok(part)
}

/// One attempt: downloads into `part` from its current length (from 0 if it is longer than
/// `size`), then sets its mtime.
async fn download_once(
    sess: &mut Session,
    remote: &[u8],
    part: &Path,
    size: Option<u64>,
    mtime: Option<ftp_proto::Timestamp>,
    pb: Option<&ProgressBar>,
) -> Result<u64> {
    let mut offset = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if size.is_some_and(|s| offset > s) {
        offset = 0;
    }
    let open = |offset: u64| {
        std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(offset == 0)
            .open(part)
            .with_context(|| format!("opening {}", part.display()))
    };
    if size == Some(offset) && offset > 0 {
        set_mtime(&open(offset)?, mtime);
        return Ok(offset);
    }
    let c = sess.client().await?;
    match c.retr(remote, offset).await {
        Ok(dl) => return pump(dl, open(offset)?, offset, part, pb, mtime).await,
        Err(Error::Reply { reply, .. }) if offset > 0 && crate::client::unsupported(&reply) => {
            log::info!("the server refuses REST ({reply}); starting over");
        }
        Err(e) => return Err(e.into()),
    }
    let dl = c.retr(remote, 0).await?;
    pump(dl, open(0)?, 0, part, pb, mtime).await
}

fn set_mtime(file: &std::fs::File, mtime: Option<ftp_proto::Timestamp>) {
    if let Some(t) = mtime {
        let _ = file.set_modified(t.to_system_time());
    }
}

/// Copies `dl` into `file` (opened truncated if `offset` is 0) from `offset`, reads the final
/// reply, then sets the file's mtime.
async fn pump(
    mut dl: crate::Download<'_>,
    mut file: std::fs::File,
    offset: u64,
    part: &Path,
    pb: Option<&ProgressBar>,
    mtime: Option<ftp_proto::Timestamp>,
) -> Result<u64> {
    if offset > 0 {
        file.set_len(offset)?;
        file.seek(SeekFrom::Start(offset))?;
    }
    let mut total = offset;
    let copied = dl
        .copy_to_file(&mut file, |n| {
            total += n;
            if let Some(pb) = pb {
                pb.set_position(total);
            }
        })
        .await;
    copy_result(copied, &part.display().to_string())?;
    dl.finish().await?;
    set_mtime(&file, mtime);
    Ok(total)
}

/// Writes `remote` to stdout, resuming with REST on retries.
pub(crate) async fn download_stdout(ctx: &Ctx, sess: &mut Session, remote: &[u8]) -> Result<u64> {
    use std::os::fd::AsFd;
    let started = Instant::now();
    std::io::stdout().flush().context("writing to stdout")?;
    let out = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating stdout")?;
    let n = download_stream(ctx, sess, remote, std::fs::File::from(out), "stdout").await?;
    if ctx.verbose > 0 {
        summary(ctx, "get", &lossy(remote), n, started);
    }
    Ok(n)
}

/// Writes `remote` into `out` (stdout, a pipe, a device: anything but a regular file, so no
/// `.part` and no rename), resuming with REST on retries.
async fn download_stream(
    ctx: &Ctx,
    sess: &mut Session,
    remote: &[u8],
    mut out: std::fs::File,
    what: &str,
) -> Result<u64> {
    let name = lossy(remote);
    let mut written = 0u64;
    let mut attempt = 0;
    loop {
        match stream_once(sess, remote, &mut out, what, &mut written).await {
            Ok(()) => break,
            Err(e) => retry_pause(ctx, sess, &name, e, &mut attempt).await?,
        }
    }
    Ok(written)
}

async fn stream_once(
    sess: &mut Session,
    remote: &[u8],
    out: &mut std::fs::File,
    what: &str,
    written: &mut u64,
) -> Result<()> {
    let c = sess.client().await?;
    let mut dl = c.retr(remote, *written).await?;
    let copied = dl.copy_to_file(out, |n| *written += n).await;
    copy_result(copied, what)?;
    dl.finish().await?;
    Ok(())
}

/// Maps a [`crate::CopyError`]: receive errors may be retried, local write errors are final.
fn copy_result(r: Result<u64, crate::CopyError>, what: &str) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(crate::CopyError::Receive(e)) => Err(crate::data::dl_error("receiving data", e).into()),
        Err(crate::CopyError::Write(e)) => {
            Err(anyhow::Error::new(e).context(format!("writing {what}")))
        }
    }
}

/// Uploads `local` to `remote`, resuming (REST + STOR) on retries and at the start if
/// `resume`. Sets the remote mtime (MFMT) when `set_mtime` and the server supports it.
pub(crate) async fn upload_file(
    ctx: &Ctx,
    sess: &mut Session,
    local: &Path,
    remote: &[u8],
    resume: bool,
    set_mtime: bool,
) -> Result<u64> {
    let meta = std::fs::metadata(local).with_context(|| format!("reading {}", local.display()))?;
    if meta.is_dir() {
        return Err(fail(
            ErrorClass::Usage,
            format!("{} is a directory", local.display()),
        ));
    }
    let name = lossy(remote);
    let started = Instant::now();
    let pb = progress_bar(ctx, &name, Some(meta.len()), 0);
    let mut attempt = 0;
    let len = meta.len();
    let sent = loop {
        let want_resume = resume || attempt > 0;
        match upload_once(sess, local, remote, want_resume, len, pb.clone()).await {
            Ok(n) => break n,
            Err(e) => retry_pause(ctx, sess, &name, e, &mut attempt).await?,
        }
    };
    if set_mtime {
        if let Ok(m) = meta.modified() {
            let c = sess.client().await?;
            if c.feat().await.map(|f| f.has("MFMT")).unwrap_or(false) {
                let _ = c
                    .set_mtime(remote, ftp_proto::Timestamp::from_system_time(m))
                    .await;
            }
        }
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    summary(ctx, "put", &name, sent, started);
    if ctx.verify {
        super::integrity::verify(ctx, sess, remote, local, "the server's file differs").await?;
    }
    Ok(sent)
}

async fn upload_once(
    sess: &mut Session,
    local: &Path,
    remote: &[u8],
    resume: bool,
    len: u64,
    pb: Option<ProgressBar>,
) -> Result<u64> {
    let c = sess.client().await?;
    let offset = if resume {
        c.size(remote).await.unwrap_or(0).min(len)
    } else {
        0
    };
    let mut f =
        std::fs::File::open(local).with_context(|| format!("opening {}", local.display()))?;
    f.seek(SeekFrom::Start(offset))?;
    if let Some(pb) = &pb {
        pb.set_position(offset);
    }
    let n = c
        .stor_file(remote, f, offset, |n| {
            if let Some(pb) = &pb {
                pb.inc(n);
            }
        })
        .await?;
    Ok(offset + n)
}
