//! The dispatcher: at-least-once fanout of the outbox to handlers (DESIGN §1.4, §6).
//!
//! It claims due deliveries under a lease (a short store transaction; never held across a
//! network call), hands each to its handler's sink under a per-handler concurrency limit,
//! and records the attempt and the next state with the lease token. A dispatcher that dies
//! mid-flight simply lets its leases lapse; any dispatcher (this replica after a restart, or
//! another) then claims the delivery again — so every delivery is made at least once.
//!
//! The hot path has no claim at all: the group commit that accepts an event writes its
//! deliveries already leased to this process and hands them, with the body it holds, to the
//! handler's lane ([`crate::store::handoff`]); the attempt's result goes back through the same
//! group commit, sharing ingest's transaction. Claims serve what the hand-off could not take
//! (a lane was full), retries coming due, lapsed leases, and other replicas' events, in
//! batches of `dispatch.claim_batch`. On shutdown it stops claiming and waits (up to a grace
//! period) for in-flight deliveries.
//!
//! A handler that is paused, or whose circuit breaker is open ([`control`], [`breaker`]),
//! is held back at every entry: the hand-off leaves its deliveries in the store, its claimer
//! stops claiming (an open breaker claims one probe when it is due), and its workers give
//! back, unattempted and with their leases released, deliveries already in its lane. Held
//! deliveries stay pending: no attempt is made, so none is counted and none goes dead.
//!
//! Isolation: every handler has its own lane, claimer, workers and concurrency limit, so a
//! handler that black-holes requests or has a huge backlog only fills its own lane.

pub mod breaker;
pub mod control;
pub mod limit;
pub mod retry;
pub mod routing;

use crate::config::{Config, DispatchConfig};
use crate::sinks::{self, Sink, SinkOutcome};
use crate::stats::Stats;
use crate::store::handoff::{HandOff, Lane};
use crate::store::{now_ms, ClaimedDelivery, Completion, Store};
use breaker::{Admission, BreakerState};
use control::{Controls, HandlerControl};
use hookgate_providers::Secret;
use retry::{AttemptResult, RetryPolicy};
use std::collections::{BTreeMap, HashMap};
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
    /// Pause and circuit breaker.
    pub control: Arc<HandlerControl>,
}

/// A handler's lane as the dispatcher holds it: the receiving end, and what the store's
/// hand-off and this handler's claimer send into.
struct LaneEnds {
    handler: Arc<HandlerRuntime>,
    rx: mpsc::Receiver<ClaimedDelivery>,
    lane: Lane,
}

pub struct Dispatcher {
    lanes: Vec<LaneEnds>,
    /// Wakes every claimer (replays and retries made from the admin API).
    wake: Arc<Notify>,
    cfg: DispatchConfig,
    stats: Arc<Stats>,
    controls: Controls,
}

impl Dispatcher {
    /// Build the handlers' sinks and lanes from validated config.
    pub fn from_config(
        config: &Config,
        handler_secrets: &BTreeMap<String, Secret>,
        wake: Arc<Notify>,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Self> {
        let cfg = config.dispatch.clone();
        let controls = Controls::from_config(&config.handlers);
        let mut lanes = Vec::new();
        for (name, h) in &config.handlers {
            let control = controls
                .get(name)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("no control for handler {name}"))?;
            let policy = RetryPolicy::from_config(h);
            let sink = sinks::build(h, handler_secrets.get(name), &policy)?;
            let (queue, rx) = mpsc::channel(lane_capacity(&cfg, h.concurrency));
            lanes.push(LaneEnds {
                handler: Arc::new(HandlerRuntime {
                    name: name.clone(),
                    sink,
                    policy,
                    timeout: h.timeout,
                    concurrency: h.concurrency.max(1),
                    control: control.clone(),
                }),
                rx,
                lane: Lane {
                    queue,
                    wake: Arc::new(Notify::new()),
                    control,
                },
            });
        }
        Ok(Dispatcher {
            lanes,
            wake,
            cfg,
            stats,
            controls,
        })
    }

    /// The handlers' pause flags and breakers (the admin API and `/metrics` read them).
    pub fn controls(&self) -> Controls {
        self.controls.clone()
    }

    pub fn handlers(&self) -> Vec<Arc<HandlerRuntime>> {
        self.lanes.iter().map(|l| l.handler.clone()).collect()
    }

    /// What the store needs to hand newly committed deliveries straight to these lanes.
    pub fn handoff(&self) -> HandOff {
        let lanes: HashMap<String, Lane> = self
            .lanes
            .iter()
            .map(|l| (l.handler.name.clone(), l.lane.clone()))
            .collect();
        HandOff::new(lanes, self.cfg.lease)
    }

    /// Dispatch until `shutdown` turns true, then wait up to `grace` for in-flight deliveries.
    pub async fn run(
        self,
        store: Arc<dyn Store>,
        shutdown: watch::Receiver<bool>,
        grace: Duration,
    ) {
        let mut stop = shutdown.clone();
        if !self.controls.load(store.as_ref(), &mut stop).await {
            return;
        }
        let mut handlers = JoinSet::new();
        handlers.spawn(self.controls.follow_store(store.clone(), shutdown.clone()));
        for ends in self.lanes {
            handlers.spawn(drive_handler(
                ends,
                store.clone(),
                self.wake.clone(),
                self.cfg.clone(),
                self.stats.clone(),
                shutdown.clone(),
                grace,
            ));
        }
        while handlers.join_next().await.is_some() {}
    }
}

/// The dispatcher's own runtime (`dispatch.threads` worker threads, named
/// `hookgate-dispatch`). Deliveries run there, apart from the HTTP server's requests: a commit
/// wakes the requests it answers and hands the dispatcher the deliveries of their events at
/// the same moment, and on one shared runtime the answers queued behind dozens of deliveries
/// (docs/performance-history.md has the measurement). The operating system then shares the cores
/// between the two. Dropping it shuts it down without waiting (allowed anywhere, also inside
/// another runtime); drop it once the dispatcher has ended and nothing will use the store any
/// more: a pooled connection that one of its tasks opened is driven by its I/O driver.
pub struct DispatchRuntime {
    handle: tokio::runtime::Handle,
    /// Taken only on drop.
    runtime: Option<tokio::runtime::Runtime>,
}

impl DispatchRuntime {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("hookgate-dispatch")
            .enable_all()
            .build()?;
        Ok(DispatchRuntime {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Run `task` there; the handle can be awaited from any runtime.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(task)
    }
}

impl Drop for DispatchRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Attempts of one handler that may be finished but not yet recorded (their results queued
/// for the group commit): enough to keep the handler busy across a few commits, few enough
/// that a store slower than the handler cannot fill memory with finished attempts (each
/// waiting one holds only its result: the body is dropped when the attempt ends).
fn recording_slots(concurrency: usize) -> usize {
    (32 * concurrency.max(1)).min(4096)
}

/// A lane holds two claim batches (one being claimed while one drains), and never fewer
/// slots than the handler has workers.
fn lane_capacity(cfg: &DispatchConfig, concurrency: usize) -> usize {
    (2 * cfg.claim_batch.max(1)).max(2 * concurrency.max(1))
}

/// One handler: a claimer that fills the lane from the store, and workers (at most
/// `concurrency` attempts in flight) that drain it. Each handler has its own lane, workers and
/// claimer, so a slow or broken handler never takes capacity from another.
async fn drive_handler(
    ends: LaneEnds,
    store: Arc<dyn Store>,
    wake_all: Arc<Notify>,
    cfg: DispatchConfig,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let LaneEnds {
        handler: h,
        mut rx,
        lane,
    } = ends;
    let claimer = tokio::spawn(claim_loop(
        h.clone(),
        store.clone(),
        lane,
        wake_all,
        cfg,
        shutdown.clone(),
    ));
    let mut limit = limit::ConcurrencyLimit::new(h.concurrency, h.control.clone());
    let permits = limit.permits();
    let unrecorded = Arc::new(Semaphore::new(recording_slots(h.concurrency)));
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        // Attempts whose result is still waiting for its commit are bounded too: when the
        // store is slower than the handler, dispatch slows to the store's pace instead of
        // piling up finished attempts in memory.
        let recording = tokio::select! {
            p = unrecorded.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.wait_for(|s| *s) => break,
        };
        // `bound`: every attempt the limit allows was in flight, so this one waited for a slot.
        let (permit, bound) = match permits.clone().try_acquire_owned() {
            Ok(p) => (p, false),
            Err(tokio::sync::TryAcquireError::Closed) => break,
            Err(tokio::sync::TryAcquireError::NoPermits) => tokio::select! {
                p = permits.clone().acquire_owned() => match p { Ok(p) => (p, true), Err(_) => break },
                _ = shutdown.wait_for(|s| *s) => break,
            },
        };
        let (d, permit) = match rx.try_recv() {
            Ok(d) => (d, permit),
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                // A slot with no work for it: the limit may come down.
                let Some(permit) = limit.idle(permit, Instant::now()) else {
                    continue;
                };
                tokio::select! {
                    d = rx.recv() => match d { Some(d) => (d, permit), None => break },
                    _ = shutdown.wait_for(|s| *s) => break,
                }
            }
        };
        let now = Instant::now();
        limit.taken(now.duration_since(d.queued_at), bound, now);
        // A delivery that waited in the lane until its lease (nearly) lapsed is left to the
        // next claim: attempting it now could overlap another dispatcher's attempt.
        if d.lease_until_ms <= now_ms() + h.timeout.as_millis() as i64 {
            tracing::debug!(handler = %h.name, "lease lapsed while queued; leaving the delivery to the next claim");
            continue;
        }
        let admission = if h.control.is_paused() {
            Admission::Hold
        } else {
            h.control.breaker.admit()
        };
        if admission == Admission::Hold {
            drop(permit);
            give_back(&h, d, &mut rx, store.as_ref()).await;
            continue;
        }
        if admission == Admission::Probe {
            tracing::info!(handler = %h.name, "circuit breaker half-open: sending a probe");
        }
        tasks.spawn(deliver_one(
            h.clone(),
            d,
            (permit, recording),
            store.clone(),
            stats.clone(),
        ));
    }
    claimer.abort();
    let in_flight = tasks.len();
    if in_flight > 0 {
        tracing::info!(handler = %h.name, in_flight, "dispatcher stopping; waiting for in-flight deliveries");
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(handler = %h.name, "in-flight deliveries did not finish in time; their leases will lapse and they will be redelivered");
            tasks.abort_all();
        }
    }
    // Deliveries still in the lane keep their leases until they lapse; any dispatcher then
    // claims them again.
}

/// Fill the lane from the store: deliveries that were written unleased (the lane was full),
/// retries coming due, deliveries whose lease lapsed, and other replicas' events. Runs when
/// woken (hand-off overflow, replays) or every poll interval, and right away again while a
/// claim comes back full (a backlog is draining). It claims only when the lane has room for
/// a whole batch, so claimed deliveries never wait behind a full lane.
async fn claim_loop(
    h: Arc<HandlerRuntime>,
    store: Arc<dyn Store>,
    lane: Lane,
    wake_all: Arc<Notify>,
    cfg: DispatchConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let batch = cfg.claim_batch.max(1);
    let lease_ms = cfg.lease.as_millis() as i64;
    // Rows may be waiting from before this process started.
    let mut backlog = true;
    loop {
        if !backlog {
            tokio::select! {
                _ = lane.wake.notified() => {}
                _ = wake_all.notified() => {}
                _ = tokio::time::sleep(cfg.poll_interval) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
        // Held back: wait for a resume, the probe time, or the probe's result.
        let allowance = if h.control.is_paused() {
            Err(None)
        } else {
            h.control.breaker.claim_allowance(batch)
        };
        let limit = match allowance {
            Ok(n) => n,
            Err(until) => {
                let changed = h.control.changed.notified();
                tokio::select! {
                    _ = changed => {}
                    _ = sleep_until_or_forever(until) => {}
                    // A pause set elsewhere is seen within the pause poll; check again then.
                    _ = tokio::time::sleep(control::PAUSE_POLL) => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                backlog = true;
                continue;
            }
        };
        let permits = tokio::select! {
            p = lane.queue.reserve_many(limit) => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let now = now_ms();
        match store
            .claim_due(&h.name, limit as i64, now, now + lease_ms)
            .await
        {
            Ok(claimed) => {
                backlog = claimed.len() == limit && limit == batch;
                for (permit, d) in permits.zip(claimed) {
                    permit.send(d);
                }
            }
            Err(e) => {
                tracing::warn!(handler = %h.name, error = %e, "claiming deliveries failed; will retry");
                backlog = false;
            }
        }
    }
}

/// Sleep until `at`, or forever when there is no time to wait for.
async fn sleep_until_or_forever(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A held handler's worker got `d` (and maybe more) from its lane: give them all back
/// unattempted — their leases released, so they are due again at once for whoever claims
/// them once the handler is let through again. A failed release loses nothing: the leases
/// lapse instead.
async fn give_back(
    h: &HandlerRuntime,
    d: ClaimedDelivery,
    rx: &mut mpsc::Receiver<ClaimedDelivery>,
    store: &dyn Store,
) {
    let mut leases = vec![(d.id, d.lease_token)];
    while let Ok(more) = rx.try_recv() {
        leases.push((more.id, more.lease_token));
    }
    match store.release_leases(&leases).await {
        Ok(n) => {
            tracing::debug!(handler = %h.name, released = n, "handler held back; deliveries given back unattempted")
        }
        Err(e) => {
            tracing::warn!(handler = %h.name, error = %e, "could not release held deliveries; their leases will lapse")
        }
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

/// Make one attempt and record it with the next group commit. A failed write loses nothing:
/// the lease lapses and the delivery is made again.
async fn deliver_one(
    h: Arc<HandlerRuntime>,
    d: ClaimedDelivery,
    (permit, recording): (OwnedSemaphorePermit, OwnedSemaphorePermit),
    store: Arc<dyn Store>,
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
    // Successes are recorded as attempt rows (admin API) and counted; a log line each would
    // cost more than the delivery. Failures are logged.
    if outcome.error.is_some() {
        tracing::info!(
            handler = %h.name, source = %d.event.source, event_id = %d.event.event_id,
            attempt, status = outcome.status, outcome = next.label(), error = outcome.error.as_deref(),
            duration_ms, "delivery attempt"
        );
    } else {
        tracing::debug!(
            handler = %h.name, source = %d.event.source, event_id = %d.event.event_id,
            attempt, status = outcome.status, outcome = next.label(), duration_ms, "delivery attempt"
        );
    }
    stats.attempt(&h.name, &next, duration_ms, d.created_at_ms);
    // The breaker counts what says something about the handler: an answer that is not
    // worth a retry (delivered, or refused for good) shows it is up.
    let answered = !matches!(outcome.result, AttemptResult::Retryable { .. });
    if let Some((from, to)) = h.control.breaker.record(answered) {
        match to {
            BreakerState::Open => tracing::warn!(
                handler = %h.name, from = from.as_str(),
                "circuit breaker open: deliveries are held until a probe succeeds"
            ),
            _ => tracing::info!(handler = %h.name, from = from.as_str(), "circuit breaker closed"),
        }
        h.control.changed.notify_one();
    }
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
    // The body and the event's fields are not needed while the result waits for its commit.
    drop(d);
    match store.complete_attempt(completion).await {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            handler = %h.name,
            "lease lapsed before the attempt was recorded; another dispatcher owns the delivery"
        ),
        Err(e) => tracing::warn!(
            handler = %h.name, error = %e,
            "could not record the attempt; the lease will lapse and the delivery will be retried"
        ),
    }
    drop(recording);
}
