//! `mirror SRC DST` (both directions) and `get -r`: compare trees, plan, transfer in
//! parallel, delete extras; `--include`/`--exclude` and the other filters (`filter`), modes
//! (`--perms`), and a journal that lets an interrupted run continue where it stopped
//! (`journal`). The shell's `mirror` parses the same [`MirrorArgs`] and calls `run_on`.

mod checksum;
mod exec;
mod filter;
mod journal;

use std::collections::BTreeMap;
use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use ftp_proto::Timestamp;

pub use filter::{parse_newer_than, parse_size_range, Globs, SizeRange};

use super::names::escape_controls;
use super::paths::{check_depth, local_name, remote_name, rjoin, walk_remote};
use super::session::{resolve_login, Session};
use super::url::{is_url, FtpUrl};
use super::{fail, Ctx};
use crate::error::ErrorClass;
use crate::listing::EntryKind;
use journal::Journal;

/// The options of `mirror`, the subcommand's and the shell command's.
#[derive(Debug, Clone, clap::Args)]
pub struct MirrorArgs {
    /// Source (URL or local directory).
    pub src: String,
    /// Destination (local directory or URL).
    pub dst: String,
    /// Only transfer files newer on the source side (or missing on the destination).
    #[arg(long)]
    pub only_newer: bool,
    /// Only transfer files missing on the destination (changed files are left alone).
    #[arg(long, conflicts_with = "only_newer")]
    pub only_missing: bool,
    /// Resume partial files (a shorter destination file is continued with REST).
    #[arg(short = 'c', long = "continue")]
    pub resume: bool,
    /// Delete destination files that are not on the source side (excluded names are kept).
    #[arg(long)]
    pub delete: bool,
    /// Leave out paths matching GLOB (repeatable; matched against the path relative to the
    /// mirror's root as lftp's --exclude-glob: `*.tmp`, `docs/*.md`, `cache/` for
    /// directories).
    #[arg(short = 'X', long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Copy only files matching GLOB (repeatable; directories are still entered).
    #[arg(short = 'I', long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Only transfer files modified after DATE (YYYY-MM-DD, YYYY-MM-DD HH:MM or
    /// YYYY-MM-DD HH:MM:SS, UTC) or after a local file's modification time.
    #[arg(long, value_name = "DATE|FILE", value_parser = parse_newer_than)]
    pub newer_than: Option<i64>,
    /// Only transfer files whose size is in the range (MIN-MAX, MIN- or -MAX; suffixes k, M,
    /// G, T).
    #[arg(long, value_name = "MIN-MAX", value_parser = parse_size_range)]
    pub size_range: Option<SizeRange>,
    /// Stop after N failed actions (the journal keeps what is left for the next run).
    #[arg(long, value_name = "N")]
    pub max_errors: Option<NonZeroUsize>,
    /// Do not copy permissions (the default copies them: SITE CHMOD on upload, chmod with
    /// the umask applied on download).
    #[arg(long, overrides_with = "perms")]
    pub no_perms: bool,
    /// Copy permissions (the default).
    #[arg(long, overrides_with = "no_perms")]
    pub perms: bool,
    /// Where sizes match, compare the server's SHA-256 (HASH) with the local file's and copy
    /// when they differ (servers without HASH: sizes and times only).
    #[arg(long)]
    pub checksum: bool,
    /// Ignore the journal an interrupted run left: compare both trees again.
    #[arg(long)]
    pub fresh: bool,
    /// Show what would be done, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Parallel transfers (each on its own connection).
    #[arg(short = 'P', long, default_value_t = 1, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16))]
    pub parallel: usize,
    /// Print a JSON summary: {"actions", "transferred", "failed", "skipped", ...}, and
    /// "planned" with --dry-run.
    #[arg(long)]
    pub json: bool,
}

/// What is known about a file on one side.
#[derive(Debug, Clone, Copy)]
struct Meta {
    dir: bool,
    size: Option<u64>,
    mtime: Option<Timestamp>,
    /// False for times from `LIST` (server time zone, minute precision).
    precise: bool,
    /// The permission bits (`0o777`), when known.
    mode: Option<u32>,
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
        /// The mode to give the local file (`--perms`).
        mode: Option<u32>,
    },
    Put {
        local: PathBuf,
        remote: Vec<u8>,
        /// The mode to give the remote file (`--perms`, `SITE CHMOD`).
        mode: Option<u32>,
    },
    DeleteLocal(PathBuf, bool),
    DeleteRemote(Vec<u8>, bool),
    ChmodLocal(PathBuf, u32),
    ChmodRemote(Vec<u8>, u32),
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names are shown with their control characters escaped, on stdout and stderr alike.
        let l = |b: &[u8]| escape_controls(b).into_owned();
        let p = |p: &Path| l(&remote_name(p));
        match self {
            Action::MkdirLocal(d) => write!(f, "mkdir {}", p(d)),
            Action::MkdirRemote(d) => write!(f, "mkdir {}", l(d)),
            Action::Get { remote, local, .. } => write!(f, "get {} -> {}", l(remote), p(local)),
            Action::Put { local, remote, .. } => write!(f, "put {} -> {}", p(local), l(remote)),
            Action::DeleteLocal(d, _) => write!(f, "delete {}", p(d)),
            Action::DeleteRemote(d, _) => write!(f, "delete {}", l(d)),
            Action::ChmodLocal(d, m) => write!(f, "chmod {m:03o} {}", p(d)),
            Action::ChmodRemote(d, m) => write!(f, "chmod {m:03o} {}", l(d)),
        }
    }
}

/// What the plan left alone, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PlanStats {
    /// Remote names that cannot be local names (a partial run: exit code 9).
    unusable: usize,
    /// Files the destination already has.
    up_to_date: usize,
    /// Files outside `--size-range` or older than `--newer-than`.
    filtered: usize,
}

/// How the plan is made, from [`MirrorArgs`].
#[derive(Debug)]
struct PlanOpts {
    only_newer: bool,
    only_missing: bool,
    delete: bool,
    perms: bool,
    globs: Globs,
    size_range: Option<SizeRange>,
    newer_than: Option<i64>,
    /// Applied to modes given to local files.
    umask: u32,
    /// `--checksum`: files of equal size are compared by digest too.
    checksum: bool,
}

impl PlanOpts {
    fn from_args(a: &MirrorArgs) -> Result<PlanOpts> {
        Ok(PlanOpts {
            only_newer: a.only_newer,
            only_missing: a.only_missing,
            delete: a.delete,
            perms: !a.no_perms,
            globs: Globs::new(&a.include, &a.exclude).map_err(|e| fail(ErrorClass::Usage, e))?,
            size_range: a.size_range,
            newer_than: a.newer_than,
            umask: umask(),
            checksum: a.checksum,
        })
    }

    /// The plan of `get -r` (and of a mirror without options).
    fn plain(only_newer: bool, delete: bool) -> PlanOpts {
        PlanOpts {
            only_newer,
            only_missing: false,
            delete,
            perms: false,
            globs: Globs::default(),
            size_range: None,
            newer_than: None,
            umask: 0o022,
            checksum: false,
        }
    }

    /// False for a source file that `--size-range` or `--newer-than` leave out.
    fn selects(&self, m: &Meta) -> bool {
        let size_ok = match (self.size_range, m.size) {
            (Some(r), Some(s)) => r.contains(s),
            _ => true,
        };
        let time_ok = match (self.newer_than, secs(m.mtime)) {
            (Some(t), Some(s)) => s > t,
            _ => true,
        };
        size_ok && time_ok
    }
}

/// The process's umask, read from `/proc/self/status` (022 where it cannot be read).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

fn secs(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.to_unix().0)
}

/// Should `src` be copied over `dst`?
fn needs_copy(src: &Meta, dst: Option<&Meta>, o: &PlanOpts) -> bool {
    let Some(dst) = dst else { return true };
    if dst.dir || o.only_missing {
        return false;
    }
    // LIST times are coarse (and in the server's zone): only a clear difference counts.
    let slack = if src.precise && dst.precise {
        0
    } else {
        24 * 3600
    };
    let times = (secs(src.mtime), secs(dst.mtime));
    if o.only_newer {
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

/// The permission bits of `rwxr-xr-x` (`s`, `t` count as `x`; `S`, `T` as `-`).
fn parse_mode(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    let b = if b.len() == 10 { &b[1..] } else { b };
    if b.len() != 9 {
        return None;
    }
    let mut mode = 0;
    for (i, c) in b.iter().enumerate() {
        let want = [b'r', b'w', b'x'][i % 3];
        let on = *c == want || (i % 3 == 2 && matches!(c, b's' | b't'));
        if !on && !matches!(c, b'-' | b'S' | b'T') {
            return None;
        }
        mode = mode << 1 | u32::from(on);
    }
    Some(mode)
}

/// The local tree under `root`, leaving out what `globs` exclude (excluded directories are
/// not entered).
fn walk_local(root: &Path, globs: &Globs) -> Result<BTreeMap<Vec<u8>, Meta>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    if !root.exists() {
        return Ok(out);
    }
    let mut stack = vec![(Vec::new(), 0usize)];
    while let Some((rel, depth)) = stack.pop() {
        check_depth(depth)?;
        let dir = root.join(local_name(&rel));
        for ent in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let ent = ent?;
            let name = remote_name(Path::new(&ent.file_name()));
            if name.starts_with(b".") && name.ends_with(b".part") {
                continue;
            }
            let md = std::fs::metadata(ent.path())?;
            let r = rjoin(&rel, &name);
            if !(md.is_dir() || md.is_file()) || !globs.keeps(&r, md.is_dir()) {
                continue;
            }
            if md.is_dir() {
                stack.push((r.clone(), depth + 1));
            }
            let meta = Meta {
                dir: md.is_dir(),
                size: (!md.is_dir()).then_some(md.len()),
                mtime: md.modified().ok().map(Timestamp::from_system_time),
                precise: true,
                mode: Some(md.permissions().mode() & 0o777),
            };
            out.insert(r, meta);
        }
    }
    Ok(out)
}

/// The two roots of a mirror and its direction.
#[derive(Debug, Clone, Copy)]
struct Ends<'a> {
    remote: &'a [u8],
    local: &'a Path,
    download: bool,
}

impl Ends<'_> {
    /// Creates the directory at `rel` (empty: the root itself).
    fn mkdir(&self, rel: &[u8]) -> Action {
        match (self.download, rel.is_empty()) {
            (true, true) => Action::MkdirLocal(self.local.to_path_buf()),
            (true, false) => Action::MkdirLocal(self.local.join(local_name(rel))),
            (false, true) => Action::MkdirRemote(self.remote.to_vec()),
            (false, false) => Action::MkdirRemote(rjoin(self.remote, rel)),
        }
    }

    fn transfer(&self, rel: &[u8], m: &Meta, mode: Option<u32>) -> Action {
        let (local, remote) = (self.local.join(local_name(rel)), rjoin(self.remote, rel));
        match self.download {
            true => Action::Get {
                remote,
                local,
                mtime: m.mtime,
                size: if m.precise { m.size } else { None },
                mode,
            },
            false => Action::Put {
                local,
                remote,
                mode,
            },
        }
    }

    fn delete(&self, rel: &[u8], dir: bool) -> Action {
        match self.download {
            true => Action::DeleteLocal(self.local.join(local_name(rel)), dir),
            false => Action::DeleteRemote(rjoin(self.remote, rel), dir),
        }
    }

    fn chmod(&self, rel: &[u8], mode: u32) -> Action {
        match self.download {
            true => Action::ChmodLocal(self.local.join(local_name(rel)), mode),
            false => Action::ChmodRemote(rjoin(self.remote, rel), mode),
        }
    }
}

/// Plans a mirror from the `src` tree to the `dst` tree (which exists unless `!dst_exists`):
/// directories to create, files to copy, extras to delete (children first), then the modes
/// of directories.
fn plan_actions(
    ends: Ends<'_>,
    src: &BTreeMap<Vec<u8>, Meta>,
    dst: &BTreeMap<Vec<u8>, Meta>,
    dst_exists: bool,
    o: &PlanOpts,
    stats: &mut PlanStats,
) -> Vec<Action> {
    let mut acts = Vec::new();
    let mut dir_modes = Vec::new();
    if !dst_exists && (ends.download || !ends.remote.is_empty()) {
        acts.push(ends.mkdir(b""));
    }
    for (rel, m) in src {
        let d = dst.get(rel);
        // The mode wanted on the destination, when modes are copied.
        let want =
            m.mode
                .filter(|_| o.perms)
                .map(|mode| if ends.download { mode & !o.umask } else { mode });
        // Existing remote entries keep their modes: a server that refuses `SITE CHMOD` (or
        // maps modes) would otherwise be asked again on every run.
        let chmod = want
            .filter(|w| d.is_none_or(|d| d.mode != Some(*w)))
            .filter(|_| ends.download || d.is_none());
        if m.dir {
            if !d.is_some_and(|d| d.dir) {
                acts.push(ends.mkdir(rel));
            }
            dir_modes.extend(chmod.map(|w| ends.chmod(rel, w)));
        } else if !o.selects(m) {
            stats.filtered += 1;
        } else if needs_copy(m, d, o) {
            acts.push(ends.transfer(rel, m, want));
        } else {
            stats.up_to_date += 1;
            acts.extend(chmod.filter(|_| d.is_some()).map(|w| ends.chmod(rel, w)));
        }
    }
    if o.delete {
        for (rel, m) in dst.iter().rev() {
            if !src.contains_key(rel) {
                acts.push(ends.delete(rel, m.dir));
            }
        }
    }
    acts.extend(dir_modes);
    acts
}

/// The remote tree under `root`, leaving out what `globs` exclude; names that cannot be
/// local names are counted in `unusable`.
async fn remote_tree(
    sess: &mut Session,
    root: &[u8],
    globs: &Globs,
    unusable: &mut usize,
) -> Result<BTreeMap<Vec<u8>, Meta>> {
    let c = sess.client().await?;
    let keep = |rel: &[u8], e: &crate::Entry| globs.keeps(rel, e.kind == EntryKind::Dir);
    let entries = walk_remote(c, root, unusable, &keep).await?;
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
        let meta = Meta {
            dir,
            size: e.size,
            mtime: e.modified,
            precise: e.precise_time,
            mode: e.permissions.as_deref().and_then(parse_mode),
        };
        out.insert(rel, meta);
    }
    Ok(out)
}

/// Downloads the tree under `remote_root` into `local_root` (`get -r`); returns the count
/// of failed and skipped files.
pub(crate) async fn download_tree(
    ctx: &Ctx,
    sess: &mut Session,
    remote_root: &[u8],
    local_root: &Path,
    only_newer: bool,
    delete: bool,
    resume: bool,
) -> Result<usize> {
    let ends = Ends {
        remote: remote_root,
        local: local_root,
        download: true,
    };
    let (acts, stats) = plan(sess, ends, &PlanOpts::plain(only_newer, delete)).await?;
    let todo = acts.into_iter().enumerate().collect();
    let settings = exec::Settings {
        parallel: 1,
        resume,
        max_errors: None,
        resume_parts: false,
    };
    let out = exec::execute(ctx, sess, todo, &settings, None).await;
    Ok(out.failed.len() + stats.unusable)
}

/// Lists both sides and plans the actions of a mirror.
async fn plan(
    sess: &mut Session,
    ends: Ends<'_>,
    o: &PlanOpts,
) -> Result<(Vec<Action>, PlanStats)> {
    let mut stats = PlanStats::default();
    let (root, local) = (ends.remote, ends.local);
    let acts = if ends.download {
        let remote = remote_tree(sess, root, &o.globs, &mut stats.unusable).await?;
        let local_tree = walk_local(local, &o.globs)?;
        let mut acts = plan_actions(ends, &remote, &local_tree, local.exists(), o, &mut stats);
        if o.checksum {
            checksum::add_changed(sess, root, local, &remote, &local_tree, true, &mut acts).await?;
        }
        acts
    } else {
        if !local.is_dir() {
            return Err(fail(
                ErrorClass::NotFound,
                format!("{}: not a directory", local.display()),
            ));
        }
        let local_tree = walk_local(local, &o.globs)?;
        let exists = root.is_empty() || sess.client().await?.is_dir(root).await?;
        let remote = if exists {
            remote_tree(sess, root, &o.globs, &mut stats.unusable).await?
        } else {
            BTreeMap::new()
        };
        let mut acts = plan_actions(ends, &local_tree, &remote, exists, o, &mut stats);
        if o.checksum {
            checksum::add_changed(sess, root, local, &remote, &local_tree, false, &mut acts)
                .await?;
        }
        acts
    };
    Ok((acts, stats))
}

/// The source and destination of `mirror SRC DST`: the URL, the local directory, and
/// whether it is a download.
fn endpoints(args: &MirrorArgs) -> Result<(FtpUrl, PathBuf, bool)> {
    match (is_url(&args.src), is_url(&args.dst)) {
        (true, false) => Ok((FtpUrl::parse(&args.src)?, PathBuf::from(&args.dst), true)),
        (false, true) => Ok((FtpUrl::parse(&args.dst)?, PathBuf::from(&args.src), false)),
        _ => Err(fail(
            ErrorClass::Usage,
            "mirror needs one ftp:// URL and one local directory",
        )),
    }
}

/// `mirror SRC DST` (the subcommand).
pub(crate) async fn run(ctx: &Ctx, args: &MirrorArgs) -> Result<()> {
    let (url, local, download) = endpoints(args)?;
    let login = resolve_login(ctx, &url)?;
    let mut sess = Session::new(ctx, login);
    sess.client().await?;
    let r = run_on(ctx, &mut sess, &url.path, &local, download, args).await;
    sess.quit().await;
    r
}

/// What identifies a run for its journal: the same key, the same plan.
fn journal_key(sess: &Session, ends: Ends<'_>, a: &MirrorArgs) -> String {
    let local = std::path::absolute(ends.local).unwrap_or_else(|_| ends.local.to_path_buf());
    let l = &sess.login;
    format!(
        "{}\0{}@{}:{}\0{}\0{}\0{:?}",
        if ends.download { "get" } else { "put" },
        l.user,
        l.host,
        l.port,
        String::from_utf8_lossy(ends.remote),
        local.display(),
        (
            a.only_newer,
            a.only_missing,
            a.delete,
            a.no_perms,
            &a.include,
            &a.exclude,
            a.newer_than,
            a.size_range,
        ),
    )
}

/// The plan of this run: what an interrupted earlier run left (its journal), or a fresh
/// comparison of both trees, journaled unless `--dry-run`.
async fn plan_or_resume(
    sess: &mut Session,
    ends: Ends<'_>,
    args: &MirrorArgs,
    o: &PlanOpts,
) -> Result<(exec::Todo, PlanStats, Option<Journal>, bool)> {
    let key = journal_key(sess, ends, args);
    let mut journal = Journal::for_key(&key).filter(|_| !args.dry_run);
    if let Some(j) = journal.as_mut().filter(|_| !args.fresh) {
        if let Some(left) = j.leftover(&key) {
            if j.reopen().is_ok() {
                log::info!(
                    "continuing an interrupted mirror: {} of {} actions left ({})",
                    left.todo.len(),
                    left.planned,
                    j.path().display()
                );
                return Ok((left.todo, left.stats, journal, true));
            }
        }
    }
    let (acts, stats) = plan(sess, ends, o).await?;
    if let Some(j) = journal.as_mut() {
        if let Err(e) = j.start(&key, &acts, stats) {
            log::warn!("no journal for this mirror: {}", super::error_text(&e));
            journal = None;
        }
    }
    Ok((
        acts.into_iter().enumerate().collect(),
        stats,
        journal,
        false,
    ))
}

/// Runs `mirror` between `remote` (on the session's server) and `local`, in the direction
/// `download` says, with `args`' options (`args.src` and `args.dst` are not read).
pub(crate) async fn run_on(
    ctx: &Ctx,
    sess: &mut Session,
    remote: &[u8],
    local: &Path,
    download: bool,
    args: &MirrorArgs,
) -> Result<()> {
    let ctx = &Ctx {
        json: ctx.json || args.json,
        checksum: ctx.checksum || args.checksum,
        ..ctx.clone()
    };
    crate::cli::integrity::binary_for_digests(ctx)?;
    let o = PlanOpts::from_args(args)?;
    let ends = Ends {
        remote,
        local,
        download,
    };
    let (todo, stats, journal, resumed) = plan_or_resume(sess, ends, args, &o).await?;
    if args.dry_run {
        return dry_run(ctx, &todo, stats);
    }
    let settings = exec::Settings {
        parallel: args.parallel,
        resume: args.resume,
        max_errors: args.max_errors.map(NonZeroUsize::get),
        resume_parts: resumed,
    };
    let total = todo.len();
    let mut journal = journal;
    let out = exec::execute(ctx, sess, todo, &settings, journal.as_mut()).await;
    if out.failed.is_empty() && !out.stopped {
        if let Some(j) = journal {
            j.remove();
        }
    }
    finish(ctx, &out, stats, total, resumed)
}

fn dry_run(ctx: &Ctx, todo: &exec::Todo, stats: PlanStats) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if ctx.json {
        let planned: Vec<String> = todo.iter().map(|(_, a)| a.to_string()).collect();
        let v = serde_json::json!({
            "actions": todo.len(),
            "failed": 0,
            "skipped": stats.unusable + stats.up_to_date + stats.filtered,
            "planned": planned,
        });
        writeln!(stdout, "{v}")?;
    } else {
        for (_, a) in todo {
            writeln!(stdout, "{a}")?;
        }
    }
    Ok(())
}

/// The summary (JSON or a line on stderr) and the exit status of a run.
fn finish(
    ctx: &Ctx,
    out: &exec::Outcome,
    stats: PlanStats,
    total: usize,
    resumed: bool,
) -> Result<()> {
    if ctx.json {
        let failed: Vec<_> = out
            .failed
            .iter()
            .map(|(a, e)| serde_json::json!({"action": a, "error": e}))
            .collect();
        let v = serde_json::json!({
            "actions": total,
            "done": out.done,
            "transferred": out.transferred.len(),
            "bytes": out.bytes,
            "failed": out.failed.len(),
            "skipped": stats.unusable + stats.up_to_date + stats.filtered,
            "skipped_by_reason": {
                "up_to_date": stats.up_to_date,
                "filtered": stats.filtered,
                "unusable_names": stats.unusable,
            },
            "resumed": resumed,
            "stopped": out.stopped,
            "transferred_files": out.transferred,
            "failed_actions": failed,
        });
        writeln!(std::io::stdout(), "{v}")?;
    }
    let failed = out.failed.len();
    if out.stopped {
        return Err(fail(
            ErrorClass::Partial,
            format!(
                "stopped after {failed} failed actions (--max-errors); run the same mirror \
                 again to continue"
            ),
        ));
    }
    if failed > 0 {
        return Err(fail(
            ErrorClass::Partial,
            format!("{failed} of {total} actions failed"),
        ));
    }
    if stats.unusable > 0 {
        return Err(fail(
            ErrorClass::Partial,
            format!("{} remote name(s) skipped", stats.unusable),
        ));
    }
    if !ctx.quiet && !ctx.json {
        let again = if resumed { " (continued)" } else { "" };
        eprintln!("mirror: {total} action(s) done{again}");
    }
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
            mode: Some(0o644),
        }
    }

    fn dir_meta(mode: Option<u32>) -> Meta {
        Meta {
            dir: true,
            size: None,
            mtime: None,
            precise: true,
            mode,
        }
    }

    fn opts(only_newer: bool) -> PlanOpts {
        PlanOpts::plain(only_newer, false)
    }

    #[test]
    fn copies_missing_changed_or_newer_files() {
        let (all, newer) = (opts(false), opts(true));
        let src = meta(10, 1000);
        assert!(needs_copy(&src, None, &all));
        assert!(needs_copy(&src, None, &newer));
        assert!(!needs_copy(&src, Some(&meta(10, 1000)), &all));
        assert!(
            needs_copy(&src, Some(&meta(11, 1000)), &all),
            "size differs"
        );
        assert!(
            needs_copy(&src, Some(&meta(10, 2000)), &all),
            "time differs"
        );
        assert!(
            !needs_copy(&src, Some(&meta(99, 2000)), &newer),
            "destination is newer"
        );
        assert!(
            needs_copy(&src, Some(&meta(10, 500)), &newer),
            "source is newer"
        );
        // A LIST time on either side: equal sizes are enough, and "newer" needs a clear margin.
        let coarse = Meta {
            precise: false,
            ..meta(10, 1060)
        };
        assert!(!needs_copy(&src, Some(&coarse), &all));
        assert!(!needs_copy(&coarse, Some(&src), &newer));
        assert!(needs_copy(&meta(10, 1_000_000), Some(&coarse), &newer));
        let missing = PlanOpts {
            only_missing: true,
            ..opts(false)
        };
        assert!(needs_copy(&src, None, &missing));
        assert!(!needs_copy(&src, Some(&meta(1, 1)), &missing));
    }

    #[test]
    fn modes_parse_from_listings() {
        assert_eq!(parse_mode("rwxr-x---"), Some(0o750));
        assert_eq!(parse_mode("-rw-r--r--"), Some(0o644));
        assert_eq!(parse_mode("rwsr-xr-t"), Some(0o755));
        assert_eq!(parse_mode("rw-r--r-"), None);
        assert_eq!(parse_mode("rwxrwxrwq"), None);
    }

    fn ends<'a>(remote: &'a [u8], local: &'a str, download: bool) -> Ends<'a> {
        Ends {
            remote,
            local: Path::new(local),
            download,
        }
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
        let mut stats = PlanStats::default();
        let e = ends(b"r", "/nonexistent-mirror-target", true);
        let acts = plan_actions(
            e,
            &remote,
            &BTreeMap::new(),
            false,
            &opts(false),
            &mut stats,
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
        local.insert(b"d".to_vec(), dir_meta(None));
        local.insert(b"d/f".to_vec(), meta(1, 1));
        let mut remote = BTreeMap::new();
        remote.insert(b"old".to_vec(), dir_meta(None));
        remote.insert(b"old/x".to_vec(), meta(1, 1));
        let o = PlanOpts::plain(false, true);
        let mut stats = PlanStats::default();
        let acts = plan_actions(
            ends(b"r", "l", false),
            &local,
            &remote,
            true,
            &o,
            &mut stats,
        );
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

    #[test]
    fn filters_and_modes_shape_the_plan() {
        let mut remote = BTreeMap::new();
        remote.insert(b"d".to_vec(), dir_meta(Some(0o775)));
        remote.insert(b"d/big".to_vec(), meta(5000, 10));
        remote.insert(b"d/old".to_vec(), meta(5, 10));
        remote.insert(b"d/new".to_vec(), meta(5, 99));
        remote.insert(b"same".to_vec(), meta(1, 60));
        let mut local = BTreeMap::new();
        local.insert(
            b"same".to_vec(),
            Meta {
                mode: Some(0o600),
                ..meta(1, 60)
            },
        );
        let o = PlanOpts {
            perms: true,
            size_range: Some(parse_size_range("-1k").unwrap()),
            newer_than: Some(50),
            umask: 0o002,
            ..opts(false)
        };
        let mut stats = PlanStats::default();
        let acts = plan_actions(ends(b"", "l", true), &remote, &local, true, &o, &mut stats);
        let text: Vec<String> = acts.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "mkdir l/d",
                "get d/new -> l/d/new",
                "chmod 644 l/same",
                "chmod 775 l/d"
            ]
        );
        assert_eq!((stats.filtered, stats.up_to_date), (2, 1));
        assert!(matches!(
            acts[1],
            Action::Get {
                mode: Some(0o644),
                ..
            }
        ));
    }
}
