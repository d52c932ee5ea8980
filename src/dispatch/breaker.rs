//! The circuit breaker of one handler, in one replica.
//!
//! Closed, it counts consecutive failed attempts (across deliveries); at `threshold` it
//! opens. Open, nothing is sent to the handler: deliveries stay pending, unattempted, with
//! their attempt budget and age untouched, until the probe time. Then it turns half-open and
//! lets exactly one delivery through as a probe: success (any answer that is not worth a
//! retry: delivered, or a permanent refusal — the handler is up) closes it; failure opens it
//! again with a doubled probe delay, up to a cap. A `threshold` of 0 turns it off.
//!
//! State is per replica and in memory: each replica judges the handler from its own attempts.
//! The state is an atomic the hand-off reads on the hot path; the rest sits behind a mutex
//! that only attempt results and the dispatcher's admission touch. Each operation has an
//! `_at(now)` form, so the tests drive the clock.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

/// The breaker's state, as `/metrics` reports it (`hookgate_handler_breaker_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

impl BreakerState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// What the dispatcher may do with the next delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: send it.
    Send,
    /// The probe: send it; its result decides.
    Probe,
    /// Open (probe not due yet) or half-open (the probe is out): do not send; give it back.
    Hold,
}

/// The breaker's configuration (`breaker_*` of a handler).
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the breaker; 0: never.
    pub threshold: u32,
    /// Delay before the first probe after opening; doubles after each failed probe.
    pub probe_base: Duration,
    /// Longest delay between probes.
    pub probe_cap: Duration,
}

#[derive(Debug)]
struct Inner {
    /// Failed probes since the breaker last closed (the backoff exponent).
    failed_probes: u32,
    next_probe_at: Instant,
}

/// A snapshot for the API, the dashboard and `/metrics`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BreakerView {
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// Times it opened since this replica started.
    pub opens: u64,
    /// While open: milliseconds until the next probe.
    pub next_probe_in_ms: Option<u64>,
    pub threshold: u32,
}

#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    state: AtomicU8,
    /// Outside the mutex so that a success while closed — almost every attempt — costs two
    /// atomic operations and no lock.
    consecutive_failures: AtomicU32,
    opens: AtomicU64,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(cfg: BreakerConfig) -> Self {
        Breaker {
            cfg,
            state: AtomicU8::new(BreakerState::Closed as u8),
            consecutive_failures: AtomicU32::new(0),
            opens: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                failed_probes: 0,
                next_probe_at: Instant::now(),
            }),
        }
    }

    pub fn state(&self) -> BreakerState {
        BreakerState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Closed: the only state in which deliveries flow freely (one atomic load).
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) == BreakerState::Closed as u8
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, s: BreakerState) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// Whether to send the next delivery (and, if it is the probe, mark it out).
    pub fn admit(&self) -> Admission {
        self.admit_at(Instant::now())
    }

    pub fn admit_at(&self, now: Instant) -> Admission {
        if self.is_closed() {
            return Admission::Send;
        }
        let inner = self.lock();
        match self.state() {
            BreakerState::Closed => Admission::Send,
            BreakerState::Open if now >= inner.next_probe_at => {
                self.set(BreakerState::HalfOpen);
                Admission::Probe
            }
            BreakerState::Open | BreakerState::HalfOpen => Admission::Hold,
        }
    }

    /// When the claimer may next fetch a delivery, and how many: `Ok(n)` now (closed: its
    /// batch; open with the probe due: 1), `Err(Some(at))` not before `at`, `Err(None)` not
    /// until the probe's result changes the state.
    pub fn claim_allowance(&self, batch: usize) -> Result<usize, Option<Instant>> {
        self.claim_allowance_at(Instant::now(), batch)
    }

    pub fn claim_allowance_at(&self, now: Instant, batch: usize) -> Result<usize, Option<Instant>> {
        if self.is_closed() {
            return Ok(batch);
        }
        let inner = self.lock();
        match self.state() {
            BreakerState::Closed => Ok(batch),
            BreakerState::Open if now >= inner.next_probe_at => Ok(1),
            BreakerState::Open => Err(Some(inner.next_probe_at)),
            BreakerState::HalfOpen => Err(None),
        }
    }

    /// Record how an attempt ended: `true` when the handler answered usefully. Returns the
    /// state change, if any, as (from, to).
    pub fn record(&self, ok: bool) -> Option<(BreakerState, BreakerState)> {
        self.record_at(Instant::now(), ok)
    }

    pub fn record_at(&self, now: Instant, ok: bool) -> Option<(BreakerState, BreakerState)> {
        if self.cfg.threshold == 0 {
            return None;
        }
        if ok && self.is_closed() {
            if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
                self.consecutive_failures.store(0, Ordering::Relaxed);
            }
            return None;
        }
        let mut inner = self.lock();
        let from = self.state();
        if ok {
            self.consecutive_failures.store(0, Ordering::Relaxed);
            inner.failed_probes = 0;
            if from != BreakerState::Closed {
                self.set(BreakerState::Closed);
                return Some((from, BreakerState::Closed));
            }
            return None;
        }
        let failures = self
            .consecutive_failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let reopen = match from {
            BreakerState::Closed => failures >= self.cfg.threshold,
            BreakerState::HalfOpen => {
                inner.failed_probes = inner.failed_probes.saturating_add(1);
                true
            }
            // A straggler that was in flight when it opened: the probe decides.
            BreakerState::Open => false,
        };
        if !reopen {
            return None;
        }
        inner.next_probe_at = now + self.probe_delay(inner.failed_probes);
        self.set(BreakerState::Open);
        self.opens.fetch_add(1, Ordering::Relaxed);
        Some((from, BreakerState::Open))
    }

    /// `probe_base · 2^failed_probes`, capped.
    fn probe_delay(&self, failed_probes: u32) -> Duration {
        self.cfg
            .probe_base
            .saturating_mul(2u32.saturating_pow(failed_probes.min(30)))
            .min(self.cfg.probe_cap)
    }

    pub fn view(&self) -> BreakerView {
        self.view_at(Instant::now())
    }

    pub fn view_at(&self, now: Instant) -> BreakerView {
        let inner = self.lock();
        let state = self.state();
        BreakerView {
            state,
            consecutive_failures: self.consecutive_failures.load(Ordering::Relaxed),
            opens: self.opens.load(Ordering::Relaxed),
            next_probe_in_ms: (state == BreakerState::Open).then(|| {
                inner
                    .next_probe_at
                    .saturating_duration_since(now)
                    .as_millis() as u64
            }),
            threshold: self.cfg.threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32) -> Breaker {
        Breaker::new(BreakerConfig {
            threshold,
            probe_base: Duration::from_secs(1),
            probe_cap: Duration::from_secs(4),
        })
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn opens_after_threshold_probes_at_a_growing_capped_backoff_and_closes() {
        let b = breaker(3);
        let mut t = Instant::now();
        assert_eq!(b.record_at(t, false), None);
        assert_eq!(b.record_at(t, false), None);
        assert_eq!(b.admit_at(t), Admission::Send);
        assert_eq!(
            b.record_at(t, false),
            Some((BreakerState::Closed, BreakerState::Open))
        );
        assert_eq!(b.admit_at(t), Admission::Hold);
        assert_eq!(b.claim_allowance_at(t, 10), Err(Some(t + ms(1000))));
        // Probe delays: 1 s, then 2 s, 4 s, and capped at 4 s.
        for delay in [1000, 2000, 4000, 4000] {
            assert_eq!(
                b.admit_at(t + ms(delay - 1)),
                Admission::Hold,
                "{delay} ms not over"
            );
            t += ms(delay);
            assert_eq!(b.claim_allowance_at(t, 10), Ok(1));
            assert_eq!(b.admit_at(t), Admission::Probe);
            assert_eq!(b.state(), BreakerState::HalfOpen);
            assert_eq!(b.admit_at(t), Admission::Hold, "one probe at a time");
            assert_eq!(b.claim_allowance_at(t, 10), Err(None));
            assert_eq!(
                b.record_at(t, false),
                Some((BreakerState::HalfOpen, BreakerState::Open))
            );
        }
        assert_eq!(b.view_at(t).opens, 5);
        t += ms(4000);
        assert_eq!(b.admit_at(t), Admission::Probe);
        assert_eq!(
            b.record_at(t, true),
            Some((BreakerState::HalfOpen, BreakerState::Closed))
        );
        assert_eq!(b.admit_at(t), Admission::Send);
        assert_eq!(b.claim_allowance_at(t, 10), Ok(10));
        // The count starts over, and so does the probe backoff.
        b.record_at(t, false);
        b.record_at(t, false);
        assert!(b.is_closed());
        b.record_at(t, false);
        assert_eq!(b.view_at(t).next_probe_in_ms, Some(1000));
    }

    #[test]
    fn a_success_resets_the_count_and_stragglers_do_not_reopen() {
        let b = breaker(2);
        b.record(false);
        b.record(true);
        b.record(false);
        assert!(b.is_closed(), "failures must be consecutive");
        b.record(false);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.record(false), None, "in-flight failures while open");
        assert_eq!(b.view().opens, 1);
    }

    #[test]
    fn threshold_zero_never_opens() {
        let b = breaker(0);
        for _ in 0..100 {
            assert_eq!(b.record(false), None);
        }
        assert_eq!(b.admit(), Admission::Send);
    }
}
