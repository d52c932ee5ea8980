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
            let cutoff = now_ms() - window.as_millis() as i64;
            let mut total = 0;
            loop {
                match store.purge_expired(cutoff, PURGE_BATCH).await {
                    Ok(n) => {
                        total += n;
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
            if total > 0 {
                tracing::info!(rows = total, "purged inbox rows past the dedupe window");
            }
            // Replay tokens live as long as the events they protect.
            if let Err(e) = store.purge_replay_tokens(cutoff).await {
                tracing::warn!(error = %e, "purging old replay tokens failed; will retry");
            }
            let stats_cutoff = now_ms() - crate::stats::RETENTION.as_millis() as i64;
            if let Err(e) = store.purge_stats(stats_cutoff).await {
                tracing::warn!(error = %e, "purging old stats failed; will retry");
            }
        }
    });
}
