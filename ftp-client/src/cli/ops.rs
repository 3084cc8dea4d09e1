//! The one-shot subcommands (`ls`, `get`, `put`, `rm`, …): one function each, built from
//! `session` (set-up), `transfer`, `output` and `paths`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use super::output::{entry_json, summary, write_entries, write_stat};
use super::paths::{lossy, make_parents, named_after, remote_name, rjoin};
use super::segments::download_segmented;
use super::session::{open, Session};
use super::transfer::{download_file, download_stdout, interrupted_download, upload_file};
use super::url::{is_url, without_password, FtpUrl};
use super::{fail, Cmd, Ctx};
use crate::error::ErrorClass;
use crate::listing::{Entry, EntryKind};
use crate::Error;

fn parse_url(s: &str) -> Result<FtpUrl> {
    Ok(FtpUrl::parse(s)?)
}

/// Runs one subcommand (all but `shell`).
pub(crate) async fn run(ctx: &Ctx, cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Ls { url, long, json } => ls(ctx, &url, long, json).await,
        Cmd::Cat { url } => cat(ctx, &url).await,
        Cmd::Get {
            url,
            output,
            resume,
            recursive,
            no_clobber,
            segments,
            verify,
        } => {
            let ctx = &Ctx {
                no_clobber,
                verify,
                ..ctx.clone()
            };
            if verify && output.as_deref() == Some("-") {
                return Err(fail(ErrorClass::Usage, "--verify needs a file, not stdout"));
            }
            super::integrity::binary_for_digests(ctx)?;
            let how = Get {
                resume,
                recursive,
                segments: segments.map_or(1, usize::from),
            };
            get(ctx, &url, output, how).await
        }
        Cmd::Put {
            file,
            url,
            resume,
            create_dirs,
            json,
            verify,
        } => {
            let ctx = &Ctx {
                verify,
                ..ctx.clone()
            };
            if verify && file.as_os_str() == "-" {
                return Err(fail(ErrorClass::Usage, "--verify needs a file, not stdin"));
            }
            super::integrity::binary_for_digests(ctx)?;
            put(ctx, &file, &url, resume, create_dirs, json).await
        }
        Cmd::Rm { urls, json } => rm(ctx, &urls, json).await,
        Cmd::Mkdir { url, parents } => mkdir(ctx, &url, parents).await,
        Cmd::Rmdir { url } => {
            let u = parse_url(&url)?;
            let mut s = open(ctx, &u).await?;
            s.client().await?.rmdir(&u.path).await?;
            s.quit().await;
            Ok(())
        }
        Cmd::Mv { url, to } => mv(ctx, &url, &to).await,
        Cmd::Stat { url, json } => stat(ctx, &url, json).await,
        Cmd::Mirror(args) => super::mirror::run(ctx, &args).await,
        Cmd::Doctor { url, json } => super::doctor::run(ctx, &url, json).await,
        Cmd::Hash { url, alg } => super::integrity::hash(ctx, &url, alg).await,
        Cmd::Cp { src, dst } => super::integrity::cp(ctx, &src, &dst).await,
        Cmd::Shell { .. } => Err(fail(ErrorClass::Usage, "shell is not a one-shot command")),
    }
}

/// `ls URL [-l | --json]`.
async fn ls(ctx: &Ctx, url: &str, long: bool, json: bool) -> Result<()> {
    let u = parse_url(url)?;
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
    if json {
        let v: Vec<_> = entries.iter().map(entry_json).collect();
        writeln!(std::io::stdout(), "{}", serde_json::Value::Array(v))?;
    } else {
        write_entries(&entries, long, ctx.stdout_tty)?;
    }
    s.quit().await;
    Ok(())
}

/// `cat URL`.
async fn cat(ctx: &Ctx, url: &str) -> Result<()> {
    let u = parse_url(url)?;
    let mut s = open(ctx, &u).await?;
    download_stdout(ctx, &mut s, &u.path).await?;
    s.quit().await;
    Ok(())
}

/// How `get` downloads: resuming, a tree, over how many connections.
struct Get {
    resume: bool,
    recursive: bool,
    segments: usize,
}

/// `get URL [-o FILE|-] [-c] [-r] [--segments N]`.
async fn get(ctx: &Ctx, url: &str, output: Option<String>, how: Get) -> Result<()> {
    let Get {
        resume,
        recursive,
        segments,
    } = how;
    let u = parse_url(url)?;
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
            None => named_after(base)?,
        };
        let failed =
            super::mirror::download_tree(ctx, &mut s, &u.path, &dest, false, false, resume).await?;
        if failed > 0 {
            s.quit().await;
            return Err(fail(
                ErrorClass::Partial,
                format!("{failed} file(s) failed"),
            ));
        }
    } else {
        get_file(ctx, &mut s, &u, url, output, resume, segments).await?;
    }
    s.quit().await;
    Ok(())
}

/// `get` of one file into `output` (a file or a directory) or the current directory;
/// Ctrl-C reports how to resume it.
async fn get_file(
    ctx: &Ctx,
    s: &mut Session,
    u: &FtpUrl,
    url: &str,
    output: Option<String>,
    resume: bool,
    segments: usize,
) -> Result<()> {
    if u.path.is_empty() {
        return Err(fail(ErrorClass::Usage, "the URL names no file"));
    }
    let seg = match segments {
        1 => String::new(),
        n => format!("--segments {n} "),
    };
    let again = match &output {
        Some(o) => format!("ftp-client get -c {seg}-o {o} {}", without_password(url)),
        None => format!("ftp-client get -c {seg}{}", without_password(url)),
    };
    let dest = match output {
        Some(o) => {
            let p = PathBuf::from(o);
            if p.is_dir() {
                p.join(named_after(u.file_name())?)
            } else {
                p
            }
        }
        None => named_after(u.file_name())?,
    };
    let signals = super::interrupt::catch();
    let download = async {
        match segments {
            1 => download_file(ctx, s, &u.path, &dest, resume, None, None).await,
            n => download_segmented(ctx, s, &u.path, &dest, n, resume).await,
        }
    };
    let Some(result) = super::interrupt::until_interrupt(signals.as_ref(), download).await else {
        s.after_interrupt().await;
        s.quit().await;
        return Err(interrupted_download(&dest, &again));
    };
    if let Err(e) = result {
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
    Ok(())
}

/// `put FILE URL [-c] [--create-dirs] [--json]`; FILE `-` is stdin.
async fn put(
    ctx: &Ctx,
    file: &Path,
    url: &str,
    resume: bool,
    create_dirs: bool,
    json: bool,
) -> Result<()> {
    let u = parse_url(url)?;
    let mut remote = u.path.clone();
    let from_stdin = file.as_os_str() == "-";
    let inside = |dir: &[u8]| -> Result<Vec<u8>> {
        if from_stdin {
            return Err(fail(
                ErrorClass::Usage,
                "uploading stdin needs a file name in the URL",
            ));
        }
        let name = file
            .file_name()
            .ok_or_else(|| fail(ErrorClass::Usage, "no file name"))?;
        Ok(rjoin(dir, &remote_name(Path::new(name))))
    };
    if u.dir_hint || remote.is_empty() {
        remote = inside(&remote)?;
    }
    if !from_stdin && !file.exists() {
        return Err(fail(
            ErrorClass::NotFound,
            format!("{}: no such file", file.display()),
        ));
    }
    let mut s = open(ctx, &u).await?;
    // Like cp: an existing directory as the target receives the file.
    let c = s.client().await?;
    if !from_stdin && remote == u.path && c.is_dir(&remote).await.unwrap_or(false) {
        remote = inside(&remote)?;
    }
    if create_dirs {
        make_parents(c, &remote).await;
    }
    let size = if from_stdin {
        let started = Instant::now();
        let stdin = blocking::Unblock::new(std::io::stdin());
        let n = s.client().await?.stor(&remote, stdin, 0).await?;
        summary(ctx, "put", &lossy(&remote), n, started);
        n
    } else {
        upload_file(ctx, &mut s, file, &remote, resume, true).await?
    };
    if json {
        let v = serde_json::json!({"path": String::from_utf8_lossy(&remote), "size": size});
        writeln!(std::io::stdout(), "{v}")?;
    }
    s.quit().await;
    Ok(())
}

/// `rm URL... [--json]`: one connection per run of URLs on the same server.
async fn rm(ctx: &Ctx, urls: &[String], json: bool) -> Result<()> {
    let mut results = Vec::new();
    let mut failed = 0;
    let mut last = None;
    let mut sess: Option<(String, u16, Session)> = None;
    for url in urls {
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
        let path = String::from_utf8_lossy(&u.path).into_owned();
        if let Err(e) = s.client().await?.delete(&u.path).await {
            eprintln!("ftp-client: rm {}: {e}", lossy(&u.path));
            let error = e.to_string();
            results.push(serde_json::json!({"path": path, "deleted": false, "error": error}));
            failed += 1;
            last = Some(e);
        } else {
            if ctx.verbose > 0 {
                eprintln!("deleted {}", lossy(&u.path));
            }
            results.push(serde_json::json!({"path": path, "deleted": true}));
        }
    }
    if json {
        writeln!(std::io::stdout(), "{}", serde_json::Value::Array(results))?;
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

/// `mkdir URL [-p]`.
async fn mkdir(ctx: &Ctx, url: &str, parents: bool) -> Result<()> {
    let u = parse_url(url)?;
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

/// `mv URL TO`: TO is a path or a URL on the same server and user.
async fn mv(ctx: &Ctx, url: &str, to: &str) -> Result<()> {
    let u = parse_url(url)?;
    let to = if is_url(to) {
        let t = parse_url(to)?;
        let same_user = t.user.is_none() || t.user == u.user;
        if !t.host.eq_ignore_ascii_case(&u.host) || t.port != u.port || !same_user {
            return Err(fail(
                ErrorClass::Usage,
                "mv: the target must be on the same server and user as the source",
            ));
        }
        t.path
    } else {
        to.as_bytes().to_vec()
    };
    let mut s = open(ctx, &u).await?;
    s.client().await?.rename(&u.path, &to).await?;
    s.quit().await;
    Ok(())
}

/// `stat URL [--json]`: from `MLST`, else from `CWD`, `SIZE` and `MDTM`.
async fn stat(ctx: &Ctx, url: &str, json: bool) -> Result<()> {
    let u = parse_url(url)?;
    let mut s = open(ctx, &u).await?;
    let c = s.client().await?;
    let entry = match c.mlst(&u.path).await? {
        Some(e) => e,
        None => {
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
                perm: None,
                precise_time: true,
            }
        }
    };
    write_stat(ctx, &u.path, &entry, json)?;
    s.quit().await;
    Ok(())
}
