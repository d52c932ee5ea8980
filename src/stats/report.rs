//! The stats report of the admin API (`GET /api/stats`) and the dashboard: counters of a
//! window, per source and per handler, with a time series for the charts.
//!
//! A window is a fixed number of buckets ending with the current (partial) one: 60 one-minute
//! buckets for `1h`, 96 quarter-hours for `24h`, 168 hours for `7d`. Totals are the sums of
//! the series, so a chart and the figures beside it always agree.

use super::{
    counter, ATTEMPT_MS_BUCKETS, DUPLICATE_AGE_BUCKETS, SCOPE_HANDLER, SCOPE_SOURCE, UNKNOWN_SOURCE,
};
use crate::store::{HandlerHealth, StatsRow};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A window the stats can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsWindow {
    Hour,
    Day,
    Week,
}

impl StatsWindow {
    pub const ALL: [StatsWindow; 3] = [StatsWindow::Hour, StatsWindow::Day, StatsWindow::Week];

    pub fn parse(s: &str) -> Option<StatsWindow> {
        StatsWindow::ALL.into_iter().find(|w| w.label() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            StatsWindow::Hour => "1h",
            StatsWindow::Day => "24h",
            StatsWindow::Week => "7d",
        }
    }

    pub fn bucket_ms(self) -> i64 {
        match self {
            StatsWindow::Hour => 60_000,
            StatsWindow::Day => 15 * 60_000,
            StatsWindow::Week => 3_600_000,
        }
    }

    pub fn buckets(self) -> i64 {
        match self {
            StatsWindow::Hour => 60,
            StatsWindow::Day => 96,
            StatsWindow::Week => 168,
        }
    }

    /// `[from, to)` in Unix ms: whole buckets, the last one containing `now_ms`.
    pub fn range(self, now_ms: i64) -> (i64, i64) {
        let b = self.bucket_ms();
        let current = now_ms - now_ms.rem_euclid(b);
        (current - (self.buckets() - 1) * b, current + b)
    }
}

/// Ingest figures of a source (or of all of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceFigures {
    /// Requests that reached a decision (accepted, duplicate, rejected or challenge).
    pub requests: i64,
    /// First-seen events.
    pub accepted: i64,
    /// Repeated events (answered 200).
    pub duplicates: i64,
    /// Duplicates whose body differed from the original.
    pub body_mismatches: i64,
    /// Rejected requests (all reasons).
    pub rejected: i64,
    /// Handshake challenges answered.
    pub challenges: i64,
    /// duplicates / (accepted + duplicates); `null` without events.
    pub duplicate_rate: Option<f64>,
    /// rejected / requests; `null` without requests.
    pub rejection_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateAgeBucket {
    /// `lt_1s`, `lt_10s`, `lt_1m`, `lt_10m`, `lt_1h`, `lt_1d`, `ge_1d`.
    pub bucket: &'static str,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourcePoint {
    /// Bucket start, Unix ms.
    pub t: i64,
    pub requests: i64,
    pub accepted: i64,
    pub duplicates: i64,
    pub body_mismatches: i64,
    pub rejected: i64,
    pub duplicate_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStats {
    pub source: String,
    #[serde(flatten)]
    pub figures: SourceFigures,
    /// Rejected requests by reason.
    pub rejections: BTreeMap<String, i64>,
    /// Duplicates by time since the first arrival, in bucket order.
    pub time_to_duplicate: Vec<DuplicateAgeBucket>,
    pub series: Vec<SourcePoint>,
}

/// Attempt durations of a window, from the duration buckets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub count: i64,
    pub mean_ms: Option<f64>,
    /// Upper bound of the bucket holding the median (`null`: no attempts, or over 10 s).
    pub p50_ms_le: Option<i64>,
    /// Upper bound of the bucket holding the 95th percentile.
    pub p95_ms_le: Option<i64>,
}

/// Live delivery counts of a handler, read from the store now (not windowed).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LiveHealth {
    pub pending: i64,
    pub retrying: i64,
    pub dead: i64,
    pub delivered: i64,
    /// Age of the oldest undelivered delivery; `null` when none.
    pub oldest_pending_age_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandlerPoint {
    pub t: i64,
    pub delivered: i64,
    pub failed_attempts: i64,
    pub dead: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandlerStats {
    pub handler: String,
    /// Attempts recorded in the window.
    pub attempts: i64,
    pub delivered: i64,
    /// Attempts that did not deliver (retried or dead).
    pub failed_attempts: i64,
    /// Deliveries that went dead in the window.
    pub dead: i64,
    pub attempt_duration: Latency,
    /// Mean time from queued to delivered, retries included.
    pub delivery_lag_mean_ms: Option<f64>,
    /// `null` when the store could not be read.
    pub live: Option<LiveHealth>,
    pub series: Vec<HandlerPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReport {
    pub window: &'static str,
    pub bucket_ms: i64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub generated_at_ms: i64,
    pub totals: SourceFigures,
    /// Rejected requests by reason, all sources.
    pub rejections: BTreeMap<String, i64>,
    pub sources: Vec<SourceStats>,
    pub handlers: Vec<HandlerStats>,
}

type Counters = HashMap<String, i64>;

fn get(c: &Counters, name: &str) -> i64 {
    c.get(name).copied().unwrap_or(0)
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn rejected_total(c: &Counters) -> i64 {
    c.iter()
        .filter(|(k, _)| k.starts_with(counter::REJECTED_PREFIX))
        .map(|(_, v)| *v)
        .sum()
}

fn source_figures(c: &Counters) -> SourceFigures {
    let accepted = get(c, counter::ACCEPTED);
    let duplicates = get(c, counter::DUPLICATES);
    let requests = get(c, counter::REQUESTS);
    let rejected = rejected_total(c);
    SourceFigures {
        requests,
        accepted,
        duplicates,
        body_mismatches: get(c, counter::BODY_MISMATCHES),
        rejected,
        challenges: get(c, counter::CHALLENGES),
        duplicate_rate: ratio(duplicates, accepted + duplicates),
        rejection_rate: ratio(rejected, requests),
    }
}

fn rejections(c: &Counters) -> BTreeMap<String, i64> {
    c.iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(counter::REJECTED_PREFIX)
                .filter(|_| *v != 0)
                .map(|reason| (reason.to_string(), *v))
        })
        .collect()
}

fn latency(c: &Counters) -> Latency {
    let mut buckets: Vec<(Option<i64>, i64)> = ATTEMPT_MS_BUCKETS
        .iter()
        .map(|b| {
            let n = get(c, &format!("{}{b}", counter::ATTEMPT_MS_PREFIX));
            (Some(*b), n)
        })
        .collect();
    buckets.push((None, get(c, &format!("{}inf", counter::ATTEMPT_MS_PREFIX))));
    let count: i64 = buckets.iter().map(|(_, n)| n).sum();
    let quantile = |q: f64| -> Option<i64> {
        if count == 0 {
            return None;
        }
        let rank = ((q * count as f64).ceil() as i64).max(1);
        let mut seen = 0;
        for (bound, n) in &buckets {
            seen += n;
            if seen >= rank {
                return *bound;
            }
        }
        None
    };
    Latency {
        count,
        mean_ms: (count > 0).then(|| get(c, counter::ATTEMPT_MS_SUM) as f64 / count as f64),
        p50_ms_le: quantile(0.5),
        p95_ms_le: quantile(0.95),
    }
}

/// Everything the report needs besides the counter rows.
pub struct ReportInput<'a> {
    pub window: StatsWindow,
    pub now_ms: i64,
    /// Configured source names (listed even without traffic).
    pub sources: &'a [String],
    /// Configured handler names (listed even without deliveries).
    pub handlers: &'a [String],
    /// Live delivery counts, `None` when the store could not be read.
    pub health: Option<&'a [HandlerHealth]>,
}

/// Build the report from counter rows already bucketed by `input.window.bucket_ms()`.
pub fn build(input: &ReportInput<'_>, rows: &[StatsRow]) -> StatsReport {
    let window = input.window;
    let (from_ms, to_ms) = window.range(input.now_ms);
    let bucket_ms = window.bucket_ms();
    let n = window.buckets() as usize;

    // (scope, name) → per-bucket counters.
    let mut by_name: HashMap<(&str, &str), Vec<Counters>> = HashMap::new();
    for r in rows {
        if r.minute_ms < from_ms || r.minute_ms >= to_ms {
            continue;
        }
        let idx = ((r.minute_ms - from_ms) / bucket_ms) as usize;
        let series = by_name
            .entry((r.scope.as_str(), r.name.as_str()))
            .or_insert_with(|| vec![Counters::new(); n]);
        if let Some(c) = series.get_mut(idx) {
            *c.entry(r.counter.clone()).or_insert(0) += r.value;
        }
    }
    let empty = vec![Counters::new(); n];
    let sum = |series: &[Counters]| -> Counters {
        let mut total = Counters::new();
        for c in series {
            for (k, v) in c {
                *total.entry(k.clone()).or_insert(0) += v;
            }
        }
        total
    };
    // Names in order, with `(unknown)` (requests to unconfigured sources) last.
    let names_of = |scope: &str, configured: &[String]| -> Vec<String> {
        let mut names: BTreeSet<String> = configured.iter().cloned().collect();
        names.extend(
            by_name
                .keys()
                .filter(|(s, _)| *s == scope)
                .map(|(_, name)| name.to_string()),
        );
        let (mut known, unknown): (Vec<String>, Vec<String>) =
            names.into_iter().partition(|n| n != UNKNOWN_SOURCE);
        known.extend(unknown);
        known
    };

    let mut all_sources = Counters::new();
    let mut sources = Vec::new();
    for name in names_of(SCOPE_SOURCE, input.sources) {
        let series = by_name
            .get(&(SCOPE_SOURCE, name.as_str()))
            .unwrap_or(&empty);
        let total = sum(series);
        for (k, v) in &total {
            *all_sources.entry(k.clone()).or_insert(0) += v;
        }
        sources.push(SourceStats {
            figures: source_figures(&total),
            rejections: rejections(&total),
            time_to_duplicate: DUPLICATE_AGE_BUCKETS
                .iter()
                .map(|(bucket, _)| DuplicateAgeBucket {
                    bucket,
                    count: get(
                        &total,
                        &format!("{}{bucket}", counter::DUPLICATE_AGE_PREFIX),
                    ),
                })
                .collect(),
            series: series
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let accepted = get(c, counter::ACCEPTED);
                    let duplicates = get(c, counter::DUPLICATES);
                    SourcePoint {
                        t: from_ms + i as i64 * bucket_ms,
                        requests: get(c, counter::REQUESTS),
                        accepted,
                        duplicates,
                        body_mismatches: get(c, counter::BODY_MISMATCHES),
                        rejected: rejected_total(c),
                        duplicate_rate: ratio(duplicates, accepted + duplicates),
                    }
                })
                .collect(),
            source: name,
        });
    }

    let mut handler_names = names_of(SCOPE_HANDLER, input.handlers);
    if let Some(health) = input.health {
        handler_names.extend(health.iter().map(|h| h.handler.clone()));
        handler_names.sort();
        handler_names.dedup();
    }
    let handlers = handler_names
        .into_iter()
        .map(|name| {
            let series = by_name
                .get(&(SCOPE_HANDLER, name.as_str()))
                .unwrap_or(&empty);
            let total = sum(series);
            let delivered = get(&total, counter::DELIVERED);
            let live = input.health.map(|health| {
                health
                    .iter()
                    .find(|h| h.handler == name)
                    .map(|h| LiveHealth {
                        pending: h.pending,
                        retrying: h.retrying,
                        dead: h.dead,
                        delivered: h.delivered,
                        oldest_pending_age_ms: h
                            .oldest_pending_created_ms
                            .map(|t| (input.now_ms - t).max(0)),
                    })
                    .unwrap_or_default()
            });
            HandlerStats {
                attempts: get(&total, counter::ATTEMPTS),
                delivered,
                failed_attempts: get(&total, counter::FAILED_ATTEMPTS),
                dead: get(&total, counter::DEAD),
                attempt_duration: latency(&total),
                delivery_lag_mean_ms: (delivered > 0)
                    .then(|| get(&total, counter::DELIVERY_LAG_MS_SUM) as f64 / delivered as f64),
                live,
                series: series
                    .iter()
                    .enumerate()
                    .map(|(i, c)| HandlerPoint {
                        t: from_ms + i as i64 * bucket_ms,
                        delivered: get(c, counter::DELIVERED),
                        failed_attempts: get(c, counter::FAILED_ATTEMPTS),
                        dead: get(c, counter::DEAD),
                    })
                    .collect(),
                handler: name,
            }
        })
        .collect();

    StatsReport {
        window: window.label(),
        bucket_ms,
        from_ms,
        to_ms,
        generated_at_ms: input.now_ms,
        totals: source_figures(&all_sources),
        rejections: rejections(&all_sources),
        sources,
        handlers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(minute_ms: i64, scope: &str, name: &str, counter: &str, value: i64) -> StatsRow {
        StatsRow {
            minute_ms,
            scope: scope.into(),
            name: name.into(),
            counter: counter.into(),
            value,
        }
    }

    #[test]
    fn windows_are_whole_buckets_ending_with_the_current_one() {
        let now = 1_700_000_123_456;
        let (from, to) = StatsWindow::Hour.range(now);
        assert_eq!((to - from) / 60_000, 60);
        assert!(from <= now && now < to);
        assert_eq!(from % 60_000, 0);
        let (from, to) = StatsWindow::Week.range(now);
        assert_eq!((to - from) / 3_600_000, 168);
        assert_eq!(StatsWindow::parse("24h"), Some(StatsWindow::Day));
        assert_eq!(StatsWindow::parse("2h"), None);
    }

    #[test]
    fn totals_rates_and_series_agree() {
        let now = 1_700_000_000_000;
        let (from, _) = StatsWindow::Hour.range(now);
        let last = from + 59 * 60_000;
        let rows = vec![
            row(from, "source", "stripe", "requests", 5),
            row(from, "source", "stripe", "accepted", 3),
            row(from, "source", "stripe", "duplicates", 1),
            row(from, "source", "stripe", "duplicate_age.lt_1s", 1),
            row(from, "source", "stripe", "rejected.invalid_signature", 1),
            row(last, "source", "stripe", "requests", 1),
            row(last, "source", "stripe", "duplicates", 1),
            row(last, "source", "(unknown)", "requests", 2),
            row(last, "source", "(unknown)", "rejected.unknown_source", 2),
            row(from - 60_000, "source", "stripe", "accepted", 100), // before the window
            row(last, "handler", "billing", "attempts", 4),
            row(last, "handler", "billing", "delivered", 2),
            row(last, "handler", "billing", "failed_attempts", 2),
            row(last, "handler", "billing", "attempt_ms.le_5", 3),
            row(last, "handler", "billing", "attempt_ms.le_inf", 1),
            row(last, "handler", "billing", "attempt_ms.sum", 20_012),
        ];
        let sources = vec!["github".to_string(), "stripe".to_string()];
        let report = build(
            &ReportInput {
                window: StatsWindow::Hour,
                now_ms: now,
                sources: &sources,
                handlers: &[],
                health: None,
            },
            &rows,
        );
        let names: Vec<&str> = report.sources.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(names, ["github", "stripe", "(unknown)"]);
        let stripe = &report.sources[1];
        assert_eq!(
            (
                stripe.figures.requests,
                stripe.figures.accepted,
                stripe.figures.duplicates
            ),
            (6, 3, 2)
        );
        assert_eq!(stripe.figures.duplicate_rate, Some(0.4));
        assert_eq!(stripe.rejections["invalid_signature"], 1);
        assert_eq!(stripe.series.len(), 60);
        assert_eq!(stripe.series[59].duplicate_rate, Some(1.0));
        assert_eq!(stripe.series[1].duplicate_rate, None);
        assert_eq!(report.totals.rejected, 3);
        assert_eq!(report.rejections["unknown_source"], 2);
        let billing = &report.handlers[0];
        assert_eq!(billing.attempt_duration.count, 4);
        assert_eq!(billing.attempt_duration.p50_ms_le, Some(5));
        assert_eq!(
            billing.attempt_duration.p95_ms_le, None,
            "over the last bound"
        );
        assert_eq!(billing.attempt_duration.mean_ms, Some(5003.0));
    }
}
