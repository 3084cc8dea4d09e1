//! What a user may use of the server besides permissions: disk quotas ([`quota`]) and
//! bandwidth ([`rate`]).
//!
//! [`Limits`] are the settings (from the users file, with the config file's defaults for what
//! a user does not set); [`UserPolicy`] is their live state, made once per user by the
//! authenticator and shared by all of that user's sessions through the
//! [`Account`](crate::Account). A user without limits has an empty policy, and nothing of
//! this module runs for that user's commands and transfers.

pub mod quota;
pub mod rate;

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

/// One user's limits; `None` is no limit. A source of defaults (the config file, later a
/// group) fills what a user leaves unset with [`Limits::or`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes the user may store (`quota_bytes`).
    pub quota_bytes: Option<u64>,
    /// Files the user may store (`quota_files`).
    pub quota_files: Option<u64>,
    /// Bytes a second for all of the user's downloads together (`download_rate`).
    pub download_rate: Option<NonZeroU64>,
    /// Bytes a second for all of the user's uploads together (`upload_rate`).
    pub upload_rate: Option<NonZeroU64>,
}

impl Limits {
    /// The limits that access rules (a user's, inherited from its groups and the
    /// `[user_defaults]`) set.
    pub fn from_rules(r: &crate::access::Rules) -> Limits {
        Limits {
            quota_bytes: r.quota_bytes,
            quota_files: r.quota_files,
            download_rate: r.download_rate,
            upload_rate: r.upload_rate,
        }
    }

    /// These limits, with the unset ones taken from `fallback`.
    ///
    /// ```
    /// use ftp_server::policy::Limits;
    /// let user = Limits { quota_bytes: Some(10), ..Limits::default() };
    /// let defaults = Limits { quota_bytes: Some(99), quota_files: Some(5), ..Limits::default() };
    /// let l = user.or(defaults);
    /// assert_eq!((l.quota_bytes, l.quota_files), (Some(10), Some(5)));
    /// ```
    pub fn or(self, fallback: Limits) -> Limits {
        Limits {
            quota_bytes: self.quota_bytes.or(fallback.quota_bytes),
            quota_files: self.quota_files.or(fallback.quota_files),
            download_rate: self.download_rate.or(fallback.download_rate),
            upload_rate: self.upload_rate.or(fallback.upload_rate),
        }
    }
}

/// The live state of one user's [`Limits`]: the quota with its usage, the rate buckets.
/// Cloning shares them (all sessions of a user hold clones of one policy).
#[derive(Debug, Clone, Default)]
pub struct UserPolicy {
    /// The disk quota, when the user has one.
    pub quota: Option<Arc<quota::Quota>>,
    /// The user's download bucket.
    pub download: Option<Arc<rate::Bucket>>,
    /// The user's upload bucket.
    pub upload: Option<Arc<rate::Bucket>>,
}

impl UserPolicy {
    /// The state for `limits`, the quota rescanned after `rescan`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ftp_server::policy::{Limits, UserPolicy};
    /// let none = UserPolicy::new(&Limits::default(), Duration::from_secs(60));
    /// assert!(none.quota.is_none() && none.download.is_none() && none.upload.is_none());
    /// let q = UserPolicy::new(&Limits { quota_files: Some(3), ..Limits::default() }, Duration::ZERO);
    /// assert_eq!(q.quota.unwrap().files_limit(), Some(3));
    /// ```
    pub fn new(limits: &Limits, rescan: Duration) -> UserPolicy {
        let quota = (limits.quota_bytes.is_some() || limits.quota_files.is_some()).then(|| {
            Arc::new(quota::Quota::new(
                limits.quota_bytes,
                limits.quota_files,
                rescan,
            ))
        });
        UserPolicy {
            quota,
            download: limits.download_rate.map(|r| Arc::new(rate::Bucket::new(r))),
            upload: limits.upload_rate.map(|r| Arc::new(rate::Bucket::new(r))),
        }
    }
}
