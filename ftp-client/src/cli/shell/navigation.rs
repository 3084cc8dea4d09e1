//! Navigation and listings: `ls`, `dir`, `cd`, `cdup`, `pwd`.

use std::io::Write;

use anyhow::Result;

use super::commands::Call;
use super::State;
use crate::cli::fail;
use crate::cli::names::for_stdout;
use crate::cli::output::write_entries;
use crate::cli::paths::rjoin;
use crate::error::ErrorClass;
use crate::{Client, EntryKind};

/// `ls [PATH]`: names only.
pub(super) async fn ls(st: &mut State, call: Call<'_>) -> Result<()> {
    list(st, call, false).await
}

/// `dir [PATH]`: long lines.
pub(super) async fn dir(st: &mut State, call: Call<'_>) -> Result<()> {
    list(st, call, true).await
}

async fn list(st: &mut State, call: Call<'_>, long: bool) -> Result<()> {
    let tty = st.ctx.stdout_tty;
    let c = st.sess()?.client().await?;
    let entries = match call.args.first() {
        // A glob is matched here, as mget does: servers differ in what they do.
        Some(pat) if is_glob(pat) => {
            let (dir, pattern) = remote_glob(pat)?;
            let mut v = c.list(Some(&dir)).await?;
            v.retain(|e| pattern.matches(&e.name_lossy()));
            for e in v.iter_mut().filter(|_| !dir.is_empty()) {
                e.name = rjoin(&dir, &e.name);
            }
            if v.is_empty() {
                return Err(fail(ErrorClass::NotFound, format!("{pat}: no match")));
            }
            v
        }
        path => c.list(path.map(|p| p.as_bytes())).await?,
    };
    write_entries(&entries, long, tty)?;
    Ok(())
}

/// `cd PATH`; the new directory is remembered for reconnects.
pub(super) async fn cd(st: &mut State, call: Call<'_>) -> Result<()> {
    let p = call.arg(0)?;
    let s = st.sess()?;
    let c = s.client().await?;
    c.cwd(p.as_bytes()).await?;
    s.cwd = Some(c.pwd().await?);
    Ok(())
}

pub(super) async fn cdup(st: &mut State, _: Call<'_>) -> Result<()> {
    let s = st.sess()?;
    let c = s.client().await?;
    c.cdup().await?;
    s.cwd = Some(c.pwd().await?);
    Ok(())
}

pub(super) async fn pwd(st: &mut State, _: Call<'_>) -> Result<()> {
    let tty = st.ctx.stdout_tty;
    let p = st.sess()?.client().await?.pwd().await?;
    let mut out = std::io::stdout();
    out.write_all(&for_stdout(&p, tty))?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A remote glob (`dir/*.txt`): the directory to list and the pattern its names must match.
pub(super) fn remote_glob(pat: &str) -> Result<(Vec<u8>, glob::Pattern)> {
    let (dir, name_pat) = match pat.rfind('/') {
        Some(i) => (pat.as_bytes()[..i].to_vec(), &pat[i + 1..]),
        None => (Vec::new(), pat),
    };
    let pattern = glob::Pattern::new(name_pat)
        .map_err(|e| fail(ErrorClass::Usage, format!("bad pattern {pat}: {e}")))?;
    Ok((dir, pattern))
}

/// True if `word` holds a glob character (`*`, `?`, `[`).
pub(super) fn is_glob(word: &str) -> bool {
    word.contains(['*', '?', '['])
}

/// The remote paths a word names: the word itself, or, with a glob, every name in its
/// directory that matches (with its kind), matched here from the listing; none is
/// "not found".
pub(super) async fn expand(
    c: &mut Client,
    word: &str,
) -> Result<Vec<(Vec<u8>, Option<EntryKind>)>> {
    if !is_glob(word) {
        return Ok(vec![(word.as_bytes().to_vec(), None)]);
    }
    let (dir, pattern) = remote_glob(word)?;
    let found: Vec<_> = c
        .list(Some(&dir))
        .await?
        .into_iter()
        .filter(|e| e.name != b"." && e.name != b".." && pattern.matches(&e.name_lossy()))
        .map(|e| (rjoin(&dir, &e.name), Some(e.kind)))
        .collect();
    if found.is_empty() {
        return Err(fail(ErrorClass::NotFound, format!("{word}: no match")));
    }
    Ok(found)
}
