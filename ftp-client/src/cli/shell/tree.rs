//! Remote trees: `du` and `find`, both from a recursive listing (`walk_tree`).

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;

use super::commands::Call;
use super::State;
use crate::cli::names::for_stdout;
use crate::cli::paths::{rjoin, walk_tree};
use crate::EntryKind;

/// `du [-h] [-s] [PATH]`: the bytes of the files under each directory of PATH (default
/// `.`), the deepest first and PATH last, as `du` prints them; `-s` only PATH's total.
pub(super) async fn du(st: &mut State, call: Call<'_>) -> Result<()> {
    let (flags, words) = call.flags("hs")?;
    let (human, summary) = (flags.contains('h'), flags.contains('s'));
    let root = words.first().map_or(".", String::as_str);
    if words.len() > 1 {
        return Err(call.usage());
    }
    let tty = st.ctx.stdout_tty;
    let c = st.sess()?.client().await?;
    if !c.is_dir(root).await? {
        // A file: its own size.
        let size = c.size(root).await?;
        let size = if human {
            human_size(size)
        } else {
            size.to_string()
        };
        let mut out = std::io::stdout();
        out.write_all(format!("{size}\t").as_bytes())?;
        out.write_all(&for_stdout(root.as_bytes(), tty))?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    let entries = walk_tree(c, root.as_bytes(), |_, _| true).await?;
    let mut totals: BTreeMap<&[u8], u64> = BTreeMap::new();
    totals.insert(b"", 0);
    for (rel, e) in &entries {
        if e.kind == EntryKind::Dir {
            totals.entry(rel).or_insert(0);
            continue;
        }
        let size = e.size.unwrap_or(0);
        // The file counts in its every ancestor: "a/b/f" in "", "a" and "a/b".
        *totals.entry(b"").or_insert(0) += size;
        for (i, _) in rel.iter().enumerate().filter(|(_, b)| **b == b'/') {
            *totals.entry(&rel[..i]).or_insert(0) += size;
        }
    }
    let mut out = std::io::stdout();
    let mut line = |rel: &[u8], bytes: u64| -> std::io::Result<()> {
        let size = if human {
            human_size(bytes)
        } else {
            bytes.to_string()
        };
        let path = if rel.is_empty() {
            root.as_bytes().to_vec()
        } else {
            rjoin(root.as_bytes(), rel)
        };
        out.write_all(format!("{size}\t").as_bytes())?;
        out.write_all(&for_stdout(&path, tty))?;
        out.write_all(b"\n")
    };
    if !summary {
        // Directories in reverse walk order: each after everything below it.
        for (rel, _) in entries
            .iter()
            .rev()
            .filter(|(_, e)| e.kind == EntryKind::Dir)
        {
            line(rel, totals.get(rel.as_slice()).copied().unwrap_or(0))?;
        }
    }
    line(b"", totals[&b""[..]])?;
    Ok(())
}

/// `find [PATH]`: PATH (default `.`) and every path under it, sorted, one a line;
/// directories end in `/`.
pub(super) async fn find(st: &mut State, call: Call<'_>) -> Result<()> {
    let root = call.args.first().map_or(".", String::as_str);
    if call.args.len() > 1 {
        return Err(call.usage());
    }
    let tty = st.ctx.stdout_tty;
    let c = st.sess()?.client().await?;
    let mut out = std::io::stdout();
    if !c.is_dir(root).await? {
        // A file (or nothing: SIZE says which).
        c.size(root).await?;
        out.write_all(&for_stdout(root.as_bytes(), tty))?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    let entries = walk_tree(c, root.as_bytes(), |_, _| true).await?;
    let mut paths: Vec<Vec<u8>> = entries
        .into_iter()
        .map(|(rel, e)| {
            let mut p = rjoin(root.as_bytes(), &rel);
            if e.kind == EntryKind::Dir {
                p.push(b'/');
            }
            p
        })
        .collect();
    paths.sort();
    let mut top = root.trim_end_matches('/').as_bytes().to_vec();
    top.push(b'/');
    for p in std::iter::once(top).chain(paths) {
        out.write_all(&for_stdout(&p, tty))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// `du -h` sizes: `512`, `1.5K`, `12M`, `3.0G` (powers of 1024; one decimal below 10).
fn human_size(bytes: u64) -> String {
    let mut v = bytes as f64;
    let mut unit = "";
    for u in ["K", "M", "G", "T", "P"] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    match (unit, v < 10.0) {
        ("", _) => bytes.to_string(),
        (_, true) => format!("{v:.1}{unit}"),
        (_, false) => format!("{v:.0}{unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn du_sizes_read_like_du_h() {
        assert_eq!(human_size(512), "512");
        assert_eq!(human_size(1536), "1.5K");
        assert_eq!(human_size(12 * 1024 * 1024), "12M");
        assert_eq!(human_size(3 << 30), "3.0G");
    }
}
