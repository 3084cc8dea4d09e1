//! Sessions (credentials, reconnects), file transfers with progress, resume and retries,
//! and the one-shot subcommands.

use std::io::{IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::url::{is_url, FtpUrl};
use super::{fail, Cmd, Ctx};
use crate::error::ErrorClass;
use crate::listing::{Entry, EntryKind};
use crate::{Client, Error};

/// Where to log in and as whom.
#[derive(Clone)]
pub(crate) struct Login {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// `ftps://`: require explicit FTPS.
    pub tls: bool,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Resolves the user and password for a URL: URL, `--user`, `FTP_PASSWORD`, netrc, TTY
/// prompt; anonymous when no user is known.
pub(crate) fn resolve_login(ctx: &Ctx, u: &FtpUrl) -> Result<Login> {
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
        if let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) {
            if let Some(e) = super::netrc::lookup(&text, &u.host, user.as_deref()) {
                if user.is_none() {
                    user = e.login.clone();
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

    /// The connected, logged-in client (connecting if needed).
    pub async fn client(&mut self) -> Result<&mut Client, Error> {
        if self.client.is_none() {
            let mut opts = self.opts.clone();
            if self.login.tls && opts.tls == crate::tls::TlsMode::Off {
                opts.tls = crate::tls::TlsMode::Explicit;
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
        "{what}: {e:#}; retry {}/{} in {delay:?}",
        *attempt,
        ctx.retries
    );
    sess.reset();
    async_io::Timer::after(delay).await;
    Ok(())
}

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
    let tpl = match (total.is_some(), ctx.color) {
        (true, true) => {
            "{msg:20!} {bar:30.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"
        }
        (true, false) => "{msg:20!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        (false, _) => "{msg:20!} {spinner} {bytes} {bytes_per_sec}",
    };
    if let Ok(style) = ProgressStyle::with_template(tpl) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    pb.set_message(name.to_string());
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

fn human_rate(r: f64) -> String {
    let units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
    let mut r = r;
    let mut i = 0;
    while r >= 1024.0 && i + 1 < units.len() {
        r /= 1024.0;
        i += 1;
    }
    format!("{r:.1} {}", units[i])
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Joins remote path components.
pub(crate) fn rjoin(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return name.to_vec();
    }
    let mut p = dir.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// A local path from remote name bytes.
pub(crate) fn local_name(name: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(name))
}

/// Remote name bytes from a local path component.
pub(crate) fn remote_name(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

fn part_path(local: &Path) -> PathBuf {
    let name = local
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let mut part = std::ffi::OsString::from(".");
    part.push(name);
    part.push(".part");
    local.with_file_name(part)
}

/// Downloads `remote` to `local` through `.name.part`, resuming it on retries (and at the
/// start if `resume`); sets the local mtime from the server. `mtime` and `size`, when known
/// from a listing, spare the `MDTM` and `SIZE` commands. Returns bytes received.
pub(crate) async fn download_file(
    ctx: &Ctx,
    sess: &mut Session,
    remote: &[u8],
    local: &Path,
    resume: bool,
    mtime: Option<ftp_proto::Timestamp>,
    size: Option<u64>,
) -> Result<u64> {
    if std::fs::metadata(local).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        // A device or a FIFO (`-o /dev/null`): write into it; a .part renamed over it would
        // replace it.
        let out = std::fs::OpenOptions::new()
            .write(true)
            .open(local)
            .with_context(|| format!("opening {}", local.display()))?;
        let started = Instant::now();
        let n = download_stream(ctx, sess, remote, out, &local.display().to_string()).await?;
        summary(ctx, "get", &lossy(remote), n, started);
        return Ok(n);
    }
    let part = part_path(local);
    if !resume {
        let _ = std::fs::remove_file(&part);
    } else if !part.exists() && local.exists() {
        std::fs::rename(local, &part).with_context(|| format!("renaming {}", local.display()))?;
    }
    let name = lossy(remote);
    let started = Instant::now();
    let (size, mtime) = {
        let c = sess.client().await?;
        let size = match size {
            Some(s) => Some(s),
            None => c.size(remote).await.ok(),
        };
        let mtime = match mtime {
            Some(t) => Some(t),
            None => c.mdtm(remote).await.ok(),
        };
        (size, mtime)
    };
    let start_len = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let pb = progress_bar(ctx, &name, size, start_len);
    let mut attempt = 0;
    let got = loop {
        match download_once(sess, remote, &part, size, mtime, pb.as_ref()).await {
            Ok(n) => break n,
            Err(e) => {
                if let Err(e) = retry_pause(ctx, sess, &name, e, &mut attempt).await {
                    if std::fs::metadata(&part).is_ok_and(|m| m.len() == 0) {
                        let _ = std::fs::remove_file(&part);
                    }
                    return Err(e);
                }
            }
        }
    };
    std::fs::rename(&part, local).with_context(|| format!("renaming to {}", local.display()))?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    summary(ctx, "get", &name, got.saturating_sub(start_len), started);
    Ok(got)
}

/// One attempt: downloads into `part` from its current length (from 0 if it is longer than
/// `size`), then sets its mtime.
async fn download_once(
    sess: &mut Session,
    remote: &[u8],
    part: &Path,
    size: Option<u64>,
    mtime: Option<ftp_proto::Timestamp>,
    pb: Option<&ProgressBar>,
) -> Result<u64> {
    let mut offset = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if size.is_some_and(|s| offset > s) {
        offset = 0;
    }
    let open = |offset: u64| {
        std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(offset == 0)
            .open(part)
            .with_context(|| format!("opening {}", part.display()))
    };
    if size == Some(offset) && offset > 0 {
        set_mtime(&open(offset)?, mtime);
        return Ok(offset);
    }
    let c = sess.client().await?;
    match c.retr(remote, offset).await {
        Ok(dl) => return pump(dl, open(offset)?, offset, part, pb, mtime).await,
        Err(Error::Reply { reply, .. }) if offset > 0 && crate::client::unsupported(&reply) => {
            log::info!("the server refuses REST ({reply}); starting over");
        }
        Err(e) => return Err(e.into()),
    }
    let dl = c.retr(remote, 0).await?;
    pump(dl, open(0)?, 0, part, pb, mtime).await
}

fn set_mtime(file: &std::fs::File, mtime: Option<ftp_proto::Timestamp>) {
    if let Some(t) = mtime {
        let _ = file.set_modified(t.to_system_time());
    }
}

/// Copies `dl` into `file` (opened truncated if `offset` is 0) from `offset`, reads the final
/// reply, then sets the file's mtime.
async fn pump(
    mut dl: crate::Download<'_>,
    mut file: std::fs::File,
    offset: u64,
    part: &Path,
    pb: Option<&ProgressBar>,
    mtime: Option<ftp_proto::Timestamp>,
) -> Result<u64> {
    if offset > 0 {
        file.set_len(offset)?;
        file.seek(SeekFrom::Start(offset))?;
    }
    let mut total = offset;
    let copied = dl
        .copy_to_file(&mut file, |n| {
            total += n;
            if let Some(pb) = pb {
                pb.set_position(total);
            }
        })
        .await;
    copy_result(copied, &part.display().to_string())?;
    dl.finish().await?;
    set_mtime(&file, mtime);
    Ok(total)
}

pub(crate) fn io_to_ftp(e: std::io::Error, ctx: &str) -> Error {
    if e.kind() == std::io::ErrorKind::TimedOut {
        Error::Timeout(format!("{ctx}: the data connection stalled"))
    } else {
        Error::Io {
            context: ctx.to_string(),
            source: e,
        }
    }
}

/// Writes `remote` to stdout, resuming with REST on retries.
async fn download_stdout(ctx: &Ctx, sess: &mut Session, remote: &[u8]) -> Result<u64> {
    use std::os::fd::AsFd;
    let started = Instant::now();
    std::io::stdout().flush().context("writing to stdout")?;
    let out = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating stdout")?;
    let n = download_stream(ctx, sess, remote, std::fs::File::from(out), "stdout").await?;
    if ctx.verbose > 0 {
        summary(ctx, "get", &lossy(remote), n, started);
    }
    Ok(n)
}

/// Writes `remote` into `out` (stdout, a pipe, a device: anything but a regular file, so no
/// `.part` and no rename), resuming with REST on retries.
async fn download_stream(
    ctx: &Ctx,
    sess: &mut Session,
    remote: &[u8],
    mut out: std::fs::File,
    what: &str,
) -> Result<u64> {
    let name = lossy(remote);
    let mut written = 0u64;
    let mut attempt = 0;
    loop {
        match stream_once(sess, remote, &mut out, what, &mut written).await {
            Ok(()) => break,
            Err(e) => retry_pause(ctx, sess, &name, e, &mut attempt).await?,
        }
    }
    Ok(written)
}

async fn stream_once(
    sess: &mut Session,
    remote: &[u8],
    out: &mut std::fs::File,
    what: &str,
    written: &mut u64,
) -> Result<()> {
    let c = sess.client().await?;
    let mut dl = c.retr(remote, *written).await?;
    let copied = dl.copy_to_file(out, |n| *written += n).await;
    copy_result(copied, what)?;
    dl.finish().await?;
    Ok(())
}

/// Maps a [`crate::CopyError`]: receive errors may be retried, local write errors are final.
fn copy_result(r: Result<u64, crate::CopyError>, what: &str) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(crate::CopyError::Receive(e)) => Err(io_to_ftp(e, "receiving data").into()),
        Err(crate::CopyError::Write(e)) => {
            Err(anyhow::Error::new(e).context(format!("writing {what}")))
        }
    }
}

/// Uploads `local` to `remote`, resuming (REST + STOR) on retries and at the start if
/// `resume`. Sets the remote mtime (MFMT) when `set_mtime` and the server supports it.
pub(crate) async fn upload_file(
    ctx: &Ctx,
    sess: &mut Session,
    local: &Path,
    remote: &[u8],
    resume: bool,
    set_mtime: bool,
) -> Result<u64> {
    let meta = std::fs::metadata(local).with_context(|| format!("reading {}", local.display()))?;
    if meta.is_dir() {
        return Err(fail(
            ErrorClass::Usage,
            format!("{} is a directory", local.display()),
        ));
    }
    let name = lossy(remote);
    let started = Instant::now();
    let pb = progress_bar(ctx, &name, Some(meta.len()), 0);
    let mut attempt = 0;
    let len = meta.len();
    let sent = loop {
        let want_resume = resume || attempt > 0;
        match upload_once(sess, local, remote, want_resume, len, pb.clone()).await {
            Ok(n) => break n,
            Err(e) => retry_pause(ctx, sess, &name, e, &mut attempt).await?,
        }
    };
    if set_mtime {
        if let Ok(m) = meta.modified() {
            let c = sess.client().await?;
            if c.feat().await.map(|f| f.has("MFMT")).unwrap_or(false) {
                let _ = c
                    .set_mtime(remote, ftp_proto::Timestamp::from_system_time(m))
                    .await;
            }
        }
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    summary(ctx, "put", &name, sent, started);
    Ok(sent)
}

async fn upload_once(
    sess: &mut Session,
    local: &Path,
    remote: &[u8],
    resume: bool,
    len: u64,
    pb: Option<ProgressBar>,
) -> Result<u64> {
    let c = sess.client().await?;
    let offset = if resume {
        c.size(remote).await.unwrap_or(0).min(len)
    } else {
        0
    };
    let mut f =
        std::fs::File::open(local).with_context(|| format!("opening {}", local.display()))?;
    f.seek(SeekFrom::Start(offset))?;
    if let Some(pb) = &pb {
        pb.set_position(offset);
    }
    let n = c
        .stor_file(remote, f, offset, |n| {
            if let Some(pb) = &pb {
                pb.inc(n);
            }
        })
        .await?;
    Ok(offset + n)
}

fn kind_char(k: EntryKind) -> char {
    match k {
        EntryKind::File => '-',
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Other => '?',
    }
}

fn time_string(t: Option<ftp_proto::Timestamp>) -> String {
    match t {
        Some(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        ),
        None => "-               ".to_string(),
    }
}

/// `ls -l`-like line for an entry.
pub(crate) fn long_line(e: &Entry) -> String {
    let mut s = format!(
        "{}{:<9} {:>12} {} {}",
        kind_char(e.kind),
        e.permissions.as_deref().unwrap_or("---------"),
        e.size.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
        time_string(e.modified),
        e.name_lossy()
    );
    if let Some(t) = &e.link_target {
        s.push_str(" -> ");
        s.push_str(&String::from_utf8_lossy(t));
    }
    s
}

pub(crate) fn entry_json(e: &Entry) -> serde_json::Value {
    serde_json::json!({
        "name": e.name_lossy(),
        "type": e.kind,
        "size": e.size,
        "modified": e.modified.map(|t| format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())),
        "target": e.link_target.as_ref().map(|t| String::from_utf8_lossy(t).into_owned()),
        "permissions": e.permissions,
    })
}

fn parse_url(s: &str) -> Result<FtpUrl> {
    Ok(FtpUrl::parse(s)?)
}

async fn open(ctx: &Ctx, u: &FtpUrl) -> Result<Session> {
    let login = resolve_login(ctx, u)?;
    let mut s = Session::new(ctx, login);
    s.client().await?;
    Ok(s)
}

/// Recursively collects the entries under `dir` as (relative path, entry); bounded depth.
pub(crate) async fn walk_remote(c: &mut Client, dir: &[u8]) -> Result<Vec<(Vec<u8>, Entry)>> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), 0usize)];
    while let Some((rel, depth)) = stack.pop() {
        if depth > 64 {
            return Err(fail(
                ErrorClass::Transfer,
                "directory tree deeper than 64 levels",
            ));
        }
        let full = rjoin(dir, &rel);
        let entries = c.list(Some(&full)).await?;
        for e in entries {
            if e.name.is_empty() || e.name.contains(&b'/') {
                continue;
            }
            let r = rjoin(&rel, &e.name);
            if e.kind == EntryKind::Dir {
                stack.push((r.clone(), depth + 1));
            }
            out.push((r, e));
        }
    }
    Ok(out)
}

pub(crate) async fn run(ctx: &Ctx, cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Ls { url, long, json } => {
            let u = parse_url(&url)?;
            let mut s = open(ctx, &u).await?;
            let c = s.client().await?;
            let entries = match c.list(Some(&u.path)).await {
                Ok(v) => v,
                // Listing a file: some servers refuse MLSD/LIST on one; MLST describes it.
                Err(e @ Error::Reply { .. }) if !u.path.is_empty() => match c.mlst(&u.path).await {
                    Ok(Some(mut entry)) => {
                        entry.name = u.file_name().to_vec();
                        vec![entry]
                    }
                    _ => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            };
            let mut out = std::io::stdout().lock();
            if json {
                let v: Vec<_> = entries.iter().map(entry_json).collect();
                writeln!(out, "{}", serde_json::Value::Array(v))?;
            } else {
                for e in &entries {
                    if long {
                        writeln!(out, "{}", long_line(e))?;
                    } else {
                        out.write_all(&e.name)?;
                        out.write_all(b"\n")?;
                    }
                }
            }
            drop(out);
            s.quit().await;
            Ok(())
        }
        Cmd::Cat { url } => {
            let u = parse_url(&url)?;
            let mut s = open(ctx, &u).await?;
            download_stdout(ctx, &mut s, &u.path).await?;
            s.quit().await;
            Ok(())
        }
        Cmd::Get {
            url,
            output,
            resume,
            recursive,
        } => {
            let u = parse_url(&url)?;
            let mut s = open(ctx, &u).await?;
            if output.as_deref() == Some("-") {
                if recursive {
                    return Err(fail(ErrorClass::Usage, "-r cannot write to stdout"));
                }
                download_stdout(ctx, &mut s, &u.path).await?;
            } else if recursive {
                let base = u.file_name();
                let dest = match output {
                    Some(o) => PathBuf::from(o),
                    None if base.is_empty() => PathBuf::from("."),
                    None => local_name(base),
                };
                let failed =
                    super::mirror::download_tree(ctx, &mut s, &u.path, &dest, false, false, resume)
                        .await?;
                if failed > 0 {
                    s.quit().await;
                    return Err(fail(
                        ErrorClass::Partial,
                        format!("{failed} file(s) failed"),
                    ));
                }
            } else {
                if u.path.is_empty() {
                    return Err(fail(ErrorClass::Usage, "the URL names no file"));
                }
                let dest = match output {
                    Some(o) => {
                        let p = PathBuf::from(o);
                        if p.is_dir() {
                            p.join(local_name(u.file_name()))
                        } else {
                            p
                        }
                    }
                    None => local_name(u.file_name()),
                };
                if let Err(e) = download_file(ctx, &mut s, &u.path, &dest, resume, None, None).await
                {
                    let is_dir = match s.client().await {
                        Ok(c) => c.is_dir(&u.path).await.unwrap_or(false),
                        Err(_) => false,
                    };
                    if is_dir {
                        return Err(fail(
                            ErrorClass::NotFound,
                            format!("{} is a directory (use get -r)", lossy(&u.path)),
                        ));
                    }
                    return Err(e);
                }
            }
            s.quit().await;
            Ok(())
        }
        Cmd::Put {
            file,
            url,
            resume,
            create_dirs,
        } => {
            let u = parse_url(&url)?;
            let mut remote = u.path.clone();
            let from_stdin = file.as_os_str() == "-";
            if u.dir_hint || remote.is_empty() {
                if from_stdin {
                    return Err(fail(
                        ErrorClass::Usage,
                        "uploading stdin needs a file name in the URL",
                    ));
                }
                let name = file
                    .file_name()
                    .ok_or_else(|| fail(ErrorClass::Usage, "no file name"))?;
                remote = rjoin(&remote, &remote_name(Path::new(name)));
            }
            if !from_stdin && !file.exists() {
                return Err(fail(
                    ErrorClass::NotFound,
                    format!("{}: no such file", file.display()),
                ));
            }
            let mut s = open(ctx, &u).await?;
            if create_dirs {
                let c = s.client().await?;
                make_parents(c, &remote).await;
            }
            if from_stdin {
                let c = s.client().await?;
                let started = Instant::now();
                let n = c
                    .stor(&remote, blocking::Unblock::new(std::io::stdin()), 0)
                    .await?;
                summary(ctx, "put", &lossy(&remote), n, started);
            } else {
                upload_file(ctx, &mut s, &file, &remote, resume, false).await?;
            }
            s.quit().await;
            Ok(())
        }
        Cmd::Rm { urls } => {
            let mut failed = 0;
            let mut last = None;
            let mut sess: Option<(String, u16, Session)> = None;
            for url in &urls {
                let u = parse_url(url)?;
                let reuse = matches!(&sess, Some((h, p, _)) if *h == u.host && *p == u.port);
                if !reuse {
                    if let Some((_, _, mut s)) = sess.take() {
                        s.quit().await;
                    }
                    sess = Some((u.host.clone(), u.port, open(ctx, &u).await?));
                }
                let Some((_, _, s)) = sess.as_mut() else {
                    continue;
                };
                if let Err(e) = s.client().await?.delete(&u.path).await {
                    eprintln!("ftp-client: rm {}: {e}", lossy(&u.path));
                    failed += 1;
                    last = Some(e);
                } else if ctx.verbose > 0 {
                    eprintln!("deleted {}", lossy(&u.path));
                }
            }
            if let Some((_, _, mut s)) = sess {
                s.quit().await;
            }
            match (failed, last) {
                (0, _) => Ok(()),
                (n, Some(e)) if n == urls.len() => Err(e.into()),
                (n, _) => Err(fail(
                    ErrorClass::Partial,
                    format!("{n} of {} deletions failed", urls.len()),
                )),
            }
        }
        Cmd::Mkdir { url, parents } => {
            let u = parse_url(&url)?;
            let mut s = open(ctx, &u).await?;
            let c = s.client().await?;
            if parents {
                make_parents(c, &u.path).await;
                if !c.is_dir(&u.path).await? {
                    c.mkdir(&u.path).await?;
                }
            } else {
                c.mkdir(&u.path).await?;
            }
            s.quit().await;
            Ok(())
        }
        Cmd::Rmdir { url } => {
            let u = parse_url(&url)?;
            let mut s = open(ctx, &u).await?;
            s.client().await?.rmdir(&u.path).await?;
            s.quit().await;
            Ok(())
        }
        Cmd::Mv { url, to } => {
            let u = parse_url(&url)?;
            let to = if is_url(&to) {
                parse_url(&to)?.path
            } else {
                to.into_bytes()
            };
            let mut s = open(ctx, &u).await?;
            s.client().await?.rename(&u.path, &to).await?;
            s.quit().await;
            Ok(())
        }
        Cmd::Stat { url } => {
            let u = parse_url(&url)?;
            let mut s = open(ctx, &u).await?;
            let c = s.client().await?;
            let entry = match c.mlst(&u.path).await {
                Ok(Some(e)) => e,
                Ok(None) => {
                    let dir = u.path.is_empty() || c.is_dir(&u.path).await?;
                    let (size, modified) = if dir {
                        (None, None)
                    } else {
                        let size = c.size(&u.path).await?;
                        (Some(size), c.mdtm(&u.path).await.ok())
                    };
                    Entry {
                        name: u.path.clone(),
                        kind: if dir { EntryKind::Dir } else { EntryKind::File },
                        size,
                        modified,
                        link_target: None,
                        permissions: None,
                        precise_time: true,
                    }
                }
                Err(e) => return Err(e.into()),
            };
            let kind = match entry.kind {
                EntryKind::File => "file",
                EntryKind::Dir => "directory",
                EntryKind::Symlink => "symlink",
                EntryKind::Other => "other",
            };
            let mut out = std::io::stdout().lock();
            writeln!(out, "name: {}", lossy(&u.path))?;
            writeln!(out, "type: {kind}")?;
            if let Some(sz) = entry.size {
                writeln!(out, "size: {sz}")?;
            }
            if let Some(t) = entry.modified {
                writeln!(out, "modified: {}", time_string(Some(t)))?;
            }
            if let Some(p) = &entry.permissions {
                writeln!(out, "permissions: {p}")?;
            }
            drop(out);
            s.quit().await;
            Ok(())
        }
        Cmd::Mirror {
            src,
            dst,
            only_newer,
            delete,
            dry_run,
            parallel,
        } => super::mirror::run(ctx, &src, &dst, only_newer, delete, dry_run, parallel).await,
        Cmd::Shell { .. } => Err(fail(ErrorClass::Usage, "shell is not a one-shot command")),
    }
}

/// Creates every parent directory of `path` (errors ignored: they may exist).
pub(crate) async fn make_parents(c: &mut Client, path: &[u8]) {
    let parts: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
    for i in 0..parts.len().saturating_sub(1) {
        if parts[i].is_empty() {
            continue;
        }
        let prefix = parts[..=i].join(&b'/');
        let _ = c.mkdir(&prefix).await;
    }
}
