//! Live reload: `SIGHUP` in the daemon and `POST /api/v1/reload` call [`ReloadHandle::reload`],
//! which reads the configuration again through the [`ConfigLoader`] the daemon gave
//! ([`crate::Server::with_config_loader`]: its config file, users files and flags), checks
//! everything (the files, the users' homes, the certificate, the admin token, the transfer
//! log) and only then swaps it all in. A broken file changes nothing; its error names the
//! file and line. Settings that cannot change while the server runs (listen addresses, TLS
//! on or off, the public address) keep their old values and are reported as needing a
//! restart. Sessions already open keep the configuration they started with.

use std::path::Path;
use std::sync::Arc;

use ftp_proto::Secret;

use crate::auth::UserDbError;
use crate::config::Config;
use crate::shared::Shared;
use crate::tls::TlsConfig;
use crate::users_file::Watched;

/// Reads the configuration again (the daemon: config file, users files, flags). It must not
/// change anything itself: the reload swaps what it returns in only when all of it is good.
pub type ConfigLoader = Arc<dyn Fn() -> Result<Config, ReloadError> + Send + Sync>;

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// A file is unreadable or invalid (the message names it, with the line when known).
    #[error("{0}")]
    Invalid(String),
    /// A user's home is unusable, or a user is defined twice.
    #[error(transparent)]
    Users(#[from] UserDbError),
    /// The admin token file is unreadable or empty.
    #[error("admin token file {path}: {reason}")]
    Token {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The transfer log cannot be opened.
    #[error("xferlog {path}: {reason}")]
    Xferlog {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// What a reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Named users now (when the server's authenticator is the built-in [`UserDb`]).
    pub users: Option<usize>,
    /// The TLS certificate's SHA-256 fingerprint now, with TLS.
    pub certificate: Option<String>,
    /// Settings whose new value takes a restart; they keep their old value until then.
    pub needs_restart: Vec<&'static str>,
}

/// Triggers reloads of a running server ([`crate::Server::reload_handle`]).
#[derive(Debug, Clone)]
pub struct ReloadHandle {
    pub(crate) shared: Arc<Shared>,
}

impl ReloadHandle {
    /// Reads, checks and swaps in the configuration, the users, the certificate and the
    /// admin token, and opens the transfer log again (logrotate). Blocks on file I/O: call
    /// it off the executor (e.g. in `blocking::unblock`).
    pub fn reload(&self) -> Result<ReloadReport, ReloadError> {
        reload(&self.shared)
    }
}

/// Polls `files` (the users file, the config file) every `users_file_poll` and reloads
/// ([`ReloadHandle::reload`]) when their contents change: a file on shared storage (NFS, a
/// cluster's common disk) changes without inotify events, and a users file kept in the bucket
/// (`s3:KEY`, see [`crate::users_file`]) is compared by its `ETag`. `report` gets each
/// reload's outcome, once per change: a broken file is reported once and the old users stay
/// until the file changes again.
///
/// Takes the files' fingerprints before it returns the polling task (which runs until
/// dropped; spawn it beside the server): await this before the server says it is ready, so
/// that every change made after that is seen. Taken inside the spawned task, the first
/// fingerprints could already show a change, which would then never be noticed.
pub async fn watch_files(
    handle: ReloadHandle,
    files: Vec<std::path::PathBuf>,
    mut report: impl FnMut(Result<ReloadReport, ReloadError>) + Send + 'static,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let watched = Watched::new(files, &handle.shared.config().storage);
    let mut last = watched.look(&[]).await;
    async move {
        loop {
            async_io::Timer::after(handle.shared.config().users_file_poll).await;
            let now = watched.look(&last).await;
            if now == last {
                continue;
            }
            last = now;
            let h = handle.clone();
            report(blocking::unblock(move || h.reload()).await);
        }
    }
}

/// Reads the admin token from `path`: the file's text without surrounding white space.
pub(crate) fn read_token(path: &Path) -> Result<Secret<Vec<u8>>, ReloadError> {
    let err = |reason: String| ReloadError::Token {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| err(crate::config::io_reason(&e)))?;
    let token = text.trim_ascii();
    if token.is_empty() {
        return Err(err("empty".to_string()));
    }
    Ok(Secret::new(token.to_vec()))
}

/// Settings that only a restart changes: their name, and whether old and new differ.
fn restart_only(old: &Config, new: &Config) -> Vec<&'static str> {
    let rows = [
        ("listen", old.listen != new.listen),
        (
            "implicit_tls_listen",
            old.implicit_tls_listen != new.implicit_tls_listen,
        ),
        ("public_address", old.public_address != new.public_address),
        ("admin_listen", old.admin_listen != new.admin_listen),
        ("tls", old.tls.is_some() != new.tls.is_some()),
    ];
    rows.into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name)
        .collect()
}

/// Keeps the running server's values of the restart-only settings in `new`, and its TLS
/// state (certificate resolver, resumption keys) with `new`'s policies.
fn keep_running_values(old: &Config, mut new: Config) -> Config {
    new.listen = old.listen.clone();
    new.implicit_tls_listen = old.implicit_tls_listen.clone();
    new.public_address = old.public_address.clone();
    new.admin_listen = old.admin_listen;
    new.tls = match (&old.tls, new.tls.take()) {
        (Some(o), Some(n)) => Some(TlsConfig {
            settings: o.settings.clone(),
            ..n
        }),
        (o, _) => o.clone(),
    };
    new
}

fn reload(shared: &Shared) -> Result<ReloadReport, ReloadError> {
    let old = shared.config();
    let loader = shared.loader();
    let new = match &loader {
        Some(load) => load()?,
        None => (*old).clone(),
    };
    // Everything is checked before anything changes.
    let token = new
        .admin_token_file
        .as_deref()
        .map(read_token)
        .transpose()?;
    let users = match shared.users() {
        Some(db) => Some(db.prepare(&new)?),
        None => None,
    };
    let log_err = |e: std::io::Error| ReloadError::Xferlog {
        path: new
            .xferlog
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        reason: crate::config::io_reason(&e),
    };
    let xferlog = crate::xferlog::Xferlog::open(new.xferlog.as_deref()).map_err(log_err)?;
    // Now the swap.
    let mut report = ReloadReport {
        needs_restart: restart_only(&old, &new),
        ..ReloadReport::default()
    };
    if let (Some(db), Some(u)) = (shared.users(), users) {
        report.users = Some(u.len());
        db.install(u);
    }
    if let (Some(o), Some(n)) = (&old.tls, &new.tls) {
        let (o, n) = (o.settings.cert(), n.settings.cert());
        if !Arc::ptr_eq(o, n) {
            o.replace((*n.current()).clone());
        }
        report.certificate = Some(o.fingerprint());
    }
    *shared
        .admin_token
        .write()
        .unwrap_or_else(|e| e.into_inner()) = token;
    shared.xferlog.replace(xferlog);
    shared.set_config(Arc::new(keep_running_values(&old, new)));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_need_a_restart_and_keep_their_value() {
        let old = Config::default();
        let new = Config {
            listen: vec!["127.0.0.1:2999".parse().unwrap()],
            max_sessions: 7,
            ..Config::default()
        };
        assert_eq!(restart_only(&old, &new), ["listen"]);
        let kept = keep_running_values(&old, new);
        assert_eq!(kept.listen, old.listen);
        assert_eq!(kept.max_sessions, 7);
    }
}
