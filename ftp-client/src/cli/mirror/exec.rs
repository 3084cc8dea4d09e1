//! Running a mirror's plan: directories first, then the transfers on up to `-P` connections,
//! then deletions and directory modes; each completed action goes into the journal.

use std::cell::RefCell;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::journal::Journal;
use super::Action;
use crate::cli::paths::make_parents;
use crate::cli::session::Session;
use crate::cli::transfer::{download_file, part_path, upload_file};
use crate::cli::Ctx;
use crate::Error;

/// The actions to run, each with its index in the plan (the journal's numbering).
pub(super) type Todo = Vec<(usize, Action)>;

/// How the plan runs.
#[derive(Debug)]
pub(super) struct Settings {
    /// Transfers at once, each on its own connection.
    pub parallel: usize,
    /// `--continue`: resume partial files.
    pub resume: bool,
    /// Stop starting actions after this many failed.
    pub max_errors: Option<usize>,
    /// The run continues a journal: `.part` files left by the interrupted run are resumed.
    pub resume_parts: bool,
}

/// What a run did.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Actions that completed.
    pub done: usize,
    /// The files transferred, as `get a -> b` / `put a -> b`.
    pub transferred: Vec<String>,
    /// Bytes moved by the transfers (a resumed file counts in full).
    pub bytes: u64,
    /// Failed actions and why.
    pub failed: Vec<(String, String)>,
    /// `--max-errors` stopped the run before the end.
    pub stopped: bool,
}

/// The shared state of a run's workers (they run concurrently on one thread).
struct Run<'j> {
    journal: Option<&'j mut Journal>,
    out: Outcome,
    max_errors: Option<usize>,
    /// False once the server refused a `SITE CHMOD`: modes are not sent again.
    remote_chmod: bool,
    verbose: u8,
}

impl Run<'_> {
    /// True when `--max-errors` says to start nothing more.
    fn stopping(&self) -> bool {
        self.out.stopped
    }

    /// Counts one action's outcome, journals it when it succeeded; reports a failure (or with
    /// `-v` any action that is not a transfer: those print their own line).
    fn record(&mut self, index: usize, a: &Action, r: Result<u64>) {
        match r {
            Ok(bytes) => {
                if let Some(j) = self.journal.as_mut() {
                    j.done(index);
                }
                self.out.done += 1;
                if matches!(a, Action::Get { .. } | Action::Put { .. }) {
                    self.out.transferred.push(a.to_string());
                    self.out.bytes += bytes;
                } else if self.verbose > 0 {
                    eprintln!("{a}");
                }
            }
            Err(e) => {
                let why = crate::cli::error_text(&e);
                eprintln!("ftp-client: {a}: {why}");
                self.out.failed.push((a.to_string(), why));
                if self.max_errors.is_some_and(|m| self.out.failed.len() >= m) {
                    self.out.stopped = true;
                }
            }
        }
    }
}

/// Runs the actions: directories first, then the transfers on up to `parallel` connections,
/// then the deletions and directory modes, in plan order.
pub(super) async fn execute(
    ctx: &Ctx,
    sess: &mut Session,
    todo: Todo,
    settings: &Settings,
    journal: Option<&mut Journal>,
) -> Outcome {
    let (mkdirs, rest): (Vec<_>, Vec<_>) = todo
        .into_iter()
        .partition(|(_, a)| matches!(a, Action::MkdirLocal(_) | Action::MkdirRemote(_)));
    let (transfers, rest): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|(_, a)| matches!(a, Action::Get { .. } | Action::Put { .. }));
    let run = RefCell::new(Run {
        journal,
        out: Outcome::default(),
        max_errors: settings.max_errors,
        remote_chmod: true,
        verbose: ctx.verbose,
    });
    one_by_one(sess, mkdirs, &run).await;
    transfer_all(ctx, sess, transfers, settings, &run).await;
    one_by_one(sess, rest, &run).await;
    run.into_inner().out
}

/// Runs actions other than transfers in order, on `sess`, until `--max-errors` stops them.
async fn one_by_one(sess: &mut Session, acts: Todo, run: &RefCell<Run<'_>>) {
    for (i, a) in acts {
        if run.borrow().stopping() {
            return;
        }
        let r = simple_action(sess, &a, run).await.map(|()| 0);
        run.borrow_mut().record(i, &a, r);
    }
}

/// A directory to create, a file or directory to delete, a mode to set.
async fn simple_action(sess: &mut Session, a: &Action, run: &RefCell<Run<'_>>) -> Result<()> {
    let rm_local = |p: &Path, dir: bool| {
        let r = if dir {
            std::fs::remove_dir(p)
        } else {
            std::fs::remove_file(p)
        };
        r.with_context(|| format!("removing {}", p.display()))
    };
    match a {
        Action::MkdirLocal(p) => {
            std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))
        }
        Action::MkdirRemote(p) => {
            let c = sess.client().await?;
            if c.mkdir(p).await.is_err() {
                // Maybe a parent is missing too (the mirror's root).
                make_parents(c, p).await;
                c.mkdir(p).await?;
            }
            Ok(())
        }
        Action::DeleteLocal(p, dir) => rm_local(p, *dir),
        Action::DeleteRemote(p, dir) => {
            let c = sess.client().await?;
            match dir {
                true => c.rmdir(p).await?,
                false => c.delete(p).await?,
            }
            Ok(())
        }
        Action::ChmodLocal(p, mode) => chmod_local(p, *mode),
        Action::ChmodRemote(p, mode) => chmod_remote(sess, p, *mode, run).await,
        Action::Get { .. } | Action::Put { .. } => Ok(()),
    }
}

fn chmod_local(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:03o} {}", p.display()))
}

/// `SITE CHMOD`; a server that refuses it (not implemented, not allowed) is told once and
/// not asked again in this run: the files are there, only their modes are not copied.
async fn chmod_remote(
    sess: &mut Session,
    path: &[u8],
    mode: u32,
    run: &RefCell<Run<'_>>,
) -> Result<()> {
    if !run.borrow().remote_chmod {
        return Ok(());
    }
    let Ok(p) = std::str::from_utf8(path) else {
        log::info!("not setting the mode of a name that is not UTF-8");
        return Ok(());
    };
    match sess
        .client()
        .await?
        .site(&format!("CHMOD {mode:o} {p}"))
        .await
    {
        Ok(_) => Ok(()),
        Err(Error::Reply { reply, .. }) => {
            log::warn!("the server refuses SITE CHMOD ({reply}); modes are not copied (--no-perms avoids asking)");
            run.borrow_mut().remote_chmod = false;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// One transfer, then the mode of what it wrote.
async fn transfer(
    ctx: &Ctx,
    s: &mut Session,
    a: &Action,
    settings: &Settings,
    run: &RefCell<Run<'_>>,
) -> Result<u64> {
    match a {
        Action::Get {
            remote,
            local,
            mtime,
            size,
            mode,
        } => {
            let resume = settings.resume || (settings.resume_parts && part_path(local).exists());
            let n = download_file(ctx, s, remote, local, resume, *mtime, *size).await?;
            if let Some(m) = mode {
                chmod_local(local, *m)?;
            }
            Ok(n)
        }
        Action::Put {
            local,
            remote,
            mode,
        } => {
            let n = upload_file(ctx, s, local, remote, settings.resume, true).await?;
            if let Some(m) = mode {
                chmod_remote(s, remote, *m, run).await?;
            }
            Ok(n)
        }
        _ => Ok(0),
    }
}

/// Runs the transfers on up to `parallel` connections (`sess` is one of them, and stays
/// open).
async fn transfer_all(
    ctx: &Ctx,
    sess: &mut Session,
    transfers: Todo,
    settings: &Settings,
    run: &RefCell<Run<'_>>,
) {
    let workers = settings.parallel.clamp(1, 16).min(transfers.len().max(1));
    let (tx, rx) = async_channel::unbounded::<(usize, Action)>();
    for t in transfers {
        let _ = tx.try_send(t);
    }
    tx.close();
    let run_worker = |mut s: Session, rx: async_channel::Receiver<(usize, Action)>| async move {
        while let Ok((i, a)) = rx.recv().await {
            if run.borrow().stopping() {
                break;
            }
            let r = transfer(ctx, &mut s, &a, settings, run).await;
            run.borrow_mut().record(i, &a, r);
        }
        s
    };
    let mut futs = Vec::new();
    for _ in 1..workers {
        let s = sess.sibling(ctx);
        futs.push(run_worker(s, rx.clone()));
    }
    let main_sess = std::mem::replace(sess, Session::new(ctx, sess.login.clone()));
    futs.push(run_worker(main_sess, rx));
    let mut sessions = futures::future::join_all(futs).await;
    // The last worker ran on the main session: give it back.
    if let Some(main) = sessions.pop() {
        *sess = main;
    }
    for mut s in sessions {
        s.quit().await;
    }
}
