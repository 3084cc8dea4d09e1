//! Transfers: `get`, `reget`, `put`, `reput`, `mget`, `mput`, `cat`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::commands::Call;
use super::navigation::{is_glob, remote_glob};
use super::words::escape_word;
use super::State;
use crate::cli::names::{escape_controls, local_name_or_warn};
use crate::cli::paths::{named_after, remote_name, rjoin};
use crate::cli::segments::{download_segmented, MAX_SEGMENTS};
use crate::cli::transfer::{download_file, upload_file};
use crate::cli::{error_text, fail};
use crate::data::dl_error;
use crate::error::ErrorClass;
use crate::EntryKind;

pub(super) async fn get(st: &mut State, call: Call<'_>) -> Result<()> {
    download(st, call, false).await
}

pub(super) async fn reget(st: &mut State, call: Call<'_>) -> Result<()> {
    download(st, call, true).await
}

/// `get REMOTE [LOCAL]`: LOCAL defaults to REMOTE's last component; Ctrl-C reports how to
/// resume (`reget …`).
async fn download(st: &mut State, call: Call<'_>, resume: bool) -> Result<()> {
    let remote = call.arg(0)?;
    if is_glob(remote) {
        let into = call.args.get(1).map(PathBuf::from);
        if call.args.len() > 2 || into.as_ref().is_some_and(|d| !d.is_dir()) {
            return Err(fail(
                ErrorClass::Usage,
                format!("{}: with a glob, LOCAL must be a directory", call.cmd.name),
            ));
        }
        return get_matching(st, &call.args[..1], into.as_deref(), resume).await;
    }
    let local = match call.args.get(1) {
        Some(l) => PathBuf::from(l),
        None => named_after(base_name(remote.as_bytes()))?,
    };
    let ctx = st.ctx.clone();
    let again: Vec<String> = call.args.iter().map(|a| escape_word(a)).collect();
    st.in_flight = Some((local.clone(), format!("reget {}", again.join(" "))));
    let s = st.sess()?;
    download_file(&ctx, s, remote.as_bytes(), &local, resume, None, None).await?;
    Ok(())
}

/// `pget [-c] [-n N] REMOTE [LOCAL]`: N connections (default 4), one range each; `-c`
/// resumes a recorded download. Ctrl-C reports how to resume.
pub(super) async fn pget(st: &mut State, call: Call<'_>) -> Result<()> {
    let mut resume = false;
    let mut n = DEFAULT_SEGMENTS;
    let mut words = Vec::new();
    let mut args = call.args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-c" => resume = true,
            "-n" => n = segments_count(args.next().map(String::as_str), call)?,
            w if w.starts_with("-n") => n = segments_count(Some(&w[2..]), call)?,
            w if w.starts_with('-') && w.len() > 1 => return Err(call.usage()),
            _ => words.push(a.clone()),
        }
    }
    let remote = words.first().ok_or_else(|| call.usage())?;
    if words.len() > 2 {
        return Err(call.usage());
    }
    let local = match words.get(1) {
        Some(l) => PathBuf::from(l),
        None => named_after(base_name(remote.as_bytes()))?,
    };
    let ctx = st.ctx.clone();
    let again: Vec<String> = words.iter().map(|a| escape_word(a)).collect();
    let again = format!("pget -c -n {n} {}", again.join(" "));
    st.in_flight = Some((local.clone(), again));
    let s = st.sess()?;
    download_segmented(&ctx, s, remote.as_bytes(), &local, n, resume).await?;
    Ok(())
}

/// `pget` without `-n`.
const DEFAULT_SEGMENTS: usize = 4;

fn segments_count(word: Option<&str>, call: Call<'_>) -> Result<usize> {
    word.and_then(|w| w.parse().ok())
        .filter(|n| (1..=MAX_SEGMENTS).contains(n))
        .ok_or_else(|| {
            fail(
                ErrorClass::Usage,
                format!(
                    "pget -n takes 1 to {MAX_SEGMENTS}; usage: {}",
                    call.cmd.usage
                ),
            )
        })
}

pub(super) async fn put(st: &mut State, call: Call<'_>) -> Result<()> {
    upload(st, call, false).await
}

pub(super) async fn reput(st: &mut State, call: Call<'_>) -> Result<()> {
    upload(st, call, true).await
}

/// `put LOCAL [REMOTE]`: REMOTE defaults to LOCAL's file name.
async fn upload(st: &mut State, call: Call<'_>, resume: bool) -> Result<()> {
    let local = Path::new(call.arg(0)?);
    let remote = match call.args.get(1) {
        Some(r) => r.as_bytes().to_vec(),
        None => remote_name(Path::new(local.file_name().unwrap_or_default())),
    };
    let ctx = st.ctx.clone();
    let s = st.sess()?;
    upload_file(&ctx, s, local, &remote, resume, true).await?;
    Ok(())
}

/// How many files of a batch matched and how many of them failed.
#[derive(Default)]
pub(super) struct Batch {
    pub matched: usize,
    pub failed: usize,
}

impl Batch {
    /// No match is "not found"; any failure makes the batch partial.
    pub fn result(self, none_matched: &str) -> Result<()> {
        if self.matched == 0 {
            return Err(fail(ErrorClass::NotFound, none_matched.to_string()));
        }
        if self.failed > 0 {
            let msg = format!("{} of {} files failed", self.failed, self.matched);
            return Err(fail(ErrorClass::Partial, msg));
        }
        Ok(())
    }
}

/// `mget PATTERN...`: the remote files matching each glob, into the local directory.
pub(super) async fn mget(st: &mut State, call: Call<'_>) -> Result<()> {
    if call.args.is_empty() {
        return Err(call.usage());
    }
    get_matching(st, call.args, None, false).await
}

/// Downloads the remote files matching each glob into `into` (default: the local
/// directory).
async fn get_matching(
    st: &mut State,
    patterns: &[String],
    into: Option<&Path>,
    resume: bool,
) -> Result<()> {
    let ctx = st.ctx.clone();
    let mut batch = Batch::default();
    for pat in patterns {
        let (dir, pattern) = remote_glob(pat)?;
        let entries = st.sess()?.client().await?.list(Some(&dir)).await?;
        for e in entries.iter().filter(|e| e.kind == EntryKind::File) {
            if !pattern.matches(&e.name_lossy()) {
                continue;
            }
            batch.matched += 1;
            let Some(local) = local_name_or_warn(&e.name) else {
                batch.failed += 1;
                continue;
            };
            let local = match into {
                Some(d) => d.join(local),
                None => local,
            };
            let remote = rjoin(&dir, &e.name);
            let again = format!("reget {}", escape_word(&e.name_lossy()));
            st.in_flight = Some((local.clone(), again));
            let s = st.sess()?;
            if let Err(err) =
                download_file(&ctx, s, &remote, &local, resume, e.modified, None).await
            {
                let name = escape_controls(&e.name);
                eprintln!("mget {name}: {}", error_text(&err));
                batch.failed += 1;
            }
        }
    }
    batch.result("no remote file matches")
}

/// `mput PATTERN...`: the local files matching each glob, into the remote directory.
pub(super) async fn mput(st: &mut State, call: Call<'_>) -> Result<()> {
    if call.args.is_empty() {
        return Err(call.usage());
    }
    let ctx = st.ctx.clone();
    let s = st.sess()?;
    let mut batch = Batch::default();
    for pat in call.args {
        let paths = glob::glob(pat)
            .map_err(|e| fail(ErrorClass::Usage, format!("bad pattern {pat}: {e}")))?;
        for p in paths.flatten().filter(|p| p.is_file()) {
            batch.matched += 1;
            let remote = remote_name(Path::new(p.file_name().unwrap_or_default()));
            if let Err(err) = upload_file(&ctx, s, &p, &remote, false, true).await {
                eprintln!("mput {}: {}", p.display(), error_text(&err));
                batch.failed += 1;
            }
        }
    }
    batch.result("no local file matches")
}

/// `cat REMOTE`: the file to stdout.
pub(super) async fn cat(st: &mut State, call: Call<'_>) -> Result<()> {
    let remote = call.arg(0)?;
    let c = st.sess()?.client().await?;
    let mut dl = c.retr(remote.as_bytes(), 0).await?;
    let mut out = std::io::stdout();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = futures_lite::io::AsyncReadExt::read(&mut dl, &mut buf)
            .await
            .map_err(|e| dl_error("receiving data", e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
    }
    dl.finish().await?;
    Ok(())
}

fn base_name(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|b| *b == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}
