//! Remote files and directories: `mkdir`, `rmdir`, `delete` (`rm -r`), `mrm`, `rename`,
//! `chmod`, `size`, `modtime`.

use std::io::Write;

use anyhow::Result;

use super::commands::Call;
use super::navigation::{expand, is_glob};
use super::transfer::Batch;
use super::State;
use crate::cli::names::escape_controls;
use crate::cli::paths::{lossy, make_parents, rjoin, walk_tree};
use crate::cli::{error_text, fail};
use crate::error::ErrorClass;
use crate::{Client, EntryKind};

/// `mkdir [-p] PATH`.
pub(super) async fn mkdir(st: &mut State, call: Call<'_>) -> Result<()> {
    let p = call.arg(0)?;
    let quiet = st.ctx.quiet;
    let c = st.sess()?.client().await?;
    if call.args.iter().any(|a| a == "-p") {
        let p = call
            .args
            .iter()
            .find(|a| *a != "-p")
            .cloned()
            .unwrap_or_default();
        make_parents(c, p.as_bytes()).await;
        let _ = c.mkdir(p.as_bytes()).await;
    } else {
        let made = c.mkdir(p.as_bytes()).await?;
        if !quiet {
            eprintln!("created {}", escape_controls(&made));
        }
    }
    Ok(())
}

pub(super) async fn rmdir(st: &mut State, call: Call<'_>) -> Result<()> {
    let p = call.arg(0)?;
    st.sess()?.client().await?.rmdir(p.as_bytes()).await?;
    Ok(())
}

/// `delete [-r] PATH...` (also `rm`): globs matched against the listing; `-r` removes
/// directories with everything in them.
pub(super) async fn delete(st: &mut State, call: Call<'_>) -> Result<()> {
    let (flags, words) = call.flags("rR")?;
    if words.is_empty() {
        return Err(call.usage());
    }
    remove(st, words, !flags.is_empty()).await
}

/// `mrm PATTERN...`: the files matching the globs.
pub(super) async fn mrm(st: &mut State, call: Call<'_>) -> Result<()> {
    if call.args.is_empty() {
        return Err(call.usage());
    }
    remove(st, call.args, false).await
}

async fn remove(st: &mut State, words: &[String], recursive: bool) -> Result<()> {
    let verbose = st.ctx.verbose > 0;
    let c = st.sess()?.client().await?;
    let targets = expand_all(c, words).await?;
    let one = targets.len() == 1;
    let mut batch = Batch::default();
    for (path, kind) in targets {
        batch.matched += 1;
        let dir = recursive
            && match kind {
                Some(k) => k == EntryKind::Dir,
                None => c.is_dir(&path).await.unwrap_or(false),
            };
        let r = match dir {
            true => remove_tree(c, &path).await,
            false => c.delete(&path).await.map_err(Into::into),
        };
        match r {
            Err(e) if one => return Err(e),
            Err(e) => {
                eprintln!("rm {}: {}", lossy(&path), error_text(&e));
                batch.failed += 1;
            }
            Ok(()) if verbose => eprintln!("deleted {}", lossy(&path)),
            Ok(()) => {}
        }
    }
    batch.result("nothing to delete")
}

/// Removes the directory `dir` and everything under it, the deepest first.
async fn remove_tree(c: &mut Client, dir: &[u8]) -> Result<()> {
    let entries = walk_tree(c, dir, |_, _| true).await?;
    for (rel, e) in entries.iter().rev() {
        let p = rjoin(dir, rel);
        match e.kind {
            EntryKind::Dir => c.rmdir(&p).await?,
            _ => c.delete(&p).await?,
        }
    }
    c.rmdir(dir).await?;
    Ok(())
}

/// Every path the words name, globs expanded (see [`expand`]).
async fn expand_all(c: &mut Client, words: &[String]) -> Result<Vec<(Vec<u8>, Option<EntryKind>)>> {
    let mut out = Vec::new();
    for w in words {
        out.extend(expand(c, w).await?);
    }
    Ok(out)
}

/// `rename FROM TO` (also `mv`); a glob in FROM moves every match into the directory TO.
pub(super) async fn rename(st: &mut State, call: Call<'_>) -> Result<()> {
    let (from, to) = (call.arg(0)?, call.arg(1)?);
    let c = st.sess()?.client().await?;
    if !is_glob(from) {
        c.rename(from.as_bytes(), to.as_bytes()).await?;
        return Ok(());
    }
    if !c.is_dir(to).await? {
        return Err(fail(
            ErrorClass::Usage,
            format!("rename {from} {to}: with a glob, {to} must be a directory"),
        ));
    }
    let mut batch = Batch::default();
    for (path, _) in expand(c, from).await? {
        batch.matched += 1;
        let name = path.rsplit(|b| *b == b'/').next().unwrap_or(&path);
        if let Err(e) = c.rename(&path, rjoin(to.as_bytes(), name)).await {
            eprintln!("rename {}: {e}", lossy(&path));
            batch.failed += 1;
        }
    }
    batch.result("nothing to rename")
}

/// `chmod MODE PATH...`: `SITE CHMOD`, MODE in octal (`644`, `0755`), globs matched here.
pub(super) async fn chmod(st: &mut State, call: Call<'_>) -> Result<()> {
    let mode = call.arg(0)?;
    let bits = u32::from_str_radix(mode, 8)
        .ok()
        .filter(|m| *m <= 0o7777 && (3..=4).contains(&mode.len()))
        .ok_or_else(|| {
            fail(
                ErrorClass::Usage,
                format!("chmod: {mode:?} is not an octal mode such as 644 or 0755"),
            )
        })?;
    let words = &call.args[1..];
    if words.is_empty() {
        return Err(call.usage());
    }
    let c = st.sess()?.client().await?;
    let targets = expand_all(c, words).await?;
    let one = targets.len() == 1;
    let mut batch = Batch::default();
    for (path, _) in targets {
        batch.matched += 1;
        match c.chmod(&path, bits).await {
            Err(e) if one => return Err(e.into()),
            Err(e) => {
                eprintln!("chmod {}: {e}", lossy(&path));
                batch.failed += 1;
            }
            Ok(()) => {}
        }
    }
    batch.result("nothing to change")
}

pub(super) async fn size(st: &mut State, call: Call<'_>) -> Result<()> {
    let p = call.arg(0)?;
    let n = st.sess()?.client().await?.size(p.as_bytes()).await?;
    writeln!(std::io::stdout(), "{p}\t{n}")?;
    Ok(())
}

pub(super) async fn modtime(st: &mut State, call: Call<'_>) -> Result<()> {
    let p = call.arg(0)?;
    let t = st.sess()?.client().await?.mdtm(p.as_bytes()).await?;
    writeln!(
        std::io::stdout(),
        "{p}\t{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )?;
    Ok(())
}
