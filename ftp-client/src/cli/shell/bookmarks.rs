//! `bookmark add NAME [URL]`, `bookmark list`, `bookmark del NAME` (`open NAME` and
//! `ftp-client NAME` open one). The file is `cli::bookmarks`'.

use std::io::Write;

use anyhow::Result;

use super::commands::Call;
use super::State;
use crate::cli::bookmarks::Bookmarks;
use crate::cli::fail;
use crate::cli::names::escape_controls;
use crate::cli::session::Session;
use crate::error::ErrorClass;
use crate::tls::TlsMode;

/// `bookmark add NAME [URL] | list | del NAME`.
pub(super) async fn bookmark(st: &mut State, call: Call<'_>) -> Result<()> {
    let mut marks = Bookmarks::load()?;
    let mut out = std::io::stdout();
    match (call.arg(0)?, call.args.len()) {
        ("list" | "ls", 1) => {
            for (name, url) in marks.iter() {
                writeln!(out, "{name}\t{}", escape_controls(url.as_bytes()))?;
            }
        }
        ("add", 2 | 3) => {
            let name = call.arg(1)?;
            let url = match call.args.get(2) {
                Some(u) => u.clone(),
                None => session_url(st.sess.as_ref().ok_or_else(|| {
                    fail(ErrorClass::Usage, "not connected: name the URL to bookmark")
                })?),
            };
            let stored = marks.add(name, &url)?;
            marks.save()?;
            if !st.ctx.quiet {
                eprintln!("bookmark {name}: {}", escape_controls(stored.as_bytes()));
            }
        }
        ("del" | "delete" | "rm", 2) => {
            let name = call.arg(1)?;
            if !marks.remove(name) {
                return Err(fail(ErrorClass::NotFound, format!("no bookmark {name:?}")));
            }
            marks.save()?;
        }
        _ => return Err(call.usage()),
    }
    Ok(())
}

/// The URL of the open session: scheme, user, host, port and remote directory (absolute:
/// `ftp://u@h:21//pub/`), no password.
fn session_url(s: &Session) -> String {
    let tls = match s.login.tls {
        TlsMode::Off => s.opts.tls,
        t => t,
    };
    let scheme = match tls {
        TlsMode::Implicit => "ftps",
        TlsMode::Explicit => "ftpes",
        TlsMode::Off => "ftp",
    };
    let host = match s.login.host.contains(':') {
        true => format!("[{}]", s.login.host),
        false => s.login.host.clone(),
    };
    let mut path = s.cwd.clone().unwrap_or_default();
    if !path.is_empty() && !path.ends_with(b"/") {
        path.push(b'/');
    }
    format!(
        "{scheme}://{}@{host}:{}/{}",
        encode(s.login.user.as_bytes(), b""),
        s.login.port,
        encode(&path, b"/")
    )
}

/// Percent-encodes everything but unreserved characters and `keep`.
fn encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn bookmark_urls_encode_odd_bytes() {
        assert_eq!(encode(b"/my dir/", b"/"), "/my%20dir/");
        assert_eq!(encode(b"a@b", b""), "a%40b");
    }
}
