//! `mirror SRC DST` (both directions) and `get -r`: compare trees, plan, transfer in
//! parallel, delete extras.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use ftp_proto::Timestamp;

use super::ops::{
    download_file, local_name, remote_name, resolve_login, rjoin, upload_file, walk_remote, Session,
};
use super::url::{is_url, FtpUrl};
use super::{fail, Ctx};
use crate::error::ErrorClass;
use crate::listing::EntryKind;

/// What is known about a file on one side.
#[derive(Debug, Clone, Copy)]
struct Meta {
    dir: bool,
    size: Option<u64>,
    mtime: Option<Timestamp>,
    /// False for times from `LIST` (server time zone, minute precision).
    precise: bool,
}

#[derive(Debug, Clone)]
enum Action {
    MkdirLocal(PathBuf),
    MkdirRemote(Vec<u8>),
    Get {
        remote: Vec<u8>,
        local: PathBuf,
        mtime: Option<Timestamp>,
        /// The size from an `MLSD` listing (none from `LIST`): spares the `SIZE` command.
        size: Option<u64>,
    },
    Put {
        local: PathBuf,
        remote: Vec<u8>,
    },
    DeleteLocal(PathBuf, bool),
    DeleteRemote(Vec<u8>, bool),
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match self {
            Action::MkdirLocal(p) => write!(f, "mkdir {}", p.display()),
            Action::MkdirRemote(p) => write!(f, "mkdir {}", l(p)),
            Action::Get { remote, local, .. } => {
                write!(f, "get {} -> {}", l(remote), local.display())
            }
            Action::Put { local, remote } => write!(f, "put {} -> {}", local.display(), l(remote)),
            Action::DeleteLocal(p, _) => write!(f, "delete {}", p.display()),
            Action::DeleteRemote(p, _) => write!(f, "delete {}", l(p)),
        }
    }
}

fn secs(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.to_unix().0)
}

/// Should `src` be copied over `dst`?
fn needs_copy(src: &Meta, dst: Option<&Meta>, only_newer: bool) -> bool {
    let Some(dst) = dst else { return true };
    if dst.dir {
        return false;
    }
    // LIST times are coarse (and in the server's zone): only a clear difference counts.
    let slack = if src.precise && dst.precise {
        0
    } else {
        24 * 3600
    };
    let times = (secs(src.mtime), secs(dst.mtime));
    if only_newer {
        return match times {
            (Some(s), Some(d)) => s > d + slack,
            _ => src.size != dst.size,
        };
    }
    if src.size != dst.size {
        return true;
    }
    src.precise && dst.precise && matches!(times, (Some(s), Some(d)) if s != d)
}

fn walk_local(root: &Path) -> Result<BTreeMap<Vec<u8>, Meta>> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return Ok(out);
    }
    let mut stack = vec![(Vec::new(), 0usize)];
    while let Some((rel, depth)) = stack.pop() {
        if depth > 64 {
            return Err(fail(
                ErrorClass::Transfer,
                "directory tree deeper than 64 levels",
            ));
        }
        let dir = root.join(local_name(&rel));
        for ent in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let ent = ent?;
            let name = remote_name(Path::new(&ent.file_name()));
            if name.starts_with(b".") && name.ends_with(b".part") {
                continue;
            }
            let md = std::fs::metadata(ent.path())?;
            let r = rjoin(&rel, &name);
            if md.is_dir() {
                stack.push((r.clone(), depth + 1));
            } else if !md.is_file() {
                continue;
            }
            out.insert(
                r,
                Meta {
                    dir: md.is_dir(),
                    size: (!md.is_dir()).then_some(md.len()),
                    mtime: md.modified().ok().map(Timestamp::from_system_time),
                    precise: true,
                },
            );
        }
    }
    Ok(out)
}

fn plan_download(
    remote_root: &[u8],
    local_root: &Path,
    remote: &BTreeMap<Vec<u8>, Meta>,
    local: &BTreeMap<Vec<u8>, Meta>,
    only_newer: bool,
    delete: bool,
) -> Vec<Action> {
    let mut acts = Vec::new();
    if !local_root.exists() {
        acts.push(Action::MkdirLocal(local_root.to_path_buf()));
    }
    for (rel, m) in remote {
        let lp = local_root.join(local_name(rel));
        if m.dir {
            if !local.get(rel).is_some_and(|l| l.dir) {
                acts.push(Action::MkdirLocal(lp));
            }
        } else if needs_copy(m, local.get(rel), only_newer) {
            acts.push(Action::Get {
                remote: rjoin(remote_root, rel),
                local: lp,
                mtime: m.mtime,
                size: if m.precise { m.size } else { None },
            });
        }
    }
    if delete {
        for (rel, m) in local.iter().rev() {
            if !remote.contains_key(rel) {
                acts.push(Action::DeleteLocal(local_root.join(local_name(rel)), m.dir));
            }
        }
    }
    acts
}

fn plan_upload(
    local_root: &Path,
    remote_root: &[u8],
    local: &BTreeMap<Vec<u8>, Meta>,
    remote: &BTreeMap<Vec<u8>, Meta>,
    remote_exists: bool,
    only_newer: bool,
    delete: bool,
) -> Vec<Action> {
    let mut acts = Vec::new();
    if !remote_exists && !remote_root.is_empty() {
        acts.push(Action::MkdirRemote(remote_root.to_vec()));
    }
    for (rel, m) in local {
        let rp = rjoin(remote_root, rel);
        if m.dir {
            if !remote.get(rel).is_some_and(|r| r.dir) {
                acts.push(Action::MkdirRemote(rp));
            }
        } else if needs_copy(m, remote.get(rel), only_newer) {
            acts.push(Action::Put {
                local: local_root.join(local_name(rel)),
                remote: rp,
            });
        }
    }
    if delete {
        for (rel, m) in remote.iter().rev() {
            if !local.contains_key(rel) {
                acts.push(Action::DeleteRemote(rjoin(remote_root, rel), m.dir));
            }
        }
    }
    acts
}

async fn remote_tree(sess: &mut Session, root: &[u8]) -> Result<BTreeMap<Vec<u8>, Meta>> {
    let c = sess.client().await?;
    let entries = walk_remote(c, root).await?;
    let mut out = BTreeMap::new();
    for (rel, e) in entries {
        let dir = e.kind == EntryKind::Dir;
        if !dir && e.kind != EntryKind::File {
            log::info!(
                "skipping {} (not a regular file)",
                String::from_utf8_lossy(&rel)
            );
            continue;
        }
        out.insert(
            rel,
            Meta {
                dir,
                size: e.size,
                mtime: e.modified,
                precise: e.precise_time,
            },
        );
    }
    Ok(out)
}

/// Reports one action's outcome on stderr: a failure (counted: returns 1), or with `-v` the
/// action itself.
fn report(a: &Action, r: Result<()>, verbose: u8) -> usize {
    match r {
        Err(e) => {
            eprintln!("ftp-client: {a}: {e:#}");
            1
        }
        Ok(()) => {
            if verbose > 0 {
                eprintln!("{a}");
            }
            0
        }
    }
}

/// Runs the non-transfer actions in order and the transfers on up to `parallel`
/// connections. Returns the number of failed actions.
async fn execute(
    ctx: &Ctx,
    sess: &mut Session,
    acts: Vec<Action>,
    parallel: usize,
    dry_run: bool,
    resume: bool,
) -> Result<usize> {
    if dry_run {
        let mut out = std::io::stdout().lock();
        for a in &acts {
            writeln!(out, "{a}")?;
        }
        return Ok(0);
    }
    let mut failed = 0usize;
    let (mkdirs, rest): (Vec<_>, Vec<_>) = acts
        .into_iter()
        .partition(|a| matches!(a, Action::MkdirLocal(_) | Action::MkdirRemote(_)));
    let (transfers, deletes): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|a| matches!(a, Action::Get { .. } | Action::Put { .. }));
    for a in mkdirs {
        let r: Result<()> = match &a {
            Action::MkdirLocal(p) => {
                std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))
            }
            Action::MkdirRemote(p) => {
                async {
                    let c = sess.client().await?;
                    if c.mkdir(p).await.is_err() {
                        // Maybe a parent is missing too (the mirror's root).
                        super::ops::make_parents(c, p).await;
                        c.mkdir(p).await?;
                    }
                    Ok(())
                }
                .await
            }
            _ => Ok(()),
        };
        failed += report(&a, r, ctx.verbose);
    }
    let workers = parallel.clamp(1, 16).min(transfers.len().max(1));
    let (tx, rx) = async_channel::unbounded::<Action>();
    for t in transfers {
        let _ = tx.try_send(t);
    }
    tx.close();
    let run_worker = |mut s: Session, rx: async_channel::Receiver<Action>| async move {
        let mut failed = 0usize;
        while let Ok(a) = rx.recv().await {
            let r = match &a {
                Action::Get {
                    remote,
                    local,
                    mtime,
                    size,
                } => download_file(ctx, &mut s, remote, local, resume, *mtime, *size)
                    .await
                    .map(drop),
                Action::Put { local, remote } => {
                    upload_file(ctx, &mut s, local, remote, false, true)
                        .await
                        .map(drop)
                }
                _ => Ok(()),
            };
            // Transfers print their own summary lines; only failures are reported here.
            failed += report(&a, r, 0);
        }
        (s, failed)
    };
    let mut futs = Vec::new();
    for _ in 1..workers {
        let s = Session::new(ctx, sess.login.clone());
        futs.push(run_worker(s, rx.clone()));
    }
    let main_sess = std::mem::replace(sess, Session::new(ctx, sess.login.clone()));
    futs.push(run_worker(main_sess, rx));
    let results = futures::future::join_all(futs).await;
    let mut results = results.into_iter();
    // The last worker ran on the main session: give it back.
    let mut extra = Vec::new();
    for (s, f) in results.by_ref() {
        failed += f;
        extra.push(s);
    }
    if let Some(main) = extra.pop() {
        *sess = main;
    }
    for mut s in extra {
        s.quit().await;
    }
    for a in deletes {
        let r: Result<()> = match &a {
            Action::DeleteLocal(p, true) => {
                std::fs::remove_dir(p).with_context(|| format!("removing {}", p.display()))
            }
            Action::DeleteLocal(p, false) => {
                std::fs::remove_file(p).with_context(|| format!("removing {}", p.display()))
            }
            Action::DeleteRemote(p, dir) => {
                async {
                    let c = sess.client().await?;
                    if *dir {
                        c.rmdir(p).await?;
                    } else {
                        c.delete(p).await?;
                    }
                    Ok(())
                }
                .await
            }
            _ => Ok(()),
        };
        failed += report(&a, r, ctx.verbose);
    }
    Ok(failed)
}

/// Downloads the tree under `remote_root` into `local_root`; returns the failure count.
pub(crate) async fn download_tree(
    ctx: &Ctx,
    sess: &mut Session,
    remote_root: &[u8],
    local_root: &Path,
    only_newer: bool,
    delete: bool,
    resume: bool,
) -> Result<usize> {
    let remote = remote_tree(sess, remote_root).await?;
    let local = walk_local(local_root)?;
    let acts = plan_download(remote_root, local_root, &remote, &local, only_newer, delete);
    execute(ctx, sess, acts, 1, false, resume).await
}

/// `mirror SRC DST`.
pub(crate) async fn run(
    ctx: &Ctx,
    src: &str,
    dst: &str,
    only_newer: bool,
    delete: bool,
    dry_run: bool,
    parallel: usize,
) -> Result<()> {
    let (url, local, download) = match (is_url(src), is_url(dst)) {
        (true, false) => (FtpUrl::parse(src)?, PathBuf::from(dst), true),
        (false, true) => (FtpUrl::parse(dst)?, PathBuf::from(src), false),
        _ => {
            return Err(fail(
                ErrorClass::Usage,
                "mirror needs one ftp:// URL and one local directory",
            ))
        }
    };
    let login = resolve_login(ctx, &url)?;
    let mut sess = Session::new(ctx, login);
    sess.client().await?;
    let acts = if download {
        let remote = remote_tree(&mut sess, &url.path).await?;
        let local_tree = walk_local(&local)?;
        plan_download(&url.path, &local, &remote, &local_tree, only_newer, delete)
    } else {
        if !local.is_dir() {
            return Err(fail(
                ErrorClass::NotFound,
                format!("{}: not a directory", local.display()),
            ));
        }
        let local_tree = walk_local(&local)?;
        let exists = url.path.is_empty() || sess.client().await?.is_dir(&url.path).await?;
        let remote = if exists {
            remote_tree(&mut sess, &url.path).await?
        } else {
            BTreeMap::new()
        };
        plan_upload(
            &local,
            &url.path,
            &local_tree,
            &remote,
            exists,
            only_newer,
            delete,
        )
    };
    let total = acts.len();
    let failed = execute(ctx, &mut sess, acts, parallel, dry_run, false).await?;
    sess.quit().await;
    if failed > 0 {
        return Err(fail(
            ErrorClass::Partial,
            format!("{failed} of {total} actions failed"),
        ));
    }
    if !ctx.quiet && !dry_run {
        eprintln!("mirror: {total} action(s) done");
    }
    let _ = BTreeSet::<u8>::new();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64, secs: i64) -> Meta {
        Meta {
            dir: false,
            size: Some(size),
            mtime: Some(Timestamp::from_unix(secs, 0)),
            precise: true,
        }
    }

    #[test]
    fn copies_missing_changed_or_newer_files() {
        let src = meta(10, 1000);
        assert!(needs_copy(&src, None, false));
        assert!(needs_copy(&src, None, true));
        assert!(!needs_copy(&src, Some(&meta(10, 1000)), false));
        assert!(
            needs_copy(&src, Some(&meta(11, 1000)), false),
            "size differs"
        );
        assert!(
            needs_copy(&src, Some(&meta(10, 2000)), false),
            "time differs"
        );
        assert!(
            !needs_copy(&src, Some(&meta(99, 2000)), true),
            "destination is newer"
        );
        assert!(
            needs_copy(&src, Some(&meta(10, 500)), true),
            "source is newer"
        );
        // A LIST time on either side: equal sizes are enough, and "newer" needs a clear margin.
        let coarse = Meta {
            precise: false,
            ..meta(10, 1060)
        };
        assert!(!needs_copy(&src, Some(&coarse), false));
        assert!(!needs_copy(&coarse, Some(&src), true));
        assert!(needs_copy(&meta(10, 1_000_000), Some(&coarse), true));
    }

    #[test]
    fn download_plan_carries_mlsd_sizes_but_not_list_sizes() {
        let mut remote = BTreeMap::new();
        remote.insert(b"exact".to_vec(), meta(7, 1));
        remote.insert(
            b"listed".to_vec(),
            Meta {
                precise: false,
                ..meta(9, 1)
            },
        );
        let acts = plan_download(
            b"r",
            Path::new("/nonexistent-mirror-target"),
            &remote,
            &BTreeMap::new(),
            false,
            false,
        );
        let sizes: Vec<_> = acts
            .iter()
            .filter_map(|a| match a {
                Action::Get { remote, size, .. } => Some((remote.clone(), *size)),
                _ => None,
            })
            .collect();
        assert_eq!(
            sizes,
            vec![(b"r/exact".to_vec(), Some(7)), (b"r/listed".to_vec(), None)]
        );
    }

    #[test]
    fn upload_plan_creates_dirs_before_files_and_deletes_children_first() {
        let mut local = BTreeMap::new();
        local.insert(
            b"d".to_vec(),
            Meta {
                dir: true,
                size: None,
                mtime: None,
                precise: true,
            },
        );
        local.insert(b"d/f".to_vec(), meta(1, 1));
        let mut remote = BTreeMap::new();
        remote.insert(
            b"old".to_vec(),
            Meta {
                dir: true,
                size: None,
                mtime: None,
                precise: true,
            },
        );
        remote.insert(b"old/x".to_vec(), meta(1, 1));
        let acts = plan_upload(Path::new("l"), b"r", &local, &remote, true, false, true);
        let text: Vec<String> = acts.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "mkdir r/d",
                "put l/d/f -> r/d/f",
                "delete r/old/x",
                "delete r/old"
            ]
        );
    }
}
