//! What a mirror leaves out: `--include`/`--exclude` globs over the relative path,
//! `--size-range` and `--newer-than`.

use ftp_proto::Timestamp;
use glob::{MatchOptions, Pattern};

/// An inclusive byte range (`--size-range MIN-MAX`, either end may be left open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange {
    /// The smallest size copied.
    pub min: u64,
    /// The largest size copied.
    pub max: u64,
}

impl SizeRange {
    /// True when `size` is inside the range.
    pub fn contains(&self, size: u64) -> bool {
        (self.min..=self.max).contains(&size)
    }
}

/// A size with an optional binary suffix: `512`, `10k`, `1.5M`, `2G`, `1T` (case-insensitive,
/// a trailing `B`/`iB` allowed).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let t = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'm')) => (&t[..i], 1 << 20),
        Some((i, 'g')) => (&t[..i], 1 << 30),
        Some((i, 't')) => (&t[..i], 1 << 40),
        _ => (t, 1),
    };
    let bad = || format!("{s:?} is not a size (like 512, 10k, 1.5M, 2G)");
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mult).ok_or_else(bad);
    }
    match num.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 && f * (mult as f64) < u64::MAX as f64 => {
            Ok((f * mult as f64) as u64)
        }
        _ => Err(bad()),
    }
}

/// Parses `--size-range`: `MIN-MAX`, `MIN-` or `-MAX`.
///
/// ```
/// # use ftp_client::cli::mirror::parse_size_range;
/// let r = parse_size_range("1k-2M").unwrap();
/// assert!(r.contains(1024) && r.contains(2 << 20) && !r.contains(1023));
/// assert_eq!(parse_size_range("-10").unwrap().min, 0);
/// assert!(parse_size_range("5-1").is_err());
/// ```
pub fn parse_size_range(s: &str) -> Result<SizeRange, String> {
    let Some((lo, hi)) = s.split_once('-') else {
        return Err(format!("{s:?} is not a range: MIN-MAX, MIN- or -MAX"));
    };
    let min = if lo.trim().is_empty() {
        0
    } else {
        parse_size(lo)?
    };
    let max = if hi.trim().is_empty() {
        u64::MAX
    } else {
        parse_size(hi)?
    };
    if min > max {
        return Err(format!("{s:?}: the lower bound is above the upper one"));
    }
    Ok(SizeRange { min, max })
}

/// Parses `--newer-than`: a UTC date `YYYY-MM-DD`, a date and time `YYYY-MM-DD HH:MM[:SS]`
/// (or with `T`, and an optional `Z`), or the path of a local file whose modification time
/// is used. Returns seconds since the Unix epoch.
///
/// ```
/// # use ftp_client::cli::mirror::parse_newer_than;
/// assert_eq!(parse_newer_than("1970-01-02").unwrap(), 86_400);
/// assert_eq!(parse_newer_than("1970-01-01T00:01Z").unwrap(), 60);
/// assert!(parse_newer_than("yesterday-ish").is_err());
/// ```
pub fn parse_newer_than(s: &str) -> Result<i64, String> {
    if let Some(t) = parse_date(s.trim()) {
        return Ok(t);
    }
    match std::fs::metadata(s).and_then(|m| m.modified()) {
        Ok(t) => Ok(Timestamp::from_system_time(t).to_unix().0),
        Err(_) => Err(format!(
            "{s:?} is neither a date (YYYY-MM-DD[ HH:MM[:SS]], UTC) nor an existing file"
        )),
    }
}

fn parse_date(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, t),
        None => (s, "00:00:00"),
    };
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let ok = |p: &[&str], lens: &[usize]| {
        p.len() == lens.len()
            && p.iter()
                .zip(lens)
                .all(|(x, n)| x.len() == *n && x.bytes().all(|b| b.is_ascii_digit()))
    };
    if !ok(&d, &[4, 2, 2]) || !(ok(&t, &[2, 2]) || ok(&t, &[2, 2, 2])) {
        return None;
    }
    let sec = t.get(2).copied().unwrap_or("00");
    let compact = format!("{}{}{}{}{}{sec}", d[0], d[1], d[2], t[0], t[1]);
    Timestamp::parse(compact.as_bytes())
        .ok()
        .map(|t| t.to_unix().0)
}

/// The `--include`/`--exclude` globs.
///
/// As lftp's `--include-glob`/`--exclude-glob`: a pattern is matched against as many trailing
/// components of the relative path as it has slashes plus one (so `*.tmp` matches a name at
/// any depth and `docs/*.tmp` a name inside any `docs`), `*` never crosses a slash, and a
/// directory's path ends in `/` (so `cache/` matches directories only). A directory that is
/// excluded is not entered. With include patterns, a file is copied only when one matches;
/// directories are entered unless excluded.
#[derive(Debug, Clone, Default)]
pub struct Globs {
    include: Vec<(Pattern, usize)>,
    exclude: Vec<(Pattern, usize)>,
}

fn compile(pats: &[String]) -> Result<Vec<(Pattern, usize)>, String> {
    pats.iter()
        .map(|p| {
            let slashes =
                p.trim_end_matches('/').matches('/').count() + usize::from(p.ends_with('/'));
            Pattern::new(p)
                .map(|pat| (pat, slashes))
                .map_err(|e| format!("bad pattern {p:?}: {e}"))
        })
        .collect()
}

/// The last `slashes + 1` components of `path` (a trailing `/` counts as one).
fn tail(path: &str, slashes: usize) -> &str {
    let mut left = slashes;
    for (i, b) in path.bytes().enumerate().rev() {
        if b == b'/' {
            if left == 0 {
                return &path[i + 1..];
            }
            left -= 1;
        }
    }
    path
}

fn any_match(pats: &[(Pattern, usize)], path: &str) -> bool {
    let opts = MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    pats.iter()
        .any(|(p, n)| p.matches_with(tail(path, *n), opts))
}

impl Globs {
    /// Compiles the patterns; an error names the bad one.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Globs, String> {
        Ok(Globs {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    /// True when the entry at `rel` (relative to the mirror's root) takes part.
    pub fn keeps(&self, rel: &[u8], dir: bool) -> bool {
        let mut path = String::from_utf8_lossy(rel).into_owned();
        if dir {
            path.push('/');
        }
        if any_match(&self.exclude, &path) {
            return false;
        }
        dir || self.include.is_empty() || any_match(&self.include, &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_trailing_components_and_directories_with_a_slash() {
        let g = Globs::new(&[], &["*.tmp".into(), "cache/".into(), "docs/*.md".into()]).unwrap();
        assert!(!g.keeps(b"a.tmp", false));
        assert!(!g.keeps(b"x/y/a.tmp", false));
        assert!(!g.keeps(b"x/cache", true));
        assert!(g.keeps(b"x/cache", false), "a file named cache stays");
        assert!(!g.keeps(b"docs/a.md", false));
        assert!(!g.keeps(b"p/docs/a.md", false));
        assert!(g.keeps(b"docs/sub/a.md", false), "* does not cross a slash");
        let inc = Globs::new(&["*.txt".into()], &["secret*".into()]).unwrap();
        assert!(inc.keeps(b"d/a.txt", false) && inc.keeps(b"d", true));
        assert!(!inc.keeps(b"d/a.bin", false) && !inc.keeps(b"secret.txt", false));
        assert!(Globs::new(&["[".into()], &[]).is_err());
    }

    #[test]
    fn sizes_and_dates_parse_or_say_why_not() {
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
        assert!(parse_size("x").is_err() && parse_size("-1").is_err());
        let r = parse_size_range("10-").unwrap();
        assert!(r.contains(u64::MAX) && !r.contains(9));
        assert!(parse_size_range("10").is_err());
        assert_eq!(
            parse_newer_than("2000-01-01 00:00:01").unwrap(),
            946_684_801
        );
        assert!(parse_newer_than("2000-13-01").is_err());
    }
}
