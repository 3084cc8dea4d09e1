//! Who may connect and log in, beyond the password: the per-user [`Rules`] (session cap,
//! `allowed_ips`, `require_tls`, modes of new files) that users inherit from their groups
//! and the server-wide defaults, the server-wide `allow_ips`/`deny_ips` ([`IpNet`] lists)
//! checked at accept, and automatic bans by score ([`Defender`]).
//!
//! [`Access`] is the state that outlives a reload of the users or the config file: the bans
//! and scores, and each user's open sessions. The rules themselves live in what a reload
//! swaps (the users in [`crate::auth::UserDb`], the server-wide lists in [`crate::Config`]),
//! and are read at each check, so a reload applies to the next connection or login.

mod bans;
mod ipnet;
mod rules;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use bans::{Ban, BanPolicy, Defender, Offence, MAX_BAN};
pub use ipnet::{IpNet, IpNetError};
pub(crate) use rules::{entry_with_rules, rule_keys};
pub use rules::{FileMode, FileModeError, Rules};

use crate::config::Config;

/// What the server-wide address rules say of a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Served.
    Admitted,
    /// In `deny_ips`, or not in a non-empty `allow_ips`.
    Denied,
    /// Banned by score.
    Banned,
}

/// The access state shared by all sessions of a server, kept across reloads: the
/// [`Defender`]'s scores and bans, and how many sessions each user has open.
///
/// ```
/// use ftp_server::access::{Access, Offence};
/// use ftp_server::Config;
/// let (access, cfg) = (Access::default(), Config::default());
/// let ip = "127.0.0.3".parse().unwrap();
/// for _ in 0..15 {
///     access.offend(ip, Offence::WrongPassword, &cfg);
/// }
/// assert_eq!(access.bans()[0].ip, ip);
/// assert!(access.lift(ip));
/// assert!(access.bans().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct Access {
    defender: Mutex<Defender>,
    sessions: Mutex<HashMap<String, usize>>,
}

impl Access {
    /// The addresses banned now, longest remaining first (what `GET /api/v1/bans` shows).
    pub fn bans(&self) -> Vec<Ban> {
        self.defender().bans(Instant::now())
    }

    /// Lifts the ban of `ip` and forgets its score (what `DELETE /api/v1/bans/IP` does);
    /// false when it was not banned.
    pub fn lift(&self, ip: IpAddr) -> bool {
        self.defender().lift(ip)
    }

    /// Whether a connection from `ip` is served, by `config`'s `deny_ips`, `allow_ips` and
    /// the bans.
    pub fn admits(&self, ip: IpAddr, config: &Config) -> Admission {
        if IpNet::any_contains(&config.deny_ips, ip)
            || (!config.allow_ips.is_empty() && !IpNet::any_contains(&config.allow_ips, ip))
        {
            return Admission::Denied;
        }
        if self.defender().is_banned(ip, Instant::now()) {
            return Admission::Banned;
        }
        Admission::Admitted
    }

    /// Adds `offence` to `ip`'s score under `config`'s ban policy; true when that bans it.
    pub fn offend(&self, ip: IpAddr, offence: Offence, config: &Config) -> bool {
        let ban = self
            .defender()
            .offend(ip, offence, &config.bans, Instant::now());
        if let Some(length) = ban {
            let secs = length.as_secs();
            log::warn!(event = "ban", peer = ip.to_string().as_str(), seconds = secs; "banned {ip} for {secs}s ({offence:?})");
        }
        ban.is_some()
    }

    /// A session slot for `user`, or `None` when it has `max` sessions open already.
    pub(crate) fn user_slot(
        self: &Arc<Self>,
        user: &str,
        max: Option<NonZeroUsize>,
    ) -> Option<UserSlot> {
        let mut open = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user.to_string()).or_insert(0);
        if max.is_some_and(|max| *n >= max.get()) {
            if *n == 0 {
                open.remove(user);
            }
            return None;
        }
        *n += 1;
        Some(UserSlot {
            access: self.clone(),
            user: user.to_string(),
        })
    }

    fn defender(&self) -> std::sync::MutexGuard<'_, Defender> {
        self.defender.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One logged-in session of a user, counted against its `max_sessions` until dropped.
#[derive(Debug)]
pub(crate) struct UserSlot {
    access: Arc<Access>,
    user: String,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut open = self
            .access
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_slots_count_open_sessions_and_free_them_when_dropped() {
        let access = Arc::new(Access::default());
        let two = NonZeroUsize::new(2);
        let a = access.user_slot("bob", two).unwrap();
        let b = access.user_slot("bob", two).unwrap();
        assert!(access.user_slot("bob", two).is_none());
        assert!(access.user_slot("carol", two).is_some());
        drop(a);
        let _c = access.user_slot("bob", two).unwrap();
        drop(b);
        assert!(access.user_slot("dave", None).is_some());
    }

    #[test]
    fn deny_wins_over_allow_and_an_empty_allow_list_allows_all() {
        let access = Access::default();
        let nets = |s: &[&str]| s.iter().map(|n| n.parse().unwrap()).collect::<Vec<IpNet>>();
        let cfg = Config {
            allow_ips: nets(&["127.0.0.0/8"]),
            deny_ips: nets(&["127.0.0.3"]),
            ..Config::default()
        };
        let at = |s: &str, c: &Config| access.admits(s.parse().unwrap(), c);
        assert_eq!(at("127.0.0.4", &cfg), Admission::Admitted);
        assert_eq!(at("127.0.0.3", &cfg), Admission::Denied);
        assert_eq!(at("10.0.0.1", &cfg), Admission::Denied);
        assert_eq!(at("10.0.0.1", &Config::default()), Admission::Admitted);
    }
}
