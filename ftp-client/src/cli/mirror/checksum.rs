//! `mirror --checksum`: files whose sizes match on both sides are compared by SHA-256 (the
//! server's `HASH` against the local file's), and copied when they differ. A server without
//! digests leaves the comparison to sizes and times.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::Result;

use super::{local_name, rjoin, Action, Meta, Session};
use crate::cli::integrity::same_digest;
use crate::cli::paths::lossy;

/// Adds to `acts` the transfer of every file on both sides with equal sizes whose digests
/// differ (downloads when `download`, else uploads).
pub(super) async fn add_changed(
    sess: &mut Session,
    remote_root: &[u8],
    local_root: &Path,
    remote: &BTreeMap<Vec<u8>, Meta>,
    local: &BTreeMap<Vec<u8>, Meta>,
    download: bool,
    acts: &mut Vec<Action>,
) -> Result<()> {
    let planned: HashSet<Vec<u8>> = acts
        .iter()
        .filter_map(|a| match a {
            Action::Get { remote, .. } | Action::Put { remote, .. } => Some(remote.clone()),
            _ => None,
        })
        .collect();
    for (rel, m) in remote {
        let Some(l) = local.get(rel) else { continue };
        if m.dir || l.dir || m.size.is_none() || m.size != l.size {
            continue;
        }
        let (rp, lp) = (rjoin(remote_root, rel), local_root.join(local_name(rel)));
        if planned.contains(&rp) {
            continue;
        }
        match same_digest(sess, &rp, &lp).await {
            Ok(Some(true)) => {}
            Ok(Some(false)) if download => acts.push(Action::Get {
                remote: rp,
                local: lp,
                mtime: m.mtime,
                size: m.size,
                mode: None,
            }),
            Ok(Some(false)) => acts.push(Action::Put {
                local: lp,
                remote: rp,
                mode: None,
            }),
            Ok(None) => {
                eprintln!("mirror: the server has no HASH: compared by size and time only");
                return Ok(());
            }
            Err(e) => eprintln!("mirror: {}: not compared: {e:#}", lossy(&rp)),
        }
    }
    Ok(())
}
