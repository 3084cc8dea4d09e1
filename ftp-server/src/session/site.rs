//! `SITE` subcommands (RFC 959 §4.1.3). [`SITE_COMMANDS`] is the table `SITE HELP` shows;
//! [`Session::site`] dispatches on its names. The copy family (`CPFR`, `CPTO`, `COPY`) lives in
//! `copy.rs`; `UTIME` is an alias of `MFMT`;
//! `QUOTA` is in `limits`.

use ftp_proto::{Reply, ReplyCode, Timestamp};

use super::{allow, reply, Context, Handled, Session};

/// The `SITE` subcommands: name and usage, as `SITE HELP` lists them.
pub(super) const SITE_COMMANDS: &[(&str, &str)] = &[
    ("CHMOD", "CHMOD <mode> <path>"),
    ("COPY", "COPY <source> <destination> (quote names with spaces)"),
    ("CPFR", "CPFR <source> (then SITE CPTO)"),
    ("CPTO", "CPTO <destination> (right after SITE CPFR)"),
    ("HELP", "HELP"),
    ("QUOTA", "QUOTA (your usage and limits)"),
    (
        "UTIME",
        "UTIME <YYYYMMDDhhmm[ss]> <path> | <path> <YYYYMMDDhhmm[ss]> | <path> <atime> <mtime> <ctime> UTC",
    ),
];

impl Session {
    /// `SITE word [args]`.
    pub(super) async fn site(&mut self, arg: &[u8], cx: &Context) -> Handled {
        let (word, rest) = match arg.iter().position(|&b| b == b' ') {
            Some(i) => (&arg[..i], &arg[i + 1..]),
            None => (arg, &b""[..]),
        };
        match word.to_ascii_uppercase().as_slice() {
            b"HELP" => Ok(site_help()),
            b"CHMOD" => self.site_chmod(rest, cx).await,
            b"UTIME" => self.site_utime(rest, cx).await,
            b"CPFR" => self.site_cpfr(rest, cx).await,
            b"CPTO" => self.site_cpto(rest, cx).await,
            b"COPY" => self.site_copy(rest, cx).await,
            b"QUOTA" => self.site_quota(cx).await,
            _ => Err(reply(
                ReplyCode::SYNTAX_ERROR,
                "Unknown SITE command; see SITE HELP.",
            )),
        }
    }

    /// `SITE CHMOD mode path`: permission bits only (no set-id or sticky bits); needs the
    /// `chmod` permission, never granted to anonymous logins.
    async fn site_chmod(&self, rest: &[u8], cx: &Context) -> Handled {
        let acct = cx.account()?;
        allow(acct.permissions.chmod && acct.name != "anonymous")?;
        let (mode, path) = split_word(rest);
        let mode = std::str::from_utf8(mode)
            .ok()
            .filter(|m| !m.is_empty() && m.len() <= 4)
            .and_then(|m| u32::from_str_radix(m, 8).ok());
        let (Some(mode), false) = (mode, path.is_empty()) else {
            return Err(usage("CHMOD"));
        };
        if mode > 0o777 {
            return Err(reply(
                ReplyCode::FILE_NOT_AVAILABLE,
                "Only permission bits (000 to 777) may be set.",
            ));
        }
        let p = self.path(path)?;
        acct.storage.set_mode(&p, mode).await?;
        Ok(reply(ReplyCode::OK, "SITE CHMOD command successful."))
    }

    /// `SITE UTIME`, an alias of `MFMT` in its three spellings: `time path` (ProFTPD),
    /// `path time` (pure-ftpd) and `path atime mtime ctime UTC` (ProFTPD, of which only the
    /// modification time is set).
    async fn site_utime(&self, rest: &[u8], cx: &Context) -> Handled {
        let Some((time, path)) = utime_args(rest) else {
            return Err(usage("UTIME"));
        };
        self.mfmt(time, path, cx).await?;
        Ok(reply(ReplyCode::OK, "SITE UTIME command successful."))
    }
}

/// The `SITE HELP` reply: every subcommand with its usage.
fn site_help() -> super::Action {
    let mut lines = vec!["SITE commands:".to_string()];
    lines.extend(SITE_COMMANDS.iter().map(|(_, usage)| format!(" {usage}")));
    lines.push("End of SITE HELP.".to_string());
    super::Action::Reply(Reply::multi(ReplyCode::HELP, lines))
}

/// The `501` for a subcommand used wrongly, with its usage.
pub(super) fn usage(name: &str) -> super::Action {
    let text = SITE_COMMANDS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(name, |(_, u)| u);
    reply(
        ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS,
        format!("Usage: SITE {text}"),
    )
}

/// The first word and the rest after one space.
fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, b""),
    }
}

/// A `YYYYMMDDhhmm[ss]` time (UTC), as `SITE UTIME` writes it.
fn utime_stamp(word: &[u8]) -> Option<Timestamp> {
    match word.len() {
        14 => Timestamp::parse(word).ok(),
        12 => Timestamp::parse(&[word, b"00"].concat()).ok(),
        _ => None,
    }
    .filter(|_| word.iter().all(u8::is_ascii_digit))
}

/// The new modification time and the path of a `SITE UTIME` in any of its spellings.
fn utime_args(rest: &[u8]) -> Option<(Timestamp, &[u8])> {
    let words: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
    let n = words.len();
    if n >= 5 && words[n - 1].eq_ignore_ascii_case(b"UTC") {
        let mtime = utime_stamp(words[n - 3])?;
        utime_stamp(words[n - 4])?;
        utime_stamp(words[n - 2])?;
        let cut = words[..n - 4].iter().map(|w| w.len() + 1).sum::<usize>() - 1;
        return Some((mtime, &rest[..cut]));
    }
    let (first, after) = split_word(rest);
    if let Some(t) = utime_stamp(first).filter(|_| !after.is_empty()) {
        return Some((t, after));
    }
    let i = rest.iter().rposition(|&b| b == b' ')?;
    let t = utime_stamp(&rest[i + 1..])?;
    (i > 0).then_some((t, &rest[..i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_reads_all_three_spellings() {
        let t = Timestamp::parse(b"20240102030405").unwrap();
        assert_eq!(utime_args(b"20240102030405 a b"), Some((t, &b"a b"[..])));
        assert_eq!(utime_args(b"a b 20240102030405"), Some((t, &b"a b"[..])));
        let five = b"a b 20200101000000 20240102030405 20200101000000 UTC";
        assert_eq!(utime_args(five), Some((t, &b"a b"[..])));
        let short = Timestamp::parse(b"20240102030400").unwrap();
        assert_eq!(utime_args(b"202401020304 f"), Some((short, &b"f"[..])));
        assert_eq!(utime_args(b"f"), None);
        assert_eq!(utime_args(b"20240102030405"), None);
        assert_eq!(utime_args(b"f 2024"), None);
    }
}
