//! The Prometheus side of the stats: this process's counters and histograms, rendered in the
//! text exposition format by `GET /metrics`.
//!
//! The registry belongs to the app (a `PrometheusRecorder` used through
//! `metrics::with_local_recorder`), not to a process-wide global, so several servers in one
//! process (the tests) keep separate figures. Counters count what this replica saw since it
//! started; sum them across replicas. The delivery gauges are read from the store at scrape
//! time and describe the whole store, so every replica reports the same value: aggregate
//! them with `max`, not `sum`.

use super::DUPLICATE_AGE_BUCKETS;
use crate::store::{HandlerHealth, NextState, RecordOutcome};
use metrics::{counter, gauge, histogram, Counter, Histogram, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// Metric names (the table in the README lists them with their labels).
pub mod name {
    pub const INGEST_REQUESTS: &str = "hookgate_ingest_requests_total";
    pub const INGEST_EVENTS: &str = "hookgate_ingest_events_total";
    pub const INGEST_BODY_MISMATCHES: &str = "hookgate_ingest_body_mismatches_total";
    pub const INGEST_REJECTIONS: &str = "hookgate_ingest_rejections_total";
    pub const DUPLICATE_AGE: &str = "hookgate_duplicate_age_seconds";
    pub const DELIVERY_ATTEMPTS: &str = "hookgate_delivery_attempts_total";
    pub const DELIVERIES: &str = "hookgate_deliveries_total";
    pub const ATTEMPT_DURATION: &str = "hookgate_delivery_attempt_duration_seconds";
    pub const DELIVERY_LAG: &str = "hookgate_delivery_lag_seconds";
    pub const PENDING: &str = "hookgate_deliveries_pending";
    pub const RETRYING: &str = "hookgate_deliveries_retrying";
    pub const DEAD: &str = "hookgate_deliveries_dead";
    pub const OLDEST_PENDING_AGE: &str = "hookgate_oldest_pending_age_seconds";
    pub const STORE_UP: &str = "hookgate_store_up";
    pub const BREAKER_STATE: &str = "hookgate_handler_breaker_state";
    pub const BREAKER_OPENS: &str = "hookgate_handler_breaker_opens_total";
    pub const PAUSED: &str = "hookgate_handler_paused";
    pub const CONCURRENCY_LIMIT: &str = "hookgate_handler_concurrency_limit";
    pub const BODY_BYTES_HELD: &str = "hookgate_body_bytes_held";
}

/// Histogram buckets (seconds) of attempt durations.
const ATTEMPT_DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Histogram buckets (seconds) of the time from queued to delivered.
const DELIVERY_LAG_BUCKETS: [f64; 10] =
    [0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 600.0, 3600.0, 86400.0];

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Series every accepted or duplicate request and every attempt touches, registered on
    /// first use and then kept: `counter!` with labels builds and hashes a key (allocating
    /// its label strings) on every call, which cost more than the count itself.
    sources: SeriesCache<SourceSeries>,
    handlers: SeriesCache<HandlerSeries>,
}

/// One series set per label value (a source or a handler name), created on first use.
struct SeriesCache<T>(RwLock<HashMap<String, Arc<T>>>);

impl<T: Default> SeriesCache<T> {
    fn new() -> Self {
        SeriesCache(RwLock::new(HashMap::new()))
    }

    fn get(&self, label: &str) -> Arc<T> {
        let read = self.0.read().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = read.get(label) {
            return s.clone();
        }
        drop(read);
        let mut write = self.0.write().unwrap_or_else(|e| e.into_inner());
        write.entry(label.to_string()).or_default().clone()
    }
}

/// A source's ingest series. Each handle is registered the first time it is used, so the
/// exposition lists a series once something was counted in it, as `counter!` alone did.
#[derive(Default)]
struct SourceSeries {
    requests_accepted: OnceLock<Counter>,
    requests_duplicate: OnceLock<Counter>,
    events_accepted: OnceLock<Counter>,
    events_duplicate: OnceLock<Counter>,
    body_mismatches: OnceLock<Counter>,
    duplicate_age: OnceLock<Histogram>,
}

/// A handler's delivery series (see [`SourceSeries`]).
#[derive(Default)]
struct HandlerSeries {
    attempts_delivered: OnceLock<Counter>,
    attempts_retry: OnceLock<Counter>,
    attempts_dead: OnceLock<Counter>,
    attempt_duration: OnceLock<Histogram>,
    delivered: OnceLock<Counter>,
    dead: OnceLock<Counter>,
    lag: OnceLock<Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn seconds(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

impl Metrics {
    pub fn new() -> Self {
        // The duplicate-age buckets are the dashboard's (<1 s … <1 d); Prometheus adds +Inf.
        let dup_buckets: Vec<f64> = DUPLICATE_AGE_BUCKETS
            .iter()
            .filter(|(_, ms)| *ms != i64::MAX)
            .map(|(_, ms)| seconds(*ms))
            .collect();
        let builder = PrometheusBuilder::new();
        // Setting buckets only fails for an empty list; ours are constants.
        let builder = builder
            .set_buckets_for_metric(Matcher::Full(name::DUPLICATE_AGE.into()), &dup_buckets)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(name::ATTEMPT_DURATION.into()),
                    &ATTEMPT_DURATION_BUCKETS,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(name::DELIVERY_LAG.into()),
                    &DELIVERY_LAG_BUCKETS,
                )
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let m = Metrics {
            recorder,
            handle,
            sources: SeriesCache::new(),
            handlers: SeriesCache::new(),
        };
        m.describe();
        m
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    fn describe(&self) {
        self.with(|| {
            use metrics::{describe_counter, describe_gauge, describe_histogram};
            describe_counter!(
                name::INGEST_REQUESTS,
                "Webhook requests by source and outcome (accepted: at least one new event; duplicate; rejected; challenge)."
            );
            describe_counter!(
                name::INGEST_EVENTS,
                "Events recorded by source and outcome (accepted or duplicate)."
            );
            describe_counter!(
                name::INGEST_BODY_MISMATCHES,
                "Duplicates whose body differed from the original's."
            );
            describe_counter!(
                name::INGEST_REJECTIONS,
                "Rejected webhook requests by source and reason."
            );
            describe_histogram!(
                name::DUPLICATE_AGE,
                Unit::Seconds,
                "Time from an event's first arrival to a repeat of it."
            );
            describe_counter!(
                name::DELIVERY_ATTEMPTS,
                "Delivery attempts by handler and outcome (delivered, retry, dead)."
            );
            describe_counter!(
                name::DELIVERIES,
                "Deliveries that reached a final state, by handler and outcome (delivered, dead)."
            );
            describe_histogram!(
                name::ATTEMPT_DURATION,
                Unit::Seconds,
                "Duration of one delivery attempt."
            );
            describe_histogram!(
                name::DELIVERY_LAG,
                Unit::Seconds,
                "Time from a delivery being queued to it being delivered, retries included."
            );
            describe_gauge!(
                name::PENDING,
                "Deliveries waiting for their first attempt (whole store)."
            );
            describe_gauge!(
                name::RETRYING,
                "Deliveries waiting for a retry (whole store)."
            );
            describe_gauge!(name::DEAD, "Dead deliveries (whole store).");
            describe_gauge!(
                name::OLDEST_PENDING_AGE,
                Unit::Seconds,
                "Age of the oldest undelivered (pending or retrying) delivery; 0 when none."
            );
            describe_gauge!(
                name::BREAKER_STATE,
                "This replica's circuit breaker of the handler: 0 closed, 1 open, 2 half-open."
            );
            describe_counter!(
                name::BREAKER_OPENS,
                "Times this replica's circuit breaker of the handler opened."
            );
            describe_gauge!(
                name::PAUSED,
                "1 while the handler is paused (as this replica last read it from the store)."
            );
            describe_gauge!(
                name::CONCURRENCY_LIMIT,
                "Attempts this replica's dispatcher allows in flight to the handler now (up to its concurrency)."
            );
            describe_gauge!(
                name::BODY_BYTES_HELD,
                Unit::Bytes,
                "Bytes of request bodies held now: stage=\"reading\" against server.max_inflight_body_bytes, stage=\"queued\" against store.queue_bytes; past either, 503 overloaded."
            );
            describe_gauge!(
                name::STORE_UP,
                "1 when the store answered the scrape's delivery-health query."
            );
        });
    }

    pub(super) fn rejected(&self, source: &str, reason: &'static str) {
        let source = source.to_string();
        self.with(|| {
            counter!(name::INGEST_REQUESTS, "source" => source.clone(), "outcome" => "rejected")
                .increment(1);
            counter!(name::INGEST_REJECTIONS, "source" => source, "reason" => reason).increment(1);
        });
    }

    pub(super) fn challenge(&self, source: &str) {
        let source = source.to_string();
        self.with(|| {
            counter!(name::INGEST_REQUESTS, "source" => source, "outcome" => "challenge")
                .increment(1);
        });
    }

    /// The handle in `slot`, registered with `register` in this registry the first time.
    fn series<'s, M>(&self, slot: &'s OnceLock<M>, register: impl FnOnce() -> M) -> &'s M {
        slot.get_or_init(|| self.with(register))
    }

    pub(super) fn recorded(&self, source: &str, outcomes: &[RecordOutcome], received_at_ms: i64) {
        let series = self.sources.get(source);
        let accepted = outcomes.iter().filter(|o| o.is_accepted()).count() as u64;
        let duplicates = outcomes.len() as u64 - accepted;
        let by_outcome = |name: &'static str, outcome: &'static str| move || counter!(name, "source" => source.to_string(), "outcome" => outcome);
        if accepted > 0 {
            self.series(
                &series.requests_accepted,
                by_outcome(name::INGEST_REQUESTS, "accepted"),
            )
            .increment(1);
            self.series(
                &series.events_accepted,
                by_outcome(name::INGEST_EVENTS, "accepted"),
            )
            .increment(accepted);
        } else {
            self.series(
                &series.requests_duplicate,
                by_outcome(name::INGEST_REQUESTS, "duplicate"),
            )
            .increment(1);
        }
        if duplicates > 0 {
            self.series(
                &series.events_duplicate,
                by_outcome(name::INGEST_EVENTS, "duplicate"),
            )
            .increment(duplicates);
        }
        for o in outcomes {
            if let RecordOutcome::Duplicate {
                first_seen_at_ms,
                body_mismatch,
                ..
            } = o
            {
                if *body_mismatch {
                    self.series(
                        &series.body_mismatches,
                        || counter!(name::INGEST_BODY_MISMATCHES, "source" => source.to_string()),
                    )
                    .increment(1);
                }
                self.series(
                    &series.duplicate_age,
                    || histogram!(name::DUPLICATE_AGE, "source" => source.to_string()),
                )
                .record(seconds(received_at_ms - first_seen_at_ms));
            }
        }
    }

    pub(super) fn attempt(&self, handler: &str, next: &NextState, duration_ms: i64, lag_ms: i64) {
        let series = self.handlers.get(handler);
        let attempts = match next {
            NextState::Delivered => &series.attempts_delivered,
            NextState::RetryAt { .. } => &series.attempts_retry,
            NextState::Dead => &series.attempts_dead,
        };
        self.series(attempts, || {
            counter!(name::DELIVERY_ATTEMPTS, "handler" => handler.to_string(), "outcome" => next.label())
        })
        .increment(1);
        self.series(
            &series.attempt_duration,
            || histogram!(name::ATTEMPT_DURATION, "handler" => handler.to_string()),
        )
        .record(seconds(duration_ms));
        let deliveries = |outcome: &'static str| move || counter!(name::DELIVERIES, "handler" => handler.to_string(), "outcome" => outcome);
        match next {
            NextState::Delivered => {
                self.series(&series.delivered, deliveries("delivered"))
                    .increment(1);
                self.series(
                    &series.lag,
                    || histogram!(name::DELIVERY_LAG, "handler" => handler.to_string()),
                )
                .record(seconds(lag_ms));
            }
            NextState::Dead => self.series(&series.dead, deliveries("dead")).increment(1),
            NextState::RetryAt { .. } => {}
        }
    }

    /// Set the per-handler breaker, pause and concurrency-limit series from the handlers'
    /// controls (at scrape).
    pub fn handler_controls(&self, controls: &crate::dispatch::control::Controls) {
        self.with(|| {
            for c in controls.iter() {
                let view = c.breaker.view();
                let label = c.name.clone();
                gauge!(name::BREAKER_STATE, "handler" => label.clone())
                    .set(view.state as u8 as f64);
                counter!(name::BREAKER_OPENS, "handler" => label.clone()).absolute(view.opens);
                gauge!(name::PAUSED, "handler" => label.clone()).set(if c.is_paused() {
                    1.0
                } else {
                    0.0
                });
                gauge!(name::CONCURRENCY_LIMIT, "handler" => label)
                    .set(c.concurrency_limit() as f64);
            }
        });
    }

    /// Set the bytes of bodies held by the edge while reading (`reading`) and by the store's
    /// queue (`queued`) (at scrape).
    pub fn body_bytes_held(&self, reading: usize, queued: usize) {
        self.with(|| {
            gauge!(name::BODY_BYTES_HELD, "stage" => "reading").set(reading as f64);
            gauge!(name::BODY_BYTES_HELD, "stage" => "queued").set(queued as f64);
        });
    }

    /// Drain the histograms' sample buffers into their buckets.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The text exposition, with the delivery gauges set from `health` (`None`: the store did
    /// not answer, so the gauges keep their last values and `hookgate_store_up` is 0).
    /// `handlers` are the configured handlers, reported as 0 when they have no deliveries.
    pub fn render(
        &self,
        health: Option<&[HandlerHealth]>,
        handlers: &[String],
        now_ms: i64,
    ) -> String {
        self.with(|| {
            gauge!(name::STORE_UP).set(if health.is_some() { 1.0 } else { 0.0 });
            let Some(health) = health else { return };
            let mut names: Vec<&str> = handlers.iter().map(String::as_str).collect();
            names.extend(health.iter().map(|h| h.handler.as_str()));
            names.sort_unstable();
            names.dedup();
            for handler in names {
                let h = health.iter().find(|h| h.handler == handler);
                let label = handler.to_string();
                let (pending, retrying, dead, oldest) = h
                    .map(|h| (h.pending, h.retrying, h.dead, h.oldest_pending_created_ms))
                    .unwrap_or_default();
                gauge!(name::PENDING, "handler" => label.clone()).set(pending as f64);
                gauge!(name::RETRYING, "handler" => label.clone()).set(retrying as f64);
                gauge!(name::DEAD, "handler" => label.clone()).set(dead as f64);
                let age = oldest.map(|t| seconds(now_ms - t)).unwrap_or(0.0);
                gauge!(name::OLDEST_PENDING_AGE, "handler" => label).set(age);
            }
        });
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// The value of the series `name{labels}` in `text`, if it is listed.
    fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
        let prefix = format!("{name}{{{labels}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.parse().unwrap())
    }

    #[test]
    fn cached_series_keep_counting_per_label_and_appear_on_first_use() {
        let m = Metrics::new();
        let dup = |mismatch| RecordOutcome::Duplicate {
            id: Uuid::now_v7(),
            first_seen_at_ms: 1_000,
            body_mismatch: mismatch,
        };
        let accepted = RecordOutcome::Accepted { id: Uuid::now_v7() };
        m.recorded("stripe", &[accepted], 2_000);
        let text = m.render(None, &[], 0);
        // Nothing was a duplicate yet: those series are not listed.
        assert_eq!(
            value(
                &text,
                name::INGEST_REQUESTS,
                r#"source="stripe",outcome="duplicate""#
            ),
            None
        );
        assert!(!text.contains(name::DUPLICATE_AGE));
        m.recorded("stripe", &[accepted, dup(true)], 3_000);
        m.recorded("stripe", &[dup(false)], 3_000);
        m.recorded("github", &[accepted], 3_000);
        m.upkeep();
        let text = m.render(None, &[], 0);
        let stripe = |outcome: &str| format!(r#"source="stripe",outcome="{outcome}""#);
        assert_eq!(
            value(&text, name::INGEST_REQUESTS, &stripe("accepted")),
            Some(2.0)
        );
        assert_eq!(
            value(&text, name::INGEST_REQUESTS, &stripe("duplicate")),
            Some(1.0)
        );
        assert_eq!(
            value(&text, name::INGEST_EVENTS, &stripe("accepted")),
            Some(2.0)
        );
        assert_eq!(
            value(&text, name::INGEST_EVENTS, &stripe("duplicate")),
            Some(2.0)
        );
        assert_eq!(
            value(&text, name::INGEST_BODY_MISMATCHES, r#"source="stripe""#),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("{}_count", name::DUPLICATE_AGE),
                r#"source="stripe""#
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                name::INGEST_REQUESTS,
                r#"source="github",outcome="accepted""#
            ),
            Some(1.0)
        );

        m.attempt("billing", &NextState::Delivered, 3, 40);
        m.attempt("billing", &NextState::Delivered, 3, 40);
        m.attempt("billing", &NextState::Dead, 3, 40);
        m.attempt("audit", &NextState::Delivered, 3, 40);
        m.upkeep();
        let text = m.render(None, &[], 0);
        let billing = |outcome: &str| format!(r#"handler="billing",outcome="{outcome}""#);
        assert_eq!(
            value(&text, name::DELIVERY_ATTEMPTS, &billing("delivered")),
            Some(2.0)
        );
        assert_eq!(
            value(&text, name::DELIVERY_ATTEMPTS, &billing("dead")),
            Some(1.0)
        );
        assert_eq!(
            value(&text, name::DELIVERY_ATTEMPTS, &billing("retry")),
            None
        );
        assert_eq!(
            value(&text, name::DELIVERIES, &billing("delivered")),
            Some(2.0)
        );
        assert_eq!(value(&text, name::DELIVERIES, &billing("dead")), Some(1.0));
        assert_eq!(
            value(
                &text,
                &format!("{}_count", name::DELIVERY_LAG),
                r#"handler="billing""#
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("{}_count", name::ATTEMPT_DURATION),
                r#"handler="billing""#
            ),
            Some(3.0)
        );
        assert_eq!(
            value(
                &text,
                name::DELIVERIES,
                r#"handler="audit",outcome="delivered""#
            ),
            Some(1.0)
        );
    }
}
