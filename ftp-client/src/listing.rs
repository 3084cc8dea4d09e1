//! Directory listings: one [`Entry`] type whether it came from `MLSD` (RFC 3659 facts) or
//! from `LIST` output in Unix `ls -l` or DOS/IIS format.
//!
//! Names are kept as bytes: a non-UTF-8 name never aborts a listing.
//!
//! ```
//! use ftp_client::listing::{parse_list_line, EntryKind};
//! use ftp_proto::Timestamp;
//!
//! let now = Timestamp::new(2024, 6, 1, 0, 0, 0, 0).unwrap();
//! let e = parse_list_line(b"-rw-r--r--   1 ftp  ftp   1234 Jan 05 12:30 my file.txt", now).unwrap();
//! assert_eq!(e.name, b"my file.txt");
//! assert_eq!((e.kind, e.size), (EntryKind::File, Some(1234)));
//! assert_eq!(e.modified.unwrap().to_string(), "20240105123000");
//!
//! let e = parse_list_line(b"01-02-20  03:04PM       <DIR>          Program Files", now).unwrap();
//! assert_eq!((e.kind, e.name.as_slice()), (EntryKind::Dir, &b"Program Files"[..]));
//! ```

use std::borrow::Cow;

use ftp_proto::facts::{EntryType, Facts};
use ftp_proto::Timestamp;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, socket, unknown).
    Other,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name, exactly as the server sent it.
    pub name: Vec<u8>,
    /// File, directory, link…
    pub kind: EntryKind,
    /// Size in bytes, if known.
    pub size: Option<u64>,
    /// Modification time. From `MLSD` it is UTC; from `LIST` it is the server's local time.
    pub modified: Option<Timestamp>,
    /// The target of a symbolic link (`LIST` only).
    pub link_target: Option<Vec<u8>>,
    /// UNIX permissions as `rwxr-xr-x` (from `LIST`, or the MLSx `UNIX.mode` fact).
    pub permissions: Option<String>,
    /// What the user may do, as RFC 3659 `perm` letters (`adfrw`, `elcmp`; MLSx only).
    pub perm: Option<String>,
    /// True when `modified` is exact UTC to the second (MLSx facts, MDTM); false for `LIST`
    /// times, which are in the server's time zone and precise to the minute or the day.
    pub precise_time: bool,
}

impl Entry {
    /// The name as text (invalid UTF-8 replaced).
    pub fn name_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }

    /// True for directories.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }

    /// Parses one `MLSD`/`MLST` line; `None` if it is malformed.
    pub fn from_mlsx(line: &[u8]) -> Option<Entry> {
        let (facts, name) = Facts::parse(line).ok()?;
        Some(Entry::from_facts(facts, name.to_vec()))
    }

    /// Builds an entry from parsed facts.
    pub fn from_facts(facts: Facts, name: Vec<u8>) -> Entry {
        let kind = match &facts.entry_type {
            Some(EntryType::File) => EntryKind::File,
            Some(t) if t.is_dir() => EntryKind::Dir,
            Some(EntryType::Other(s)) if s.to_ascii_lowercase().contains("link") => {
                EntryKind::Symlink
            }
            None => EntryKind::File,
            _ => EntryKind::Other,
        };
        let permissions = facts.unix_mode.map(mode_string);
        Entry {
            name,
            kind,
            size: facts.size,
            modified: facts.modify,
            link_target: None,
            permissions,
            perm: facts.perm,
            precise_time: true,
        }
    }
}

fn mode_string(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// Splits listing bytes into lines (LF or CR LF).
pub fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Parses `MLSD` output, leaving out `cdir`/`pdir` entries and malformed lines.
pub fn parse_mlsd(bytes: &[u8]) -> Vec<Entry> {
    split_lines(bytes)
        .filter_map(|l| Facts::parse(l).ok())
        .filter(|(f, _)| !matches!(f.entry_type, Some(EntryType::Cdir) | Some(EntryType::Pdir)))
        .filter(|(_, n)| n != b"." && n != b"..")
        .map(|(f, n)| Entry::from_facts(f, n.to_vec()))
        .collect()
}

/// Parses `LIST` output, leaving out `total` lines, `.`, `..` and lines it does not
/// understand. `now` resolves Unix dates shown without a year.
pub fn parse_list(bytes: &[u8], now: Timestamp) -> Vec<Entry> {
    split_lines(bytes)
        .filter_map(|l| parse_list_line(l, now))
        .filter(|e| e.name != b"." && e.name != b"..")
        .collect()
}

/// The current time, for [`parse_list`].
pub fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// Parses one `LIST` line in Unix `ls -l` or DOS/IIS format.
pub fn parse_list_line(line: &[u8], now: Timestamp) -> Option<Entry> {
    parse_unix(line, now).or_else(|| parse_dos(line))
}

/// Whitespace-separated tokens with their byte ranges.
fn tokens(line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i] == b' ' || line[i] == b'\t' {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() && line[i] != b' ' && line[i] != b'\t' {
            i += 1;
        }
        out.push((start, i));
    }
    out
}

fn month(tok: &[u8]) -> Option<u8> {
    const MONTHS: [&[u8]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    if tok.len() != 3 {
        return None;
    }
    let lower = tok.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower.as_slice())
        .map(|i| i as u8 + 1)
}

fn number(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() || tok.len() > 19 || !tok.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(tok).ok()?.parse().ok()
}

fn hh_mm(tok: &[u8]) -> Option<(u8, u8)> {
    let (h, m) = tok.split_at(tok.iter().position(|b| *b == b':')?);
    let m = &m[1..];
    let h = number(h).filter(|h| *h < 24)? as u8;
    let m = number(m.get(..2)?).filter(|m| *m < 60)? as u8;
    Some((h, m))
}

fn parse_unix(line: &[u8], now: Timestamp) -> Option<Entry> {
    let kind = match line.first()? {
        b'-' => EntryKind::File,
        b'd' => EntryKind::Dir,
        b'l' => EntryKind::Symlink,
        b'b' | b'c' | b'p' | b's' | b'D' => EntryKind::Other,
        _ => return None,
    };
    let toks = tokens(line);
    let perm_tok = &line[toks.first()?.0..toks.first()?.1];
    if perm_tok.len() < 10 {
        return None;
    }
    let permissions = std::str::from_utf8(&perm_tok[1..10]).ok()?.to_string();
    for i in 2..toks.len().saturating_sub(2) {
        let tok = |k: usize| &line[toks[k].0..toks[k].1];
        let Some(mon) = month(tok(i)) else { continue };
        let Some(day) = number(tok(i + 1)).filter(|d| (1..=31).contains(d)) else {
            continue;
        };
        let Some(size) = number(tok(i - 1)) else {
            continue;
        };
        let yt = tok(i + 2);
        let modified = if let Some((h, m)) = hh_mm(yt) {
            let mut year = now.year();
            let this_year = Timestamp::new(year, mon, day as u8, h, m, 0, 0).ok();
            // A date more than a day ahead is from last year (ls shows times for ~6 months).
            let ahead =
                (u32::from(mon), day as u32) > (u32::from(now.month()), u32::from(now.day()) + 1);
            if ahead || this_year.is_none() {
                year -= 1;
            }
            Timestamp::new(year, mon, day as u8, h, m, 0, 0).ok()
        } else if let Some(y) = number(yt).filter(|y| (1000..=9999).contains(y)) {
            Timestamp::new(y as u16, mon, day as u8, 0, 0, 0, 0).ok()
        } else {
            continue;
        };
        let name_start = toks[i + 2].1 + 1;
        if name_start >= line.len() {
            return None;
        }
        let mut name = line[name_start..].to_vec();
        let mut link_target = None;
        if kind == EntryKind::Symlink {
            if let Some(p) = name.windows(4).position(|w| w == b" -> ") {
                link_target = Some(name[p + 4..].to_vec());
                name.truncate(p);
            }
        }
        return Some(Entry {
            name,
            kind,
            size: Some(size),
            modified,
            link_target,
            permissions: Some(permissions),
            perm: None,
            precise_time: false,
        });
    }
    None
}

fn parse_dos(line: &[u8]) -> Option<Entry> {
    let toks = tokens(line);
    if toks.len() < 4 {
        return None;
    }
    let tok = |k: usize| &line[toks[k].0..toks[k].1];
    // Date: MM-DD-YY or MM-DD-YYYY (also with '/').
    let date = tok(0);
    let parts: Vec<&[u8]> = date.split(|b| *b == b'-' || *b == b'/').collect();
    let [mo, d, y] = parts.as_slice() else {
        return None;
    };
    let (mo, d, y) = (number(mo)?, number(d)?, number(y)?);
    let year = match (y, parts[2].len()) {
        (y, 2) if y < 70 => 2000 + y,
        (y, 2) => 1900 + y,
        (y, 4) => y,
        _ => return None,
    };
    // Time: HH:MM with optional AM/PM, possibly as a separate token.
    let mut next = 2;
    let t = tok(1);
    let (mut h, m) = hh_mm(t)?;
    let upper = t.to_ascii_uppercase();
    let mut pm = upper.ends_with(b"PM");
    let mut am = upper.ends_with(b"AM");
    if !pm && !am {
        let t2 = tok(2).to_ascii_uppercase();
        if t2 == b"PM" || t2 == b"AM" {
            pm = t2 == b"PM";
            am = !pm;
            next = 3;
        }
    }
    if pm && h < 12 {
        h += 12;
    } else if am && h == 12 {
        h = 0;
    }
    if toks.len() <= next + 1 {
        return None;
    }
    let sz = tok(next);
    let (kind, size) = if sz.eq_ignore_ascii_case(b"<DIR>") {
        (EntryKind::Dir, None)
    } else {
        let digits: Vec<u8> = sz.iter().copied().filter(|b| *b != b',').collect();
        (EntryKind::File, Some(number(&digits)?))
    };
    let name = line[toks[next + 1].0..].to_vec();
    Some(Entry {
        name,
        kind,
        size,
        modified: Timestamp::new(year as u16, mo as u8, d as u8, h, m, 0, 0).ok(),
        link_target: None,
        permissions: None,
        perm: None,
        precise_time: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::new(2024, 3, 15, 12, 0, 0, 0).unwrap()
    }

    fn one(line: &[u8]) -> Entry {
        parse_list_line(line, now()).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(line)))
    }

    #[test]
    fn vsftpd_lines() {
        let e = one(b"drwxr-xr-x    2 1000     1000         4096 Mar 10 09:05 pub");
        assert_eq!((e.kind, e.name.as_slice()), (EntryKind::Dir, &b"pub"[..]));
        assert_eq!(e.modified.unwrap().to_string(), "20240310090500");
        let e = one(b"-rw-r--r--    1 0        0         1048576 Dec 31  2019 1MB.bin");
        assert_eq!(e.size, Some(1_048_576));
        assert_eq!(e.name, b"1MB.bin");
        assert_eq!(e.modified.unwrap().to_string(), "20191231000000");
    }

    #[test]
    fn proftpd_and_pureftpd_lines() {
        let e = one(b"-rw-r--r--   1 ftp      ftp            42 Jan  2 03:04 a  b");
        assert_eq!(e.name, b"a  b");
        assert_eq!(e.size, Some(42));
        let e = one(b"-rw-r--r--    1 1000       users              7 Feb 28 23:59 notes.txt");
        assert_eq!(e.name, b"notes.txt");
        assert_eq!(e.permissions.as_deref(), Some("rw-r--r--"));
    }

    #[test]
    fn date_without_year_in_the_future_is_last_year() {
        let e = one(b"-rw-r--r-- 1 u g 1 Nov 20 10:00 old");
        assert_eq!(e.modified.unwrap().year(), 2023);
        let e = one(b"-rw-r--r-- 1 u g 1 Mar 16 10:00 tomorrow-ish");
        assert_eq!(e.modified.unwrap().year(), 2024);
    }

    #[test]
    fn names_with_leading_digits_spaces_and_month_words() {
        let e = one(b"-rw-r--r-- 1 user group 10 Jan 1 2020 2020 Jan 5 12:00 report");
        assert_eq!(e.name, b"2020 Jan 5 12:00 report");
        let e = one(b"-rw-r--r-- 1 user group 10 Jan 1 2020  leading space");
        assert_eq!(e.name, b" leading space");
        let e = one(b"-rw-r--r-- 1 user group 10 Jan 1 2020 123");
        assert_eq!(e.name, b"123");
    }

    #[test]
    fn missing_group_column_is_tolerated() {
        let e = one(b"-rw-r--r-- 1 ftp 512 Apr  1  2021 nogroup.txt");
        assert_eq!(
            (e.size, e.name.as_slice()),
            (Some(512), &b"nogroup.txt"[..])
        );
    }

    #[test]
    fn symlinks_are_split() {
        let e = one(b"lrwxrwxrwx 1 root root 7 Jan 1 2020 bin -> usr/bin");
        assert_eq!(e.kind, EntryKind::Symlink);
        assert_eq!(e.name, b"bin");
        assert_eq!(e.link_target.as_deref(), Some(&b"usr/bin"[..]));
    }

    #[test]
    fn non_utf8_names_are_kept() {
        let e = one(b"-rw-r--r-- 1 u g 3 Jan 1 2020 caf\xe9.txt");
        assert_eq!(e.name, b"caf\xe9.txt");
        assert_eq!(e.name_lossy(), "caf\u{fffd}.txt");
    }

    #[test]
    fn dos_iis_lines() {
        let e = one(b"01-02-20  03:04PM       <DIR>          Program Files");
        assert_eq!(e.kind, EntryKind::Dir);
        assert_eq!(e.modified.unwrap().to_string(), "20200102150400");
        let e = one(b"12-31-1999  11:59AM             1,234 old file.txt");
        assert_eq!(
            (e.size, e.name.as_slice()),
            (Some(1234), &b"old file.txt"[..])
        );
        let e = one(b"07-04-21  12:00AM                 0 midnight");
        assert_eq!(e.modified.unwrap().hour(), 0);
        let e = one(b"07-04-2021  18:30                 5 24h");
        assert_eq!(e.modified.unwrap().hour(), 18);
    }

    #[test]
    fn whole_listing_skips_total_dots_and_garbage() {
        let text = b"total 8\r\ndrwxr-xr-x 2 u g 4096 Jan 1 2020 .\r\ndrwxr-xr-x 2 u g 4096 Jan 1 2020 ..\r\n-rw-r--r-- 1 u g 5 Jan 1 2020 a\r\ngarbage line\r\n\r\n";
        let v = parse_list(text, now());
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].name, b"a");
    }

    #[test]
    fn mlsd_listing() {
        let text = b"type=cdir;modify=20200101000000; .\r\ntype=pdir; ..\r\ntype=file;size=12;modify=20210203040506;UNIX.mode=0644; hello world\r\ntype=dir;modify=20210203040506; sub\r\ntype=OS.unix=symlink; ln\r\nbroken\r\n";
        let v = parse_mlsd(text);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].name, b"hello world");
        assert_eq!(v[0].size, Some(12));
        assert_eq!(v[0].permissions.as_deref(), Some("rw-r--r--"));
        assert_eq!(v[1].kind, EntryKind::Dir);
        assert_eq!(v[2].kind, EntryKind::Symlink);
    }
}
