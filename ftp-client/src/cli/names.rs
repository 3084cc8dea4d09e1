//! Names a server sends are untrusted: this module is the one place that turns them into local
//! file names ([`safe_local_name`]) and into text for a terminal ([`escape_controls`]).

use std::borrow::Cow;
use std::path::PathBuf;

/// True for the C1 control characters (U+0080–U+009F): `CSI`, `OSC` and friends, which some
/// terminals obey like their `ESC` spellings.
fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// Why a remote name is refused as a local file name, or `None` if it is a plain name.
fn unsafe_reason(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name == b"." || name == b".." {
        return Some("it names a directory (. or ..)");
    }
    if name.contains(&b'/') {
        return Some("it is a path, not a name");
    }
    if name.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Some("it contains control characters");
    }
    if std::str::from_utf8(name).is_ok_and(|s| s.chars().any(is_c1)) {
        return Some("it contains control characters");
    }
    None
}

/// The local file name for `name`, one component of a remote path (a listing entry, or the
/// last component of a path the user typed). Every command that writes a local file under a
/// name the server chose goes through here: no `.`, `..`, `/` (so nothing absolute and
/// nothing outside the target directory), NUL or other control characters. The error says
/// why.
///
/// ```
/// # use ftp_client::cli::names::safe_local_name;
/// assert_eq!(safe_local_name(b"report.pdf").unwrap().to_str(), Some("report.pdf"));
/// assert!(safe_local_name(b"../.bashrc").is_err());
/// assert!(safe_local_name(b"/etc/passwd").is_err());
/// assert!(safe_local_name(b"..").is_err());
/// assert!(safe_local_name(b"evil\x1b]0;title\x07").is_err());
/// ```
pub fn safe_local_name(name: &[u8]) -> Result<PathBuf, String> {
    use std::os::unix::ffi::OsStrExt;
    match unsafe_reason(name) {
        Some(why) => Err(format!(
            "refusing the remote name \"{}\" as a local file name: {why}",
            escape_controls(name)
        )),
        None => Ok(PathBuf::from(std::ffi::OsStr::from_bytes(name))),
    }
}

/// [`safe_local_name`] for a name from a listing: a refused name is reported on stderr (the
/// caller counts it as a failure of its batch) and gives `None`.
pub(crate) fn local_name_or_warn(name: &[u8]) -> Option<PathBuf> {
    match safe_local_name(name) {
        Ok(p) => Some(p),
        Err(why) => {
            eprintln!("ftp-client: warning: skipped: {why}");
            None
        }
    }
}

/// `bytes` as text that is safe to show on a terminal, the way GNU `ls` does on one: C0
/// controls, DEL and C1 controls become escapes (`\e`, `\n`, `\x7f`, `\u{9b}`), bytes that
/// are not UTF-8 become `\xNN`; everything else is unchanged.
///
/// ```
/// # use ftp_client::cli::names::escape_controls;
/// assert_eq!(escape_controls(b"esc\x1b[31mred"), r"esc\e[31mred");
/// assert_eq!(escape_controls(b"evil\x1b]0;PWNED\x07title"), r"evil\e]0;PWNED\atitle");
/// assert_eq!(escape_controls("caf\u{e9} \u{9b}".as_bytes()), r"café \u{9b}");
/// assert_eq!(escape_controls(b"caf\xe9"), r"caf\xe9");
/// assert_eq!(escape_controls(b"plain name.txt"), "plain name.txt");
/// ```
pub fn escape_controls(bytes: &[u8]) -> Cow<'_, str> {
    let clean = |s: &str| !s.chars().any(|c| c.is_control());
    if let Ok(s) = std::str::from_utf8(bytes) {
        if clean(s) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\x0b' => out.push_str("\\v"),
        '\x0c' => out.push_str("\\f"),
        '\r' => out.push_str("\\r"),
        '\x1b' => out.push_str("\\e"),
        c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if is_c1(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

/// `bytes` percent-encoded for a URL path (`/` kept): lossless for any name.
///
/// ```
/// # use ftp_client::cli::names::percent_encoded;
/// assert_eq!(percent_encoded(b"caf\xe9 1.txt"), "caf%E9%201.txt");
/// ```
pub fn percent_encoded(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A name for output to stdout: raw bytes on a pipe (data stays data), escaped on a terminal.
pub(crate) fn for_stdout(name: &[u8], tty: bool) -> Cow<'_, [u8]> {
    if tty {
        match escape_controls(name) {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }
    } else {
        Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_name_that_leaves_the_directory() {
        for bad in [
            &b"../escape1.txt"[..],
            b"/tmp/x/abs_escape.txt",
            b"sub/../../escape2.txt",
            b"..",
            b".",
            b"",
            b"nul\0byte",
            b"new\nline",
            "c1\u{85}".as_bytes(),
        ] {
            assert!(safe_local_name(bad).is_err(), "{bad:?}");
        }
        for good in [&b"a b.txt"[..], b"..hidden", b"caf\xe9", "日本".as_bytes()] {
            assert!(safe_local_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn escapes_controls_only_for_a_terminal() {
        assert_eq!(&*for_stdout(b"a\x1bb", false), b"a\x1bb");
        assert_eq!(&*for_stdout(b"a\x1bb", true), br"a\eb");
        assert_eq!(escape_controls(b"\0\x7f"), r"\x00\x7f");
        let refused = safe_local_name(b"x\x1b[2J").unwrap_err();
        assert!(!refused.contains('\x1b'), "{refused}");
    }
}
