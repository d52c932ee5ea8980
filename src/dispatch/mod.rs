//! The dispatcher: at-least-once fanout of the outbox to handlers (DESIGN §1.4, §6).
//!
//! It claims due deliveries under a lease (a short store transaction; never held across a
//! network call), hands each to its handler's sink under a per-handler concurrency limit,
//! and records the attempt and the next state with the lease token. A dispatcher that dies
//! mid-flight simply lets its leases lapse; any dispatcher (this replica after a restart, or
//! another) then claims the delivery again — so every delivery is made at least once.
//!
//! Waking: ingest notifies the dispatcher when it commits new deliveries, and a finished
//! delivery notifies it that capacity is free; the poll interval is only the fallback that
//! finds retries coming due and deliveries created by other replicas. On shutdown it stops
//! claiming and waits (up to a grace period) for in-flight deliveries.

pub mod retry;
pub mod routing;

use crate::config::{Config, DispatchConfig};
use crate::sinks::{self, Sink, SinkOutcome};
use crate::stats::Stats;
use crate::store::{now_ms, ClaimedDelivery, Completion, Store};
use hookgate_providers::Secret;
use retry::RetryPolicy;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// One handler as the dispatcher drives it.
pub struct HandlerRuntime {
    pub name: String,
    pub sink: Arc<dyn Sink>,
    pub policy: RetryPolicy,
    pub timeout: Duration,
    concurrency: usize,
    permits: Arc<Semaphore>,
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    handlers: Vec<Arc<HandlerRuntime>>,
    wake: Arc<Notify>,
    cfg: DispatchConfig,
    stats: Arc<Stats>,
    completions: mpsc::Sender<Completion>,
    completions_rx: mpsc::Receiver<Completion>,
}

/// Most completions written in one transaction.
const COMPLETION_BATCH: usize = 256;

impl Dispatcher {
    /// Build the handlers' sinks from validated config.
    pub fn from_config(
        config: &Config,
        handler_secrets: &BTreeMap<String, Secret>,
        store: Arc<dyn Store>,
        wake: Arc<Notify>,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Self> {
        let (completions, completions_rx) = mpsc::channel(4096);
        let mut handlers = Vec::new();
        for (name, h) in &config.handlers {
            let policy = RetryPolicy::from_config(h);
            let sink = sinks::build(h, handler_secrets.get(name), &policy)?;
            handlers.push(Arc::new(HandlerRuntime {
                name: name.clone(),
                sink,
                policy,
                timeout: h.timeout,
                concurrency: h.concurrency,
                permits: Arc::new(Semaphore::new(h.concurrency)),
            }));
        }
        Ok(Dispatcher {
            store,
            handlers,
            wake,
            cfg: config.dispatch.clone(),
            stats,
            completions,
            completions_rx,
        })
    }

    pub fn handlers(&self) -> &[Arc<HandlerRuntime>] {
        &self.handlers
    }

    /// One round: for every handler with free capacity, claim what is due and start
    /// delivering it. Returns how many deliveries were started.
    pub async fn run_once(&self, tasks: &mut JoinSet<()>) -> usize {
        let mut started = 0;
        for h in &self.handlers {
            // Claim in batches: with deliveries in flight, wait until a good share of the
            // capacity is free, so one claim transaction serves many deliveries.
            let free = h.permits.available_permits();
            let in_flight = h.concurrency - free;
            let worth_it = h.concurrency.min(self.cfg.claim_batch).div_ceil(2);
            if free == 0 || (in_flight > 0 && free < worth_it) {
                continue;
            }
            let free = free.min(self.cfg.claim_batch);
            let now = now_ms();
            let lease_until = now + self.cfg.lease.as_millis() as i64;
            let claimed = match self
                .store
                .claim_due(&h.name, free as i64, now, lease_until)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(handler = %h.name, error = %e, "claiming deliveries failed; will retry");
                    continue;
                }
            };
            for d in claimed {
                let Ok(permit) = h.permits.clone().try_acquire_owned() else {
                    // Cannot happen (we claimed at most the free permits); the lease lapses.
                    break;
                };
                started += 1;
                tasks.spawn(deliver_one(
                    h.clone(),
                    d,
                    permit,
                    self.completions.clone(),
                    self.stats.clone(),
                ));
            }
        }
        started
    }

    /// Dispatch until `shutdown` turns true, then wait up to `grace` for in-flight deliveries.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        if self.handlers.is_empty() {
            return;
        }
        let (_, placeholder) = mpsc::channel(1);
        let rx = std::mem::replace(&mut self.completions_rx, placeholder);
        let writer = tokio::spawn(write_completions(self.store.clone(), rx, self.wake.clone()));
        let mut tasks = JoinSet::new();
        loop {
            while tasks.try_join_next().is_some() {}
            let started = self.run_once(&mut tasks).await;
            if *shutdown.borrow() {
                break;
            }
            if started > 0 {
                continue; // more may be due right away
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.cfg.poll_interval) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
        }
        let in_flight = tasks.len();
        if in_flight > 0 {
            tracing::info!(
                in_flight,
                "dispatcher stopping; waiting for in-flight deliveries"
            );
            let drained =
                tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
                    .await;
            if drained.is_err() {
                tracing::warn!("in-flight deliveries did not finish in time; their leases will lapse and they will be redelivered");
            }
        }
        // Every sender is gone once the tasks are: the writer drains what is left and stops.
        tasks.abort_all();
        drop(self);
        let _ = writer.await;
    }
}

/// Check once, in the background, that every handler is reachable, and warn about those
/// that are not: deliveries to them will wait in the outbox (and retry) until they are.
pub fn check_handlers(handlers: &[Arc<HandlerRuntime>]) {
    for h in handlers {
        let h = h.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(h.timeout, h.sink.healthcheck()).await {
                Ok(Ok(())) => tracing::info!(handler = %h.name, "handler reachable"),
                Ok(Err(e)) => {
                    tracing::warn!(handler = %h.name, error = %e, "handler unreachable at start; deliveries will be retried")
                }
                Err(_) => {
                    tracing::warn!(handler = %h.name, "handler did not answer a health check in time")
                }
            }
        });
    }
}

/// Write completions in batches: one transaction (one fsync on SQLite) for every completion
/// that finished meanwhile. A failed write loses nothing: the leases lapse and the
/// deliveries are made again.
async fn write_completions(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Completion>,
    wake: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(COMPLETION_BATCH);
    while rx.recv_many(&mut batch, COMPLETION_BATCH).await > 0 {
        match store.complete(&batch).await {
            Ok(applied) => {
                let lost = applied.iter().filter(|a| !**a).count();
                if lost > 0 {
                    tracing::info!(
                        lost,
                        "leases lapsed before completion; other dispatchers own those deliveries"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, deliveries = batch.len(), "could not record attempts; the leases will lapse and the deliveries will be retried")
            }
        }
        batch.clear();
        wake.notify_one();
    }
}

async fn deliver_one(
    h: Arc<HandlerRuntime>,
    d: ClaimedDelivery,
    permit: OwnedSemaphorePermit,
    completions: mpsc::Sender<Completion>,
    stats: Arc<Stats>,
) {
    let attempt = (d.attempts + 1).max(1) as u32;
    let started_at_ms = now_ms();
    let clock = Instant::now();
    let outcome = match tokio::time::timeout(h.timeout, h.sink.deliver(&d, attempt)).await {
        Ok(o) => o,
        Err(_) => SinkOutcome::retryable("timed out"),
    };
    let duration_ms = clock.elapsed().as_millis() as i64;
    let next = h
        .policy
        .next(attempt, d.created_at_ms, now_ms(), &outcome.result);
    tracing::info!(
        handler = %h.name, source = %d.event.source, event_id = %d.event.event_id,
        attempt, status = outcome.status, outcome = next.label(), error = outcome.error.as_deref(),
        duration_ms, "delivery attempt"
    );
    stats.attempt(&h.name, &next, duration_ms, d.created_at_ms);
    drop(permit);
    let completion = Completion {
        delivery: d.id,
        lease_token: d.lease_token,
        started_at_ms,
        duration_ms,
        status: outcome.status,
        error: outcome.error,
        next,
    };
    if completions.send(completion).await.is_err() {
        tracing::warn!(handler = %h.name, "dispatcher stopped before the attempt was recorded; the lease will lapse");
    }
}
