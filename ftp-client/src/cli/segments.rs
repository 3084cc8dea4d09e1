//! Segmented downloads (`pget -n N`, `get --segments N`): the file is cut into N ranges,
//! each fetched on its own connection with `REST` + `RETR` (ended with `ABOR` at the range's
//! end) and written in place into one preallocated `.NAME.part`. The progress of every range
//! is kept in `.NAME.part.segments`, so a killed download resumes (`-c`) where each range
//! stopped. A server without `REST STREAM`, a file smaller than two segments, an unknown
//! size or ASCII mode fall back to one ordinary stream.
//!
//! The progress file is text, one fixed-width line per range, rewritten in place:
//!
//! ```text
//! ftp-client segments 1
//! size 00000000000104857600
//! mtime           1700000000
//! seg 00000000000000000000 00000000000001048576 00000000000026214400
//! ```
//!
//! (`seg START NEXT END`: bytes `START..NEXT` are on disk, `NEXT..END` are still to come.)

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use futures_lite::io::AsyncReadExt;
use indicatif::ProgressBar;

use super::output::{progress_bar, summary};
use super::paths::lossy;
use super::session::{retry_pause, Session};
use super::transfer::{download_file, part_path};
use super::{fail, Ctx};
use crate::data::dl_error;
use crate::error::ErrorClass;
use crate::TransferKind;

/// The smallest range worth a connection of its own (lftp's `pget:min-chunk-size`).
const MIN_SEGMENT: u64 = 1 << 20;
/// The most connections one download opens.
pub(crate) const MAX_SEGMENTS: usize = 16;
/// The progress file is rewritten after every this many bytes of a range.
const SAVE_EVERY: u64 = 1 << 20;
const MAGIC: &str = "ftp-client segments 1";

/// `.NAME.part.segments`: the progress of the segmented download into `part`.
pub(crate) fn state_path(part: &Path) -> PathBuf {
    let mut p = part.as_os_str().to_os_string();
    p.push(".segments");
    PathBuf::from(p)
}

/// One range: `start..pos` is on disk, `pos..end` is still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    start: u64,
    pos: u64,
    end: u64,
}

/// Every range of one download, and the file that records them.
#[derive(Debug)]
struct Progress {
    size: u64,
    mtime: Option<i64>,
    segs: Vec<Segment>,
    file: Option<File>,
}

impl Progress {
    /// `n` equal ranges of `size` bytes, none fetched.
    fn split(size: u64, mtime: Option<i64>, n: usize) -> Progress {
        let len = size.div_ceil(n as u64).max(1);
        let segs = (0..n as u64)
            .map(|i| (i * len).min(size))
            .map(|start| Segment {
                start,
                pos: start,
                end: (start + len).min(size),
            })
            .filter(|s| s.start < s.end)
            .collect();
        Progress {
            size,
            mtime,
            segs,
            file: None,
        }
    }

    fn encode(&self) -> String {
        let mtime = self.mtime.map_or("-".to_string(), |t| t.to_string());
        let mut s = format!("{MAGIC}\nsize {:020}\nmtime {mtime:>20}\n", self.size);
        for g in &self.segs {
            s.push_str(&format!(
                "seg {:020} {:020} {:020}\n",
                g.start, g.pos, g.end
            ));
        }
        s
    }

    /// Reads a progress file; `None` unless its ranges cover `0..size` in order.
    fn parse(text: &str) -> Option<Progress> {
        let mut lines = text.lines();
        (lines.next()? == MAGIC).then_some(())?;
        let size = lines.next()?.strip_prefix("size ")?.trim().parse().ok()?;
        let mtime = match lines.next()?.strip_prefix("mtime ")?.trim() {
            "-" => None,
            t => Some(t.parse().ok()?),
        };
        let mut segs: Vec<Segment> = Vec::new();
        for l in lines {
            let mut n = l.strip_prefix("seg ")?.split(' ').map(|v| v.parse().ok());
            let (start, pos, end) = (n.next()??, n.next()??, n.next()??);
            let follows = segs.last().map_or(0, |s| s.end) == start;
            (follows && start <= pos && pos <= end).then_some(())?;
            segs.push(Segment { start, pos, end });
        }
        (segs.last()?.end == size).then_some(Progress {
            size,
            mtime,
            segs,
            file: None,
        })
    }

    /// Writes the ranges into the progress file (created at `path` the first time).
    fn save(&mut self, path: &Path) -> Result<()> {
        let text = self.encode();
        if self.file.is_none() {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path)
                .with_context(|| format!("creating {}", path.display()))?;
            self.file = Some(f);
        }
        if let Some(f) = &self.file {
            f.write_all_at(text.as_bytes(), 0)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    /// The bytes on disk from the start without a gap.
    fn prefix(&self) -> u64 {
        let mut end = 0;
        for s in &self.segs {
            end = s.pos;
            if s.pos < s.end {
                break;
            }
        }
        end
    }

    fn done(&self) -> u64 {
        self.segs.iter().map(|s| s.pos - s.start).sum()
    }
}

/// Before a one-stream download into `part`: a segmented download's progress file is
/// removed and, when resuming, `part` cut at the end of the bytes known to be there from
/// its start (the rest may be holes).
pub(crate) fn to_one_stream(part: &Path, resume: bool) -> Result<()> {
    let state = state_path(part);
    let Ok(text) = std::fs::read_to_string(&state) else {
        return Ok(());
    };
    if resume {
        let keep = Progress::parse(&text).map_or(0, |p| p.prefix());
        let f = std::fs::OpenOptions::new().write(true).open(part);
        if let Ok(f) = f {
            f.set_len(keep)
                .with_context(|| format!("truncating {}", part.display()))?;
        }
    }
    std::fs::remove_file(&state).with_context(|| format!("removing {}", state.display()))
}

/// What one download is: the remote file, where it goes, and how to fetch it.
struct Job<'a> {
    remote: &'a [u8],
    name: String,
    part: PathBuf,
    state: PathBuf,
    file: File,
    progress: RefCell<Progress>,
    pb: Option<ProgressBar>,
}

/// Downloads `remote` into `local` over up to `n` connections (`sess` and new ones to the
/// same server); resumes a recorded download when `resume`. Returns the file's size.
pub(crate) async fn download_segmented(
    ctx: &Ctx,
    sess: &mut Session,
    remote: &[u8],
    local: &Path,
    n: usize,
    resume: bool,
) -> Result<u64> {
    let part = part_path(local);
    let state = state_path(&part);
    let (size, mtime, stream) = {
        let c = sess.client().await?;
        let size = c.size(remote).await.ok();
        let mtime = c.mdtm(remote).await.ok();
        let feat = c.feat().await.ok();
        let stream = feat
            .and_then(|f| f.params("REST"))
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("STREAM"));
        (size, mtime, stream)
    };
    let n = n.clamp(1, MAX_SEGMENTS);
    let fits = size.map_or(0, |s| (s / MIN_SEGMENT) as usize).min(n);
    let regular = std::fs::metadata(local).map_or(true, |m| m.is_file());
    let resumed = resume
        .then(|| resumable(&part, &state, size, mtime))
        .flatten();
    let plain = ctx.kind == TransferKind::Ascii
        || !regular
        || (ctx.no_clobber && !resume && local.exists())
        || (resume && resumed.is_none() && local.exists() && !part.exists());
    let Some(size) = size.filter(|_| stream && !plain && (fits >= 2 || resumed.is_some())) else {
        if !stream && n > 1 && !ctx.quiet {
            let name = lossy(remote);
            eprintln!("get {name}: the server has no REST STREAM; one stream instead of {n}");
        }
        return download_file(ctx, sess, remote, local, resume, mtime, size).await;
    };
    let unix = mtime.map(|t| t.to_unix().0);
    let progress = match resumed {
        Some(p) => p,
        None => fresh(&part, &state, size, unix, fits, resume)?,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&part)
        .with_context(|| format!("opening {}", part.display()))?;
    let name = lossy(remote);
    let job = Job {
        remote,
        pb: progress_bar(ctx, &name, Some(size), progress.done()),
        name,
        part,
        state,
        file,
        progress: RefCell::new(progress),
    };
    let started = Instant::now();
    let before = job.progress.borrow().done();
    fetch_all(ctx, sess, &job).await?;
    if let Some(pb) = &job.pb {
        pb.finish_and_clear();
    }
    if let Some(t) = mtime {
        let _ = job.file.set_modified(t.to_system_time());
    }
    std::fs::rename(&job.part, local)
        .with_context(|| format!("renaming to {}", local.display()))?;
    let _ = std::fs::remove_file(&job.state);
    summary(ctx, "pget", &job.name, size - before, started);
    Ok(size)
}

/// The recorded progress of an earlier download of the same file (size and time alike),
/// if its `.part` is still there.
fn resumable(
    part: &Path,
    state: &Path,
    size: Option<u64>,
    mtime: Option<ftp_proto::Timestamp>,
) -> Option<Progress> {
    let p = Progress::parse(&std::fs::read_to_string(state).ok()?)?;
    let same_time = match (p.mtime, mtime) {
        (Some(a), Some(b)) => a == b.to_unix().0,
        _ => true,
    };
    let whole = std::fs::metadata(part).ok()?.len() == p.size;
    (Some(p.size) == size && same_time && whole).then_some(p)
}

/// A new download: the `.part` preallocated to `size` (the bytes of an earlier one-stream
/// download kept when `resume`), split into `n` ranges, the progress file written.
fn fresh(
    part: &Path,
    state: &Path,
    size: u64,
    mtime: Option<i64>,
    n: usize,
    resume: bool,
) -> Result<Progress> {
    // A `.part` of one stream is good from its start; one of a download recorded as
    // something else (the remote file changed) is not.
    let had = match resume && !state.exists() {
        true => std::fs::metadata(part).map_or(0, |m| m.len()).min(size),
        false => 0,
    };
    let _ = std::fs::remove_file(state);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(had == 0)
        .open(part)
        .with_context(|| format!("creating {}", part.display()))?;
    f.set_len(size)
        .with_context(|| format!("preallocating {}", part.display()))?;
    // Real blocks where the filesystem can (so the disk cannot fill up half way).
    let _ = rustix::fs::fallocate(&f, rustix::fs::FallocateFlags::empty(), 0, size);
    let mut p = Progress::split(size, mtime, n.max(1));
    for s in &mut p.segs {
        s.pos = had.clamp(s.start, s.end);
    }
    p.save(state)?;
    Ok(p)
}

/// Fetches every unfinished range, each on its own connection (`sess` for the first);
/// the first failure is returned once all have stopped.
async fn fetch_all(ctx: &Ctx, sess: &mut Session, job: &Job<'_>) -> Result<()> {
    let todo: Vec<usize> = {
        let p = job.progress.borrow();
        (0..p.segs.len())
            .filter(|i| p.segs[*i].pos < p.segs[*i].end)
            .collect()
    };
    let mut siblings: Vec<Session> = (1..todo.len()).map(|_| sess.sibling(ctx)).collect();
    let sessions = std::iter::once(&mut *sess).chain(siblings.iter_mut());
    let futs = sessions
        .zip(todo)
        .map(|(s, i)| fetch_segment(ctx, s, job, i));
    let results = futures::future::join_all(futs).await;
    for mut s in siblings {
        s.quit().await;
    }
    let saved = job.progress.borrow_mut().save(&job.state);
    results.into_iter().collect::<Result<Vec<()>>>()?;
    saved
}

/// Fetches range `i`, retrying (from where it stopped) as transfers are retried.
async fn fetch_segment(ctx: &Ctx, sess: &mut Session, job: &Job<'_>, i: usize) -> Result<()> {
    let mut attempt = 0;
    loop {
        match fetch_once(sess, job, i).await {
            Ok(()) => return Ok(()),
            Err(e) => retry_pause(ctx, sess, &job.name, e, &mut attempt).await?,
        }
    }
}

/// One attempt at range `i`: `REST pos`, `RETR`, written in place up to the range's end,
/// then `ABOR` (or, for the last range, the end of the data and its reply).
async fn fetch_once(sess: &mut Session, job: &Job<'_>, i: usize) -> Result<()> {
    let (mut pos, end, last) = {
        let p = job.progress.borrow();
        let s = p.segs[i];
        (s.pos, s.end, s.end == p.size)
    };
    if pos >= end {
        return Ok(());
    }
    let c = sess.client().await?;
    let mut dl = c.retr(job.remote, pos).await?;
    let mut buf = vec![0u8; 128 * 1024];
    let mut unsaved = 0;
    while pos < end || last {
        let n = dl
            .read(&mut buf)
            .await
            .map_err(|e| dl_error("receiving data", e))?;
        if n == 0 {
            break;
        }
        let take = (n as u64).min(end - pos) as usize;
        if take < n && last {
            return Err(changed(job, "grew"));
        }
        job.file
            .write_all_at(&buf[..take], pos)
            .with_context(|| format!("writing {}", job.part.display()))?;
        pos += take as u64;
        unsaved += take as u64;
        job.progress.borrow_mut().segs[i].pos = pos;
        if let Some(pb) = &job.pb {
            pb.inc(take as u64);
        }
        if unsaved >= SAVE_EVERY {
            job.progress.borrow_mut().save(&job.state)?;
            unsaved = 0;
        }
    }
    job.progress.borrow_mut().save(&job.state)?;
    if pos < end {
        dl.finish().await?;
        return Err(changed(job, "shrank"));
    }
    match last {
        true => dl.finish().await.map(drop)?,
        false => dl.abort().await?,
    }
    Ok(())
}

fn changed(job: &Job<'_>, how: &str) -> anyhow::Error {
    fail(
        ErrorClass::Transfer,
        format!(
            "{}: the remote file {how} during the download; download it again without -c",
            job.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_file_and_their_record_reads_back() {
        let mut p = Progress::split(10 * MIN_SEGMENT + 3, Some(1_700_000_000), 4);
        assert_eq!(p.segs.len(), 4);
        assert_eq!(p.segs[0].start, 0);
        assert_eq!(p.segs[3].end, p.size);
        assert!(p.segs.windows(2).all(|w| w[0].end == w[1].start));
        p.segs[1].pos += 5;
        let text = p.encode();
        let back = Progress::parse(&text).expect("parses");
        assert_eq!(
            (back.size, back.mtime, &back.segs),
            (p.size, p.mtime, &p.segs)
        );
        assert_eq!(back.done(), 5);
        assert_eq!(back.prefix(), 0, "range 0 has not started");
        p.segs[0].pos = p.segs[0].end;
        assert_eq!(p.prefix(), p.segs[1].pos);
        p.segs[0].pos = 0;
        // Fixed width: rewriting in place never leaves a stale tail.
        p.segs[1].pos = p.segs[1].end;
        assert_eq!(p.encode().len(), text.len());
        assert!(Progress::parse(&text.replace("seg 00000000000000000000", "seg 1")).is_none());
        assert!(Progress::parse("garbage").is_none());
        assert_eq!(Progress::split(3, None, 8).segs.len(), 3);
    }
}
