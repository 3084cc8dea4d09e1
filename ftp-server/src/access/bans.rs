//! Automatic bans by score ([`Defender`]), in the manner of SFTPGo's defender: each bad event
//! ([`Offence`]) adds its score to its source address; an address whose score reaches
//! [`BanPolicy::score`] within [`BanPolicy::window`] is banned for [`BanPolicy::duration`],
//! doubled for each earlier ban (up to a day). The addresses tracked are capped
//! ([`BanPolicy::max_tracked`]), so a flood of sources cannot grow memory without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The longest ban, however often an address comes back.
pub const MAX_BAN: Duration = Duration::from_secs(24 * 3600);

/// How long an address that was banned is remembered after its ban ends (so the next ban
/// is longer).
const REMEMBER_OFFENDERS: Duration = Duration::from_secs(24 * 3600);

/// When addresses are banned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanPolicy {
    /// The score that bans (`0`: never ban).
    pub score: u32,
    /// The time within which the score must be reached (it starts again after).
    pub window: Duration,
    /// The first ban's length; each further ban of the same address lasts twice the one
    /// before, up to [`MAX_BAN`].
    pub duration: Duration,
    /// Most addresses tracked at once; when full, the quietest one is forgotten.
    pub max_tracked: usize,
}

impl Default for BanPolicy {
    fn default() -> Self {
        BanPolicy {
            score: 15,
            window: Duration::from_secs(600),
            duration: Duration::from_secs(900),
            max_tracked: 10_000,
        }
    }
}

/// A bad event and the score it adds to its source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// A login for a user that does not exist: 2.
    UnknownUser,
    /// A wrong password, or a login refused by the user's rules: 1.
    WrongPassword,
    /// A command refused as abuse (`PORT`/`EPRT` to a foreign host or a low port): 5.
    Abuse,
    /// A connection or login over a session limit: 1.
    OverLimit,
}

impl Offence {
    /// The score this event adds.
    pub fn score(self) -> u32 {
        match self {
            Offence::UnknownUser => 2,
            Offence::WrongPassword | Offence::OverLimit => 1,
            Offence::Abuse => 5,
        }
    }
}

/// A banned address, as [`Defender::bans`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// The address.
    pub ip: IpAddr,
    /// Time left.
    pub remaining: Duration,
    /// How often it was banned (this ban included), counted while it is remembered.
    pub count: u32,
}

#[derive(Debug, Clone)]
struct Entry {
    score: u32,
    /// Start of the current scoring window.
    since: Instant,
    /// The latest event (for choosing what to forget when full).
    last: Instant,
    banned_until: Option<Instant>,
    bans: u32,
}

impl Entry {
    fn banned(&self, now: Instant) -> bool {
        self.banned_until.is_some_and(|t| t > now)
    }

    /// Nothing worth keeping: no ban now, its window is over, and no ban to remember.
    fn stale(&self, policy: &BanPolicy, now: Instant) -> bool {
        if self.banned(now) {
            return false;
        }
        let quiet = now.saturating_duration_since(self.last);
        match self.bans {
            0 => quiet >= policy.window,
            _ => quiet >= policy.window.max(REMEMBER_OFFENDERS),
        }
    }
}

/// The scores and bans of source addresses. Times are passed in, so it is tested without
/// waiting.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ftp_server::access::{BanPolicy, Defender, Offence};
/// let policy = BanPolicy { score: 3, ..BanPolicy::default() };
/// let (mut d, ip, now) = (Defender::default(), "127.0.0.3".parse().unwrap(), Instant::now());
/// assert_eq!(d.offend(ip, Offence::WrongPassword, &policy, now), None);
/// assert_eq!(d.offend(ip, Offence::UnknownUser, &policy, now), Some(policy.duration));
/// assert!(d.is_banned(ip, now) && !d.is_banned(ip, now + policy.duration));
/// assert!(d.lift(ip) && !d.is_banned(ip, now));
/// ```
#[derive(Debug, Default)]
pub struct Defender {
    entries: HashMap<IpAddr, Entry>,
}

impl Defender {
    /// True while `ip` is banned.
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.entries
            .get(&ip.to_canonical())
            .is_some_and(|e| e.banned(now))
    }

    /// Adds `offence`'s score to `ip`; returns the ban's length when this event bans it.
    pub fn offend(
        &mut self,
        ip: IpAddr,
        offence: Offence,
        policy: &BanPolicy,
        now: Instant,
    ) -> Option<Duration> {
        if policy.score == 0 {
            return None;
        }
        let ip = ip.to_canonical();
        if !self.entries.contains_key(&ip) {
            self.make_room(policy, now);
        }
        let e = self.entries.entry(ip).or_insert(Entry {
            score: 0,
            since: now,
            last: now,
            banned_until: None,
            bans: 0,
        });
        e.last = now;
        if e.banned(now) {
            return None;
        }
        if now.saturating_duration_since(e.since) > policy.window {
            e.score = 0;
            e.since = now;
        }
        e.score = e.score.saturating_add(offence.score());
        if e.score < policy.score {
            return None;
        }
        let doubling = 2u32.saturating_pow(e.bans.min(16));
        let length = policy.duration.saturating_mul(doubling).min(MAX_BAN);
        e.bans = e.bans.saturating_add(1);
        e.score = 0;
        e.since = now;
        e.banned_until = Some(now + length);
        Some(length)
    }

    /// The addresses banned now, longest remaining first.
    pub fn bans(&self, now: Instant) -> Vec<Ban> {
        let mut v: Vec<Ban> = self
            .entries
            .iter()
            .filter_map(|(ip, e)| {
                let until = e.banned_until.filter(|&t| t > now)?;
                Some(Ban {
                    ip: *ip,
                    remaining: until - now,
                    count: e.bans,
                })
            })
            .collect();
        v.sort_by(|a, b| b.remaining.cmp(&a.remaining).then(a.ip.cmp(&b.ip)));
        v
    }

    /// Lifts `ip`'s ban and forgets its score and earlier bans; false when it was not banned.
    pub fn lift(&mut self, ip: IpAddr) -> bool {
        self.entries
            .remove(&ip.to_canonical())
            .is_some_and(|e| e.banned_until.is_some())
    }

    /// How many addresses are tracked.
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    /// Below the cap for one more address: forgets stale entries, then (still full) the
    /// tenth of the addresses that were quietest, unbanned ones first: one scan per tenth of
    /// the cap of new addresses, however many arrive.
    fn make_room(&mut self, policy: &BanPolicy, now: Instant) {
        let cap = policy.max_tracked.max(1);
        if self.entries.len() < cap {
            return;
        }
        self.entries.retain(|_, e| !e.stale(policy, now));
        if self.entries.len() < cap {
            return;
        }
        let mut order: Vec<_> = self
            .entries
            .iter()
            .map(|(ip, e)| ((e.banned(now), e.banned_until.unwrap_or(e.last)), *ip))
            .collect();
        let evict = (self.entries.len() + 1 - cap)
            .max(cap / 10)
            .min(order.len());
        if evict < order.len() {
            order.select_nth_unstable(evict);
        }
        for (_, ip) in &order[..evict] {
            self.entries.remove(ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_score_must_be_reached_within_the_window() {
        let p = BanPolicy {
            score: 3,
            window: Duration::from_secs(10),
            ..BanPolicy::default()
        };
        let (mut d, t) = (Defender::default(), Instant::now());
        let a = ip("127.0.0.3");
        for i in 0..5 {
            let at = t + Duration::from_secs(11) * i;
            assert_eq!(d.offend(a, Offence::WrongPassword, &p, at), None);
        }
        assert!(!d.is_banned(a, t + Duration::from_secs(60)));
    }

    #[test]
    fn repeat_offenders_are_banned_longer_up_to_a_day() {
        let p = BanPolicy {
            score: 1,
            duration: Duration::from_secs(3600),
            ..BanPolicy::default()
        };
        let (mut d, mut t) = (Defender::default(), Instant::now());
        let a = ip("::ffff:10.0.0.1");
        let mut lengths = Vec::new();
        for _ in 0..7 {
            let l = d.offend(a, Offence::OverLimit, &p, t).unwrap();
            lengths.push(l.as_secs() / 3600);
            t += l;
        }
        assert_eq!(lengths, [1, 2, 4, 8, 16, 24, 24]);
        assert_eq!(d.bans(t - Duration::from_secs(1))[0].ip, ip("10.0.0.1"));
    }

    #[test]
    fn tracked_addresses_are_capped_and_bans_outlive_quiet_ones() {
        let p = BanPolicy {
            score: 5,
            max_tracked: 100,
            ..BanPolicy::default()
        };
        let (mut d, t) = (Defender::default(), Instant::now());
        let banned = ip("192.0.2.1");
        assert!(d.offend(banned, Offence::Abuse, &p, t).is_some());
        for i in 0..10_000u32 {
            let a = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            d.offend(
                a,
                Offence::WrongPassword,
                &p,
                t + Duration::from_millis(u64::from(i)),
            );
            assert!(d.tracked() <= 100);
        }
        assert!(d.is_banned(banned, t + Duration::from_secs(20)));
    }

    #[test]
    fn score_zero_never_bans() {
        let p = BanPolicy {
            score: 0,
            ..BanPolicy::default()
        };
        let mut d = Defender::default();
        for _ in 0..100 {
            assert_eq!(
                d.offend(ip("::1"), Offence::Abuse, &p, Instant::now()),
                None
            );
        }
        assert_eq!(d.tracked(), 0);
    }
}
