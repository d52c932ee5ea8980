//! What holds a handler's deliveries back: the operator's pause (stored, shared by every
//! replica) and this replica's circuit breaker ([`super::breaker`]).
//!
//! Each handler has one [`HandlerControl`], shared by the store's hand-off (which stops
//! handing deliveries to a held handler's lane: they are written unleased, pending, and wait
//! in the store), the handler's claimer (which stops claiming), its workers (which give back,
//! unattempted, what was already in the lane) and the admin API. Pauses are mirrored from the
//! store's `handler_state` table every [`PAUSE_POLL`], so a pause made on another replica is
//! in force here within about a second; a pause made through this replica's API is in force
//! at once.

use super::breaker::{Breaker, BreakerConfig};
use crate::config::HandlerConfig;
use crate::store::{HandlerPause, Store};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// How often each replica reads the stored pauses.
pub const PAUSE_POLL: Duration = Duration::from_secs(1);

/// One handler's pause flag and breaker.
#[derive(Debug)]
pub struct HandlerControl {
    pub name: String,
    paused: AtomicBool,
    /// When it was paused (Unix ms), as stored; 0 when not paused.
    paused_at_ms: AtomicI64,
    pub breaker: Breaker,
    /// Bumped by every pause or resume made through this replica, so a store read that was
    /// already under way does not undo it with the state from before.
    local_changes: AtomicU64,
    /// Notified whenever the pause or the breaker state changes (the claimer waits on it).
    pub changed: Notify,
    /// Attempts this replica's dispatcher allows in flight now ([`super::limit`]); 0 before
    /// it started.
    concurrency_limit: AtomicUsize,
}

impl HandlerControl {
    pub fn new(name: &str, breaker: BreakerConfig) -> Self {
        HandlerControl {
            name: name.to_string(),
            paused: AtomicBool::new(false),
            paused_at_ms: AtomicI64::new(0),
            breaker: Breaker::new(breaker),
            local_changes: AtomicU64::new(0),
            changed: Notify::new(),
            concurrency_limit: AtomicUsize::new(0),
        }
    }

    pub fn concurrency_limit(&self) -> usize {
        self.concurrency_limit.load(Ordering::Relaxed)
    }

    pub fn set_concurrency_limit(&self, limit: usize) {
        self.concurrency_limit.store(limit, Ordering::Relaxed);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    pub fn paused_at_ms(&self) -> Option<i64> {
        self.is_paused()
            .then(|| self.paused_at_ms.load(Ordering::Acquire))
    }

    /// Deliveries must not flow freely: paused, or the breaker is not closed. Two atomic
    /// loads — the hand-off asks this for every delivery.
    pub fn holds(&self) -> bool {
        self.is_paused() || !self.breaker.is_closed()
    }

    /// A pause or resume just written to the store through this replica: in force at once.
    pub fn set_paused_locally(&self, paused_at_ms: Option<i64>) {
        self.local_changes.fetch_add(1, Ordering::AcqRel);
        self.set_paused(paused_at_ms);
    }

    /// Set the pause as stored; wakes the claimer when it changes.
    pub fn set_paused(&self, paused_at_ms: Option<i64>) {
        self.paused_at_ms
            .store(paused_at_ms.unwrap_or(0), Ordering::Release);
        let was = self.paused.swap(paused_at_ms.is_some(), Ordering::AcqRel);
        if was != paused_at_ms.is_some() {
            tracing::info!(
                handler = %self.name,
                paused = paused_at_ms.is_some(),
                "handler {}",
                if paused_at_ms.is_some() { "paused" } else { "resumed" }
            );
            self.changed.notify_waiters();
            self.changed.notify_one();
        }
    }
}

/// Every configured handler's control, by name.
#[derive(Debug, Clone, Default)]
pub struct Controls(Arc<BTreeMap<String, Arc<HandlerControl>>>);

impl Controls {
    pub fn from_config(handlers: &BTreeMap<String, HandlerConfig>) -> Self {
        Controls(Arc::new(
            handlers
                .iter()
                .map(|(name, h)| {
                    let cfg = BreakerConfig {
                        threshold: h.breaker_threshold,
                        probe_base: h.breaker_probe_base,
                        probe_cap: h.breaker_probe_cap,
                    };
                    (name.clone(), Arc::new(HandlerControl::new(name, cfg)))
                })
                .collect(),
        ))
    }

    pub fn get(&self, handler: &str) -> Option<&Arc<HandlerControl>> {
        self.0.get(handler)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<HandlerControl>> {
        self.0.values()
    }

    /// Mirror the stored pauses: handlers in `paused` are paused, every other one is not —
    /// except those changed through this replica since `before` was taken (the read may
    /// predate that change).
    pub fn apply(&self, paused: &[HandlerPause], before: &[u64]) {
        for (c, seen) in self.0.values().zip(before) {
            if c.local_changes.load(Ordering::Acquire) != *seen {
                continue;
            }
            let at = paused
                .iter()
                .find(|p| p.handler == c.name)
                .map(|p| p.paused_at_ms);
            c.set_paused(at);
        }
    }

    /// Read the stored pauses before dispatching starts, retrying every [`PAUSE_POLL`] until
    /// the store answers (or `shutdown`): a handler paused before this process started must
    /// not get a single attempt from it. `false` on shutdown.
    pub async fn load(&self, store: &dyn Store, shutdown: &mut watch::Receiver<bool>) -> bool {
        let mut warned = false;
        loop {
            match store.paused_handlers().await {
                Ok(paused) => {
                    let before: Vec<u64> = self
                        .0
                        .values()
                        .map(|c| c.local_changes.load(Ordering::Acquire))
                        .collect();
                    self.apply(&paused, &before);
                    return true;
                }
                Err(e) => {
                    if !warned {
                        warned = true;
                        tracing::warn!(error = %e, "cannot read paused handlers; dispatching waits until the store answers");
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(PAUSE_POLL) => {}
                _ = shutdown.wait_for(|s| *s) => return false,
            }
        }
    }

    /// Read the stored pauses every [`PAUSE_POLL`], until `shutdown`.
    pub async fn follow_store(self, store: Arc<dyn Store>, mut shutdown: watch::Receiver<bool>) {
        let mut failing = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(PAUSE_POLL) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let before: Vec<u64> = self
                .0
                .values()
                .map(|c| c.local_changes.load(Ordering::Acquire))
                .collect();
            match store.paused_handlers().await {
                Ok(paused) => {
                    failing = false;
                    self.apply(&paused, &before);
                }
                // Keep the last known state: a store outage neither pauses nor resumes.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "cannot read paused handlers; keeping the last known state");
                }
                Err(_) => {}
            }
        }
    }
}
