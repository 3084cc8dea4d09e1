//! Ctrl-C during a command. The command's future is dropped; [`Session::after_interrupt`]
//! then aborts a transfer in flight (`ABOR`) and brings the control connection back in step.
//!
//! [`Session::after_interrupt`]: super::session::Session::after_interrupt

use std::future::Future;

use async_signal::{Signal, Signals};
use futures_lite::StreamExt;

/// Catches SIGINT for as long as it lives (`None` if no handler could be installed).
pub(crate) fn catch() -> Option<Signals> {
    Signals::new([Signal::Int]).ok()
}

/// Forgets a Ctrl-C that arrived while no command ran.
pub(crate) fn forget_pending(signals: &Signals) {
    let mut s = signals;
    for _ in 0..64 {
        if futures_lite::future::block_on(futures_lite::future::poll_once(s.next())).is_none() {
            return;
        }
    }
}

/// Runs `fut` to its end (`Some`), or until SIGINT arrives (`None`; `fut` is dropped).
/// Without `signals`, `fut` runs unguarded.
pub(crate) async fn until_interrupt<T>(
    signals: Option<&Signals>,
    fut: impl Future<Output = T>,
) -> Option<T> {
    let Some(mut s) = signals else {
        return Some(fut.await);
    };
    futures_lite::future::or(async { Some(fut.await) }, async {
        s.next().await;
        None
    })
    .await
}
