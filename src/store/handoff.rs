//! Hand-off: deliveries go from the commit that created them straight to this process's
//! dispatcher, with no claim transaction and no second read of the body.
//!
//! Each handler has a lane: a bounded queue that its dispatcher workers drain. When a batch
//! accepts an event, the writer reserves a slot in the lane of each of the event's handlers
//! *before* it writes the delivery rows; a reserved delivery is written already leased (to a
//! token of this batch, for the dispatcher's lease time), and after the commit the writer puts
//! it in the lane with the event it already holds in memory. A lane that is full — the
//! handler is behind — gets its rows written unleased instead, and its dispatcher is woken to
//! claim them from the store when it has room: the backlog lives in the store, never in
//! memory. Nothing is sent if the transaction fails (the reservations are dropped).
//!
//! A handler that is paused or whose circuit breaker is not closed
//! ([`crate::dispatch::control`]) gets no reservation either: its rows are written unleased
//! and wait in the store, and its claimer is not woken — it is holding back on purpose. When
//! nothing is held, that check is two atomic loads per delivery.
//!
//! At-least-once is unchanged: a process that dies with deliveries in its lanes leaves leased
//! rows whose leases lapse, and any dispatcher then claims them again.

use super::{ClaimedDelivery, EventSummary, NewDelivery, NewEvent};
use crate::dispatch::control::HandlerControl;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

/// One handler's lane: where its deliveries wait for a worker.
#[derive(Clone)]
pub struct Lane {
    pub queue: mpsc::Sender<ClaimedDelivery>,
    /// Wakes the handler's claimer: rows were written unleased because the lane was full.
    pub wake: Arc<Notify>,
    /// The handler's pause and breaker: while they hold it back, nothing goes in the lane.
    pub control: Arc<HandlerControl>,
}

/// The lanes of this process's dispatcher, by handler name, and the lease it works under.
#[derive(Clone)]
pub struct HandOff {
    lanes: HashMap<String, Lane>,
    lease: Duration,
}

impl HandOff {
    pub fn new(lanes: HashMap<String, Lane>, lease: Duration) -> Self {
        HandOff { lanes, lease }
    }

    /// Start the hand-off of one batch.
    pub fn batch(self: &Arc<Self>) -> HandOffBatch {
        HandOffBatch {
            handoff: Some(self.clone()),
            token: Uuid::now_v7(),
            lease_until_ms: super::now_ms() + self.lease.as_millis() as i64,
            reserved: Vec::new(),
            unleased: Vec::new(),
        }
    }
}

/// The hand-off of one group-commit batch: reservations made while writing, sent after the
/// commit.
pub struct HandOffBatch {
    handoff: Option<Arc<HandOff>>,
    token: Uuid,
    lease_until_ms: i64,
    /// (slot, event index, delivery id, handler)
    reserved: Vec<(mpsc::OwnedPermit<ClaimedDelivery>, usize, Uuid, String)>,
    /// Handlers that got unleased rows in this batch.
    unleased: Vec<String>,
}

impl HandOffBatch {
    /// No dispatcher in this process (or none wanted): every delivery is written unleased.
    pub fn none() -> Self {
        HandOffBatch {
            handoff: None,
            token: Uuid::nil(),
            lease_until_ms: 0,
            reserved: Vec::new(),
            unleased: Vec::new(),
        }
    }

    /// The delivery rows to insert for the events of a batch that `wanted` picks (the
    /// accepted ones, or candidates when the engine decides in the same statement), leased
    /// where a lane slot could be reserved.
    pub(crate) fn plan<'a>(
        &mut self,
        events: &'a [NewEvent],
        wanted: impl Fn(usize) -> bool,
    ) -> Vec<NewDelivery<'a>> {
        let mut rows = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            if !wanted(i) {
                continue;
            }
            for handler in &ev.handlers {
                let id = Uuid::now_v7();
                let lane = self.handoff.as_ref().and_then(|h| h.lanes.get(handler));
                let held = lane.is_some_and(|l| l.control.holds());
                let permit = lane
                    .filter(|_| !held)
                    .and_then(|l| l.queue.clone().try_reserve_owned().ok());
                let lease = match permit {
                    Some(p) => {
                        self.reserved.push((p, i, id, handler.clone()));
                        Some((self.token, self.lease_until_ms))
                    }
                    None => {
                        if !held && !self.unleased.contains(handler) {
                            self.unleased.push(handler.clone());
                        }
                        None
                    }
                };
                rows.push(NewDelivery {
                    id,
                    event: ev,
                    handler,
                    lease,
                });
            }
        }
        rows
    }

    /// Keep only the reservations of events that `accepted` picks (candidates that turned out
    /// to be repeats give their lane slots back).
    pub(crate) fn keep(&mut self, accepted: impl Fn(usize) -> bool) {
        self.reserved.retain(|(_, i, _, _)| accepted(*i));
    }

    /// After the commit: put every reserved delivery in its lane, and wake the claimers of
    /// handlers whose rows went to the store unleased. The batch's events are given up: an
    /// event's last (usually only) delivery takes its strings and headers instead of copies.
    pub fn send(self, events: Vec<NewEvent>) {
        let Some(handoff) = self.handoff else { return };
        let mut left = vec![0usize; events.len()];
        for (_, i, _, _) in &self.reserved {
            left[*i] += 1;
        }
        let mut events: Vec<Option<NewEvent>> = events.into_iter().map(Some).collect();
        let queued_at = std::time::Instant::now();
        for (permit, i, id, handler) in self.reserved {
            left[i] -= 1;
            let event = if left[i] == 0 {
                events[i].take()
            } else {
                events[i].clone()
            };
            let Some(ev) = event else { continue };
            permit.send(ClaimedDelivery {
                id,
                handler,
                attempts: 0,
                lease_token: self.token,
                lease_until_ms: self.lease_until_ms,
                created_at_ms: ev.received_at_ms,
                event: EventSummary {
                    id: ev.id,
                    source: ev.source,
                    event_id: ev.event_id,
                    event_type: ev.event_type,
                    received_at_ms: ev.received_at_ms,
                    duplicate_count: 0,
                    mismatch_count: 0,
                    deliveries: None,
                },
                body: ev.body,
                headers: ev.headers,
                queued_at,
            });
        }
        for handler in self.unleased {
            if let Some(lane) = handoff.lanes.get(&handler) {
                lane.wake.notify_one();
            }
        }
    }
}
