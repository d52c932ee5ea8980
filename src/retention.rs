//! Retention: inbox rows older than the dedupe window are purged in small batches, and
//! per-minute stats older than [`crate::stats::RETENTION`] are dropped.
//!
//! Small batches keep each delete transaction short so ingest never waits long behind it.
//! Rows with a pending delivery are kept until the delivery settles (the store's query
//! enforces it), so purging never loses an acknowledged event before it is delivered.

use crate::store::{now_ms, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Rows deleted per transaction.
pub const PURGE_BATCH: i64 = 500;

pub fn spawn(
    store: Arc<dyn Store>,
    window: Duration,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            purge_once(store.as_ref(), now_ms(), window).await;
        }
    });
}

/// What one retention pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub inbox_rows: u64,
    /// Delete transactions it took (each at most [`PURGE_BATCH`] rows).
    pub batches: u64,
}

/// One retention pass as of `now_ms` (the clock is a parameter so tests can move it):
/// inbox rows received before `now_ms - window` go, [`PURGE_BATCH`] per transaction, except
/// those with a delivery still pending; then replay tokens of the same age and stats older than
/// [`crate::stats::RETENTION`]. Errors are logged and left for the next pass.
pub async fn purge_once(store: &dyn Store, now_ms: i64, window: Duration) -> Purged {
    let cutoff = now_ms - window.as_millis() as i64;
    let mut purged = Purged::default();
    loop {
        match store.purge_expired(cutoff, PURGE_BATCH).await {
            Ok(n) => {
                purged.inbox_rows += n;
                purged.batches += 1;
                if (n as i64) < PURGE_BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention purge failed; will retry");
                break;
            }
        }
    }
    if purged.inbox_rows > 0 {
        tracing::info!(
            rows = purged.inbox_rows,
            "purged inbox rows past the dedupe window"
        );
    }
    // Replay tokens live as long as the events they protect.
    if let Err(e) = store.purge_replay_tokens(cutoff).await {
        tracing::warn!(error = %e, "purging old replay tokens failed; will retry");
    }
    let stats_cutoff = now_ms - crate::stats::RETENTION.as_millis() as i64;
    if let Err(e) = store.purge_stats(stats_cutoff).await {
        tracing::warn!(error = %e, "purging old stats failed; will retry");
    }
    purged
}
