//! The session family: `open`, `user`, `close`, `quote`, `help`, `bye`.

use std::io::{IsTerminal, Write};

use anyhow::Result;

use super::commands::{Call, COMMANDS};
use super::State;
use crate::cli::names::{escape_controls, for_stdout};
use crate::cli::session::{resolve_login, Login, Session};
use crate::cli::url::{is_url, FtpUrl};
use crate::cli::{bookmarks, fail};
use crate::error::ErrorClass;

/// `open URL | open BOOKMARK | open HOST [PORT]`; the working connection stays until the new
/// one is up. A bookmark's name wins over a host of the same name.
pub(super) async fn open(st: &mut State, call: Call<'_>) -> Result<()> {
    let target = call.arg(0)?;
    let bookmark = match call.args.len() {
        1 if !is_url(target) => bookmarks::lookup(target),
        _ => None,
    };
    let url = if is_url(target) {
        target.to_string()
    } else if let Some(u) = bookmark {
        u
    } else {
        host_port_url(target, call.args.get(1).map(String::as_str))
    };
    let u = FtpUrl::parse(&url)?;
    let login = resolve_login(&st.ctx, &u)?;
    let anonymous = login.user == "anonymous";
    let mut s = Session::new(&st.ctx, login);
    let c = match s.client().await {
        Ok(c) => c,
        Err(e) if anonymous && e.class() == ErrorClass::Login => {
            // Stay "open" so that `user NAME` can log in, as the classic ftp does.
            let e = escape_controls(e.to_string().as_bytes()).into_owned();
            eprintln!("Anonymous login refused ({e}); log in with: user NAME [PASSWORD]");
            st.close().await;
            st.sess = Some(s);
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let welcome = c.welcome().text().into_owned();
    if !u.path.is_empty() {
        c.cwd(&u.path).await?;
        s.cwd = Some(s.client().await?.pwd().await?);
    }
    if !st.ctx.quiet {
        eprintln!("Connected to {}.", u.host);
        for l in welcome.lines() {
            eprintln!("{}", escape_controls(l.as_bytes()));
        }
    }
    st.close().await;
    st.sess = Some(s);
    Ok(())
}

/// `user NAME [PASSWORD]`: the password from the line, `FTP_PASSWORD` or a prompt.
pub(super) async fn user(st: &mut State, call: Call<'_>) -> Result<()> {
    let name = call.arg(0)?.to_string();
    let s = st.sess()?;
    let password = match call.args.get(1) {
        Some(p) => p.clone(),
        None => {
            if let Ok(p) = std::env::var("FTP_PASSWORD") {
                p
            } else if std::io::stdin().is_terminal() {
                rpassword::prompt_password("Password: ")?
            } else {
                return Err(fail(
                    ErrorClass::Login,
                    "no password (stdin is not a terminal)",
                ));
            }
        }
    };
    let login = Login {
        user: name,
        password,
        ..s.login.clone()
    };
    s.quit().await;
    s.login = login;
    s.cwd = None;
    s.client().await?;
    Ok(())
}

pub(super) async fn close(st: &mut State, _: Call<'_>) -> Result<()> {
    st.close().await;
    Ok(())
}

/// `quote LINE`: a raw command; the server's words escaped on a terminal, line by line.
pub(super) async fn quote(st: &mut State, call: Call<'_>) -> Result<()> {
    if call.args.is_empty() {
        return Err(call.usage());
    }
    let line = call.args.join(" ");
    let r = st.sess()?.client().await?.raw(&line).await?;
    let mut out = std::io::stdout();
    for l in r.to_string().lines() {
        out.write_all(&for_stdout(l.as_bytes(), st.ctx.stdout_tty))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// `help [COMMAND]`: the table's help lines, all or those of the commands named.
pub(super) async fn help(_: &mut State, call: Call<'_>) -> Result<()> {
    let mut out = std::io::stdout();
    for c in COMMANDS {
        if call.args.is_empty() || call.args.iter().any(|a| c.names().any(|n| n == a)) {
            writeln!(out, "{}", c.help_line())?;
        }
    }
    Ok(())
}

pub(super) async fn bye(st: &mut State, _: Call<'_>) -> Result<()> {
    st.close().await;
    st.quit = true;
    Ok(())
}

/// The URL for `open HOST [PORT]`: HOST may be a name, an IPv4 address, an IPv6 address
/// (bare or in brackets), with `:PORT` (`[v6]:PORT` for IPv6) instead of the PORT word.
fn host_port_url(target: &str, port: Option<&str>) -> String {
    let (host, inline_port) = if let Some(rest) = target.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => (rest, None),
        }
    } else if target.matches(':').count() == 1 {
        let (h, p) = target.split_once(':').unwrap_or((target, ""));
        (h, Some(p))
    } else {
        (target, None)
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let port = port.or(inline_port).unwrap_or("21");
    format!("ftp://{host}:{port}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_accepts_host_port_and_bracketed_ipv6() {
        let url = |t: &str, p: Option<&str>| host_port_url(t, p);
        assert_eq!(url("127.0.0.1:2556", None), "ftp://127.0.0.1:2556/");
        assert_eq!(url("127.0.0.1", Some("2556")), "ftp://127.0.0.1:2556/");
        assert_eq!(url("example.org", None), "ftp://example.org:21/");
        assert_eq!(url("[::1]:2556", None), "ftp://[::1]:2556/");
        assert_eq!(url("[::1]", Some("2121")), "ftp://[::1]:2121/");
        assert_eq!(url("::1", None), "ftp://[::1]:21/");
    }
}
