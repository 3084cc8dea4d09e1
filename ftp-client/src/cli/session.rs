//! Session set-up: the credentials for a URL, and a connection that can be re-established
//! after a failure (with the retry pause between attempts).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::paths::{lossy, remote_name};
use super::url::FtpUrl;
use super::{fail, Ctx};
use crate::error::ErrorClass;
use crate::{Client, Error};

/// Where to log in and as whom.
#[derive(Clone)]
pub(crate) struct Login {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The FTPS the URL's scheme asks for (`ftps://` implicit, `ftpes://` explicit).
    pub tls: crate::tls::TlsMode,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Resolves the user and password for a URL: URL, `--user`, `FTP_PASSWORD`, netrc, TTY
/// prompt; anonymous when no user is known.
pub(crate) fn resolve_login(ctx: &Ctx, u: &FtpUrl) -> Result<Login> {
    if let Some(p) = ctx.netrc.as_ref().filter(|p| !p.is_file()) {
        return Err(fail(
            ErrorClass::Usage,
            format!("--netrc {}: no such file", p.display()),
        ));
    }
    let mut user = ctx.user.clone().or_else(|| u.user.clone());
    let mut password = u
        .password
        .clone()
        .filter(|_| ctx.user.is_none() || ctx.user == u.user);
    if password.is_none() {
        password = std::env::var("FTP_PASSWORD").ok().filter(|p| !p.is_empty());
    }
    if password.is_none() {
        let path = ctx
            .netrc
            .clone()
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".netrc")));
        let read = path.and_then(|p| Some((std::fs::read_to_string(&p).ok()?, p)));
        if let Some((text, path)) = read {
            if let Some(e) = super::netrc::lookup(&text, &u.host, user.as_deref()) {
                if user.is_none() {
                    user = e.login.clone();
                }
                if e.password.is_some() {
                    warn_if_readable_by_others(&path);
                }
                password = e.password;
            }
        }
    }
    let user = user.unwrap_or_else(|| "anonymous".to_string());
    let password = match password {
        Some(p) => p,
        None if user == "anonymous" || user == "ftp" => "anonymous@".to_string(),
        None if ctx.interactive && std::io::stderr().is_terminal() => {
            rpassword::prompt_password(format!("Password for {user}@{}: ", u.host))
                .context("reading the password")?
        }
        None => {
            return Err(fail(
                ErrorClass::Login,
                format!(
                    "no password for {user}@{} (use FTP_PASSWORD, ~/.netrc or the URL)",
                    u.host
                ),
            ))
        }
    };
    Ok(Login {
        host: u.host.clone(),
        port: u.port,
        user,
        password,
        tls: u.tls,
    })
}

/// Warns when a netrc file that holds a password can be read by other users (BSD ftp
/// refuses such a file).
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
        eprintln!(
            "ftp-client: warning: {} holds a password and other users can read it \
             (chmod 600 it)",
            lossy(&remote_name(path))
        );
    }
}

/// A connection that can be re-established after a failure.
#[derive(Debug)]
pub(crate) struct Session {
    pub login: Login,
    pub client: Option<Client>,
    pub opts: crate::Options,
    pub kind: crate::TransferKind,
    /// The directory to return to after a reconnect.
    pub cwd: Option<Vec<u8>>,
}

impl Session {
    pub fn new(ctx: &Ctx, login: Login) -> Session {
        Session {
            login,
            client: None,
            opts: ctx.opts.clone(),
            kind: ctx.kind,
            cwd: None,
        }
    }

    /// Another connection to the same server as the same user, in the same directory (not
    /// connected yet): for parallel transfers.
    pub fn sibling(&self, ctx: &Ctx) -> Session {
        Session {
            cwd: self.cwd.clone(),
            ..Session::new(ctx, self.login.clone())
        }
    }

    /// The connected, logged-in client (connecting if needed).
    pub async fn client(&mut self) -> Result<&mut Client, Error> {
        if self.client.is_none() {
            let mut opts = self.opts.clone();
            // The scheme decides; on ftp:// URLs `--tls`/`--implicit-tls` do.
            if self.login.tls != crate::tls::TlsMode::Off {
                opts.tls = self.login.tls;
            }
            let mut c = Client::connect(&self.login.host, self.login.port, opts).await?;
            c.login(&self.login.user, &self.login.password).await?;
            c.set_transfer_kind(self.kind);
            if let Some(d) = &self.cwd {
                c.cwd(d).await?;
            }
            self.client = Some(c);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::Disconnected("no connection".into()))
    }

    /// After Ctrl-C dropped a command midway: a transfer in flight is aborted (`ABOR`) and
    /// the control connection brought back in step; a connection left in any other unknown
    /// state is dropped (the next command reconnects).
    pub async fn after_interrupt(&mut self) {
        if let Some(c) = self.client.as_mut() {
            if c.needs_resync && c.resync().await.is_ok() {
                return;
            }
        }
        self.reset();
    }

    /// Forgets the connection (after an error it may be unusable).
    pub fn reset(&mut self) {
        self.client = None;
    }

    pub async fn quit(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.quit().await;
        }
    }
}

/// After a failed attempt: returns the error if it is not worth retrying (or retries are
/// used up), otherwise waits (exponential backoff), drops the connection and returns `Ok`.
pub(crate) async fn retry_pause(
    ctx: &Ctx,
    sess: &mut Session,
    what: &str,
    e: anyhow::Error,
    attempt: &mut u32,
) -> Result<()> {
    let transient = e
        .chain()
        .find_map(|c| c.downcast_ref::<Error>())
        .is_some_and(Error::is_transient);
    if !transient || *attempt >= ctx.retries {
        return Err(e);
    }
    *attempt += 1;
    let delay = ctx
        .retry_delay
        .saturating_mul(1 << (*attempt - 1).min(5))
        .min(Duration::from_secs(30));
    log::warn!(
        "{what}: {}; retry {}/{} in {delay:?}",
        super::error_text(&e),
        *attempt,
        ctx.retries
    );
    sess.reset();
    async_io::Timer::after(delay).await;
    Ok(())
}

/// A session for `u`, connected and logged in.
pub(crate) async fn open(ctx: &Ctx, u: &FtpUrl) -> Result<Session> {
    let login = resolve_login(ctx, u)?;
    let mut s = Session::new(ctx, login);
    s.client().await?;
    Ok(s)
}
