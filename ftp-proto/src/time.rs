//! The RFC 3659 time value `YYYYMMDDHHMMSS[.sss]` (UTC), used by `MDTM`, `MFMT` and the
//! `modify` fact of `MLST`/`MLSD`.
//!
//! ```
//! use ftp_proto::Timestamp;
//!
//! let t = Timestamp::parse(b"19980615100045.014").unwrap();
//! assert_eq!(t.to_string(), "19980615100045.014");
//! let (secs, nanos) = t.to_unix();
//! assert_eq!(Timestamp::from_unix(secs, nanos), t);
//! assert_eq!(Timestamp::from_unix(0, 0).to_string(), "19700101000000");
//! ```

use std::fmt;

/// A UTC date and time with millisecond precision, as RFC 3659 §2.3 writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    millis: u16,
}

/// Why a time value is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid time value: expected YYYYMMDDHHMMSS[.sss]")]
pub struct TimeError;

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days-from-civil algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl Timestamp {
    /// Builds a timestamp, checking every field (years 1000–9999 as RFC 3659's four digits
    /// allow; leap seconds are not accepted).
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        millis: u16,
    ) -> Result<Timestamp, TimeError> {
        let ok = (1000..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(i64::from(year), month)
            && hour < 24
            && minute < 60
            && second < 60
            && millis < 1000;
        if ok {
            Ok(Timestamp {
                year,
                month,
                day,
                hour,
                minute,
                second,
                millis,
            })
        } else {
            Err(TimeError)
        }
    }

    /// Parses `YYYYMMDDHHMMSS` with an optional `.s`, `.ss` or `.sss` fraction (further
    /// fraction digits are accepted and truncated).
    pub fn parse(s: &[u8]) -> Result<Timestamp, TimeError> {
        let s = s.trim_ascii();
        if s.len() < 14 || !s[..14].iter().all(u8::is_ascii_digit) {
            return Err(TimeError);
        }
        let num =
            |r: std::ops::Range<usize>| s[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let mut millis = 0u16;
        if s.len() > 14 {
            let frac = &s[15..];
            if s[14] != b'.' || frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
                return Err(TimeError);
            }
            for (i, d) in frac.iter().take(3).enumerate() {
                millis += u16::from(d - b'0') * [100, 10, 1][i];
            }
        }
        Timestamp::new(
            num(0..4) as u16,
            num(4..6) as u8,
            num(6..8) as u8,
            num(8..10) as u8,
            num(10..12) as u8,
            num(12..14) as u8,
            millis,
        )
    }

    /// From seconds and nanoseconds since the Unix epoch (clamped to years 1000–9999).
    pub fn from_unix(secs: i64, nanos: u32) -> Timestamp {
        const MIN: i64 = -30_610_224_000; // 1000-01-01T00:00:00Z
        const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        let secs = secs.clamp(MIN, MAX);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Timestamp {
            year: y as u16,
            month: m,
            day: d,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
            millis: (nanos.min(999_999_999) / 1_000_000) as u16,
        }
    }

    /// To seconds and nanoseconds since the Unix epoch.
    pub fn to_unix(self) -> (i64, u32) {
        let days = days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        (secs, u32::from(self.millis) * 1_000_000)
    }

    /// From a [`std::time::SystemTime`].
    pub fn from_system_time(t: std::time::SystemTime) -> Timestamp {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timestamp::from_unix(d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
                if n == 0 {
                    Timestamp::from_unix(-s, 0)
                } else {
                    Timestamp::from_unix(-s - 1, 1_000_000_000 - n)
                }
            }
        }
    }

    /// To a [`std::time::SystemTime`].
    pub fn to_system_time(self) -> std::time::SystemTime {
        let (secs, nanos) = self.to_unix();
        let base = std::time::UNIX_EPOCH;
        if secs >= 0 {
            base + std::time::Duration::new(secs as u64, nanos)
        } else {
            base - std::time::Duration::from_secs(secs.unsigned_abs())
                + std::time::Duration::from_nanos(u64::from(nanos))
        }
    }

    /// The year (1000–9999).
    pub fn year(&self) -> u16 {
        self.year
    }
    /// The month (1–12).
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month (1–31).
    pub fn day(&self) -> u8 {
        self.day
    }
    /// The hour (0–23).
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// The minute (0–59).
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// The second (0–59).
    pub fn second(&self) -> u8 {
        self.second
    }
    /// The milliseconds (0–999).
    pub fn millis(&self) -> u16 {
        self.millis
    }
}

/// `YYYYMMDDHHMMSS`, with `.sss` only when the milliseconds are not zero.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.millis != 0 {
            write!(f, ".{:03}", self.millis)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_impossible_dates() {
        assert!(Timestamp::parse(b"20230230000000").is_err());
        assert!(Timestamp::parse(b"20230101240000").is_err());
        assert!(Timestamp::parse(b"2023010100000").is_err());
        assert!(Timestamp::parse(b"20230101000000.").is_err());
        assert!(Timestamp::parse(b"20230101000000x1").is_err());
        assert!(Timestamp::parse(b"20240229000000").is_ok());
    }

    #[test]
    fn unix_conversions_match_known_values() {
        let t = Timestamp::parse(b"20000301000000").unwrap();
        assert_eq!(t.to_unix(), (951_868_800, 0));
        assert_eq!(Timestamp::from_unix(951_868_800, 0), t);
        assert_eq!(Timestamp::from_unix(-1, 0).to_string(), "19691231235959");
    }

    #[test]
    fn long_fractions_are_truncated_to_millis() {
        assert_eq!(
            Timestamp::parse(b"20200101000000.123456").unwrap().millis(),
            123
        );
        assert_eq!(Timestamp::parse(b"20200101000000.5").unwrap().millis(), 500);
    }
}
