//! Retry policy: what happens after a failed attempt.
//!
//! Exponential backoff with full jitter (a uniform delay in `[0, min(cap, base·2^(n-1))]`,
//! which spreads a thundering herd of retries), a cap, a maximum number of attempts and a
//! maximum age of the delivery cycle; past either limit the delivery is `dead`. A handler's
//! `Retry-After` is honoured as a lower bound on the delay, bounded by the cap.

use crate::config::HandlerConfig;
use crate::store::NextState;
use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub max_age: Duration,
    pub base: Duration,
    pub cap: Duration,
    /// `None`: every status but 2xx, 408, 429 and 5xx is permanent. `Some`: only these.
    pub permanent_statuses: Option<Vec<u16>>,
}

/// How one attempt ended, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered,
    /// Worth retrying (timeouts, connection errors, 408, 429, 5xx, …).
    Retryable {
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help.
    Permanent,
}

impl RetryPolicy {
    pub fn from_config(h: &HandlerConfig) -> Self {
        RetryPolicy {
            max_attempts: h.max_attempts,
            max_age: h.max_age,
            base: h.backoff_base,
            cap: h.backoff_cap,
            permanent_statuses: h.permanent_statuses.clone(),
        }
    }

    /// Classify an HTTP status under this policy.
    pub fn classify_status(&self, status: u16, retry_after: Option<Duration>) -> AttemptResult {
        if (200..300).contains(&status) {
            return AttemptResult::Delivered;
        }
        let permanent = match &self.permanent_statuses {
            Some(list) => list.contains(&status),
            None => !(status == 408 || status == 429 || status >= 500),
        };
        if permanent {
            AttemptResult::Permanent
        } else {
            AttemptResult::Retryable { retry_after }
        }
    }

    /// The delay before retry number `attempt + 1`, with full jitter.
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(30)))
            .min(self.cap);
        let jittered = Duration::from_millis(rand::rng().random_range(0..=exp.as_millis() as u64));
        match retry_after {
            Some(ra) => jittered.max(ra.min(self.cap)),
            None => jittered,
        }
    }

    /// Where a delivery goes after attempt number `attempt` (1-based) ended with `result`.
    pub fn next(
        &self,
        attempt: u32,
        cycle_started_ms: i64,
        now_ms: i64,
        result: &AttemptResult,
    ) -> NextState {
        match result {
            AttemptResult::Delivered => NextState::Delivered,
            AttemptResult::Permanent => NextState::Dead,
            AttemptResult::Retryable { retry_after } => {
                if attempt >= self.max_attempts {
                    return NextState::Dead;
                }
                let at_ms = now_ms + self.backoff(attempt, *retry_after).as_millis() as i64;
                if at_ms - cycle_started_ms > self.max_age.as_millis() as i64 {
                    NextState::Dead
                } else {
                    NextState::RetryAt { at_ms }
                }
            }
        }
    }
}

/// Parse a `Retry-After` value: delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            max_age: Duration::from_secs(3600),
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            permanent_statuses: None,
        }
    }

    #[test]
    fn statuses_are_classified_by_default_rules() {
        let p = policy();
        assert_eq!(p.classify_status(204, None), AttemptResult::Delivered);
        for s in [408, 429, 500, 502, 503] {
            assert!(
                matches!(p.classify_status(s, None), AttemptResult::Retryable { .. }),
                "{s}"
            );
        }
        for s in [301, 400, 401, 404, 410, 422] {
            assert_eq!(p.classify_status(s, None), AttemptResult::Permanent, "{s}");
        }
        let custom = RetryPolicy {
            permanent_statuses: Some(vec![410]),
            ..policy()
        };
        assert_eq!(custom.classify_status(410, None), AttemptResult::Permanent);
        assert!(matches!(
            custom.classify_status(404, None),
            AttemptResult::Retryable { .. }
        ));
    }

    #[test]
    fn backoff_is_jittered_under_the_exponential_cap() {
        let p = policy();
        for attempt in 1..=10 {
            let ceiling = Duration::from_secs(1 << (attempt - 1)).min(p.cap);
            for _ in 0..50 {
                assert!(p.backoff(attempt, None) <= ceiling);
            }
        }
        // Jitter actually varies.
        let samples: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(8, None)).collect();
        assert!(samples.len() > 10);
    }

    #[test]
    fn retry_after_is_a_bounded_lower_bound() {
        let p = policy();
        assert!(p.backoff(1, Some(Duration::from_secs(30))) >= Duration::from_secs(30));
        assert_eq!(p.backoff(1, Some(Duration::from_secs(86400))), p.cap);
    }

    #[test]
    fn limits_make_a_delivery_dead() {
        let p = policy();
        let retry = AttemptResult::Retryable { retry_after: None };
        assert!(matches!(p.next(1, 0, 0, &retry), NextState::RetryAt { .. }));
        assert_eq!(p.next(5, 0, 0, &retry), NextState::Dead, "max attempts");
        assert_eq!(p.next(1, 0, 3_600_001, &retry), NextState::Dead, "max age");
        assert_eq!(p.next(1, 0, 0, &AttemptResult::Permanent), NextState::Dead);
        assert_eq!(
            p.next(1, 0, 0, &AttemptResult::Delivered),
            NextState::Delivered
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
