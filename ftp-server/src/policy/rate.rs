//! Bandwidth limits: a token [`Bucket`] per limit (one per user and direction, shared by all
//! of that user's sessions, and one per direction for the whole server), and the [`Meter`] a
//! transfer paces itself with.
//!
//! A transfer without any limit has no meter at all (`Meter::new` returns `None`), so it
//! runs the transfer code exactly as it does without this module: `sendfile`, `splice` and
//! the copy loops in chunks as large as they like. With a meter, the data loops move at most
//! [`Meter::chunk`] bytes per step and call [`Meter::spent`] after each step, which waits
//! until every bucket involved has paid for the bytes.

use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The smallest burst of a bucket: below this, each step's system calls cost more than the
/// bytes they move.
const MIN_BURST: u64 = 16 * 1024;

/// The largest burst (and so the largest step of a limited transfer).
const MAX_BURST: u64 = 1024 * 1024;

/// A token bucket: `rate` bytes a second on average, at most a tenth of a second's worth
/// (within 16 KiB and 1 MiB) at once. Tokens may go negative: whoever took more than there
/// was waits until the debt is paid, so any number of transfers sharing the bucket move
/// `rate` bytes a second together.
///
/// ```
/// use std::num::NonZeroU64;
/// use ftp_server::policy::rate::Bucket;
/// let b = Bucket::new(NonZeroU64::new(1_000_000).unwrap());
/// assert_eq!(b.burst(), 100_000);
/// // The bucket starts full: the first burst is free, the next costs its time.
/// assert!(b.take(100_000).is_zero());
/// let wait = b.take(500_000);
/// assert!(wait.as_secs_f64() > 0.45 && wait.as_secs_f64() <= 0.5, "{wait:?}");
/// ```
#[derive(Debug)]
pub struct Bucket {
    rate: u64,
    burst: u64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A bucket of `rate` bytes a second, full.
    pub fn new(rate: NonZeroU64) -> Bucket {
        let rate = rate.get();
        let burst = (rate / 10).clamp(MIN_BURST, MAX_BURST);
        Bucket {
            rate,
            burst,
            state: Mutex::new(State {
                tokens: burst as f64,
                last: Instant::now(),
            }),
        }
    }

    /// The bytes a second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// The most bytes one step may move.
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// Takes `n` bytes' worth of tokens; returns how long the taker must wait before going on.
    pub fn take(&self, n: u64) -> Duration {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let earned = now.duration_since(s.last).as_secs_f64() * self.rate as f64;
        s.tokens = (s.tokens + earned).min(self.burst as f64) - n as f64;
        s.last = now;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / self.rate as f64)
        }
    }
}

/// The server-wide caps, one bucket per direction (`download_rate`, `upload_rate` in the
/// config file), shared by every session.
#[derive(Debug, Clone, Default)]
pub struct Caps {
    /// All downloads together.
    pub download: Option<Arc<Bucket>>,
    /// All uploads together.
    pub upload: Option<Arc<Bucket>>,
}

impl Caps {
    /// Buckets for the rates that are set.
    pub fn new(download: Option<NonZeroU64>, upload: Option<NonZeroU64>) -> Caps {
        Caps {
            download: download.map(|r| Arc::new(Bucket::new(r))),
            upload: upload.map(|r| Arc::new(Bucket::new(r))),
        }
    }
}

/// What paces one transfer: the buckets that limit it (the user's, the server's).
#[derive(Debug, Clone)]
pub struct Meter {
    buckets: Vec<Arc<Bucket>>,
    chunk: usize,
}

impl Meter {
    /// The meter of a transfer limited by the buckets given, or `None` when there is none:
    /// an unlimited transfer has no meter and takes the transfer code's unlimited path.
    ///
    /// ```
    /// use std::{num::NonZeroU64, sync::Arc};
    /// use ftp_server::policy::rate::{Bucket, Meter};
    /// assert!(Meter::new([None, None]).is_none());
    /// let user = Arc::new(Bucket::new(NonZeroU64::new(10_000_000).unwrap()));
    /// let server = Arc::new(Bucket::new(NonZeroU64::new(200_000).unwrap()));
    /// let m = Meter::new([Some(&user), Some(&server)]).unwrap();
    /// assert_eq!(m.chunk(), 20_000);
    /// ```
    pub fn new<'a>(buckets: impl IntoIterator<Item = Option<&'a Arc<Bucket>>>) -> Option<Meter> {
        let buckets: Vec<Arc<Bucket>> = buckets.into_iter().flatten().cloned().collect();
        let chunk = buckets.iter().map(|b| b.burst()).min()?;
        Some(Meter {
            buckets,
            chunk: usize::try_from(chunk).unwrap_or(usize::MAX),
        })
    }

    /// The most bytes one step of the transfer may move.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// [`Meter::spent`] under `meter`, if there is one.
    pub async fn pace(meter: Option<&Meter>, n: u64) {
        if let Some(m) = meter {
            m.spent(n).await;
        }
    }

    /// `n` bytes moved: waits until every bucket has paid for them.
    pub async fn spent(&self, n: u64) {
        let wait = self
            .buckets
            .iter()
            .map(|b| b.take(n))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            async_io::Timer::after(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).unwrap()
    }

    #[test]
    fn a_bucket_shared_by_two_takers_charges_both() {
        let b = Bucket::new(rate(1_000_000));
        assert!(b.take(100_000).is_zero());
        // Two takers of 250 kB each: the second waits for both.
        let first = b.take(250_000);
        let second = b.take(250_000);
        assert!(second > first, "{first:?} {second:?}");
        assert!(second.as_secs_f64() > 0.45, "{second:?}");
    }

    #[test]
    fn bursts_stay_within_bounds() {
        assert_eq!(Bucket::new(rate(1)).burst(), MIN_BURST);
        assert_eq!(Bucket::new(rate(u64::MAX)).burst(), MAX_BURST);
    }

    #[test]
    fn the_meter_waits_for_the_slowest_bucket() {
        let fast = Arc::new(Bucket::new(rate(100_000_000)));
        let slow = Arc::new(Bucket::new(rate(200_000)));
        let m = Meter::new([Some(&fast), Some(&slow)]).unwrap();
        let started = Instant::now();
        futures_lite::future::block_on(async {
            m.spent(20_000).await;
            m.spent(20_000).await;
        });
        // The first 20 kB are the slow bucket's burst; the next cost a tenth of a second.
        assert!(started.elapsed() >= Duration::from_millis(90));
    }

    #[test]
    fn no_bucket_no_meter() {
        assert!(Meter::new([None, None]).is_none());
        assert!(Meter::new(std::iter::empty()).is_none());
    }
}
