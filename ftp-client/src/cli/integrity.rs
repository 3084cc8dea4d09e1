//! Checking and copying on the server: `hash URL` (printed like `sha256sum`), `get --verify`
//! and `put --verify` (the server's digest against the local file's), and `cp SRC DST`
//! (server-side, else streamed from one connection into another, never through a local
//! file).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use ftp_proto::hash::HashAlgorithm;

use super::names::escape_controls;
use super::output::summary;
use super::paths::lossy;
use super::session::{open, resolve_login, Session};
use super::url::{is_url, FtpUrl};
use super::{fail, Ctx};
use crate::error::ErrorClass;

/// The algorithm `--verify` and `mirror --checksum` use.
const VERIFY_ALG: HashAlgorithm = HashAlgorithm::Sha256;

/// Reads `--alg` (`sha-256`, `SHA512`, `md5`, `crc32` …).
pub(crate) fn parse_alg(s: &str) -> Result<HashAlgorithm, String> {
    HashAlgorithm::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = HashAlgorithm::ALL.iter().map(|a| a.name()).collect();
        format!("unknown algorithm {s:?} (one of {})", names.join(", "))
    })
}

/// `--verify` and `--checksum` compare the file's bytes, which `TYPE A` changes on the way.
pub(crate) fn binary_for_digests(ctx: &Ctx) -> Result<()> {
    if (ctx.verify || ctx.checksum) && ctx.kind == crate::TransferKind::Ascii {
        return Err(fail(
            ErrorClass::Usage,
            "--verify and --checksum compare bytes: they need binary transfers, not --ascii",
        ));
    }
    Ok(())
}

/// The digest of a local file, read on the blocking pool.
pub(crate) async fn local_digest(path: &Path, alg: HashAlgorithm) -> Result<String> {
    let p = path.to_path_buf();
    let hex = blocking::unblock(move || {
        let f = std::fs::File::open(&p)?;
        crate::digest_of(f, alg)
    })
    .await;
    hex.map_err(|e| anyhow::Error::new(e).context(format!("reading {}", path.display())))
}

/// `hash URL [--alg A]`: `<hex>  <path>`, as `sha256sum` prints it.
pub(crate) async fn hash(ctx: &Ctx, url: &str, alg: HashAlgorithm) -> Result<()> {
    let u = FtpUrl::parse(url)?;
    if u.path.is_empty() {
        return Err(fail(ErrorClass::Usage, "the URL names no file"));
    }
    let mut s = open(ctx, &u).await?;
    let hex = s.client().await?.hash(&u.path, alg).await?;
    s.quit().await;
    let Some(hex) = hex else {
        return Err(no_hash(&u.path, alg));
    };
    writeln!(std::io::stdout(), "{hex}  {}", escape_controls(&u.path))?;
    Ok(())
}

fn no_hash(path: &[u8], alg: HashAlgorithm) -> anyhow::Error {
    fail(
        ErrorClass::Transfer,
        format!(
            "{}: the server has no HASH (nor {}) for {alg}",
            lossy(path),
            alg.legacy_verb()
        ),
    )
}

/// After a transfer with `--verify`: compares the server's SHA-256 of `remote` with the
/// local file's. A mismatch fails with exit code 7 (`what` says where the local bytes are
/// kept); a server without digests only gets a notice.
pub(crate) async fn verify(
    ctx: &Ctx,
    sess: &mut Session,
    remote: &[u8],
    local: &Path,
    what: &str,
) -> Result<()> {
    let name = lossy(remote);
    let Some(theirs) = sess.client().await?.hash(remote, VERIFY_ALG).await? else {
        eprintln!("{name}: not verified: server has no HASH");
        return Ok(());
    };
    let ours = local_digest(local, VERIFY_ALG).await?;
    if theirs != ours {
        return Err(fail(
            ErrorClass::Transfer,
            format!("{name}: checksum mismatch: server SHA-256 {theirs}, local {ours} ({what})"),
        ));
    }
    if !ctx.quiet {
        eprintln!("{name}: verified (SHA-256 {ours})");
    }
    Ok(())
}

/// True when the server's SHA-256 of `remote` equals the local file's; `None` when the
/// server has no digest (then sizes must do).
pub(crate) async fn same_digest(
    sess: &mut Session,
    remote: &[u8],
    local: &Path,
) -> Result<Option<bool>> {
    let Some(theirs) = sess.client().await?.hash(remote, VERIFY_ALG).await? else {
        return Ok(None);
    };
    Ok(Some(theirs == local_digest(local, VERIFY_ALG).await?))
}

/// `cp SRC DST`: SRC an ftp:// URL, DST a path on the same server (relative to the login
/// directory) or an ftp:// URL (on the same server: copied there; elsewhere: streamed).
pub(crate) async fn cp(ctx: &Ctx, src: &str, dst: &str) -> Result<()> {
    let from = FtpUrl::parse(src)?;
    if from.path.is_empty() {
        return Err(fail(ErrorClass::Usage, "the source URL names no file"));
    }
    let (to_login, to) = if is_url(dst) {
        let u = FtpUrl::parse(dst)?;
        (Some(resolve_login(ctx, &u)?), u.path)
    } else {
        (None, dst.as_bytes().to_vec())
    };
    if to.is_empty() {
        return Err(fail(ErrorClass::Usage, "the destination names no file"));
    }
    let mut s = open(ctx, &from).await?;
    let same = to_login
        .as_ref()
        .is_none_or(|l| l.host == s.login.host && l.port == s.login.port && l.user == s.login.user);
    let dst_login = if same { None } else { to_login };
    let r = copy_file(ctx, &mut s, &from.path, dst_login, &to).await;
    s.quit().await;
    r
}

/// Copies `from` (on `src`'s server) to `to`: on the server itself when `dst` is `None` (the
/// same server) and it can, else downloaded from `src` and uploaded at once through a second
/// connection (to `dst`, or to `src`'s server again).
pub(crate) async fn copy_file(
    ctx: &Ctx,
    src: &mut Session,
    from: &[u8],
    dst: Option<super::session::Login>,
    to: &[u8],
) -> Result<()> {
    let label = format!("{} -> {}", lossy(from), lossy(to));
    let started = Instant::now();
    if dst.is_none() && src.client().await?.copy_on_server(from, to).await? {
        if !ctx.quiet {
            eprintln!("cp {label}: copied on the server");
        }
        return Ok(());
    }
    let same = dst.is_none();
    let mut out = Session::new(ctx, dst.unwrap_or_else(|| src.login.clone()));
    if same {
        // Relative names mean the same on both connections.
        out.cwd.clone_from(&src.cwd);
    }
    let sent = stream_copy(src, from, &mut out, to).await;
    out.quit().await;
    summary(ctx, "cp", &label, sent?, started);
    Ok(())
}

/// `RETR from` on `src` fed straight into `STOR to` on `dst`.
async fn stream_copy(src: &mut Session, from: &[u8], dst: &mut Session, to: &[u8]) -> Result<u64> {
    let up = dst.client().await?;
    let down = src.client().await?;
    let mut dl = down.retr(from, 0).await?;
    let sent = up.stor(to, &mut dl, 0).await;
    let done = dl.finish().await;
    let n = sent?;
    done?;
    Ok(n)
}
