//! What the subcommands and the shell print: progress bars, transfer summaries, listings
//! (names, long lines, JSON) and `stat`.

use std::io::Write;
use std::time::Instant;

use indicatif::ProgressBar;

use super::names::{escape_controls, for_stdout, percent_encoded};
use super::Ctx;
use crate::listing::{Entry, EntryKind};

pub(crate) fn progress_bar(
    ctx: &Ctx,
    name: &str,
    total: Option<u64>,
    start: u64,
) -> Option<ProgressBar> {
    if !ctx.progress {
        return None;
    }
    let pb = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::new_spinner(),
    };
    if let Some(style) = super::progress::style(total.is_some(), ctx.color) {
        pb.set_style(style);
    }
    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    pb.set_message(escape_controls(name.as_bytes()).into_owned());
    pb.set_position(start);
    Some(pb)
}

pub(crate) fn summary(ctx: &Ctx, verb: &str, name: &str, bytes: u64, started: Instant) {
    if ctx.quiet {
        return;
    }
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    let rate = bytes as f64 / secs;
    eprintln!(
        "{verb} {name}: {bytes} bytes in {secs:.2}s ({})",
        human_rate(rate)
    );
}

pub(crate) fn human_rate(r: f64) -> String {
    let units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
    let mut r = r;
    let mut i = 0;
    while r >= 1024.0 && i + 1 < units.len() {
        r /= 1024.0;
        i += 1;
    }
    format!("{r:.1} {}", units[i])
}

fn kind_char(k: EntryKind) -> char {
    match k {
        EntryKind::File => '-',
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Other => '?',
    }
}

/// `2024-01-05 12:30 UTC` for an exact time (MLSx facts, MDTM), `2024-01-05 12:30` and
/// three spaces for a `LIST` time, which is in the server's own time zone; `seconds` adds
/// them. `-` and padding without a time.
fn time_string(t: Option<ftp_proto::Timestamp>, utc: bool, seconds: bool) -> String {
    let Some(t) = t else {
        return format!("{:<20}", "-");
    };
    let mut s = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    );
    if seconds {
        s.push_str(&format!(":{:02}", t.second()));
    }
    s.push_str(if utc { " UTC" } else { "    " });
    s
}

/// RFC 3339 for JSON: `Z` for an exact UTC time; no zone for a `LIST` time (the server's).
fn time_json(t: ftp_proto::Timestamp, utc: bool) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        if utc { "Z" } else { "" }
    )
}

/// `ls -l`-like line for an entry, with a newline; names escaped for a terminal (`tty`).
pub(crate) fn long_line(e: &Entry, tty: bool) -> Vec<u8> {
    let mut s = format!(
        "{}{:<9} {:>12} {} ",
        kind_char(e.kind),
        e.permissions.as_deref().unwrap_or("---------"),
        e.size.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
        time_string(e.modified, e.precise_time, false),
    )
    .into_bytes();
    s.extend_from_slice(&for_stdout(&e.name, tty));
    if let Some(t) = &e.link_target {
        s.extend_from_slice(b" -> ");
        s.extend_from_slice(&for_stdout(t, tty));
    }
    s.push(b'\n');
    s
}

/// Writes listing entries to stdout: names only, or long lines.
pub(crate) fn write_entries(entries: &[Entry], long: bool, tty: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for e in entries {
        if long {
            out.write_all(&long_line(e, tty))?;
        } else {
            out.write_all(&for_stdout(&e.name, tty))?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

/// An entry for `--json`: `mode` holds UNIX permissions (`rwxr-xr-x`), `perm` RFC 3659's
/// `perm` letters; a name (or link target) that is not UTF-8 also comes percent-encoded,
/// losslessly, in `name_url` (`target_url`).
pub(crate) fn entry_json(e: &Entry) -> serde_json::Value {
    let mut v = serde_json::json!({
        "name": e.name_lossy(),
        "type": e.kind,
        "size": e.size,
        "modified": e.modified.map(|t| time_json(t, e.precise_time)),
        "target": e.link_target.as_ref().map(|t| String::from_utf8_lossy(t).into_owned()),
        "mode": e.permissions,
        "perm": e.perm,
    });
    if std::str::from_utf8(&e.name).is_err() {
        v["name_url"] = percent_encoded(&e.name).into();
    }
    if let Some(t) = e
        .link_target
        .as_ref()
        .filter(|t| std::str::from_utf8(t).is_err())
    {
        v["target_url"] = percent_encoded(t).into();
    }
    v
}

/// `stat`'s output: `name: …` lines, or the entry as JSON.
pub(crate) fn write_stat(ctx: &Ctx, path: &[u8], entry: &Entry, json: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = entry_json(entry);
        v["name"] = String::from_utf8_lossy(path).into();
        return writeln!(out, "{v}");
    }
    let kind = match entry.kind {
        EntryKind::File => "file",
        EntryKind::Dir => "directory",
        EntryKind::Symlink => "symlink",
        EntryKind::Other => "other",
    };
    out.write_all(b"name: ")?;
    out.write_all(&for_stdout(path, ctx.stdout_tty))?;
    out.write_all(b"\n")?;
    writeln!(out, "type: {kind}")?;
    if let Some(sz) = entry.size {
        writeln!(out, "size: {sz}")?;
    }
    if let Some(t) = entry.modified {
        let when = time_string(Some(t), entry.precise_time, true);
        writeln!(out, "modified: {}", when.trim_end())?;
    }
    if let Some(p) = &entry.permissions {
        writeln!(out, "mode: {p}")?;
    }
    if let Some(p) = &entry.perm {
        writeln!(out, "perm: {p}")?;
    }
    out.flush()
}
