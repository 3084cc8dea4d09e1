//! Directory listings: `LIST` (`ls -l` lines), `NLST` (names) and `MLSx` entries (RFC 3659
//! facts via [`ftp_proto::facts`]). Every line ends with CRLF.

use std::time::SystemTime;

use ftp_proto::facts::{EntryType, FactSet, Facts};
use ftp_proto::Timestamp;

use crate::config::Permissions;
use crate::storage::{FileKind, Metadata};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Appends the ten-character mode column (`drwxr-xr-x`) to `out`.
fn push_mode(m: &Metadata, out: &mut Vec<u8>) {
    let mode = m.mode.unwrap_or(if m.is_dir() { 0o755 } else { 0o644 });
    out.push(match m.kind {
        FileKind::Dir => b'd',
        FileKind::File => b'-',
        FileKind::Other => b'?',
    });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        out.push(if bits & 4 != 0 { b'r' } else { b'-' });
        out.push(if bits & 2 != 0 { b'w' } else { b'-' });
        out.push(if bits & 1 != 0 { b'x' } else { b'-' });
    }
}

/// Appends one `ls -l` style line for `name`, e.g.
/// `-rw-r--r-- 1 ftp ftp          5 Mar 01 12:00 a.txt`; dates older than about six months
/// (or in the future) show the year instead of the time.
///
/// ```
/// use ftp_server::storage::{FileKind, Metadata};
/// let m = Metadata { kind: FileKind::File, len: 5, modified: None, mode: Some(0o644), unique: None };
/// let mut out = Vec::new();
/// let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(400 * 86_400);
/// ftp_server::listing::list_line(&m, b"a.txt", now, &mut out);
/// assert_eq!(out, b"-rw-r--r-- 1 ftp ftp            5 Jan 01  1970 a.txt\r\n");
/// ```
pub fn list_line(m: &Metadata, name: &[u8], now: SystemTime, out: &mut Vec<u8>) {
    let t = m.modified.unwrap_or(SystemTime::UNIX_EPOCH);
    let ts = Timestamp::from_system_time(t);
    let recent = match now.duration_since(t) {
        Ok(age) => age.as_secs() < 180 * 24 * 3600,
        Err(_) => false,
    };
    let month = MONTHS[usize::from(ts.month().clamp(1, 12)) - 1];
    // Formatted straight into `out` by hand: no per-entry temporary strings, no `fmt`
    // machinery (this runs once per entry of directories with many thousands).
    push_mode(m, out);
    out.extend_from_slice(b" 1 ftp ftp ");
    push_num(out, m.len, 12, b' ');
    out.push(b' ');
    out.extend_from_slice(month.as_bytes());
    out.push(b' ');
    push_num(out, u64::from(ts.day()), 2, b'0');
    out.push(b' ');
    if recent {
        push_num(out, u64::from(ts.hour()), 2, b'0');
        out.push(b':');
        push_num(out, u64::from(ts.minute()), 2, b'0');
    } else {
        out.push(b' ');
        push_num(out, u64::from(ts.year()), 4, b'0');
    }
    out.push(b' ');
    out.extend_from_slice(name);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal, right-aligned in at least `width` columns filled with `pad`.
fn push_num(out: &mut Vec<u8>, mut n: u64, width: usize, pad: u8) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    out.resize(out.len() + width.saturating_sub(len), pad);
    out.extend_from_slice(&digits[i..]);
}

/// The RFC 3659 facts of an entry, with `perm` computed from what the user may do.
pub fn facts(m: &Metadata, perms: &Permissions) -> Facts {
    let mut perm = String::new();
    if m.is_dir() {
        if perms.write || perms.mkdir {
            perm.push('c');
        }
        if perms.list {
            perm.push_str("el");
        }
        if perms.mkdir {
            perm.push('m');
        }
        if perms.delete {
            perm.push('p');
        }
        if perms.rmdir {
            perm.push('d');
        }
    } else {
        if perms.append {
            perm.push('a');
        }
        if perms.read {
            perm.push('r');
        }
        if perms.write {
            perm.push('w');
        }
        if perms.delete {
            perm.push('d');
        }
    }
    if perms.rename {
        perm.push('f');
    }
    // `Facts` is non-exhaustive: set the fields of a default one.
    let mut facts = Facts::default();
    facts.entry_type = Some(match m.kind {
        FileKind::Dir => EntryType::Dir,
        FileKind::File => EntryType::File,
        FileKind::Other => EntryType::Other("OS.unix=special".to_string()),
    });
    facts.size = Some(m.len);
    facts.modify = m.modified.map(|t| {
        let (s, _) = Timestamp::from_system_time(t).to_unix();
        Timestamp::from_unix(s, 0)
    });
    facts.perm = Some(perm);
    facts.unique = m.unique.map(|u| u.to_string());
    facts.unix_mode = m.mode;
    facts
}

/// Appends one `MLSD` line (`facts name` CRLF).
pub fn mlsd_line(
    m: &Metadata,
    name: &[u8],
    perms: &Permissions,
    select: FactSet,
    out: &mut Vec<u8>,
) {
    facts(m, perms).format(select, name, out);
    out.extend_from_slice(b"\r\n");
}

/// Splits a `LIST`/`NLST` argument into `ls`-style options (`-la`, tolerated and ignored except
/// `a`) and the path: returns `(show_hidden, path)`.
///
/// ```
/// use ftp_server::listing::split_list_args;
/// assert_eq!(split_list_args(b"-la /pub"), (true, Some(&b"/pub"[..])));
/// assert_eq!(split_list_args(b"-l"), (false, None));
/// assert_eq!(split_list_args(b"my dir"), (false, Some(&b"my dir"[..])));
/// ```
pub fn split_list_args(arg: &[u8]) -> (bool, Option<&[u8]>) {
    let mut rest = arg;
    let mut all = false;
    loop {
        let trimmed = rest.strip_prefix(b" ").unwrap_or(rest);
        if trimmed.first() == Some(&b'-') && trimmed.len() > 1 {
            let end = trimmed
                .iter()
                .position(|&b| b == b' ')
                .unwrap_or(trimmed.len());
            let opts = &trimmed[1..end];
            if !opts.iter().all(u8::is_ascii_alphanumeric) {
                break;
            }
            all |= opts.contains(&b'a') || opts.contains(&b'A');
            rest = &trimmed[end..];
            rest = rest.strip_prefix(b" ").unwrap_or(rest);
        } else {
            rest = trimmed;
            break;
        }
    }
    (all, if rest.is_empty() { None } else { Some(rest) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn meta(kind: FileKind) -> Metadata {
        Metadata {
            kind,
            len: 42,
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            mode: Some(0o750),
            unique: Some(crate::storage::FileId { dev: 1, ino: 2 }),
        }
    }

    #[test]
    fn list_line_shows_time_for_recent_files() {
        let m = meta(FileKind::Dir);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        let mut out = Vec::new();
        list_line(&m, b"d", now, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "drwxr-x--- 1 ftp ftp           42 Nov 14 22:13 d\r\n"
        );
    }

    #[test]
    fn list_line_pads_like_ls_and_keeps_huge_sizes_whole() {
        let mut m = meta(FileKind::File);
        m.len = u64::MAX;
        m.modified = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 40));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut out = Vec::new();
        list_line(&m, b"big", now, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "-rwxr-x--- 1 ftp ftp 18446744073709551615 Feb 10  1970 big\r\n"
        );
    }

    #[test]
    fn push_num_pads_to_width() {
        let mut out = Vec::new();
        push_num(&mut out, 7, 2, b'0');
        push_num(&mut out, 0, 3, b' ');
        push_num(&mut out, 12345, 2, b'0');
        assert_eq!(out, b"07  012345");
    }

    #[test]
    fn mlsd_line_has_rfc3659_facts() {
        let mut out = Vec::new();
        mlsd_line(
            &meta(FileKind::File),
            b"f",
            &Permissions::READ_ONLY,
            FactSet::ALL,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "type=file;size=42;modify=20231114221320;perm=r;unique=1g2;UNIX.mode=0750; f\r\n"
        );
    }
}
