//! Ingest and delivery statistics: counted in memory on the request path, flushed to the store
//! per minute, and exported to Prometheus.
//!
//! Every ingest decision and every recorded delivery attempt is one call here ([`Stats`]). It
//! does two things, both in memory and without I/O:
//!
//! - adds to per-minute counters keyed by (minute, scope, name, counter) — the figures of the
//!   admin API and the dashboard. A background task ([`spawn_flusher`]) moves them to the
//!   store every `stats.flush_interval` as *additive* upserts, so any number of replicas
//!   flush into the same rows and their figures add up; the server flushes once more on
//!   shutdown. Counting therefore adds no database write per request beyond the inbox.
//! - updates this process's Prometheus registry ([`prometheus::Metrics`]), owned by the app
//!   (not a process-global recorder), which `GET /metrics` renders.
//!
//! Names are bounded: configured source and handler names, [`UNKNOWN_SOURCE`] for requests to
//! a source that does not exist, and the fixed rejection reasons of
//! [`crate::error::ApiError::reason`]. Event ids never become a key or a label.
//!
//! A window query ([`Stats::window`]) reads the flushed rows and adds this replica's not yet
//! flushed counts, under the same lock as a flush, so a figure is never counted twice or
//! missed. Other replicas' counts appear once they flush (within one flush interval).

pub mod prometheus;
pub mod report;

use crate::store::{now_ms, NextState, RecordOutcome, StatsRow, Store, StoreError};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// The source name counted for requests to a source that is not configured. Configured names
/// are `[a-z0-9_-]+`, so this one can never collide with them.
pub const UNKNOWN_SOURCE: &str = "(unknown)";

/// One minute, the resolution of stored counters.
pub const MINUTE_MS: i64 = 60_000;

/// Stored counters older than this are purged (it covers the longest window, 7 days).
pub const RETENTION: Duration = Duration::from_secs(8 * 24 * 3600);

/// Unflushed counter keys kept when the store is unreachable; past it the oldest minutes are
/// dropped (and a warning is logged) rather than growing without bound.
const MAX_PENDING_KEYS: usize = 200_000;

/// Scopes of the stats table.
pub const SCOPE_SOURCE: &str = "source";
pub const SCOPE_HANDLER: &str = "handler";

/// Counter names, as stored in `stats_minute.counter`.
pub mod counter {
    /// Source: HTTP requests to `POST /webhooks/{source}` that reached a decision.
    pub const REQUESTS: &str = "requests";
    /// Source: first-seen events.
    pub const ACCEPTED: &str = "accepted";
    /// Source: repeats of known events (answered 200).
    pub const DUPLICATES: &str = "duplicates";
    /// Source: repeats whose body differed from the original (a subset of duplicates).
    pub const BODY_MISMATCHES: &str = "body_mismatches";
    /// Source: handshake challenges answered (Slack, Zoom, …).
    pub const CHALLENGES: &str = "challenges";
    /// Source: rejected requests, one counter per reason: `rejected.{reason}`.
    pub const REJECTED_PREFIX: &str = "rejected.";
    /// Source: duplicates by time since the first arrival: `duplicate_age.{bucket}`.
    pub const DUPLICATE_AGE_PREFIX: &str = "duplicate_age.";

    /// Handler: attempts recorded (any outcome).
    pub const ATTEMPTS: &str = "attempts";
    /// Handler: deliveries that succeeded.
    pub const DELIVERED: &str = "delivered";
    /// Handler: attempts that did not deliver (retried or dead).
    pub const FAILED_ATTEMPTS: &str = "failed_attempts";
    /// Handler: deliveries that went dead.
    pub const DEAD: &str = "dead";
    /// Handler: sum of attempt durations, ms.
    pub const ATTEMPT_MS_SUM: &str = "attempt_ms.sum";
    /// Handler: attempts by duration: `attempt_ms.le_{bound}` / `attempt_ms.le_inf`.
    pub const ATTEMPT_MS_PREFIX: &str = "attempt_ms.le_";
    /// Handler: sum over delivered deliveries of the time from queued to delivered, ms.
    pub const DELIVERY_LAG_MS_SUM: &str = "delivery_lag_ms.sum";
}

/// Time-to-duplicate buckets: (name, exclusive upper bound in ms).
pub const DUPLICATE_AGE_BUCKETS: [(&str, i64); 7] = [
    ("lt_1s", 1_000),
    ("lt_10s", 10_000),
    ("lt_1m", 60_000),
    ("lt_10m", 600_000),
    ("lt_1h", 3_600_000),
    ("lt_1d", 86_400_000),
    ("ge_1d", i64::MAX),
];

/// Attempt-duration buckets (inclusive upper bounds, ms); a last `inf` bucket takes the rest.
pub const ATTEMPT_MS_BUCKETS: [i64; 11] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// Which of [`DUPLICATE_AGE_BUCKETS`] a repeat `age_ms` after the first arrival falls in.
fn duplicate_age_index(age_ms: i64) -> usize {
    DUPLICATE_AGE_BUCKETS
        .iter()
        .position(|(_, bound)| age_ms < *bound)
        .unwrap_or(DUPLICATE_AGE_BUCKETS.len() - 1)
}

/// The duplicate-age bucket a repeat `age_ms` after the first arrival falls in.
pub fn duplicate_age_bucket(age_ms: i64) -> &'static str {
    DUPLICATE_AGE_BUCKETS[duplicate_age_index(age_ms)].0
}

/// The duplicate-age counter a repeat `age_ms` after the first arrival adds to
/// (`duplicate_age.{bucket}`, spelled out so that counting allocates nothing).
fn duplicate_age_counter(age_ms: i64) -> &'static str {
    const COUNTERS: [&str; 7] = [
        "duplicate_age.lt_1s",
        "duplicate_age.lt_10s",
        "duplicate_age.lt_1m",
        "duplicate_age.lt_10m",
        "duplicate_age.lt_1h",
        "duplicate_age.lt_1d",
        "duplicate_age.ge_1d",
    ];
    COUNTERS[duplicate_age_index(age_ms)]
}

/// The attempt-duration counter an attempt of `ms` adds to (`attempt_ms.le_{bound}`).
pub fn attempt_ms_counter(ms: i64) -> &'static str {
    const COUNTERS: [&str; 12] = [
        "attempt_ms.le_5",
        "attempt_ms.le_10",
        "attempt_ms.le_25",
        "attempt_ms.le_50",
        "attempt_ms.le_100",
        "attempt_ms.le_250",
        "attempt_ms.le_500",
        "attempt_ms.le_1000",
        "attempt_ms.le_2500",
        "attempt_ms.le_5000",
        "attempt_ms.le_10000",
        "attempt_ms.le_inf",
    ];
    let i = ATTEMPT_MS_BUCKETS
        .iter()
        .position(|bound| ms <= *bound)
        .unwrap_or(COUNTERS.len() - 1);
    COUNTERS[i]
}

/// A counter of one name (source or handler): its minute, scope and counter name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Slot {
    minute_ms: i64,
    scope: &'static str,
    counter: Cow<'static, str>,
}

/// Unflushed counters by name, then by slot: counting looks a name up by `&str` and a slot by
/// static strings, so the request path allocates only the first time a key is seen.
type Pending = HashMap<String, HashMap<Slot, i64>>;

fn pending_len(m: &Pending) -> usize {
    m.values().map(HashMap::len).sum()
}

/// The in-memory counters of this process and its Prometheus registry.
pub struct Stats {
    pending: Mutex<Pending>,
    /// Held while a flush moves counters to the store and while a window query reads both,
    /// so a query never sees a count twice (flushed and pending) or not at all (in flight).
    flush_lock: tokio::sync::Mutex<()>,
    metrics: prometheus::Metrics,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            pending: Mutex::new(HashMap::new()),
            flush_lock: tokio::sync::Mutex::new(()),
            metrics: prometheus::Metrics::new(),
        }
    }

    pub fn metrics(&self) -> &prometheus::Metrics {
        &self.metrics
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves only counters behind: keep counting.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(
        map: &mut Pending,
        at_ms: i64,
        scope: &'static str,
        name: &str,
        counter: impl Into<Cow<'static, str>>,
        n: i64,
    ) {
        let slot = Slot {
            minute_ms: at_ms - at_ms.rem_euclid(MINUTE_MS),
            scope,
            counter: counter.into(),
        };
        let slots = match map.get_mut(name) {
            Some(slots) => slots,
            None => map.entry(name.to_string()).or_default(),
        };
        *slots.entry(slot).or_insert(0) += n;
    }

    /// A request to `source` (a configured name, or [`UNKNOWN_SOURCE`]) was refused.
    pub fn rejected(&self, source: &str, reason: &'static str) {
        let now = now_ms();
        {
            let mut m = self.pending();
            Self::add(&mut m, now, SCOPE_SOURCE, source, counter::REQUESTS, 1);
            let rejected = format!("{}{reason}", counter::REJECTED_PREFIX);
            Self::add(&mut m, now, SCOPE_SOURCE, source, rejected, 1);
        }
        self.metrics.rejected(source, reason);
    }

    /// A handshake challenge of `source` was answered.
    pub fn challenge(&self, source: &str) {
        {
            let mut m = self.pending();
            let now = now_ms();
            Self::add(&mut m, now, SCOPE_SOURCE, source, counter::REQUESTS, 1);
            Self::add(&mut m, now, SCOPE_SOURCE, source, counter::CHALLENGES, 1);
        }
        self.metrics.challenge(source);
    }

    /// A request to `source` was recorded: one outcome per event it carried.
    pub fn recorded(&self, source: &str, outcomes: &[RecordOutcome], received_at_ms: i64) {
        {
            let mut m = self.pending();
            let at = received_at_ms;
            Self::add(&mut m, at, SCOPE_SOURCE, source, counter::REQUESTS, 1);
            for o in outcomes {
                match o {
                    RecordOutcome::Accepted { .. } => {
                        Self::add(&mut m, at, SCOPE_SOURCE, source, counter::ACCEPTED, 1);
                    }
                    RecordOutcome::Duplicate {
                        first_seen_at_ms,
                        body_mismatch,
                        ..
                    } => {
                        Self::add(&mut m, at, SCOPE_SOURCE, source, counter::DUPLICATES, 1);
                        if *body_mismatch {
                            let c = counter::BODY_MISMATCHES;
                            Self::add(&mut m, at, SCOPE_SOURCE, source, c, 1);
                        }
                        let c = duplicate_age_counter(at - first_seen_at_ms);
                        Self::add(&mut m, at, SCOPE_SOURCE, source, c, 1);
                    }
                }
            }
        }
        self.metrics.recorded(source, outcomes, received_at_ms);
    }

    /// A delivery attempt of `handler` was recorded with outcome `next`. `queued_at_ms` is
    /// when the delivery (cycle) was created, for the queued-to-delivered lag.
    pub fn attempt(&self, handler: &str, next: &NextState, duration_ms: i64, queued_at_ms: i64) {
        let now = now_ms();
        let lag_ms = (now - queued_at_ms).max(0);
        {
            let mut m = self.pending();
            let h = SCOPE_HANDLER;
            Self::add(&mut m, now, h, handler, counter::ATTEMPTS, 1);
            Self::add(
                &mut m,
                now,
                h,
                handler,
                counter::ATTEMPT_MS_SUM,
                duration_ms,
            );
            Self::add(&mut m, now, h, handler, attempt_ms_counter(duration_ms), 1);
            match next {
                NextState::Delivered => {
                    Self::add(&mut m, now, h, handler, counter::DELIVERED, 1);
                    Self::add(
                        &mut m,
                        now,
                        h,
                        handler,
                        counter::DELIVERY_LAG_MS_SUM,
                        lag_ms,
                    );
                }
                NextState::RetryAt { .. } => {
                    Self::add(&mut m, now, h, handler, counter::FAILED_ATTEMPTS, 1);
                }
                NextState::Dead => {
                    Self::add(&mut m, now, h, handler, counter::FAILED_ATTEMPTS, 1);
                    Self::add(&mut m, now, h, handler, counter::DEAD, 1);
                }
            }
        }
        self.metrics.attempt(handler, next, duration_ms, lag_ms);
    }

    /// Move every pending counter to the store. On failure the counts are kept for the next
    /// flush. Returns how many rows were written.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let _guard = self.flush_lock.lock().await;
        let taken = std::mem::take(&mut *self.pending());
        if taken.is_empty() {
            return Ok(0);
        }
        let mut rows: Vec<StatsRow> = taken
            .iter()
            .flat_map(|(name, slots)| slots.iter().map(move |(k, v)| (name, k, *v)))
            .filter(|(_, _, v)| *v != 0)
            .map(|(name, k, value)| StatsRow {
                minute_ms: k.minute_ms,
                scope: k.scope.to_string(),
                name: name.clone(),
                counter: k.counter.to_string(),
                value,
            })
            .collect();
        rows.sort();
        match store.add_stats(&rows).await {
            Ok(()) => Ok(rows.len()),
            Err(e) => {
                let mut m = self.pending();
                for (name, slots) in taken {
                    let mine = m.entry(name).or_default();
                    for (k, v) in slots {
                        *mine.entry(k).or_insert(0) += v;
                    }
                }
                let len = pending_len(&m);
                if len > MAX_PENDING_KEYS {
                    let mut minutes: Vec<i64> = m
                        .values()
                        .flat_map(|s| s.keys().map(|k| k.minute_ms))
                        .collect();
                    minutes.sort_unstable();
                    let cutoff = minutes[len - MAX_PENDING_KEYS];
                    for slots in m.values_mut() {
                        slots.retain(|k, _| k.minute_ms >= cutoff);
                    }
                    m.retain(|_, slots| !slots.is_empty());
                    tracing::warn!(
                        "the store has been unreachable for long; dropping the oldest unflushed stats"
                    );
                }
                Err(e)
            }
        }
    }

    /// Counters of `[from_ms, to_ms)` summed per bucket of `bucket_ms`: the stored rows of
    /// every replica plus this replica's unflushed counts.
    pub async fn window(
        &self,
        store: &dyn Store,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let _guard = self.flush_lock.lock().await;
        let mut rows = store.stats_between(from_ms, to_ms, bucket_ms).await?;
        let m = self.pending();
        for (name, k, v) in m
            .iter()
            .flat_map(|(name, slots)| slots.iter().map(move |(k, v)| (name, k, v)))
        {
            if k.minute_ms >= from_ms && k.minute_ms < to_ms {
                rows.push(StatsRow {
                    minute_ms: k.minute_ms - k.minute_ms.rem_euclid(bucket_ms.max(1)),
                    scope: k.scope.to_string(),
                    name: name.clone(),
                    counter: k.counter.to_string(),
                    value: *v,
                });
            }
        }
        Ok(rows)
    }
}

/// Flush every `interval` until `shutdown` (the server flushes a last time after the HTTP
/// server and the dispatcher have stopped). Also drains the Prometheus histograms' sample
/// buffers, which would otherwise grow between scrapes.
pub fn spawn_flusher(
    stats: Arc<Stats>,
    store: Arc<dyn Store>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            stats.metrics.upkeep();
            if let Err(e) = stats.flush(store.as_ref()).await {
                tracing::warn!(error = %e, "flushing stats failed; keeping them for the next flush");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_ages_fall_in_the_documented_buckets() {
        assert_eq!(duplicate_age_bucket(0), "lt_1s");
        assert_eq!(duplicate_age_bucket(999), "lt_1s");
        assert_eq!(duplicate_age_bucket(1_000), "lt_10s");
        assert_eq!(duplicate_age_bucket(59_999), "lt_1m");
        assert_eq!(duplicate_age_bucket(3_600_000), "lt_1d");
        assert_eq!(duplicate_age_bucket(86_400_000), "ge_1d");
        assert_eq!(duplicate_age_bucket(i64::MAX), "ge_1d");
    }

    #[test]
    fn attempt_durations_fall_in_inclusive_buckets() {
        assert_eq!(attempt_ms_counter(0), "attempt_ms.le_5");
        assert_eq!(attempt_ms_counter(5), "attempt_ms.le_5");
        assert_eq!(attempt_ms_counter(6), "attempt_ms.le_10");
        assert_eq!(attempt_ms_counter(10_001), "attempt_ms.le_inf");
        // Every bucket's counter is spelled as the prefix and its bound.
        for bound in ATTEMPT_MS_BUCKETS {
            let name = format!("{}{bound}", counter::ATTEMPT_MS_PREFIX);
            assert_eq!(attempt_ms_counter(bound), name);
            assert_ne!(attempt_ms_counter(bound + 1), name);
        }
    }

    #[test]
    fn duplicate_age_counters_name_their_bucket() {
        for (bucket, bound) in DUPLICATE_AGE_BUCKETS {
            let name = format!("{}{bucket}", counter::DUPLICATE_AGE_PREFIX);
            assert_eq!(duplicate_age_counter(bound.saturating_sub(1)), name);
            assert_eq!(duplicate_age_bucket(bound.saturating_sub(1)), bucket);
        }
    }

    #[test]
    fn counts_land_in_their_minute() {
        let stats = Stats::new();
        let at = 10 * MINUTE_MS + 59_999;
        let outcomes = [
            RecordOutcome::Accepted {
                id: uuid::Uuid::now_v7(),
            },
            RecordOutcome::Duplicate {
                id: uuid::Uuid::now_v7(),
                first_seen_at_ms: at - 5_000,
                body_mismatch: true,
            },
        ];
        stats.recorded("stripe", &outcomes, at);
        let m = stats.pending();
        let get = |c: &str| {
            m["stripe"]
                .iter()
                .find(|(k, _)| k.counter == c)
                .map(|(k, v)| (k.minute_ms, *v))
        };
        assert_eq!(get("requests"), Some((10 * MINUTE_MS, 1)));
        assert_eq!(get("accepted"), Some((10 * MINUTE_MS, 1)));
        assert_eq!(get("duplicates"), Some((10 * MINUTE_MS, 1)));
        assert_eq!(get("body_mismatches"), Some((10 * MINUTE_MS, 1)));
        assert_eq!(get("duplicate_age.lt_10s"), Some((10 * MINUTE_MS, 1)));
    }
}
