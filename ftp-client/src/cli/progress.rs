//! The progress bar's look: the file name takes what the terminal's width leaves (so the
//! line never wraps, down to about 50 columns), then percentage, bar, bytes, and a rate and
//! ETA over the last seconds only — not over the first burst, and not counting the bytes a
//! resumed download already had.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressState, ProgressStyle};

/// How far back the rate looks.
const WINDOW: Duration = Duration::from_secs(5);

/// Positions seen over the last [`WINDOW`]: the rate is the bytes between the oldest and the
/// newest, over the time between them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Window {
    samples: VecDeque<(Instant, u64)>,
}

impl Window {
    /// Notes that the transfer was at `pos` at `now`.
    pub(crate) fn record(&mut self, now: Instant, pos: u64) {
        if self.samples.back().is_some_and(|&(_, p)| pos < p) {
            self.samples.clear();
        }
        self.samples.push_back((now, pos));
        while self.samples.len() > 2
            && (now.duration_since(self.samples[1].0) >= WINDOW || self.samples.len() > 1024)
        {
            self.samples.pop_front();
        }
    }

    /// Bytes per second over the window (`None` until a quarter of a second has been seen).
    pub(crate) fn rate(&self) -> Option<f64> {
        let (&(t0, p0), &(t1, p1)) = (self.samples.front()?, self.samples.back()?);
        let secs = t1.duration_since(t0).as_secs_f64();
        (secs >= 0.25).then(|| (p1 - p0) as f64 / secs)
    }
}

/// What a [`Tracker`] shows.
#[derive(Debug, Clone, Copy)]
enum Show {
    Rate,
    Eta,
}

/// An indicatif template key backed by a [`Window`].
#[derive(Debug, Clone)]
struct Tracker {
    window: Window,
    show: Show,
}

impl indicatif::style::ProgressTracker for Tracker {
    fn clone_box(&self) -> Box<dyn indicatif::style::ProgressTracker> {
        Box::new(self.clone())
    }

    fn tick(&mut self, state: &ProgressState, now: Instant) {
        self.window.record(now, state.pos());
    }

    fn reset(&mut self, _: &ProgressState, _: Instant) {
        self.window = Window::default();
    }

    fn write(&self, state: &ProgressState, w: &mut dyn std::fmt::Write) {
        let rate = self.window.rate();
        let text = match (self.show, rate) {
            (_, None) => "--".to_string(),
            (Show::Rate, Some(r)) => super::output::human_rate(r),
            (Show::Eta, Some(r)) => match state.len() {
                Some(len) if r > 0.0 => eta_text(len.saturating_sub(state.pos()) as f64 / r),
                _ => "--".to_string(),
            },
        };
        let _ = w.write_str(&text);
    }
}

/// `12s`, `3m05s`, `2h07m`.
fn eta_text(secs: f64) -> String {
    let s = secs.round().min(359_999.0) as u64;
    let mut out = String::new();
    let _ = match s {
        0..60 => write!(out, "{s}s"),
        60..3600 => write!(out, "{}m{:02}s", s / 60, s % 60),
        _ => write!(out, "{}h{:02}m", s / 3600, s % 3600 / 60),
    };
    out
}

/// The style for a transfer of known size (`sized`) or not.
pub(crate) fn style(sized: bool, color: bool) -> Option<ProgressStyle> {
    let tpl = match (sized, color) {
        (true, true) => {
            "{wide_msg} {percent:>3}% {bar:10.cyan/blue} {bytes:>10} {rate:>11} {eta:>6}"
        }
        (true, false) => "{wide_msg} {percent:>3}% [{bar:10}] {bytes:>10} {rate:>11} {eta:>6}",
        (false, _) => "{wide_msg} {spinner} {bytes:>10} {rate:>11}",
    };
    let tracker = |show| Tracker {
        window: Window::default(),
        show,
    };
    let style = ProgressStyle::with_template(tpl).ok()?;
    Some(
        style
            .with_key("rate", tracker(Show::Rate))
            .with_key("eta", tracker(Show::Eta))
            .progress_chars("=> "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_covers_the_last_seconds_only() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = Window::default();
        // A resumed download starts at 1 GB: that is not speed.
        w.record(at(0), 1_000_000_000);
        assert_eq!(w.rate(), None);
        w.record(at(1000), 1_000_000_000 + 100);
        assert_eq!(w.rate(), Some(100.0));
        // A first burst ages out of the window.
        w.record(at(2000), 1_100_000_000);
        for s in 3..=20 {
            w.record(at(s * 1000), 1_100_000_000 + (s - 2) * 10);
        }
        assert_eq!(w.rate(), Some(10.0));
    }

    #[test]
    fn eta_reads_like_a_clock() {
        assert_eq!(eta_text(7.2), "7s");
        assert_eq!(eta_text(185.0), "3m05s");
        assert_eq!(eta_text(7620.0), "2h07m");
    }
}
