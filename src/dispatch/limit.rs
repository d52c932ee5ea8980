//! How many attempts a handler gets at once: [`STEADY`] while that keeps its deliveries
//! moving, more (up to the handler's `concurrency`) while a backlog waits.
//!
//! The configured `concurrency` is a ceiling, not a target. The limit starts at [`STEADY`]
//! (or the ceiling, if that is lower). It grows by one, at most once per [`RISE_EVERY`], when
//! a delivery waited in the lane longer than [`WAIT`] while every allowed attempt was in
//! flight: a backlog, or a handler slow enough that more attempts must overlap to keep up. It
//! comes back down by one, at most once per [`SHRINK_EVERY`], whenever a worker holds a slot
//! and the lane is empty (checked as deliveries flow: with no traffic at all it stays where
//! it is, which costs nothing), but never below [`STEADY`]. So the limit always lies between a
//! fixed `STEADY` and a fixed ceiling: a drain reaches the ceiling within about a tenth of a
//! second (a slow handler as fast as its attempts free slots), and steady traffic to a fast
//! handler runs near `STEADY`. `/metrics` shows it per handler as
//! `hookgate_handler_concurrency_limit`.
//!
//! Why not always the ceiling: to a handler that answers in a fraction of a millisecond (a
//! service on the same host or network), each commit hands the dispatcher a burst of
//! deliveries, and with 64 slots all of them go out at once, each on its own connection, on
//! the cores where the requests waiting for the next commit are being served. With 8 slots
//! the same deliveries go out as a stream: in docs/performance-history.md, one `http` handler on a
//! local no-op service with Postgres carried 16.6k events/s at 8 and 15.0k at 64, and the
//! deliveries kept up either way. Why not lower: at 2 the deliveries fell behind.
//!
//! The wait threshold is far above what a busy dispatcher thread alone causes (deliveries of
//! a burst waited up to 3 ms on a saturated two-core machine with slots to spare), so the
//! limit does not climb on noise; a real backlog waits longer than that within a burst.

use super::control::HandlerControl;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limit while nothing waits: where it starts, and the lowest it goes.
pub const STEADY: usize = 8;

/// A delivery that waited longer than this for a slot, with all slots in use, raises the limit.
pub const WAIT: Duration = Duration::from_millis(10);

/// The limit goes up by one at most this often: a stall that delivers one big burst (a slow
/// commit, a hiccup of the machine) raises it a little, not to the ceiling; a real backlog
/// still reaches the ceiling from [`STEADY`] within about a tenth of a second.
pub const RISE_EVERY: Duration = Duration::from_millis(2);

/// The limit comes down by one at most this often.
pub const SHRINK_EVERY: Duration = Duration::from_millis(50);

/// One handler's limit: a semaphore whose size moves between [`STEADY`] and the ceiling.
/// Every change is published on the handler's control, where `/metrics` reads it.
pub struct ConcurrencyLimit {
    control: Arc<HandlerControl>,
    permits: Arc<Semaphore>,
    limit: usize,
    floor: usize,
    ceiling: usize,
    last_rise: Option<Instant>,
    last_shrink: Instant,
}

impl ConcurrencyLimit {
    pub fn new(ceiling: usize, control: Arc<HandlerControl>) -> Self {
        let ceiling = ceiling.max(1);
        let floor = STEADY.min(ceiling);
        control.set_concurrency_limit(floor);
        ConcurrencyLimit {
            control,
            permits: Arc::new(Semaphore::new(floor)),
            limit: floor,
            floor,
            ceiling,
            last_rise: None,
            last_shrink: Instant::now(),
        }
    }

    /// The slots: an attempt holds one while in flight.
    pub fn permits(&self) -> Arc<Semaphore> {
        self.permits.clone()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A worker took, at `now`, a delivery that had waited `waited` in the lane; `bound`: the
    /// worker itself had waited for a slot (all were in use). Without that, a long wait was
    /// the dispatcher's thread being busy, which more slots would not cure. Returns whether
    /// the limit rose.
    pub fn taken(&mut self, waited: Duration, bound: bool, now: Instant) -> bool {
        let rise = bound
            && waited > WAIT
            && self.limit < self.ceiling
            && self
                .last_rise
                .is_none_or(|t| now.duration_since(t) >= RISE_EVERY);
        if rise {
            self.limit += 1;
            self.last_rise = Some(now);
            self.permits.add_permits(1);
            self.control.set_concurrency_limit(self.limit);
        }
        rise
    }

    /// A worker holds `permit` and the lane is empty. Returns the permit, or `None` when the
    /// limit came down by it.
    pub fn idle(
        &mut self,
        permit: OwnedSemaphorePermit,
        now: Instant,
    ) -> Option<OwnedSemaphorePermit> {
        if self.limit > self.floor && now.duration_since(self.last_shrink) >= SHRINK_EVERY {
            self.limit -= 1;
            self.last_shrink = now;
            permit.forget();
            self.control.set_concurrency_limit(self.limit);
            None
        } else {
            Some(permit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::breaker::BreakerConfig;

    fn limit(ceiling: usize) -> ConcurrencyLimit {
        let breaker = BreakerConfig {
            threshold: 0,
            probe_base: Duration::from_secs(1),
            probe_cap: Duration::from_secs(1),
        };
        ConcurrencyLimit::new(ceiling, Arc::new(HandlerControl::new("h", breaker)))
    }

    const LONG: Duration = Duration::from_millis(11);

    #[tokio::test]
    async fn starts_steady_and_grows_only_on_waits_with_every_slot_in_use() {
        let mut l = limit(64);
        assert_eq!(l.limit(), STEADY);
        assert_eq!(l.permits().available_permits(), STEADY);
        // A short wait, or a long one while slots were free, changes nothing.
        let t0 = Instant::now();
        assert!(!l.taken(WAIT / 2, true, t0));
        assert!(!l.taken(LONG, false, t0));
        assert_eq!(l.limit(), STEADY);
        assert!(l.taken(LONG, true, t0));
        assert_eq!(l.limit(), STEADY + 1);
        assert_eq!(l.permits().available_permits(), STEADY + 1);
        // At most one step per RISE_EVERY, however many deliveries waited.
        assert!(!l.taken(LONG, true, t0 + RISE_EVERY / 2));
        assert_eq!(l.limit(), STEADY + 1);
        for i in 1..=100u32 {
            l.taken(LONG, true, t0 + RISE_EVERY * i);
        }
        assert_eq!(l.limit(), 64, "never past the ceiling");
        assert_eq!(l.control.concurrency_limit(), 64, "published");
        assert_eq!(l.permits().available_permits(), 64);
    }

    #[tokio::test]
    async fn a_ceiling_below_steady_is_the_limit() {
        let mut l = limit(3);
        assert_eq!(l.limit(), 3);
        assert!(!l.taken(LONG, true, Instant::now()));
        assert_eq!(l.limit(), 3);
        let p = l.permits().acquire_owned().await.unwrap();
        assert!(l.idle(p, Instant::now() + SHRINK_EVERY).is_some());
        assert_eq!(l.limit(), 3);
    }

    #[tokio::test]
    async fn comes_down_once_per_interval_and_not_below_steady() {
        let mut l = limit(64);
        let t = Instant::now();
        for i in 0..3u32 {
            l.taken(LONG, true, t + RISE_EVERY * i);
        }
        assert_eq!(l.limit(), STEADY + 3);
        let t0 = Instant::now() + SHRINK_EVERY;
        let p = l.permits().acquire_owned().await.unwrap();
        assert!(l.idle(p, t0).is_none(), "an idle slot comes down");
        assert_eq!(l.limit(), STEADY + 2);
        assert_eq!(l.permits().available_permits(), STEADY + 2);
        // Within the interval an idle slot is handed back, not forgotten.
        let p = l.permits().acquire_owned().await.unwrap();
        drop(l.idle(p, t0 + SHRINK_EVERY / 2).expect("kept"));
        assert_eq!(l.limit(), STEADY + 2);
        assert_eq!(l.permits().available_permits(), STEADY + 2);
        for i in 1..10u32 {
            let p = l.permits().acquire_owned().await.unwrap();
            let _ = l.idle(p, t0 + SHRINK_EVERY * i);
        }
        assert_eq!(l.limit(), STEADY);
        assert_eq!(l.permits().available_permits(), STEADY);
        assert_eq!(l.control.concurrency_limit(), STEADY, "published");
    }
}
